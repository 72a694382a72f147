"""Data preparation for self-supervised pretraining on unlabelled audio.

Inputs (one of):

1. ``data_folder`` alone: every audio file under it (sub-folders too);
   the clip id is the path relative to the folder, without extension.
2. ``manifest``: a CSV with a ``wav`` column (optional ``id``; any other
   column, e.g. labels, is ignored) or a JSON manifest (dict id -> entry
   with ``wav``, or a list of such entries). Relative paths are relative to
   ``data_folder`` if given, else to the manifest's folder.

Files of any length are accepted: a file longer than ``segment_seconds``
is split into ``round(duration / segment_seconds)`` equal segments
(manifest entries ``<id>@<k>`` with ``start`` / ``stop``), and training
takes one random crop of ``crop_seconds`` per segment and epoch. So long
recordings are seen in proportion to their length and never loaded whole.

A ``valid_ratio`` share of the files (not segments; seeded) is held out
to measure the pretraining loss on unseen audio.

Outputs in ``save_folder``: ``train.json``, ``valid.json``,
``missing_files.txt``, ``corrupt_files.txt``. For large sets, pack
``train.json`` prepared with ``segment_seconds: null`` into WebDataset
shards with ``ast_sb.dataio.sharding.write_shards`` (see README.md).

Authors
 * ast_sb developers 2026
"""

import csv
import json
import logging
import random
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from ast_sb.dataio.audio_checks import (
    AUDIO_EXTENSIONS,
    add_durations,
    find_audio_files,
)
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_manifest,
)
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)


def prepare_unlabelled(
    save_folder: str,
    data_folder: Optional[str] = None,
    manifest: Optional[str] = None,
    segment_seconds: Optional[float] = 10.0,
    valid_ratio: float = 0.05,
    seed: int = 1234,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    on_missing: str = "raise",
    on_corrupt: str = "raise",
    skip_prep: bool = False,
) -> Dict[str, Optional[str]]:
    """Writes the train / valid manifests of unlabelled audio.

    Arguments
    ---------
    save_folder : str
        Where the manifests are written.
    data_folder : str, optional
        Folder of audio files (without ``manifest``), or the base folder of
        the manifest's relative paths.
    manifest : str, optional
        CSV (``wav`` column) or JSON manifest.
    segment_seconds : float, optional
        Segment length for long files; None keeps one entry per file.
    valid_ratio : float
        Share of files held out for validation (0: none).
    seed : int
        Seed of the held-out choice.
    extensions : Sequence[str]
        Audio extensions searched in folder mode.
    on_missing : str
        "raise" or "skip" for listed files that do not exist.
    on_corrupt : str
        "raise" or "skip" for unreadable files.
    skip_prep : bool
        If True, do nothing.

    Returns
    -------
    dict
        "train" and "valid" manifest paths ("valid" is None when
        ``valid_ratio`` is 0).

    Example
    -------
    >>> import torch
    >>> from ast_sb.dataio.audio import save_audio
    >>> tmp = getfixture("tmpdir")
    >>> for i, seconds in enumerate([1, 1, 25]):
    ...     save_audio(tmp / "audio" / f"f{i}.wav", torch.zeros(16000 * seconds), 16000)
    >>> out = prepare_unlabelled(str(tmp / "prep"), str(tmp / "audio"),
    ...                          valid_ratio=0.3, seed=0)
    >>> from ast_sb.dataio.manifests import read_manifest
    >>> sorted(read_manifest(out["train"])), sorted(read_manifest(out["valid"]))
    (['f0', 'f2@0', 'f2@1'], ['f1'])
    >>> read_manifest(out["train"])["f2@1"]["start"]
    12.5
    """
    save = Path(save_folder)
    paths = manifest_paths(save, ("train", "valid"))
    outputs: Dict[str, Optional[str]] = {
        "train": paths["train"],
        "valid": paths["valid"] if valid_ratio > 0 else None,
    }
    if skip_prep:
        return outputs
    if manifest is None and data_folder is None:
        raise ValueError("Give a data_folder of audio files or a manifest")
    if not 0 <= valid_ratio < 1:
        raise ValueError(f"valid_ratio must be in [0, 1): {valid_ratio}")
    if segment_seconds is not None and segment_seconds <= 0:
        raise ValueError(f"segment_seconds must be > 0: {segment_seconds}")
    source = Path(manifest) if manifest is not None else Path(data_folder)
    options = {
        "source": str(source.resolve()),
        "source_size": source.stat().st_size if source.is_file() else None,
        "data_folder": data_folder,
        "segment_seconds": segment_seconds,
        "valid_ratio": valid_ratio,
        "seed": seed,
        "extensions": list(extensions),
        "on_missing": on_missing,
        "on_corrupt": on_corrupt,
    }
    opts_file = save / "unlabelled_prepare_opts.json"
    written = [p for p in outputs.values() if p is not None]
    if is_prepared(written, options, opts_file):
        logger.info("Manifests up to date in %s, skipping", save)
        return outputs

    if manifest is not None:
        base = Path(data_folder) if data_folder else Path(manifest).parent
        entries = read_unlabelled_manifest(Path(manifest), base)
    else:
        root = Path(data_folder)
        entries = {
            p.relative_to(root).with_suffix("").as_posix(): {"wav": str(p)}
            for p in find_audio_files(root, extensions)
        }
    if not entries:
        raise DataPreparationError(f"No audio file found in {source}")
    missing, corrupt = add_durations(entries, on_missing, on_corrupt)
    report_problems(missing, save / "missing_files.txt", "missing files")
    report_problems(corrupt, save / "corrupt_files.txt", "unreadable files")
    if not entries:
        raise DataPreparationError(f"No readable audio file in {source}")

    keys = sorted(entries)
    n_valid = int(round(valid_ratio * len(keys)))
    if valid_ratio > 0 and len(keys) > 1:
        n_valid = min(max(n_valid, 1), len(keys) - 1)
    held_out = set(random.Random(seed).sample(keys, n_valid))
    splits: Dict[str, Dict[str, Any]] = {"train": {}, "valid": {}}
    for key in keys:
        split = "valid" if key in held_out else "train"
        splits[split].update(_segments(key, entries[key], segment_seconds))
    write_manifest(splits["train"], outputs["train"])
    if outputs["valid"] is not None:
        write_manifest(splits["valid"], outputs["valid"])
    logger.info(
        "Unlabelled audio: %d train and %d valid segments from %d files",
        len(splits["train"]),
        len(splits["valid"]),
        len(keys),
    )
    mark_prepared(options, opts_file)
    return outputs


def _segments(
    key: str, entry: Dict[str, Any], segment_seconds: Optional[float]
) -> Dict[str, Dict[str, Any]]:
    """One entry per segment of about ``segment_seconds``."""
    duration = float(entry["duration"])
    if segment_seconds is None or duration <= segment_seconds:
        return {key: entry}
    count = max(1, int(round(duration / segment_seconds)))
    step = duration / count
    return {
        f"{key}@{k}": {
            **entry,
            "start": round(k * step, 6),
            "stop": round(duration if k == count - 1 else (k + 1) * step, 6),
        }
        for k in range(count)
    }


def read_unlabelled_manifest(path: Path, base: Path) -> Dict[str, Dict]:
    """Reads the ``wav`` (and ``id``) of every row of a CSV / JSON manifest.

    Arguments
    ---------
    path : Path
        CSV (``wav`` column) or JSON manifest.
    base : Path
        Folder of relative paths.

    Returns
    -------
    dict
        id -> {"wav": absolute path}.

    Example
    -------
    >>> tmp = Path(getfixture("tmpdir"))
    >>> _ = (tmp / "m.csv").write_text("wav,label\\na/x.wav,dog\\n", "utf-8")
    >>> read_unlabelled_manifest(tmp / "m.csv", tmp)["a/x"]["wav"] == str(tmp / "a/x.wav")
    True
    """
    if not path.is_file():
        raise DataPreparationError(f"Manifest not found: {path}")
    rows = []
    if path.suffix.lower() == ".json":
        with open(path, encoding="utf-8") as fin:
            data = json.load(fin)
        if isinstance(data, dict):
            rows = [{"id": k, **v} for k, v in data.items()]
        elif isinstance(data, list):
            rows = list(data)
        else:
            raise DataPreparationError(
                f"{path}: expected a dict or a list of entries"
            )
    else:
        with open(path, newline="", encoding="utf-8") as fin:
            reader = csv.DictReader(fin)
            if "wav" not in (reader.fieldnames or []):
                raise DataPreparationError(
                    f"{path}: the CSV needs a 'wav' column, found "
                    f"{reader.fieldnames}"
                )
            rows = list(reader)
    entries: Dict[str, Dict] = {}
    for number, row in enumerate(rows, start=1):
        wav = row.get("wav") if isinstance(row, dict) else None
        if not wav:
            raise DataPreparationError(f"{path}: entry {number} has no wav")
        wav_path = Path(str(wav)).expanduser()
        if not wav_path.is_absolute():
            wav_path = base / wav_path
        key = str(row.get("id") or Path(str(wav)).with_suffix("").as_posix())
        if key in entries:
            raise DataPreparationError(f"{path}: duplicate id {key!r}")
        entries[key] = {"wav": str(wav_path)}
    return entries
