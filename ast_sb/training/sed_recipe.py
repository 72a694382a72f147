"""The shared steps of ``recipes/SoundEventDetection``.

* :func:`write_strong_manifest`: a strong-label TSV and its audio folder ->
  a JSON manifest (every row checked against the audio durations);
* :func:`run_detection_recipe`: train the frame-level head with
  :class:`ast_sb.training.sed_brain.AudioSpectrogramTransformerDetectionBrain`,
  test, then evaluate on the test files, with the DCASE metrics of
  :mod:`ast_sb.evaluation.sed_evaluation`, the frame-level detector
  (:class:`ast_sb.inference.frame_detection.FrameLevelDetector`) against the
  window-level tagger (:class:`ast_sb.inference.tagging.SlidingWindowTagger` on the
  same network's pooled clip probabilities, windows of
  ``window_tagger_seconds`` every ``window_tagger_hop``); write
  ``sed_results.json`` and the detector folder.

Authors
 * ast_sb developers 2026
"""

import json
import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from speechbrain.utils.distributed import if_main_process

from ast_sb.dataio.audio_checks import read_duration
from ast_sb.dataio.strong_labels import (
    StrongLabelError,
    read_strong_labels,
    read_weak_labels,
    strong_label_dataset,
)
from ast_sb.export.detector_card import write_detector_card
from ast_sb.inference.frame_detection import (
    FrameLevelDetector,
    save_detector,
)
from ast_sb.inference.sed_postprocessing import median_filter_scores
from ast_sb.inference.tagging import SlidingWindowTagger, segment_scores
from ast_sb.training.recipe import (
    build_brain,
    dataloader_options,
    load_pretrained_weights,
)
from ast_sb.training.sed_brain import AudioSpectrogramTransformerDetectionBrain

__all__ = [
    "write_strong_manifest",
    "add_weak_clips",
    "run_detection_recipe",
    "evaluate_systems",
]

logger = logging.getLogger(__name__)
Event = Tuple[float, float, str]


def write_strong_manifest(
    tsv: str,
    audio_folder: str,
    manifest: str,
    layout: str = "desed",
    classes: Optional[Sequence[str]] = None,
) -> List[str]:
    """Writes the JSON manifest of a strong-label TSV; returns its classes.

    Every file of the TSV must exist in ``audio_folder``; its duration is
    read from the header and every event is checked against it.

    Example
    -------
    >>> import soundfile as sf
    >>> tmp = getfixture("tmp_path")
    >>> sf.write(tmp / "x.wav", np.zeros(16000), 16000)
    >>> _ = (tmp / "s.tsv").write_text(
    ...     "filename\\tonset\\toffset\\tevent_label\\nx.wav\\t0.5\\t1.5\\tDog\\n")
    >>> write_strong_manifest(str(tmp / "s.tsv"), str(tmp), str(tmp / "m.json"))
    Traceback (most recent call last):
    ...
    ast_sb.dataio.strong_labels.StrongLabelError: .../s.tsv:2: offset 1.5 is past the end of x.wav (1.000 s).
    """
    names = read_strong_labels(tsv, layout)  # file order, row checks
    durations = {}
    for name in names:
        path = os.path.join(audio_folder, name)
        if not os.path.isfile(path):
            raise StrongLabelError(f"{tsv}: no audio file {path} for {name}.")
        durations[name] = read_duration(path)
    events = read_strong_labels(tsv, layout, classes, durations)
    data = {
        os.path.splitext(name)[0]: {
            "wav": os.path.abspath(os.path.join(audio_folder, name)),
            "duration": durations[name],
            "events": [list(e) for e in file_events],
        }
        for name, file_events in events.items()
    }
    os.makedirs(os.path.dirname(os.path.abspath(manifest)), exist_ok=True)
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    return sorted(
        {e[2] for file_events in events.values() for e in file_events}
    )


def add_weak_clips(
    manifest: str,
    tsv: str,
    audio_folder: str,
    classes: Optional[Sequence[str]] = None,
) -> List[str]:
    """Adds weakly labelled clips (DESED ``weak.tsv``) to a manifest.

    The clips get ``"labels"`` (no ``"events"``): they train the clip
    loss only. Returns their classes.
    """
    weak = read_weak_labels(tsv, classes)
    with open(manifest, encoding="utf-8") as f:
        data = json.load(f)
    for name, labels in weak.items():
        path = os.path.join(audio_folder, name)
        if not os.path.isfile(path):
            raise StrongLabelError(f"{tsv}: no audio file {path} for {name}.")
        key = "weak/" + os.path.splitext(name)[0]
        data[key] = {
            "wav": os.path.abspath(path),
            "duration": read_duration(path),
            "labels": labels,
        }
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    return sorted({label for labels in weak.values() for label in labels})


def _reference(
    manifest: str,
) -> Tuple[Dict[str, List[Event]], Dict[str, float], Dict[str, str]]:
    with open(manifest, encoding="utf-8") as f:
        data = json.load(f)
    reference = {
        k: [tuple(e) for e in v.get("events") or []] for k, v in data.items()
    }
    durations = {k: float(v["duration"]) for k, v in data.items()}
    paths = {k: v["wav"] for k, v in data.items()}
    return reference, durations, paths


def evaluate_systems(
    detector: FrameLevelDetector,
    manifest: str,
    window_seconds: float = 1.0,
    window_hop: float = 0.5,
    plot_folder: Optional[str] = None,
    n_plots: int = 3,
) -> Dict[str, Dict[str, float]]:
    """DCASE metrics of the frame-level detector and the window tagger.

    Both systems use the detector's threshold; PSDS uses the frame-level
    detector's median-filtered frame probabilities and the window tagger's
    segment scores (``window_hop`` segments). With ``plot_folder`` the
    first ``n_plots`` files get a timeline PNG (reference, detected events,
    frame probabilities).

    Returns
    -------
    dict
        ``{"frame_level": metrics, "window_level": metrics}``
        (:func:`ast_sb.evaluation.sed_evaluation.evaluate_detection`).
    """
    from ast_sb.evaluation.sed_evaluation import evaluate_detection

    reference, durations, paths = _reference(manifest)
    labels = detector.labels
    threshold = detector.threshold
    tagger = SlidingWindowTagger(
        detector.clip_probabilities,
        window=window_seconds,
        hop=window_hop,
        threshold=float(np.min(threshold)),
        labels=labels,
        multi_label=True,
        sample_rate=detector.sample_rate,
    )
    frame_events, frame_curves = {}, {}
    window_events, window_curves = {}, {}
    for index, (name, path) in enumerate(paths.items()):
        events, scores = detector.detect_file(path)
        frame_events[name] = events
        if plot_folder and index < n_plots:
            from ast_sb.evaluation.sed_plots import plot_event_timeline

            plot_event_timeline(
                os.path.join(plot_folder, f"{name}.png"),
                labels,
                reference[name],
                events,
                durations[name],
                scores,
                detector.frame_hop,
                title=f"{name}: reference (wide) and frame-level events",
            )
        k = len(scores)
        stamps = np.minimum(
            np.arange(k + 1) * detector.frame_hop, durations[name]
        )
        stamps[-1] = max(stamps[-1], stamps[-2] + 1e-3) if k else 0.0
        frame_curves[name] = (
            median_filter_scores(scores, detector.median_window),
            stamps,
        )
        result = tagger.tag_file(path)
        window_events[name] = [(e.start, e.end, e.label) for e in result.events]
        bounds, seg = segment_scores(
            result.window_starts,
            result.window_ends,
            result.scores,
            result.duration,
            window_hop,
        )
        window_curves[name] = (seg, bounds)
    return {
        "frame_level": evaluate_detection(
            reference, frame_events, frame_curves, labels, durations
        ),
        "window_level": evaluate_detection(
            reference, window_events, window_curves, labels, durations
        ),
    }


def run_detection_recipe(
    hparams: Dict[str, Any],
    run_opts: dict,
    manifests: Mapping[str, str],
    classes: Sequence[str],
) -> Dict[str, Any]:
    """Trains, tests and evaluates the frame-level AST (see module docstring).

    Arguments
    ---------
    hparams : dict
        Loaded hyperparameters (``recipes/SoundEventDetection/hparams``).
    run_opts : dict
        SpeechBrain run options.
    manifests : mapping
        "train", "valid", "test" JSON manifests (:func:`write_strong_manifest`).
    classes : sequence of str
        Event classes (head order).

    Returns
    -------
    dict
        What ``sed_results.json`` holds.
    """
    frame_hop = float(hparams["frame_hop"])
    datasets = {
        split: strong_label_dataset(
            path, classes, frame_hop, hparams["sample_rate"]
        )
        for split, path in manifests.items()
    }
    load_pretrained_weights(hparams)
    loader_opts = dataloader_options(hparams, datasets)
    brain = build_brain(
        hparams, run_opts, AudioSpectrogramTransformerDetectionBrain
    )
    start = time.time()
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=loader_opts["train"],
        valid_loader_kwargs=loader_opts["valid"],
    )
    brain.evaluate(
        datasets["test"],
        test_loader_kwargs=loader_opts["test"],
        max_key="mAP",
    )
    train_seconds = time.time() - start
    modules = {name: brain.modules[name] for name in brain.modules}
    detector = FrameLevelDetector(
        modules,
        classes,
        sample_rate=hparams["sample_rate"],
        threshold=hparams["threshold"],
        low_threshold=hparams.get("low_threshold"),
        median_window=hparams["median_window"],
    )
    results: Dict[str, Any] = {
        "classes": list(classes),
        "test_clip_stats": brain.test_stats,
        "train_and_test_seconds": round(train_seconds, 1),
        "threshold": hparams["threshold"],
        "median_window": hparams["median_window"],
        "frame_hop": frame_hop,
        "window_tagger": {
            "window": hparams["window_tagger_seconds"],
            "hop": hparams["window_tagger_hop"],
        },
    }
    if if_main_process():
        if hparams.get("evaluate", True):
            results.update(
                evaluate_systems(
                    detector,
                    manifests["test"],
                    hparams["window_tagger_seconds"],
                    hparams["window_tagger_hop"],
                    plot_folder=os.path.join(
                        hparams["output_folder"], "timelines"
                    ),
                )
            )
        save_detector(hparams["detector_folder"], detector)
        write_detector_card(hparams["detector_folder"], detector, results)
        with open(hparams["sed_results_file"], "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        logger.info("sound event detection results: %s", results)
    return results
