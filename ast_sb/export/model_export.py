"""TorchScript and ONNX export of AST classifiers, with equality checks.

:func:`export_model` turns a loaded
:class:`~ast_sb.inference.interface.AudioSpectrogramTransformerInterface` (or an
exported folder) into

* ``model.torchscript.pt`` (``torch.jit.trace``; timm blocks trace fine), and
* ``model.onnx`` (``torch.onnx.export``: the ``torch.export``-based
  exporter when ``onnxscript`` is installed, else the legacy TorchScript
  exporter),
* on request, ``model.int8.onnx``: the ONNX export with dynamic int8
  MatMuls (``onnxruntime.quantization.quantize_dynamic``; int8 weights
  with one scale per output channel, activations quantised per tensor at
  run time; the quantiser of ``fast_path="int8"``). Its outputs are checked
  against the fp32 PyTorch model with a looser tolerance,
  :data:`INT8_RTOL` (0.5) times the standard deviation of the reference
  outputs (measured: 0.07 on a random depth-1 tiny224, 0.25 on a random
  12-block tiny224 at 1024 frames; a broken graph gives differences of
  the order of the outputs' spread),

plus ``model_export.json`` describing inputs, outputs and labels. Each file
is loaded back (``torch.jit.load`` / ``onnxruntime``) and its outputs are
compared with the PyTorch model on random inputs of several batch sizes; a
difference above the tolerance raises :class:`ModelExportError`.

Two input types are supported:

* ``"features"`` (default): normalised fbank features ``[B, T, F]`` with
  ``T`` the model's number of frames; the exported graph holds the encoder
  and the head only.
* ``"waveform"``: 16 kHz waveforms ``[B, N]`` with ``N`` fixed (one sliding
  window of the folder, the model's grid by default; zero-pad shorter clips) and their relative lengths ``[B]``
  (``n_samples / N``); the Kaldi fbank (with the project's padding
  convention) and the normalisation are part of the graph, which gives the
  scores of the interface / ``EncoderClassifier`` for clips within the grid
  (longer clips: run the windows of :mod:`ast_sb.inference.windows` outside). The legacy ONNX exporter cannot
  export the FFT (``aten::fft_rfft``), so ONNX needs ``onnxscript`` here.

The output is the head's raw output ``[B, C]``: log-probabilities for
single-label models, logits for multi-label models (apply a sigmoid).

Authors
 * ast_sb developers 2026
"""

import copy
import importlib.util
import io
import json
import os
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from speechbrain.dataio.dataio import length_to_mask
from torch import nn

from ast_sb.disk_space import is_disk_full
from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.export.atomic_folder import atomic_folder, check_output_folder
from ast_sb.export.quiet_tracing import quiet_tracing
from ast_sb.inference.frame_detection import FrameLevelDetector
from ast_sb.inference.onnxruntime_int8 import quantize_dynamic_int8

__all__ = [
    "ExportableClassifier",
    "ModelExportError",
    "TraceableFbank",
    "check_onnx",
    "check_torchscript",
    "describe_exports",
    "export_model",
    "export_onnx",
    "export_onnx_int8",
    "export_openvino",
    "check_openvino",
    "export_torchscript",
    "onnx_status",
    "quantize_onnx_int8",
]

OPENVINO_RTOL = 1e-3
"""OpenVINO IR (run in f32) against PyTorch: ``max|ov - torch| <=
max(atol, OPENVINO_RTOL * max|torch|)`` (its own f32 GELU / softmax
kernels; measured 1.5e-4 on log-probabilities of magnitude ~1)."""

FORMATS = ("torchscript", "onnx", "onnx_int8", "openvino")
DEFAULT_FORMATS = ("torchscript", "onnx")
INPUT_TYPES = ("features", "waveform")
FILE_NAMES = {
    "torchscript": "model.torchscript.pt",
    "onnx": "model.onnx",
    "onnx_int8": "model.int8.onnx",
    "openvino": "model.xml",
}
#: int8 ONNX: largest output difference from fp32, relative to the standard
#: deviation of the reference outputs
INT8_RTOL = 0.5


class ModelExportError(AudioSpectrogramTransformerError, RuntimeError):
    """An export that is impossible here or whose outputs differ."""


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def onnx_status() -> Dict[str, bool]:
    """Which ONNX packages are importable.

    Returns
    -------
    dict
        ``{"onnx": bool, "onnxscript": bool, "onnxruntime": bool}``.

    Example
    -------
    >>> sorted(onnx_status())
    ['onnx', 'onnxruntime', 'onnxscript']
    """
    return {name: _has(name) for name in ("onnx", "onnxscript", "onnxruntime")}


class TraceableFbank(nn.Module):
    """Export-friendly wrapper of a :class:`~ast_sb.lobes.features.KaldiFbank`.

    Runs the front end's own :meth:`~ast_sb.lobes.features.KaldiFbank.log_mel`
    (same float32 operations and buffers) without the data-dependent input
    checks (``torch.export`` cannot trace ``isfinite(...).all()``) and
    without the CPU frame blocks (a Python loop over the input length).

    With ``dft="matmul"`` (the default of the exports) the power spectrum's
    real FFT is one MatMul with :func:`ast_sb.lobes.features.real_dft_basis`
    instead of the ONNX ``DFT`` op: OpenVINO 2026.4's ``read_model``
    crashed (segfault) on the graph after ``DFT`` (first failing node: the
    mel-filterbank MatMul on ``|DFT|^2``), and the legacy exporter has no
    FFT at all. The front end itself is not modified (a shallow copy holds
    the basis); the log-mel features move by ~1e-6.

    Arguments
    ---------
    fbank : ast_sb.lobes.features.KaldiFbank
        The front end to wrap.
    dft : str
        "matmul" (export graphs) or "fft" (the front end's own
        ``torch.fft.rfft``: bit-identical features).

    Example
    -------
    >>> from ast_sb.lobes.features import KaldiFbank
    >>> fbank = KaldiFbank(target_length=100)
    >>> wavs = torch.randn(2, 16000) * 0.1
    >>> bool(torch.equal(TraceableFbank(fbank, "fft")(wavs), fbank(wavs)))
    True
    >>> diff = (TraceableFbank(fbank)(wavs) - fbank(wavs)).abs().max()
    >>> bool(diff < 1e-3)
    True
    """

    def __init__(self, fbank: nn.Module, dft: str = "matmul"):
        super().__init__()
        if dft not in ("matmul", "fft"):
            raise ValueError(f"dft must be 'matmul' or 'fft', got {dft!r}.")
        if dft == "matmul":
            from ast_sb.lobes.features import real_dft_basis

            fbank = copy.copy(fbank)  # shares buffers; the basis is its own
            basis = real_dft_basis(fbank.window.shape[-1], fbank.n_fft)
            object.__setattr__(fbank, "dft_basis", basis)
        self.fbank = fbank
        self.dft = dft

    def forward(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Waveforms ``[B, N]`` -> log-mel features ``[B, T, F]``.

        Arguments
        ---------
        wavs : torch.Tensor
            Float waveforms.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``: frames past each clip's end are 0
            (the padding convention of ``KaldiFbank.forward``).

        Returns
        -------
        torch.Tensor
            Features.
        """
        n_frames = None
        if lengths is not None:
            n_frames = self.fbank.valid_frames(lengths, wavs.shape[-1])
        return self.fbank.log_mel(wavs, blocked=False, n_frames=n_frames)


class ExportableClassifier(nn.Module):
    """Encoder + head (optionally fbank + normalisation) as one module.

    Arguments
    ---------
    encoder : torch.nn.Module
        AST encoder, ``[B, T, F] -> [B, 1, D]``.
    classifier : torch.nn.Module
        Head, ``[B, 1, D] -> [B, 1, C]``.
    compute_features : torch.nn.Module, optional
        ``KaldiFbank`` for waveform input (wrapped in
        :class:`TraceableFbank`).
    mean_var_norm : torch.nn.Module, optional
        Feature normaliser for waveform input.

    Example
    -------
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", depth=1, target_length=128
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(192, 4)
    >>> ExportableClassifier(enc, head).eval()(torch.randn(2, 128, 128)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        encoder: nn.Module,
        classifier: nn.Module,
        compute_features: Optional[nn.Module] = None,
        mean_var_norm: Optional[nn.Module] = None,
    ):
        super().__init__()
        self.fbank = (
            None
            if compute_features is None
            else TraceableFbank(compute_features)
        )
        self.norm = mean_var_norm
        self.encoder = encoder
        self.classifier = classifier

    def forward(
        self, inputs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Features ``[B, T, F]`` (or waveforms ``[B, N]``) -> ``[B, C]``.

        Arguments
        ---------
        inputs : torch.Tensor
            Normalised features, or waveforms when built with an fbank.
        lengths : torch.Tensor, optional
            Relative waveform lengths ``[B]`` (waveform input): each clip's
            frames past its end are padding, as in every other path.

        Returns
        -------
        torch.Tensor
            Head outputs.
        """
        feats = inputs
        if self.fbank is not None:
            feats = self.fbank(inputs, lengths)
            if self.norm is not None:
                feats = self.norm(feats)
        return self.classifier(self.encoder(feats)).squeeze(1)


def _as_tuple(example) -> tuple:
    return tuple(example) if isinstance(example, (tuple, list)) else (example,)


def export_torchscript(module: nn.Module, example, path: str) -> str:
    """Traces ``module`` with ``torch.jit.trace`` and saves it.

    The batch size stays free; every other input dimension is fixed to the
    example's.

    Arguments
    ---------
    module : torch.nn.Module
        Module in eval mode.
    example : torch.Tensor or tuple of torch.Tensor
        Example input(s).
    path : str
        Output ``.pt`` file.

    Returns
    -------
    str
        ``path``.
    """
    try:
        with quiet_tracing():
            traced = torch.jit.trace(
                module.eval(), _as_tuple(example), check_trace=False
            )
            buffer = io.BytesIO()
            torch.jit.save(traced, buffer)
    except Exception as err:
        raise ModelExportError(f"TorchScript tracing failed: {err}") from err
    # written by Python, not by torch's C++ writer, which aborts the
    # process (SIGABRT) when the disk is full: an OSError is raised instead
    with open(path, "wb") as fout:
        fout.write(buffer.getbuffer())
    return path


def export_onnx(
    module: nn.Module,
    example,
    path: str,
    dynamo: Optional[bool] = None,
    opset: Optional[int] = None,
    output_names: Sequence[str] = ("scores",),
) -> str:
    """Exports ``module`` to ONNX with a dynamic batch dimension.

    Arguments
    ---------
    module : torch.nn.Module
        Module in eval mode.
    example : torch.Tensor or tuple of torch.Tensor
        Example input(s) (batch size >= 2 is best); a second input is the
        relative lengths ``[B]`` of waveform input.
    path : str
        Output ``.onnx`` file.
    dynamo : bool, optional
        Use the ``torch.export``-based exporter (needs ``onnxscript``);
        default: when ``onnxscript`` is installed.
    opset : int, optional
        ONNX opset (exporter default when None).
    output_names : list of str
        Names of the module's outputs (each with a dynamic batch axis).

    Returns
    -------
    str
        ``path``.
    """
    status = onnx_status()
    if not status["onnx"]:
        raise ModelExportError(
            "ONNX export needs the `onnx` package, which is not installed "
            "(pip install onnx onnxscript onnxruntime)."
        )
    if dynamo is None:
        dynamo = status["onnxscript"]
    if dynamo and not status["onnxscript"]:
        raise ModelExportError(
            "The torch.export-based ONNX exporter needs `onnxscript`, which "
            "is not installed (pip install onnxscript), or use dynamo=False."
        )
    example = _as_tuple(example)
    names = ["inputs", "lengths"][: len(example)]
    kwargs: Dict[str, Any] = {
        "input_names": names,
        "output_names": list(output_names),
    }
    if opset is not None:
        kwargs["opset_version"] = opset
    if dynamo:
        batch = torch.export.Dim("batch", max=4096)
        kwargs["dynamic_shapes"] = tuple({0: batch} for _ in example)
    else:
        kwargs["dynamic_axes"] = {
            **{name: {0: "batch"} for name in names},
            **{name: {0: "batch"} for name in output_names},
        }
    try:
        # the legacy exporter prints the whole graph on failure
        with quiet_tracing():
            torch.onnx.export(
                module.eval(),
                example,
                path,
                dynamo=dynamo,
                verbose=False,
                **kwargs,
            )
    except Exception as err:
        if is_disk_full(err):
            raise  # not an export failure of this format
        hint = ""
        if "fft" in str(err).lower() and not dynamo:
            hint = (
                " The legacy exporter has no FFT; install `onnxscript` for "
                "the torch.export-based exporter, or export input='features'."
            )
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelExportError(
            f"ONNX export failed ({type(err).__name__}: {first}).{hint}"
        ) from err
    return path


def quantize_onnx_int8(fp32_path: str, path: str) -> str:
    """Dynamic int8 quantisation of an ONNX model with onnxruntime.

    Arguments
    ---------
    fp32_path : str
        fp32 ONNX model (e.g. from :func:`export_onnx`).
    path : str
        Output ``.onnx`` file (weights inside it).

    Returns
    -------
    str
        ``path``.
    """
    if not _has("onnxruntime"):
        raise ModelExportError(
            "int8 ONNX needs `onnxruntime` (pip install onnxruntime)."
        )
    try:
        quantize_dynamic_int8(fp32_path, path)
    except Exception as err:
        if is_disk_full(err):
            raise
        raise ModelExportError(
            f"int8 quantisation of {fp32_path} failed "
            f"({type(err).__name__}: {err})"
        ) from err
    return path


def export_onnx_int8(
    module: nn.Module, example, path: str, dynamo: Optional[bool] = None
) -> str:
    """fp32 ONNX export (temporary file), then :func:`quantize_onnx_int8`.

    Arguments
    ---------
    module : torch.nn.Module
        Module in eval mode.
    example : torch.Tensor or tuple of torch.Tensor
        Example input(s), as for :func:`export_onnx`.
    path : str
        Output ``.onnx`` file.
    dynamo : bool, optional
        ONNX exporter choice (see :func:`export_onnx`).

    Returns
    -------
    str
        ``path``.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = os.path.join(tmp, "model.onnx")
        export_onnx(module, example, fp32_path, dynamo=dynamo)
        return quantize_onnx_int8(fp32_path, path)


def export_openvino(
    module: nn.Module, example, path: str, dynamo: Optional[bool] = None
) -> str:
    """Exports ``module`` to ONNX, then to OpenVINO IR (``.xml`` + ``.bin``).

    Arguments
    ---------
    module : torch.nn.Module
        Module in eval mode.
    example : torch.Tensor or tuple of torch.Tensor
        Example input(s), as for :func:`export_onnx`.
    path : str
        Output ``.xml`` file (the weights go to the ``.bin`` beside it).
    dynamo : bool, optional
        ONNX exporter choice (see :func:`export_onnx`).

    Returns
    -------
    str
        ``path``.
    """
    if not _has("openvino"):
        raise ModelExportError(
            "OpenVINO export needs the `openvino` package, which is not "
            "installed (pip install 'ast_sb[openvino]')."
        )
    import openvino as ov

    onnx_path = os.path.splitext(path)[0] + ".for_openvino.onnx"
    export_onnx(module, example, onnx_path, dynamo=dynamo)
    try:
        ov.save_model(ov.convert_model(onnx_path), path)
    except Exception as err:
        raise ModelExportError(
            f"OpenVINO conversion failed ({type(err).__name__}: {err})"
        ) from err
    finally:
        for leftover in (onnx_path, onnx_path + ".data"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return path


def check_openvino(
    path: str, reference: nn.Module, inputs: Sequence[Any]
) -> float:
    """Largest output difference of an OpenVINO IR (run in f32) from
    ``reference``.

    Arguments
    ---------
    path : str
        The ``.xml`` file.
    reference : callable
        Reference model.
    inputs : list
        Check inputs (tensors or tuples of tensors).

    Returns
    -------
    float
        Max absolute difference over all inputs.
    """
    from ast_sb.inference.openvino_backend import compile_openvino

    compiled = compile_openvino(None, (), precision="f32", model=path)
    diff = 0.0
    with torch.no_grad():
        for x in inputs:
            args = _as_tuple(x)
            diff = max(diff, _max_diff(compiled(*args), reference(*args)))
    return diff


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def check_torchscript(
    path: str, reference: nn.Module, inputs: Sequence[Any]
) -> float:
    """Largest absolute difference between a TorchScript file and PyTorch.

    Arguments
    ---------
    path : str
        Saved TorchScript module.
    reference : torch.nn.Module
        The PyTorch model.
    inputs : list of torch.Tensor
        Inputs to compare on.

    Returns
    -------
    float
        Max absolute difference over all inputs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*jit.*deprecated.*")
        loaded = torch.jit.load(path, map_location="cpu")
    diff = 0.0
    with torch.no_grad():
        for x in inputs:
            x = _as_tuple(x)
            diff = max(diff, _max_diff(loaded(*x), reference(*x)))
    return diff


def onnx_session(path: str) -> Any:
    """An onnxruntime CPU session of ``path``.

    Arguments
    ---------
    path : str
        ONNX model.

    Returns
    -------
    onnxruntime.InferenceSession
        The session (CPU execution provider).

    Raises
    ------
    ModelExportError
        ``onnxruntime`` is not installed.
    """
    if not _has("onnxruntime"):
        raise ModelExportError(
            f"Cannot check {path}: `onnxruntime` is not installed "
            "(pip install onnxruntime)."
        )
    import onnxruntime as ort

    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def check_onnx(path: str, reference: nn.Module, inputs: Sequence[Any]) -> float:
    """Largest absolute difference between an ONNX file and PyTorch.

    Arguments
    ---------
    path : str
        ONNX model.
    reference : torch.nn.Module
        The PyTorch model.
    inputs : list of torch.Tensor
        Inputs to compare on.

    Returns
    -------
    float
        Max absolute difference over all inputs.
    """
    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]
    diff = 0.0
    with torch.no_grad():
        for x in inputs:
            x = _as_tuple(x)
            feed = {n: t.numpy() for n, t in zip(names, x)}
            out = session.run(None, feed)[0]
            diff = max(diff, _max_diff(torch.from_numpy(out), reference(*x)))
    return diff


def _load(model: Any):
    if isinstance(model, (str, os.PathLike)):
        from ast_sb.inference.interface import (
            AudioSpectrogramTransformerInterface,
        )

        return AudioSpectrogramTransformerInterface.from_folder(
            os.fspath(model)
        )
    return model


def export_model(
    model: Any,
    out_dir: str,
    formats: Sequence[str] = DEFAULT_FORMATS,
    input_type: str = "features",
    atol: Optional[float] = None,
    batch_sizes: Sequence[int] = (1, 3),
    dynamo: Optional[bool] = None,
    raise_on_error: bool = True,
    seed: int = 0,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Exports an AST classifier to TorchScript / ONNX and checks outputs.

    The files are written to a temporary sibling folder renamed into place
    at the end (:func:`ast_sb.export.atomic_folder.atomic_folder`), so an error or
    interruption never leaves a half-written ``out_dir``.

    Arguments
    ---------
    model : AudioSpectrogramTransformerInterface or str
        Loaded interface, or an exported folder.
    out_dir : str
        Output folder; a non-empty one is refused unless ``overwrite``.
    formats : list of str
        Any of "torchscript", "onnx", "onnx_int8" (default: the first
        two).
    input_type : str
        "features" (normalised fbank ``[B, T, F]``) or "waveform"
        (``[B, N]``, fbank in the graph).
    atol : float, optional
        Largest allowed absolute output difference (default 1e-4 for
        features, 1e-3 for waveforms: ONNX Runtime's FFT differs slightly;
        "onnx_int8": :data:`INT8_RTOL` times the standard deviation of the
        reference outputs).
    batch_sizes : list of int
        Batch sizes of the random check inputs.
    dynamo : bool, optional
        ONNX exporter choice (see :func:`export_onnx`).
    raise_on_error : bool
        Raise :class:`ModelExportError` if a format failed (after trying
        all of them); otherwise report it in the result.
    seed : int
        Seed of the random check inputs.
    overwrite : bool
        Replace a non-empty ``out_dir`` (as a whole).

    Returns
    -------
    dict
        ``input_type``, ``input_shape`` (-1 = any batch size),
        ``output_shape`` and, per format, ``{"path", "max_abs_diff", "ok",
        "error"}``.

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from ast_sb.export.folder import export_inference_folder
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", depth=1, target_length=128
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(192, 2)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["yes", "no"])
    >>> tmp = getfixture("tmpdir")
    >>> folder = export_inference_folder(
    ...     str(tmp / "m"), enc, head, labels, {"target_length": 128}
    ... )
    >>> report = export_model(folder, str(tmp / "ts"), formats=["torchscript"])
    >>> report["input_shape"], report["torchscript"]["ok"]
    ([-1, 128, 128], True)
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {formats}")
    if input_type not in INPUT_TYPES:
        raise ValueError(
            f"input_type must be one of {INPUT_TYPES}, got {input_type!r}"
        )
    if atol is None:
        atol = 1e-4 if input_type == "features" else 1e-3
    interface = _load(model)
    if isinstance(interface, FrameLevelDetector):
        raise ValueError(
            f"{model} is a frame-level detector: export it with "
            "ast_sb.export.detector_export.export_detector (what "
            "`ast-sb export` runs for a detector folder)."
        )
    if hasattr(interface, "fast_path"):
        interface.fast_path = "fp32"  # the reference is the fp32 model
    encoder = interface.encoder
    head = interface.head
    n_mels = int(getattr(encoder, "n_mels", 128))
    if input_type == "features":
        module = ExportableClassifier(encoder, head)
        shape: List[int] = [interface.max_frames, n_mels]
    else:
        module = ExportableClassifier(
            encoder, head, interface.features, interface.normalizer
        )
        if dynamo is False:  # the legacy exporter's graph of the MatMul
            # DFT does not load in onnxruntime; keep its clear "no FFT" error
            module.fbank = TraceableFbank(interface.features, dft="fft")
        # one sliding window of the folder (the grid by default)
        shape = [interface.pipeline.window or interface.max_samples]
    module = module.cpu().eval()

    def reference(x: torch.Tensor, lens: Optional[torch.Tensor] = None):
        if input_type == "features":
            return head(encoder(x)).squeeze(1)
        # the folder's own path (exact lengths, padding convention)
        return interface.classify_batch(x, lens)[0]

    generator = torch.Generator().manual_seed(seed)
    scale = 1.0 if input_type == "features" else 0.1

    def rand(batch: int):
        x = torch.randn([batch] + shape, generator=generator) * scale
        if input_type == "features":
            return x
        # clips of several lengths in one padded batch
        lens = torch.rand(batch, generator=generator) * 0.7 + 0.3
        lens[0] = 1.0
        n = torch.round(lens.double() * shape[0]).long()
        x = x * length_to_mask(n, shape[0], dtype=x.dtype)
        return x, (n.double() / shape[0]).float()

    example = rand(2)
    checks = [rand(b) for b in batch_sizes]
    check_output_folder(out_dir, overwrite)  # before the export work
    with atomic_folder(out_dir, overwrite) as work_dir:
        with torch.no_grad():
            first = tuple(t[:1] for t in _as_tuple(example))
            n_classes = int(reference(*first).shape[-1])
        report: Dict[str, Any] = {
            "input_type": input_type,
            "input_shape": [-1] + shape,
            "output_shape": [-1, n_classes],
            "output": "logits"
            if interface.multi_label
            else "log_probabilities",
            "atol": atol,
        }
        exporters = {
            "torchscript": (export_torchscript, check_torchscript),
            "onnx": (
                lambda m, x, p: export_onnx(m, x, p, dynamo=dynamo),
                check_onnx,
            ),
            "onnx_int8": (
                lambda m, x, p: export_onnx_int8(m, x, p, dynamo=dynamo),
                check_onnx,
            ),
            "openvino": (
                lambda m, x, p: export_openvino(m, x, p, dynamo=dynamo),
                check_openvino,
            ),
        }
        with torch.no_grad():
            refs = torch.cat([reference(*_as_tuple(x)) for x in checks])
            spread = float(refs.std())
            largest = float(refs.abs().max())
        errors = []
        for fmt in formats:
            path = os.path.join(work_dir, FILE_NAMES[fmt])
            entry: Dict[str, Any] = {
                "path": os.path.join(out_dir, FILE_NAMES[fmt]),
                "max_abs_diff": None,
                "ok": False,
                "error": None,
            }
            try:
                export_fn, check_fn = exporters[fmt]
                export_fn(module, example, path)
                diff = check_fn(path, reference, checks)
                entry["max_abs_diff"] = diff
                limit = INT8_RTOL * spread if fmt == "onnx_int8" else atol
                if fmt == "openvino":
                    limit = max(atol, OPENVINO_RTOL * largest)
                if fmt in ("onnx_int8", "openvino"):
                    entry["atol"] = limit
                if not diff <= limit:
                    raise ModelExportError(
                        f"{fmt} outputs differ from PyTorch by {diff:.3g} "
                        f"(> atol={limit:g})."
                    )
                entry["ok"] = True
            except ModelExportError as err:
                entry["error"] = str(err)
                errors.append(f"{fmt}: {err}")
            report[fmt] = entry
        meta = {
            **{k: v for k, v in report.items() if k not in FORMATS},
            "files": {f: FILE_NAMES[f] for f in formats if report[f]["ok"]},
            "labels": interface.labels,
            "multi_label": interface.multi_label,
            "sample_rate": interface.sample_rate,
            "normalization": {
                "mean": getattr(interface.normalizer, "mean", None),
                "std": getattr(interface.normalizer, "std", None),
            },
        }
        with open(
            os.path.join(work_dir, "model_export.json"), "w", encoding="utf-8"
        ) as fout:
            json.dump(meta, fout, indent=2)
    if errors and raise_on_error:
        raise ModelExportError("; ".join(errors))
    return report


def describe_exports(out_dir: str) -> Union[Dict[str, Any], None]:
    """Reads ``model_export.json`` of an export folder (None if absent).

    Arguments
    ---------
    out_dir : str
        Folder written by :func:`export_model`.

    Returns
    -------
    dict or None
        The metadata.
    """
    path = os.path.join(out_dir, "model_export.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fin:
        return json.load(fin)
