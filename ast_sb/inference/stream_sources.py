"""Audio stream sources for real-time tagging (``ast-sb stream``).

float32 mono chunks, as they arrive, from raw PCM (``s16le`` or ``f32le``,
interleaved channels) or a WAV stream on stdin or in a file
(:func:`pcm_chunks`, :func:`read_wav_header`), a file that is still being
written (:func:`follow_file`), a finished audio file (:func:`file_chunks`)
and a microphone through the optional ``sounddevice`` package
(:func:`microphone_chunks`); :func:`open_source` picks one from command
line options. :class:`StreamResampler` resamples a stream as one signal.

Authors
 * ast_sb developers 2026
"""

import math
import os
import queue
import struct
import time
from typing import Any, BinaryIO, Iterator, Optional, Tuple

import numpy as np
import torch

from ast_sb.dataio.audio import AudioLoadError

__all__ = [
    "PCM_FORMATS",
    "PcmDecoder",
    "StreamResampler",
    "file_chunks",
    "follow_file",
    "microphone_chunks",
    "open_source",
    "pcm_chunks",
    "read_wav_header",
]

#: Raw PCM sample formats: numpy dtype and full scale.
PCM_FORMATS = {"s16le": ("<i2", 32768.0), "f32le": ("<f4", 1.0)}


class PcmDecoder:
    """Raw interleaved PCM bytes to float32 mono samples, in any pieces.

    Bytes of an incomplete sample frame are kept for the next call.

    Arguments
    ---------
    fmt : str
        ``"s16le"`` (16-bit signed, little-endian) or ``"f32le"`` (32-bit
        float, little-endian).
    channels : int
        Interleaved channels (averaged to mono).

    Example
    -------
    >>> dec = PcmDecoder("s16le", channels=2)
    >>> data = np.array([16384, 0, -32768, 0], "<i2").tobytes()
    >>> dec.decode(data[:5]).tolist(), dec.decode(data[5:]).tolist()
    ([0.25], [-0.5])
    """

    def __init__(self, fmt: str = "s16le", channels: int = 1):
        if fmt not in PCM_FORMATS:
            raise ValueError(
                f"Unknown PCM format {fmt!r}; expected one of "
                f"{sorted(PCM_FORMATS)}"
            )
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.dtype, self.scale = PCM_FORMATS[fmt]
        self.channels = int(channels)
        self.frame_bytes = np.dtype(self.dtype).itemsize * self.channels
        self._rest = b""

    def decode(self, data: bytes) -> np.ndarray:
        """Decodes the next bytes.

        Arguments
        ---------
        data : bytes
            Any number of bytes.

        Returns
        -------
        numpy.ndarray
            float32 mono samples of the complete frames received so far.
        """
        data = self._rest + data
        usable = len(data) - len(data) % self.frame_bytes
        self._rest = data[usable:]
        samples = np.frombuffer(data[:usable], dtype=self.dtype)
        samples = samples.astype(np.float32) / np.float32(self.scale)
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels).mean(axis=1)
        return samples.astype(np.float32, copy=False)


def read_wav_header(
    stream: BinaryIO, name: str = "stream"
) -> Tuple[int, int, str]:
    """Reads a WAV header up to the start of its sample data.

    The data size in the header is ignored (a recorder writing the file
    has not filled it in yet): the samples run to the end of the stream.

    Arguments
    ---------
    stream : file-like
        Binary stream positioned at the start of the WAV file.
    name : str
        Named in errors.

    Returns
    -------
    tuple
        ``(sample_rate, channels, fmt)`` with ``fmt`` in :data:`PCM_FORMATS`.

    Example
    -------
    >>> import io, soundfile as sf
    >>> buf = io.BytesIO()
    >>> sf.write(buf, np.zeros((10, 2), np.float32), 8000, format="WAV",
    ...          subtype="PCM_16")
    >>> _ = buf.seek(0)
    >>> read_wav_header(buf)
    (8000, 2, 's16le')
    """

    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = stream.read(n - len(data))
            if not part:
                raise AudioLoadError(
                    f"Could not read a WAV header from {name}: it ends after "
                    f"{len(data)} bytes of a {n}-byte field"
                )
            data += part
        return data

    riff = read(12)
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise AudioLoadError(
            f"{name} is not a WAV stream (no RIFF/WAVE header); use a raw "
            "PCM format (s16le, f32le) instead."
        )
    fmt_info = None
    while True:
        chunk_id, size = struct.unpack("<4sI", read(8))
        if chunk_id == b"data":
            break
        body = read(size + (size & 1))
        if chunk_id == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE
                tag = struct.unpack("<H", body[24:26])[0]
            fmt_info = (tag, channels, rate, bits)
    if fmt_info is None:
        raise AudioLoadError(f"WAV stream {name} has no fmt chunk")
    tag, channels, rate, bits = fmt_info
    if rate < 1 or channels < 1:
        # a zero rate would be taken for "unknown" and replaced by the
        # model's rate: refuse it rather than tag at a guessed speed
        raise AudioLoadError(
            f"WAV stream {name}: its header says {rate} Hz and {channels} "
            "channel(s); a stream needs a sample rate and channels >= 1."
        )
    if (tag, bits) == (1, 16):
        return rate, channels, "s16le"
    if (tag, bits) == (3, 32):
        return rate, channels, "f32le"
    raise AudioLoadError(
        f"WAV stream {name}: unsupported sample format (format tag {tag}, "
        f"{bits} bits); 16-bit PCM or 32-bit float are supported."
    )


def pcm_chunks(
    stream: BinaryIO,
    fmt: str = "s16le",
    channels: int = 1,
    chunk_bytes: int = 1 << 14,
) -> Iterator[np.ndarray]:
    """float32 mono chunks of a raw PCM byte stream, as they arrive.

    Arguments
    ---------
    stream : file-like
        Binary stream (e.g. ``sys.stdin.buffer``); read with ``read1``
        where available, so chunks come as soon as data is there.
    fmt : str
        ``"s16le"`` or ``"f32le"``.
    channels : int
        Interleaved channels (averaged).
    chunk_bytes : int
        Most bytes per read.

    Yields
    ------
    numpy.ndarray
        float32 mono samples.

    Example
    -------
    >>> import io
    >>> data = np.arange(6, dtype="<f4").tobytes()
    >>> [c.tolist() for c in pcm_chunks(io.BytesIO(data), "f32le", 1, 12)]
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    decoder = PcmDecoder(fmt, channels)
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(chunk_bytes)
        if not data:
            break
        samples = decoder.decode(data)
        if len(samples):
            yield samples


def _wait_for(path: str, size: int, timeout: float, poll: float) -> None:
    """Waits until ``path`` holds at least ``size`` bytes (or timeout)."""
    deadline = time.monotonic() + timeout
    while os.path.getsize(path) < size and time.monotonic() < deadline:
        time.sleep(poll)


def _follow(
    fin: BinaryIO,
    decoder: PcmDecoder,
    idle_timeout: float,
    poll: float,
    chunk_bytes: int,
) -> Iterator[np.ndarray]:
    """Reads an open file as it grows; stops after ``idle_timeout`` idle s."""
    last_growth = time.monotonic()
    while True:
        data = fin.read(chunk_bytes)
        if data:
            last_growth = time.monotonic()
            samples = decoder.decode(data)
            if len(samples):
                yield samples
            continue
        if time.monotonic() - last_growth >= idle_timeout:
            break
        time.sleep(poll)


def follow_file(
    path: str,
    fmt: Optional[str] = None,
    channels: int = 1,
    idle_timeout: float = 5.0,
    poll: float = 0.05,
    chunk_bytes: int = 1 << 14,
) -> Tuple[int, Iterator[np.ndarray]]:
    """Chunks of a file that is still being written (like ``tail -f``).

    Arguments
    ---------
    path : str
        Raw PCM or WAV file (a WAV header's data size may not be final).
    fmt : str, optional
        ``"s16le"``, ``"f32le"`` or ``"wav"`` (default: ``"wav"`` for a
        ``.wav`` name, else ``"s16le"``).
    channels : int
        Channels of raw PCM (a WAV header gives its own).
    idle_timeout : float
        Stop when the file has not grown for this many seconds.
    poll : float
        Seconds between checks for new data.
    chunk_bytes : int
        Most bytes per read.

    Returns
    -------
    rate : int or None
        The WAV header's rate (None for raw PCM).
    chunks : iterator
        float32 mono chunks, until the file stops growing.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "rec.raw")
    >>> _ = open(path, "wb").write(np.ones(4, "<i2").tobytes())
    >>> rate, chunks = follow_file(path, "s16le", idle_timeout=0.0)
    >>> rate, [c.shape for c in chunks]
    (None, [(4,)])
    """
    if fmt is None:
        fmt = "wav" if path.lower().endswith(".wav") else "s16le"
    if not os.path.isfile(path):
        raise AudioLoadError(f"Audio file not found: {path}")
    fin = open(path, "rb")  # noqa: SIM115 (closed by the generator)
    rate = None
    try:
        if fmt == "wav":
            _wait_for(path, 44, idle_timeout, poll)
            rate, channels, fmt = read_wav_header(fin, path)
        decoder = PcmDecoder(fmt, channels)
    except Exception:
        fin.close()
        raise

    def chunks() -> Iterator[np.ndarray]:
        with fin:
            yield from _follow(fin, decoder, idle_timeout, poll, chunk_bytes)

    return rate, chunks()


def microphone_chunks(
    sample_rate: int = 16000,
    channels: int = 1,
    block_seconds: float = 0.1,
    device: Optional[Any] = None,
    duration: Optional[float] = None,
) -> Iterator[np.ndarray]:
    """Chunks from a microphone (needs the optional ``sounddevice`` package).

    Arguments
    ---------
    sample_rate : int
        Capture rate (Hz).
    channels : int
        Captured channels (averaged).
    block_seconds : float
        Seconds per chunk.
    device : int or str, optional
        ``sounddevice`` input device (default: the system's).
    duration : float, optional
        Stop after this many seconds (default: until interrupted).

    Yields
    ------
    numpy.ndarray
        float32 mono samples.
    """
    try:
        import sounddevice  # optional, imported only here
    except (ImportError, OSError) as err:
        raise RuntimeError(
            "Microphone input needs the 'sounddevice' package (and the "
            f"PortAudio library): pip install sounddevice ({err})"
        ) from err
    blocks: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata, frames, time_info, status):  # noqa: ARG001
        blocks.put(indata.copy())

    left = None if duration is None else int(duration * sample_rate)
    with sounddevice.InputStream(
        samplerate=sample_rate,
        channels=channels,
        dtype="float32",
        blocksize=max(1, int(block_seconds * sample_rate)),
        device=device,
        callback=callback,
    ):
        while left is None or left > 0:
            block = blocks.get()
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            if left is not None:
                mono = mono[:left]
                left -= len(mono)
            yield mono.astype(np.float32)


def file_chunks(path: str, block_frames: int = 1 << 14) -> Iterator[np.ndarray]:
    """float32 mono chunks of a finished audio file (any soundfile format).

    Arguments
    ---------
    path : str
        Audio file.
    block_frames : int
        Samples per chunk.

    Yields
    ------
    numpy.ndarray
        float32 mono samples at the file's rate.
    """
    from ast_sb.dataio.audio import open_audio_file

    with open_audio_file(path) as fin:
        while True:
            block = fin.read(block_frames, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            yield block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]


class StreamResampler:
    """Resamples a signal that arrives in pieces, as one signal.

    Each piece is resampled with ``torchaudio.functional.resample`` together
    with enough samples on both sides for the sinc kernel, so the output is
    that of resampling the whole signal at once (up to float rounding).

    Arguments
    ---------
    orig_rate : int
        Input rate (Hz).
    new_rate : int
        Output rate (Hz).

    Example
    -------
    >>> import torchaudio
    >>> x = torch.randn(9000)
    >>> res = StreamResampler(8000, 16000)
    >>> y = torch.cat([res.push(x[:1234]), res.push(x[1234:]), res.flush()])
    >>> whole = torchaudio.functional.resample(x, 8000, 16000)
    >>> y.shape == whole.shape, bool((y - whole).abs().max() < 1e-5)
    (True, True)
    """

    def __init__(self, orig_rate: int, new_rate: int):
        if orig_rate <= 0 or new_rate <= 0:
            raise ValueError(
                f"rates must be > 0, got {orig_rate} and {new_rate}"
            )
        g = math.gcd(int(orig_rate), int(new_rate))
        self.orig_rate, self.new_rate = int(orig_rate), int(new_rate)
        self.o, self.n = self.orig_rate // g, self.new_rate // g
        # torchaudio's kernel: lowpass_filter_width 6, rolloff 0.99
        width = math.ceil(6 * self.o / (min(self.o, self.n) * 0.99))
        self.context = (width // self.o + 2) * self.o
        self._buf = torch.zeros(0)
        self._buf0 = 0  # input index of _buf[0] (a multiple of o)
        self._done = 0  # input samples whose output was returned
        self._produced = 0

    def _resample(self, start: int, stop: int, end: int) -> torch.Tensor:
        import torchaudio

        seg = self._buf[start - self._buf0 : end - self._buf0]
        out = torchaudio.functional.resample(seg, self.orig_rate, self.new_rate)
        first = (self._done - start) // self.o * self.n
        count = math.ceil((stop - start) * self.n / self.o) - (
            (self._done - start) // self.o * self.n
        )
        return out[first : first + count]

    def push(self, samples: torch.Tensor) -> torch.Tensor:
        """Resampled output of the input so far that is final.

        Arguments
        ---------
        samples : torch.Tensor
            The next float32 input samples ``[n]``.

        Returns
        -------
        torch.Tensor
            The next output samples.
        """
        self._buf = torch.cat([self._buf, samples.float()])
        total = self._buf0 + len(self._buf)
        stop = (total - self.context) // self.o * self.o
        if stop <= self._done:
            return torch.zeros(0)
        start = max(self._buf0, self._done - self.context)
        out = self._resample(start, stop, total)
        self._produced += len(out)
        self._done = stop
        keep = max(self._buf0, self._done - self.context)
        self._buf = self._buf[keep - self._buf0 :]
        self._buf0 = keep
        return out

    def flush(self) -> torch.Tensor:
        """The rest of the output (end of the signal).

        Returns
        -------
        torch.Tensor
            The last output samples.
        """
        total = self._buf0 + len(self._buf)
        want = math.ceil(total * self.n / self.o) - self._produced
        if want <= 0 or not len(self._buf):
            return torch.zeros(0)
        start = max(self._buf0, self._done - self.context)
        out = self._resample(start, total, total)[:want]
        self._produced += len(out)
        self._done = total
        return out


def open_source(
    source: str = "-",
    fmt: Optional[str] = None,
    rate: Optional[int] = None,
    channels: int = 1,
    follow: bool = False,
    idle_timeout: float = 5.0,
    mic: bool = False,
    mic_device: Optional[Any] = None,
    duration: Optional[float] = None,
    stdin: Optional[BinaryIO] = None,
) -> Tuple[Optional[int], Iterator[np.ndarray]]:
    """The chunks of a stream source and their rate.

    Arguments
    ---------
    source : str
        ``"-"`` (stdin) or a file.
    fmt : str, optional
        ``"s16le"``, ``"f32le"`` or ``"wav"``; default: ``s16le`` on stdin,
        by the file name for a followed file, and any format soundfile
        reads for a finished file.
    rate : int, optional
        Rate of raw PCM (a WAV header or audio file gives its own);
        None: the model's.
    channels : int
        Interleaved channels of raw PCM.
    follow : bool
        Follow a file that is still being written (:func:`follow_file`).
    idle_timeout : float
        With ``follow``: stop after this many seconds without new data.
    mic : bool
        Read the microphone instead (:func:`microphone_chunks`).
    mic_device : int or str, optional
        ``sounddevice`` input device.
    duration : float, optional
        With ``mic``: stop after this many seconds.
    stdin : file-like, optional
        Binary stdin (default ``sys.stdin.buffer``).

    Returns
    -------
    rate : int or None
        Rate of the chunks (None: as given, i.e. the model's).
    chunks : iterator
        float32 mono chunks.

    Example
    -------
    >>> import io
    >>> data = io.BytesIO(np.zeros(8, "<i2").tobytes())
    >>> rate, chunks = open_source("-", "s16le", 8000, stdin=data)
    >>> rate, [c.shape for c in chunks]
    (8000, [(8,)])
    """
    if fmt is not None and fmt != "wav" and fmt not in PCM_FORMATS:
        raise ValueError(
            f"Unknown format {fmt!r}; expected wav, "
            + ", ".join(sorted(PCM_FORMATS))
        )
    if mic:
        rate = int(rate or 16000)
        return rate, microphone_chunks(
            rate, channels, 0.1, mic_device, duration
        )
    if source == "-":
        import sys

        stream = stdin if stdin is not None else sys.stdin.buffer
        fmt = fmt or "s16le"
        if fmt == "wav":
            rate, channels, fmt = read_wav_header(stream, "stdin")
        return rate, pcm_chunks(stream, fmt, channels)
    if follow:
        header_rate, chunks = follow_file(source, fmt, channels, idle_timeout)
        return header_rate or rate, chunks
    if fmt in PCM_FORMATS:
        if not os.path.isfile(source):
            raise AudioLoadError(f"Audio file not found: {source}")

        def raw() -> Iterator[np.ndarray]:
            with open(source, "rb") as fin:
                yield from pcm_chunks(fin, fmt, channels)

        return rate, raw()
    from ast_sb.dataio.audio import open_audio_file

    with open_audio_file(source) as fin:
        file_rate = int(fin.samplerate)
    return file_rate, file_chunks(source)
