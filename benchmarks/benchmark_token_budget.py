#!/usr/bin/env python3
"""Accuracy versus speed of the inference token budget on a trained model.

Loads an exported ast_sb folder (e.g. the Custom recipe's ``inference/``
folder of a model trained with ``--patchout structured``) and a recipe test
manifest (``save/test.json``: ``wav`` and ``label`` per clip), then for each
budget:

* accuracy: every test clip through the user path
  (:meth:`~ast_sb.inference.interface.AudioSpectrogramTransformerInterface.classify_batch`,
  waveforms in, labels out), with the budget set on the interface;
* speed: the encoder + head on the normalised features of a fixed subset of
  clips (the compute the budget changes) and the whole user path on the
  same clips, timed round robin over the budgets (``--repeats`` rounds, so
  background load hits every budget alike); ratios use the medians;
* patch tokens per clip reaching the blocks and forward FLOPs
  (``torch.utils.flop_counter``) of the encoder on one clip.

Example::

    python benchmarks/benchmark_token_budget.py --model results/inference \\
        --manifest results/save/test.json --budgets 1,0.75,0.5,0.35,0.25 \\
        --threads 1 --json benchmarks/results_token_budget.json

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Dict, List, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from ast_sb.dataio.audio import load_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.token_budget import check_token_budget


def load_test_set(manifest: str, model) -> List[tuple]:
    """(waveform, label) of every clip of a recipe manifest."""
    with open(manifest, encoding="utf-8") as fin:
        entries = json.load(fin)
    clips = []
    for entry in entries.values():
        wav = load_audio(entry["wav"], sample_rate=model.sample_rate)
        clips.append((wav, str(entry["label"])))
    return clips


def batches(clips: Sequence[tuple], size: int):
    """Padded waveform batches ``(wavs, lengths, labels)``."""
    for start in range(0, len(clips), size):
        chunk = clips[start : start + size]
        longest = max(len(w) for w, _ in chunk)
        wavs = torch.zeros(len(chunk), longest)
        for i, (wav, _) in enumerate(chunk):
            wavs[i, : len(wav)] = wav
        lengths = torch.tensor([len(w) / longest for w, _ in chunk])
        yield wavs, lengths, [label for _, label in chunk]


def accuracy(model, clips, batch_size: int) -> float:
    """Top-1 accuracy of the user path over ``clips``."""
    correct = 0
    with torch.no_grad():
        for wavs, lengths, labels in batches(clips, batch_size):
            _, _, _, predicted = model.classify_batch(wavs, lengths)
            correct += sum(p == t for p, t in zip(predicted, labels))
    return correct / len(clips)


def model_features(model, wavs, lengths):
    """Normalised features and frame lengths, as the pipeline computes."""
    pipe = model.pipeline
    feats = pipe.compute_features(wavs, lengths)
    frame_lengths = pipe.compute_features.relative_frame_lengths(
        lengths, wavs.shape[-1]
    )
    return pipe.mean_var_norm(feats, frame_lengths), frame_lengths


def tokens_and_flops(model, feats) -> Dict[str, float]:
    """Patch tokens reaching the first block and encoder FLOPs, one clip."""
    encoder = model.encoder
    seen = []
    hook = encoder.blocks[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].shape[1])
    )
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        encoder(feats[:1])
    hook.remove()
    return {"tokens": seen[0] - 2, "gflops": counter.get_total_flops() / 1e9}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="exported folder")
    parser.add_argument("--manifest", required=True, help="test.json")
    parser.add_argument("--budgets", default="1,0.75,0.5,0.35,0.25")
    parser.add_argument(
        "--axes",
        default="both",
        choices=("both", "time", "frequency"),
        help="where the budget drops patches (token_budget_axes)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--timing-clips", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    budgets = [check_token_budget(b) for b in args.budgets.split(",")]
    model = AudioSpectrogramTransformerInterface.from_folder(
        args.model, token_budget_axes=args.axes
    )
    clips = load_test_set(args.manifest, model)
    print(f"{len(clips)} test clips", file=sys.stderr)

    results = {b: {"budget": b} for b in budgets}
    timing = list(batches(clips[: args.timing_clips], args.batch_size))
    with torch.no_grad():
        prepared = [model_features(model, w, n) for w, n, _ in timing]
        for budget in budgets:
            model.token_budget = budget
            results[budget].update(tokens_and_flops(model, prepared[0][0]))
            results[budget]["accuracy"] = accuracy(
                model, clips, args.batch_size
            )
            print(
                f"budget {budget}: accuracy {results[budget]['accuracy']:.4f}",
                file=sys.stderr,
            )
        model_times = {b: [] for b in budgets}
        e2e_times = {b: [] for b in budgets}
        for _ in range(args.repeats + 1):  # the first round warms up
            for budget in budgets:
                model.token_budget = budget
                start = time.perf_counter()
                for feats, frame_lengths in prepared:
                    model.head(model.encoder(feats, frame_lengths))
                model_times[budget].append(time.perf_counter() - start)
                start = time.perf_counter()
                for wavs, lengths, _ in timing:
                    model.classify_batch(wavs, lengths)
                e2e_times[budget].append(time.perf_counter() - start)
    full = results[1.0] if 1.0 in results else results[budgets[0]]
    full_model = statistics.median(model_times[full["budget"]][1:])
    full_e2e = statistics.median(e2e_times[full["budget"]][1:])
    for budget in budgets:
        res = results[budget]
        res["model_seconds"] = statistics.median(model_times[budget][1:])
        res["e2e_seconds"] = statistics.median(e2e_times[budget][1:])
        res["model_speedup"] = full_model / res["model_seconds"]
        res["e2e_speedup"] = full_e2e / res["e2e_seconds"]
        res["accuracy_change_points"] = 100 * (
            res["accuracy"] - full["accuracy"]
        )
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
    }
    print(
        f"{len(clips)} test clips; timing: {len(timing)} batches of "
        f"{args.batch_size} clips, median of {args.repeats} rounds; "
        f"axes {args.axes}; "
        f"{machine}"
    )
    print(
        "| budget | patch tokens | encoder GFLOP | accuracy | change "
        "(points) | encoder + head speed-up | user path speed-up |"
    )
    print("|---|---|---|---|---|---|---|")
    for budget in budgets:
        r = results[budget]
        print(
            f"| {budget:g} | {r['tokens']} | {r['gflops']:.3f} | "
            f"{100 * r['accuracy']:.1f} % | {r['accuracy_change_points']:+.1f}"
            f" | {r['model_speedup']:.2f}x | {r['e2e_speedup']:.2f}x |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fout:
            json.dump(
                {
                    "command": sys.argv,
                    "machine": machine,
                    "test_clips": len(clips),
                    "axes": args.axes,
                    "results": list(results.values()),
                    "model_times": {str(b): t for b, t in model_times.items()},
                    "e2e_times": {str(b): t for b, t in e2e_times.items()},
                },
                fout,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
