"""Opt-in inference fast paths for the AST encoder and head.

Three modes, chosen with :func:`optimize_for_inference`:

* ``"onednn"`` (fp32, numerically faithful): every ``nn.Linear`` is replaced
  by :class:`OneDNNLinear`, which calls oneDNN through
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
  with a small accuracy loss (see ``benchmarks/README.md``).
* ``"compile"``: ``torch.compile`` (Inductor; on CPU with weight freezing,
  which also pre-packs the Linear weights for oneDNN). The first call compiles
  for tens of seconds; every new input shape compiles again.

``torch.ops.mkldnn._linear_pointwise`` is a private PyTorch operator: if it is
missing, or fails on a probe input, ``"onednn"`` warns and leaves the module
unchanged.

Authors
 * ast_sb developers 2026
"""

import warnings
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

FAST_MODES = ("onednn", "bf16", "compile")
"""Modes accepted by :func:`optimize_for_inference`."""

_ONEDNN_OK: Optional[bool] = None


def onednn_linear_available() -> bool:
    """Whether ``torch.ops.mkldnn._linear_pointwise`` exists and works here.

    The result of a small probe (output compared with ``F.linear``) is
    cached for the process.

    Returns
    -------
    bool
        True if the oneDNN Linear path can be used.

    Example
    -------
    >>> isinstance(onednn_linear_available(), bool)
    True
    """
    global _ONEDNN_OK
    if _ONEDNN_OK is None:
        _ONEDNN_OK = False
        try:
            if torch.backends.mkldnn.is_available():
                op = torch.ops.mkldnn._linear_pointwise
                gen = torch.Generator().manual_seed(0)
                x = torch.randn(3, 5, 8, generator=gen)
                w = torch.randn(4, 8, generator=gen)
                b = torch.randn(4, generator=gen)
                with torch.no_grad():
                    ref = F.gelu(F.linear(x, w, b))
                    out = op(x, w, b, "gelu", [], "none")
                _ONEDNN_OK = bool(
                    out.shape == ref.shape
                    and torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
                )
        except (AttributeError, RuntimeError, NotImplementedError):
            _ONEDNN_OK = False
    return _ONEDNN_OK


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` (optionally followed by exact GELU) run by oneDNN.

    In CPU float32 inference (no gradient needed, autocast off) the forward
    calls ``torch.ops.mkldnn._linear_pointwise``; otherwise it falls back to
    ``F.linear`` (and ``F.gelu``), so training and other devices and dtypes
    behave like ``nn.Linear``. The parameters are the usual ``weight`` and
    ``bias``.

    Arguments
    ---------
    in_features : int
        Input size.
    out_features : int
        Output size.
    bias : bool
        Whether the layer has a bias.
    activation : str
        "none" or "gelu" (exact, erf-based GELU applied after the Linear).

    Example
    -------
    >>> torch.manual_seed(0) and None
    >>> linear = nn.Linear(16, 8)
    >>> fast = OneDNNLinear.from_linear(linear)
    >>> x = torch.randn(2, 5, 16)
    >>> with torch.no_grad():
    ...     diff = (fast(x) - linear(x)).abs().max().item()
    >>> diff < 1e-5
    True
    >>> fast.weight is linear.weight
    True
    >>> sorted(fast.state_dict())
    ['bias', 'weight']
    """

    ACTIVATIONS = ("none", "gelu")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "none",
        device: Any = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_features, out_features, bias, device, dtype)
        if activation not in self.ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {self.ACTIVATIONS}, "
                f"got {activation!r}."
            )
        self.activation = activation

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, activation: str = "none"
    ) -> "OneDNNLinear":
        """A :class:`OneDNNLinear` sharing the parameters of ``linear``.

        Arguments
        ---------
        linear : torch.nn.Linear
            The layer to replace.
        activation : str
            "none" or "gelu" (fused activation).

        Returns
        -------
        OneDNNLinear
            The new layer (same ``weight``/``bias`` Parameter objects).
        """
        new = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            activation=activation,
            device="meta",
        )
        new.weight = linear.weight
        new.bias = linear.bias
        new.train(linear.training)
        return new

    def _use_onednn(self, x: torch.Tensor) -> bool:
        """Whether this call can go through the oneDNN operator."""
        if x.device.type != "cpu" or x.dtype != torch.float32:
            return False
        if self.weight.dtype != torch.float32:
            return False
        if torch.is_autocast_enabled("cpu"):
            return False
        if torch.is_grad_enabled() and (
            x.requires_grad
            or self.weight.requires_grad
            or (self.bias is not None and self.bias.requires_grad)
        ):
            return False
        return True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Applies the Linear layer (and the fused activation).

        Arguments
        ---------
        x : torch.Tensor
            Input [..., in_features].

        Returns
        -------
        torch.Tensor
            Output [..., out_features].
        """
        if self._use_onednn(x):
            return torch.ops.mkldnn._linear_pointwise(
                x if x.is_contiguous() else x.contiguous(),
                self.weight,
                self.bias,
                self.activation,
                [],
                "none" if self.activation == "gelu" else "",
            )
        out = F.linear(x, self.weight, self.bias)
        if self.activation == "gelu":
            out = F.gelu(out)
        return out

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return f"{super().extra_repr()}, activation={self.activation!r}"


def _is_fusable_mlp(module: nn.Module) -> bool:
    """A timm-style MLP (fc1 -> exact GELU -> ... -> fc2) whose GELU can be
    fused into fc1."""
    act = getattr(module, "act", None)
    fc1 = getattr(module, "fc1", None)
    return (
        type(module).__name__ == "Mlp"
        and isinstance(fc1, nn.Linear)
        and type(act) is nn.GELU
        and act.approximate == "none"
    )


def use_onednn_linear(module: nn.Module, fuse_gelu: bool = True) -> int:
    """Replaces, in place, every ``nn.Linear`` of ``module`` by
    :class:`OneDNNLinear`.

    Arguments
    ---------
    module : torch.nn.Module
        Model to modify (e.g. an AST encoder or classifier).
    fuse_gelu : bool
        Whether to fuse the exact GELU of timm MLP blocks into their first
        Linear (the ``act`` module is then replaced by ``nn.Identity``).

    Returns
    -------
    int
        Number of layers replaced (0 when oneDNN is unavailable; a warning
        is then issued).

    Example
    -------
    >>> from ast_sb.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=2
    ... ).eval()
    >>> keys = list(enc.state_dict())
    >>> feats = torch.randn(2, 64, 128)
    >>> with torch.no_grad():
    ...     ref = enc(feats)
    >>> n = use_onednn_linear(enc)
    >>> n == 8 or not onednn_linear_available()
    True
    >>> list(enc.state_dict()) == keys
    True
    >>> with torch.no_grad():
    ...     bool((enc(feats) - ref).abs().max() < 1e-4)
    True
    """
    if not onednn_linear_available():
        warnings.warn(
            "torch.ops.mkldnn._linear_pointwise is unavailable or failed a "
            "probe: keeping the default Linear layers.",
            RuntimeWarning,
            stacklevel=2,
        )
        return 0
    count = 0
    for parent in list(module.modules()):
        fuse = fuse_gelu and _is_fusable_mlp(parent)
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            activation = "gelu" if fuse and name == "fc1" else "none"
            setattr(parent, name, OneDNNLinear.from_linear(child, activation))
            count += 1
        if fuse:
            parent.act = nn.Identity()
    return count


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
    >>> from ast_sb.model import AudioSpectrogramTransformerEncoder
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
    >>> from ast_sb.model import AudioSpectrogramTransformerEncoder
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
