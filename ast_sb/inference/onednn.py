"""oneDNN Linear layers for fp32 (and bf16) CPU inference.

:func:`use_onednn_linear` replaces every ``nn.Linear`` of a module by
:class:`OneDNNLinear`, which calls oneDNN through
``torch.ops.mkldnn._linear_pointwise`` instead of the default (MKL) GEMM,
and fuses the GELU of each timm MLP into its first Linear. On CPUs where
oneDNN's fp32 kernel is faster than MKL's (measured: AMD EPYC with AVX-512,
where MKL only reaches AVX2-class speed) this is the largest fp32 gain.
Parameters are shared with the original layers, so ``state_dict`` keys and
values are unchanged. The oneDNN call is used only for CPU float32 (or
bfloat16) inputs with no autograd graph to build and autocast off; anything
else (training, CUDA, half) takes the ordinary ``F.linear`` path.
bf16 calls go through :func:`ast_sb.inference.linear_split.tuned_bf16_linear`,
which runs a layer in two halves of its outputs where that was measured
faster for the shape (oneDNN left the second thread idle on some).

``torch.ops.mkldnn._linear_pointwise`` is a private PyTorch operator (PyTorch
has no public oneDNN Linear with a fused GELU for strided fp32 tensors). It
is looked up in one place, :func:`onednn_linear_op`, which checks it on a
probe input once per process: if it is missing or fails,
:func:`use_onednn_linear` warns and leaves the module unchanged. The
inference paths that use these layers (``"onednn"``, ``"bf16"``) are in
:mod:`ast_sb.inference.fast`, which re-exports these names.

Authors
 * ast_sb developers 2026
"""

import functools
import warnings
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ast_sb.inference.linear_split import tuned_bf16_linear

__all__ = [
    "OneDNNLinear",
    "onednn_linear_available",
    "onednn_linear_op",
    "use_onednn_linear",
]


_ONEDNN_DTYPES = (torch.float32, torch.bfloat16)


@functools.cache
def onednn_bf16_linear_available() -> bool:
    """Whether the oneDNN Linear operator runs bfloat16 here.

    oneDNN has bf16 inner products only where the CPU (or the ISA it is
    limited to, ``ONEDNN_MAX_CPU_ISA``) has AVX-512 or AMX; elsewhere the
    operator raises. Probed once per process on a small input against
    bf16 ``F.gelu(F.linear(...))`` (``cache_clear()`` to probe again).

    Returns
    -------
    bool
        True when bf16 inputs can go through :class:`OneDNNLinear`'s
        oneDNN path; False sends them to ``F.linear``.

    Example
    -------
    >>> isinstance(onednn_bf16_linear_available(), bool)
    True
    """
    op = onednn_linear_op()
    if op is None:
        return False
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 32, generator=gen).to(torch.bfloat16)
    w = torch.randn(16, 32, generator=gen).to(torch.bfloat16)
    b = torch.randn(16, generator=gen).to(torch.bfloat16)
    try:
        with torch.no_grad():
            ref = F.gelu(F.linear(x, w, b)).float()
            out = op(x, w, b, "gelu", [], "none").float()
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    scale = float(ref.abs().max())
    return out.shape == ref.shape and bool(
        (out - ref).abs().max() <= 0.05 * scale
    )


def _private_onednn_linear() -> Callable:
    """The private oneDNN operator (raises AttributeError when absent)."""
    return torch.ops.mkldnn._linear_pointwise


@functools.cache
def onednn_linear_op() -> Optional[Callable]:
    """The oneDNN Linear operator, or None where it is missing or wrong.

    The one place that touches ``torch.ops.mkldnn._linear_pointwise``: the
    operator is called once per process on a probe input and compared with
    ``F.gelu(F.linear(...))``; the result is cached (``cache_clear()`` to
    probe again).

    Returns
    -------
    callable or None
        ``op(x, weight, bias, activation, [], algorithm)``, or None.

    Example
    -------
    >>> op = onednn_linear_op()
    >>> op is None or callable(op)
    True
    """
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        op = _private_onednn_linear()
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(3, 5, 8, generator=gen)
        w = torch.randn(4, 8, generator=gen)
        b = torch.randn(4, generator=gen)
        with torch.no_grad():
            ref = F.gelu(F.linear(x, w, b))
            out = op(x, w, b, "gelu", [], "none")
        ok = out.shape == ref.shape and torch.allclose(
            out, ref, atol=1e-5, rtol=1e-5
        )
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):
        return None
    return op if ok else None


def onednn_linear_available() -> bool:
    """Whether the oneDNN Linear path can be used here.

    Returns
    -------
    bool
        True when :func:`onednn_linear_op` found a working operator.

    Example
    -------
    >>> isinstance(onednn_linear_available(), bool)
    True
    """
    return onednn_linear_op() is not None


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` (optionally followed by exact GELU) run by oneDNN.

    In CPU float32 inference (no gradient needed, autocast off) the forward
    calls the oneDNN operator of :func:`onednn_linear_op`; otherwise (also
    when ``onednn_enabled`` is False, the operator failed its probe, or the
    module is being traced or exported) it falls back to ``F.linear`` (and
    ``F.gelu``), so training and other devices and dtypes behave like
    ``nn.Linear``. The parameters are the usual ``weight`` and
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
        self.onednn_enabled = True

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
        if not self.onednn_enabled or onednn_linear_op() is None:
            return False
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            return False
        if x.device.type != "cpu" or x.dtype not in _ONEDNN_DTYPES:
            return False
        if x.dtype == torch.bfloat16 and not onednn_bf16_linear_available():
            return False
        if self.weight.dtype != x.dtype:
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
            op = onednn_linear_op()
            x = x if x.is_contiguous() else x.contiguous()
            algorithm = "none" if self.activation == "gelu" else ""
            if x.dtype == torch.bfloat16:
                # whole or in two halves of outputs, as measured faster
                return tuned_bf16_linear(
                    op, x, self.weight, self.bias, self.activation, algorithm
                )
            return op(x, self.weight, self.bias, self.activation, [], algorithm)
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
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
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
            "the oneDNN Linear operator is unavailable or failed a "
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
