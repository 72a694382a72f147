"""Reading and writing audio files for AST (soundfile based).

``load_audio`` reads any format libsndfile supports (WAV, FLAC, OGG, ...)
with ``soundfile`` rather than ``torchaudio.load`` (which needs the optional
torchcodec backend in recent torchaudio releases), averages channels to mono
and resamples with ``torchaudio.functional.resample``.

Authors
 * ast_sb developers 2026
"""

import os
from typing import Optional, Union

import numpy as np
import soundfile as sf
import torch
import torchaudio

from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "AudioLoadError",
    "load_audio",
    "open_audio_file",
    "read_error_message",
    "save_audio",
]

PathLike = Union[str, "os.PathLike[str]"]


class AudioLoadError(AudioSpectrogramTransformerError, ValueError):
    """Raised when an audio file is missing, unreadable, empty or invalid.

    The message always names the offending file.

    Example
    -------
    >>> try:
    ...     load_audio("/nonexistent/clip.wav")
    ... except AudioLoadError as err:
    ...     print(err)
    Audio file not found: /nonexistent/clip.wav

    Arguments
    ---------
    message : str
        The message (naming the file).
    reason : str, optional
        What is wrong, without the file name ("file not found", "is a
        directory", "unreadable or corrupt (...)"), for callers that name
        the file their own way (:class:`ast_sb.dataio.audio_checks.AudioFileError`).
    """

    def __init__(self, message: str, reason: Optional[str] = None):
        super().__init__(message)
        self.reason = reason


def open_audio_file(path: PathLike) -> sf.SoundFile:
    """Opens an audio file for reading, with errors that name the file.

    Arguments
    ---------
    path : str or os.PathLike
        Path of the audio file.

    Returns
    -------
    soundfile.SoundFile
        The open file (use it as a context manager).

    Example
    -------
    >>> path = getfixture("tmpdir") / "clip.wav"
    >>> save_audio(path, torch.zeros(800), 8000)
    >>> with open_audio_file(path) as fin:
    ...     fin.samplerate, fin.frames
    (8000, 800)
    """
    path_str = os.fspath(path)
    if not os.path.exists(path_str):
        raise AudioLoadError(
            f"Audio file not found: {path_str}", "file not found"
        )
    if os.path.isdir(path_str):
        raise AudioLoadError(
            f"Audio path is a directory: {path_str}", "is a directory"
        )
    try:
        return sf.SoundFile(path_str)
    except Exception as err:  # libsndfile / format errors
        message = read_error_message(path_str, err)
        raise AudioLoadError(
            message, f"unreadable or corrupt ({message})"
        ) from err


def read_error_message(path: PathLike, err: Exception) -> str:
    """Message for a file libsndfile could not open, naming the file.

    libsndfile reports an operating-system failure (permission denied, I/O
    error) only as "System error"; the OS error is found by opening the
    file with Python.

    Arguments
    ---------
    path : str or os.PathLike
        The file.
    err : Exception
        The error soundfile raised.

    Returns
    -------
    str
        "Permission denied: cannot read audio file PATH", "Cannot read
        audio file PATH: <OS error>", or "Could not read audio file PATH:
        <decoder error>" when the file itself reads fine.

    Example
    -------
    >>> path = getfixture("tmpdir") / "notes.txt"
    >>> path.write("not audio")
    >>> read_error_message(path, RuntimeError("Format not recognised."))
    'Could not read audio file ...notes.txt: Format not recognised.'
    """
    path_str = os.fspath(path)
    try:
        with open(path_str, "rb") as fin:
            fin.read(1)
    except PermissionError:
        return f"Permission denied: cannot read audio file {path_str}"
    except OSError as os_err:
        return f"Cannot read audio file {path_str}: {os_err.strerror or os_err}"
    return f"Could not read audio file {path_str}: {err}"


def load_audio(
    path: PathLike,
    sample_rate: Optional[int] = 16000,
    start: float = 0.0,
    duration: Optional[float] = None,
) -> torch.Tensor:
    """Loads (part of) an audio file as a mono float32 waveform.

    Multichannel audio is downmixed by averaging the channels; the waveform
    is resampled when the file's rate differs from ``sample_rate``. With
    ``start`` / ``duration`` only that segment is read from disk, so parts
    of very long files are cheap.

    Arguments
    ---------
    path : str or os.PathLike
        Path of the audio file.
    sample_rate : int, optional
        Target sampling rate in Hz; ``None`` keeps the file's rate.
    start : float
        Start of the segment in seconds.
    duration : float, optional
        Length of the segment in seconds (default: to the end of the file).

    Returns
    -------
    torch.Tensor
        Waveform ``[N]``, float32, nominally in [-1, 1].

    Example
    -------
    >>> path = getfixture("tmpdir") / "tone.wav"
    >>> t = torch.arange(44100) / 44100
    >>> save_audio(path, torch.sin(2 * torch.pi * 440 * t) * 0.5, 44100)
    >>> wav = load_audio(path)
    >>> wav.shape, wav.dtype
    (torch.Size([16000]), torch.float32)
    >>> load_audio(path, 16000, start=0.5, duration=0.25).shape
    torch.Size([4000])
    """
    path_str = os.fspath(path)
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    if start < 0 or (duration is not None and duration <= 0):
        raise ValueError(
            f"Invalid segment start={start} duration={duration} of {path_str}"
        )
    with open_audio_file(path_str) as fin:
        file_rate = fin.samplerate
        try:
            first = int(round(start * file_rate))
            if first > 0:
                fin.seek(min(first, fin.frames))
            frames = (
                -1 if duration is None else int(round(duration * file_rate))
            )
            data = fin.read(frames, dtype="float32", always_2d=True)
        except Exception as err:  # libsndfile / format errors
            raise AudioLoadError(
                f"Could not read audio file {path_str}: {err}"
            ) from err
    if data.size == 0 or data.shape[0] == 0:
        where = "" if start == 0 and duration is None else f" from {start} s"
        raise AudioLoadError(
            f"Audio file contains no samples{where}: {path_str}"
        )
    if not np.isfinite(data).all():
        raise AudioLoadError(
            f"Audio file contains NaN or inf samples: {path_str}"
        )
    # [N, C] -> [N]: average the channels.
    wav = torch.from_numpy(np.ascontiguousarray(data)).mean(dim=1)
    if sample_rate is not None and int(file_rate) != int(sample_rate):
        wav = torchaudio.functional.resample(
            wav, int(file_rate), int(sample_rate)
        )
    return wav.contiguous()


def save_audio(
    path: PathLike,
    wav: Union[torch.Tensor, np.ndarray],
    sample_rate: int,
    subtype: Optional[str] = None,
) -> None:
    """Writes a waveform to an audio file with soundfile.

    Parent directories are created. The format follows the file extension.

    Arguments
    ---------
    path : str or os.PathLike
        Output path (e.g. ``clip.wav`` or ``clip.flac``).
    wav : torch.Tensor or numpy.ndarray
        Waveform ``[N]`` (mono) or ``[C, N]`` (channels first, like
        ``torchaudio.save``), float in [-1, 1].
    sample_rate : int
        Sampling rate in Hz.
    subtype : str, optional
        soundfile subtype, e.g. "PCM_16" (default for WAV) or "FLOAT"
        (lossless float32).

    Example
    -------
    >>> path = getfixture("tmpdir") / "sub" / "noise.wav"
    >>> save_audio(path, torch.rand(2, 8000) - 0.5, 16000, subtype="FLOAT")
    >>> load_audio(path).shape
    torch.Size([8000])
    """
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().cpu().float().numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.T  # [C, N] -> [N, C] for soundfile
    elif wav.ndim != 1:
        raise ValueError(
            f"wav must be [N] or [C, N], got shape {tuple(wav.shape)}"
        )
    if not np.isfinite(wav).all():
        raise ValueError("wav contains NaN or inf samples")
    path_str = os.fspath(path)
    parent = os.path.dirname(path_str)
    if parent:
        os.makedirs(parent, exist_ok=True)
    sf.write(path_str, wav, int(sample_rate), subtype=subtype)
