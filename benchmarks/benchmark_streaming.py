#!/usr/bin/env python
"""Real-time factor and per-hop latency of ``ast-sb stream`` (StreamingTagger).

For each model size and time grid, a random-weight AST (527 sigmoid
classes, as an AudioSet tagger) is exported to an inference folder and
loaded as users load it (:class:`ast_sb.inference.interface.AudioSpectrogramTransformerInterface`).
A :class:`ast_sb.inference.streaming.StreamingTagger` with the grid's window (at most
10 s) and a 1 s hop is first filled with one window of audio (untimed), then
fed one hop of synthetic audio per ``push`` call; each call computes the
new fbank frames, classifies one window and updates the events. Its wall
time is the per-hop latency; the real-time factor is latency / hop.

Configurations are interleaved (round robin over the repeats) so that
background load hits them alike; the report gives the median and the 95th
percentile of the per-hop latencies pooled over the repeats, and the RTF of
the median.

``--threads`` takes a list (``1,2``) and ``auto`` (the small-model policy
of :mod:`ast_sb.inference.threads`, as ``ast-sb stream`` applies it); ``--load``
runs every configuration also while a competing process keeps one core
busy (a Python busy loop, started and stopped around each timed run), so
each figure comes with and without competing load from the same run.

``--hour`` streams an hour of audio through tiny224 (1 s grid) and prints
the tagger's buffer sizes and the process's resident memory every 10
minutes (they stay flat).

Usage::

    python benchmarks/benchmark_streaming.py --threads 2
    python benchmarks/benchmark_streaming.py --threads 2 --hour
    python benchmarks/benchmark_streaming.py --configs tiny224:128 \
        --threads 1,2,auto --load --json out.json

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speechbrain.dataio.encoder import CategoricalEncoder  # noqa: E402

from ast_sb.export.folder import export_inference_folder  # noqa: E402
from ast_sb.inference.cpu_features import describe_cpu  # noqa: E402
from ast_sb.inference.interface import (  # noqa: E402
    AudioSpectrogramTransformerInterface,
)
from ast_sb.inference.streaming import StreamingTagger  # noqa: E402
from ast_sb.inference.threads import policy_threads  # noqa: E402
from ast_sb.lobes.model import (  # noqa: E402
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
    forward_flops,  # noqa: E402
)

RATE = 16000
N_CLASSES = 527


def cpu_name() -> str:
    """The CPU's model name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_folder(size: str, frames: int, root: str) -> str:
    """Exports a random-weight multi-label model of ``size`` and grid."""
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(size, target_length=frames)
    head = AudioSpectrogramTransformerClassifier(
        enc.embed_dim, N_CLASSES, output="logits"
    )
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"class{i}" for i in range(N_CLASSES)])
    return export_inference_folder(
        os.path.join(root, f"{size}_{frames}"),
        enc.eval(),
        head.eval(),
        labels,
        {"target_length": frames},
        multi_label=True,
    )


def audio(seconds: float, seed: int) -> np.ndarray:
    """Noise with changing loudness (a stand-in for a live signal)."""
    rng = np.random.default_rng(seed)
    wav = rng.standard_normal(int(seconds * RATE)).astype(np.float32) * 0.1
    env = np.repeat(rng.uniform(0.1, 1.0, int(seconds) + 1), RATE)
    return wav * env[: len(wav)].astype(np.float32)


def run_stream(model, hop: float, hops: int, seed: int) -> List[tuple]:
    """``(wall, cpu)`` seconds of ``hops`` pushes after a full first window.

    The CPU time (``time.process_time``, all threads of the process) does
    not count the time the process waits for a core, so on a loaded
    machine it estimates the latency on an idle one (with one thread).
    """
    tagger = StreamingTagger(model, hop=hop)
    fill = audio(tagger.window, seed)
    tagger.push(fill)  # first window (untimed)
    step = int(round(hop * RATE))
    wav = audio(hops * hop + 1, seed + 1)
    times = []
    for k in range(hops):
        chunk = wav[k * step : (k + 1) * step]
        t0, c0 = time.perf_counter(), time.process_time()
        tagger.push(chunk)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    assert tagger.n_windows == hops + 1, tagger.n_windows
    return times


def busy_process() -> subprocess.Popen:
    """A competing process that keeps one core busy until killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def thread_count(spec: str, model, cores: int) -> int:
    """``spec`` ("1", "2", "auto") as a thread count for ``model``."""
    if spec != "auto":
        return int(spec)
    gflop = forward_flops(model.encoder, model.max_frames) / 1e9
    return policy_threads(gflop, cores)


def hour(model, hop: float) -> Dict:
    """Streams an hour; buffer sizes and RSS every 10 minutes."""
    tagger = StreamingTagger(model, hop=hop)
    rows = []
    t0 = time.perf_counter()
    for minute in range(60):
        wav = audio(60, minute)
        for chunk in np.split(wav, 60):
            tagger.push(chunk)
        if minute % 10 == 9:
            rows.append(
                {
                    "minutes": minute + 1,
                    "rss_mb": round(rss_mb(), 1),
                    "n_windows": tagger.n_windows,
                    **tagger.buffered(),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    tagger.finish()
    return {"rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads", default="2", help="comma list of counts or 'auto'"
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="also time each run while a busy process takes one core",
    )
    parser.add_argument(
        "--configs",
        default="tiny224:1024,small224:1024,base384:1024,tiny224:128,"
        "small224:128,base384:128",
        help="size:frames,... (frames: the model's time grid)",
    )
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("--hops", type=int, default=8, help="timed per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hour", action="store_true")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    thread_specs = args.threads.split(",")
    cores = os.cpu_count() or 1
    if thread_specs[0] != "auto":
        torch.set_num_threads(int(thread_specs[0]))
    meta = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "isa": torch.backends.cpu.get_cpu_capability(),
        "threads": args.threads,
        "cpu_flags": describe_cpu()["flags"],
        "torch": torch.__version__,
        "loadavg_start": os.getloadavg(),
    }
    print(json.dumps(meta), flush=True)
    res: Dict = {"meta": meta, "configs": {}}
    with tempfile.TemporaryDirectory() as root:
        if args.hour:
            model = AudioSpectrogramTransformerInterface.from_folder(
                make_folder("tiny224", 128, root)
            )
            res["hour"] = hour(model, args.hop)
        else:
            configs = [c.split(":") for c in args.configs.split(",")]
            models = {
                f"{s}:{f}": AudioSpectrogramTransformerInterface.from_folder(
                    make_folder(s, int(f), root)
                )
                for s, f in configs
            }
            runs = {}
            for key, model in models.items():
                for spec in thread_specs:
                    n = thread_count(spec, model, cores)
                    for loaded in [False, True] if args.load else [False]:
                        name = f"{key} threads={spec}"
                        if spec == "auto":
                            name += f"({n})"
                        if loaded:
                            name += " +busy core"
                        runs[name] = (key, n, loaded)
            times: Dict[str, List[tuple]] = {k: [] for k in runs}
            for rep in range(args.repeats):
                for name, (key, n, loaded) in runs.items():
                    torch.set_num_threads(n)
                    busy = busy_process() if loaded else None
                    try:
                        if busy is not None:
                            time.sleep(0.2)  # let it take its core
                        times[name] += run_stream(
                            models[key], args.hop, args.hops, rep
                        )
                    finally:
                        if busy is not None:
                            busy.kill()
                            busy.wait()
                    wall = [t[0] for t in times[name]]
                    print(
                        f"repeat {rep} {name}: median "
                        f"{1000 * statistics.median(wall):.1f} ms, p95 "
                        f"{1000 * float(np.percentile(wall, 95)):.1f} ms, "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
            for name, values in times.items():
                key, n, loaded = runs[name]
                model = models[key]
                wall = [t[0] for t in values]
                cpu = [t[1] for t in values]
                med = statistics.median(wall)
                res["configs"][name] = {
                    "threads": n,
                    "competing_busy_process": loaded,
                    "window_s": round(StreamingTagger(model, hop=1).window, 3),
                    "hop_s": args.hop,
                    "latency_median_ms": round(1000 * med, 1),
                    "latency_p95_ms": round(
                        1000 * float(np.percentile(wall, 95)), 1
                    ),
                    "rtf": round(med / args.hop, 4),
                    "cpu_median_ms": round(1000 * statistics.median(cpu), 1),
                    "n_hops": len(values),
                }
    res["meta"]["loadavg_end"] = os.getloadavg()
    print(json.dumps(res, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
