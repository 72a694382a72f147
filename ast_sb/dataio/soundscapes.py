"""Soundscapes with known onsets: isolated event clips mixed into backgrounds.

:func:`generate_soundscapes` does what DESED's synthetic sets are made with
(``scaper``): for each soundscape, a background excerpt (from the user's
background recordings, or quiet pink noise) and 1 to ``max_events`` event
clips drawn from a folder of class sub-folders (``<events>/<label>/*.wav``,
scaper's foreground layout), each at a random onset and a random
event-to-background SNR. It writes the WAV files and a DESED-layout TSV
(``filename onset offset event_label``) plus a ``filename duration`` TSV.

Written on NumPy and soundfile rather than ``scaper``: scaper 1.6.5 needs
``soxbindings`` (no wheel for Python 3.11 on PyPI; building it needs
libsox) and the ``sox`` program, neither of which installs from PyPI.

Every draw comes from ``numpy.random.default_rng([seed, index])``, so a
soundscape depends only on the seed, its index and the input files.

:func:`write_synthetic_events` writes isolated clips of a few synthetic
classes (tones, sweeps, click trains, noise bursts) for demos and tests.

Authors
 * ast_sb developers 2026
"""

import csv
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf

from ast_sb.dataio.audio import load_audio
from ast_sb.dataio.audio_checks import find_audio_files

__all__ = [
    "generate_soundscapes",
    "mix_events",
    "write_synthetic_events",
    "SYNTHETIC_CLASSES",
]

SYNTHETIC_CLASSES = ("tone", "sweep", "clicks", "noise_burst", "warble")


def _pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pink (1/f) noise of unit RMS."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(
        n // 2 + 1
    )
    freqs = np.arange(n // 2 + 1, dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def mix_events(
    background: np.ndarray,
    events: Sequence[Tuple[np.ndarray, int, float]],
) -> np.ndarray:
    """Adds event clips to a background at sample onsets and SNRs.

    Each event ``(clip, onset_sample, snr_db)`` is scaled so that its RMS is
    ``snr_db`` dB above the background's RMS (the clip is cut at the
    background's end).

    Example
    -------
    >>> bg = np.full(8, 0.1)
    >>> out = mix_events(bg, [(np.ones(2), 3, 20.0)])
    >>> out.round(3).tolist()
    [0.1, 0.1, 0.1, 1.1, 1.1, 0.1, 0.1, 0.1]
    """
    out = np.array(background, dtype=np.float64)
    bg_rms = np.sqrt(np.mean(out**2)) + 1e-12
    for clip, onset, snr_db in events:
        clip = np.asarray(clip, dtype=np.float64)[: max(0, len(out) - onset)]
        rms = np.sqrt(np.mean(clip**2)) + 1e-12
        out[onset : onset + len(clip)] += (
            clip * (bg_rms / rms) * 10 ** (snr_db / 20)
        )
    return out


def _event_files(event_folder: str) -> Dict[str, List[str]]:
    labels = sorted(
        d
        for d in os.listdir(event_folder)
        if os.path.isdir(os.path.join(event_folder, d))
    )
    files = {
        label: sorted(find_audio_files(os.path.join(event_folder, label)))
        for label in labels
    }
    files = {label: paths for label, paths in files.items() if paths}
    if not files:
        raise FileNotFoundError(
            f"{event_folder} has no class sub-folders with audio files "
            "(<events>/<label>/*.wav)."
        )
    return files


def generate_soundscapes(
    event_folder: str,
    output_folder: str,
    count: int,
    duration: float = 10.0,
    background_folder: Optional[str] = None,
    min_events: int = 1,
    max_events: int = 3,
    snr_db: Tuple[float, float] = (6.0, 24.0),
    sample_rate: int = 16000,
    seed: int = 0,
    prefix: str = "soundscape",
) -> Tuple[str, str]:
    """Writes ``count`` soundscapes and their strong labels.

    Arguments
    ---------
    event_folder : str
        Isolated event clips, ``<event_folder>/<label>/*.wav``.
    output_folder : str
        Receives ``audio/<prefix>_<i>.wav``, ``events.tsv`` (DESED layout)
        and ``durations.tsv``.
    count : int
        Number of soundscapes.
    duration : float
        Soundscape length in seconds.
    background_folder : str, optional
        Background recordings (any layout); a random excerpt of one is
        used (looped if short). None: pink noise at RMS 0.01.
    min_events, max_events : int
        Events per soundscape (uniform).
    snr_db : tuple of float
        Range of the event-to-background SNR in dB (uniform).
    sample_rate : int
        Output rate (inputs are resampled).
    seed : int
        Seed of every draw.
    prefix : str
        File name prefix.

    Returns
    -------
    tuple of str
        Paths of ``events.tsv`` and ``durations.tsv``.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = write_synthetic_events(str(tmp / "ev"), per_class=1, seed=0)
    >>> tsv, _ = generate_soundscapes(
    ...     str(tmp / "ev"), str(tmp / "out"), 2, duration=3.0, seed=0)
    >>> open(tsv).readline().split()
    ['filename', 'onset', 'offset', 'event_label']
    >>> sf.info(str(tmp / "out" / "audio" / "soundscape_0.wav")).duration
    3.0
    """
    if not 1 <= min_events <= max_events:
        raise ValueError(
            f"need 1 <= min_events <= max_events, got {min_events}, {max_events}."
        )
    files = _event_files(event_folder)
    labels = sorted(files)
    backgrounds = (
        sorted(find_audio_files(background_folder)) if background_folder else []
    )
    if background_folder and not backgrounds:
        raise FileNotFoundError(f"{background_folder} has no audio files.")
    n = int(round(duration * sample_rate))
    audio_folder = os.path.join(output_folder, "audio")
    os.makedirs(audio_folder, exist_ok=True)
    cache: Dict[str, np.ndarray] = {}

    def clip_of(path: str) -> np.ndarray:
        if path not in cache:
            cache[path] = (
                load_audio(path, sample_rate).numpy().astype(np.float64)
            )
        return cache[path]

    rows: List[Tuple[str, float, float, str]] = []
    names: List[str] = []
    for index in range(count):
        rng = np.random.default_rng([int(seed), index])
        if backgrounds:
            bg = clip_of(backgrounds[rng.integers(len(backgrounds))])
            bg = np.tile(bg, int(np.ceil(n / max(1, len(bg)))) + 1)
            start = int(rng.integers(0, len(bg) - n + 1))
            background = bg[start : start + n]
        else:
            background = 0.01 * _pink_noise(rng, n)
        placed = []
        name = f"{prefix}_{index}.wav"
        for _ in range(int(rng.integers(min_events, max_events + 1))):
            label = labels[rng.integers(len(labels))]
            clip = clip_of(files[label][rng.integers(len(files[label]))])
            clip = clip[:n]
            onset = int(rng.integers(0, n - len(clip) + 1))
            snr = float(rng.uniform(*snr_db))
            placed.append((clip, onset, snr))
            rows.append(
                (
                    name,
                    round(onset / sample_rate, 3),
                    round((onset + len(clip)) / sample_rate, 3),
                    label,
                )
            )
        mixed = mix_events(background, placed)
        peak = np.abs(mixed).max()
        if peak > 0.99:
            mixed = mixed * (0.99 / peak)
        sf.write(
            os.path.join(audio_folder, name),
            mixed.astype(np.float32),
            sample_rate,
        )
        names.append(name)
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    events_tsv = os.path.join(output_folder, "events.tsv")
    with open(events_tsv, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["filename", "onset", "offset", "event_label"])
        writer.writerows(rows)
    durations_tsv = os.path.join(output_folder, "durations.tsv")
    with open(durations_tsv, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["filename", "duration"])
        writer.writerows((name, n / sample_rate) for name in names)
    return events_tsv, durations_tsv


def _synthetic_clip(
    label: str, rng: np.random.Generator, sr: int
) -> np.ndarray:
    length = float(rng.uniform(0.3, 1.5))
    t = np.arange(int(length * sr)) / sr
    if label == "tone":
        wave = np.sin(2 * np.pi * rng.uniform(600, 1400) * t)
    elif label == "sweep":
        f0, f1 = rng.uniform(300, 600), rng.uniform(2500, 4000)
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * length)))
    elif label == "clicks":
        wave = np.zeros_like(t)
        period = int(sr / rng.uniform(15, 30))
        wave[::period] = 1.0
        wave = np.convolve(wave, np.hanning(32), mode="same")
    elif label == "noise_burst":
        noise = rng.standard_normal(len(t))
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(len(t), 1 / sr)
        low = rng.uniform(3000, 5000)
        spectrum[(freqs < low) | (freqs > low + 1500)] = 0
        wave = np.fft.irfft(spectrum, len(t))
    elif label == "warble":
        carrier = rng.uniform(1500, 2500)
        wave = np.sin(
            2 * np.pi * carrier * t
            + 30 * np.sin(2 * np.pi * rng.uniform(6, 10) * t)
        )
    else:
        raise ValueError(f"unknown synthetic class {label!r}")
    fade = min(len(t) // 4, int(0.01 * sr))
    envelope = np.ones_like(t)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[len(t) - fade :] = np.linspace(1, 0, fade)
    wave = wave * envelope
    return 0.5 * wave / (np.abs(wave).max() + 1e-12)


def write_synthetic_events(
    folder: str,
    classes: Sequence[str] = SYNTHETIC_CLASSES,
    per_class: int = 5,
    sample_rate: int = 16000,
    seed: int = 0,
) -> str:
    """Writes isolated synthetic event clips, ``<folder>/<label>/<i>.wav``.

    Clips last 0.3 to 1.5 s, with 10 ms fades.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = write_synthetic_events(str(tmp / "ev"), ["tone"], per_class=2)
    >>> sorted(os.listdir(tmp / "ev" / "tone"))
    ['0.wav', '1.wav']
    """
    for c, label in enumerate(classes):
        os.makedirs(os.path.join(folder, label), exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([int(seed), c, i])
            clip = _synthetic_clip(label, rng, sample_rate)
            sf.write(
                os.path.join(folder, label, f"{i}.wav"),
                clip.astype(np.float32),
                sample_rate,
            )
    return folder
