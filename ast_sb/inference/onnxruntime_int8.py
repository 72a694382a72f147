"""int8 inference through onnxruntime's dynamic quantisation.

:func:`quantize_int8` turns an encoder into an :class:`OnnxRuntimeInt8Module`:
the transformer blocks, the final norm and the pooling are exported to
ONNX once (:class:`TokenEncoder`: tokens and their key mask in, the
pooled embedding out), their MatMuls quantised by
``onnxruntime.quantization.quantize_dynamic`` (:func:`quantize_dynamic_int8`:
int8 weights with one scale per output channel, activations quantised at
run time, onnxruntime's VNNI / AMX-INT8 kernels), and the result run by
an ``onnxruntime.InferenceSession``. The token embedding (patches,
position grid, padding mask, token budget) stays in PyTorch and reads the
encoder as it is, so a token budget set later applies without a new
export; new weights need a new copy (:class:`ast_sb.inference.fast.InferencePath`
rebuilds it after ``load_state_dict``).

Activations share one scale per tensor, so each clip runs alone, so a clip
scores the same alone and in any padded batch; every clip goes through the
one graph, with an additive key bias (all zeros for a clip without
padding).

onnxruntime is a maintained library with int8 kernels for x86 (AVX2,
AVX-512 VNNI, AMX); ``torch.ao.quantization`` (the previous int8 path) is
deprecated, and torchao's eager int8 was slower than fp32 on the CPUs
measured (``docs/DESIGN.md``).

Authors
 * ast_sb developers 2026
"""

import importlib.util
import logging
import os
import tempfile
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ast_sb.disk_space import is_disk_full
from ast_sb.export.quiet_tracing import quiet_tracing

__all__ = [
    "OnnxRuntimeInt8Module",
    "TokenEncoder",
    "onnxruntime_available",
    "quantize_dynamic_int8",
    "quantize_int8",
]


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` (and ``onnx``, to export) are installed.

    Returns
    -------
    bool
        True when both can be imported.

    Example
    -------
    >>> isinstance(onnxruntime_available(), bool)
    True
    """
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("onnxruntime", "onnx")
    )


def quantize_dynamic_int8(fp32_path: str, path: str) -> str:
    """Dynamic int8 quantisation of an ONNX model with onnxruntime.

    MatMul weights become int8 with one scale per output channel;
    activations are quantised (per tensor) when the model runs.

    Arguments
    ---------
    fp32_path : str
        fp32 ONNX model.
    path : str
        Output ``.onnx`` file (weights inside it).

    Returns
    -------
    str
        ``path``.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" advice
    try:
        quantize_dynamic(
            fp32_path, path, weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        root.setLevel(level)
    return path


class TokenEncoder(nn.Module):
    """The exported part of an AST encoder: blocks, norm and pooling.

    Its mask is additive, ``key_bias`` [B, N]: 0 where a token may be
    attended to, ``-inf`` elsewhere (:func:`key_bias`). In ONNX a boolean
    mask costs an ``IsNaN`` and two ``Where`` over every attention matrix
    (measured 2x the time of the whole graph on base384); the bias is one
    ``Add``.

    Arguments
    ---------
    encoder : ast_sb.lobes.model.AudioSpectrogramTransformerEncoder
        The encoder (shared, not copied).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> x = torch.randn(1, 64, 128)
    >>> tokens, mask = enc.embed(x)
    >>> with torch.no_grad():
    ...     out = TokenEncoder(enc)(tokens, key_bias(tokens, mask))
    ...     bool((out - enc(x)).abs().max() < 1e-5)
    True
    """

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(
        self, tokens: torch.Tensor, key_bias: torch.Tensor
    ) -> torch.Tensor:
        """Pooled embedding [B, 1, D] of tokens [B, N, D] (bias [B, N])."""
        return self.encoder.forward_tokens(tokens, key_bias)


def key_bias(
    tokens: torch.Tensor, key_mask: Optional[torch.Tensor]
) -> torch.Tensor:
    """The additive attention bias [B, N] of a key mask (None: all valid).

    Arguments
    ---------
    tokens : torch.Tensor
        [B, N, D] tokens.
    key_mask : torch.Tensor, optional
        Boolean [B, N], True where a token may be attended to.

    Returns
    -------
    torch.Tensor
        float32 [B, N]: 0 where ``key_mask`` is True, ``-inf`` elsewhere.

    Example
    -------
    >>> key_bias(torch.zeros(1, 3, 4), torch.tensor([[True, True, False]]))
    tensor([[0., 0., -inf]])
    """
    bias = torch.zeros(tokens.shape[:2], dtype=torch.float32)
    if key_mask is not None:
        bias = bias.masked_fill(~key_mask.bool(), float("-inf"))
    return bias


def _export(
    module: nn.Module,
    args: Tuple[torch.Tensor, ...],
    path: str,
    names: Sequence[str],
    axes: Dict[str, Dict[int, str]],
) -> None:
    """``torch.onnx.export`` with the TorchScript-based exporter, inside
    :func:`~ast_sb.export.quiet_tracing.quiet_tracing`:
    seconds where ``torch.export`` takes tens of seconds for base384, and
    the graphs exported here have no data-dependent shapes."""
    with quiet_tracing(all_warnings=True):
        torch.onnx.export(
            module.eval(),
            args,
            path,
            input_names=list(names),
            output_names=["embeddings"],
            dynamic_axes={**axes, "embeddings": {0: "batch"}},
            dynamo=False,
        )


def _export_tokens_graph(encoder: nn.Module, path: str) -> List[str]:
    """ONNX export of :class:`TokenEncoder` (batch and token axes dynamic)."""
    tokens = torch.randn(2, 7, int(encoder.embed_dim))
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    names = ["tokens", "key_bias"]
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    _export(
        TokenEncoder(encoder),
        (tokens, key_bias(tokens, mask)),
        path,
        names,
        axes,
    )
    return names


def _export_module_graph(
    module: nn.Module, example: Tuple[Any, ...], path: str
) -> List[str]:
    """ONNX export of any module called as ``module(*example)`` (batch axis
    dynamic; the time axis too for [B, T, F] inputs)."""
    if not example or not all(isinstance(a, torch.Tensor) for a in example):
        raise ValueError(
            "int8 of a module other than an AST encoder needs tensor inputs."
        )
    names = ["feats", "lengths"] + [
        f"input_{i}" for i in range(2, len(example))
    ]
    names = names[: len(example)]
    axes = {
        name: ({0: "batch", 1: "frames"} if t.dim() == 3 else {0: "batch"})
        for name, t in zip(names, example)
    }
    _export(module, tuple(example), path, names, axes)
    return names


class OnnxRuntimeInt8Module:
    """A module whose int8 graph runs in onnxruntime, one clip at a time.

    Called like the module it was built from (e.g. an AST encoder:
    ``(feats, lengths=None) -> [B, 1, D]``). For an AST encoder the token
    embedding runs in PyTorch (``encoder.embed``) and the graph holds the
    blocks (:class:`TokenEncoder`); for another module the graph holds the
    whole module. Build it with :func:`quantize_int8`.

    Arguments
    ---------
    session : onnxruntime.InferenceSession
        The int8 graph.
    encoder : ast_sb.lobes.model.AudioSpectrogramTransformerEncoder, optional
        The fp32 AST encoder whose ``embed`` makes the graph's tokens; None
        when the graph takes the module's own inputs.
    input_names : list of str
        The graph's inputs, in the order of the module's arguments (with
        ``encoder``: "tokens", "key_bias").
    op_types : dict, optional
        Number of nodes per ONNX operator type in the quantised graph.
    """

    def __init__(
        self,
        session: Any,
        encoder: Optional[nn.Module] = None,
        input_names: Sequence[str] = ("tokens", "key_bias"),
        op_types: Optional[dict] = None,
    ):
        self.session = session
        self.encoder = encoder
        self.input_names = list(input_names)
        self.op_types = dict(op_types or {})
        # an input the module ignores (e.g. lengths) is not in the graph
        self._graph_inputs = {i.name for i in session.get_inputs()}

    def __repr__(self) -> str:
        int8 = {
            k: v
            for k, v in sorted(self.op_types.items())
            if "Integer" in k or "Quantize" in k
        }
        return f"{type(self).__name__}(onnxruntime, int8 nodes={int8})"

    def _feeds(self, args: Tuple[torch.Tensor, ...]) -> Dict[str, Any]:
        if self.encoder is not None:
            tokens, key_mask = self.encoder.embed(*args)
            args = (tokens, key_bias(tokens, key_mask))
        return {
            name: a.detach().contiguous().numpy()
            for name, a in zip(self.input_names, args)
            if name in self._graph_inputs
        }

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        """Outputs for a batch, each clip run alone (float32 [B, ...])."""
        first = args[0]
        if first.device.type != "cpu":
            raise ValueError(
                f"int8 runs on the CPU; the input is on {first.device}."
            )
        rows = []
        for i in range(first.shape[0]):
            row = tuple(
                a[i : i + 1]
                if isinstance(a, torch.Tensor)
                and a.dim()
                and len(a) == len(first)
                else a
                for a in args
            )
            out = self.session.run(None, self._feeds(row))[0]
            rows.append(torch.from_numpy(out))
        return torch.cat(rows)


def quantize_int8(
    module: nn.Module,
    example: Optional[Tuple[Any, ...]] = None,
    threads: Optional[int] = None,
) -> OnnxRuntimeInt8Module:
    """An int8 copy of a module, run by onnxruntime (CPU).

    Arguments
    ---------
    module : torch.nn.Module
        Module on the CPU in eval mode, weights loaded (not changed): an
        AST encoder (its blocks are quantised, the token embedding stays in
        PyTorch), or any module that exports to ONNX (needs ``example``).
    example : tuple, optional
        Example arguments of ``module`` (any batch size), for modules other
        than an AST encoder.
    threads : int, optional
        onnxruntime's intra-op threads (default: ``torch.get_num_threads()``).

    Returns
    -------
    OnnxRuntimeInt8Module
        Called like ``module``.

    Raises
    ------
    RuntimeError
        When ``onnxruntime`` or ``onnx`` is missing (``pip install
        'ast_sb[onnx]'``), or the export fails.
    ValueError
        When ``module`` is not on the CPU, or is not an AST encoder and no
        ``example`` is given.

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, depth=1
    ... ).eval()
    >>> q = quantize_int8(enc)
    >>> x = torch.randn(2, 64, 128)
    >>> out = q(x)
    >>> out.shape
    torch.Size([2, 1, 192])
    >>> with torch.no_grad():
    ...     bool((out - enc(x)).abs().max() < 0.1 * enc(x).abs().max())
    True
    """
    is_ast = callable(getattr(module, "forward_tokens", None)) and callable(
        getattr(module, "embed", None)
    )
    if not is_ast and example is None:
        raise ValueError(
            f"int8 of {type(module).__name__} (not an AST encoder) needs "
            f"example inputs to export it."
        )
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")
    if device.type != "cpu":
        raise ValueError(
            f"int8 quantisation runs on the CPU; the module is on {device}."
        )
    if not onnxruntime_available():
        raise RuntimeError(
            "fast_path='int8' needs `onnxruntime` and `onnx`, which are not "
            "installed (pip install 'ast_sb[onnx]')."
        )
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="ast_sb_int8_") as tmp:
        fp32_path = os.path.join(tmp, "model.onnx")
        int8_path = os.path.join(tmp, "model.int8.onnx")
        try:
            if is_ast:
                names = _export_tokens_graph(module, fp32_path)
            else:
                names = _export_module_graph(module, tuple(example), fp32_path)
            quantize_dynamic_int8(fp32_path, int8_path)
        except Exception as err:
            if is_disk_full(err):
                raise  # the disk's fault, not the model's
            first = (str(err).strip().splitlines() or [""])[0]
            raise RuntimeError(
                f"int8: exporting or quantising {type(module).__name__} "
                f"failed ({type(err).__name__}: {first})"
            ) from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        # no busy-waiting between calls: PyTorch's token embedding runs in
        # between and needs the cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = ort.InferenceSession(
            int8_path, options, providers=["CPUExecutionProvider"]
        )
        graph = onnx.load(int8_path).graph
        op_types = Counter(node.op_type for node in graph.node)
    return OnnxRuntimeInt8Module(
        session, module if is_ast else None, names, op_types
    )
