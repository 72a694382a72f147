"""Timeline plot of detected against reference events of one file.

One row per class: reference events as wide light bars, detected events
as narrow dark bars inside them, and optionally the frame probabilities
of the class as a curve. Uses the Agg canvas of :mod:`ast_sb.evaluation.plots`.

Authors
 * ast_sb developers 2026
"""

from typing import Optional, Sequence, Tuple

import numpy as np

from ast_sb.evaluation.plots import _figure, _save

__all__ = ["plot_event_timeline"]

Event = Tuple[float, float, str]


def plot_event_timeline(
    path: str,
    labels: Sequence[str],
    reference: Sequence[Event],
    detected: Sequence[Event],
    duration: float,
    scores: Optional[np.ndarray] = None,
    frame_hop: Optional[float] = None,
    title: str = "",
) -> str:
    """Writes the timeline PNG and returns its path.

    Arguments
    ---------
    path : str
        Output PNG.
    labels : sequence of str
        Classes (one row each).
    reference, detected : sequence of tuple
        ``(onset, offset, label)`` events.
    duration : float
        File length in seconds (the x range).
    scores : numpy.ndarray, optional
        [K, C] frame probabilities, drawn per row.
    frame_hop : float, optional
        Frame hop of ``scores``.
    title : str
        Figure title.

    Example
    -------
    >>> import os
    >>> out = str(getfixture("tmp_path") / "t.png")
    >>> p = plot_event_timeline(out, ["a", "b"], [(0.5, 1.0, "a")],
    ...                         [(0.6, 1.1, "a")], 2.0,
    ...                         np.zeros((50, 2)), 0.04)
    >>> os.path.getsize(p) > 0
    True
    """
    rows = {label: i for i, label in enumerate(labels)}
    fig = _figure(10, 0.6 * len(labels) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    for onset, offset, label in reference:
        ax.barh(
            rows[label],
            offset - onset,
            left=onset,
            height=0.8,
            color="tab:green",
            alpha=0.35,
        )
    for onset, offset, label in detected:
        ax.barh(
            rows[label],
            offset - onset,
            left=onset,
            height=0.3,
            color="tab:blue",
        )
    if scores is not None and frame_hop is not None:
        times = (np.arange(len(scores)) + 0.5) * frame_hop
        for row in rows.values():
            ax.plot(
                times,
                row - 0.4 + 0.8 * scores[:, row],
                color="black",
                linewidth=0.6,
            )
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(list(labels))
    ax.set_xlim(0, duration)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlabel("time (s)")
    ax.set_title(
        title or "reference (wide, green) and detected (narrow, blue) events"
    )
    fig.tight_layout()
    return _save(fig, path)
