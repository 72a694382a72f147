"""Real-time tagging of an audio stream (``ast-sb stream``).

Audio arrives in chunks of any size; :class:`StreamingTagger` keeps only
what the next window needs:

* the Kaldi fbank is computed incrementally (:class:`StreamingFbank`):
  Kaldi frames (``snip_edges``, no dithering, per-frame DC removal and
  pre-emphasis) depend only on their own 400 samples, so each new frame is
  computed once from the new samples and the < 400-sample tail of the
  previous chunk;
* the frames of the current window sit in a fixed-size buffer; every
  ``hop`` a window is classified (normaliser, encoder and head of the
  exported model, on the same features ``ast-sb tag`` computes);
* window scores become segment scores and events with the code of
  :mod:`ast_sb.tagging` (:func:`~ast_sb.tagging.cover_sums`,
  :func:`~ast_sb.tagging.segment_activity`,
  :class:`~ast_sb.tagging.EventTracker`); a segment is final once no later
  window can cover it, an event once no later segment can extend it.

So the events of a stream are those of :class:`~ast_sb.tagging.SlidingWindowTagger`
on the same audio (same windows, thresholds, merging), emitted as they
close, and memory does not grow with the stream's length. Audio at another
rate than the model's is resampled as one continuous signal
(:class:`StreamResampler`); ``ast-sb tag`` resamples each window on its own,
so there the scores differ slightly near window edges.

Sources (:func:`pcm_chunks`, :func:`follow_file`, :func:`microphone_chunks`):
raw PCM (``s16le`` or ``f32le``, interleaved channels) or a WAV stream on
stdin or in a file, a file that is still being written (followed until it
stops growing), and a microphone through the optional ``sounddevice``
package.

Example::

    from ast_sb.inference import AudioSpectrogramTransformerInterface
    from ast_sb.streaming import StreamingTagger

    model = AudioSpectrogramTransformerInterface.from_folder("model_dir")
    tagger = StreamingTagger(model, window=10.0, hop=1.0)
    for chunk in chunks:  # float32 mono arrays at 16 kHz
        for event in tagger.push(chunk):
            print(event.to_dict())
    for event in tagger.finish():
        print(event.to_dict())

Authors
 * ast_sb developers 2026
"""

import math
import os
import queue
import struct
import time
from typing import (
    Any,
    BinaryIO,
    Callable,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
)

import numpy as np
import torch

from ast_sb.audio import AudioLoadError
from ast_sb.features import frame_count, pad_or_cut
from ast_sb.tagging import (
    EventTracker,
    SlidingWindowTagger,
    TagEvent,
    cover_sums,
    segment_activity,
)
from ast_sb.validation import nonfinite_rows
from ast_sb.windows import window_count

__all__ = [
    "PCM_FORMATS",
    "PcmDecoder",
    "StreamResampler",
    "StreamingFbank",
    "StreamingTagger",
    "file_chunks",
    "follow_file",
    "microphone_chunks",
    "open_source",
    "pcm_chunks",
    "read_wav_header",
    "stream_jsonl",
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
    from ast_sb.audio import open_audio_file

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


class StreamingFbank:
    """Incremental Kaldi fbank: each call computes only the new frames.

    Arguments
    ---------
    fbank : ast_sb.features.KaldiFbank
        The front end (its ``log_mel``, frame length and shift are used).

    Example
    -------
    >>> from ast_sb.features import KaldiFbank
    >>> fbank = KaldiFbank()
    >>> wav = torch.randn(16000) * 0.1
    >>> stream = StreamingFbank(fbank)
    >>> parts = [stream.push(wav[a:b]) for a, b in [(0, 300), (300, 7001),
    ...                                            (7001, 16000)]]
    >>> [p.shape[0] for p in parts], stream.frames_done
    ([0, 42, 56], 98)
    >>> bool((torch.cat(parts) - fbank(wav)[0]).abs().max() < 1e-4)
    True
    """

    def __init__(self, fbank: torch.nn.Module):
        self.fbank = fbank
        self.frame_length = int(fbank.frame_length)
        self.frame_shift = int(fbank.frame_shift)
        self.n_mels = int(fbank.n_mels)
        device = fbank.mel_matrix.device
        self.tail = torch.zeros(0, device=device)
        self.frames_done = 0

    def push(self, samples: torch.Tensor) -> torch.Tensor:
        """Log-mel frames ``[n, n_mels]`` completed by the new samples.

        Arguments
        ---------
        samples : torch.Tensor
            The next float32 samples ``[n]``.

        Returns
        -------
        torch.Tensor
            The new frames (unnormalised log-mel, as ``KaldiFbank``).
        """
        x = torch.cat([self.tail, samples.to(self.tail.device).float()])
        n = frame_count(len(x), self.frame_length, self.frame_shift)
        if n == 0:
            self.tail = x
            return torch.zeros(0, self.n_mels, device=x.device)
        limit = getattr(self.fbank, "target_length", None) or n
        parts = []
        with torch.no_grad():
            for f0 in range(0, n, limit):
                m = min(limit, n - f0)
                a = f0 * self.frame_shift
                seg = x[a : a + self.frame_length + (m - 1) * self.frame_shift]
                feats = self.fbank.log_mel(
                    seg[None], blocked=seg.device.type == "cpu"
                )
                parts.append(feats[0, :m])
        self.tail = x[n * self.frame_shift :].clone()
        self.frames_done += n
        return parts[0] if len(parts) == 1 else torch.cat(parts)


class StreamingTagger(SlidingWindowTagger):
    """Tags audio as it arrives, with the windows and events of offline tagging.

    Feed float32 mono chunks of any size with :meth:`push` (each call
    returns the events that closed) and end the stream with :meth:`finish`.
    A window is classified as soon as its last sample arrives (every
    ``hop``); the final, shorter window of the stream at :meth:`finish`.
    Memory is bounded by the window length: the fbank tail, the frames of
    one window (or, without an incremental front end, its samples), the
    scores of the windows that overlap undecided segments, and one open
    event per class.

    Arguments
    ---------
    model : AudioSpectrogramTransformerInterface or callable
        As :class:`~ast_sb.tagging.SlidingWindowTagger`. An interface whose
        front end is a :class:`~ast_sb.features.KaldiFbank` gets the
        incremental fbank; other models are run on each window's waveform.
    window, hop, threshold, top_k, merge_gap, min_duration, labels, multi_label, sample_rate
        As :class:`~ast_sb.tagging.SlidingWindowTagger` (``sample_rate`` is
        the model's rate).
    input_rate : int, optional
        Rate of the pushed chunks (default: the model's); other rates are
        resampled (:class:`StreamResampler`).
    on_window : callable, optional
        Called as ``on_window(start, end, probs)`` after each window
        (times in s, ``probs`` a ``[C]`` array).
    incremental : bool, optional
        Force (True) or refuse (False) the incremental fbank; default: use
        it when the model allows it.

    Example
    -------
    >>> def loudness(wavs):  # toy "model": P(loud) per window
    ...     p = (wavs.abs() > 0.1).float().mean(dim=1, keepdim=True)
    ...     return torch.cat([p, 1 - p], dim=1)
    >>> tagger = StreamingTagger(
    ...     loudness, window=1.0, hop=0.5, labels=["loud", "quiet"],
    ...     multi_label=False, sample_rate=16000,
    ... )
    >>> wav = torch.zeros(6 * 16000)
    >>> wav[2 * 16000 : 4 * 16000] = 0.5
    >>> events = []
    >>> for chunk in wav.split(3000):
    ...     events += tagger.push(chunk)
    >>> events += tagger.finish()
    >>> [(e.start, e.end, e.label) for e in events]
    [(0.0, 2.0, 'quiet'), (2.0, 4.0, 'loud'), (4.0, 6.0, 'quiet')]
    """

    def __init__(
        self,
        model: Any,
        window: Optional[float] = None,
        hop: Optional[float] = None,
        threshold: Optional[float] = None,
        top_k: Optional[int] = None,
        merge_gap: float = 0.0,
        min_duration: float = 0.0,
        labels: Optional[List[str]] = None,
        multi_label: Optional[bool] = None,
        sample_rate: Optional[int] = None,
        input_rate: Optional[int] = None,
        on_window: Optional[Callable[[float, float, np.ndarray], None]] = None,
        incremental: Optional[bool] = None,
    ):
        super().__init__(
            model,
            window=window,
            hop=hop,
            batch_size=1,
            threshold=threshold,
            top_k=top_k,
            merge_gap=merge_gap,
            min_duration=min_duration,
            labels=labels,
            multi_label=multi_label,
            sample_rate=sample_rate,
        )
        self.model = model
        rate = self.sample_rate
        self.win = max(1, int(round(self.window * rate)))
        self.step = max(1, int(round(self.hop * rate)))
        self.on_window = on_window
        self.input_rate = int(input_rate or rate)
        self.resampler = (
            StreamResampler(self.input_rate, rate)
            if self.input_rate != rate
            else None
        )
        reason = self._incremental_refusal()
        if incremental and reason:
            raise ValueError(f"No incremental fbank for this model: {reason}")
        self.incremental = reason is None and incremental is not False
        self.tracker = EventTracker(self.labels, merge_gap, min_duration)
        self.received = 0  # samples at the model's rate
        self.next_window = 0  # index of the next window to classify
        self.next_segment = 0  # first segment not yet decided
        self.n_windows = 0
        # scores of recent windows (those that may cover undecided segments)
        self._starts: List[float] = []
        self._ends: List[float] = []
        self._scores: List[np.ndarray] = []
        if self.incremental:
            fbank = model.features
            self.fbank = StreamingFbank(fbank)
            self.shift = self.fbank.frame_shift
            self.window_frames = frame_count(
                self.win, self.fbank.frame_length, self.shift
            )
            capacity = self.window_frames + self.step // self.shift + 2
            self._frames = torch.zeros(capacity, self.fbank.n_mels)
            self._frame0 = 0  # stream frame index of _frames[0]
            self._n_frames = 0
        else:
            self._samples = np.zeros(0, dtype=np.float32)
            self._sample0 = 0  # stream sample index of _samples[0]

    def _incremental_refusal(self) -> Optional[str]:
        """Why the incremental fbank cannot be used (None: it can)."""
        pipeline = getattr(self.model, "pipeline", None)
        if pipeline is None or not hasattr(pipeline, "encode_features"):
            return "the model is not an exported ast_sb interface"
        feats = pipeline.compute_features
        if not all(
            hasattr(feats, a)
            for a in ("log_mel", "frame_length", "frame_shift", "num_frames")
        ):
            return f"its front end ({type(feats).__name__}) is not KaldiFbank"
        if self.step % int(feats.frame_shift):
            return (
                f"the hop ({self.step} samples) is not a multiple of the "
                f"frame shift ({feats.frame_shift} samples)"
            )
        if pipeline.window is not None and self.win > pipeline.window:
            return "the window is longer than the model's own windows"
        return None

    # ------------------------------------------------------------------
    def buffered(self) -> dict:
        """Sizes of what the tagger holds (they stay bounded).

        Returns
        -------
        dict
            ``frames`` (or ``samples``), ``fbank_tail``, ``windows`` and
            ``open_events``.
        """
        out = {
            "windows": len(self._scores),
            "open_events": len(self.tracker.open),
        }
        if self.incremental:
            out["frames"] = self._n_frames
            out["frame_capacity"] = int(self._frames.shape[0])
            out["fbank_tail"] = int(len(self.fbank.tail))
        else:
            out["samples"] = int(len(self._samples))
        if self.resampler is not None:
            out["resampler"] = int(len(self.resampler._buf))
        return out

    def push(self, samples: Any) -> List[TagEvent]:
        """Feeds the next chunk of audio.

        Arguments
        ---------
        samples : numpy.ndarray or torch.Tensor
            float32 mono samples at ``input_rate``, any number.

        Returns
        -------
        list of TagEvent
            Events that closed (in closing order).
        """
        wav = torch.as_tensor(np.asarray(samples, dtype=np.float32)).flatten()
        if not bool(torch.isfinite(wav).all()):
            bad = int((~torch.isfinite(wav)).nonzero()[0])
            at = (self.received + bad) / self.sample_rate
            raise AudioLoadError(
                f"The stream contains NaN or inf samples (first near {at:.3f} s)"
            )
        if self.resampler is not None:
            wav = self.resampler.push(wav)
        return self._push_model_rate(wav)

    def _push_model_rate(self, wav: torch.Tensor) -> List[TagEvent]:
        events: List[TagEvent] = []
        for piece in wav.split(self.step):
            self._append(piece)
            self.received += len(piece)
            while self.next_window * self.step + self.win <= self.received:
                self._classify(self.win)
            events += self._decide(final=False)
        return events

    def finish(self) -> List[TagEvent]:
        """Ends the stream: the last (shorter) window and the open events.

        Returns
        -------
        list of TagEvent
            The remaining events.
        """
        events: List[TagEvent] = []
        if self.resampler is not None:
            events += self._push_model_rate(self.resampler.flush())
        total = self.received
        if total <= 0:
            raise AudioLoadError("The stream contains no samples")
        start = self.next_window * self.step
        count = int(window_count(torch.tensor([total]), self.win, self.step))
        if self.next_window < count:  # the last window, ending at the end
            length = total - start
            if length >= self.min_samples:
                self._classify(length)
            elif self.next_window == 0:
                raise AudioLoadError(
                    f"Audio too short: the stream lasts "
                    f"{total / self.sample_rate:.3f} s; the model needs at "
                    f"least {self.min_samples / self.sample_rate:.3f} s."
                )
        events += self._decide(final=True)
        events += self.tracker.finish()
        return events

    def run(self, chunks: Iterable[Any]) -> Iterator[TagEvent]:
        """Tags a whole stream of chunks, yielding events as they close.

        Arguments
        ---------
        chunks : iterable
            float32 mono chunks at ``input_rate``.

        Yields
        ------
        TagEvent
            Events, in closing order.
        """
        for chunk in chunks:
            yield from self.push(chunk)
        yield from self.finish()

    # ------------------------------------------------------------------
    def _append(self, piece: torch.Tensor) -> None:
        """Adds samples to the window buffer (frames or samples)."""
        if not self.incremental:
            self._samples = np.concatenate([self._samples, piece.numpy()])
            return
        frames = self.fbank.push(piece)
        end = self._n_frames + len(frames)
        if end > self._frames.shape[0]:
            raise RuntimeError(  # cannot happen: pieces are <= one hop
                f"frame buffer overflow ({end} > {self._frames.shape[0]})"
            )
        self._frames[self._n_frames : end] = frames.to(self._frames.device)
        self._n_frames = end

    def _window_input(self, length: int) -> Tuple[torch.Tensor, int]:
        start = self.next_window * self.step
        if not self.incremental:
            a = start - self._sample0
            return torch.from_numpy(self._samples[a : a + length].copy()), 0
        f0 = start // self.shift - self._frame0
        n = frame_count(length, self.fbank.frame_length, self.shift)
        return self._frames[f0 : f0 + n], n

    def _classify(self, length: int) -> None:
        """Classifies the next window (``length`` samples from its start)."""
        start = self.next_window * self.step
        begin, end = (
            start / self.sample_rate,
            (start + length) / self.sample_rate,
        )
        data, n = self._window_input(length)
        try:
            if self.incremental:
                probs = self._score_frames(data, n, length)
            else:
                probs = self._score([data])[0]
        except (ValueError, RuntimeError) as err:
            raise ValueError(
                f"stream window {begin:.2f} s to {end:.2f} s: {err}"
            ) from err
        if probs.shape[-1] != len(self.labels):
            raise ValueError(
                f"The model gives {probs.shape[-1]} scores but there are "
                f"{len(self.labels)} labels."
            )
        self._starts.append(begin)
        self._ends.append(end)
        self._scores.append(probs.astype(np.float32))
        self.n_windows += 1
        if self.on_window is not None:
            self.on_window(begin, end, probs)
        self.next_window += 1
        self._drop_before(self.next_window * self.step)

    def _score_frames(self, frames: torch.Tensor, n: int, length: int):
        """Probabilities ``[C]`` of one window from its fbank frames."""
        model = self.model
        pipeline = model.pipeline
        n_out = pipeline.compute_features.num_frames(length)
        feats = frames[None].to(model.device)
        if feats.shape[1] != n_out:
            feats = pad_or_cut(feats, n_out)
        lens = torch.tensor(
            [max(1, min(n, n_out)) / n_out], device=model.device
        )
        with torch.no_grad():
            emb = pipeline.encode_features(feats, lens)
            out = model.mods.classifier(emb).reshape(1, -1)
            probs = model.scores_to_proba(out.float())
        bad = nonfinite_rows(probs)
        if bad:
            raise ValueError("the model gives NaN or inf scores")
        return probs[0].detach().cpu().numpy()

    def _drop_before(self, sample: int) -> None:
        """Forgets the audio before stream sample ``sample``."""
        if not self.incremental:
            drop = sample - self._sample0
            if drop > 0:
                self._samples = self._samples[drop:]
                self._sample0 = sample
            return
        drop = sample // self.shift - self._frame0
        if drop > 0:
            keep = self._n_frames - drop
            if keep > 0:
                self._frames[:keep] = self._frames[
                    drop : self._n_frames
                ].clone()
            self._n_frames = max(0, keep)
            self._frame0 += drop

    def _decide(self, final: bool) -> List[TagEvent]:
        """Turns the segments no later window can change into events."""
        if not self._scores:
            return []
        hop = self.hop
        first = self.next_segment
        if final:
            duration = self.received / self.sample_rate
            n_seg = max(1, int(math.ceil(duration / hop - 1e-9)))
            if first >= n_seg:
                return []
            bounds = np.minimum(np.arange(first, n_seg + 1) * hop, duration)
            bounds[-1] = duration
        else:
            # segments surely not the last one: their end is j * hop
            known = int(
                math.ceil(self.received / self.sample_rate / hop - 1e-9)
            )
            last = known - 1  # exclusive
            if last <= first:
                return []
            bounds = np.arange(first, last + 1) * hop
            mids = (bounds[:-1] + bounds[1:]) / 2
            # decided: no later window (start >= next start) covers them
            next_start = self.next_window * self.step / self.sample_rate
            n_dec = int(np.searchsorted(mids, next_start, side="left"))
            if n_dec == 0:
                return []
            bounds = bounds[: n_dec + 1]
        starts = np.asarray(self._starts)
        ends = np.asarray(self._ends)
        scores = np.stack(self._scores)
        sums, counts = cover_sums(bounds, starts, ends, scores)
        seg = np.divide(
            sums,
            counts[:, None],
            out=np.zeros_like(sums),
            where=counts[:, None] > 0,
        )
        active = segment_activity(
            seg, counts, self.multi_label, self.threshold, self.top_k
        )
        self.next_segment = first + len(seg)
        # windows that end before the next segment's midpoint are done
        if not final:
            nxt = self.next_segment
            mid = (nxt * hop + (nxt + 1) * hop) / 2
            keep = int(np.searchsorted(ends, mid, side="left"))
            del self._starts[:keep], self._ends[:keep], self._scores[:keep]
        return self.tracker.update(bounds, seg, active)


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
    from ast_sb.audio import open_audio_file

    with open_audio_file(source) as fin:
        file_rate = int(fin.samplerate)
    return file_rate, file_chunks(source)


def stream_jsonl(
    tagger: StreamingTagger,
    chunks: Iterable[np.ndarray],
    write: Callable[[str], None],
    windows: bool = False,
    top_k: int = 3,
) -> dict:
    """Tags a stream and writes one JSON line per event (and window).

    Event lines are ``{"type": "event", "start", "end", "label", "score"}``
    (as the events of ``ast-sb tag --json``), written when the event closes;
    with ``windows``, every window adds ``{"type": "window", "start", "end",
    "top": [{"label", "score"}, ...]}``. The last line is ``{"type": "end",
    "duration", "n_windows", "n_events"}``. Ctrl-C ends the stream (the
    open events are still written).

    Arguments
    ---------
    tagger : StreamingTagger
        A fresh tagger.
    chunks : iterable
        float32 mono chunks at the tagger's ``input_rate``.
    write : callable
        Receives each line (with its newline).
    windows : bool
        Also write every window's top classes.
    top_k : int
        Classes per window line.

    Returns
    -------
    dict
        The ``end`` record.
    """
    import json

    def emit(record: dict) -> None:
        write(json.dumps(record, allow_nan=False) + "\n")

    if windows:

        def on_window(start: float, end: float, probs: np.ndarray) -> None:
            best = np.argsort(-probs)[: min(top_k, len(probs))]
            emit(
                {
                    "type": "window",
                    "start": round(start, 4),
                    "end": round(end, 4),
                    "top": [
                        {
                            "label": tagger.labels[i],
                            "score": round(float(probs[i]), 4),
                        }
                        for i in best
                    ],
                }
            )

        tagger.on_window = on_window
    n_events = 0

    def emit_events(events: List[TagEvent]) -> None:
        nonlocal n_events
        for event in events:
            emit({"type": "event", **event.to_dict()})
            n_events += 1

    try:
        for chunk in chunks:
            emit_events(tagger.push(chunk))
    except KeyboardInterrupt:
        pass
    emit_events(tagger.finish())
    end = {
        "type": "end",
        "duration": round(tagger.received / tagger.sample_rate, 4),
        "n_windows": tagger.n_windows,
        "n_events": n_events,
    }
    emit(end)
    return end
