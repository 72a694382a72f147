#!/usr/bin/env python
"""How fast is each CPU this process may run on, alone and all at once?

A cloud VM's virtual CPUs need not be equal: one may share its physical
core with another tenant. oneDNN and PyTorch split each operator evenly
between their OpenMP threads, so an operator takes as long as its share on
the slowest CPU; a runtime with work stealing (OpenVINO's TBB) gives the
slow CPU less. Run this next to a multi-thread benchmark to know whether
its figures come from equal CPUs.

For each CPU in the affinity mask, a process pinned to it runs single-thread
matrix products (1024 x 1024, fp32 and bf16) for ``--seconds`` per dtype:
first every CPU at once, then each alone. Prints products per second and
the slowest / fastest ratio (1.0: equal CPUs).

Usage::

    python benchmarks/vcpu_balance.py --seconds 3 --json out.json

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DTYPES = ("float32", "bfloat16")


def _rates(cpu: int, seconds: float, queue) -> None:
    """Products per second on ``cpu``, one thread, per dtype."""
    os.sched_setaffinity(0, {cpu})
    import torch

    torch.set_num_threads(1)
    rates = {}
    for name in DTYPES:
        dtype = getattr(torch, name)
        a = torch.randn(1024, 1024).to(dtype)
        b = torch.randn(1024, 1024).to(dtype)
        torch.mm(a, b)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            torch.mm(a, b)
            count += 1
        rates[name] = count / (time.perf_counter() - start)
    queue.put((cpu, rates))


def measure(cpus: List[int], seconds: float) -> Dict[int, Dict[str, float]]:
    """Rates of ``cpus`` measured at the same time (one process each)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_rates, args=(cpu, seconds, queue)) for cpu in cpus
    ]
    for proc in procs:
        proc.start()
    found = dict(queue.get() for _ in procs)
    for proc in procs:
        proc.join()
    return found


def balance(rates: Dict[int, Dict[str, float]], dtype: str) -> float:
    """Slowest / fastest rate of ``dtype`` (1.0: equal CPUs).

    Example
    -------
    >>> balance({0: {"float32": 200.0}, 1: {"float32": 500.0}}, "float32")
    0.4
    """
    values = [r[dtype] for r in rates.values()]
    return min(values) / max(values)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    from ast_sb.inference.cpu_features import describe_cpu

    cpus = sorted(os.sched_getaffinity(0))
    together = measure(cpus, args.seconds)
    alone: Dict[int, Dict[str, float]] = {}
    for cpu in cpus:
        alone.update(measure([cpu], args.seconds))
    res = {
        "cpu": describe_cpu(),
        "loadavg": os.getloadavg(),
        "together": together,
        "alone": alone,
        "balance_together": {d: balance(together, d) for d in DTYPES},
        "balance_alone": {d: balance(alone, d) for d in DTYPES},
    }
    for label, rates in (("together", together), ("alone", alone)):
        for cpu in cpus:
            print(
                f"{label:8s} cpu {cpu}: "
                + "  ".join(f"{d} {rates[cpu][d]:7.1f} mm/s" for d in DTYPES)
            )
    print(
        "slowest / fastest: together "
        + ", ".join(f"{d} {v:.2f}" for d, v in res["balance_together"].items())
        + "; alone "
        + ", ".join(f"{d} {v:.2f}" for d, v in res["balance_alone"].items())
    )
    if args.json:
        with open(args.json, "w") as fout:
            json.dump(res, fout, indent=2)
    return res


if __name__ == "__main__":
    main()
