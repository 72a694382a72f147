"""Data preparation for ESC-50 (published layout).

Expects the layout of the ESC-50 release (github.com/karolpiczak/ESC-50)::

    <data_folder>/meta/esc50.csv   filename,fold,target,category,esc10,src_file,take
    <data_folder>/audio/*.wav      44.1 kHz mono clips of 5 s

The clips of the requested folds are resampled ONCE to ``sample_rate`` into a
cache folder (valid cached files are reused, e.g. by the other folds of a
cross-validation) and one JSON manifest per split is written::

    {"1-100032-A-0": {"wav": "/abs/cache/1-100032-A-0.wav", "duration": 5.0,
                      "label": "dog", "target": 0, "fold": 1}, ...}

Preparation is skipped when the manifests exist and were written with the same
options (``ast_sb.dataio.manifests.is_prepared``).

Authors
 * ast_sb developers 2026
"""

import csv
import json
import logging
import os
from typing import Dict, List, Optional, Sequence

import soundfile as sf
import torch
import torchaudio

from ast_sb.dataio.audio import AudioLoadError, load_audio, save_audio
from ast_sb.dataio.audio_checks import AudioFileError, read_duration
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.dataio.manifests import (
    is_prepared,
    log_manifest_summary,
    mark_prepared,
    write_manifest,
)
from ast_sb.dataio.splits import check_disjoint
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

ESC50_REQUIRED_COLUMNS = ("filename", "fold", "target", "category")
ESC50_FOLDS = (1, 2, 3, 4, 5)
OPTIONS_FILE = "esc50_prepare_options.json"


def prepare_esc50(
    data_folder: str,
    save_folder: str,
    train_folds: Sequence[int] = (1, 2, 3),
    valid_folds: Optional[Sequence[int]] = (4,),
    test_folds: Sequence[int] = (5,),
    sample_rate: int = 16000,
    cache_folder: Optional[str] = None,
    csv_path: Optional[str] = None,
    skip_prep: bool = False,
) -> Dict[str, Optional[str]]:
    """Validates ESC-50, resamples it once and writes split manifests.

    Arguments
    ---------
    data_folder : str
        Root of the ESC-50 release (holding ``meta/`` and ``audio/``).
    save_folder : str
        Where the manifests ``train.json``, ``valid.json``, ``test.json`` go.
    train_folds : sequence of int
        Folds (1-5) used for training.
    valid_folds : sequence of int, optional
        Folds used for validation. Empty or None: no validation manifest
        (the original AST protocol validates on the test fold).
    test_folds : sequence of int
        Folds used for testing.
    sample_rate : int
        Sampling rate of the cached audio.
    cache_folder : str, optional
        Folder of the resampled audio (default
        ``<save_folder>/audio_<sample_rate>``). Share it between runs
        (e.g. the folds of a cross-validation) to resample only once.
    csv_path : str, optional
        Metadata file (default ``<data_folder>/meta/esc50.csv``).
    skip_prep : bool
        If True, only return the paths (the manifests must already exist).

    Returns
    -------
    dict
        Paths of the manifests, keys "train", "valid" (None without
        validation folds) and "test", plus "cache_folder".

    Raises
    ------
    FileNotFoundError
        If the metadata csv is missing.
    ast_sb.dataio.audio_checks.AudioFileError
        For a missing or corrupt clip (names the file).
    ast_sb.dataio.labels.UnknownLabelError
        When the target <-> category mapping is inconsistent.
    ast_sb.errors.DataPreparationError
        For invalid folds or a malformed csv.
    """
    train_folds = _check_folds("train_folds", train_folds)
    valid_folds = _check_folds("valid_folds", valid_folds or [])
    test_folds = _check_folds("test_folds", test_folds)
    if not train_folds or not test_folds:
        raise DataPreparationError(
            "train_folds and test_folds must not be empty"
        )
    check_disjoint(
        {
            "train_folds": {str(f): {"fold": f} for f in train_folds},
            "valid_folds": {str(f): {"fold": f} for f in valid_folds},
            "test_folds": {str(f): {"fold": f} for f in test_folds},
        },
        "fold",
    )

    cache_folder = os.path.abspath(
        cache_folder or os.path.join(save_folder, f"audio_{sample_rate}")
    )
    csv_path = os.path.abspath(
        csv_path or os.path.join(data_folder, "meta", "esc50.csv")
    )
    manifests: Dict[str, Optional[str]] = {
        "train": os.path.join(save_folder, "train.json"),
        "valid": os.path.join(save_folder, "valid.json")
        if valid_folds
        else None,
        "test": os.path.join(save_folder, "test.json"),
    }
    outputs = [p for p in manifests.values() if p is not None]
    manifests["cache_folder"] = cache_folder
    if skip_prep:
        return manifests

    options = {
        "data_folder": os.path.abspath(data_folder),
        "csv_path": csv_path,
        "csv_mtime": os.path.getmtime(csv_path)
        if os.path.isfile(csv_path)
        else None,
        "train_folds": train_folds,
        "valid_folds": valid_folds,
        "test_folds": test_folds,
        "sample_rate": int(sample_rate),
        "cache_folder": cache_folder,
    }
    options_path = os.path.join(save_folder, OPTIONS_FILE)
    if is_prepared(outputs, options, options_path) and _cache_complete(outputs):
        logger.info(
            "ESC-50 manifests in %s already prepared with the same options; "
            "skipping preparation.",
            save_folder,
        )
        return manifests

    used_folds = set(train_folds) | set(valid_folds) | set(test_folds)
    rows = [r for r in read_esc50_csv(csv_path) if r["fold"] in used_folds]
    audio_folder = os.path.join(data_folder, "audio")
    for row in rows:  # fail fast, before any resampling
        src = os.path.join(audio_folder, row["filename"])
        if not os.path.isfile(src):
            raise AudioFileError(
                src,
                f"file not found (listed in {csv_path}, fold {row['fold']})",
            )

    os.makedirs(cache_folder, exist_ok=True)
    split_of = dict.fromkeys(train_folds, "train")
    split_of.update(dict.fromkeys(valid_folds, "valid"))
    split_of.update(dict.fromkeys(test_folds, "test"))
    splits: Dict[str, Dict[str, dict]] = {"train": {}, "valid": {}, "test": {}}
    n_resampled = 0
    for row in rows:
        src = os.path.join(audio_folder, row["filename"])
        dst = os.path.join(cache_folder, row["filename"])
        n_resampled += resample_once(src, dst, sample_rate)
        utt_id = os.path.splitext(row["filename"])[0]
        splits[split_of[row["fold"]]][utt_id] = {
            "wav": dst,
            "duration": read_duration(dst),
            "label": row["category"],
            "target": row["target"],
            "fold": row["fold"],
        }
    logger.info(
        "ESC-50: resampled %d of %d clip(s) to %d Hz into %s (others cached)",
        n_resampled,
        len(rows),
        sample_rate,
        cache_folder,
    )
    for split in ("train", "valid", "test"):
        if manifests[split] is None:
            continue
        if not splits[split]:
            raise DataPreparationError(
                f"No ESC-50 clip in the {split} folds of {csv_path}"
            )
        write_manifest(splits[split], manifests[split])
        log_manifest_summary(split, splits[split])
    mark_prepared(options, options_path)
    return manifests


def read_esc50_csv(csv_path: str) -> List[dict]:
    """Reads and validates ``meta/esc50.csv``.

    Checks the columns, the fold values (1-5), that ``target`` is an integer
    and that the target <-> category mapping is one-to-one.

    Arguments
    ---------
    csv_path : str
        Path of the metadata file.

    Returns
    -------
    list of dict
        Rows with ``filename`` (str), ``fold`` (int), ``target`` (int) and
        ``category`` (str).
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(
            f"ESC-50 metadata file not found: {csv_path}. Expected the "
            f"published layout <data_folder>/meta/esc50.csv + audio/*.wav "
            f"(github.com/karolpiczak/ESC-50)."
        )
    with open(csv_path, newline="", encoding="utf-8") as fin:
        reader = csv.DictReader(fin)
        columns = reader.fieldnames or []
        lacking = [c for c in ESC50_REQUIRED_COLUMNS if c not in columns]
        if lacking:
            raise DataPreparationError(
                f"{csv_path} lacks column(s) {lacking}; found {columns}"
            )
        raw_rows = list(reader)
    if not raw_rows:
        raise DataPreparationError(f"{csv_path} lists no clips")
    rows = []
    target_to_category: Dict[int, str] = {}
    category_to_target: Dict[str, int] = {}
    for line, raw in enumerate(raw_rows, start=2):
        where = f"{csv_path} line {line} ({raw.get('filename')})"
        try:
            fold = int(raw["fold"])
            target = int(raw["target"])
        except (TypeError, ValueError):
            raise DataPreparationError(
                f"{where}: fold and target must be integers, got "
                f"fold={raw['fold']!r}, target={raw['target']!r}"
            )
        category = (raw["category"] or "").strip()
        if fold not in ESC50_FOLDS:
            raise DataPreparationError(f"{where}: fold {fold} is not in 1-5")
        if not category:
            raise DataPreparationError(f"{where}: empty category")
        known = target_to_category.setdefault(target, category)
        if known != category:
            raise UnknownLabelError(
                category,
                f"{where}: target {target} is {known!r} in earlier rows",
                [known],
            )
        known_target = category_to_target.setdefault(category, target)
        if known_target != target:
            raise UnknownLabelError(
                category,
                f"{where}: category has target {target} here but "
                f"{known_target} in earlier rows",
            )
        rows.append(
            {
                "filename": raw["filename"],
                "fold": fold,
                "target": target,
                "category": category,
            }
        )
    return rows


_RESAMPLERS: Dict[tuple, torchaudio.transforms.Resample] = {}


def resample_once(src: str, dst: str, sample_rate: int) -> int:
    """Writes ``src`` resampled to ``dst`` unless a valid copy exists.

    The resampling kernel is computed once per source rate (the same
    ``torchaudio`` sinc interpolation as ``ast_sb.dataio.audio.load_audio``).

    Arguments
    ---------
    src : str
        Original clip.
    dst : str
        Cached clip (16-bit PCM at ``sample_rate``); written atomically.
    sample_rate : int
        Target rate.

    Returns
    -------
    int
        1 if the file was written, 0 if the cached copy was reused.
    """
    if os.path.isfile(dst):
        try:
            info = sf.info(dst)
            if info.samplerate == sample_rate and info.frames > 0:
                return 0
        except Exception:  # broken cache file (e.g. interrupted write)
            pass
    try:
        file_rate = sf.info(src).samplerate
        wav = load_audio(src, sample_rate=None)
    except (AudioLoadError, RuntimeError) as err:
        raise AudioFileError(src, f"corrupt or unreadable ESC-50 clip ({err})")
    if file_rate != sample_rate:
        key = (int(file_rate), int(sample_rate))
        if key not in _RESAMPLERS:
            _RESAMPLERS[key] = torchaudio.transforms.Resample(*key)
        with torch.no_grad():
            wav = _RESAMPLERS[key](wav)
    tmp = dst + ".tmp.wav"
    save_audio(tmp, wav, sample_rate, subtype="PCM_16")
    os.replace(tmp, dst)
    return 1


def _check_folds(name: str, folds) -> List[int]:
    if isinstance(folds, (int, str)):
        folds = [folds]
    out: List[int] = []
    for fold in folds:
        try:
            value = int(fold)
        except (TypeError, ValueError):
            raise DataPreparationError(
                f"{name}: fold {fold!r} is not an integer"
            )
        if value not in ESC50_FOLDS:
            raise DataPreparationError(f"{name}: fold {value} is not in 1-5")
        if value in out:
            raise DataPreparationError(f"{name}: fold {value} is listed twice")
        out.append(value)
    return out


def _cache_complete(manifest_paths: Sequence[str]) -> bool:
    """Whether every clip referenced by the manifests is still cached."""
    for path in manifest_paths:
        with open(path, encoding="utf-8") as fin:
            for entry in json.load(fin).values():
                if not os.path.isfile(entry["wav"]):
                    return False
    return True
