"""README.md model card of a frame-level detector folder.

The folder :func:`ast_sb.inference.frame_detection.save_detector` writes
(``ast_sb_detector.json`` + ``model.safetensors``) carries the
post-processing; :func:`write_detector_card` adds a ``README.md`` saying
what the detector does and how it was made, in the manner of
:mod:`ast_sb.export.model_card`: the classes, the encoder and frame
geometry, the per-class post-processing, the recipe's test metrics (frame-
level detector and window-level tagger) and how to load the folder
(``ast-sb tag / stream --frame-level``, the interface, ONNX).

Authors
 * ast_sb developers 2026
"""

import os
from typing import Any, Mapping, Optional, Sequence

from ast_sb.export.model_card import CARD_NAME, _fmt, _patch_shape

__all__ = ["detector_card_text", "write_detector_card"]

_SYSTEM_KEYS = (
    "event_f1",
    "segment_f1",
    "psds1",
    "psds2",
    "median_onset_error",
)


def _per_class(value: Any, index: int) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value[index]
    return value


def _metric(value: Any) -> str:
    if isinstance(value, Mapping):  # e.g. {"f_measure": ..., ...}
        for key in ("f_measure", "value", "psds"):
            if key in value:
                return _fmt(value[key])
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return _fmt(value)


def detector_card_text(
    detector: Any, results: Optional[Mapping[str, Any]] = None
) -> str:
    """The Markdown card of a detector folder.

    Arguments
    ---------
    detector : FrameLevelDetector
        The saved detector.
    results : Mapping, optional
        The recipe's ``sed_results.json`` (``frame_level`` /
        ``window_level`` metrics, ``test_clip_stats``).

    Returns
    -------
    str
        Markdown text.

    Example
    -------
    >>> from ast_sb.inference.frame_detection import FrameLevelDetector
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
    >>> from ast_sb.lobes.frame_level import (
    ...     AudioSpectrogramTransformerFrameClassifier)
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", n_mels=32, target_length=100, depth=1,
    ...     use_padding_mask=True)
    >>> modules = {
    ...     "compute_features": KaldiFbank(n_mels=32),
    ...     "mean_var_norm": AudioSpectrogramNormalizer(),
    ...     "embedding_model": enc,
    ...     "classifier": AudioSpectrogramTransformerFrameClassifier
    ...         .for_encoder(enc, 2, frame_hop=0.04),
    ... }
    >>> det = FrameLevelDetector(modules, ["dog", "cat"],
    ...     threshold=[0.5, 0.7], median_window=[3, 5])
    >>> text = detector_card_text(
    ...     det, {"frame_level": {"event_f1": 0.61, "psds1": 0.4}})
    >>> "| cat | 0.7 | - | 5 |" in text, "| frame-level | 0.61 |" in text
    (True, True)
    """
    results = results or {}
    labels = list(detector.labels)
    enc = dict(
        getattr(detector.modules["embedding_model"], "constructor_args", {})
    )
    lines = [
        "# AST frame-level sound event detector",
        "",
        f"Detects {len(labels)} sound event classes with onsets and offsets "
        f"at {_fmt(detector.frame_hop * 1000)} ms frames: "
        + ", ".join(labels)
        + ". Made by `recipes/SoundEventDetection` (ast_sb): an Audio "
        "Spectrogram Transformer encoder with a frame-level head "
        "(`ast_sb.lobes.frame_level`), trained on strong (onset/offset) "
        "and weak (clip) labels.",
        "",
        "## Model",
        "",
        f"- model: AST {enc.get('size')} (depth {enc.get('depth')}), "
        f"{enc.get('n_mels')} mel bins, patches {_patch_shape(enc)}, "
        f"tstride {enc.get('tstride')}",
        f"- input: {detector.sample_rate} Hz mono; files are cut into "
        f"consecutive {_fmt(detector.window_seconds)} s windows whose "
        "frames are concatenated",
        f"- output: per-class frame probabilities every "
        f"{_fmt(detector.frame_hop)} s",
        "",
        "## Post-processing (carried by `ast_sb_detector.json`)",
        "",
        "Per class: median filter over `median window` frames, then "
        "frames above `threshold` start an event that lasts while the "
        "probability stays above `low threshold` (hysteresis; `-`: the "
        "threshold itself).",
        "",
        "| class | threshold | low threshold | median window |",
        "|---|---|---|---|",
    ]
    for i, label in enumerate(labels):
        low = _per_class(detector.low_threshold, i)
        lines.append(
            f"| {label} | {_fmt(_per_class(detector.threshold, i))} | "
            f"{'-' if low is None else _fmt(low)} | "
            f"{_fmt(_per_class(detector.median_window, i))} |"
        )
    systems = [
        (name, results[key])
        for name, key in (
            ("frame-level", "frame_level"),
            ("window-level tagger", "window_level"),
        )
        if isinstance(results.get(key), Mapping)
    ]
    if systems:
        lines += [
            "",
            "## Test results (recipe test set)",
            "",
            "Event-based F1 (200 ms collar) and segment F1 (1 s) from "
            "`sed_eval`, PSDS1/2 from `sed_scores_eval`, median onset "
            "error in seconds.",
            "",
            "| system | " + " | ".join(_SYSTEM_KEYS) + " |",
            "|---|" + "---|" * len(_SYSTEM_KEYS),
        ]
        for name, metrics in systems:
            cells = [
                _metric(metrics[k]) if k in metrics else "-"
                for k in _SYSTEM_KEYS
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    clip = results.get("test_clip_stats")
    if isinstance(clip, Mapping) and "mAP" in clip:
        lines += ["", f"Clip-level mAP (pooled frames): {_fmt(clip['mAP'])}."]
    lines += [
        "",
        "## How to load",
        "",
        "```bash",
        "ast-sb tag long.wav --model THIS_FOLDER --frame-level",
        "ast-sb stream rec.wav --model THIS_FOLDER --frame-level",
        "ast-sb export --model THIS_FOLDER --out onnx_dir  # model.onnx",
        "```",
        "",
        "```python",
        "from ast_sb.inference.interface import "
        "AudioSpectrogramTransformerInterface",
        "",
        'det = AudioSpectrogramTransformerInterface.from_folder("THIS_FOLDER")',
        'events, frame_probs = det.detect_file("long.wav")  '
        "# [(onset, offset, label)], [K, C]",
        "results = det.detect_batch(wavs, lengths)  # padded batch",
        "```",
        "",
        "The ONNX graph maps one window of waveforms `[B, N]` and relative "
        "lengths `[B]` to `scores [B, K, C]` and `frame_counts [B]`; the "
        "post-processing above is in `model_export.json` and in the "
        "ONNX metadata (`ast_sb.export.detector_export."
        "read_onnx_postprocessing`), to apply with "
        "`ast_sb.inference.sed_postprocessing.scores_to_frame_events`.",
        "",
    ]
    return "\n".join(lines)


def write_detector_card(
    folder: str, detector: Any, results: Optional[Mapping[str, Any]] = None
) -> str:
    """Writes ``folder/README.md`` (see :func:`detector_card_text`).

    Arguments
    ---------
    folder : str
        The detector folder.
    detector : FrameLevelDetector
        The saved detector.
    results : Mapping, optional
        The recipe's results.

    Returns
    -------
    str
        Path of the written card.
    """
    path = os.path.join(folder, CARD_NAME)
    with open(path, "w", encoding="utf-8") as fout:
        fout.write(detector_card_text(detector, results))
    return path
