#!/usr/bin/env python3
"""Mean and standard deviation over seeds of ``sed_results.json`` files.

    python summarize.py results/SoundEventDetection/ast_sed_demo/*/sed_results.json

Authors
 * ast_sb developers 2026
"""

import json
import sys

import numpy as np

METRICS = ("event_f1", "segment_f1", "psds1", "psds2", "median_onset_error")


def main(paths):
    runs = [json.load(open(p, encoding="utf-8")) for p in paths]
    print(f"{len(runs)} runs: {', '.join(paths)}")
    print("| system | " + " | ".join(METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for system in ("frame_level", "window_level"):
        cells = []
        for metric in METRICS:
            values = np.array([r[system][metric] for r in runs], dtype=float)
            per_seed = ", ".join(f"{v:.3f}" for v in values)
            cells.append(
                f"{values.mean():.3f} +- {values.std():.3f} ({per_seed})"
            )
        print(f"| {system} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
