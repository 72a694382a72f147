"""Converting an HF or original AST checkpoint into an inference folder.

:func:`convert_to_folder` is what ``ast-sb convert`` runs: it builds the
model (:func:`ast_sb.weights.pretrained.build_from_hf` /
:func:`ast_sb.weights.pretrained.build_from_original`), decides the set-up the
checkpoint itself does not carry, writes the folder
(:func:`ast_sb.export.folder.export_inference_folder`) and checks the folder's
scores against the source.

What is taken from where, first match wins:

* single- or multi-label: the ``multi_label`` argument; an HF
  ``config.json``'s ``problem_type``; the published checkpoint's dataset
  (:mod:`ast_sb.weights.hub`: AudioSet is multi-label); else a guess from the
  class count (527: AudioSet, multi-label), with a warning.
* normalisation statistics: ``mean``/``std``; ``dataset``; the published
  checkpoint's dataset; an HF folder's ``preprocessor_config.json``; else a
  guess from the class count (:data:`DATASET_OF_CLASS_COUNT`), with a
  warning.

Authors
 * ast_sb developers 2026
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.lobes.features import (
    DATASET_STATS,
    AudioSpectrogramNormalizer,
    KaldiFbank,
)
from ast_sb.weights.hub import PublishedCheckpoint

__all__ = [
    "DATASET_OF_CLASS_COUNT",
    "MULTI_LABEL_CLASS_COUNT",
    "ConversionError",
    "convert_to_folder",
    "hf_preprocessor_stats",
    "multi_label_of",
    "normalisation_statistics",
]

logger = logging.getLogger(__name__)

DATASET_OF_CLASS_COUNT: Dict[int, str] = {
    527: "audioset",
    50: "esc50",
    35: "speechcommands",
}
"""The dataset (key of :data:`ast_sb.lobes.features.DATASET_STATS`) guessed from
a checkpoint's number of classes when nothing says which statistics it was
trained with; other counts get the AudioSet statistics."""

MULTI_LABEL_CLASS_COUNT = 527
"""The class count (AudioSet's) guessed to be multi-label when nothing
says."""


class ConversionError(AudioSpectrogramTransformerError, ValueError):
    """A checkpoint cannot be converted; the message names the cause."""


def hf_preprocessor_stats(folder: str) -> Optional[Dict[str, float]]:
    """mean/std of an HF folder's ``preprocessor_config.json``, if any.

    Arguments
    ---------
    folder : str
        HF model folder (or any path: None when it has no such file).

    Returns
    -------
    dict or None
        ``{"mean": ..., "std": ...}``.

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> _ = (folder / "preprocessor_config.json").write(
    ...     '{"mean": -6.6, "std": 5.4}'
    ... )
    >>> hf_preprocessor_stats(str(folder))
    {'mean': -6.6, 'std': 5.4}
    >>> hf_preprocessor_stats("model.pth") is None
    True
    """
    preproc = os.path.join(folder, "preprocessor_config.json")
    if not folder or not os.path.isfile(preproc):
        return None
    with open(preproc, encoding="utf-8") as fin:
        cfg = json.load(fin)
    if "mean" in cfg and "std" in cfg:
        return {"mean": float(cfg["mean"]), "std": float(cfg["std"])}
    return None


def normalisation_statistics(
    n_classes: int,
    mean: Optional[float] = None,
    std: Optional[float] = None,
    dataset: Optional[str] = None,
    published: Optional[PublishedCheckpoint] = None,
    source_stats: Optional[Dict[str, float]] = None,
) -> Dict[str, float]:
    """The fbank mean/std of a converted model (see the module docstring).

    Arguments
    ---------
    n_classes : int
        Classes of the checkpoint (used only for the last-resort guess).
    mean, std : float, optional
        Explicit statistics (both or neither).
    dataset : str, optional
        Key of :data:`ast_sb.lobes.features.DATASET_STATS`.
    published : PublishedCheckpoint, optional
        The published checkpoint converted, if it is one.
    source_stats : dict, optional
        The statistics the source declares (HF ``preprocessor_config.json``).

    Returns
    -------
    dict
        ``{"mean": ..., "std": ...}``.

    Example
    -------
    >>> normalisation_statistics(2, dataset="esc50")
    {'mean': -6.6268077, 'std': 5.358466}
    >>> normalisation_statistics(2, source_stats={"mean": -5.0, "std": 4.0})
    {'mean': -5.0, 'std': 4.0}
    """
    if (mean is None) != (std is None):
        raise ConversionError("--mean and --std must be given together.")
    if mean is not None:
        return {"mean": mean, "std": std}
    if dataset is None and published is not None:
        dataset = published.dataset
    if dataset:
        try:
            norm = AudioSpectrogramNormalizer.from_dataset(dataset)
        except ValueError as err:
            raise ConversionError(str(err)) from err
        return {"mean": norm.mean, "std": norm.std}
    if source_stats is not None:
        return dict(source_stats)
    guess = DATASET_OF_CLASS_COUNT.get(n_classes, "audioset")
    logger.warning(
        "No normalisation stats given: using the %s stats (set --dataset or "
        "--mean/--std).",
        guess,
    )
    mean, std = DATASET_STATS[guess]
    return {"mean": mean, "std": std}


def multi_label_of(
    n_classes: int,
    multi_label: Optional[bool] = None,
    config: Optional[Dict[str, Any]] = None,
    published: Optional[PublishedCheckpoint] = None,
) -> bool:
    """Whether a converted model is multi-label (see the module docstring).

    Arguments
    ---------
    n_classes : int
        Classes of the checkpoint (used only for the last-resort guess).
    multi_label : bool, optional
        Explicit choice.
    config : dict, optional
        HF ``config.json`` (its ``problem_type``).
    published : PublishedCheckpoint, optional
        The published checkpoint converted, if it is one.

    Returns
    -------
    bool

    Example
    -------
    >>> multi_label_of(10, config={"problem_type": "multi_label_classification"})
    True
    >>> multi_label_of(527, multi_label=False)
    False
    """
    if multi_label is not None:
        return bool(multi_label)
    problem = (config or {}).get("problem_type")
    if problem in ("multi_label_classification", "single_label_classification"):
        return problem == "multi_label_classification"
    if published is not None:
        return published.dataset == "audioset"
    guess = n_classes == MULTI_LABEL_CLASS_COUNT
    logger.warning(
        "The checkpoint does not say whether it is multi-label: taking it as "
        "%s-label (%d classes; pass --multi-label or --single-label).",
        "multi" if guess else "single",
        n_classes,
    )
    return guess


def _source_scores(
    source: str,
    fmt: str,
    encoder: torch.nn.Module,
    classifier: torch.nn.Module,
    stats: Dict[str, float],
    wavs: torch.Tensor,
) -> Tuple[torch.Tensor, float]:
    """Scores of the source checkpoint, computed without the converted folder.

    HF folders run through ``transformers`` (``ASTFeatureExtractor`` with the
    folder's ``preprocessor_config.json``, ``ASTForAudioClassification``)
    when it is installed; otherwise, and for original ``.pth`` files, the
    weights loaded from the source run behind a fresh ``KaldiFbank`` and the
    source's statistics. Returns the scores in the folder's output space
    (log-probabilities or logits) and the tolerance of the comparison.
    """
    n_mels, target_length = encoder.n_mels, encoder.target_length
    if fmt == "hf":
        try:
            import transformers
        except ImportError:
            transformers = None
        if transformers is not None:
            extractor = transformers.ASTFeatureExtractor(
                num_mel_bins=n_mels, max_length=target_length, **stats
            )
            model = transformers.ASTForAudioClassification.from_pretrained(
                source
            ).eval()
            inputs = extractor(
                [w.numpy() for w in wavs],
                sampling_rate=16000,
                return_tensors="pt",
            )
            with torch.no_grad():
                logits = model(**inputs).logits
            if classifier.output == "log_softmax":
                logits = torch.log_softmax(logits, dim=-1)
            return logits, 1e-4
    fbank = KaldiFbank(n_mels=n_mels, target_length=target_length)
    norm = AudioSpectrogramNormalizer(**stats)
    with torch.no_grad():
        scores = classifier(encoder(norm(fbank(wavs)))).squeeze(1)
    return scores, 1e-5


def _check_folder(
    out: str,
    source: str,
    fmt: str,
    encoder: torch.nn.Module,
    classifier: torch.nn.Module,
    norm: Dict[str, float],
    source_stats: Optional[Dict[str, float]],
) -> float:
    """Reloads ``out`` and compares its scores with the source's."""
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    model = AudioSpectrogramTransformerInterface.from_folder(out)
    # clips that fit the grid (1 s at most): a longer clip would be windowed
    # by the folder but truncated by the source's scores
    n_samples = min(16000, model.max_samples)
    gen = torch.Generator().manual_seed(0)
    wavs = torch.randn(2, n_samples, generator=gen) * 0.1
    source_stats = source_stats or norm
    expected, tolerance = _source_scores(
        source, fmt, encoder, classifier, source_stats, wavs
    )
    got = model.classify_batch(wavs)[0]
    diff = float((got - expected).abs().max())
    # relative to the scores' scale when they are large (float32 rounding
    # of logits / log-probabilities grows with them)
    tolerance *= max(1.0, float(expected.abs().max()))
    if not diff <= tolerance:
        stats_note = ""
        if source_stats != norm:
            stats_note = (
                f" The source normalises with {source_stats}, the "
                f"folder with {norm}."
            )
        raise ConversionError(
            f"The converted folder gives other outputs than the source "
            f"{source} (max diff {diff:.3g}).{stats_note} Pass --no-check "
            "to keep it anyway."
        )
    return diff


def _labels_for(labels: Optional[Sequence[str]], n_classes: int) -> List[str]:
    if labels is None:
        logger.warning("No --labels given: classes are named LABEL_<i>.")
        return [f"LABEL_{i}" for i in range(n_classes)]
    labels = list(labels)
    if len(labels) != n_classes:
        raise ConversionError(
            f"{len(labels)} labels for a model with {n_classes} classes."
        )
    if len(set(labels)) != len(labels):
        raise ConversionError("Class names must be unique.")
    return labels


def convert_to_folder(
    source: str,
    out: str,
    fmt: str = "auto",
    labels: Optional[Sequence[str]] = None,
    multi_label: Optional[bool] = None,
    dataset: Optional[str] = None,
    mean: Optional[float] = None,
    std: Optional[float] = None,
    size: Optional[str] = None,
    n_mels: int = 128,
    target_length: Optional[int] = None,
    fstride: Optional[int] = None,
    tstride: Optional[int] = None,
    revision: Optional[str] = None,
    sha256: Optional[str] = None,
    check: bool = True,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Converts an HF / original AST checkpoint into an inference folder.

    Arguments
    ---------
    source : str
        HF AST folder (``config.json``), original AST ``.pth``, a Hugging
        Face id, a release URL or an alias (``audioset-10-10-0.4593``).
    out : str
        Output folder.
    fmt : str
        "auto" (from the weights' key names), "hf" or "original".
    labels : list of str, optional
        Class names (default: the HF ``id2label``, else ``LABEL_<i>``).
    multi_label : bool, optional
        Sigmoid (True) or softmax (False) outputs; default: what the
        checkpoint says (see the module docstring).
    dataset : str, optional
        Normalisation statistics of that dataset (audioset, esc50,
        speechcommands).
    mean, std : float, optional
        Explicit normalisation statistics.
    size : str, optional
        Original AST: DeiT size (default: from the weights' width).
    n_mels : int
        Original AST: mel bins.
    target_length, fstride, tstride : int, optional
        Original AST: geometry (default: the published checkpoint's, else
        1024 frames and strides 10).
    revision : str, optional
        Hugging Face branch, tag or commit.
    sha256 : str, optional
        Expected SHA-256 of a downloaded file.
    check : bool
        Reload the folder and compare its scores with the source's; the
        check runs on the temporary folder before it moves into place, so
        a folder that fails it never replaces ``out``.
    overwrite : bool
        Replace a non-empty output folder (as a whole).

    Returns
    -------
    dict
        ``out``, ``format``, ``n_classes``, ``multi_label``,
        ``normalization`` and ``max_abs_diff`` (reload check, or None).

    Example
    -------
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> from ast_sb.weights.pretrained import export_original
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=128, depth=1
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(192, 2, "logits")
    >>> pth = str(getfixture("tmpdir") / "ast.pth")
    >>> torch.save(export_original(enc, head), pth)
    >>> summary = convert_to_folder(
    ...     pth,
    ...     str(getfixture("tmpdir") / "model"),
    ...     labels=["dog", "cat"],
    ...     multi_label=False,
    ...     dataset="esc50",
    ...     target_length=128,
    ... )
    >>> summary["n_classes"], summary["max_abs_diff"] < 1e-5
    (2, True)
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.export.atomic_folder import check_output_folder
    from ast_sb.export.folder import export_inference_folder
    from ast_sb.weights.hub import (
        ChecksumError,
        find_published,
        resolve_weights,
    )
    from ast_sb.weights.pretrained import (
        CheckpointError,
        build_from_hf,
        build_from_original,
        detect_format,
        read_state_dict,
    )

    try:  # fail before any download or conversion work
        check_output_folder(out, overwrite)
    except (FileExistsError, NotADirectoryError) as err:
        raise ConversionError(str(err)) from err
    try:
        local = resolve_weights(source, revision=revision, sha256=sha256)
    except (FileNotFoundError, ChecksumError, ValueError) as err:
        raise ConversionError(str(err)) from err
    # a published checkpoint (alias, id, URL or release file name) brings
    # its geometry (strides, frames), labelling and normalisation
    published = find_published(source)
    try:
        state, config = read_state_dict(local)
        fmt = fmt if fmt != "auto" else detect_format(state)
    except CheckpointError as err:
        raise ConversionError(str(err)) from err
    del state
    if fmt not in ("hf", "original"):
        raise ConversionError(
            f"{local} is a {fmt!r} checkpoint; convert takes HF AST folders "
            "or original AST .pth files (with a classification head)."
        )
    if fmt == "hf" and config is None:
        raise ConversionError(f"{local} has no config.json: not an HF folder.")
    source_labels: Optional[List[str]] = None
    try:
        if fmt == "hf":
            encoder, classifier, source_labels = build_from_hf(local, "logits")
        else:
            encoder, classifier = build_from_original(
                local,
                size=size,
                n_mels=n_mels,
                target_length=_published_or(
                    target_length, published, "target_length"
                ),
                fstride=_published_or(fstride, published, "fstride"),
                tstride=_published_or(tstride, published, "tstride"),
            )
    except (CheckpointError, ValueError) as err:
        raise ConversionError(f"Cannot convert {local}: {err}") from err
    n_classes = classifier.n_classes
    labels = _labels_for(labels if labels else source_labels, n_classes)
    multi_label = multi_label_of(n_classes, multi_label, config, published)
    if not multi_label:
        classifier = _with_output(classifier, "log_softmax")
    encoder.eval()
    classifier.eval()
    label_encoder = CategoricalEncoder()
    label_encoder.update_from_iterable(labels)
    label_encoder.expect_len(n_classes)
    source_stats = hf_preprocessor_stats(local) if fmt == "hf" else None
    norm = normalisation_statistics(
        n_classes, mean, std, dataset, published, source_stats
    )
    checked: Dict[str, float] = {}

    def verify(folder: str) -> None:
        # the reload check runs on this writer's own temporary folder,
        # before it replaces ``out``: a rejected model never takes the
        # place of the old folder, and concurrent writers each check
        # their own files
        checked["diff"] = _check_folder(
            folder, local, fmt, encoder, classifier, norm, source_stats
        )

    try:
        export_inference_folder(
            out,
            encoder,
            classifier,
            label_encoder,
            compute_features={
                "n_mels": encoder.n_mels,
                "target_length": encoder.target_length,
            },
            mean_var_norm=norm,
            multi_label=multi_label,
            extra_hparams={
                "converted_from": os.path.abspath(local)
                if local == source
                else source
            },
            overwrite=overwrite,
            verify=verify if check else None,
        )
    except (FileExistsError, NotADirectoryError) as err:
        # e.g. another writer created ``out`` while this one converted
        raise ConversionError(str(err)) from err
    return {
        "out": out,
        "format": fmt,
        "n_classes": n_classes,
        "multi_label": multi_label,
        "normalization": norm,
        "max_abs_diff": checked.get("diff"),
    }


def _published_or(
    value: Optional[int], published: Optional[PublishedCheckpoint], name: str
) -> Optional[int]:
    """``value``, else the published checkpoint's ``name`` (else None)."""
    if value is not None or published is None:
        return value
    return getattr(published, name)


def _with_output(classifier: torch.nn.Module, output: str) -> torch.nn.Module:
    """The same head (same weights) with another output."""
    from ast_sb.lobes.model import AudioSpectrogramTransformerClassifier

    args = dict(classifier.constructor_args, output=output)
    new = AudioSpectrogramTransformerClassifier(**args)
    new.load_state_dict(classifier.state_dict())
    return new
