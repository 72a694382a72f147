"""One context for tracing a model quietly (TorchScript and ONNX exports).

Tracing prints expected warnings (Python values turned into constants,
deprecations of the TorchScript-based exporter) and, when the legacy ONNX
exporter fails, the whole graph on stdout. Every place that traces a model
(:mod:`ast_sb.export.model_export`, the int8 graph of
:mod:`ast_sb.inference.onnxruntime_int8`, the OpenVINO conversion of
:mod:`ast_sb.inference.openvino_backend`) does so inside
:func:`quiet_tracing`. It imports nothing else from ``ast_sb``, so inference
code can use it without an import circle.

Authors
 * ast_sb developers 2026
"""

import contextlib
import io
import warnings
from typing import Iterator

import torch

__all__ = ["EXPECTED_WARNINGS", "quiet_tracing"]

#: Messages of the warnings that tracing an AST model is expected to raise.
EXPECTED_WARNINGS = (
    ".*jit.*deprecated.*",
    ".*legacy TorchScript-based.*",
    ".*will be removed.*",
    ".*axis name.*",
)


@contextlib.contextmanager
def quiet_tracing(all_warnings: bool = False) -> Iterator[None]:
    """Context for tracing: no autograd, no stdout, no expected warnings.

    Arguments
    ---------
    all_warnings : bool
        Silence every warning, not only the expected ones (for a graph built
        internally, whose warnings a user cannot act on).

    Yields
    ------
    None

    Example
    -------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     with quiet_tracing():
    ...         print("graph dump")
    ...         warnings.warn("torch.jit.trace is deprecated")
    ...         grad = torch.is_grad_enabled()
    >>> grad, len(seen)
    (False, 0)
    """
    with (
        warnings.catch_warnings(),
        torch.no_grad(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        if all_warnings:
            warnings.simplefilter("ignore")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        for message in EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield
