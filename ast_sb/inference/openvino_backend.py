"""OpenVINO as an optional inference backend (``pip install ast_sb[openvino]``).

:func:`compile_openvino` converts a model (e.g. the AST encoder) with
``openvino.convert_model`` once, compiles it for the CPU and returns an
:class:`OpenVINOModule` that is called like the PyTorch module (torch
tensors in, float32 torch tensors out). The batch dimension stays dynamic;
the other dimensions are those of the example input. ``"openvino"`` in
:class:`ast_sb.inference.fast.InferencePath` holds one such compiled model per
process (built on first use, reused for every batch).

OpenVINO's CPU plugin picks its own precision: bf16 on CPUs with native
bf16 (AMX / AVX512-BF16), f32 elsewhere; ``precision="f32"`` forces f32.

Authors
 * ast_sb developers 2026
"""

import importlib.util
from typing import Any, Optional, Sequence

import torch
from torch import nn

from ast_sb.export.quiet_tracing import quiet_tracing

__all__ = ["OpenVINOModule", "compile_openvino", "openvino_available"]

PRECISIONS = (None, "f32", "bf16")


def openvino_available() -> bool:
    """Whether the ``openvino`` package is installed.

    Returns
    -------
    bool
        True when ``import openvino`` can succeed.

    Example
    -------
    >>> isinstance(openvino_available(), bool)
    True
    """
    return importlib.util.find_spec("openvino") is not None


def _require() -> Any:
    if not openvino_available():
        raise RuntimeError(
            "fast_path='openvino' needs the `openvino` package, which is not "
            "installed (pip install 'ast_sb[openvino]')."
        )
    import openvino

    return openvino


class OpenVINOModule:
    """A compiled OpenVINO model called like a PyTorch module.

    Arguments
    ---------
    compiled : openvino.CompiledModel
        The compiled model.
    """

    def __init__(self, compiled: Any):
        self.compiled = compiled
        self.request = compiled.create_infer_request()

    @property
    def precision(self) -> str:
        """The inference precision OpenVINO chose ("f32", "bf16", ...)."""
        value = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return str(getattr(value, "type_name", value))

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        """Runs the model.

        Arguments
        ---------
        *args : torch.Tensor
            The inputs of the converted module, in order.

        Returns
        -------
        torch.Tensor
            The first output, float32.
        """
        inputs = [a.detach().cpu().float().contiguous().numpy() for a in args]
        result = self.request.infer(inputs)
        out = result[self.compiled.output(0)]
        return torch.from_numpy(out.copy()).float()


def compile_openvino(
    module: nn.Module,
    example: Sequence[torch.Tensor],
    precision: Optional[str] = None,
    model: Any = None,
    config: Optional[dict] = None,
) -> OpenVINOModule:
    """Converts ``module`` with OpenVINO and compiles it for the CPU.

    Arguments
    ---------
    module : torch.nn.Module
        Model in eval mode (ignored when ``model`` is given).
    example : list of torch.Tensor
        Example inputs; the first dimension of each is made dynamic. For an
        encoder with a padding mask, pass a batch with one clip shorter than
        the grid so that the masked branch is the one converted.
    precision : str, optional
        None (OpenVINO's choice for this CPU), "f32" or "bf16".
    model : openvino.Model or str, optional
        An already converted model, or a file (``.xml``, ``.onnx``) that
        ``openvino.Core.read_model`` reads (e.g. ast_sb's ONNX export).
    config : dict, optional
        More CPU plugin properties (e.g. ``{"INFERENCE_NUM_THREADS": 1}``).

    Returns
    -------
    OpenVINOModule
        The compiled model.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}, got {precision!r}."
        )
    ov = _require()
    core = ov.Core()
    if model is None:
        example = tuple(example)
        shapes = [ov.PartialShape([-1] + list(t.shape[1:])) for t in example]
        with quiet_tracing():  # convert_model traces the module
            model = ov.convert_model(
                module.eval(), example_input=example, input=shapes
            )
    elif isinstance(model, str):
        model = core.read_model(model)
    config = dict(config or {})
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    return OpenVINOModule(core.compile_model(model, "CPU", config))
