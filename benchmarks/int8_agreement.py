#!/usr/bin/env python
"""int8 against fp32 on a trained model: top-1 agreement, accuracy, speed.

Loads an exported inference folder (e.g. the Custom recipe's
``<output_folder>/inference``) three times through
:class:`~ast_sb.inference.interface.AudioSpectrogramTransformerInterface`: fp32,
``fast_path="int8"`` (the encoder's blocks quantised by onnxruntime,
:mod:`ast_sb.inference.onnxruntime_int8`) and
``fast_path="auto"``; exports the fp32 and int8 ONNX models
(:func:`ast_sb.export.model_export.export_model`, features input) and runs them
with onnxruntime on the interface's features. It scores

* the recipe's test clips (``--test-json``, the manifest the recipe wrote);
* every clip of a labelled CSV (``--manifest``, columns ``--wav-column`` and
  ``label``), and a larger generated set: each clip again with
  ``--variants`` perturbations (gain, noise at 20 dB SNR, circular shift),
  all of which keep the label.

and prints, per path, the top-1 agreement with fp32, the accuracy and its
difference to fp32, and the time to score all items (interleaved
repetitions, median).

Usage::

    python benchmarks/int8_agreement.py --model results/.../inference \\
        --test-json results/.../save/test.json \\
        --manifest speechcommands_mini/meta.csv --wav-column path

Authors
 * ast_sb developers 2026
"""

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ast_sb.export.model_export import export_model  # noqa: E402
from ast_sb.inference.fast import cpu_capability  # noqa: E402
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface  # noqa: E402


def read_items(args) -> Dict[str, List[Tuple[str, str]]]:
    """(wav path, label) lists of the test split and the manifest."""
    sets: Dict[str, List[Tuple[str, str]]] = {}
    if args.test_json:
        with open(args.test_json, encoding="utf-8") as fin:
            data = json.load(fin)
        sets["test split"] = [(v["wav"], v["label"]) for v in data.values()]
    if args.manifest:
        base = os.path.dirname(os.path.abspath(args.manifest))
        with open(args.manifest, encoding="utf-8", newline="") as fin:
            rows = list(csv.DictReader(fin))
        sets["all clips"] = [
            (os.path.join(base, r[args.wav_column]), r["label"]) for r in rows
        ]
    return sets


def perturb(wav: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """Label-keeping variant ``k`` of a clip: gain, noise, shift."""
    gen = torch.Generator().manual_seed(seed)
    gain = 0.3 + 1.4 * torch.rand(1, generator=gen).item()
    out = wav * gain
    if k % 2 == 0:  # white noise at 20 dB SNR
        power = out.pow(2).mean().clamp(min=1e-10)
        out = out + torch.randn(len(out), generator=gen) * (power / 100).sqrt()
    shift = int(torch.randint(-1600, 1600, (1,), generator=gen))
    return torch.roll(out, shift)


def load_waves(clf, items, variants: int) -> Tuple[torch.Tensor, List[str]]:
    """Padded waveforms [N, S] (clips + variants) and their labels."""
    wavs, labels = [], []
    for i, (path, label) in enumerate(items):
        wav = clf.load_audio(path)
        wavs.append(wav)
        labels.append(label)
        for k in range(variants):
            wavs.append(perturb(wav, k, seed=1000 * i + k))
            labels.append(label)
    n_max = max(len(w) for w in wavs)
    batch = torch.zeros(len(wavs), n_max)
    for i, w in enumerate(wavs):
        batch[i, : len(w)] = w
    return batch, labels


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="inference folder")
    parser.add_argument("--test-json", help="recipe test manifest")
    parser.add_argument("--manifest", help="labelled CSV of clips")
    parser.add_argument("--wav-column", default="wav")
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="output JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    models = {
        p: AudioSpectrogramTransformerInterface.from_folder(
            args.model, fast_path=p
        )
        for p in ("fp32", "int8", "auto")
    }
    ref = models["fp32"]
    lab2ind = ref.hparams.label_encoder.lab2ind
    sessions = {}
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_model(
            ref, os.path.join(tmp, "onnx"), formats=["onnx", "onnx_int8"]
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        for fmt in ("onnx", "onnx_int8"):
            sessions[fmt] = ort.InferenceSession(
                exported[fmt]["path"],
                options,
                providers=["CPUExecutionProvider"],
            )

    def scorer(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        if name in models:
            return lambda w: models[name].classify_batch(w)[0]
        session = sessions[name]

        def run(w):
            feats, _ = ref.compute_features(w)
            return torch.from_numpy(
                session.run(None, {"inputs": feats.numpy()})[0]
            )

        return run

    paths = ["fp32", "int8", "auto", "onnx", "onnx_int8"]
    result: Dict = {
        "model": args.model,
        "cpu_capability": cpu_capability(),
        "threads": args.threads,
        "onnx_int8_max_abs_diff_check": exported["onnx_int8"]["max_abs_diff"],
        "sets": {},
    }
    for set_name, items in read_items(args).items():
        for variants in sorted({0, args.variants}):
            wavs, labels = load_waves(ref, items, variants)
            target = torch.tensor([lab2ind[lab] for lab in labels])
            key = set_name + (f" + {variants} variants" if variants else "")
            names = list(paths)
            grid = ref.pipeline.grid
            if grid is not None and wavs.shape[1] > grid:
                # the ONNX graphs score one window of the model's grid; the
                # interface averages the windows of a longer clip
                names = [n for n in names if not n.startswith("onnx")]
                print(
                    f"{key}: clips of {wavs.shape[1]} samples are longer "
                    f"than the model's grid ({grid}); the ONNX rows are "
                    f"left out (one window per graph call)."
                )
            times: Dict[str, List[float]] = {n: [] for n in names}
            top1: Dict[str, torch.Tensor] = {}
            diffs: Dict[str, float] = {}
            with torch.inference_mode():
                for _rep in range(args.reps):
                    for name in names:
                        fn = scorer(name)
                        start = time.perf_counter()
                        outs = [
                            fn(wavs[i : i + args.batch])
                            for i in range(0, len(wavs), args.batch)
                        ]
                        times[name].append(time.perf_counter() - start)
                        scores = torch.cat(outs)
                        top1[name] = scores.argmax(-1)
                        if name == "fp32":
                            ref_scores = scores
                        diffs[name] = float((scores - ref_scores).abs().max())
            acc = {n: float((top1[n] == target).float().mean()) for n in names}
            entry = {"n_items": len(labels)}
            for name in names:
                entry[name] = {
                    "top1_agree_fp32": float(
                        (top1[name] == top1["fp32"]).float().mean()
                    ),
                    "accuracy": acc[name],
                    "accuracy_minus_fp32": acc[name] - acc["fp32"],
                    "max_abs_score_diff": diffs[name],
                    "median_s": statistics.median(times[name]),
                    "speedup_vs_fp32": statistics.median(times["fp32"])
                    / statistics.median(times[name]),
                }
            result["sets"][key] = entry
            print(f"## {key} ({len(labels)} items), {args.threads} thread(s)")
            print(
                "| path | top-1 = fp32 | accuracy | diff vs fp32 | "
                "max abs score diff | median s | vs fp32 |"
            )
            print("|---|---|---|---|---|---|---|")
            for name in names:
                e = entry[name]
                print(
                    f"| {name} | {e['top1_agree_fp32']:.1%} | "
                    f"{e['accuracy']:.1%} | "
                    f"{100 * e['accuracy_minus_fp32']:+.1f} pt | "
                    f"{e['max_abs_score_diff']:.3f} | {e['median_s']:.2f} | "
                    f"{e['speedup_vs_fp32']:.2f}x |"
                )
            print()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fout:
            json.dump(result, fout, indent=2)
    return result


if __name__ == "__main__":
    main()
