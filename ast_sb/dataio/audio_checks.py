"""Checking the audio files of a data preparation, with errors naming them.

Every ``*_prepare.py`` script reads the durations of its clips and checks
that each file is usable (decoded, finite samples, not too short) before a
manifest lists it: :func:`read_duration`, :func:`check_audio_file`,
:func:`check_audio_files`, :func:`add_durations` (with "raise" / "skip"
policies, :func:`check_policy`) and :func:`find_audio_files`. Files are
opened with :func:`ast_sb.dataio.audio.open_audio_file`, so preparation and
training report a missing or unreadable file the same way.

Authors
 * ast_sb developers 2026
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

from ast_sb.dataio.audio import AudioLoadError, open_audio_file
from ast_sb.errors import DataPreparationError

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFileError",
    "MIN_DURATION",
    "add_durations",
    "check_audio_file",
    "check_audio_files",
    "check_policy",
    "find_audio_files",
    "read_duration",
]

PathLike = Union[str, "os.PathLike[str]"]
Manifest = Dict[str, Dict[str, Any]]


#: Audio file extensions searched by default (lower case, with the dot).
AUDIO_EXTENSIONS = (".wav", ".flac")


#: Shortest clip accepted by default (seconds): one 25 ms fbank frame.
MIN_DURATION = 0.025


#: Frames decoded at a time by :func:`check_audio_file`.
DECODE_BLOCK = 1 << 16


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
    >>> import soundfile as sf
    >>> import numpy as np
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> sf.write(path, np.zeros(8000, dtype="float32"), 16000)
    >>> read_duration(path)
    0.5
    >>> read_duration(str(getfixture("tmpdir") / "missing.wav"))
    Traceback (most recent call last):
    ...
    ast_sb.dataio.audio_checks.AudioFileError: Audio file ...missing.wav: file not found
    """
    try:
        with open_audio_file(path) as fin:
            frames, rate = fin.frames, fin.samplerate
    except AudioLoadError as err:
        raise AudioFileError(path, err.reason or str(err)) from err
    if frames <= 0 or rate <= 0:
        raise AudioFileError(path, "contains no audio samples")
    return frames / rate


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
    >>> import numpy as np
    >>> import soundfile as sf
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
    ast_sb.dataio.audio_checks.AudioFileError: Audio file ...nan.wav: contains NaN or inf samples (first at 0.0500 s)
    >>> sf.write(str(tmp / "short.wav"), wav[:1], 16000)
    >>> check_audio_file(str(tmp / "short.wav"))
    Traceback (most recent call last):
    ...
    ast_sb.dataio.audio_checks.AudioFileError: Audio file ...short.wav: is 0.0001 s long, shorter than min_duration=0.025 s
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
        with open_audio_file(path) as fin:
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
    >>> import soundfile as sf
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
    >>> import soundfile as sf
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
    ast_sb.dataio.audio_checks.AudioFileError: Audio file /x/gone.wav: file not found
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
