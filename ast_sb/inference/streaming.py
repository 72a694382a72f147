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
  :mod:`ast_sb.inference.tagging` (:func:`~ast_sb.inference.tagging.cover_sums`,
  :func:`~ast_sb.inference.tagging.segment_activity`,
  :class:`~ast_sb.inference.tagging.EventTracker`); a segment is final once no later
  window can cover it, an event once no later segment can extend it.

So the events of a stream are those of :class:`~ast_sb.inference.tagging.SlidingWindowTagger`
on the same audio (same windows, thresholds, merging), emitted as they
close, and memory does not grow with the stream's length. Audio at another
rate than the model's is resampled as one continuous signal
(:class:`~ast_sb.inference.stream_sources.StreamResampler`); ``ast-sb tag`` resamples each window on its own,
so there the scores differ slightly near window edges.

The sources of chunks (raw PCM or WAV on stdin, a growing file, a
microphone) are in :mod:`ast_sb.inference.stream_sources`.

Example::

    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
    from ast_sb.inference.streaming import StreamingTagger

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
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch

from ast_sb.dataio.audio import AudioLoadError
from ast_sb.dataio.validation import nonfinite_rows
from ast_sb.inference.stream_sources import StreamResampler
from ast_sb.inference.tagging import (
    EventTracker,
    SlidingWindowTagger,
    TagEvent,
    cover_sums,
    segment_activity,
)
from ast_sb.inference.windows import window_count
from ast_sb.lobes.features import frame_count, pad_or_cut

__all__ = ["StreamingFbank", "StreamingTagger", "stream_jsonl"]


class StreamingFbank:
    """Incremental Kaldi fbank: each call computes only the new frames.

    Arguments
    ---------
    fbank : ast_sb.lobes.features.KaldiFbank
        The front end (its ``log_mel``, frame length and shift are used).

    Example
    -------
    >>> from ast_sb.lobes.features import KaldiFbank
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
        As :class:`~ast_sb.inference.tagging.SlidingWindowTagger`. An interface whose
        front end is a :class:`~ast_sb.lobes.features.KaldiFbank` gets the
        incremental fbank; other models are run on each window's waveform.
    window, hop, threshold, top_k, merge_gap, min_duration, labels, multi_label, sample_rate
        As :class:`~ast_sb.inference.tagging.SlidingWindowTagger` (``sample_rate`` is
        the model's rate).
    input_rate : int, optional
        Rate of the pushed chunks (default: the model's); other rates are
        resampled (:class:`~ast_sb.inference.stream_sources.StreamResampler`).
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
