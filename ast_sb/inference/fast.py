"""Inference paths for the AST encoder: chosen per machine, or by the user.

:class:`InferencePath` runs an encoder through one of :data:`INFERENCE_PATHS`:

* ``"auto"`` (the default of the interface, ``ast-sb``, exported folders and
  the recipes' test): the fastest path for this machine. The CPU
  capability rule (:func:`default_path`) names one candidate: ``"bf16"``
  where the CPU has native bf16 (AMX or AVX512-BF16,
  :func:`ast_sb.inference.cpu_features.native_bf16`); else ``"onednn"`` where
  ``torch.backends.cpu.get_cpu_capability()`` reports AVX-512 (where
  oneDNN's fp32 GEMM was measured faster than MKL's) and the oneDNN probe
  passes; else ``"fp32"``. A candidate other than fp32 is kept for an input
  shape only after a probe on the first batch of that shape: its outputs
  must be within :data:`EXACT_ATOL` (1e-4) of fp32 (oneDNN) or within
  :data:`BF16_RTOL` of fp32 relative to fp32's largest output with the
  same top-1 class under the ``scorer`` (bf16), and its median time not
  above fp32's; otherwise that shape runs in fp32. The choice is cached
  per process and input shape (:attr:`InferencePath.choices`). int8,
  OpenVINO and compile are never chosen automatically.
* ``"fp32"``: the module as it is (bit-exact).
* ``"openvino"``: the module converted and compiled by OpenVINO once per
  process (:mod:`ast_sb.inference.openvino_backend`; its precision choice: bf16 on
  native-bf16 CPUs).
* ``"onednn"``, ``"bf16"``: below. ``"int8"``: the encoder's blocks
  exported to ONNX and quantised by onnxruntime (dynamic int8 MatMuls,
  :mod:`ast_sb.inference.onnxruntime_int8`), built once per weights; each
  clip runs alone so a clip scores the same alone and in any padded batch.

The lower-level modes, chosen with :func:`optimize_for_inference`:

* ``"onednn"`` (fp32, numerically faithful): every ``nn.Linear`` is replaced
  by :class:`OneDNNLinear` (:mod:`ast_sb.inference.onednn`, re-exported
  here), which calls oneDNN through
  ``torch.ops.mkldnn._linear_pointwise`` instead of the default (MKL) GEMM,
  and the GELU of each timm MLP is fused into its first Linear. On CPUs where
  oneDNN's fp32 kernel is faster than MKL's (measured: AMD EPYC with AVX-512,
  where MKL only reaches AVX2-class speed) this is the largest fp32 gain.
  Parameters are shared with the original layers, so ``state_dict`` keys and
  values are unchanged. The oneDNN call is used only for CPU float32 inputs
  with no autograd graph to build and autocast off; anything else (training,
  CUDA, bf16, half) takes the ordinary ``F.linear`` path.
* ``"bf16"``: the module runs under ``torch.autocast`` in bfloat16 (CPU) or
  float16/bfloat16 (CUDA); floating outputs are cast back to float32. Faster,
  with a small accuracy loss (see ``benchmarks/README.md``). (The
  ``"bf16"`` *inference path* on the CPU uses :func:`bf16_copy` instead:
  bf16 weights and oneDNN Linear layers.)
* ``"compile"``: ``torch.compile`` (Inductor; on CPU with weight freezing,
  which also pre-packs the Linear weights for oneDNN). The first call compiles
  for tens of seconds; every new input shape compiles again.

``torch.ops.mkldnn._linear_pointwise`` is a private PyTorch operator (PyTorch
has no public oneDNN Linear with a fused GELU for strided fp32 tensors). It
is looked up in one place, :func:`onednn_linear_op`, which checks it on a
probe input once per process: if it is missing or fails, ``"onednn"`` warns
and leaves the module unchanged, and ``"auto"`` runs fp32.

Authors
 * ast_sb developers 2026
"""

import copy
import statistics
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from ast_sb.inference.cpu_features import native_bf16
from ast_sb.inference.linear_split import split_choices
from ast_sb.inference.onednn import (
    OneDNNLinear as OneDNNLinear,
    onednn_linear_available,
    onednn_linear_op as onednn_linear_op,
    use_onednn_linear,
)
from ast_sb.inference.onnxruntime_int8 import quantize_int8 as quantize_int8

FAST_MODES = ("onednn", "bf16", "compile")
"""Modes accepted by :func:`optimize_for_inference`."""

INFERENCE_PATHS = ("auto", "fp32", "onednn", "int8", "bf16", "openvino")
"""Paths accepted by :class:`InferencePath` (interface, CLI, YAML)."""

EXACT_ATOL = 1e-4
"""Largest output difference from fp32 that ``"auto"`` accepts (exact
candidates)."""

BF16_RTOL = 0.05
"""Largest output difference from fp32 that ``"auto"`` accepts for bf16,
relative to the largest fp32 output: ``max|bf16 - fp32| <= BF16_RTOL *
max|fp32|`` (measured 0.01-0.012 on random base384 and tiny224 weights)."""


_clock = time.perf_counter  # the probe's clock


class InferenceWrapper(nn.Module):
    """Runs a module under autocast and/or ``torch.compile`` for inference.

    ``state_dict`` and ``load_state_dict`` are those of the wrapped module,
    so checkpoints keep their keys. Floating-point outputs are returned as
    float32.

    Arguments
    ---------
    module : torch.nn.Module
        Module to wrap.
    autocast_dtype : torch.dtype, optional
        If given, the forward runs under ``torch.autocast`` with this dtype.
    compile : bool
        Whether to ``torch.compile`` the module (on CPU with Inductor weight
        freezing; the forward then always runs without gradients).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> fast = InferenceWrapper(enc, autocast_dtype=torch.bfloat16)
    >>> out = fast(torch.randn(2, 64, 128))
    >>> out.dtype, out.shape
    (torch.float32, torch.Size([2, 1, 192]))
    >>> list(fast.state_dict()) == list(enc.state_dict())
    True
    """

    def __init__(
        self,
        module: nn.Module,
        autocast_dtype: Optional[torch.dtype] = None,
        compile: bool = False,
    ):
        super().__init__()
        self.module = module
        self.autocast_dtype = autocast_dtype
        self.compiled = compile
        self._run = module
        if compile:
            options = {"freezing": True} if _device_of(module) == "cpu" else {}
            self._run = torch.compile(module, options=options)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the wrapped module.

        Arguments
        ---------
        *args : Any
            Positional arguments of the wrapped module.
        **kwargs : Any
            Keyword arguments of the wrapped module.

        Returns
        -------
        Any
            The wrapped module's output, floating tensors cast to float32.
        """
        device = _device_of(self.module)
        if self.compiled:
            # Inductor freezing requires inference without autograd.
            with torch.no_grad():
                return self._call(device, *args, **kwargs)
        return self._call(device, *args, **kwargs)

    def _call(self, device: str, *args: Any, **kwargs: Any) -> Any:
        if self.autocast_dtype is None:
            return self._run(*args, **kwargs)
        with torch.autocast(device_type=device, dtype=self.autocast_dtype):
            out = self._run(*args, **kwargs)
        return _to_float32(out)

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """State dict of the wrapped module (same keys as without wrapper)."""
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(
        self, state_dict: Any, strict: bool = True, assign: bool = False
    ) -> Any:
        """Loads into the wrapped module.

        Arguments
        ---------
        state_dict : dict
            State dict with the wrapped module's keys.
        strict : bool
            As in ``nn.Module.load_state_dict``.
        assign : bool
            As in ``nn.Module.load_state_dict``.

        Returns
        -------
        NamedTuple
            Missing and unexpected keys.
        """
        return self.module.load_state_dict(
            state_dict, strict=strict, assign=assign
        )


def _device_of(module: nn.Module) -> str:
    """Device type of the first parameter ("cpu" for parameterless)."""
    for param in module.parameters():
        return param.device.type
    return "cpu"


def _to_float32(out: Any) -> Any:
    """Casts floating tensors (also inside tuples/lists/dicts) to float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (tuple, list)):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float32(v) for k, v in out.items()}
    return out


def optimize_for_inference(
    module: nn.Module,
    mode: str = "onednn",
    dtype: Optional[torch.dtype] = None,
) -> nn.Module:
    """Applies an inference fast path to an AST encoder, head or pipeline.

    Put the module in eval mode and load its weights first.

    Arguments
    ---------
    module : torch.nn.Module
        The model.
    mode : str
        "onednn": fp32, Linear layers through oneDNN with fused GELU
        (in place; returns ``module``; outputs within ~1e-5 of the default
        path). "bf16": autocast wrapper (bfloat16 on CPU, float16 on CUDA
        unless ``dtype`` says otherwise). "compile": ``torch.compile``
        wrapper (fp32).
    dtype : torch.dtype, optional
        Autocast dtype for "bf16".

    Returns
    -------
    torch.nn.Module
        The optimised module (``module`` itself for "onednn", an
        :class:`InferenceWrapper` otherwise).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> optimize_for_inference(enc, "onednn") is enc
    True
    >>> type(optimize_for_inference(enc, "bf16")).__name__
    'InferenceWrapper'
    >>> optimize_for_inference(enc, "fp8")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ('onednn', 'bf16', 'compile'), got 'fp8'.
    """
    if mode not in FAST_MODES:
        raise ValueError(f"mode must be one of {FAST_MODES}, got {mode!r}.")
    if module.training:
        warnings.warn(
            "optimize_for_inference() got a module in training mode; "
            "call .eval() first for inference.",
            RuntimeWarning,
            stacklevel=2,
        )
    device = _device_of(module)
    if mode == "onednn":
        if device != "cpu":
            warnings.warn(
                f"The oneDNN Linear path is CPU-only; the module is on "
                f"{device}: left unchanged.",
                RuntimeWarning,
                stacklevel=2,
            )
            return module
        use_onednn_linear(module)
        return module
    if mode == "bf16":
        if dtype is None:
            dtype = torch.float16 if device == "cuda" else torch.bfloat16
        return InferenceWrapper(module, autocast_dtype=dtype)
    return InferenceWrapper(module, compile=True)


# ---------------------------------------------------------------------------
# Paths chosen per machine
# ---------------------------------------------------------------------------
def cpu_capability() -> str:
    """The CPU instruction set ATen's kernels use (e.g. "AVX2", "AVX512").

    ``ATEN_CPU_CAPABILITY=avx2`` lowers it on an AVX-512 machine.

    Returns
    -------
    str
        ``torch.backends.cpu.get_cpu_capability()``.

    Example
    -------
    >>> isinstance(cpu_capability(), str)
    True
    """
    return str(torch.backends.cpu.get_cpu_capability())


def default_path(
    device: Any = "cpu",
    capability: Optional[str] = None,
    onednn: Optional[bool] = None,
    bf16: Optional[bool] = None,
) -> str:
    """The capability rule: the one candidate worth probing here.

    Where the CPU computes bfloat16 natively (AMX or AVX512-BF16,
    :func:`ast_sb.inference.cpu_features.native_bf16`) the candidate is ``"bf16"``
    (bf16 weights, oneDNN kernels: 1.8-2.8x fp32 on an AMX Xeon, see
    ``benchmarks/README.md``); it is kept only if the probe finds it close
    to fp32 (:data:`BF16_RTOL`, same top-1) and not slower. Otherwise,
    oneDNN's fp32 Linear beat the default (MKL) GEMM on an AVX-512 CPU and
    lost to it on AVX2 (0.75-0.89x of HF against 0.98-1.04x for fp32), so
    it is the candidate only at AVX-512 level. Without native bf16, bf16 is
    never a candidate (5-7x slower than fp32 there).

    Arguments
    ---------
    device : str or torch.device
        Device of the model.
    capability : str, optional
        CPU capability (default: :func:`cpu_capability`).
    onednn : bool, optional
        Whether the oneDNN operator works (default:
        :func:`onednn_linear_available`).
    bf16 : bool, optional
        Whether the CPU has native bf16 (default:
        :func:`ast_sb.inference.cpu_features.native_bf16`, which the environment
        variable ``AST_SB_NATIVE_BF16`` can force).

    Returns
    -------
    str
        "bf16", "onednn" or "fp32".

    Example
    -------
    >>> default_path("cpu", "AVX2", onednn=True, bf16=False)
    'fp32'
    >>> default_path("cpu", "AVX512", onednn=True, bf16=False)
    'onednn'
    >>> default_path("cpu", "AVX512", onednn=False, bf16=False)
    'fp32'
    >>> default_path("cpu", "AVX512", onednn=True, bf16=True)
    'bf16'
    >>> default_path("cuda", "AVX512", onednn=True, bf16=True)
    'fp32'
    """
    if torch.device(device).type != "cpu":
        return "fp32"
    if native_bf16() if bf16 is None else bf16:
        return "bf16"
    capability = cpu_capability() if capability is None else capability
    onednn = onednn_linear_available() if onednn is None else onednn
    if capability.upper().startswith("AVX512") and onednn:
        return "onednn"
    return "fp32"


def bf16_copy(module: nn.Module) -> nn.Module:
    """A bfloat16 copy of ``module`` for CPU inference (bf16 weights).

    Unlike per-op autocast, which casts every weight to bf16 again on every
    call and leaves the Linear bias add and the GELU as separate passes,
    the copy holds bf16 weights once and runs every Linear through oneDNN
    (:class:`OneDNNLinear`, GELU fused into the first MLP Linear): measured
    on an AMX Xeon, 2.8x faster per 1212x768x3072 Linear than bf16
    ``F.linear`` + GELU. Call it with bf16 inputs (:class:`InferencePath`
    casts the features, not the lengths).

    Arguments
    ---------
    module : torch.nn.Module
        Model on the CPU in eval mode, weights loaded.

    Returns
    -------
    torch.nn.Module
        The copy (``module`` is unchanged).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> fast = bf16_copy(enc)
    >>> fast.blocks[0].mlp.fc1.weight.dtype
    torch.bfloat16
    >>> enc.blocks[0].mlp.fc1.weight.dtype
    torch.float32
    """
    fast = copy.deepcopy(module).eval().to(torch.bfloat16)
    if onednn_linear_available():
        use_onednn_linear(fast)
    return fast


def _shared_copy(module: nn.Module) -> nn.Module:
    """A structural copy of ``module`` sharing its parameters and buffers."""
    memo = {id(t): t for t in module.parameters()}
    memo.update({id(t): t for t in module.buffers()})
    return copy.deepcopy(module, memo)


def _shape_key(args: Tuple[Any, ...]) -> Tuple:
    """Cache key of a call: shapes, dtypes and devices of tensor arguments."""
    return tuple(
        (tuple(a.shape), str(a.dtype), str(a.device))
        if isinstance(a, torch.Tensor)
        else None
        for a in args
    )


class InferencePath:
    """Runs a module through an inference path, chosen per machine by default.

    With ``path="auto"`` the candidate of :func:`default_path` is probed on
    the first batch of each input shape (outputs within ``atol`` of fp32,
    median time not above fp32's over ``probe_reps`` interleaved runs after
    one warm-up) and kept for that shape only if it passes; the probe's
    fp32 output is returned. Where the rule names fp32 nothing is probed.
    Explicit paths run as asked. Variants share the module's parameters
    (``"onednn"``) or hold a quantised copy (``"int8"``: call
    :meth:`reset` after loading other weights).

    Arguments
    ---------
    module : torch.nn.Module
        Model in eval mode (e.g. an AST encoder), called as
        ``module(feats, lengths)`` or ``module(feats)``.
    path : str
        One of :data:`INFERENCE_PATHS` (None: "auto").
    atol : float
        Largest output difference from fp32 "auto" accepts.
    probe_reps : int
        Timed runs of each path in the probe.
    capability : str, optional
        CPU capability for the rule (default: :func:`cpu_capability`).
    bf16 : bool, optional
        Whether the CPU has native bf16, for the rule (default:
        :func:`ast_sb.inference.cpu_features.native_bf16`).
    scorer : callable, optional
        Maps the module's output to class scores ``[..., C]`` (e.g. the
        classifier head); when given, the bf16 probe also requires the
        same top-1 class as fp32 for every clip.

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> run = InferencePath(enc, "auto", capability="AVX2", bf16=False)
    >>> x = torch.randn(2, 64, 128)
    >>> with torch.no_grad():
    ...     torch.equal(run(x), enc(x))
    True
    >>> run.choices
    {(((2, 64, 128), 'torch.float32', 'cpu'),): 'fp32'}
    >>> with torch.no_grad():
    ...     out = InferencePath(enc, "int8")(x)
    >>> bool((out - enc(x)).abs().max() < 0.1)
    True
    """

    def __init__(
        self,
        module: nn.Module,
        path: Optional[str] = "auto",
        atol: float = EXACT_ATOL,
        probe_reps: int = 2,
        capability: Optional[str] = None,
        bf16: Optional[bool] = None,
        scorer: Optional[Callable] = None,
    ):
        path = "auto" if path is None else str(path)
        if path not in INFERENCE_PATHS:
            raise ValueError(
                f"fast_path must be one of {INFERENCE_PATHS}, got {path!r}."
            )
        self.module = module
        self.path = path
        self.atol = float(atol)
        self.probe_reps = max(1, int(probe_reps))
        self.capability = cpu_capability() if capability is None else capability
        self.bf16 = native_bf16() if bf16 is None else bool(bf16)
        self.scorer = scorer
        self.openvino_precision: Optional[str] = None  # None: OpenVINO's
        self.choices: Dict[Tuple, str] = {}
        self.probes: Dict[Tuple, Dict[str, float]] = {}
        self._variants: Dict[str, Any] = {}  # modules or compiled graphs

    @property
    def candidate(self) -> str:
        """The path run (explicit) or probed ("auto") for new shapes."""
        if self.path != "auto":
            return self.path
        return default_path(
            _device_of(self.module), self.capability, bf16=self.bf16
        )

    def reset(self) -> None:
        """Forgets the choices and the variants (after new weights)."""
        self.choices.clear()
        self.probes.clear()
        self._variants.clear()

    def _variant(self, name: str) -> nn.Module:
        if name == "fp32":
            return self.module
        if name not in self._variants:
            if name == "onednn":
                fast = _shared_copy(self.module)
                if _device_of(fast) != "cpu" or use_onednn_linear(fast) == 0:
                    fast = self.module
                self._variants[name] = fast
            elif _device_of(self.module) == "cpu":  # bf16 weights
                self._variants[name] = bf16_copy(self.module)
            else:  # bf16 / fp16 autocast on an accelerator
                self._variants[name] = optimize_for_inference(
                    self.module, "bf16"
                )
        return self._variants[name]

    def run(self, name: str, *args: Any) -> Any:
        """Runs the path ``name`` (no choice, no probe).

        Arguments
        ---------
        name : str
            "fp32", "onednn", "int8" or "bf16".
        *args : Any
            The module's arguments.

        Returns
        -------
        Any
            The module's output.
        """
        if name == "openvino":
            return self._openvino(*args)
        if name == "int8":
            if "int8" not in self._variants:  # exported on first use
                self._variants["int8"] = quantize_int8(self.module, args)
            return self._variants["int8"](*args)
        module = self._variant(name)
        if name == "bf16" and _device_of(module) == "cpu":
            # the features go in as bf16; lengths and masks stay as they are
            feats = args[0]
            if isinstance(feats, torch.Tensor) and feats.is_floating_point():
                args = (feats.to(torch.bfloat16),) + tuple(args[1:])
            return _to_float32(module(*args))
        return module(*args)

    def _openvino(self, *args: Any) -> Any:
        """Runs the OpenVINO-compiled module (converted on first use)."""
        from ast_sb.inference.openvino_backend import compile_openvino

        if "openvino" not in self._variants:
            feats = args[0]
            example = [torch.randn((2,) + tuple(feats.shape[1:]))]
            if len(args) > 1:  # lengths: convert the padding-mask branch
                example.append(torch.tensor([1.0, 0.5]))
            self._variants["openvino"] = compile_openvino(
                self.module, example, precision=self.openvino_precision
            )
        return self._variants["openvino"](*args)

    def _probe(self, key: Tuple, candidate: str, args: Tuple) -> Any:
        times: Dict[str, List[float]] = {"fp32": [], candidate: []}
        outputs: Dict[str, Any] = {}
        for _ in range(self.probe_reps + 1):  # the first is a warm-up
            for name in times:
                start = _clock()
                outputs[name] = self.run(name, *args)
                times[name].append(_clock() - start)
        ref, out = outputs["fp32"], outputs[candidate]
        diff = float((out.float() - ref.float()).abs().max())
        median = {k: statistics.median(v[1:]) for k, v in times.items()}
        if candidate == "bf16":
            bound = BF16_RTOL * float(ref.float().abs().max())
        else:
            bound = self.atol
        close = diff <= bound  # False for NaN
        same_top1 = True
        if self.scorer is not None and candidate == "bf16":
            with torch.no_grad():
                top_ref = self.scorer(ref).argmax(-1)
                top_out = self.scorer(out.float()).argmax(-1)
            same_top1 = bool(torch.equal(top_ref, top_out))
        faster = median[candidate] <= median["fp32"]
        self.probes[key] = {
            "max_abs_diff": diff,
            "bound": bound,
            "same_top1": same_top1,
            "fp32_s": median["fp32"],
            f"{candidate}_s": median[candidate],
        }
        chosen = candidate if close and same_top1 and faster else "fp32"
        self.choices[key] = chosen
        # an exact candidate returns fp32's output; bf16 its own, so that
        # every call of this shape scores alike
        return outputs["bf16"] if chosen == "bf16" else ref

    def __call__(self, *args: Any) -> Any:
        """Runs the module through the path chosen for these input shapes.

        Arguments
        ---------
        *args : Any
            The module's arguments.

        Returns
        -------
        Any
            The module's output (float32).
        """
        key = _shape_key(args)
        name = self.choices.get(key)
        if name is None:
            candidate = self.candidate
            if self.path == "auto" and candidate != "fp32":
                return self._probe(key, candidate, args)
            name = self.choices[key] = candidate
        return self.run(name, *args)

    def describe(self) -> Dict[str, Any]:
        """Path, candidate, CPU capability, the choices per shape and the
        bf16 Linear splits measured in this process
        (:mod:`ast_sb.inference.linear_split`).

        Returns
        -------
        dict
            JSON-friendly summary.
        """
        return {
            "path": self.path,
            "candidate": self.candidate,
            "ran": sorted(set(self.choices.values())),
            "cpu_capability": self.capability,
            "native_bf16": self.bf16,
            "choices": {str(k): v for k, v in self.choices.items()},
            "probes": {str(k): v for k, v in self.probes.items()},
            # process-wide: bf16 Linear shapes (rows, in, out, activation,
            # threads) -> 1 (whole) or 2 (output halves), as measured
            "bf16_linear_split": {
                str(k): v for k, v in split_choices().items()
            },
        }
