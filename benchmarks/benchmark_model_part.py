#!/usr/bin/env python
"""Model part (normalised features in, encoder + head scores out) on the CPU:
ast_sb's paths against what a user would pick instead, in one run.

Implementations, timed round robin (one warm-up each, then ``--reps``
interleaved repetitions; fastest and median reported):

* ``ast_sb fp32``, ``ast_sb bf16`` (bf16 weights + oneDNN Linear, what
  ``auto`` picks on a CPU with native bf16), ``ast_sb bf16 whole Linear``
  (the same with ``AST_SB_BF16_LINEAR_SPLIT=0``: no Linear split in output
  halves), ``ast_sb auto`` (with its
  first-use probe in the warm-up), ``ast_sb bf16 autocast`` (per-op
  autocast, the previous bf16 path);
* ``OpenVINO default`` (its CPU plugin's precision choice: bf16 where
  native) and ``OpenVINO f32``, both converted from the same encoder +
  head (skipped without ``openvino``).

Besides each path's fastest and median time, the ratios to OpenVINO are
also given paired: the median over repetitions of the per-repetition ratio
(with a bootstrap 95 % interval, :func:`paired_ratio`), which cancels the
drift of a shared machine between repetitions.

Random weights; every figure comes with the CPU flags
(:func:`ast_sb.inference.cpu_features.describe_cpu`) and the load averages.

``--paths`` times a subset (fp32 always runs: it is the reference);
``--shuffle`` times them in a new random order each repetition, so that no
path always runs right after the same other one (e.g. after OpenVINO's
worker threads).

Usage::

    python benchmarks/benchmark_model_part.py --size base384 --frames 1024 \\
        --batch 1 --reps 3 --threads 2 --json out.json

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
from typing import Callable, Dict

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ast_sb.inference.cpu_features import describe_cpu  # noqa: E402
from ast_sb.inference.fast import InferencePath, optimize_for_inference  # noqa: E402
from ast_sb.inference.linear_split import SPLIT_ENV  # noqa: E402
from ast_sb.inference.openvino_backend import (  # noqa: E402
    compile_openvino,
    openvino_available,
)
from ast_sb.lobes.model import (  # noqa: E402
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)


class EncoderHead(torch.nn.Module):
    """Encoder + head, features -> scores ``[B, C]``."""

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, feats):
        return self.head(self.encoder(feats)).squeeze(1)


def paired_ratio(reference, candidate, resamples: int = 2000) -> Dict:
    """Speed of ``candidate`` relative to ``reference`` from paired repetitions.

    Repetition ``i`` of both was timed within seconds of the other, so the
    ratio ``reference[i] / candidate[i]`` cancels the slow drifts of a shared
    machine that make separate minima and medians disagree. Returns the
    median ratio, a seeded bootstrap 95 % interval of that median, and the
    share of repetitions in which the candidate was faster.

    Arguments
    ---------
    reference, candidate : list of float
        Times of the same repetitions, in seconds.
    resamples : int
        Bootstrap resamples.

    Returns
    -------
    dict
        ``median``, ``ci95`` ([low, high]) and ``faster_share``.

    Example
    -------
    >>> r = paired_ratio([2.0, 4.0, 2.2], [1.0, 2.0, 1.0])
    >>> r["median"], r["faster_share"]
    (2.0, 1.0)
    """
    ratios = [a / b for a, b in zip(reference, candidate)]
    rng = random.Random(0)
    medians = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios)))
        for _ in range(resamples)
    )
    return {
        "median": statistics.median(ratios),
        "ci95": [
            medians[int(0.025 * resamples)],
            medians[int(0.975 * resamples) - 1],
        ],
        "faster_share": sum(r > 1 for r in ratios) / len(ratios),
    }


PATH_NAMES = (
    "fp32",
    "bf16",
    "bf16-whole",
    "auto",
    "autocast",
    "openvino-default",
    "openvino-f32",
)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="base384")
    parser.add_argument("--frames", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classes", type=int, default=527)
    parser.add_argument(
        "--paths",
        default=",".join(PATH_NAMES),
        help="comma-separated subset of " + ",".join(PATH_NAMES),
    )
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="time the paths in a new random order each repetition "
        "(seeded), so that no path always follows the same one",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.paths.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(PATH_NAMES))
    if unknown:
        parser.error(f"--paths: unknown {unknown}; choose from {PATH_NAMES}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformerEncoder(
        args.size, target_length=args.frames
    ).eval()
    head = AudioSpectrogramTransformerClassifier(
        encoder.embed_dim, args.classes, output="logits"
    ).eval()
    model = EncoderHead(encoder, head).eval()
    feats = torch.randn(args.batch, args.frames, 128) * 0.5
    # fp32 is always timed: every other figure is compared with it
    paths = {
        name: InferencePath(model, name)
        for name in ("fp32", "bf16", "auto")
        if name == "fp32" or name in wanted
    }
    fns: Dict[str, Callable] = {
        f"ast_sb {name}": (lambda p=p: p(feats)) for name, p in paths.items()
    }
    if "bf16-whole" in wanted:
        whole = InferencePath(model, "bf16")

        def bf16_whole():
            # every bf16 Linear whole: what bf16 was before the split
            before = os.environ.get(SPLIT_ENV)
            os.environ[SPLIT_ENV] = "0"
            try:
                return whole(feats)
            finally:
                if before is None:
                    os.environ.pop(SPLIT_ENV)
                else:
                    os.environ[SPLIT_ENV] = before

        fns["ast_sb bf16 whole Linear"] = bf16_whole
    if "autocast" in wanted:
        autocast = optimize_for_inference(model, "bf16")
        fns["ast_sb bf16 autocast"] = lambda: autocast(feats)
    skipped = {}
    if openvino_available():
        for name, precision in (("default", None), ("f32", "f32")):
            if f"openvino-{name}" not in wanted:
                continue
            try:
                compiled = compile_openvino(
                    model,
                    [feats],
                    precision=precision,
                    config={"INFERENCE_NUM_THREADS": args.threads},
                )
            except RuntimeError as err:
                # under ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU, OpenVINO picks
                # bf16 from the CPU's flags and finds no kernel; on a real
                # AVX2 CPU its default is f32
                skipped[f"OpenVINO {name}"] = (
                    str(err).strip().splitlines() or [type(err).__name__]
                )[-1]
                print(
                    f"OpenVINO {name}: skipped ({skipped[f'OpenVINO {name}']})"
                )
                continue
            fns[f"OpenVINO {name} ({compiled.precision})"] = lambda c=compiled: (
                c(feats)
            )
    meta = {
        "cpu": describe_cpu(),
        "threads": args.threads,
        "torch": torch.__version__,
        "size": args.size,
        "frames": args.frames,
        "batch": args.batch,
        "loadavg_start": os.getloadavg(),
        "command": " ".join(["python"] + sys.argv),
        "isa_env": {
            k: os.environ[k]
            for k in (
                "ATEN_CPU_CAPABILITY",
                "ONEDNN_MAX_CPU_ISA",
                "MKL_ENABLE_INSTRUCTIONS",
            )
            if k in os.environ
        },
        "skipped": skipped,
        "shuffle": args.shuffle,
    }
    print(json.dumps(meta), flush=True)
    times: Dict[str, list] = {k: [] for k in fns}
    outputs = {}
    with torch.inference_mode():
        for name, fn in fns.items():  # warm-up (and auto's probe)
            outputs[name] = fn().float()
        order = list(fns)
        rng = random.Random(0)
        for rep in range(args.reps):
            if args.shuffle:
                rng.shuffle(order)
            for name in order:
                fn = fns[name]
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
            print(f"repeat {rep} load {os.getloadavg()[0]:.2f}", flush=True)
    ref = outputs["ast_sb fp32"]
    ov_default = next(
        (k for k in fns if k.startswith("OpenVINO default")), None
    )
    ov_f32 = next((k for k in fns if k.startswith("OpenVINO f32")), None)
    results = {}
    for name, values in times.items():
        out = outputs[name]
        results[name] = {
            "min_s": min(values),
            "median_s": statistics.median(values),
            "times_s": values,
            "rel_diff_vs_fp32": float(
                (out - ref).abs().max() / ref.abs().max()
            ),
            "top1_equal_fp32": bool(
                torch.equal(out.argmax(-1), ref.argmax(-1))
            ),
        }
    for r in results.values():
        r["speedup_vs_fp32_min"] = results["ast_sb fp32"]["min_s"] / r["min_s"]
        for key, ov in (
            ("openvino_default", ov_default),
            ("openvino_f32", ov_f32),
        ):
            if ov:
                r[f"vs_{key}_min"] = results[ov]["min_s"] / r["min_s"]
                r[f"vs_{key}_median"] = results[ov]["median_s"] / r["median_s"]
                r[f"vs_{key}_paired"] = paired_ratio(
                    results[ov]["times_s"], r["times_s"]
                )
    meta["loadavg_end"] = os.getloadavg()
    if "auto" in paths:
        meta["auto"] = paths["auto"].describe()
    res = {"meta": meta, "results": results}
    for name, r in results.items():
        print(
            f"{name:36s} min {r['min_s']:.3f} s  median {r['median_s']:.3f} s"
            f"  x fp32 {r['speedup_vs_fp32_min']:.2f}"
            + (
                f"  x OV default {r['vs_openvino_default_min']:.2f}"
                f" (median {r['vs_openvino_default_median']:.2f}, paired"
                f" {r['vs_openvino_default_paired']['median']:.2f}"
                f" [{r['vs_openvino_default_paired']['ci95'][0]:.2f},"
                f" {r['vs_openvino_default_paired']['ci95'][1]:.2f}])"
                if ov_default
                else ""
            )
            + (
                f"  x OV f32 {r['vs_openvino_f32_min']:.2f}"
                f" (median {r['vs_openvino_f32_median']:.2f}, paired"
                f" {r['vs_openvino_f32_paired']['median']:.2f})"
                if ov_f32
                else ""
            )
            + f"  rel diff {r['rel_diff_vs_fp32']:.4f}"
            f"  top-1 = fp32 {r['top1_equal_fp32']}"
        )
    if args.json:
        with open(args.json, "w") as fout:
            json.dump(res, fout, indent=2)
    return res


if __name__ == "__main__":
    main()
