"""Data preparation for AudioSet (multi-label, 527 classes).

AudioSet is distributed as CSV lists of YouTube segments; the audio has to
be downloaded separately. This script expects:

- ``csv_folder`` with the official files ``balanced_train_segments.csv``,
  ``unbalanced_train_segments.csv`` (only for ``train_set="full"``),
  ``eval_segments.csv`` and ``class_labels_indices.csv``. The segment CSVs
  start with 3 comment lines (``#``) followed by rows
  ``YTID, start_seconds, end_seconds, "mid1,mid2"``;
  ``class_labels_indices.csv`` has the header ``index,mid,display_name``.
- ``audio_folder``: a folder (searched recursively) with the downloaded
  clips. A clip is matched to its CSV row by file name stem, trying
  ``filename_patterns`` in order (default: ``<YTID>``, ``Y<YTID>``,
  ``<YTID>_<start>``, ...; ``.wav`` or ``.flac``).

Clips that are not found are skipped, counted, logged and listed in
``<save_folder>/missing_clips.txt`` (``YTID<TAB>csv name``); unreadable clips
likewise in ``corrupt_clips.txt`` (or raise, ``on_corrupt="raise"``).
The skip-if-prepared check covers the options and the CSV files but not the
audio folder: after downloading more clips, delete
``audioset_prepare_opts.json`` (or the manifests) to prepare again.

Outputs in ``save_folder``:

- ``train.json``: balanced train (``train_set="balanced"``) or balanced +
  unbalanced train (``train_set="full"``), minus the validation hold-out.
  Each entry carries a ``weight`` for balanced sampling, computed like the
  original AST ``gen_weight_file.py`` over this training set: label weight
  = 1000 / (label count + 0.01), sample weight = sum of its labels' weights.
- ``valid.json``: a random ``valid_fraction`` of the training clips held out
  (seeded); with ``valid_fraction=0`` it is a copy of the eval set, as in
  the original AST recipe (which monitors the eval set).
- ``test.json``: the eval set (``eval_segments.csv``).
- ``labels.txt``: the label vocabulary in official index order (line i =
  class index i), so a 527-way head matches pretrained AST checkpoints.

:func:`write_label_encoder` turns ``labels.txt`` into the recipe's
SpeechBrain label encoder file before the datasets are built, so the
encoder holds every class in the official order even when the downloaded
training clips lack some of them (``ast_sb.dataio.datasets`` would otherwise index only
the labels seen in training, in sorted order).

Entry fields: ``wav`` (absolute path), ``duration`` (seconds, read from the
file, or ``end - start`` from the CSV with ``read_durations=False``),
``labels`` (display names or mids, sorted by class index), ``set``
(``balanced_train``, ``unbalanced_train`` or ``eval``) and, in train.json
only, ``weight``. The entry id is the YouTube id.

Authors
 * ast_sb developers 2026
"""

import csv
import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ast_sb.dataio.audio_checks import (
    AUDIO_EXTENSIONS,
    add_durations,
    check_policy,
)
from ast_sb.dataio.labels import UnknownLabelError, balanced_sample_weights
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_list,
    write_splits,
)
from ast_sb.dataio.splits import stratified_split
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

SEGMENT_CSVS = {
    "balanced_train": "balanced_train_segments.csv",
    "unbalanced_train": "unbalanced_train_segments.csv",
    "eval": "eval_segments.csv",
}
CLASS_LABELS_CSV = "class_labels_indices.csv"

#: File-name stems tried, in order, for a segment. Fields: ``ytid``,
#: ``start`` / ``end`` (as written in the CSV, e.g. "30.000") and
#: ``start_int`` / ``end_int`` (whole seconds).
DEFAULT_FILENAME_PATTERNS = (
    "{ytid}",
    "Y{ytid}",
    "{ytid}_{start}",
    "{ytid}_{start_int}",
    "{ytid}_{start}_{end}",
    "{ytid}_{start_int}_{end_int}",
    "Y{ytid}_{start}_{end}",
)


def prepare_audioset(
    audio_folder: str,
    csv_folder: str,
    save_folder: str,
    train_set: str = "balanced",
    valid_fraction: float = 0.0,
    label_type: str = "display_name",
    filename_patterns: Sequence[str] = DEFAULT_FILENAME_PATTERNS,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    read_durations: bool = True,
    on_corrupt: str = "skip",
    num_workers: int = 8,
    seed: int = 1234,
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes the AudioSet train / valid / test manifests.

    Arguments
    ---------
    audio_folder : str
        Folder with the downloaded clips (searched recursively).
    csv_folder : str
        Folder with the official AudioSet CSV files.
    save_folder : str
        Where the manifests and reports are written.
    train_set : str
        "balanced" (balanced_train_segments, ~20k clips) or "full"
        (balanced + unbalanced, ~2M clips).
    valid_fraction : float
        Fraction of the training clips held out as validation set (random,
        seeded). 0 uses the eval set as validation set.
    label_type : str
        "display_name" (e.g. "Speech") or "mid" (e.g. "/m/09x0r").
    filename_patterns : Sequence[str]
        File-name stems to try for a segment (see
        ``DEFAULT_FILENAME_PATTERNS``).
    extensions : Sequence[str]
        Audio file extensions to index.
    read_durations : bool
        Read every clip's header (detects corrupt files, gives exact
        durations). False only checks existence and takes end - start.
    on_corrupt : str
        "skip" (report and drop) or "raise" for unreadable clips.
    num_workers : int
        Threads used to read the audio headers.
    seed : int
        Seed of the validation hold-out.
    skip_prep : bool
        If True, do nothing.

    Returns
    -------
    Dict[str, str]
        Paths of the "train", "valid" and "test" manifests.
    """
    save = Path(save_folder)
    outputs = manifest_paths(save)
    if skip_prep:
        return outputs
    if train_set not in ("balanced", "full"):
        raise ValueError(f"train_set must be 'balanced' or 'full': {train_set}")
    if label_type not in ("display_name", "mid"):
        raise ValueError(
            f"label_type must be 'display_name' or 'mid': {label_type}"
        )
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1): {valid_fraction}")
    check_policy("on_corrupt", on_corrupt)
    train_sets = ["balanced_train"]
    if train_set == "full":
        train_sets.append("unbalanced_train")
    csv_paths = {s: Path(csv_folder) / SEGMENT_CSVS[s] for s in train_sets}
    csv_paths["eval"] = Path(csv_folder) / SEGMENT_CSVS["eval"]
    labels_csv = Path(csv_folder) / CLASS_LABELS_CSV
    for path in [labels_csv, *csv_paths.values()]:
        if not path.is_file():
            raise DataPreparationError(f"AudioSet CSV file not found: {path}")

    options = {
        "audio_folder": os.path.abspath(audio_folder),
        "csvs": {
            str(p.resolve()): p.stat().st_size
            for p in [labels_csv, *csv_paths.values()]
        },
        "train_set": train_set,
        "valid_fraction": valid_fraction,
        "label_type": label_type,
        "filename_patterns": list(filename_patterns),
        "extensions": list(extensions),
        "read_durations": read_durations,
        "on_corrupt": on_corrupt,
        "seed": seed,
    }
    report_files = [save / n for n in ("labels.txt", "missing_clips.txt")]
    opts_file = save / "audioset_prepare_opts.json"
    if is_prepared([*outputs.values(), *report_files], options, opts_file):
        logger.info("AudioSet manifests up to date in %s, skipping", save)
        return outputs

    classes = read_class_labels(labels_csv)
    audio_index = index_audio_folder(audio_folder, extensions)
    logger.info(
        "Indexed %d audio files under %s", len(audio_index), audio_folder
    )

    missing: Dict[str, str] = {}
    manifests: Dict[str, Dict[str, dict]] = {}
    for name, path in csv_paths.items():
        rows = read_segments_csv(path, classes)
        manifests[name] = _match_segments(
            rows, name, audio_index, filename_patterns, classes, label_type
        )
        lost = [r[0] for r in rows if r[0] not in manifests[name]]
        missing.update((ytid, path.name) for ytid in lost)
        logger.info(
            "%s: %d of %d clips found",
            path.name,
            len(rows) - len(lost),
            len(rows),
        )

    train: Dict[str, dict] = {}
    for name in train_sets:
        for ytid, entry in manifests[name].items():
            if ytid in train:
                logger.warning("Duplicate clip %s in %s ignored", ytid, name)
                continue
            train[ytid] = entry
    test = manifests["eval"]
    overlap = sorted(set(train) & set(test))
    if overlap:
        logger.warning(
            "%d eval clips also listed for training, removed from train: %s",
            len(overlap),
            overlap[:10],
        )
        for ytid in overlap:
            del train[ytid]

    corrupt: Dict[str, str] = {}
    if read_durations:
        for split in (train, test):
            corrupt.update(
                add_durations(split, "raise", on_corrupt, num_workers)[1]
            )
    report_problems(missing, save / "missing_clips.txt", "missing clips")
    report_problems(corrupt, save / "corrupt_clips.txt", "unreadable clips")
    if not train:
        raise DataPreparationError(
            f"No training clip of {[csv_paths[s].name for s in train_sets]} "
            f"was found in {audio_folder} (patterns {list(filename_patterns)})"
        )

    if valid_fraction > 0:
        keep, held = stratified_split(
            list(train), None, (1 - valid_fraction, valid_fraction), seed
        )
        valid = {k: train[k] for k in held}
        train = {k: train[k] for k in keep}
    else:
        valid = test
    weights = balanced_sample_weights([e["labels"] for e in train.values()])
    for entry, weight in zip(train.values(), weights):
        entry["weight"] = weight

    write_splits({"train": train, "valid": valid, "test": test}, save)
    vocabulary = [c[label_type] for c in sorted(classes.values(), key=_index)]
    write_list(vocabulary, save / "labels.txt")
    mark_prepared(options, opts_file)
    return outputs


def write_label_encoder(labels_file: str, label_encoder_file: str) -> int:
    """Writes the label encoder of the official class order from labels.txt.

    Arguments
    ---------
    labels_file : str
        ``labels.txt`` of :func:`prepare_audioset` (one class per line, line
        i = class index i).
    label_encoder_file : str
        SpeechBrain ``CategoricalEncoder`` file to write. An existing file
        is kept if it holds the same classes in the same order.

    Returns
    -------
    int
        Number of classes.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "labels.txt").write("Speech\\nMusic\\nDog\\n")
    >>> write_label_encoder(str(tmp / "labels.txt"), str(tmp / "enc.txt"))
    3
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    if not os.path.isfile(labels_file):
        raise DataPreparationError(
            f"AudioSet class list not found: {labels_file} (written by "
            f"prepare_audioset; run the preparation with skip_prep: False)"
        )
    with open(labels_file, encoding="utf-8") as f:
        labels = [line.rstrip("\n") for line in f if line.strip()]
    if len(set(labels)) != len(labels):
        raise DataPreparationError(f"{labels_file}: duplicate class names")
    wanted = {label: i for i, label in enumerate(labels)}
    if os.path.isfile(label_encoder_file):
        existing = CategoricalEncoder()
        existing.load(label_encoder_file)
        if existing.lab2ind == wanted:
            return len(labels)
        raise DataPreparationError(
            f"{label_encoder_file} ({len(existing.lab2ind)} classes) does not "
            f"match the {len(labels)} classes of {labels_file} in order; "
            f"delete it (or use a new output folder) to rebuild it"
        )
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(labels)
    os.makedirs(
        os.path.dirname(os.path.abspath(label_encoder_file)), exist_ok=True
    )
    encoder.save(label_encoder_file)
    return len(labels)


def _index(cls: dict) -> int:
    """Sort key: the class index."""
    return cls["index"]


def read_class_labels(path: Path) -> Dict[str, dict]:
    """Reads ``class_labels_indices.csv`` (``index,mid,display_name``).

    Arguments
    ---------
    path : pathlib.Path
        The CSV file.

    Returns
    -------
    Dict[str, dict]
        mid -> {"index": int, "mid": str, "display_name": str}.
    """
    classes: Dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        expected = {"index", "mid", "display_name"}
        if reader.fieldnames is None or not expected <= set(reader.fieldnames):
            raise DataPreparationError(
                f"{path}: expected the header 'index,mid,display_name', "
                f"got {reader.fieldnames}"
            )
        for line, row in enumerate(reader, start=2):
            try:
                index = int(row["index"])
            except (TypeError, ValueError):
                raise DataPreparationError(
                    f"{path} line {line}: bad class index {row['index']!r}"
                )
            mid = row["mid"].strip()
            if mid in classes:
                raise DataPreparationError(
                    f"{path} line {line}: duplicate mid {mid}"
                )
            classes[mid] = {
                "index": index,
                "mid": mid,
                "display_name": row["display_name"].strip(),
            }
    indices = sorted(c["index"] for c in classes.values())
    if indices != list(range(len(indices))):
        raise DataPreparationError(
            f"{path}: class indices must be 0..{len(indices) - 1} without gaps"
        )
    names = [c["display_name"] for c in classes.values()]
    if len(set(names)) != len(names):
        raise DataPreparationError(f"{path}: display names are not unique")
    return classes


def read_segments_csv(
    path: Path, classes: Optional[Dict[str, dict]] = None
) -> List[Tuple[str, str, str, List[str]]]:
    """Reads an AudioSet segments CSV.

    Arguments
    ---------
    path : pathlib.Path
        e.g. ``balanced_train_segments.csv``.
    classes : Dict[str, dict], optional
        Known classes (from :func:`read_class_labels`); an unknown mid
        raises :class:`UnknownLabelError` naming the mid, file and line.

    Returns
    -------
    List[Tuple[str, str, str, List[str]]]
        (YTID, start, end, mids) per row; start/end as written in the CSV.
    """
    rows = []
    seen = set()
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.reader(f, skipinitialspace=True), 1):
            if not row or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 4:
                raise DataPreparationError(
                    f"{path} line {line}: expected 4 fields "
                    f"'YTID, start, end, \"labels\"', got {row}"
                )
            ytid, start, end, labels = (field.strip() for field in row)
            try:
                float(start), float(end)
            except ValueError:
                raise DataPreparationError(
                    f"{path} line {line}: bad segment times {start!r}, {end!r}"
                )
            mids = [m.strip() for m in labels.split(",") if m.strip()]
            if not mids:
                raise DataPreparationError(f"{path} line {line}: no label")
            if classes is not None:
                for mid in mids:
                    if mid not in classes:
                        raise UnknownLabelError(mid, f"{path} line {line}")
            if ytid in seen:
                logger.warning(
                    "%s line %d: duplicate YTID %s", path, line, ytid
                )
                continue
            seen.add(ytid)
            rows.append((ytid, start, end, mids))
    return rows


def index_audio_folder(
    folder: str, extensions: Sequence[str]
) -> Dict[str, str]:
    """Maps file-name stems to paths for every audio file under a folder.

    Arguments
    ---------
    folder : str
        Root folder (walked recursively, in sorted order).
    extensions : Sequence[str]
        Accepted extensions (case-insensitive).

    Returns
    -------
    Dict[str, str]
        stem -> absolute path (first one wins on duplicates).
    """
    if not os.path.isdir(folder):
        raise DataPreparationError(f"AudioSet audio folder not found: {folder}")
    exts = tuple(e.lower() for e in extensions)
    index: Dict[str, str] = {}
    duplicates = 0
    for root, dirs, files in os.walk(os.path.abspath(folder)):
        dirs.sort()
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in exts:
                continue
            if stem in index:
                duplicates += 1
                continue
            index[stem] = os.path.join(root, name)
    if duplicates:
        logger.warning(
            "%d duplicate clip names under %s ignored", duplicates, folder
        )
    return index


def _match_segments(rows, set_name, audio_index, patterns, classes, label_type):
    """Builds the entries of the rows whose clip is found."""
    entries = {}
    for ytid, start, end, mids in rows:
        fields = {
            "ytid": ytid,
            "start": start,
            "end": end,
            "start_int": int(float(start)),
            "end_int": int(float(end)),
        }
        path = None
        for pattern in patterns:
            path = audio_index.get(pattern.format(**fields))
            if path is not None:
                break
        if path is None:
            continue
        ordered = sorted(set(mids), key=lambda m: classes[m]["index"])
        entries[ytid] = {
            "wav": path,
            "duration": float(end) - float(start),
            "labels": [classes[m][label_type] for m in ordered],
            "set": set_name,
        }
    return entries
