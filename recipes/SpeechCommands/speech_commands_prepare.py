"""Data preparation for Speech Commands V2 (Warden 2018), official split.

The release (``speech_commands_v0.02.tar.gz``) unpacks to::

    <data_folder>/<word>/<speaker>_nohash_<n>.wav    (35 words, 1 s, 16 kHz)
    <data_folder>/_background_noise_/*.wav          (6 long noise recordings)
    <data_folder>/validation_list.txt               (<word>/<file>.wav lines)
    <data_folder>/testing_list.txt

The official split: the files of ``validation_list.txt`` are the validation
set, those of ``testing_list.txt`` the test set, every other word clip is
training data (the lists assign whole speakers to a split by a hash of the
speaker id, so no speaker is in two splits). This is the 35-class task of
the AST paper (98.1 % test accuracy).

Outputs in ``save_folder``: ``train.json``, ``valid.json``, ``test.json``
(entries ``wav`` as ``$data_root/<word>/<file>.wav``, ``duration``,
``label``, ``speaker``), ``labels.txt`` and ``noise.csv`` (``ID,duration,
wav``: the background-noise recordings, for
:class:`ast_sb.training.background_noise.BackgroundNoise`).

Authors
 * ast_sb developers 2026
"""

import csv
import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set

from ast_sb.dataio.audio_checks import add_durations
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    write_list,
    write_splits,
)
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

NOISE_FOLDER = "_background_noise_"
LIST_FILES = {"valid": "validation_list.txt", "test": "testing_list.txt"}

KEYWORDS_V2 = (
    "backward bed bird cat dog down eight five follow forward four go happy "
    "house learn left marvin nine no off on one right seven sheila six stop "
    "three tree two up visual wow yes zero"
).split()
"""The 35 words of Speech Commands V2."""


def _read_list(path: Path) -> Set[str]:
    """The ``<word>/<file>.wav`` lines of an official split list."""
    if not path.is_file():
        raise DataPreparationError(
            f"{path} not found: the official Speech Commands V2 layout has "
            f"validation_list.txt and testing_list.txt at its root"
        )
    with open(path, encoding="utf-8") as fin:
        return {line.strip() for line in fin if line.strip()}


def prepare_speech_commands(
    data_folder: str,
    save_folder: str,
    keywords: Optional[Sequence[str]] = None,
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes the manifests of the official Speech Commands V2 split.

    Arguments
    ---------
    data_folder : str
        The unpacked release (see the module docstring).
    save_folder : str
        Where the manifests, ``labels.txt`` and ``noise.csv`` go.
    keywords : sequence of str, optional
        The word folders to use; default :data:`KEYWORDS_V2`. Each must
        exist.
    skip_prep : bool
        If True, only return the manifest paths.

    Returns
    -------
    dict
        "train", "valid", "test" manifest paths, "noise_csv" and
        "data_root" (the value of ``$data_root``).
    """
    root = Path(data_folder)
    save = Path(save_folder)
    outputs = {
        **manifest_paths(save),
        "noise_csv": str(save / "noise.csv"),
        "data_root": str(root.resolve()),
    }
    if skip_prep:
        return outputs
    if not root.is_dir():
        raise DataPreparationError(f"Speech Commands folder not found: {root}")
    words = list(keywords) if keywords is not None else list(KEYWORDS_V2)
    missing = [w for w in words if not (root / w).is_dir()]
    if missing:
        raise DataPreparationError(
            f"{root} has no folder for the keywords {missing}; is it the "
            f"Speech Commands V2 release?"
        )
    options = {
        "data_folder": str(root.resolve()),
        "keywords": words,
        "lists": {
            name: (root / f).stat().st_size if (root / f).is_file() else None
            for name, f in LIST_FILES.items()
        },
    }
    opts_file = save / "speech_commands_prepare_opts.json"
    files = [outputs[k] for k in ("train", "valid", "test", "noise_csv")]
    if is_prepared(files, options, opts_file):
        logger.info("Manifests up to date in %s, skipping", save)
        return outputs

    listed = {name: _read_list(root / f) for name, f in LIST_FILES.items()}
    overlap = listed["valid"] & listed["test"]
    if overlap:
        raise DataPreparationError(
            f"{len(overlap)} files are in both validation_list.txt and "
            f"testing_list.txt, e.g. {sorted(overlap)[0]}"
        )
    splits: Dict[str, Dict[str, dict]] = {"train": {}, "valid": {}, "test": {}}
    for word in words:
        for path in sorted((root / word).glob("*.wav")):
            rel = f"{word}/{path.name}"
            split = next(
                (s for s in ("valid", "test") if rel in listed[s]), "train"
            )
            key = rel[: -len(".wav")]
            splits[split][key] = {
                "wav": str(path),
                "label": word,
                "speaker": path.name.split("_nohash_")[0],
            }
    for name, entries in splits.items():
        if not entries:
            raise DataPreparationError(f"No {name} clip found under {root}")
        add_durations(entries)
        for entry in entries.values():
            entry["wav"] = "$data_root/" + os.path.relpath(entry["wav"], root)
    write_splits(splits, save)
    write_list(sorted(words), save / "labels.txt")
    _write_noise_csv(root / NOISE_FOLDER, save / "noise.csv")
    mark_prepared(options, opts_file)
    return outputs


def _write_noise_csv(folder: Path, path: Path) -> List[str]:
    """Writes SpeechBrain's noise CSV (``ID,duration,wav``) of a folder."""
    from ast_sb.dataio.audio import open_audio_file

    rows = []
    for wav in sorted(folder.glob("*.wav")) if folder.is_dir() else []:
        with open_audio_file(wav) as info:
            duration = info.frames / float(info.samplerate)
        rows.append({"ID": wav.stem, "duration": duration, "wav": str(wav)})
    if not rows:
        logger.warning("No background noise in %s: noise.csv is empty", folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fout:
        writer = csv.DictWriter(fout, fieldnames=["ID", "duration", "wav"])
        writer.writeheader()
        writer.writerows(rows)
    return [row["wav"] for row in rows]
