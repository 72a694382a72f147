"""ONNX export of a frame-level detector, with its post-processing.

:func:`export_detector` turns a
:class:`~ast_sb.inference.frame_detection.FrameLevelDetector` (or its
folder, ``ast_sb_detector.json`` + ``model.safetensors``) into
``model.onnx``: one detector window of 16 kHz waveforms ``[B, N]`` and
their relative lengths ``[B]`` (or normalised fbank features ``[B, T, F]``
and lengths) -> frame probabilities ``scores [B, K, C]`` (sigmoid of the
frame head) and ``frame_counts [B]`` (each clip's own frames; frames past
them are 0). ``K`` is the window's frame count, fixed in the graph.

The post-processing that turns those probabilities into events (labels,
frame hop, per-class thresholds, hysteresis low thresholds, median
windows, window length) is written twice: in ``model_export.json``
(``postprocessing``) and in the ONNX file's ``metadata_props``
(key :data:`METADATA_KEY`, JSON), so an onnxruntime user applies
:func:`ast_sb.inference.sed_postprocessing.scores_to_frame_events` (or the
same median filter and thresholds) with the detector's own settings. Files
longer than a window are cut into consecutive windows outside the graph,
as :class:`~ast_sb.inference.frame_detection.FrameLevelDetector` does.

Like :func:`ast_sb.export.model_export.export_model`, the file is loaded
back into onnxruntime and compared with PyTorch on padded batches of
several sizes: frame counts must be equal and probabilities within
``rtol * max|PyTorch|`` on each clip's frames.

Authors
 * ast_sb developers 2026
"""

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from speechbrain.dataio.dataio import length_to_mask
from torch import nn

from ast_sb.export.atomic_folder import atomic_folder, check_output_folder
from ast_sb.export.model_export import (
    ModelExportError,
    TraceableFbank,
    export_onnx,
    onnx_session,
)
from ast_sb.inference.frame_detection import (
    FrameLevelDetector,
    frame_forward,
    load_detector,
)
from ast_sb.lobes.frame_level import output_frame_count

__all__ = [
    "ExportableFrameDetector",
    "METADATA_KEY",
    "check_detector_onnx",
    "export_detector",
    "read_onnx_postprocessing",
]

METADATA_KEY = "ast_sb_postprocessing"
#: largest allowed difference of the ONNX probabilities from PyTorch,
#: relative to the largest PyTorch probability (waveform input: the graph's
#: MatMul DFT moves the log-mel features by ~1e-6)
DETECTOR_RTOL = 1e-3


class ExportableFrameDetector(nn.Module):
    """Front end (optional), encoder and frame head of one window.

    Arguments
    ---------
    detector : FrameLevelDetector
        The detector.
    input_type : str
        "waveform" (``[B, N]`` + relative lengths, fbank and normaliser in
        the graph) or "features" (normalised ``[B, T, F]`` + lengths
        relative to ``T``).
    """

    def __init__(self, detector: FrameLevelDetector, input_type: str):
        super().__init__()
        modules = detector.modules
        self.fbank = None
        self.norm = None
        if input_type == "waveform":
            self.fbank = TraceableFbank(modules["compute_features"])
            self.norm = modules["mean_var_norm"]
        self.encoder = modules["embedding_model"]
        self.head = modules["classifier"]
        self.frames = detector.frames_per_window

    def forward(
        self, inputs: torch.Tensor, lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Inputs and relative lengths -> ``(scores [B, K, C],
        frame_counts [B])``."""
        feats = inputs
        if self.fbank is not None:
            feats = self.fbank(inputs, lengths)
            # relative_frame_lengths without its value checks
            frames = self.fbank.fbank.valid_frames(lengths, inputs.shape[-1])
            lengths = frames.clamp(min=1).float() / feats.shape[1]
            feats = self.norm(feats, lengths)
        tokens = self.encoder.forward_features(feats, lengths)
        logits, _, mask = self.head(
            tokens, lengths, feats.shape[1], n_output_frames=self.frames
        )
        probs = torch.sigmoid(logits) * mask[..., None].to(logits.dtype)
        return probs, mask.sum(dim=1)


def _reference(detector, input_type, x, lens):
    """PyTorch frame probabilities and counts (the detector's own path)."""
    modules = detector.modules
    if input_type == "waveform":
        logits, _, mask = frame_forward(modules, x, lens)
    else:
        tokens = modules["embedding_model"].forward_features(x, lens)
        logits, _, mask = modules["classifier"](tokens, lens, x.shape[1])
    return torch.sigmoid(logits), mask.sum(dim=1)


def check_detector_onnx(
    path: str,
    detector: FrameLevelDetector,
    input_type: str,
    inputs: Sequence[Tuple[torch.Tensor, torch.Tensor]],
) -> Tuple[float, float]:
    """Largest probability difference of an ONNX detector from PyTorch.

    Arguments
    ---------
    path : str
        ONNX file of :func:`export_detector`.
    detector : FrameLevelDetector
        The PyTorch detector.
    input_type : str
        "waveform" or "features".
    inputs : list of tuple
        ``(inputs, lengths)`` padded batches.

    Returns
    -------
    (float, float)
        Max |ONNX - PyTorch| over each clip's own frames, and the largest
        PyTorch probability.
    """
    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]
    diff, largest = 0.0, 0.0
    with torch.no_grad():
        for x, lens in inputs:
            probs, counts = session.run(
                None, dict(zip(names, (x.numpy(), lens.numpy())))
            )
            ref, ref_counts = _reference(detector, input_type, x, lens)
            if counts.tolist() != ref_counts.tolist():
                raise ModelExportError(
                    f"onnx frame counts {counts.tolist()} differ from "
                    f"PyTorch's {ref_counts.tolist()}."
                )
            for i, k in enumerate(counts.tolist()):
                got = torch.from_numpy(probs[i, :k])
                diff = max(diff, float((got - ref[i, :k]).abs().max()))
                largest = max(largest, float(ref[i, :k].abs().max()))
    return diff, largest


def _add_metadata(path: str, settings: Dict[str, Any]) -> None:
    import onnx

    model = onnx.load(path)
    entry = next(
        (p for p in model.metadata_props if p.key == METADATA_KEY), None
    )
    if entry is None:
        entry = model.metadata_props.add()
        entry.key = METADATA_KEY
    entry.value = json.dumps(settings)
    onnx.save(model, path)


def read_onnx_postprocessing(path: str) -> Dict[str, Any]:
    """The post-processing settings in an exported detector's ONNX file.

    Arguments
    ---------
    path : str
        ``model.onnx`` of :func:`export_detector`.

    Returns
    -------
    dict
        ``labels``, ``frame_hop``, ``threshold``, ``low_threshold``,
        ``median_window``, ``sample_rate``, ``window_seconds``.
    """
    session = onnx_session(path)
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ValueError(
            f"{path} has no {METADATA_KEY!r} metadata: not a detector "
            "exported by ast_sb."
        )
    return json.loads(meta[METADATA_KEY])


def export_detector(
    detector: Any,
    out_dir: str,
    formats: Sequence[str] = ("onnx",),
    input_type: str = "waveform",
    rtol: float = DETECTOR_RTOL,
    batch_sizes: Sequence[int] = (1, 3),
    dynamo: Optional[bool] = None,
    raise_on_error: bool = True,
    seed: int = 0,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Exports a frame-level detector to ONNX and checks its outputs.

    Arguments
    ---------
    detector : FrameLevelDetector or str
        Detector, or its folder.
    out_dir : str
        Output folder (written whole or not at all); a non-empty one is
        refused unless ``overwrite``.
    formats : list of str
        Only "onnx" (the TorchScript / int8 / OpenVINO exports are for
        classifiers).
    input_type : str
        "waveform" (default) or "features".
    rtol : float
        Allowed ``max|ONNX - PyTorch| / max|PyTorch|`` of the probabilities.
    batch_sizes : list of int
        Sizes of the random padded check batches.
    dynamo : bool, optional
        ONNX exporter choice (:func:`ast_sb.export.model_export.export_onnx`).
    raise_on_error : bool
        Raise :class:`ModelExportError` when the export failed.
    seed : int
        Seed of the check inputs.
    overwrite : bool
        Replace a non-empty ``out_dir``.

    Returns
    -------
    dict
        As :func:`ast_sb.export.model_export.export_model`'s report, plus
        ``postprocessing``.

    Example
    -------
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
    >>> det = FrameLevelDetector(modules, ["a", "b"], window_seconds=0.8)
    >>> report = export_detector(det, str(getfixture("tmp_path") / "onnx"))
    ... # doctest: +SKIP
    >>> report["output_shape"], report["onnx"]["ok"]  # doctest: +SKIP
    ([-1, 20, 2], True)
    >>> wavs = torch.randn(2, 12800) * 0.1
    >>> scores, counts = ExportableFrameDetector(det, "waveform")(
    ...     wavs, torch.tensor([1.0, 0.5]))
    >>> scores.shape, counts.tolist()
    (torch.Size([2, 20, 2]), [20, 10])
    """
    formats = list(formats)
    if formats != ["onnx"]:
        raise ValueError(
            f"A frame-level detector exports to ONNX only, got {formats}."
        )
    if input_type not in ("waveform", "features"):
        raise ValueError(
            f"input_type must be 'waveform' or 'features', got {input_type!r}"
        )
    if isinstance(detector, (str, os.PathLike)):
        detector = load_detector(os.fspath(detector))
    module = ExportableFrameDetector(detector, input_type).cpu().eval()
    n_samples = int(round(detector.window_seconds * detector.sample_rate))
    fbank = detector.modules["compute_features"]
    n_fbank = (n_samples - 400) // 160 + 1
    n_mels = int(getattr(fbank, "n_mels", 128))
    shape: List[int] = (
        [n_samples] if input_type == "waveform" else [n_fbank, n_mels]
    )
    generator = torch.Generator().manual_seed(seed)

    def rand(batch: int):
        x = torch.randn([batch] + shape, generator=generator)
        lens = torch.rand(batch, generator=generator) * 0.7 + 0.3
        lens[0] = 1.0
        n = torch.round(lens.double() * shape[0]).long()
        x = x * length_to_mask(n, shape[0], dtype=x.dtype).view(
            [batch, shape[0]] + [1] * (len(shape) - 1)
        )
        if input_type == "waveform":
            x = x * 0.1
        return x, (n.double() / shape[0]).float()

    example = rand(2)
    checks = [rand(b) for b in batch_sizes]
    settings = detector.postprocessing()
    k = int(output_frame_count(torch.tensor(n_fbank), detector.frame_hop))
    report: Dict[str, Any] = {
        "input_type": input_type,
        "input_shape": [-1] + shape,
        "output_shape": [-1, min(k, detector.frames_per_window)]
        + [len(detector.labels)],
        "output": "frame_probabilities",
        "rtol": rtol,
    }
    check_output_folder(out_dir, overwrite)
    with atomic_folder(out_dir, overwrite) as work_dir:
        path = os.path.join(work_dir, "model.onnx")
        entry: Dict[str, Any] = {
            "path": os.path.join(out_dir, "model.onnx"),
            "max_abs_diff": None,
            "ok": False,
            "error": None,
        }
        try:
            export_onnx(
                module,
                example,
                path,
                dynamo=dynamo,
                output_names=["scores", "frame_counts"],
            )
            _add_metadata(path, settings)
            diff, largest = check_detector_onnx(
                path, detector, input_type, checks
            )
            entry["max_abs_diff"] = diff
            limit = rtol * largest
            entry["atol"] = limit
            if not diff <= limit:
                raise ModelExportError(
                    f"onnx frame probabilities differ from PyTorch by "
                    f"{diff:.3g} (> {rtol:g} * {largest:.3g})."
                )
            entry["ok"] = True
        except ModelExportError as err:
            entry["error"] = str(err)
        report["onnx"] = entry
        report["postprocessing"] = settings
        meta = {
            **{k: v for k, v in report.items() if k != "onnx"},
            "files": {"onnx": "model.onnx"} if entry["ok"] else {},
            "outputs": {
                "scores": "[B, K, C] frame probabilities (0 past a clip's "
                "frames)",
                "frame_counts": "[B] each clip's own frames",
            },
            "labels": list(detector.labels),
            "sample_rate": detector.sample_rate,
        }
        with open(
            os.path.join(work_dir, "model_export.json"), "w", encoding="utf-8"
        ) as fout:
            json.dump(meta, fout, indent=2)
    if entry["error"] and raise_on_error:
        raise ModelExportError(f"onnx: {entry['error']}")
    return report
