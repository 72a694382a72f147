"""DCASE sound event detection metrics, computed by the standard libraries.

* :func:`event_f1`: event-based F-score (``sed_eval.sound_event
  .EventBasedMetrics``: onset collar, offset collar of ``max(collar, 20 %
  of the event's length)``), class-wise macro average, as in DCASE task 4;
* :func:`segment_f1`: segment-based F-score on 1 s segments
  (``sed_eval.sound_event.SegmentBasedMetrics``), micro average;
* :func:`psds`: the polyphonic sound detection score, threshold-independent
  (``sed_scores_eval.intersection_based.psds``, as in DCASE since 2023),
  with the DCASE scenario 1 / 2 settings (``psds_eval`` 0.5.3 fails with
  NumPy 2 and pandas 3: ``int()`` of an array, ``fillna(method=...)``);
* :func:`median_onset_error`: the median absolute onset difference of
  reference events and their closest overlapping detection of the same
  class (the one number not from a library: neither library reports it).

``sed_eval`` imports ``dcase_util``, which needs ``pkg_resources``, gone
from setuptools 81 on (``sed_scores_eval`` imports ``sed_eval``): the
``sed`` extra pins ``setuptools<81``. Events
are ``(onset, offset, label)`` tuples per file name.

Authors
 * ast_sb developers 2026
"""

import warnings
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

__all__ = [
    "event_f1",
    "segment_f1",
    "psds",
    "median_onset_error",
    "evaluate_detection",
    "merge_overlaps",
    "PSDS_SCENARIOS",
]

Event = Tuple[float, float, str]
Events = Mapping[str, Sequence[Event]]

#: DCASE 2021+ task 4 PSDS scenarios (psds_eval arguments).
PSDS_SCENARIOS = {
    1: dict(dtc=0.7, gtc=0.7, cttc=None, alpha_ct=0.0, alpha_st=1.0),
    2: dict(dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0),
}


def _sed_eval():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import sed_eval
    except ImportError as err:  # pkg_resources (setuptools >= 81)
        raise ImportError(
            f"sed_eval could not be imported ({err}); install the sed extra "
            "(pip install 'ast-sb[sed]', which pins setuptools<81: sed_eval's "
            "dcase_util needs pkg_resources)."
        ) from err
    return sed_eval


def _as_dicts(name: str, events: Sequence[Event]) -> List[dict]:
    return [
        {
            "filename": name,
            "onset": float(a),
            "offset": float(b),
            "event_label": c,
        }
        for a, b, c in events
    ]


def event_f1(
    reference: Events,
    estimated: Events,
    labels: Sequence[str],
    collar: float = 0.2,
    percentage_of_length: float = 0.2,
) -> float:
    """Class-wise macro event-based F-score (``sed_eval``).

    Example
    -------
    >>> ref = {"a.wav": [(1.0, 2.0, "dog")]}
    >>> event_f1(ref, {"a.wav": [(1.1, 2.1, "dog")]}, ["dog"])
    1.0
    >>> event_f1(ref, {"a.wav": [(1.5, 2.5, "dog")]}, ["dog"])
    0.0
    """
    sed_eval = _sed_eval()
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(labels),
        t_collar=collar,
        percentage_of_length=percentage_of_length,
    )
    for name in reference:
        metrics.evaluate(
            _as_dicts(name, reference[name]),
            _as_dicts(name, estimated.get(name, [])),
        )
    value = metrics.results_class_wise_average_metrics()["f_measure"][
        "f_measure"
    ]
    return float(value)


def segment_f1(
    reference: Events,
    estimated: Events,
    labels: Sequence[str],
    durations: Mapping[str, float],
    segment: float = 1.0,
) -> float:
    """Micro segment-based F-score on ``segment``-second segments (``sed_eval``).

    Example
    -------
    >>> ref = {"a.wav": [(1.0, 2.0, "dog")]}
    >>> segment_f1(ref, {"a.wav": [(1.1, 1.9, "dog")]}, ["dog"], {"a.wav": 4})
    1.0
    """
    sed_eval = _sed_eval()
    metrics = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=list(labels), time_resolution=segment
    )
    for name in reference:
        metrics.evaluate(
            _as_dicts(name, reference[name]),
            _as_dicts(name, estimated.get(name, [])),
            evaluated_length_seconds=float(durations[name]),
        )
    return float(metrics.results_overall_metrics()["f_measure"]["f_measure"])


def psds(
    reference: Events,
    scores: Mapping[str, Tuple[np.ndarray, np.ndarray]],
    labels: Sequence[str],
    durations: Mapping[str, float],
    scenario: int = 1,
    max_efpr: float = 100.0,
) -> float:
    """Threshold-independent PSDS (``sed_scores_eval.intersection_based``).

    Arguments
    ---------
    reference : mapping
        Reference events per file.
    scores : mapping
        Per file ``(probs [K, C], timestamps [K + 1])``: the system's score
        curves (post-processing such as median filtering included), frame
        ``k`` spanning ``timestamps[k]`` to ``timestamps[k + 1]``.
    labels : sequence of str
        The C class names; PSDS averages over those with reference events
        (``sed_scores_eval`` refuses classes without any).
    durations : mapping
        File durations in seconds (every file of ``reference``).
    scenario : int
        1 or 2: DCASE task 4 settings (:data:`PSDS_SCENARIOS`).
    max_efpr : float
        Maximum effective false positive rate per hour.

    Returns
    -------
    float
        The PSDS in [0, 1].

    Example
    -------
    >>> ref = {"a": [(1.0, 2.0, "dog")], "b": [(0.0, 1.0, "cat")]}
    >>> t = np.arange(5.0)
    >>> curves = {
    ...     "a": (np.array([[0, 0], [0, 1], [0, 0], [0, 0.]]), t),
    ...     "b": (np.array([[1, 0], [0, 0], [0, 0], [0, 0.]]), t),
    ... }
    >>> psds(ref, curves, ["cat", "dog"], {"a": 4.0, "b": 4.0})
    1.0
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _sed_eval()
        from sed_scores_eval.base_modules.scores import create_score_dataframe
        from sed_scores_eval.intersection_based import psds as library_psds

    settings = PSDS_SCENARIOS[int(scenario)]
    reference = merge_overlaps(reference)
    # the library needs reference events of every class it scores
    present = {e[2] for events in reference.values() for e in events}
    keep = [i for i, label in enumerate(labels) if label in present]
    if not keep:
        raise ValueError("PSDS needs at least one reference event.")
    frames = {
        name: create_score_dataframe(
            np.asarray(scores[name][0], dtype=np.float64)[:, keep],
            np.asarray(scores[name][1], dtype=np.float64),
            [labels[i] for i in keep],
        )
        for name in reference
    }
    truth = {name: [tuple(e) for e in reference[name]] for name in reference}
    value = library_psds(
        frames,
        truth,
        {name: float(durations[name]) for name in reference},
        dtc_threshold=settings["dtc"],
        gtc_threshold=settings["gtc"],
        cttc_threshold=settings["cttc"],
        alpha_ct=settings["alpha_ct"],
        alpha_st=settings["alpha_st"],
        max_efpr=max_efpr,
    )[0]
    return float(value)


def merge_overlaps(events: Events) -> Dict[str, List[Event]]:
    """Merges overlapping or touching events of the same class per file.

    Mixed soundscapes can hold two overlapping events of one class; as a
    reference they are one event (``sed_scores_eval`` refuses them).

    Example
    -------
    >>> merge_overlaps({"a": [(0.0, 1.0, "x"), (0.5, 2.0, "x"), (0.2, 0.4, "y")]})
    {'a': [(0.0, 2.0, 'x'), (0.2, 0.4, 'y')]}
    """
    merged: Dict[str, List[Event]] = {}
    for name, file_events in events.items():
        out: List[Event] = []
        for onset, offset, label in sorted(
            file_events, key=lambda e: (e[2], e[0])
        ):
            if out and out[-1][2] == label and onset <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], offset), label)
            else:
                out.append((onset, offset, label))
        merged[name] = sorted(out, key=lambda e: (e[0], e[2]))
    return merged


def _rows(name: str, events: Sequence[Event]) -> List[tuple]:
    return [(name, float(a), float(b), c) for a, b, c in events]


def median_onset_error(reference: Events, estimated: Events) -> float:
    """Median |onset difference| of reference events and their detection.

    A reference event's detection is the overlapping estimated event of
    the same class with the closest onset; unmatched events are left out
    (NaN when none matches).

    Example
    -------
    >>> ref = {"a.wav": [(1.0, 2.0, "dog"), (5.0, 6.0, "dog")]}
    >>> est = {"a.wav": [(1.25, 2.0, "dog"), (4.5, 5.5, "dog")]}
    >>> median_onset_error(ref, est)
    0.375
    """
    errors: List[float] = []
    for name, events in reference.items():
        found = estimated.get(name, [])
        for onset, offset, label in events:
            gaps = [
                abs(a - onset)
                for a, b, c in found
                if c == label and a < offset and b > onset
            ]
            if gaps:
                errors.append(min(gaps))
    return float(np.median(errors)) if errors else float("nan")


def evaluate_detection(
    reference: Events,
    estimated: Events,
    scores: Mapping[str, Tuple[np.ndarray, np.ndarray]],
    labels: Sequence[str],
    durations: Mapping[str, float],
) -> Dict[str, float]:
    """Every metric of this module for one system.

    Arguments
    ---------
    reference, estimated : mapping
        Reference and detected events per file.
    scores : mapping
        Score curves per file for PSDS (see :func:`psds`).
    labels : sequence of str
        Class names.
    durations : mapping
        File durations in seconds.

    Returns
    -------
    dict
        ``event_f1``, ``segment_f1``, ``psds1``, ``psds2`` and
        ``median_onset_error`` (overlapping reference events of one class
        merged first, :func:`merge_overlaps`).
    """
    reference = merge_overlaps(reference)
    return {
        "event_f1": event_f1(reference, estimated, labels),
        "segment_f1": segment_f1(reference, estimated, labels, durations),
        "psds1": psds(reference, scores, labels, durations, scenario=1),
        "psds2": psds(reference, scores, labels, durations, scenario=2),
        "median_onset_error": median_onset_error(reference, estimated),
    }
