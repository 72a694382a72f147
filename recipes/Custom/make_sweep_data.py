#!/usr/bin/env python3
"""Generates a small speaker-grouped data set where only time order matters.

Three classes of 1 s harmonic sweeps: ``rising``, ``falling`` and
``rise_fall`` (up then down). Every clip of a class covers the same
frequency range at a constant rate, so the three classes have the same
time-averaged spectrum: per-clip statistics such as MFCC means and standard
deviations cannot tell them apart, a model that sees the time-frequency
patterns can. Each "speaker" has its own base frequency, harmonic colour
and loudness (the group of ``meta.csv``), so a speaker-independent split
tests generalisation to new voices.

Writes ``<folder>/audio/<class>/<speaker>_<n>.wav`` (16 kHz) and
``<folder>/meta.csv`` (``path,label,speaker``), the layout of
``speechcommands_mini`` and the Custom recipe's ``--wav_column path
--group_column speaker``::

    python make_sweep_data.py /tmp/sweeps --speakers 10 --clips 5

Authors
 * ast_sb developers 2026
"""

import argparse
import csv
import os

import numpy as np

from ast_sb.dataio.audio import save_audio

CLASSES = ("rising", "falling", "rise_fall")
SAMPLE_RATE = 16000


def sweep_clip(
    label: str,
    base: float,
    harmonics: np.ndarray,
    rng: np.random.Generator,
    duration: float = 1.0,
) -> np.ndarray:
    """One clip: a harmonic sweep over an octave above ``base`` Hz.

    Arguments
    ---------
    label : str
        One of ``CLASSES``.
    base : float
        Lowest fundamental frequency (Hz).
    harmonics : numpy.ndarray
        Amplitudes of the harmonics (the speaker's colour).
    rng : numpy.random.Generator
        Random generator (jitter, noise, onset).
    duration : float
        Seconds.

    Returns
    -------
    numpy.ndarray
        float32 waveform.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> sweep_clip("rising", 200.0, np.ones(3), rng).shape
    (16000,)
    """
    n = int(SAMPLE_RATE * duration)
    active = int(n * rng.uniform(0.7, 0.9))
    pos = np.linspace(0.0, 1.0, active)
    if label == "rising":
        shape = pos
    elif label == "falling":
        shape = 1.0 - pos
    elif label == "rise_fall":
        shape = 1.0 - np.abs(2.0 * pos - 1.0)
    else:
        raise ValueError(f"Unknown class {label!r}; known: {CLASSES}")
    f0 = base * rng.uniform(0.95, 1.05) * 2.0**shape  # one octave
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    tone = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(harmonics))
    ramp = np.minimum(1.0, np.minimum(pos, 1.0 - pos) * 20.0)
    wav = np.zeros(n)
    start = int(rng.integers(0, n - active + 1))
    wav[start : start + active] = tone * ramp
    wav = wav / (np.abs(wav).max() + 1e-8) * rng.uniform(0.3, 0.8)
    wav += rng.standard_normal(n) * 0.01
    return np.clip(wav, -0.99, 0.99).astype(np.float32)


def make_sweep_data(
    folder: str, speakers: int = 10, clips: int = 5, seed: int = 0
) -> str:
    """Writes the data set; returns the path of ``meta.csv``.

    Arguments
    ---------
    folder : str
        Output folder.
    speakers : int
        Number of speakers (groups).
    clips : int
        Clips per speaker and class.
    seed : int
        Random seed.

    Returns
    -------
    str
        ``<folder>/meta.csv``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        speaker = f"spk{s:02d}"
        base = rng.uniform(120.0, 400.0)
        harmonics = rng.uniform(0.1, 1.0, size=int(rng.integers(2, 6)))
        for label in CLASSES:
            for i in range(clips):
                rel = f"audio/{label}/{speaker}_{i}.wav"
                path = os.path.join(folder, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                save_audio(
                    path, sweep_clip(label, base, harmonics, rng), SAMPLE_RATE
                )
                rows.append({"path": rel, "label": label, "speaker": speaker})
    meta = os.path.join(folder, "meta.csv")
    with open(meta, "w", newline="", encoding="utf-8") as fout:
        writer = csv.DictWriter(fout, fieldnames=["path", "label", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    return meta


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--speakers", type=int, default=10)
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_sweep_data(args.folder, args.speakers, args.clips, args.seed))
