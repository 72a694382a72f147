"""How many intra-op threads a small model should use (streaming).

A forward pass of a small model (tiny224 on a 1.3 s window: 1.65 GFLOP)
is a few dozen short parallel regions. With one OpenMP thread per core,
every region ends at a barrier that waits for the slowest thread, so as
soon as another process takes one of the cores, each region waits for
the scheduler to give the descheduled thread its turn: measured on 2
cores with one busy competing process, tiny224:128 at a 1 s hop went from
a 38 ms median to 159 ms median and 711 ms p95 with 2 threads, while one
thread kept 25 ms median, 33 ms p95 (issue 25; figures in
``benchmarks/README.md``). One thread is only ~1.3x slower than two on
an idle machine at this size, so below :data:`SMALL_MODEL_GFLOP` one
thread is the better default for a process that must keep up in real
time; larger models keep PyTorch's default (one thread per core).

Authors
 * ast_sb developers 2026
"""

from typing import Optional

import torch

SMALL_MODEL_GFLOP = 10.0
"""Below this many GFLOP per forward call, :func:`policy_threads` picks 1
thread (tiny224 and small224 windows up to ~2.5 s; base384 at 128
frames needs ~30 GFLOP)."""


def policy_threads(gflop_per_call: float, cores: Optional[int] = None) -> int:
    """The thread count of the small-model policy.

    Arguments
    ---------
    gflop_per_call : float
        Work of one forward call (e.g. ``ast_sb.lobes.model.forward_flops / 1e9``).
    cores : int, optional
        Threads PyTorch would use (default: ``torch.get_num_threads()``).

    Returns
    -------
    int
        1 below :data:`SMALL_MODEL_GFLOP`, else ``cores``.

    Example
    -------
    >>> policy_threads(1.65, cores=2)
    1
    >>> policy_threads(30.0, cores=2)
    2
    """
    cores = torch.get_num_threads() if cores is None else int(cores)
    if gflop_per_call < SMALL_MODEL_GFLOP:
        return 1
    return max(1, cores)


def apply_thread_policy(
    gflop_per_call: float, threads: Optional[int] = None
) -> int:
    """Sets PyTorch's intra-op threads for this process; returns the count.

    Arguments
    ---------
    gflop_per_call : float
        Work of one forward call (GFLOP).
    threads : int, optional
        Explicit count (wins over the policy; 0 or None: the policy).

    Returns
    -------
    int
        The number of threads set.

    Example
    -------
    >>> before = torch.get_num_threads()
    >>> apply_thread_policy(1.0)
    1
    >>> apply_thread_policy(1.0, threads=before) == before
    True
    """
    n = int(threads) if threads else policy_threads(gflop_per_call)
    torch.set_num_threads(n)
    return n
