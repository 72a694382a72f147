"""bf16 oneDNN Linear layers split in two halves of outputs where measured faster.

On an AMX Xeon with 2 threads, oneDNN's bf16 inner product leaves the
second thread idle for some shapes: base384's attention projection
(768 -> 768) and second MLP Linear (3072 -> 768) on one clip's 1214 tokens
ran as fast on 1 thread as on 2, while the same layers on 302 or 4856 rows,
and base384's other Linear layers, scaled 1.6-2.6x. Two calls on the two
halves of the output features (``weight[:h]``, ``weight[h:]``: contiguous
row blocks, no copy) then ran 1.25-1.7x faster than the whole layer alone
and 1.6-1.8x inside the model, but at 0.4-0.9x of its speed where the
whole layer already scaled. No rule of shapes says where: it depends on
the CPU and on oneDNN's heuristics. So the choice is measured per process,
once per shape (rows, in, out features, activation, threads): both ways,
interleaved, median of :data:`TUNING_REPS` runs after a warm-up, cached for
every later call of that shape in every layer.

``AST_SB_BF16_LINEAR_SPLIT=0`` turns the split off (every layer runs
whole, nothing is timed: bf16 outputs that do not depend on a measurement).
Only bf16 inputs with more than one thread and at least :data:`MIN_ROWS`
rows are tuned; fp32 oneDNN scaled on every shape measured, and a split
there would only add a copy. The two ways agree within bf16 rounding (the
halves may block the inner dimension differently); every call of one shape
takes the same way, and the first call returns the chosen way's output.

Authors
 * ast_sb developers 2026
"""

import os
import statistics
import threading
import time
from typing import Callable, Dict, Hashable, List, Optional, Tuple, TypeVar

import torch

__all__ = [
    "SPLIT_ENV",
    "MIN_ROWS",
    "TUNING_REPS",
    "clear_split_choices",
    "measured_fastest",
    "output_halves_linear",
    "split_choices",
    "split_enabled",
    "tuned_bf16_linear",
]

#: Environment variable: "0" runs every bf16 Linear whole, untimed.
SPLIT_ENV = "AST_SB_BF16_LINEAR_SPLIT"

#: Fewer rows than this run whole (nothing to gain, e.g. the prefix block).
MIN_ROWS = 64
#: Timed runs of each way (after one warm-up) when a shape is first seen.
TUNING_REPS = 3
#: Smallest output count that is split (halves of at least 128 features).
MIN_OUT_FEATURES = 256

T = TypeVar("T")

_CHOICES: Dict[Tuple, int] = {}
_LOCK = threading.Lock()


def split_enabled() -> bool:
    """Whether bf16 Linear layers may be split (``AST_SB_BF16_LINEAR_SPLIT``
    is not "0"; read on every call).

    Returns
    -------
    bool

    Example
    -------
    >>> import os
    >>> split_enabled() == (os.environ.get(SPLIT_ENV, "1") != "0")
    True
    """
    return os.environ.get(SPLIT_ENV, "1").strip() != "0"


def measured_fastest(
    candidates: Dict[Hashable, Callable[[], T]],
    reps: int = TUNING_REPS,
    clock: Callable[[], float] = time.perf_counter,
) -> Tuple[Hashable, T]:
    """The candidate with the smallest median time, and its last output.

    Each candidate runs once as a warm-up, then ``reps`` times, interleaved
    with the others so that a slow spell of a shared machine hits all of
    them. Ties go to the first candidate.

    Arguments
    ---------
    candidates : dict
        Name -> function of no arguments.
    reps : int
        Timed runs of each candidate.
    clock : callable
        Time source (seconds).

    Returns
    -------
    tuple
        (name of the fastest, its output from its last run).

    Example
    -------
    >>> ticks = iter(range(100))
    >>> clock = lambda: next(ticks)  # every run takes one tick ...
    >>> name, out = measured_fastest(
    ...     {"a": lambda: "A", "b": lambda: "B"}, reps=2, clock=clock
    ... )
    >>> name, out  # ... so the tie goes to the first
    ('a', 'A')
    """
    names = list(candidates)
    times: Dict[Hashable, List[float]] = {name: [] for name in names}
    outputs: Dict[Hashable, T] = {}
    for rep in range(reps + 1):
        for name in names:
            start = clock()
            outputs[name] = candidates[name]()
            if rep:  # the first run of each is a warm-up
                times[name].append(clock() - start)
    medians = {name: statistics.median(times[name]) for name in names}
    best = min(names, key=lambda name: medians[name])
    return best, outputs[best]


def output_halves_linear(
    op: Callable,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    activation: str,
    algorithm: str,
) -> torch.Tensor:
    """``op`` on each half of the output features, concatenated.

    Arguments
    ---------
    op : callable
        The oneDNN Linear operator (``op(x, weight, bias, activation, [],
        algorithm)``).
    x : torch.Tensor
        Contiguous input [..., in_features].
    weight : torch.Tensor
        [out_features, in_features], contiguous.
    bias : torch.Tensor or None
        [out_features].
    activation, algorithm : str
        Passed to ``op``.

    Returns
    -------
    torch.Tensor
        [..., out_features], as ``op(x, weight, bias, ...)`` up to rounding.

    Example
    -------
    >>> import torch.nn.functional as F
    >>> op = lambda x, w, b, act, scalars, alg: F.linear(x, w, b)
    >>> x, w, b = torch.randn(3, 4, 8), torch.randn(6, 8), torch.randn(6)
    >>> out = output_halves_linear(op, x, w, b, "none", "")
    >>> torch.allclose(out, F.linear(x, w, b), atol=1e-6)
    True
    """
    half = weight.shape[0] // 2
    parts = [
        op(
            x,
            weight[rows],
            None if bias is None else bias[rows],
            activation,
            [],
            algorithm,
        )
        for rows in (slice(0, half), slice(half, None))
    ]
    return torch.cat(parts, dim=-1)


def tuned_bf16_linear(
    op: Callable,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    activation: str,
    algorithm: str,
) -> torch.Tensor:
    """A bf16 oneDNN Linear, whole or in output halves as measured faster.

    Arguments
    ---------
    op : callable
        The oneDNN Linear operator.
    x : torch.Tensor
        Contiguous bf16 input [..., in_features].
    weight : torch.Tensor
        bf16 [out_features, in_features].
    bias : torch.Tensor or None
        bf16 [out_features].
    activation, algorithm : str
        Passed to ``op``.

    Returns
    -------
    torch.Tensor
        [..., out_features].

    Example
    -------
    >>> import torch.nn.functional as F
    >>> op = lambda x, w, b, act, scalars, alg: F.linear(x, w, b)
    >>> x = torch.randn(2, 100, 16).bfloat16()
    >>> w, b = torch.randn(512, 16).bfloat16(), torch.randn(512).bfloat16()
    >>> clear_split_choices()
    >>> out = tuned_bf16_linear(op, x, w, b, "none", "")
    >>> out.shape
    torch.Size([2, 100, 512])
    >>> threads = torch.get_num_threads()
    >>> list(split_choices()) == (
    ...     [(200, 16, 512, "none", threads)]
    ...     if threads > 1 and split_enabled()
    ...     else []
    ... )
    True
    >>> clear_split_choices()
    """
    rows = x.numel() // max(x.shape[-1], 1)
    threads = torch.get_num_threads()
    out_features = weight.shape[0]
    if (
        threads < 2
        or rows < MIN_ROWS
        or out_features < MIN_OUT_FEATURES
        or not split_enabled()
    ):
        return op(x, weight, bias, activation, [], algorithm)
    key = (rows, x.shape[-1], out_features, activation, threads)
    ways = {
        1: lambda: op(x, weight, bias, activation, [], algorithm),
        2: lambda: output_halves_linear(
            op, x, weight, bias, activation, algorithm
        ),
    }
    with _LOCK:
        chunks = _CHOICES.get(key)
    if chunks is not None:
        return ways[chunks]()
    best, out = measured_fastest(ways)
    with _LOCK:
        chunks = _CHOICES.setdefault(key, best)  # another thread may be first
    return out if chunks == best else ways[chunks]()


def split_choices() -> Dict[Tuple, int]:
    """The choices measured so far in this process.

    Returns
    -------
    dict
        (rows, in features, out features, activation, threads) -> 1 (whole)
        or 2 (output halves).

    Example
    -------
    >>> isinstance(split_choices(), dict)
    True
    """
    with _LOCK:
        return dict(_CHOICES)


def clear_split_choices() -> None:
    """Forgets every measured choice (the next call of a shape measures it
    again).

    Example
    -------
    >>> clear_split_choices()
    >>> split_choices()
    {}
    """
    with _LOCK:
        _CHOICES.clear()
