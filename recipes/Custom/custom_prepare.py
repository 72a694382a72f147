"""Data preparation for your own classification data.

Two input forms are accepted:

1. A manifest file (``manifest=``):

   - CSV with a header containing ``wav`` and either ``label`` (one label
     per row) or ``labels`` (several labels joined by ``label_separator``,
     default ``;``). Optional columns: ``id`` (default: the wav path
     relative to the base folder, without extension), ``split``
     (``train``/``valid``/``test``: use these splits instead of a random
     one); any other column is copied to the manifest as a string.
   - JSON: either a dict ``id -> {"wav": ..., "label": ...}`` (the ast_sb
     manifest format) or a list of such dicts (with an optional "id");
     "labels" may be a list or a separator-joined string.

   Relative wav paths are resolved against ``data_folder`` if given, else
   against the manifest's folder.

2. A folder of class sub-folders (``data_folder=`` only)::

       <data_folder>/<class>/**/*.wav   (or .flac)

   giving one label per file.

Labels: if ``allowed_labels`` is given, any other label raises an error
naming the label and the row / file. ``multi_label`` (default: True
exactly when a ``labels`` column / field is used) selects the output
field: ``"labels": [...]`` or ``"label": str``; with ``multi_label=False``
a row with several labels is an error.

Split: unless the input has a ``split`` column, a random split with
``split_ratio`` (train, valid, test) and ``seed``, stratified by class
(multi-label: by the rarest label of each item, a common approximation of
multi-label stratification). Classes with very few items may be absent
from valid / test. With ``group_column`` (e.g. ``speaker``: a CSV column or
JSON field) every group goes to exactly one part
(:func:`ast_sb.dataio.splits.group_split`), so that no speaker is both trained on
and tested on; the sizes then follow ``split_ratio`` approximately.

The wav path column is ``wav`` unless ``wav_column`` names another one
(e.g. ``path``).

Outputs in ``save_folder``: ``train.json``, ``valid.json``, ``test.json``,
``labels.txt`` (sorted labels), ``missing_files.txt`` and
``corrupt_files.txt``. Entry fields: ``wav``, ``duration``, ``label`` or
``labels``, plus any extra CSV columns / JSON fields.

Authors
 * ast_sb developers 2026
"""

import csv
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ast_sb.dataio.audio_checks import (
    AUDIO_EXTENSIONS,
    MIN_DURATION,
    add_durations,
    find_audio_files,
)
from ast_sb.dataio.labels import check_label
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_list,
    write_splits,
)
from ast_sb.dataio.splits import group_split, stratified_split
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def prepare_custom(
    save_folder: str,
    manifest: Optional[str] = None,
    data_folder: Optional[str] = None,
    multi_label: Optional[bool] = None,
    label_separator: str = ";",
    allowed_labels: Optional[Sequence[str]] = None,
    split_ratio: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 1234,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    on_missing: str = "raise",
    on_corrupt: str = "raise",
    min_duration: float = MIN_DURATION,
    skip_prep: bool = False,
    group_column: Optional[str] = None,
    wav_column: str = "wav",
) -> Dict[str, str]:
    """Writes train / valid / test manifests for user data.

    Arguments
    ---------
    save_folder : str
        Where the manifests are written.
    manifest : str, optional
        CSV or JSON input manifest (see the module docstring).
    data_folder : str, optional
        Folder of class sub-folders (when ``manifest`` is None), or the base
        folder of relative wav paths in ``manifest``.
    multi_label : bool, optional
        Output "labels" lists (True) or a single "label" (False); default:
        True when the input uses "labels".
    label_separator : str
        Separator of the labels in a "labels" string.
    allowed_labels : Sequence[str], optional
        If given, any other label raises an error naming it and its source.
    split_ratio : Sequence[float]
        Train, valid and test ratios for the random split.
    seed : int
        Seed of the random split.
    extensions : Sequence[str]
        Audio extensions searched in folder mode.
    on_missing : str
        "raise" or "skip" (report) for wav files that do not exist.
    on_corrupt : str
        "raise" or "skip" (report) for unusable wav files: unreadable, not
        decodable, NaN / inf samples, or shorter than ``min_duration``.
    min_duration : float
        Shortest usable file in seconds.
    skip_prep : bool
        If True, do nothing.
    group_column : str, optional
        Column / field grouping the items (e.g. "speaker"): no group is in
        two of train, valid and test.
    wav_column : str
        Column / field of the audio paths.

    Returns
    -------
    Dict[str, str]
        Paths of the "train", "valid" and "test" manifests.
    """
    save = Path(save_folder)
    outputs = manifest_paths(save)
    if skip_prep:
        return outputs
    if manifest is None and data_folder is None:
        raise ValueError(
            "Give a manifest file or a data_folder of class folders"
        )
    if len(split_ratio) != 3 or min(split_ratio) < 0 or sum(split_ratio) <= 0:
        raise ValueError(f"split_ratio must be 3 values >= 0: {split_ratio}")
    if not label_separator:
        raise ValueError("label_separator must not be empty")

    source = Path(manifest) if manifest is not None else Path(data_folder)
    options = {
        "manifest": str(source.resolve()),
        "manifest_size": source.stat().st_size if source.is_file() else None,
        "data_folder": os.path.abspath(data_folder) if data_folder else None,
        "multi_label": multi_label,
        "label_separator": label_separator,
        "allowed_labels": sorted(allowed_labels) if allowed_labels else None,
        "split_ratio": list(split_ratio),
        "seed": seed,
        "extensions": list(extensions),
        "on_missing": on_missing,
        "on_corrupt": on_corrupt,
        "min_duration": min_duration,
        "group_column": group_column,
        "wav_column": wav_column,
    }
    opts_file = save / "custom_prepare_opts.json"
    if is_prepared(list(outputs.values()), options, opts_file):
        logger.info("Manifests up to date in %s, skipping", save)
        return outputs

    if manifest is not None:
        base = Path(data_folder) if data_folder else Path(manifest).parent
        items, multi_in = read_input_manifest(
            Path(manifest), base, label_separator, wav_column
        )
    else:
        items, multi_in = (
            read_class_folders(Path(data_folder), extensions),
            False,
        )
    if not items:
        raise DataPreparationError(f"No item found in {source}")
    if multi_label is None:
        multi_label = multi_in

    entries: Dict[str, Dict[str, Any]] = {}
    given_splits: Dict[str, str] = {}
    for key, (item, where) in items.items():
        labels = [
            check_label(lab, allowed_labels, where)
            for lab in item.pop("labels")
        ]
        labels = list(dict.fromkeys(labels))
        if not labels:
            raise DataPreparationError(f"No label in {where}")
        if not multi_label and len(labels) > 1:
            raise DataPreparationError(
                f"Several labels {labels} in {where} but multi_label=False"
            )
        split = item.pop("split", None)
        if split is not None:
            if split not in SPLITS:
                raise DataPreparationError(
                    f"Bad split {split!r} in {where}; use train, valid or test"
                )
            given_splits[key] = split
        entry = {"wav": item.pop("wav")}
        entry.update(
            {"labels": labels} if multi_label else {"label": labels[0]}
        )
        entry.update(item)
        entries[key] = entry
    if given_splits and len(given_splits) != len(entries):
        raise DataPreparationError(
            f"{source}: the split column must be set on every row"
        )

    missing, corrupt = add_durations(
        entries, on_missing, on_corrupt, min_duration=min_duration
    )
    report_problems(missing, save / "missing_files.txt", "missing wavs")
    report_problems(corrupt, save / "corrupt_files.txt", "unusable wavs")
    if not entries:
        raise DataPreparationError(f"No readable audio file listed in {source}")

    if given_splits:
        parts = [[k for k in entries if given_splits[k] == s] for s in SPLITS]
    elif group_column:
        keys = list(entries)
        parts = group_split(
            keys,
            _strata(entries, keys),
            [_group(entries[k], group_column, k, source) for k in keys],
            split_ratio,
            seed,
        )
    else:
        keys = list(entries)
        parts = stratified_split(
            keys, _strata(entries, keys), split_ratio, seed
        )
    splits = {
        name: {k: entries[k] for k in part} for name, part in zip(SPLITS, parts)
    }
    write_splits(splits, save)
    all_labels = {
        lab
        for e in entries.values()
        for lab in e.get("labels", [e.get("label")])
    }
    write_list(sorted(all_labels), save / "labels.txt")
    mark_prepared(options, opts_file)
    return outputs


def _group(entry: Dict[str, Any], column: str, key: str, source) -> str:
    """The group of an entry; raises naming the item if it has none."""
    value = entry.get(column)
    if value is None or str(value).strip() == "":
        raise DataPreparationError(
            f"{source}: item {key!r} has no {column!r} value (group_column)"
        )
    return str(value)


def _strata(entries: Dict[str, dict], keys: List[str]) -> List[str]:
    """Stratum per item: its label, or its rarest label (multi-label)."""
    label_lists = [
        entries[k].get("labels") or [entries[k]["label"]] for k in keys
    ]
    counts = Counter(lab for labels in label_lists for lab in labels)
    return [
        min(labels, key=lambda lab: (counts[lab], lab))
        for labels in label_lists
    ]


def _item_id(wav: str, base: Path) -> str:
    """Default id: wav path relative to ``base`` (posix), no extension; the
    absolute path (without the leading "/") for files outside ``base``."""
    path = Path(wav).resolve()
    try:
        rel = path.relative_to(base.resolve())
    except ValueError:
        rel = Path(*path.parts[1:])
    return rel.with_suffix("").as_posix()


def _split_labels(value: Any, separator: str, where: str) -> List[str]:
    """Labels from a list or a separator-joined string."""
    if isinstance(value, str):
        return [v for v in (s.strip() for s in value.split(separator)) if v]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise DataPreparationError(f"Bad labels {value!r} in {where}")


def _make_item(
    raw: Dict[str, Any],
    where: str,
    base: Path,
    separator: str,
    wav_column: str = "wav",
):
    """Normalises one input row / entry; returns (id, item, multi)."""
    raw = dict(raw)
    wav = raw.pop(wav_column, None)
    if wav is None or wav == "":
        raise DataPreparationError(f"Missing {wav_column!r} in {where}")
    if not isinstance(wav, str):
        raise DataPreparationError(
            f"{wav_column!r} in {where} must be a path (a string), got "
            f"{type(wav).__name__} {wav!r}"
        )
    wav_path = Path(os.path.expandvars(os.path.expanduser(wav.strip())))
    if not wav_path.is_absolute():
        wav_path = base / wav_path
    if "label" in raw and "labels" in raw:
        raise DataPreparationError(f"Both 'label' and 'labels' in {where}")
    if "labels" in raw:
        labels, multi = _split_labels(raw.pop("labels"), separator, where), True
    elif "label" in raw:
        labels, multi = [str(raw.pop("label"))], False
    else:
        raise DataPreparationError(f"Missing 'label' or 'labels' in {where}")
    key = raw.pop("id", None) or _item_id(str(wav_path), base)
    item = {"wav": str(wav_path.resolve()), "labels": labels, **raw}
    if "split" in item and isinstance(item["split"], str):
        item["split"] = item["split"].strip()
    return str(key), item, multi


def read_input_manifest(
    path: Path, base: Path, separator: str = ";", wav_column: str = "wav"
) -> Tuple[Dict[str, Tuple[dict, str]], bool]:
    """Reads a user CSV or JSON manifest.

    Arguments
    ---------
    path : pathlib.Path
        ``.csv`` or ``.json`` file.
    base : pathlib.Path
        Base folder of relative wav paths.
    separator : str
        Separator of a "labels" string.
    wav_column : str
        Column / field of the audio paths.

    Returns
    -------
    items : Dict[str, Tuple[dict, str]]
        id -> (item with "wav", "labels" list, optional "split" and extra
        fields; description of its source for error messages).
    multi : bool
        Whether the input uses "labels".
    """
    if not path.is_file():
        raise DataPreparationError(f"Manifest file not found: {path}")
    rows: Iterable[Tuple[Dict[str, Any], str]]
    if path.suffix.lower() == ".csv":
        rows = _read_csv_rows(path, wav_column)
    elif path.suffix.lower() == ".json":
        rows = _read_json_rows(path)
    else:
        raise DataPreparationError(
            f"Manifest {path} must be a .csv or .json file"
        )
    items: Dict[str, Tuple[dict, str]] = {}
    multi_any = False
    for raw, where in rows:
        key, item, multi = _make_item(raw, where, base, separator, wav_column)
        multi_any = multi_any or multi
        if key in items:
            raise DataPreparationError(
                f"Duplicate id {key!r} in {where} (first in {items[key][1]})"
            )
        items[key] = (item, where)
    return items, multi_any


def _read_csv_rows(path: Path, wav_column: str = "wav"):
    """Yields (row dict, source description) from a CSV manifest."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        if wav_column not in fields or not ({"label", "labels"} & set(fields)):
            raise DataPreparationError(
                f"CSV manifest {path} needs the columns {wav_column!r} and "
                f"'label' or 'labels'; found {fields}"
            )
        reader.fieldnames = fields
        for line, row in enumerate(reader, start=2):
            where = f"{path} line {line}"
            if None in row:
                raise DataPreparationError(f"{where}: more fields than columns")
            yield (
                {
                    k: (v.strip() if v is not None else "")
                    for k, v in row.items()
                },
                where,
            )


def _read_json_rows(path: Path):
    """Yields (entry dict, source description) from a JSON manifest."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as err:
        raise DataPreparationError(f"Invalid JSON manifest {path}: {err}")
    if isinstance(data, dict):
        for key, entry in data.items():
            if not isinstance(entry, dict):
                raise DataPreparationError(
                    f"{path} entry {key!r} is not an object"
                )
            yield {**entry, "id": key}, f"{path} entry {key!r}"
    elif isinstance(data, list):
        for i, entry in enumerate(data):
            if not isinstance(entry, dict):
                raise DataPreparationError(f"{path} item {i} is not an object")
            yield entry, f"{path} item {i}"
    else:
        raise DataPreparationError(
            f"JSON manifest {path} must be a dict or a list"
        )


def read_class_folders(
    root: Path, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> Dict[str, Tuple[dict, str]]:
    """Lists ``<root>/<class>/**/<file>`` audio files, one label each.

    Arguments
    ---------
    root : pathlib.Path
        Folder of class sub-folders.
    extensions : Sequence[str]
        Audio extensions.

    Returns
    -------
    Dict[str, Tuple[dict, str]]
        id (``<class>/<relative path without extension>``) -> (item, the
        file path as source description).
    """
    if not root.is_dir():
        raise DataPreparationError(f"Data folder not found: {root}")
    stray = [
        p.name
        for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in extensions
    ]
    if stray:
        logger.warning(
            "%d audio files directly in %s ignored (no class folder)",
            len(stray),
            root,
        )
    items: Dict[str, Tuple[dict, str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        for path in find_audio_files(folder, extensions):
            if path.name.startswith("."):
                continue
            key = path.relative_to(root).with_suffix("").as_posix()
            if key in items:
                raise DataPreparationError(
                    f"{path} and {items[key][1]} have the same id {key!r}"
                )
            item = {"wav": str(path.resolve()), "labels": [folder.name]}
            items[key] = (item, str(path))
    return items
