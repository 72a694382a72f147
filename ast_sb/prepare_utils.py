"""Shared helpers for the data-preparation scripts of the ast_sb recipes.

Every recipe writes the same manifest format: a JSON dict
``id -> {"wav": path, "duration": float, "label": str}`` (single-label) or
``id -> {"wav": path, "duration": float, "labels": [str, ...]}``
(multi-label), plus optional recipe-specific fields (``speaker``,
``session``, ``fold``, ``weight``, ...). Paths are absolute.

This module holds everything the ``*_prepare.py`` scripts have in common:

- reading durations and validating audio files (decoded, finite samples,
  not too short) with errors that name the file (:func:`read_duration`,
  :func:`check_audio_file`, :func:`check_audio_files`);
- writing / reading manifests and plain lists (:func:`write_manifest`,
  :func:`read_manifest`, :func:`write_list`);
- skip-if-already-prepared logic keyed on a hash of the preparation options
  (:func:`is_prepared`, :func:`mark_prepared`);
- deterministic (stratified) splits and leakage checks
  (:func:`stratified_split`, :func:`check_disjoint`);
- label validation (:func:`check_label`) and the AudioSet-style balanced
  sampling weights (:func:`balanced_sample_weights`).

Authors
 * ast_sb developers 2026
"""

import hashlib
import json
import logging
import os
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import soundfile as sf

from ast_sb.audio import read_error_message
from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFileError",
    "DataPreparationError",
    "UnknownLabelError",
    "add_durations",
    "balanced_sample_weights",
    "check_audio_file",
    "check_audio_files",
    "check_disjoint",
    "check_label",
    "check_policy",
    "find_audio_files",
    "is_prepared",
    "log_manifest_summary",
    "manifest_paths",
    "mark_prepared",
    "options_hash",
    "read_duration",
    "read_manifest",
    "report_problems",
    "stratified_split",
    "write_list",
    "write_manifest",
    "write_splits",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
Manifest = Dict[str, Dict[str, Any]]

#: Audio file extensions searched by default (lower case, with the dot).
AUDIO_EXTENSIONS = (".wav", ".flac")

#: Shortest clip accepted by default (seconds): one 25 ms fbank frame.
MIN_DURATION = 0.025

#: Frames decoded at a time by :func:`check_audio_file`.
DECODE_BLOCK = 1 << 16

#: Bumped when the manifest format changes, so old manifests are redone.
MANIFEST_FORMAT_VERSION = 1


class DataPreparationError(AudioSpectrogramTransformerError, ValueError):
    """Base class of the data-preparation errors (bad layout, bad values).

    Example
    -------
    >>> raise DataPreparationError("bad layout")
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.DataPreparationError: bad layout
    """


class AudioFileError(DataPreparationError):
    """An audio file is missing, unreadable or empty; names the file.

    Arguments
    ---------
    path : str or os.PathLike
        The offending file.
    reason : str
        What is wrong with it.

    Example
    -------
    >>> err = AudioFileError("/data/a.wav", "file not found")
    >>> print(err)
    Audio file /data/a.wav: file not found
    >>> err.path, err.reason
    ('/data/a.wav', 'file not found')
    """

    def __init__(self, path: PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"Audio file {self.path}: {reason}")


class UnknownLabelError(DataPreparationError):
    """A label is not in the allowed label set; names label and source.

    Arguments
    ---------
    label : str
        The unknown label.
    source : str
        Where it was found (file, CSV row, ...).
    allowed : Iterable[str], optional
        The allowed labels, listed in the message (first 20).

    Example
    -------
    >>> print(UnknownLabelError("bird", "meta.csv line 3", ["cat", "dog"]))
    Unknown label 'bird' in meta.csv line 3 (allowed: 'cat', 'dog')
    """

    def __init__(
        self, label: str, source: str, allowed: Optional[Iterable[str]] = None
    ):
        self.label = label
        self.source = source
        msg = f"Unknown label {label!r} in {source}"
        if allowed is not None:
            allowed = sorted(allowed)
            shown = ", ".join(repr(a) for a in allowed[:20])
            more = f", ... ({len(allowed)} in all)" if len(allowed) > 20 else ""
            msg += f" (allowed: {shown}{more})"
        super().__init__(msg)


def check_policy(name: str, value: str) -> str:
    """Validates an error policy argument ("raise" or "skip").

    Arguments
    ---------
    name : str
        Argument name, used in the error message.
    value : str
        The value to check.

    Returns
    -------
    str
        ``value`` unchanged.

    Example
    -------
    >>> check_policy("on_missing", "skip")
    'skip'
    >>> check_policy("on_missing", "ignore")
    Traceback (most recent call last):
    ...
    ValueError: on_missing must be 'raise' or 'skip', got 'ignore'
    """
    if value not in ("raise", "skip"):
        raise ValueError(f"{name} must be 'raise' or 'skip', got {value!r}")
    return value


def read_duration(path: PathLike) -> float:
    """Returns the duration in seconds of an audio file (header only).

    Arguments
    ---------
    path : str or os.PathLike
        Audio file (any format libsndfile reads).

    Returns
    -------
    float
        Duration in seconds.

    Raises
    ------
    AudioFileError
        If the file is missing, unreadable or contains no samples.

    Example
    -------
    >>> import numpy as np
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> sf.write(path, np.zeros(8000, dtype="float32"), 16000)
    >>> read_duration(path)
    0.5
    >>> read_duration(str(getfixture("tmpdir") / "missing.wav"))
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.AudioFileError: Audio file ...missing.wav: file not found
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "file not found"
        raise AudioFileError(path, reason)
    try:
        info = sf.info(path)
    except Exception as err:  # libsndfile raises several error types
        raise AudioFileError(
            path, f"unreadable or corrupt ({read_error_message(path, err)})"
        ) from err
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioFileError(path, "contains no audio samples")
    return info.frames / info.samplerate


def check_audio_file(
    path: PathLike,
    decode_check: bool = True,
    min_duration: float = MIN_DURATION,
) -> float:
    """Returns the duration of an audio file after checking that it is usable.

    The header is read (:func:`read_duration`); with ``decode_check`` the
    whole file is decoded block by block (bounded memory) and every sample
    must be finite, so a file that only fails when it is loaded (a NaN in a
    float WAV, a damaged FLAC frame) is found at preparation, not in the
    middle of training. Files shorter than ``min_duration`` are rejected.

    Arguments
    ---------
    path : str or os.PathLike
        Audio file.
    decode_check : bool
        Decode the samples (else the header only).
    min_duration : float
        Shortest accepted duration in seconds (0 accepts any non-empty file).

    Returns
    -------
    float
        Duration in seconds.

    Raises
    ------
    AudioFileError
        Naming the file: missing, unreadable, empty, not decodable, NaN /
        inf samples, or too short.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> wav = np.zeros(1600, "float32")
    >>> sf.write(str(tmp / "ok.wav"), wav, 16000, subtype="FLOAT")
    >>> check_audio_file(str(tmp / "ok.wav"))
    0.1
    >>> wav[800] = np.nan
    >>> sf.write(str(tmp / "nan.wav"), wav, 16000, subtype="FLOAT")
    >>> check_audio_file(str(tmp / "nan.wav"))
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.AudioFileError: Audio file ...nan.wav: contains NaN or inf samples (first at 0.0500 s)
    >>> sf.write(str(tmp / "short.wav"), wav[:1], 16000)
    >>> check_audio_file(str(tmp / "short.wav"))
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.AudioFileError: Audio file ...short.wav: is 0.0001 s long, shorter than min_duration=0.025 s
    """
    duration = read_duration(path)
    if duration < min_duration:
        raise AudioFileError(
            path,
            f"is {duration:.4f} s long, shorter than "
            f"min_duration={min_duration} s",
        )
    if not decode_check:
        return duration
    position, rate = 0, 1
    try:
        with sf.SoundFile(os.fspath(path)) as fin:
            rate = fin.samplerate
            for block in fin.blocks(
                blocksize=DECODE_BLOCK, dtype="float32", always_2d=True
            ):
                finite = np.isfinite(block).all(axis=1)
                if not finite.all():
                    first = position + int(np.argmin(finite))
                    raise AudioFileError(
                        path,
                        f"contains NaN or inf samples (first at "
                        f"{first / rate:.4f} s)",
                    )
                position += block.shape[0]
    except AudioFileError:
        raise
    except Exception as err:  # libsndfile decoding errors
        raise AudioFileError(
            path, f"does not decode after {position / rate:.4f} s ({err})"
        ) from err
    if position == 0:
        raise AudioFileError(path, "contains no audio samples")
    return duration


def check_audio_files(
    files: Mapping[str, PathLike],
    on_error: str = "raise",
    num_workers: int = 1,
    decode_check: bool = True,
    min_duration: float = MIN_DURATION,
) -> Tuple[Dict[str, float], Dict[str, str]]:
    """Reads the durations of many audio files, handling bad files.

    Each file is checked with :func:`check_audio_file` (decoded, finite,
    at least ``min_duration`` long).

    Arguments
    ---------
    files : Mapping[str, str or os.PathLike]
        Map of id -> audio path.
    on_error : str
        "raise": raise :class:`AudioFileError` for the first bad file (in
        the order of ``files``); "skip": collect the bad files and go on.
    num_workers : int
        Threads used to read the files (helps on network file systems).
    decode_check : bool
        Decode every file and check its samples are finite (else read the
        headers only).
    min_duration : float
        Shortest accepted file (seconds).

    Returns
    -------
    durations : Dict[str, float]
        id -> duration (seconds) of the good files, in input order.
    failures : Dict[str, str]
        id -> error message of the bad files (empty with "raise").

    Example
    -------
    >>> import numpy as np
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "ok.wav"), np.zeros(1600, "float32"), 16000)
    >>> _ = (tmp / "bad.wav").write_binary(b"not audio")
    >>> files = {"ok": tmp / "ok.wav", "bad": tmp / "bad.wav"}
    >>> durations, failures = check_audio_files(files, on_error="skip")
    >>> durations
    {'ok': 0.1}
    >>> list(failures)
    ['bad']
    """
    check_policy("on_error", on_error)
    ids = list(files)

    def _one(key):
        try:
            duration = check_audio_file(files[key], decode_check, min_duration)
            return duration, None
        except AudioFileError as err:
            return None, err

    if num_workers > 1 and len(ids) > 1:
        with ThreadPoolExecutor(max_workers=num_workers) as pool:
            results = list(pool.map(_one, ids))
    else:
        results = [_one(key) for key in ids]

    durations, failures = {}, {}
    for key, (duration, err) in zip(ids, results):
        if err is None:
            durations[key] = duration
        elif on_error == "raise":
            raise err
        else:
            failures[key] = str(err)
    return durations, failures


def add_durations(
    entries: Dict[str, Dict[str, Any]],
    on_missing: str = "raise",
    on_corrupt: str = "raise",
    num_workers: int = 1,
    decode_check: bool = True,
    min_duration: float = MIN_DURATION,
) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Sets ``duration`` of manifest entries from their ``wav`` files.

    Entries whose file is missing or unreadable either raise
    :class:`AudioFileError` (naming the file) or are removed from
    ``entries`` and returned, according to the policies.

    Arguments
    ---------
    entries : Dict[str, Dict[str, Any]]
        Manifest entries with a "wav" field; modified in place.
    on_missing : str
        "raise" or "skip" for files that do not exist.
    on_corrupt : str
        "raise" or "skip" for files that exist but are unusable: cannot be
        read or decoded, hold NaN / inf samples (``decode_check``), or are
        shorter than ``min_duration``.
    num_workers : int
        Threads used to read the audio files.
    decode_check : bool
        Decode every file and check its samples (see
        :func:`check_audio_file`); False reads the headers only.
    min_duration : float
        Shortest accepted file (seconds).

    Returns
    -------
    missing : Dict[str, str]
        id -> path of the removed missing files.
    corrupt : Dict[str, str]
        id -> error message of the removed unreadable files.

    Example
    -------
    >>> import numpy as np
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "ok.wav"), np.zeros(800, "float32"), 16000)
    >>> entries = {
    ...     "ok": {"wav": str(tmp / "ok.wav")},
    ...     "gone": {"wav": str(tmp / "gone.wav")},
    ... }
    >>> missing, corrupt = add_durations(entries, on_missing="skip")
    >>> entries["ok"]["duration"], list(entries), list(missing)
    (0.05, ['ok'], ['gone'])
    >>> add_durations({"gone": {"wav": "/x/gone.wav"}})
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.AudioFileError: Audio file /x/gone.wav: file not found
    """
    check_policy("on_missing", on_missing)
    check_policy("on_corrupt", on_corrupt)
    missing = {}
    for key, entry in entries.items():
        if not os.path.isfile(entry["wav"]):
            if on_missing == "raise":
                raise AudioFileError(entry["wav"], "file not found")
            missing[key] = os.fspath(entry["wav"])
    for key in missing:
        del entries[key]
    files = {key: entry["wav"] for key, entry in entries.items()}
    durations, corrupt = check_audio_files(
        files, on_corrupt, num_workers, decode_check, min_duration
    )
    for key in corrupt:
        del entries[key]
    for key, duration in durations.items():
        entries[key]["duration"] = duration
    return missing, corrupt


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


def find_audio_files(
    root: PathLike,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    recursive: bool = True,
) -> List[Path]:
    """Lists the audio files under a folder, sorted by path.

    Arguments
    ---------
    root : str or os.PathLike
        Folder to search.
    extensions : Sequence[str]
        Accepted extensions (case-insensitive, with the dot).
    recursive : bool
        Whether to search sub-folders.

    Returns
    -------
    List[pathlib.Path]
        Sorted audio file paths.

    Example
    -------
    >>> tmp = Path(getfixture("tmpdir"))
    >>> (tmp / "sub").mkdir()
    >>> for name in ["sub/b.WAV", "a.flac", "c.txt"]:
    ...     _ = (tmp / name).write_bytes(b"")
    >>> [p.relative_to(tmp).as_posix() for p in find_audio_files(tmp)]
    ['a.flac', 'sub/b.WAV']
    """
    root = Path(root)
    if not root.is_dir():
        raise DataPreparationError(f"Audio folder not found: {root}")
    exts = {e.lower() for e in extensions}
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in root.glob(pattern)
        if p.suffix.lower() in exts and p.is_file()
    )


def check_label(
    label: str, allowed: Optional[Iterable[str]], source: str
) -> str:
    """Checks that a label is non-empty and (optionally) in an allowed set.

    Arguments
    ---------
    label : str
        Label to check (surrounding white space is stripped).
    allowed : Iterable[str], optional
        Allowed labels; ``None`` accepts any non-empty label.
    source : str
        Where the label comes from (named in the error message).

    Returns
    -------
    str
        The stripped label.

    Example
    -------
    >>> check_label(" dog ", {"dog", "cat"}, "a.csv line 2")
    'dog'
    >>> check_label("cow", {"dog", "cat"}, "a.csv line 3")
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.UnknownLabelError: Unknown label 'cow' in a.csv line 3 (allowed: 'cat', 'dog')
    """
    label = label.strip()
    if not label:
        raise DataPreparationError(f"Empty label in {source}")
    if allowed is not None:
        allowed = set(allowed)
        if label not in allowed:
            raise UnknownLabelError(label, source, allowed)
    return label


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


def _split_sizes(n: int, ratios: Sequence[float]) -> List[int]:
    """Sizes of consecutive parts of ``n`` items by cumulative rounding."""
    total = float(sum(ratios))
    sizes, previous, cumulative = [], 0, 0.0
    for ratio in ratios:
        cumulative += ratio
        boundary = int(round(n * cumulative / total))
        sizes.append(boundary - previous)
        previous = boundary
    return sizes


def stratified_split(
    ids: Sequence[str],
    strata: Optional[Sequence[str]],
    ratios: Sequence[float],
    seed: int = 1234,
) -> List[List[str]]:
    """Deterministic random split of ids, stratified by a key.

    Inside each stratum the ids are sorted, shuffled with ``seed`` and cut
    into consecutive parts with sizes ``round(n * cumulative ratio)``, so
    every part gets (up to rounding) its share of each stratum. A stratum
    with a single item goes to the first part.

    Arguments
    ---------
    ids : Sequence[str]
        Items to split (unique).
    strata : Sequence[str], optional
        Stratum of each id (e.g. its class); ``None`` for a plain random
        split.
    ratios : Sequence[float]
        Relative part sizes, e.g. ``(0.8, 0.1, 0.1)``; need not sum to 1.
    seed : int
        Random seed.

    Returns
    -------
    List[List[str]]
        One sorted list of ids per ratio.

    Example
    -------
    >>> ids = [f"{c}{i}" for c in "ab" for i in range(10)]
    >>> train, valid, test = stratified_split(
    ...     ids, [i[0] for i in ids], (0.8, 0.1, 0.1), seed=0
    ... )
    >>> len(train), len(valid), len(test)
    (16, 2, 2)
    >>> sorted(i[0] for i in test)
    ['a', 'b']
    """
    if len(ratios) == 0 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"ratios must be >= 0 with a positive sum: {ratios}")
    if strata is None:
        strata = [""] * len(ids)
    if len(strata) != len(ids):
        raise ValueError("ids and strata must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    groups: Dict[str, List[str]] = defaultdict(list)
    for key, stratum in zip(ids, strata):
        groups[stratum].append(key)
    parts: List[List[str]] = [[] for _ in ratios]
    rng = random.Random(seed)
    for stratum in sorted(groups):
        members = sorted(groups[stratum])
        rng.shuffle(members)
        start = 0
        for part, size in zip(parts, _split_sizes(len(members), ratios)):
            part.extend(members[start : start + size])
            start += size
    return [sorted(part) for part in parts]


def check_disjoint(
    splits: Mapping[str, Mapping[str, Mapping[str, Any]]], field: str
):
    """Checks that no value of ``field`` occurs in two splits (leakage).

    Arguments
    ---------
    splits : Mapping[str, Manifest]
        Split name -> manifest.
    field : str
        Entry field that must not be shared (e.g. "speaker", "actor").

    Raises
    ------
    DataPreparationError
        Naming the shared values and the splits.

    Example
    -------
    >>> train = {"u1": {"speaker": "s1"}}
    >>> test = {"u2": {"speaker": "s1"}}
    >>> check_disjoint({"train": train, "test": {}}, "speaker")
    >>> check_disjoint({"train": train, "test": test}, "speaker")
    Traceback (most recent call last):
    ...
    ast_sb.prepare_utils.DataPreparationError: speaker values shared by splits train and test: ['s1']
    """
    values = {
        name: {entry[field] for entry in manifest.values()}
        for name, manifest in splits.items()
    }
    names = list(values)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = values[first] & values[second]
            if shared:
                raise DataPreparationError(
                    f"{field} values shared by splits {first} and {second}: "
                    f"{sorted(shared)[:20]}"
                )


def balanced_sample_weights(
    label_lists: Sequence[Sequence[str]],
    numerator: float = 1000.0,
    smoothing: float = 0.01,
) -> List[float]:
    """Per-sample weights for class-balanced sampling (original AST).

    As in AST's ``gen_weight_file.py``: each label gets the weight
    ``numerator / (count + smoothing)`` (``count`` = number of samples with
    the label) and a sample's weight is the sum of its labels' weights.
    Use them with ``torch.utils.data.WeightedRandomSampler`` (or
    SpeechBrain's ``ReproducibleWeightedRandomSampler``).

    Arguments
    ---------
    label_lists : Sequence[Sequence[str]]
        Labels of each sample (a single-label sample is a 1-item list).
        Repeated labels within a sample count once.
    numerator : float
        Numerator of the label weight.
    smoothing : float
        Added to the label count.

    Returns
    -------
    List[float]
        One weight per sample.

    Example
    -------
    >>> w = balanced_sample_weights([["a"], ["a", "b"], ["a"]])
    >>> [round(x, 3) for x in w]
    [332.226, 1322.325, 332.226]
    """
    counts = Counter(label for labels in label_lists for label in set(labels))
    label_weight = {k: numerator / (c + smoothing) for k, c in counts.items()}
    return [
        float(sum(label_weight[label] for label in sorted(set(labels))))
        for labels in label_lists
    ]


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
