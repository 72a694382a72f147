#!/usr/bin/env python
"""Benchmark ast_sb against HF transformers' AST on the same machine and inputs.

Measures in one run, as ratios against ``transformers``
(``ASTFeatureExtractor`` + ``ASTForAudioClassification``, SDPA attention):

1. matmul peak of the machine (MKL ``torch.mm`` and oneDNN Linear), GFLOP/s;
2. feature extraction throughput on a batch of 10 s clips;
3. model forward latency (B=1) and throughput (B>1) for base384 at 1024 and
   512 frames and tiny224 at 1024 frames: HF vs ast_sb fp32 and the opt-in
   fast paths of :mod:`ast_sb.inference.fast` (accuracy loss reported);
4. end-to-end wav -> labels for N clips (top-1 must be identical);
4b. the user path (``--sections user``): N 10 s wav files in, top-1 labels
   out, through :class:`ast_sb.inference.interface.AudioSpectrogramTransformerInterface`
   (``classify_files``, batch 4) with its default ``fast_path="auto"``, and
   explicitly fp32 and int8, plus the fp32 and int8 ONNX exports run with
   onnxruntime (features computed by ast_sb), against HF's feature
   extractor + model on the same files (soundfile read included on both
   sides); median of interleaved repetitions, top-1 agreement with fp32
   and HF;
5. a training step (forward + backward + AdamW) for tiny and base: HF full
   tokens vs ast_sb full vs ast_sb with structured / unstructured patchout;
6. variable-length batches (2-10 s clips): padded vs masked/bucketed vs the
   sum of per-clip costs at real length;
7. peak memory (resident set of a fresh process, or CUDA max allocated).

Weights are random (no checkpoint is downloaded): an HF model is initialised
randomly, saved, and loaded into ast_sb with ``build_from_hf``, so both
implementations hold the same weights. Timings interleave the implementations
(round robin) so that background load hits them alike; ratios use the
fastest repetition of each (the median is in the JSON too).

The CPU's instruction set (``torch.backends.cpu.get_cpu_capability()``)
and the ISA environment variables are printed. On an AVX-512 machine,
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
MKL_ENABLE_INSTRUCTIONS=AVX2`` run the same benchmark at AVX2 level.

Usage::

    python benchmarks/benchmark_ast.py --quick --threads 2
    python benchmarks/benchmark_ast.py --sections user --clips 8 --threads 2
    python benchmarks/benchmark_ast.py --threads 2 --json results_full.json
    python benchmarks/benchmark_ast.py --device cuda

Authors
 * ast_sb developers 2026
"""

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ast_sb.inference.cpu_features import describe_cpu  # noqa: E402
from ast_sb.inference.fast import (  # noqa: E402
    cpu_capability,
    onednn_linear_available,
    onednn_linear_op,
    optimize_for_inference,
    quantize_int8,
)
from ast_sb.inference.openvino_backend import openvino_available  # noqa: E402
from ast_sb.lobes.features import (  # noqa: E402
    AudioSpectrogramNormalizer,
    KaldiFbank,
    frame_count,
)
from ast_sb.lobes.model import (  # noqa: E402
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
    forward_flops,
)

SIZES = {
    "tiny224": dict(hidden_size=192, num_attention_heads=3),
    "base384": dict(hidden_size=768, num_attention_heads=12),
}
N_CLASSES = 527
SR = 16000
PATCHOUT = {
    # PaSST-S: 40 of 99 time columns and 4 of 12 frequency rows dropped.
    "structured": dict(
        patchout="structured", patchout_time=0.4, patchout_freq=0.34
    ),
    # Same number of kept patches, drawn at random per clip.
    "unstructured": dict(patchout="unstructured", patchout_time=0.6),
}


# ----------------------------------------------------------------- helpers
def sync(device: str) -> None:
    """Waits for queued CUDA work."""
    if device == "cuda":
        torch.cuda.synchronize()


def bench(
    fns: Dict[str, Callable[[], object]],
    reps: int,
    warmup: int = 1,
    device: str = "cpu",
) -> Dict[str, Dict[str, float]]:
    """Times callables round robin; returns min/median seconds per name."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {
        name: {"min_s": min(t), "median_s": statistics.median(t), "reps": reps}
        for name, t in times.items()
    }


def log(msg: str) -> None:
    """Prints progress to stderr."""
    print(msg, file=sys.stderr, flush=True)


def generate_clips(
    n: int, seconds: float, seed: int = 0, min_seconds: Optional[float] = None
) -> List[np.ndarray]:
    """Synthetic audio: chirps, harmonic tones, AM noise bursts."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        dur = (
            seconds
            if min_seconds is None
            else rng.uniform(min_seconds, seconds)
        )
        t = np.arange(int(dur * SR)) / SR
        f0, f1 = rng.uniform(100, 2000), rng.uniform(100, 6000)
        chirp = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur)))
        tone = sum(
            np.sin(2 * np.pi * k * rng.uniform(80, 400) * t) / k
            for k in (1, 2, 3)
        )
        env = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(0.2, 3) * t))
        noise = rng.standard_normal(t.size) * env
        wav = (
            rng.uniform(0.1, 0.5) * chirp
            + 0.1 * tone
            + rng.uniform(0.01, 0.2) * noise
        )
        clips.append((0.9 * wav / np.abs(wav).max()).astype(np.float32))
    return clips


def hf_config(size: str, max_length: int, n_classes: int = N_CLASSES):
    """An ``ASTConfig`` for a DeiT size."""
    import transformers

    hidden = SIZES[size]["hidden_size"]
    return transformers.ASTConfig(
        hidden_size=hidden,
        num_hidden_layers=12,
        num_attention_heads=SIZES[size]["num_attention_heads"],
        intermediate_size=4 * hidden,
        max_length=max_length,
        num_labels=n_classes,
        attn_implementation="sdpa",
    )


def make_models(size: str, max_length: int, folder: str, device: str):
    """Random HF model and the same weights in ast_sb (via an HF folder)."""
    import transformers

    from ast_sb.weights.pretrained import build_from_hf

    torch.manual_seed(0)
    hf = transformers.ASTForAudioClassification(hf_config(size, max_length))
    emb = hf.audio_spectrogram_transformer.embeddings
    with torch.no_grad():  # HF initialises these at zero
        for p in (
            emb.cls_token,
            emb.distillation_token,
            emb.position_embeddings,
        ):
            p.normal_(std=0.5)
    path = os.path.join(folder, f"{size}_{max_length}")
    hf.save_pretrained(path)
    encoder, head, _ = build_from_hf(path)
    return (
        hf.to(device).eval(),
        encoder.to(device).eval(),
        head.to(device).eval(),
    )


class Pipeline(torch.nn.Module):
    """ast_sb inference: normalised fbank features -> logits [B, C]."""

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder, self.head = encoder, head
        self.train(encoder.training)

    def forward(self, feats, lengths=None):
        return self.head(self.encoder(feats, lengths)).squeeze(1)


def fast_variants(
    pipe: Pipeline, device: str, compile_: bool
) -> Dict[str, Callable]:
    """ast_sb fp32 and its opt-in fast paths."""
    out = {"ast_sb": pipe}
    if device == "cpu" and onednn_linear_available():
        out["ast_sb+onednn"] = optimize_for_inference(
            copy.deepcopy(pipe), "onednn"
        )
    out["ast_sb+bf16"] = optimize_for_inference(
        copy.deepcopy(pipe), "bf16", dtype=torch.bfloat16
    )
    if compile_:
        out["ast_sb+compile"] = optimize_for_inference(
            copy.deepcopy(pipe), "compile"
        )
    if device == "cpu":
        int8 = quantize_int8(pipe.encoder)  # onnxruntime, clip by clip
        out["ast_sb+int8"] = lambda feats, lengths=None: pipe.head(
            int8(feats, lengths)
        ).squeeze(1)
    return out


def agreement(ref: torch.Tensor, out: torch.Tensor) -> Dict[str, float]:
    """Max abs logit difference, relative to the logit spread, and top-1."""
    ref, out = ref.float().cpu(), out.float().cpu()
    return {
        "max_abs_diff": float((ref - out).abs().max()),
        "logit_std": float(ref.std()),
        "top1_agree": float((ref.argmax(-1) == out.argmax(-1)).float().mean()),
    }


# ----------------------------------------------------------------- sections
def matmul_peak(device: str, quick: bool) -> Dict[str, float]:
    """GFLOP/s of a large fp32 matmul (default BLAS and oneDNN Linear)."""
    m, k, n = (2432, 768, 3072)  # 2 clips x 1214 tokens, base MLP
    x = torch.randn(m, k, device=device)
    w = torch.randn(n, k, device=device) * 0.02
    b = torch.zeros(n, device=device)
    flops = 2 * m * k * n
    fns = {"torch.mm": lambda: torch.mm(x, w.t())}
    if device == "cpu" and onednn_linear_available():
        op = onednn_linear_op()
        fns["onednn_linear"] = lambda: op(x, w, b, "none", [], "")
    res = bench(fns, reps=3 if quick else 8, device=device)
    out = {f"{k}_gflops": flops / v["min_s"] / 1e9 for k, v in res.items()}
    out["peak_gflops"] = max(out.values())
    return out


def feature_extraction(clips, device: str, reps: int) -> Dict:
    """HF ASTFeatureExtractor vs ast_sb KaldiFbank + normaliser."""
    import transformers

    extractor = transformers.ASTFeatureExtractor()
    fbank = KaldiFbank(target_length=1024).to(device)
    norm = AudioSpectrogramNormalizer()
    wav_batch = torch.from_numpy(np.stack(clips))

    def ours(chunk):
        outs = []
        for i in range(0, len(clips), chunk):
            outs.append(norm(fbank(wav_batch[i : i + chunk].to(device))))
        return torch.cat(outs)

    def hf():
        return extractor(clips, sampling_rate=SR, return_tensors="pt")[
            "input_values"
        ]

    fns = {
        "hf": hf,
        "ast_sb_per_clip": lambda: ours(1),
        "ast_sb_batch8": lambda: ours(8),
    }
    with torch.inference_mode():
        res = bench(fns, reps=reps, device=device)
        diff = float((hf() - ours(8).cpu()).abs().max())
    n = len(clips)
    out = {"n_clips": n, "max_abs_diff_vs_hf": diff, "results": {}}
    for name, r in res.items():
        out["results"][name] = dict(
            r,
            clips_per_s=n / r["min_s"],
            speedup_vs_hf=res["hf"]["min_s"] / r["min_s"],
        )
    return out


def forward_section(models, configs, device, quick, compile_) -> Dict:
    """Model forward latency (B=1) and throughput (B>1)."""
    out = {}
    for size, frames, batches in configs:
        hf, encoder, head = models[f"{size}@{frames}"]
        variants = {"hf_sdpa": lambda f, m=hf: m(f).logits}
        for name, mod in fast_variants(
            Pipeline(encoder, head), device, compile_
        ).items():
            variants[name] = mod
        flops = forward_flops(encoder, frames)
        for batch in batches:
            key = f"{size}@{frames}_B{batch}"
            log(f"forward {key}")
            torch.manual_seed(1)
            feats = torch.randn(batch, frames, 128, device=device) * 0.5
            with torch.inference_mode():
                logits = {n: fn(feats) for n, fn in variants.items()}
                res = bench(
                    {
                        n: (lambda fn=fn, feats=feats: fn(feats))
                        for n, fn in variants.items()
                    },
                    reps=1 if quick else (3 if batch == 1 else 2),
                    device=device,
                )
            entry = {"flops_per_clip": flops, "results": {}}
            for name, r in res.items():
                entry["results"][name] = dict(
                    r,
                    latency_ms=1e3 * r["min_s"],
                    clips_per_s=batch / r["min_s"],
                    gflops=flops * batch / r["min_s"] / 1e9,
                    speedup_vs_hf=res["hf_sdpa"]["min_s"] / r["min_s"],
                    **agreement(logits["hf_sdpa"], logits[name]),
                )
            out[key] = entry
    return out


def end_to_end(models, clips, device, batch, fast_mode) -> Dict:
    """wav -> top-1 labels for all clips: HF extractor+model vs ast_sb."""
    import transformers

    hf, encoder, head = models["base384@1024"]
    extractor = transformers.ASTFeatureExtractor()
    fbank = KaldiFbank(target_length=1024).to(device)
    norm = AudioSpectrogramNormalizer()
    pipe = Pipeline(encoder, head)
    if fast_mode:
        pipe = optimize_for_inference(copy.deepcopy(pipe), fast_mode)

    def run_hf():
        out = []
        for i in range(0, len(clips), batch):
            inputs = extractor(
                clips[i : i + batch], sampling_rate=SR, return_tensors="pt"
            )
            out.append(
                hf(inputs["input_values"].to(device)).logits.float().cpu()
            )
        return torch.cat(out)

    def run_ours():
        out = []
        for i in range(0, len(clips), batch):
            wavs = torch.from_numpy(np.stack(clips[i : i + batch])).to(device)
            out.append(pipe(norm(fbank(wavs))).float().cpu())
        return torch.cat(out)

    with torch.inference_mode():
        # Warm-up on one batch, then one timed pass each (interleaved).
        extractor(clips[:batch], sampling_rate=SR, return_tensors="pt")
        times, logits = {}, {}
        for name, fn in (("hf", run_hf), ("ast_sb", run_ours)):
            sync(device)
            start = time.perf_counter()
            logits[name] = fn()
            sync(device)
            times[name] = time.perf_counter() - start
    n = len(clips)
    agree = agreement(logits["hf"], logits["ast_sb"])
    return {
        "n_clips": n,
        "clip_seconds": len(clips[0]) / SR,
        "batch": batch,
        "ast_sb_fast_path": fast_mode or "none",
        "hf_clips_per_s": n / times["hf"],
        "ast_sb_clips_per_s": n / times["ast_sb"],
        "speedup_vs_hf": times["hf"] / times["ast_sb"],
        "top1_identical": bool(agree["top1_agree"] == 1.0),
        **agree,
    }


ISA_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_ENABLE_INSTRUCTIONS",
)


def user_path(models, clips, folder, batch, reps, onnx, size) -> Dict:
    """Files in, top-1 labels out: the interface vs HF (see module doc)."""
    import soundfile as sf
    import transformers
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.export.folder import export_inference_folder
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    hf, encoder, head = models[f"{size}@1024"]
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"class_{i}" for i in range(N_CLASSES)])
    model_dir = export_inference_folder(
        os.path.join(folder, "user_model"),
        encoder,
        head,
        labels,
        {"target_length": 1024},
        multi_label=True,
    )
    paths = []
    for i, clip in enumerate(clips):
        paths.append(os.path.join(folder, f"clip_{i:03d}.wav"))
        sf.write(paths[-1], clip, SR)
    extractor = transformers.ASTFeatureExtractor()

    def run_hf(bf16=False):
        out = []
        for i in range(0, len(paths), batch):
            wavs = [
                sf.read(p, dtype="float32")[0] for p in paths[i : i + batch]
            ]
            inputs = extractor(wavs, sampling_rate=SR, return_tensors="pt")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = hf(inputs["input_values"]).logits
            out += logits.argmax(-1).tolist()
        return out

    interfaces = {
        path: AudioSpectrogramTransformerInterface.from_folder(
            model_dir, fast_path=path
        )
        for path in ("auto", "fp32", "int8")
    }
    skipped = {}
    if openvino_available():  # OpenVINO's own choice (bf16 where native), f32
        for name, precision in (("openvino", None), ("openvino f32", "f32")):
            clf = AudioSpectrogramTransformerInterface.from_folder(
                model_dir, fast_path="openvino"
            )
            clf.pipeline.inference_path.openvino_precision = precision
            try:  # converted and compiled here, outside the timing
                clf.classify_batch(torch.zeros(1, len(clips[0])))
            except RuntimeError as err:
                # ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU: OpenVINO picks bf16
                # from the CPU's flags and finds no kernel
                skipped[name] = (
                    str(err).strip().splitlines() or [type(err).__name__]
                )[-1]
                log(f"{name}: skipped ({skipped[name]})")
                continue
            interfaces[name] = clf

    def run_interface(clf):
        res = clf.classify_files(
            paths, batch_size=batch, top_k=1, progress=False
        )
        return [r["predictions"][0]["index"] for r in res]

    def run_hf_bf16():  # what an HF user on a bf16 CPU would add
        return run_hf(bf16=True)

    fns = {"hf": run_hf, "hf + bf16 autocast": run_hf_bf16}
    for path, clf in interfaces.items():
        fns[f"ast_sb {path}"] = lambda clf=clf: run_interface(clf)
    if onnx:
        import onnxruntime as ort

        from ast_sb.export.model_export import export_model

        log("user path: ONNX export (fp32 + int8)")
        exported = export_model(
            interfaces["fp32"],
            os.path.join(folder, "user_onnx"),
            formats=["onnx", "onnx_int8"],
            raise_on_error=False,
        )
        clf = interfaces["fp32"]
        for fmt in ("onnx", "onnx_int8"):
            if not exported[fmt]["ok"]:  # timed anyway if it was written
                log(f"{fmt}: {exported[fmt]['error']}")
                if not os.path.exists(exported[fmt]["path"]):
                    continue
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = ort.InferenceSession(
                exported[fmt]["path"],
                options,
                providers=["CPUExecutionProvider"],
            )

            def run_onnx(session=session):
                out = []
                for i in range(0, len(paths), batch):
                    wavs = torch.stack(
                        [clf.load_audio(p) for p in paths[i : i + batch]]
                    )
                    feats, _ = clf.compute_features(wavs)
                    scores = session.run(None, {"inputs": feats.numpy()})[0]
                    out += scores.argmax(-1).tolist()
                return out

            fns[f"{fmt} (onnxruntime)"] = run_onnx
    with torch.inference_mode():
        res = bench(fns, reps=reps, warmup=1)
        top1 = {name: fn() for name, fn in fns.items()}
    hf_s = res["hf"]["median_s"]
    out = {
        "n_files": len(paths),
        "clip_seconds": len(clips[0]) / SR,
        "batch": batch,
        "model": f"{size}@1024",
        "auto_choices": interfaces["auto"].pipeline.inference_path.describe(),
        "skipped": skipped,
        "results": {},
    }
    for name, r in res.items():
        out["results"][name] = dict(
            r,
            files_per_s=len(paths) / r["median_s"],
            speedup_vs_hf_median=hf_s / r["median_s"],
            speedup_vs_hf_min=res["hf"]["min_s"] / r["min_s"],
            top1_agree_fp32=float(
                np.mean(np.array(top1[name]) == np.array(top1["ast_sb fp32"]))
            ),
            top1_agree_hf=float(
                np.mean(np.array(top1[name]) == np.array(top1["hf"]))
            ),
        )
    return out


def train_section(size, frames, batch, reps, device, folder) -> Dict:
    """Training step throughput: HF vs ast_sb full vs ast_sb patchout."""
    import transformers

    from ast_sb.weights.pretrained import build_from_hf

    torch.manual_seed(0)
    hf = (
        transformers.ASTForAudioClassification(hf_config(size, frames))
        .to(device)
        .train()
    )
    path = os.path.join(folder, f"train_{size}_{frames}")
    hf.save_pretrained(path)
    ref_encoder, _, _ = build_from_hf(path)
    models = {}
    for name, kwargs in (
        ("ast_sb_full", {}),
        *((f"ast_sb_{k}", v) for k, v in PATCHOUT.items()),
    ):
        encoder = AudioSpectrogramTransformerEncoder(
            **dict(ref_encoder.constructor_args, size="base384"), **kwargs
        )
        encoder.load_state_dict(ref_encoder.state_dict())
        head = AudioSpectrogramTransformerClassifier(
            encoder.embed_dim, N_CLASSES, output="logits"
        )
        models[name] = Pipeline(encoder, head).to(device).train()
    feats = torch.randn(batch, frames, 128, device=device) * 0.5
    targets = (torch.rand(batch, N_CLASSES, device=device) < 0.02).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step_fn(model, call):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(call(model), targets)
            loss.backward()
            opt.step()

        return step

    fns = {"hf_full": step_fn(hf, lambda m: m(feats).logits)}
    for name, model in models.items():
        fns[name] = step_fn(model, lambda m: m(feats))
    log(f"train {size}@{frames} B{batch}")
    res = bench(fns, reps=reps, device=device)
    # Patchout must not change evaluation.
    eval_diff = {}
    with torch.inference_mode():
        ref = models["ast_sb_full"].eval()(feats)
        for name in ("ast_sb_structured", "ast_sb_unstructured"):
            model = models[name].eval()
            model.load_state_dict(models["ast_sb_full"].state_dict())
            eval_diff[name] = float((model(feats) - ref).abs().max())
    full = models["ast_sb_full"].encoder
    n_full = full.f_dim * full.t_dim
    out = {
        "batch": batch,
        "frames": frames,
        "patches_full": n_full,
        "results": {},
        "eval_max_abs_diff_patchout_vs_full": eval_diff,
    }
    for name, r in res.items():
        out["results"][name] = dict(
            r,
            clips_per_s=batch / r["min_s"],
            speedup_vs_hf=res["hf_full"]["min_s"] / r["min_s"],
            speedup_vs_ast_sb_full=res["ast_sb_full"]["min_s"] / r["min_s"],
        )
    return out


def varlen_section(encoder_cfg, state, device, n_clips, reps, bucket) -> Dict:
    """Padded vs masked/bucketed vs per-clip cost for 2-10 s clips."""
    encoder = (
        AudioSpectrogramTransformerEncoder(
            **dict(encoder_cfg, size="base384", use_padding_mask=True)
        )
        .to(device)
        .eval()
    )
    encoder.load_state_dict(state)
    clips = generate_clips(n_clips, 10.0, seed=3, min_seconds=2.0)
    fbank = KaldiFbank()
    norm = AudioSpectrogramNormalizer()
    n_samples = max(len(c) for c in clips)
    wavs = torch.zeros(n_clips, n_samples)
    for i, c in enumerate(clips):
        wavs[i, : len(c)] = torch.from_numpy(c)
    feats = norm(fbank(wavs)).to(device)
    t_max = feats.shape[1]
    frames = [int(frame_count(len(c))) for c in clips]
    lengths = torch.tensor(frames, device=device, dtype=torch.float32) / t_max
    order = sorted(range(n_clips), key=lambda i: frames[i])
    buckets = [order[i : i + bucket] for i in range(0, n_clips, bucket)]

    def padded():
        return encoder(feats)  # every clip computed at full padded length

    def masked():
        return encoder(feats, lengths)

    def bucketed():
        out = torch.empty(n_clips, 1, encoder.embed_dim, device=device)
        for idx in buckets:
            t_b = max(frames[i] for i in idx)
            rel = torch.tensor([frames[i] / t_b for i in idx], device=device)
            out[idx] = encoder(feats[idx, :t_b], rel)
        return out

    def per_clip():
        return torch.cat(
            [encoder(feats[i : i + 1, : frames[i]]) for i in range(n_clips)]
        )

    log(f"varlen {n_clips} clips")
    with torch.inference_mode():
        res = bench(
            {
                "padded": padded,
                "masked_batch": masked,
                f"bucketed_{bucket}": bucketed,
                "per_clip_real_length": per_clip,
            },
            reps=reps,
            device=device,
        )
        ref = per_clip()
        diffs = {
            "masked_batch": float((masked() - ref).abs().max()),
            f"bucketed_{bucket}": float((bucketed() - ref).abs().max()),
        }
    real_flops = sum(forward_flops(encoder, f) for f in frames)
    flops = {
        "padded": n_clips * forward_flops(encoder, t_max),
        "masked_batch": n_clips * forward_flops(encoder, t_max),
        f"bucketed_{bucket}": sum(
            len(idx) * forward_flops(encoder, max(frames[i] for i in idx))
            for idx in buckets
        ),
        "per_clip_real_length": real_flops,
    }
    out = {
        "n_clips": n_clips,
        "seconds": [len(c) / SR for c in clips],
        "real_over_padded_audio": sum(frames) / (n_clips * t_max),
        "max_abs_diff_vs_per_clip": diffs,
        "results": {},
    }
    for name, r in res.items():
        out["results"][name] = dict(
            r,
            cost_vs_real_length=r["min_s"]
            / res["per_clip_real_length"]["min_s"],
            flops_vs_real_length=flops[name] / real_flops,
        )
    return out


# ----------------------------------------------------------------- memory
def probe(spec: Dict) -> Dict:
    """Runs in a fresh process: peak memory of one forward or train step."""
    torch.set_num_threads(spec["threads"])
    device = spec["device"]
    size, frames, batch = spec["size"], spec["frames"], spec["batch"]

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    rss_import = rss_mb()
    torch.manual_seed(0)
    if spec["impl"] == "hf":
        import transformers

        model = transformers.ASTForAudioClassification(hf_config(size, frames))
        call = lambda f: model(f).logits  # noqa: E731
    else:
        enc = AudioSpectrogramTransformerEncoder(
            size, target_length=frames, **PATCHOUT.get(spec.get("patchout"), {})
        )
        model = Pipeline(
            enc,
            AudioSpectrogramTransformerClassifier(
                enc.embed_dim, N_CLASSES, output="logits"
            ),
        )
        call = model
    model = model.to(device)
    feats = torch.randn(batch, frames, 128, device=device)
    if spec["task"] == "forward":
        model.eval()
        if spec.get("fast"):
            model = optimize_for_inference(model, spec["fast"])
            call = model if spec["impl"] != "hf" else call
        rss_model = rss_mb()
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        with torch.inference_mode():
            call(feats)
    else:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
        rss_model = rss_mb()
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        for _ in range(2):  # second step includes the optimizer state
            opt.zero_grad(set_to_none=True)
            call(feats).float().logsumexp(-1).mean().backward()
            opt.step()
    # VmHWM: high-water mark of this process image (ru_maxrss would carry
    # over the parent's peak across fork + exec).
    with open("/proc/self/status") as f:
        peak = next(
            int(line.split()[1]) / 1024
            for line in f
            if line.startswith("VmHWM")
        )
    out = {
        "rss_after_import_mb": rss_import,
        "rss_model_mb": rss_model,
        "peak_rss_mb": peak,
        "peak_minus_model_mb": peak - rss_model,
    }
    if device == "cuda":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["cuda_peak_minus_model_mb"] = (
            torch.cuda.max_memory_allocated() - base
        ) / 2**20
    return out


def memory_section(specs: Dict[str, Dict], threads: int, device: str) -> Dict:
    """Peak memory of each probe in its own process."""
    out = {}
    for name, spec in specs.items():
        log(f"memory {name}")
        spec = dict(spec, threads=threads, device=device)
        proc = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--probe",
                json.dumps(spec),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            out[name] = {"error": proc.stderr[-2000:]}
            continue
        out[name] = dict(
            json.loads(proc.stdout.strip().splitlines()[-1]), **spec
        )
    return out


# ----------------------------------------------------------------- report
def table(rows: List[List[str]], header: List[str]) -> str:
    """Markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def fmt(r):
        cells = (str(x).ljust(w) for x, w in zip(r, widths))
        return "| " + " | ".join(cells) + " |"

    return "\n".join(
        [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        + [fmt(r) for r in rows]
    )


def report(res: Dict) -> str:
    """Human-readable tables of the results."""
    lines = [f"# ast_sb vs transformers ({res['meta']['mode']} mode)", ""]
    m = res["meta"]
    lines.append(
        f"{m['cpu']}, {m['threads']} threads, device {m['device']}, torch {m['torch']}, transformers {m['transformers']}"
    )
    lines.append(
        f"CPU capability (torch.backends.cpu.get_cpu_capability()): {m.get('cpu_capability')}; ISA variables: {m.get('isa_env')}; load average at start {m['loadavg_start']}"
    )
    mp = res["matmul_peak"]
    lines.append(
        "matmul peak: "
        + ", ".join(f"{k} {v:.0f}" for k, v in mp.items())
        + " GFLOP/s\n"
    )
    fe = res.get("feature_extraction")
    if fe:
        rows = [
            [n, f"{r['clips_per_s']:.1f}", f"{r['speedup_vs_hf']:.2f}x"]
            for n, r in fe["results"].items()
        ]
        lines += [
            f"## Feature extraction ({fe['n_clips']} x 10 s clips, max abs diff vs HF {fe['max_abs_diff_vs_hf']:.1e})",
            table(rows, ["impl", "clips/s", "vs HF"]),
            "",
        ]
    fw = res.get("forward")
    if fw:
        rows = []
        for key, e in fw.items():
            for n, r in e["results"].items():
                rows.append(
                    [
                        key,
                        n,
                        f"{r['latency_ms']:.0f}",
                        f"{r['clips_per_s']:.2f}",
                        f"{r['gflops']:.0f}",
                        f"{r['gflops'] / mp['peak_gflops']:.0%}",
                        f"{r['speedup_vs_hf']:.2f}x",
                        f"{r['max_abs_diff']:.1e}",
                        f"{r['top1_agree']:.2f}",
                    ]
                )
        lines += [
            "## Forward (logits; diff vs HF)",
            table(
                rows,
                [
                    "config",
                    "impl",
                    "ms/call",
                    "clips/s",
                    "GFLOP/s",
                    "of peak",
                    "vs HF",
                    "max|dlogit|",
                    "top1 agree",
                ],
            ),
            "",
        ]
    up = res.get("user_path")
    if up:
        rows = [
            [
                n,
                f"{r['median_s']:.2f}",
                f"{r['files_per_s']:.3f}",
                f"{r['speedup_vs_hf_median']:.2f}x",
                f"{r['speedup_vs_hf_min']:.2f}x",
                f"{r['top1_agree_fp32']:.0%}",
                f"{r['top1_agree_hf']:.0%}",
            ]
            for n, r in up["results"].items()
        ]
        choices = sorted(set(up["auto_choices"]["choices"].values()))
        lines += [
            f"## User path ({up['n_files']} x {up['clip_seconds']:.0f} s wav files -> top-1 labels, {up['model']}, batch {up['batch']}; auto chose {', '.join(choices) or '-'})",
            table(
                rows,
                [
                    "impl",
                    "median s",
                    "files/s",
                    "vs HF (median)",
                    "vs HF (min)",
                    "top-1 = fp32",
                    "top-1 = HF",
                ],
            ),
            "",
        ]
    e2e = res.get("end_to_end")
    if e2e:
        lines += [
            f"## End to end ({e2e['n_clips']} x {e2e['clip_seconds']:.0f} s clips, base384, batch {e2e['batch']}, ast_sb fast path: {e2e['ast_sb_fast_path']})",
            table(
                [
                    [
                        f"{e2e['hf_clips_per_s']:.3f}",
                        f"{e2e['ast_sb_clips_per_s']:.3f}",
                        f"{e2e['speedup_vs_hf']:.2f}x",
                        str(e2e["top1_identical"]),
                        f"{e2e['max_abs_diff']:.1e}",
                    ]
                ],
                [
                    "HF clips/s",
                    "ast_sb clips/s",
                    "speed-up",
                    "top-1 identical",
                    "max|dlogit|",
                ],
            ),
            "",
        ]
    tr = res.get("train")
    if tr:
        rows = []
        for key, e in tr.items():
            for n, r in e["results"].items():
                rows.append(
                    [
                        key,
                        n,
                        f"{r['min_s']:.2f}",
                        f"{r['clips_per_s']:.2f}",
                        f"{r['speedup_vs_hf']:.2f}x",
                        f"{r['speedup_vs_ast_sb_full']:.2f}x",
                    ]
                )
            diffs = ", ".join(
                f"{k} {v:.1e}"
                for k, v in e["eval_max_abs_diff_patchout_vs_full"].items()
            )
            rows.append(
                [key, f"eval diff patchout vs full: {diffs}", "", "", "", ""]
            )
        lines += [
            "## Training step (fwd+bwd+AdamW)",
            table(
                rows,
                [
                    "config",
                    "impl",
                    "s/step",
                    "clips/s",
                    "vs HF",
                    "vs ast_sb full",
                ],
            ),
            "",
        ]
    vl = res.get("varlen")
    if vl:
        rows = [
            [
                n,
                f"{r['min_s']:.2f}",
                f"{r['cost_vs_real_length']:.2f}",
                f"{r['flops_vs_real_length']:.2f}",
            ]
            for n, r in vl["results"].items()
        ]
        lines += [
            f"## Variable length ({vl['n_clips']} clips of 2-10 s, real/padded audio {vl['real_over_padded_audio']:.2f}; max diff vs per clip {vl['max_abs_diff_vs_per_clip']})",
            table(
                rows,
                ["strategy", "s", "time / real-length", "FLOPs / real-length"],
            ),
            "",
        ]
    mem = res.get("memory")
    if mem:
        rows = []
        for n, r in mem.items():
            if "error" in r:
                rows.append([n, "error", "", "", ""])
                continue
            rows.append(
                [
                    n,
                    f"{r['rss_after_import_mb']:.0f}",
                    f"{r['rss_model_mb']:.0f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['peak_minus_model_mb']:.0f}",
                ]
                + ([f"{r['cuda_peak_mb']:.0f}"] if "cuda_peak_mb" in r else [])
            )
        header = [
            "probe",
            "RSS import MB",
            "RSS model MB",
            "peak RSS MB",
            "peak - model MB",
        ]
        if any("cuda_peak_mb" in r for r in mem.values()):
            header.append("CUDA peak MB")
        lines += [
            "## Peak memory (fresh process each)",
            table(rows, header),
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, < 2 min on 2 cores"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--json", default=None, help="output JSON path")
    parser.add_argument(
        "--clips",
        type=int,
        default=None,
        help="end-to-end clips (default 100, quick 4)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time the torch.compile fast path",
    )
    parser.add_argument(
        "--e2e-fast",
        default="onednn",
        help="fast path of the ast_sb end-to-end run ('none' for plain fp32)",
    )
    parser.add_argument(
        "--sections",
        default="features,forward,e2e,user,train,varlen,memory",
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="user path: repetitions"
    )
    parser.add_argument(
        "--no-onnx", action="store_true", help="user path: skip ONNX"
    )
    parser.add_argument(
        "--user-size",
        default="base384",
        choices=sorted(SIZES),
        help="user path: model size",
    )
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(json.loads(args.probe))))
        return {}
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    quick = args.quick
    sections = set(args.sections.split(","))
    e2e_fast = None if args.e2e_fast == "none" else args.e2e_fast
    if device == "cuda" and e2e_fast == "onednn":
        e2e_fast = "bf16"
    import transformers

    cpu_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu_name = next(
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    res: Dict = {
        "meta": {
            "mode": "quick" if quick else "full",
            "threads": args.threads,
            "device": device
            if device == "cpu"
            else torch.cuda.get_device_name(),
            "cpu": cpu_name,
            "cpu_count": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onednn_linear": onednn_linear_available(),
            "cpu_capability": cpu_capability(),
            "cpu_features": describe_cpu(),
            "isa_env": {k: os.environ.get(k) for k in ISA_VARIABLES},
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        }
    }
    start = time.time()
    log("matmul peak")
    res["matmul_peak"] = matmul_peak(device, quick)
    with tempfile.TemporaryDirectory() as folder:
        n_clips = args.clips or (4 if quick else 100)
        clips = generate_clips(n_clips, 10.0)
        if "features" in sections:
            log("feature extraction")
            res["feature_extraction"] = feature_extraction(
                clips if not quick else generate_clips(16, 10.0),
                device,
                reps=3 if quick else 5,
            )
        models = {}
        needed = (
            [("base384", 1024)]
            if sections & {"forward", "e2e", "varlen"}
            else []
        )
        if sections & {"forward", "varlen"}:
            needed += [("base384", 512), ("tiny224", 1024)]
        if "user" in sections and (args.user_size, 1024) not in needed:
            needed.append((args.user_size, 1024))
        if sections & {"forward", "e2e", "varlen", "user"}:
            for size, frames in needed:
                models[f"{size}@{frames}"] = make_models(
                    size, frames, folder, device
                )
        if "forward" in sections:
            batches = [1] if quick else [1, 4]
            configs = [
                ("base384", 1024, batches),
                ("base384", 512, batches),
                ("tiny224", 1024, [1, 8] if not quick else [1]),
            ]
            res["forward"] = forward_section(
                models, configs, device, quick, args.compile
            )
        if "e2e" in sections:
            log(f"end to end {n_clips} clips")
            res["end_to_end"] = end_to_end(
                models, clips, device, batch=4, fast_mode=e2e_fast
            )
        if "user" in sections:
            n_files = args.clips or (4 if quick else 16)
            log(f"user path {n_files} files")
            res["user_path"] = user_path(
                models,
                generate_clips(n_files, 10.0, seed=3),
                folder,
                batch=4,
                reps=args.reps or (2 if quick else 3),
                onnx=not args.no_onnx,
                size=args.user_size,
            )
        if "train" in sections:
            res["train"] = {}
            for size, frames, batch, reps in (
                [("tiny224", 1024, 2, 2), ("base384", 256, 1, 1)]
                if quick
                else [("tiny224", 1024, 8, 3), ("base384", 1024, 2, 2)]
            ):
                res["train"][f"{size}@{frames}_B{batch}"] = train_section(
                    size, frames, batch, reps, device, folder
                )
        if "varlen" in sections:
            size = "tiny224" if quick else "base384"
            enc = models[f"{size}@1024"][1]
            res["varlen"] = varlen_section(
                enc.constructor_args,
                enc.state_dict(),
                device,
                n_clips=8,
                reps=1 if quick else 2,
                bucket=2,
            )
            res["varlen"]["model"] = size
        models.clear()
    if "memory" in sections:
        size, frames = ("tiny224", 1024) if quick else ("base384", 1024)
        specs = {
            f"forward {size}@{frames} B1 hf": dict(
                impl="hf", size=size, frames=frames, batch=1, task="forward"
            ),
            f"forward {size}@{frames} B1 ast_sb": dict(
                impl="ast_sb", size=size, frames=frames, batch=1, task="forward"
            ),
            f"forward {size}@{frames} B1 ast_sb+{'onednn' if device == 'cpu' else 'bf16'}": dict(
                impl="ast_sb",
                size=size,
                frames=frames,
                batch=1,
                task="forward",
                fast="onednn" if device == "cpu" else "bf16",
            ),
        }
        if not quick:
            specs[f"forward {size}@{frames} B1 ast_sb+bf16"] = dict(
                impl="ast_sb",
                size=size,
                frames=frames,
                batch=1,
                task="forward",
                fast="bf16",
            )
            for impl, po in (
                ("hf", None),
                ("ast_sb", None),
                ("ast_sb", "structured"),
            ):
                specs[
                    f"train tiny224@1024 B8 {impl}{'+' + po if po else ''}"
                ] = dict(
                    impl=impl,
                    size="tiny224",
                    frames=1024,
                    batch=8,
                    task="train",
                    patchout=po,
                )
        res["memory"] = memory_section(specs, args.threads, device)
    res["meta"]["wall_s"] = time.time() - start
    res["meta"]["loadavg_end"] = os.getloadavg()
    text = report(res)
    print(text)
    path = args.json or f"benchmark_ast_{res['meta']['mode']}.json"
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(res, fout, indent=2)
    log(f"wrote {path} ({res['meta']['wall_s']:.0f} s)")
    return res


if __name__ == "__main__":
    main()
