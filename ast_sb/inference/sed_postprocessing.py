"""Frame scores -> events: per-class median filter, thresholds, hysteresis.

:func:`median_filter_scores` smooths each class's frame probabilities with
its own window (``scipy.ndimage.median_filter``, edges repeated);
:func:`scores_to_frame_events` turns them into ``(onset, offset, label)``
events: with one threshold a run of frames at or above it is an event; with
hysteresis (``low < high``) a run of frames at or above ``low`` is an event
when one of its frames reaches ``high``. Frame ``k`` spans
``[k * frame_hop, (k + 1) * frame_hop)``. The runs of every class are found
at once (NumPy, no loop over frames or classes).

Authors
 * ast_sb developers 2026
"""

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.ndimage import median_filter

__all__ = ["median_filter_scores", "scores_to_frame_events", "per_class"]

Event = Tuple[float, float, str]


def per_class(
    value: Union[float, Sequence[float]], n_classes: int, name: str
) -> np.ndarray:
    """A scalar or one value per class as a float array [C].

    Example
    -------
    >>> per_class(0.5, 2, "threshold").tolist()
    [0.5, 0.5]
    >>> per_class([1, 2, 3], 2, "threshold")
    Traceback (most recent call last):
    ...
    ValueError: threshold has 3 values for 2 classes.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n_classes, float(array))
    if array.shape != (n_classes,):
        raise ValueError(
            f"{name} has {array.size} values for {n_classes} classes."
        )
    return array


def median_filter_scores(
    scores: np.ndarray, window: Union[int, Sequence[int]]
) -> np.ndarray:
    """Median-filters each class's frame scores [K, C] along time.

    Arguments
    ---------
    scores : numpy.ndarray
        [K, C] frame probabilities.
    window : int or sequence of int
        Window in frames (1 = no filtering), one for all or one per class.

    Returns
    -------
    numpy.ndarray
        [K, C] filtered scores.

    Example
    -------
    >>> s = np.array([[0.0], [0.9], [0.0], [0.0], [0.8], [0.9], [0.7]])
    >>> median_filter_scores(s, 3)[:, 0].tolist()
    [0.0, 0.0, 0.0, 0.0, 0.8, 0.8, 0.7]
    """
    scores = np.asarray(scores, dtype=np.float64)
    windows = per_class(window, scores.shape[1], "median window").astype(int)
    if (windows < 1).any():
        raise ValueError(
            f"median windows must be >= 1, got {windows.tolist()}."
        )
    out = scores.copy()
    # one call per distinct window size (a handful), every class at once
    for size in np.unique(windows):
        if size == 1:
            continue
        cols = np.flatnonzero(windows == size)
        out[:, cols] = median_filter(
            scores[:, cols], size=(int(size), 1), mode="nearest"
        )
    return out


def scores_to_frame_events(
    scores: np.ndarray,
    labels: Sequence[str],
    frame_hop: float,
    threshold: Union[float, Sequence[float]] = 0.5,
    low_threshold: Optional[Union[float, Sequence[float]]] = None,
    median_window: Union[int, Sequence[int]] = 1,
) -> List[Event]:
    """Frame probabilities [K, C] -> events sorted by onset, then label.

    Arguments
    ---------
    scores : numpy.ndarray
        [K, C] frame probabilities.
    labels : sequence of str
        The C class names.
    frame_hop : float
        Frame hop in seconds.
    threshold : float or sequence of float
        Per-class threshold (the high threshold with hysteresis).
    low_threshold : float or sequence of float, optional
        Hysteresis: frames at or above it extend an event that reaches
        ``threshold``; None: no hysteresis.
    median_window : int or sequence of int
        Per-class median filter window in frames, applied first.

    Returns
    -------
    list of tuple
        ``(onset, offset, label)`` in seconds.

    Example
    -------
    >>> s = np.array([0.1, 0.6, 0.9, 0.4, 0.6, 0.1])[:, None]
    >>> scores_to_frame_events(s, ["dog"], 0.5, threshold=0.5)
    [(0.5, 1.5, 'dog'), (2.0, 2.5, 'dog')]
    >>> scores_to_frame_events(s, ["dog"], 0.5, 0.8, low_threshold=0.3)
    [(0.5, 2.5, 'dog')]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(labels):
        raise ValueError(
            f"scores must be [frames, {len(labels)}], got shape {scores.shape}."
        )
    n_frames, n_classes = scores.shape
    high = per_class(threshold, n_classes, "threshold")
    low = (
        high
        if low_threshold is None
        else per_class(low_threshold, n_classes, "low_threshold")
    )
    if (low > high).any():
        raise ValueError("low_threshold must not exceed threshold.")
    if n_frames == 0:
        return []
    scores = median_filter_scores(scores, median_window)
    active = scores >= low  # [K, C]
    # runs per class: transitions of the padded [C, K + 2] activity
    padded = np.zeros((n_classes, n_frames + 2), dtype=np.int8)
    padded[:, 1:-1] = active.T
    change = np.diff(padded, axis=1)
    start_c, start_k = np.nonzero(change == 1)
    _, end_k = np.nonzero(change == -1)  # same order: class, then time
    if start_k.size == 0:
        return []
    # the maximum of each run (a run lies in one class's row)
    flat = scores.T.reshape(-1)
    run_max = _run_max(
        flat, start_c * n_frames + start_k, start_c * n_frames + end_k
    )
    keep = run_max >= high[start_c]
    events = [
        (float(a * frame_hop), float(b * frame_hop), labels[c])
        for c, a, b in zip(start_c[keep], start_k[keep], end_k[keep])
    ]
    events.sort(key=lambda e: (e[0], e[2], e[1]))
    return events


def _run_max(
    flat: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Maximum of ``flat[starts[i]:ends[i]]`` for sorted, disjoint runs."""
    # interleave starts and ends; reduceat over [start, end) pieces
    bounds = np.empty(2 * starts.size, dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    last = bounds[-1] >= flat.size
    values = np.append(flat, -np.inf) if last else flat
    return np.maximum.reduceat(values, bounds)[0::2]
