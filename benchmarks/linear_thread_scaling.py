#!/usr/bin/env python
"""oneDNN Linear shapes: does the second thread help, and do output halves?

For each (in, out) pair of the AST sizes and each row count (tokens of
short / one / four clips), times ``torch.ops.mkldnn._linear_pointwise``
whole on 1 thread and on ``--threads``, and in two and four slices of its
output features on ``--threads``, interleaved in a new random order each
repetition. Prints medians as ratios: ``scaling`` (1 thread / N threads,
1.0 = the extra threads did nothing), ``halves`` and ``quarters`` (whole /
sliced, > 1 = slicing is faster). The measured choice of
:mod:`ast_sb.inference.linear_split` exists because ``scaling`` was 1.0
for some of these shapes in bf16 on an AMX Xeon and ~2 for the others.

Usage::

    python benchmarks/linear_thread_scaling.py --dtype bfloat16 --threads 2 \\
        --json out.json

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Dict, List

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ast_sb.inference.cpu_features import describe_cpu  # noqa: E402
from ast_sb.inference.onednn import onednn_linear_op  # noqa: E402

#: (in, out) features of base (768), small (384) and tiny (192) blocks
SHAPES = [
    (768, 2304),
    (768, 768),
    (768, 3072),
    (3072, 768),
    (384, 1152),
    (384, 384),
    (384, 1536),
    (1536, 384),
    (192, 576),
    (192, 192),
    (192, 768),
    (768, 192),
]
ROWS = (302, 1214, 4856)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    op = onednn_linear_op()
    if op is None:
        raise SystemExit("the oneDNN Linear operator is unavailable here")
    dtype = getattr(torch, args.dtype)
    rows_out: List[Dict] = []
    with torch.inference_mode():
        for in_f, out_f in SHAPES:
            for rows in ROWS:
                x = torch.randn(rows, in_f).to(dtype)
                w = (torch.randn(out_f, in_f) * 0.02).to(dtype)
                b = torch.randn(out_f).to(dtype)

                def sliced(n, x=x, w=w, b=b):
                    return torch.cat(
                        [
                            op(x, wc, bc, "none", [], "")
                            for wc, bc in zip(w.chunk(n), b.chunk(n))
                        ],
                        -1,
                    )

                runs = {
                    "whole_1": (
                        1,
                        lambda x=x, w=w, b=b: op(x, w, b, "none", [], ""),
                    ),
                    "whole_n": (
                        args.threads,
                        lambda x=x, w=w, b=b: op(x, w, b, "none", [], ""),
                    ),
                    "halves_n": (args.threads, lambda: sliced(2)),
                    "quarters_n": (args.threads, lambda: sliced(4)),
                }
                times = {k: [] for k in runs}
                for threads, fn in runs.values():  # warm-up
                    torch.set_num_threads(threads)
                    fn()
                order = list(runs)
                rng = random.Random(0)
                for _ in range(args.reps):
                    rng.shuffle(order)
                    for name in order:
                        threads, fn = runs[name]
                        torch.set_num_threads(threads)
                        start = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - start)
                med = {k: statistics.median(v) for k, v in times.items()}
                row = {
                    "in": in_f,
                    "out": out_f,
                    "rows": rows,
                    "whole_1_ms": med["whole_1"] * 1e3,
                    "whole_n_ms": med["whole_n"] * 1e3,
                    "scaling": med["whole_1"] / med["whole_n"],
                    "halves": med["whole_n"] / med["halves_n"],
                    "quarters": med["whole_n"] / med["quarters_n"],
                }
                rows_out.append(row)
                print(
                    f"in {in_f:5d} out {out_f:5d} rows {rows:5d}  1 thread "
                    f"{row['whole_1_ms']:7.2f} ms  scaling {row['scaling']:.2f}"
                    f"  halves {row['halves']:.2f}  quarters "
                    f"{row['quarters']:.2f}",
                    flush=True,
                )
    res = {
        "meta": {
            "cpu": describe_cpu(),
            "dtype": args.dtype,
            "threads": args.threads,
            "reps": args.reps,
            "torch": torch.__version__,
            "loadavg": os.getloadavg(),
        },
        "results": rows_out,
    }
    if args.json:
        with open(args.json, "w") as fout:
            json.dump(res, fout, indent=2)
    return res


if __name__ == "__main__":
    main()
