"""The event timeline shared by offline and streaming tagging.

Window scores are put on a grid of ``hop``-long segments: the score of a
segment is the mean score of the windows that contain its midpoint
(:func:`cover_sums`, :func:`segment_scores`), a class is active in a
segment when its score reaches ``threshold`` (multi-label) or when it is
the segment's best class (single-label) (:func:`segment_activity`), and
consecutive active segments of a class are merged into an event
(:class:`TagEvent`: ``start, end, label, score``) whose score is the mean
segment score (:func:`scores_to_events`, :class:`EventTracker`).
:class:`ast_sb.inference.tagging.SlidingWindowTagger` (a whole file) and
:class:`ast_sb.inference.streaming.StreamingTagger` (a stream) both build
their events here; :mod:`ast_sb.inference.tagging` re-exports these names.

Authors
 * ast_sb developers 2026
"""

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = [
    "TagEvent",
    "EventTracker",
    "cover_sums",
    "event_order",
    "scores_to_events",
    "segment_activity",
    "segment_scores",
]


@dataclass
class TagEvent:
    """One event of a timeline.

    Arguments
    ---------
    start : float
        Start time in seconds.
    end : float
        End time in seconds.
    label : str
        Class name.
    score : float
        Mean probability of the class over the event.
    """

    start: float
    end: float
    label: str
    score: float

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly dict (times and score rounded to 4 decimals)."""
        return {
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "label": self.label,
            "score": round(self.score, 4),
        }


def cover_sums(
    bounds: np.ndarray,
    window_starts: np.ndarray,
    window_ends: np.ndarray,
    scores: np.ndarray,
) -> Tuple[np.ndarray, np.ndarray]:
    """Sums and counts of the window scores covering each segment's midpoint.

    A window covers a segment when ``start <= midpoint <= end``. Scores are
    added window by window, in order, so a segment gets the same (bitwise)
    sum from any subset of windows that holds all its covering windows:
    :func:`segment_scores` (a whole file) and
    :class:`ast_sb.inference.streaming.StreamingTagger` (the recent windows) agree.

    Arguments
    ---------
    bounds : numpy.ndarray
        ``[S + 1]`` segment boundaries (s).
    window_starts : numpy.ndarray
        ``[W]`` window starts (s).
    window_ends : numpy.ndarray
        ``[W]`` window ends (s).
    scores : numpy.ndarray
        ``[W, C]`` window scores.

    Returns
    -------
    sums : numpy.ndarray
        ``[S, C]`` float64 sums of the covering windows' scores.
    counts : numpy.ndarray
        ``[S]`` number of covering windows.

    Example
    -------
    >>> sums, counts = cover_sums(
    ...     np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.5]),
    ...     np.array([1.0, 2.0]), np.array([[1.0], [3.0]]),
    ... )
    >>> sums[:, 0].tolist(), counts.tolist()
    ([4.0, 3.0], [2.0, 1.0])
    """
    mids = (bounds[:-1] + bounds[1:]) / 2
    n_classes = scores.shape[1] if scores.ndim == 2 else 0
    sums = np.zeros((len(mids), n_classes))
    counts = np.zeros(len(mids))
    first = np.searchsorted(mids, window_starts, side="left")
    last = np.searchsorted(mids, window_ends, side="right")
    for w, (a, b) in enumerate(zip(first.tolist(), last.tolist())):
        if a < b:
            sums[a:b] += scores[w]
            counts[a:b] += 1
    return sums, counts


def segment_scores(
    window_starts: np.ndarray,
    window_ends: np.ndarray,
    scores: np.ndarray,
    duration: float,
    hop: float,
    return_counts: bool = False,
) -> Tuple[np.ndarray, ...]:
    """Scores on a grid of ``hop``-long segments from overlapping windows.

    The score of a segment is the mean of the windows that contain its
    midpoint (0 where no window does).

    Arguments
    ---------
    window_starts : numpy.ndarray
        ``[W]`` window starts (s).
    window_ends : numpy.ndarray
        ``[W]`` window ends (s).
    scores : numpy.ndarray
        ``[W, C]`` window scores.
    duration : float
        File duration (s).
    hop : float
        Segment length (s).
    return_counts : bool
        Also return the number of windows behind each segment.

    Returns
    -------
    bounds : numpy.ndarray
        ``[S + 1]`` segment boundaries (s), from 0 to ``duration``.
    seg_scores : numpy.ndarray
        ``[S, C]`` segment scores.
    counts : numpy.ndarray
        ``[S]`` windows per segment (only with ``return_counts``).

    Example
    -------
    >>> bounds, seg = segment_scores(
    ...     np.array([0.0, 1.0]), np.array([2.0, 3.0]),
    ...     np.array([[1.0], [0.0]]), 3.0, 1.0,
    ... )
    >>> bounds.tolist(), seg[:, 0].tolist()
    ([0.0, 1.0, 2.0, 3.0], [1.0, 0.5, 0.0])
    """
    n_seg = max(1, int(math.ceil(duration / hop - 1e-9)))
    bounds = np.minimum(np.arange(n_seg + 1) * hop, duration)
    bounds[-1] = duration
    sums, counts = cover_sums(bounds, window_starts, window_ends, scores)
    seg = np.divide(
        sums,
        counts[:, None],
        out=np.zeros_like(sums),
        where=counts[:, None] > 0,
    )
    if return_counts:
        return bounds, seg, counts
    return bounds, seg


def scores_to_events(
    window_starts: np.ndarray,
    window_ends: np.ndarray,
    scores: np.ndarray,
    labels: List[str],
    duration: float,
    hop: float,
    multi_label: bool,
    threshold: Optional[float] = None,
    top_k: Optional[int] = None,
    merge_gap: float = 0.0,
    min_duration: float = 0.0,
) -> List[TagEvent]:
    """Builds the event timeline from window scores.

    Arguments
    ---------
    window_starts : numpy.ndarray
        ``[W]`` window starts (s).
    window_ends : numpy.ndarray
        ``[W]`` window ends (s).
    scores : numpy.ndarray
        ``[W, C]`` window probabilities.
    labels : list of str
        Class names.
    duration : float
        File duration (s).
    hop : float
        Time resolution of the timeline (s).
    multi_label : bool
        Multi-label: every class with score >= threshold (default 0.5) is
        active. Single-label: the best class of each segment is active if
        its score >= threshold (default 0).
    threshold : float, optional
        See ``multi_label``.
    top_k : int, optional
        At most this many active classes per segment.
    merge_gap : float
        Events of a class separated by at most this many seconds are
        merged.
    min_duration : float
        Events shorter than this are dropped.

    Returns
    -------
    list of TagEvent
        Sorted by start time, then decreasing score.

    Example
    -------
    >>> starts = np.arange(6.0)
    >>> scores = np.array([[0.9, 0.1]] * 2 + [[0.2, 0.8]] * 3 + [[0.7, 0.3]])
    >>> events = scores_to_events(
    ...     starts, starts + 1, scores, ["speech", "music"], 6.0, 1.0, False
    ... )
    >>> [(e.start, e.end, e.label) for e in events]
    [(0.0, 2.0, 'speech'), (2.0, 5.0, 'music'), (5.0, 6.0, 'speech')]
    """
    if len(window_starts) == 0:
        return []
    bounds, seg, counts = segment_scores(
        window_starts, window_ends, scores, duration, hop, return_counts=True
    )
    active = segment_activity(seg, counts, multi_label, threshold, top_k)
    tracker = EventTracker(labels, merge_gap, min_duration)
    events = tracker.update(bounds, seg, active) + tracker.finish()
    events.sort(key=event_order)
    return events


def event_order(event: TagEvent) -> Tuple[float, float, str]:
    """Sort key of a timeline: by start time, then decreasing score."""
    return (event.start, -event.score, event.label)


def segment_activity(
    seg: np.ndarray,
    counts: np.ndarray,
    multi_label: bool,
    threshold: Optional[float] = None,
    top_k: Optional[int] = None,
) -> np.ndarray:
    """Which classes are active in each segment.

    Arguments
    ---------
    seg : numpy.ndarray
        ``[S, C]`` segment scores.
    counts : numpy.ndarray
        ``[S]`` windows behind each segment (segments seen by no window
        stay off).
    multi_label : bool
        Multi-label: every class with score >= threshold (default 0.5).
        Single-label: the best class if its score >= threshold (default 0).
    threshold : float, optional
        See ``multi_label``.
    top_k : int, optional
        At most this many active classes per segment (multi-label).

    Returns
    -------
    numpy.ndarray
        Bool ``[S, C]``.

    Example
    -------
    >>> seg = np.array([[0.6, 0.7], [0.2, 0.1]])
    >>> segment_activity(seg, np.array([1, 1]), True).tolist()
    [[True, True], [False, False]]
    >>> segment_activity(seg, np.array([1, 0]), False).tolist()
    [[False, True], [False, False]]
    """
    if multi_label:
        threshold = 0.5 if threshold is None else threshold
        active = seg >= threshold
        if top_k is not None and top_k > 0 and top_k < seg.shape[1]:
            rank = np.argsort(np.argsort(-seg, axis=1), axis=1)
            active &= rank < top_k
    else:
        threshold = 0.0 if threshold is None else threshold
        best = seg.argmax(axis=1)
        active = np.zeros_like(seg, dtype=bool)
        rows = np.arange(len(seg))
        active[rows, best] = seg[rows, best] >= threshold
    active &= np.asarray(counts)[:, None] > 0
    return active


class EventTracker:
    """Turns segments, fed in time order, into events (offline and live).

    Consecutive active segments of a class form a run; runs of a class
    separated by at most ``merge_gap`` seconds are merged; an event's score
    is the mean score of its active segments; events shorter than
    ``min_duration`` are dropped. An event is returned as soon as no later
    segment can extend it, so feeding a timeline in any number of pieces
    gives the same events as feeding it at once.

    Arguments
    ---------
    labels : list of str
        Class names.
    merge_gap : float
        Merge runs of a class separated by at most this gap (s; < 0 = 0).
    min_duration : float
        Drop shorter events (s).

    Example
    -------
    >>> tracker = EventTracker(["a", "b"], merge_gap=1.0)
    >>> bounds = np.arange(4.0)
    >>> seg = np.full((3, 2), 0.9)
    >>> active = np.array([[True, False], [False, False], [True, False]])
    >>> tracker.update(bounds, seg, active)
    []
    >>> [(e.start, e.end, e.label) for e in tracker.finish()]
    [(0.0, 3.0, 'a')]
    """

    def __init__(
        self,
        labels: List[str],
        merge_gap: float = 0.0,
        min_duration: float = 0.0,
    ):
        self.labels = list(labels)
        self.merge_gap = max(0.0, float(merge_gap))
        self.min_duration = float(min_duration)
        # the open run of each class (vectorised over classes: a segment
        # updates every class at once, in time order, so the score sums
        # are the same sequential float64 sums however the timeline is cut)
        n = len(self.labels)
        self._is_open = np.zeros(n, dtype=bool)
        self._start = np.zeros(n)
        self._end = np.zeros(n)
        self._total = np.zeros(n)
        self._count = np.zeros(n, dtype=np.int64)

    @property
    def open(self) -> Dict[int, List[float]]:
        """The open runs: class index -> [start, end, score sum, segments]."""
        return {
            int(c): [
                float(self._start[c]),
                float(self._end[c]),
                float(self._total[c]),
                int(self._count[c]),
            ]
            for c in np.flatnonzero(self._is_open)
        }

    def _close(self, classes: np.ndarray) -> List[Tuple[int, TagEvent]]:
        """Closes the runs of ``classes``; (class, event) of those kept."""
        self._is_open[classes] = False
        closed = []
        for c in classes.tolist():
            start, end = float(self._start[c]), float(self._end[c])
            if end - start + 1e-9 < self.min_duration:
                continue
            score = float(self._total[c]) / int(self._count[c])
            closed.append((c, TagEvent(start, end, self.labels[c], score)))
        return closed

    def update(
        self, bounds: np.ndarray, seg: np.ndarray, active: np.ndarray
    ) -> List[TagEvent]:
        """Feeds the next segments; returns the events they close.

        Arguments
        ---------
        bounds : numpy.ndarray
            ``[S + 1]`` boundaries of the segments (s); ``bounds[0]`` is the
            previous piece's last boundary.
        seg : numpy.ndarray
            ``[S, C]`` segment scores.
        active : numpy.ndarray
            Bool ``[S, C]`` (:func:`segment_activity`).

        Returns
        -------
        list of TagEvent
            Events that no later segment can extend, in closing order
            (by class, then time).
        """
        if len(seg) == 0:
            return []
        limit = self.merge_gap + 1e-9
        bounds = np.asarray(bounds, dtype=np.float64)
        seg = np.asarray(seg)
        active = np.asarray(active, dtype=bool)
        closed: List[Tuple[int, TagEvent]] = []
        # one step per segment, every class at once (no loop over classes)
        for s in np.flatnonzero(active.any(axis=1)).tolist():
            on = np.flatnonzero(active[s])
            was_open = self._is_open[on]
            gap = bounds[s] - self._end[on] > limit
            closed += self._close(on[was_open & gap])
            new = on[~self._is_open[on]]
            self._is_open[new] = True
            self._start[new] = bounds[s]
            self._total[new] = 0.0
            self._count[new] = 0
            self._end[on] = bounds[s + 1]
            self._total[on] += seg[s, on]
            self._count[on] += 1
        ended = self._is_open & (bounds[-1] - self._end > limit)
        closed += self._close(np.flatnonzero(ended))
        closed.sort(key=lambda item: item[0])  # stable: time order per class
        return [event for _, event in closed]

    def finish(self) -> List[TagEvent]:
        """Closes the open events (end of the timeline).

        Returns
        -------
        list of TagEvent
            The remaining events.
        """
        return [
            event for _, event in self._close(np.flatnonzero(self._is_open))
        ]
