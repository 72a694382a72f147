"""Manifests and lists written by the data preparations, and their
skip-if-already-prepared logic.

Every recipe writes the same manifest format: a JSON dict
``id -> {"wav": path, "duration": float, "label": str}`` (single-label) or
``id -> {"wav": path, "duration": float, "labels": [str, ...]}``
(multi-label), plus optional recipe-specific fields (``speaker``,
``session``, ``fold``, ``weight``, ...). Paths are absolute.
:func:`write_manifest` / :func:`read_manifest`, :func:`write_list`,
:func:`write_splits` and :func:`report_problems` write them;
:func:`is_prepared` / :func:`mark_prepared` skip a preparation whose
options (hashed by :func:`options_hash`) and outputs are unchanged.

Authors
 * ast_sb developers 2026
"""

import hashlib
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Sequence, Union

__all__ = [
    "MANIFEST_FORMAT_VERSION",
    "is_prepared",
    "log_manifest_summary",
    "manifest_paths",
    "mark_prepared",
    "options_hash",
    "read_manifest",
    "report_problems",
    "write_list",
    "write_manifest",
    "write_splits",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
Manifest = Dict[str, Dict[str, Any]]

#: Bumped when the manifest format changes, so old manifests are redone.
MANIFEST_FORMAT_VERSION = 1


def manifest_paths(
    save_folder: PathLike, splits: Sequence[str] = ("train", "valid", "test")
) -> Dict[str, str]:
    """The manifest path of each split: ``<save_folder>/<split>.json``.

    Arguments
    ---------
    save_folder : str or os.PathLike
        Folder of the manifests.
    splits : Sequence[str]
        Split names.

    Returns
    -------
    dict
        Split -> manifest path.

    Example
    -------
    >>> manifest_paths("/data/prep")["valid"]
    '/data/prep/valid.json'
    """
    return {split: str(Path(save_folder) / f"{split}.json") for split in splits}


def write_manifest(entries: Mapping[str, Mapping[str, Any]], path: PathLike):
    """Writes a manifest (id -> fields) as JSON, atomically.

    The parent folder is created; the file is written to a temporary name
    and moved into place, so an interrupted run never leaves a truncated
    manifest.

    Arguments
    ---------
    entries : Mapping[str, Mapping[str, Any]]
        The manifest.
    path : str or os.PathLike
        Output JSON path.

    Example
    -------
    >>> path = getfixture("tmpdir") / "out" / "train.json"
    >>> write_manifest({"a": {"wav": "/a.wav", "duration": 1.0}}, path)
    >>> read_manifest(path)
    {'a': {'wav': '/a.wav', 'duration': 1.0}}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def read_manifest(path: PathLike) -> Manifest:
    """Reads a JSON manifest written by :func:`write_manifest`.

    Arguments
    ---------
    path : str or os.PathLike
        JSON manifest path.

    Returns
    -------
    Dict[str, Dict[str, Any]]
        The manifest.

    Example
    -------
    >>> path = getfixture("tmpdir") / "m.json"
    >>> write_manifest({}, path)
    >>> read_manifest(path)
    {}
    """
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_list(items: Iterable[str], path: PathLike):
    """Writes one item per line (e.g. a report of missing files).

    Arguments
    ---------
    items : Iterable[str]
        Lines to write.
    path : str or os.PathLike
        Output text file (parent folder is created).

    Example
    -------
    >>> path = getfixture("tmpdir") / "missing.txt"
    >>> write_list(["a", "b"], path)
    >>> path.read_text("utf-8")
    'a\\nb\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(f"{item}\n")


def write_splits(
    splits: Mapping[str, Mapping[str, Mapping[str, Any]]],
    save_folder: PathLike,
) -> Dict[str, str]:
    """Writes ``<save_folder>/<split>.json`` for each split and logs a
    summary of each.

    Arguments
    ---------
    splits : Mapping[str, Manifest]
        Split name (e.g. "train") -> manifest.
    save_folder : str or os.PathLike
        Output folder.

    Returns
    -------
    Dict[str, str]
        Split name -> manifest path.

    Example
    -------
    >>> paths = write_splits({"train": {}}, getfixture("tmpdir"))
    >>> os.path.basename(paths["train"])
    'train.json'
    """
    paths = {}
    for name, manifest in splits.items():
        paths[name] = os.path.join(os.fspath(save_folder), f"{name}.json")
        write_manifest(manifest, paths[name])
        log_manifest_summary(name, manifest)
    return paths


def report_problems(
    problems: Mapping[str, str], path: PathLike, what: str = "files"
):
    """Writes ``id<TAB>detail`` lines to ``path`` and logs a warning.

    The report is always written (empty when there is no problem), so a
    stale report of an earlier run never survives.

    Arguments
    ---------
    problems : Mapping[str, str]
        id -> detail (path or error message).
    path : str or os.PathLike
        Report file.
    what : str
        Description used in the log message, e.g. "missing clips".

    Example
    -------
    >>> path = getfixture("tmpdir") / "missing.txt"
    >>> report_problems({"a": "/a.wav"}, path, "missing files")
    >>> path.read_text("utf-8")
    'a\\t/a.wav\\n'
    """
    write_list((f"{key}\t{detail}" for key, detail in problems.items()), path)
    if problems:
        shown = ", ".join(list(problems)[:5])
        logger.warning(
            "%d %s skipped (%s%s); list written to %s",
            len(problems),
            what,
            shown,
            ", ..." if len(problems) > 5 else "",
            path,
        )


def _jsonable(value: Any) -> Any:
    """Converts options to a canonical JSON-compatible structure."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def options_hash(options: Mapping[str, Any]) -> str:
    """Stable SHA-256 hex digest of preparation options.

    Arguments
    ---------
    options : Mapping[str, Any]
        Options (JSON-like values; paths, tuples and sets are normalised).

    Returns
    -------
    str
        64-character hex digest, independent of key order.

    Example
    -------
    >>> options_hash({"a": 1, "b": (1, 2)}) == options_hash({"b": [1, 2], "a": 1})
    True
    >>> options_hash({"a": 1}) == options_hash({"a": 2})
    False
    """
    payload = {
        "options": _jsonable(options),
        "format_version": MANIFEST_FORMAT_VERSION,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_prepared(
    output_files: Sequence[PathLike],
    options: Mapping[str, Any],
    options_file: PathLike,
) -> bool:
    """Tells whether a preparation can be skipped.

    It can when every output file exists and ``options_file`` (written by
    :func:`mark_prepared` at the end of the last successful run) stores the
    hash of the same options. Otherwise a stale ``options_file`` is removed,
    so that a run interrupted from now on is never mistaken for a finished
    one.

    Arguments
    ---------
    output_files : Sequence[str or os.PathLike]
        Files the preparation writes (manifests, label lists, ...).
    options : Mapping[str, Any]
        The options of this run (everything that changes the outputs).
    options_file : str or os.PathLike
        JSON file holding the options and their hash.

    Returns
    -------
    bool
        True if the outputs are up to date.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> out, opts = tmp / "train.json", tmp / "opts.json"
    >>> is_prepared([out], {"seed": 1}, opts)
    False
    >>> write_manifest({}, out)
    >>> mark_prepared({"seed": 1}, opts)
    >>> is_prepared([out], {"seed": 1}, opts)
    True
    >>> is_prepared([out], {"seed": 2}, opts)
    False
    >>> os.path.exists(opts)
    False
    """
    options_file = Path(options_file)
    expected = options_hash(options)
    stored = None
    if options_file.is_file():
        try:
            with open(options_file, encoding="utf-8") as f:
                stored = json.load(f).get("hash")
        except (OSError, ValueError, AttributeError):
            stored = None
    missing = [os.fspath(p) for p in output_files if not os.path.isfile(p)]
    if stored == expected and not missing:
        return True
    if stored is not None and stored != expected:
        logger.info(
            "Preparation options changed since %s was written; preparing again",
            options_file,
        )
    elif stored is not None and missing:
        logger.info("Output files missing (%s); preparing again", missing)
    if options_file.exists():
        options_file.unlink()
    return False


def mark_prepared(options: Mapping[str, Any], options_file: PathLike):
    """Records that the outputs of ``options`` are complete (see
    :func:`is_prepared`). Call it after every output file is written.

    Arguments
    ---------
    options : Mapping[str, Any]
        The options of this run.
    options_file : str or os.PathLike
        JSON file receiving the options and their hash.

    Example
    -------
    >>> path = getfixture("tmpdir") / "opts.json"
    >>> mark_prepared({"seed": 1}, path)
    >>> sorted(json.loads(path.read_text("utf-8")))
    ['hash', 'options']
    """
    record = {"hash": options_hash(options), "options": _jsonable(options)}
    path = Path(options_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def log_manifest_summary(name: str, manifest: Mapping[str, Mapping[str, Any]]):
    """Logs the size, total duration and label counts of a manifest.

    Arguments
    ---------
    name : str
        Split name used in the log line.
    manifest : Mapping[str, Mapping[str, Any]]
        The manifest.

    Example
    -------
    >>> log_manifest_summary("train", {"a": {"duration": 1.0, "label": "x"}})
    """
    counts: Counter = Counter()
    for entry in manifest.values():
        if "labels" in entry:
            counts.update(entry["labels"])
        elif "label" in entry:
            counts[entry["label"]] += 1
    hours = sum(e.get("duration", 0.0) for e in manifest.values()) / 3600
    logger.info(
        "%s: %d items, %.2f h, %d labels %s",
        name,
        len(manifest),
        hours,
        len(counts),
        dict(counts.most_common(10)),
    )
