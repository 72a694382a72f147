"""MFCC + logistic-regression baseline on a recipe's own split.

A transformer trained from scratch on a small data set can stay below a
linear model on simple features. This baseline tells whether an AST is
worth it: each clip becomes the mean and standard deviation over time of
its Kaldi MFCCs (``torchaudio.compliance.kaldi.mfcc``, 20 coefficients),
standardised and fed to scikit-learn's multinomial ``LogisticRegression``,
trained on the train manifest and scored on the test manifest: the same
clips, split and labels as the recipe. The recipes fit it on the training
clips only, as the AST's weights (valid only selects or stops, it is
never trained on), and also report it fitted on train + valid, labelled
(:func:`baseline_comparison`).

Command line::

    python -m ast_sb.training.baseline --train save/train.json --test save/test.json

The recipes run it with ``baseline: True`` (its results go to the test
results as ``baseline``). Single-label manifests only.

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torchaudio

from ast_sb.dataio.audio import load_audio
from ast_sb.dataio.datasets import load_manifest

__all__ = [
    "baseline_accuracy",
    "baseline_comparison",
    "clip_features",
    "main",
    "mfcc_statistics",
    "run_baseline",
]

N_MFCC = 20


def mfcc_statistics(
    wav: torch.Tensor, sample_rate: int = 16000, n_mfcc: int = N_MFCC
) -> np.ndarray:
    """Mean and standard deviation over time of a clip's Kaldi MFCCs.

    Arguments
    ---------
    wav : torch.Tensor
        Mono waveform ``[N]``.
    sample_rate : int
        Its sampling rate.
    n_mfcc : int
        Number of cepstral coefficients.

    Returns
    -------
    numpy.ndarray
        ``[2 * n_mfcc]``: the means, then the standard deviations.

    Example
    -------
    >>> feats = mfcc_statistics(torch.randn(16000))
    >>> feats.shape
    (40,)
    """
    wav = wav.reshape(1, -1).float()
    min_samples = int(0.025 * sample_rate)
    if wav.shape[1] < min_samples:  # one full 25 ms frame at least
        wav = torch.nn.functional.pad(wav, (0, min_samples - wav.shape[1]))
    mfcc = torchaudio.compliance.kaldi.mfcc(
        wav,
        sample_frequency=float(sample_rate),
        num_ceps=n_mfcc,
        num_mel_bins=max(23, n_mfcc),
        dither=0.0,
    )
    std = mfcc.std(dim=0, unbiased=False)
    return torch.cat([mfcc.mean(dim=0), std]).numpy().astype(np.float64)


def clip_features(
    manifest: Mapping[str, dict],
    sample_rate: int = 16000,
    label_field: str = "label",
) -> Tuple[np.ndarray, List[str]]:
    """Features and labels of every clip of a loaded manifest.

    Arguments
    ---------
    manifest : Mapping
        id -> entry with ``wav``, ``label`` and optional ``start`` /
        ``stop`` (seconds), as written by the recipes' preparation.
    sample_rate : int
        Rate the audio is resampled to.
    label_field : str
        The entry field of the label.

    Returns
    -------
    features : numpy.ndarray
        ``[n_clips, 2 * N_MFCC]``.
    labels : list of str
        The label of each clip.
    """
    features, labels = [], []
    for key, entry in manifest.items():
        if label_field not in entry:
            raise ValueError(
                f"Clip {key!r} has no {label_field!r}: the baseline needs "
                f"single-label manifests"
            )
        start = float(entry.get("start") or 0.0)
        stop = entry.get("stop")
        duration = None if stop is None else float(stop) - start
        wav = load_audio(entry["wav"], sample_rate, start, duration)
        features.append(mfcc_statistics(wav, sample_rate))
        labels.append(str(entry[label_field]))
    if not features:
        raise ValueError("The manifest has no clip")
    return np.stack(features), labels


def run_baseline(
    train: Sequence[str],
    test: str,
    data_root: Optional[str] = None,
    sample_rate: int = 16000,
    seed: int = 0,
) -> Dict[str, float]:
    """Trains the baseline on the train manifest(s) and tests it.

    Arguments
    ---------
    train : Sequence[str]
        Training JSON manifests (e.g. train and valid).
    test : str
        Test JSON manifest.
    data_root : str, optional
        Value of ``$data_root`` in the manifests.
    sample_rate, seed
        As in :func:`baseline_accuracy`, whose results are returned.

    Returns
    -------
    dict
        The test results (see :func:`baseline_accuracy`).
    """
    replacements = {"data_root": data_root} if data_root else None
    train_entries: Dict[str, dict] = {}
    for path in train:
        train_entries.update(load_manifest(path, replacements))
    return baseline_accuracy(
        train_entries, load_manifest(test, replacements), sample_rate, seed
    )


def baseline_accuracy(
    train_entries: Mapping[str, dict],
    test_entries: Mapping[str, dict],
    sample_rate: int = 16000,
    seed: int = 0,
) -> Dict[str, float]:
    """Trains the baseline on loaded manifest entries and tests it.

    Arguments
    ---------
    train_entries : Mapping
        id -> training manifest entry (``wav``, ``label``).
    test_entries : Mapping
        id -> test manifest entry.
    sample_rate : int
        Rate the audio is resampled to.
    seed : int
        Seed of the logistic regression's solver.

    Returns
    -------
    dict
        ``accuracy`` and ``error`` on the test set, ``n_train``, ``n_test``.
    """
    x_train, y_train = clip_features(train_entries, sample_rate)
    x_test, y_test = clip_features(test_entries, sample_rate)
    return _fit_and_score(x_train, y_train, x_test, y_test, seed)


def _fit_and_score(x_train, y_train, x_test, y_test, seed) -> Dict[str, float]:
    """Fits the standardised logistic regression and tests it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    model.fit(x_train, y_train)
    accuracy = float(np.mean(model.predict(x_test) == np.asarray(y_test)))
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "n_train": len(y_train),
        "n_test": len(y_test),
    }


def baseline_comparison(
    train_entries: Mapping[str, dict],
    valid_entries: Optional[Mapping[str, dict]],
    test_entries: Mapping[str, dict],
    sample_rate: int = 16000,
    seed: int = 0,
) -> Dict[str, Any]:
    """The baseline on the AST's terms, and on train + valid, labelled.

    The AST is trained on the training clips only (the validation clips
    select a checkpoint or are not used at all), so the comparable
    baseline is fitted on the training clips only: its results are the
    top-level entries. Fitted on train + valid as well (more data than
    the AST was trained on), its results go to ``train_valid``.

    Arguments
    ---------
    train_entries, valid_entries, test_entries : Mapping
        id -> manifest entry (``wav``, ``label``); ``valid_entries`` may
        be None or empty.
    sample_rate : int
        Rate the audio is resampled to.
    seed : int
        Seed of the logistic regression's solver.

    Returns
    -------
    dict
        ``accuracy``, ``error``, ``n_train``, ``n_test`` and ``fitted_on``
        ("train") of the baseline fitted on train; with validation clips
        also ``train_valid``: the same entries, fitted on train + valid.
    """
    x_train, y_train = clip_features(train_entries, sample_rate)
    x_test, y_test = clip_features(test_entries, sample_rate)
    results: Dict[str, Any] = _fit_and_score(
        x_train, y_train, x_test, y_test, seed
    )
    results["fitted_on"] = "train"
    if valid_entries:
        x_valid, y_valid = clip_features(valid_entries, sample_rate)
        both = _fit_and_score(
            np.concatenate([x_train, x_valid]),
            y_train + y_valid,
            x_test,
            y_test,
            seed,
        )
        both["fitted_on"] = "train+valid"
        results["train_valid"] = both
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: prints the baseline's test results as JSON.

    Arguments
    ---------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(
        description="MFCC mean/std + logistic regression on a recipe split"
    )
    parser.add_argument("--train", nargs="+", required=True, help="JSON")
    parser.add_argument("--test", required=True, help="JSON manifest")
    parser.add_argument("--data_root", default=None)
    parser.add_argument("--sample_rate", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = run_baseline(
        args.train, args.test, args.data_root, args.sample_rate, args.seed
    )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
