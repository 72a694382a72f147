"""Offline end-to-end demo: synthetic ESC-50-style data -> AST -> inference.

``python -m ast_sb.demo --output demo_output`` needs no dataset and no
network. It

1. generates a small data set in the published ESC-50 layout
   (``meta/esc50.csv`` and ``audio/*.wav`` at 44.1 kHz, 5 s clips) with a few
   clearly different synthetic sound classes and random parameters;
2. trains a tiny AST on it through the real ESC-50 recipe
   (``recipes/ESC50/train.py`` with ``recipes/ESC50/hparams/ast_demo.yaml``),
   which also exports a SpeechBrain inference folder;
3. loads that folder with
   ``speechbrain.inference.classifiers.EncoderClassifier.from_hparams`` and
   classifies held-out generated clips, printing the top labels and scores.

The recipe folder is not part of the installed package, so the demo must run
from a clone of the repository (it finds ``recipes/`` next to ``ast_sb/``;
``--recipes_dir`` overrides this).

Authors
 * ast_sb developers 2026
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ast_sb.dataio.audio import save_audio

__all__ = [
    "DEMO_CLASSES",
    "ESC50_CSV_COLUMNS",
    "find_recipes_dir",
    "generate_esc50_like_dataset",
    "main",
    "recipe_command",
    "synthesize_clip",
]

ESC50_CSV_COLUMNS = [
    "filename",
    "fold",
    "target",
    "category",
    "esc10",
    "src_file",
    "take",
]
"""Columns of ESC-50's ``meta/esc50.csv``."""


def _pure_tone(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    # Low steady tone.
    freq = rng.uniform(250.0, 700.0)
    return np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))


def _chirp(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    # Repeated wide linear sweeps (up or down) of random period.
    f0, f1 = rng.uniform(300.0, 600.0), rng.uniform(4000.0, 6500.0)
    if rng.random() < 0.5:
        f0, f1 = f1, f0
    period = rng.uniform(0.4, 1.2)
    phase_t = np.mod(t, period)
    inst_phase = (
        2 * np.pi * (f0 * phase_t + (f1 - f0) * phase_t**2 / (2 * period))
    )
    return np.sin(inst_phase)


def _white_noise(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    return np.clip(rng.standard_normal(t.shape) / 3.0, -1.0, 1.0)


def _clicks(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    sample_rate = 1.0 / (t[1] - t[0])
    rate = rng.uniform(3.0, 12.0)
    out = np.zeros_like(t)
    click_len = int(0.004 * sample_rate)
    decay = np.exp(-np.arange(click_len) / (0.0008 * sample_rate))
    click = rng.standard_normal(click_len) * decay
    start = rng.uniform(0.0, 1.0 / rate)
    for onset in np.arange(start, t[-1], 1.0 / rate):
        i = int(onset * sample_rate)
        seg = out[i : i + click_len]
        seg += click[: len(seg)]
    return out / (np.abs(out).max() + 1e-8)


def _am_tone(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    # Higher tone pulsing on and off 1-3 times a second.
    carrier = rng.uniform(1200.0, 2500.0)
    mod_freq = rng.uniform(1.0, 3.0)
    phase = rng.uniform(0, 2 * np.pi)
    envelope = 0.5 * (1.0 + np.sin(2 * np.pi * mod_freq * t + phase)) ** 2
    return envelope * np.sin(2 * np.pi * carrier * t)


DEMO_CLASSES: Dict[str, Callable[[np.random.Generator, np.ndarray], np.ndarray]]
DEMO_CLASSES = {
    "pure_tone": _pure_tone,
    "chirp": _chirp,
    "white_noise": _white_noise,
    "clicks": _clicks,
    "am_tone": _am_tone,
}
"""Synthetic sound classes of the demo, name -> generator(rng, time axis)."""


def synthesize_clip(
    category: str,
    rng: np.random.Generator,
    sample_rate: int = 44100,
    duration: float = 5.0,
) -> np.ndarray:
    """Generates one random clip of a synthetic class.

    Every clip gets a random gain and a little background noise.

    Arguments
    ---------
    category : str
        One of :data:`DEMO_CLASSES`.
    rng : numpy.random.Generator
        Random generator (parameters of the clip).
    sample_rate : int
        Sampling rate in Hz.
    duration : float
        Duration in seconds.

    Returns
    -------
    numpy.ndarray
        Waveform ``[N]`` (float32, peak below 1).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> clip = synthesize_clip("chirp", rng, sample_rate=16000, duration=1.0)
    >>> clip.shape, clip.dtype, bool(np.abs(clip).max() < 1)
    ((16000,), dtype('float32'), True)
    """
    if category not in DEMO_CLASSES:
        raise ValueError(
            f"Unknown demo class {category!r}; known: {sorted(DEMO_CLASSES)}"
        )
    n = int(round(sample_rate * duration))
    t = np.arange(n) / float(sample_rate)
    wav = DEMO_CLASSES[category](rng, t)
    wav = wav / (np.abs(wav).max() + 1e-8) * rng.uniform(0.2, 0.8)
    wav = wav + rng.standard_normal(n) * 0.003
    return np.clip(wav, -0.99, 0.99).astype(np.float32)


def generate_esc50_like_dataset(
    folder: str,
    clips_per_fold: int = 4,
    classes: Optional[Sequence[str]] = None,
    n_folds: int = 5,
    sample_rate: int = 44100,
    duration: float = 5.0,
    seed: int = 0,
) -> str:
    """Writes a synthetic data set in the published ESC-50 layout.

    Creates ``folder/meta/esc50.csv`` (columns :data:`ESC50_CSV_COLUMNS`) and
    ``folder/audio/<fold>-<src>-<take>-<target>.wav`` (16-bit PCM) with
    ``clips_per_fold`` clips per class and fold.

    Arguments
    ---------
    folder : str
        Output folder (created).
    clips_per_fold : int
        Clips of each class in each fold.
    classes : sequence of str, optional
        Class names (subset of :data:`DEMO_CLASSES`); default all of them.
        Their position is the ``target`` column.
    n_folds : int
        Number of folds (ESC-50 has 5).
    sample_rate : int
        Sampling rate of the written files (ESC-50: 44100).
    duration : float
        Clip duration in seconds (ESC-50: 5).
    seed : int
        Random seed.

    Returns
    -------
    str
        Path of the written ``esc50.csv``.

    Example
    -------
    >>> folder = str(getfixture("tmpdir") / "fake_esc50")
    >>> csv_path = generate_esc50_like_dataset(
    ...     folder, clips_per_fold=1, sample_rate=8000, duration=0.5
    ... )
    >>> len(os.listdir(os.path.join(folder, "audio")))
    25
    >>> open(csv_path).readline().strip()
    'filename,fold,target,category,esc10,src_file,take'
    """
    classes = list(classes) if classes is not None else list(DEMO_CLASSES)
    rng = np.random.default_rng(seed)
    audio_dir = os.path.join(folder, "audio")
    meta_dir = os.path.join(folder, "meta")
    os.makedirs(audio_dir, exist_ok=True)
    os.makedirs(meta_dir, exist_ok=True)
    rows: List[Dict[str, object]] = []
    src_id = 100000
    for fold in range(1, n_folds + 1):
        for target, category in enumerate(classes):
            for _ in range(clips_per_fold):
                src_id += int(rng.integers(1, 997))
                take = "A"
                filename = f"{fold}-{src_id}-{take}-{target}.wav"
                wav = synthesize_clip(category, rng, sample_rate, duration)
                save_audio(os.path.join(audio_dir, filename), wav, sample_rate)
                rows.append(
                    {
                        "filename": filename,
                        "fold": fold,
                        "target": target,
                        "category": category,
                        "esc10": "False",
                        "src_file": str(src_id),
                        "take": take,
                    }
                )
    csv_path = os.path.join(meta_dir, "esc50.csv")
    with open(csv_path, "w", newline="") as fout:
        writer = csv.DictWriter(fout, fieldnames=ESC50_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def find_recipes_dir(start: Optional[str] = None) -> str:
    """Locates the repository's ``recipes/`` folder.

    Arguments
    ---------
    start : str, optional
        Folder to start from; default the folder of this package. The search
        walks up from there.

    Returns
    -------
    str
        Absolute path of ``recipes/``.

    Example
    -------
    >>> os.path.isfile(
    ...     os.path.join(find_recipes_dir(), "ESC50", "train.py")
    ... )
    True
    """
    here = os.path.abspath(start or os.path.dirname(__file__))
    current = here
    while True:
        candidate = os.path.join(current, "recipes")
        if os.path.isfile(os.path.join(candidate, "ESC50", "train.py")):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    raise FileNotFoundError(
        f"Could not find recipes/ESC50/train.py above {here}. The demo runs "
        f"the ESC-50 recipe, which is not part of the installed package: run "
        f"it from a clone of the ast_sb repository (pip install -e .) or pass "
        f"--recipes_dir."
    )


def recipe_command(
    recipe_dir: str,
    data_folder: str,
    output_folder: str,
    seed: int = 0,
    device: str = "cpu",
    epochs: Optional[int] = None,
) -> List[str]:
    """The ESC-50 recipe command line the demo runs.

    SpeechBrain's progress bars stay on (each epoch shows its batches and
    loss), so the minutes of training are not silent.

    Arguments
    ---------
    recipe_dir : str
        ``recipes/ESC50``.
    data_folder : str
        The generated data set.
    output_folder : str
        The recipe's output folder.
    seed : int
        Random seed.
    device : str
        Torch device.
    epochs : int, optional
        Overrides the YAML's number of epochs.

    Returns
    -------
    list of str
        The command.

    Example
    -------
    >>> cmd = recipe_command("recipes/ESC50", "data", "out")
    >>> cmd[2], "--noprogressbar" in cmd
    ('recipes/ESC50/hparams/ast_demo.yaml', False)
    """
    cmd = [
        sys.executable,
        os.path.join(recipe_dir, "train.py"),
        os.path.join(recipe_dir, "hparams", "ast_demo.yaml"),
        "--data_folder",
        data_folder,
        "--output_folder",
        output_folder,
        "--seed",
        str(seed),
        "--device",
        device,
    ]
    if epochs is not None:
        cmd += ["--number_of_epochs", str(epochs)]
    return cmd


def _print_top(text: str, scores, labels: List[str], top_k: int) -> None:
    order = np.argsort(-scores)[:top_k]
    print(text)
    for rank, idx in enumerate(order, 1):
        print(
            f"    {rank}. {labels[idx]:<12s} log-prob {scores[idx]:8.3f} "
            f"(p = {math.exp(scores[idx]):.3f})"
        )


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the demo (see the module docstring).

    Arguments
    ---------
    argv : list of str, optional
        Command line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 on success).
    """
    parser = argparse.ArgumentParser(
        description="Offline AST demo on a generated ESC-50-style data set."
    )
    parser.add_argument("--output", default="demo_output", help="work folder")
    parser.add_argument("--clips_per_fold", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--recipes_dir", default=None)
    parser.add_argument("--top_k", type=int, default=3)
    args = parser.parse_args(argv)

    start = time.time()
    output = os.path.abspath(args.output)
    recipes_dir = os.path.abspath(args.recipes_dir or find_recipes_dir())
    recipe_dir = os.path.join(recipes_dir, "ESC50")
    data_folder = os.path.join(output, "data")
    train_folder = os.path.join(output, "train")

    print(
        f"[1/3] Generating a synthetic ESC-50-style data set in {data_folder}"
    )
    generate_esc50_like_dataset(
        data_folder, clips_per_fold=args.clips_per_fold, seed=args.seed
    )
    heldout_dir = os.path.join(output, "heldout")
    rng = np.random.default_rng(args.seed + 1000)
    heldout = []
    for category in DEMO_CLASSES:
        path = os.path.join(heldout_dir, f"{category}.wav")
        save_audio(path, synthesize_clip(category, rng), 44100)
        heldout.append((category, path))

    print("[2/3] Training a tiny AST through recipes/ESC50/train.py")
    cmd = recipe_command(
        recipe_dir,
        data_folder,
        train_folder,
        args.seed,
        args.device,
        args.epochs,
    )
    env = dict(os.environ)
    root = os.path.dirname(recipes_dir)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, recipe_dir, env.get("PYTHONPATH")) if p
    )
    print("    " + " ".join(cmd))
    subprocess.run(cmd, check=True, env=env)

    inference_dir = os.path.join(train_folder, "inference")
    print(f"[3/3] Loading {inference_dir} with EncoderClassifier")
    from speechbrain.inference.classifiers import EncoderClassifier

    classifier = EncoderClassifier.from_hparams(
        source=inference_dir,
        savedir=os.path.join(output, "pretrained_model"),
        run_opts={"device": args.device},
    )
    labels = [
        classifier.hparams.label_encoder.decode_ndim(i)
        for i in range(len(classifier.hparams.label_encoder))
    ]
    correct = 0
    for category, path in heldout:
        out_prob, _score, _index, text_lab = classifier.classify_file(path)
        correct += int(text_lab[0] == category)
        _print_top(
            f"  {os.path.basename(path)} (true: {category}) -> {text_lab[0]}",
            out_prob[0].detach().cpu().numpy(),
            labels,
            args.top_k,
        )
    results_file = os.path.join(train_folder, "test_results.json")
    if os.path.isfile(results_file):
        with open(results_file) as fin:
            test_results = json.load(fin)
        print(f"  recipe test-fold results: {test_results}")
    print(
        f"  held-out clips correct: {correct}/{len(heldout)} "
        f"(chance {1 / len(DEMO_CLASSES):.0%})"
    )
    print(f"Done in {time.time() - start:.1f} s. Outputs in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
