"""Frame-level sound event detection of a live stream.

:class:`FrameLevelStream` feeds a :class:`ast_sb.inference.frame_detection
.FrameLevelDetector` with chunks of any size. Each completed window (the
detector's ``window_seconds``) adds its frames; a frame's median-filtered
value is final once the ``max(median_window) // 2`` frames after it are
known, and runs of final frames become events (thresholds, hysteresis) as
soon as they end. :meth:`finish` runs the last, shorter window and closes
the open events. The events are those of offline detection of the whole
signal (``detector.detect``): the same windows, the same median filter
(history of ``2 * (max(median_window) // 2)`` frames is kept; the edges are
repeated at the true start and end only) and the same runs.

Memory is bounded: one window of samples, the frame history and one open
run per class.

Authors
 * ast_sb developers 2026
"""

from typing import List, Optional, Tuple

import numpy as np
import torch

from ast_sb.inference.frame_detection import FrameLevelDetector
from ast_sb.inference.sed_postprocessing import (
    median_filter_scores,
    per_class,
)
from ast_sb.inference.stream_sources import StreamResampler

__all__ = ["FrameLevelStream"]

Event = Tuple[float, float, str]


class FrameLevelStream:
    """Events of a stream at frame resolution, as they end.

    Arguments
    ---------
    detector : FrameLevelDetector
        The trained detector (its post-processing applies).
    input_rate : int, optional
        Rate of the pushed samples (resampled as one continuous signal with
        :class:`ast_sb.inference.stream_sources.StreamResampler`); None: the model's.

    Example
    -------
    >>> from ast_sb.inference.frame_detection import FrameLevelDetector
    >>> from ast_sb.lobes.features import KaldiFbank, AudioSpectrogramNormalizer
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> from ast_sb.lobes.frame_level import (
    ...     AudioSpectrogramTransformerFrameClassifier as Head)
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <...>
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", n_mels=32, target_length=200, depth=1,
    ...     use_padding_mask=True).eval()
    >>> det = FrameLevelDetector({
    ...     "compute_features": KaldiFbank(n_mels=32),
    ...     "mean_var_norm": AudioSpectrogramNormalizer(),
    ...     "embedding_model": enc,
    ...     "classifier": Head.for_encoder(enc, 2, frame_hop=0.04),
    ... }, ["a", "b"], window_seconds=1.0, median_window=5)
    >>> wav = torch.randn(16000 * 3 + 700)
    >>> stream = FrameLevelStream(det)
    >>> events = []
    >>> for chunk in wav.split(3000):
    ...     events += stream.push(chunk)
    >>> events += stream.finish()
    >>> sorted(events) == sorted(det.detect(wav)[0])
    True
    """

    def __init__(
        self, detector: FrameLevelDetector, input_rate: Optional[int] = None
    ):
        self.detector = detector
        self.labels = detector.labels
        n_classes = len(self.labels)
        self.step = int(round(detector.window_seconds * detector.sample_rate))
        self.windows = per_class(
            detector.median_window, n_classes, "median window"
        ).astype(int)
        self.half = int(self.windows.max()) // 2
        self.high = per_class(detector.threshold, n_classes, "threshold")
        low = detector.low_threshold
        self.low = (
            self.high
            if low is None
            else per_class(low, n_classes, "low_threshold")
        )
        self.resampler = None
        if input_rate is not None and int(input_rate) != detector.sample_rate:
            self.resampler = StreamResampler(
                int(input_rate), detector.sample_rate
            )
        self._samples = torch.zeros(0)
        self._frames = np.zeros((0, n_classes))  # history from frame _first
        self._first = 0  # index of _frames[0]
        self._next = 0  # first frame whose filtered value is not final
        self._open_start = np.full(n_classes, -1, dtype=np.int64)
        self._open_max = np.full(n_classes, -np.inf)
        self._finished = False

    def push(self, samples) -> List[Event]:
        """Adds samples; returns the events that ended (onset order)."""
        if self._finished:
            raise RuntimeError("push() after finish().")
        samples = torch.as_tensor(
            np.asarray(samples, dtype=np.float32)
        ).reshape(-1)
        if self.resampler is not None:
            samples = self.resampler.push(samples)
        self._samples = torch.cat([self._samples, samples])
        events: List[Event] = []
        while len(self._samples) >= self.step:
            window, self._samples = (
                self._samples[: self.step],
                self._samples[self.step :],
            )
            self._add_frames(self.detector.frame_scores(window))
            events += self._advance(final=False)
        return events

    def finish(self) -> List[Event]:
        """Runs the last window and closes every open event."""
        if self._finished:
            return []
        if self.resampler is not None:
            self._samples = torch.cat([self._samples, self.resampler.flush()])
        if len(self._samples) or self._first + len(self._frames) == 0:
            self._add_frames(self.detector.frame_scores(self._samples))
        self._samples = torch.zeros(0)
        self._finished = True
        events = self._advance(final=True)
        end = self._first + len(self._frames)
        for c in np.flatnonzero(self._open_start >= 0):
            events += self._close(int(c), end)
        return sorted(events, key=lambda e: (e[0], e[2], e[1]))

    def _add_frames(self, frames: np.ndarray) -> None:
        self._frames = np.concatenate([self._frames, frames], axis=0)

    def _advance(self, final: bool) -> List[Event]:
        """Filters the frames that became final and tracks their runs."""
        known = self._first + len(self._frames)
        stop = known if final else known - self.half
        if stop <= self._next:
            return []
        # the filter window of frames _next .. stop - 1 lies in the history
        # (or reaches the true start / end, where scipy repeats the edge)
        filtered = median_filter_scores(self._frames, self.windows)
        block = filtered[self._next - self._first : stop - self._first]
        events: List[Event] = []
        for offset, row in enumerate(block):
            k = self._next + offset
            on = row >= self.low
            for c in np.flatnonzero(~on & (self._open_start >= 0)):
                events += self._close(int(c), k)
            starting = on & (self._open_start < 0)
            self._open_start[starting] = k
            self._open_max[starting] = -np.inf
            self._open_max[on] = np.maximum(self._open_max[on], row[on])
        self._next = stop
        # keep the frames a later filter window can reach
        keep_from = max(0, self._next - self.half - self._first)
        keep_from = min(keep_from, len(self._frames))
        self._frames = self._frames[keep_from:]
        self._first += keep_from
        return sorted(events, key=lambda e: (e[0], e[2], e[1]))

    def _close(self, c: int, end: int) -> List[Event]:
        start = int(self._open_start[c])
        peak = self._open_max[c]
        self._open_start[c] = -1
        self._open_max[c] = -np.inf
        if peak < self.high[c]:
            return []
        hop = self.detector.frame_hop
        return [(float(start * hop), float(end * hop), self.labels[c])]
