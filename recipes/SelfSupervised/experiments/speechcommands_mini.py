#!/usr/bin/env python3
"""Data of the README experiment: SSAST pretraining vs scratch on keywords.

From a copy of ``speechcommands_mini`` (150 one-second clips of "nine",
"right", "zero", 67 speakers; ``meta.csv`` with a ``speaker`` column) it
writes, under ``--out``:

* ``finetune.csv``: a speaker-independent labelled split for the Custom
  recipe (``split`` column): the speakers are shuffled (seed 0) and
  assigned to test (about 30 % of the clips), valid (about 10 %) and
  train; of the train speakers' clips only ``--labelled_per_class`` per
  class are labelled (``train``), the others are not in the CSV.
* ``unlabelled/``: audio for pretraining, none of it from a valid or test
  speaker: every clip of the train speakers (labelled or not), each also
  speed-perturbed (speeds 0.85, 0.91, 1.08 and 1.14), 4 s files
  concatenating 4 of those clips (long inputs cut into segments), and
  generated sounds of ``ast_sb.demo`` (tones, chirps, noise, clicks, ...).

Usage::

    python speechcommands_mini.py --data /tmp/speechcommands_mini --out /tmp/sc_ssl

Authors
 * ast_sb developers 2026
"""

import argparse
import csv
import os
import random
from collections import defaultdict

import numpy as np
import torch
import torchaudio

from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.demo import DEMO_CLASSES, synthesize_clip

SAMPLE_RATE = 16000
# resampling to these rates, played at 16 kHz: speeds 0.85, 0.91, 1.08, 1.14
# (multiples of 400 Hz keep torchaudio's resampling kernel small)
PERTURBED_RATES = (18800, 17600, 14800, 14000)


def split_speakers(rows, seed=0, test_share=0.3, valid_share=0.1):
    """Speaker -> "train" / "valid" / "test" by shares of the clips."""
    clips = defaultdict(int)
    for row in rows:
        clips[row["speaker"]] += 1
    speakers = sorted(clips)
    random.Random(seed).shuffle(speakers)
    total = sum(clips.values())
    assignment, counted = {}, 0
    for speaker in speakers:
        if counted < test_share * total:
            assignment[speaker] = "test"
        elif counted < (test_share + valid_share) * total:
            assignment[speaker] = "valid"
        else:
            assignment[speaker] = "train"
        counted += clips[speaker]
    return assignment


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="speechcommands_mini")
    parser.add_argument("--out", required=True)
    parser.add_argument("--labelled_per_class", type=int, default=10)
    parser.add_argument("--n_generated", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(os.path.join(args.data, "meta.csv"), encoding="utf-8") as fin:
        rows = list(csv.DictReader(fin))
    split = split_speakers(rows, args.seed)

    by_class = defaultdict(list)
    for row in rows:
        if split[row["speaker"]] == "train":
            by_class[row["label"]].append(row)
    labelled = set()
    for label in sorted(by_class):
        chosen = rng.sample(by_class[label], args.labelled_per_class)
        labelled.update(row["path"] for row in chosen)
    os.makedirs(args.out, exist_ok=True)
    with open(
        os.path.join(args.out, "finetune.csv"), "w", encoding="utf-8"
    ) as f:
        f.write("id,wav,label,split\n")
        for row in rows:
            part = split[row["speaker"]]
            if part == "train" and row["path"] not in labelled:
                continue
            wav = os.path.join(os.path.abspath(args.data), row["path"])
            key = os.path.splitext(row["path"])[0].replace("/", "_")
            f.write(f"{key},{wav},{row['label']},{part}\n")

    unlabelled = os.path.join(args.out, "unlabelled")
    train_clips = []
    for row in rows:
        if split[row["speaker"]] != "train":
            continue
        wav = load_audio(os.path.join(args.data, row["path"]), SAMPLE_RATE)
        key = os.path.splitext(row["path"])[0].replace("/", "_")
        save_audio(
            os.path.join(unlabelled, "speech", f"{key}.wav"), wav, SAMPLE_RATE
        )
        train_clips.append(wav)
        for new_rate in PERTURBED_RATES:
            # tempo and pitch change together
            fast = torchaudio.functional.resample(wav, SAMPLE_RATE, new_rate)
            save_audio(
                os.path.join(unlabelled, "perturbed", f"{key}_{new_rate}.wav"),
                fast,
                SAMPLE_RATE,
            )
    for i in range(len(train_clips) // 4):
        parts = rng.sample(train_clips, 4)
        save_audio(
            os.path.join(unlabelled, "long", f"long_{i:03d}.wav"),
            torch.cat(parts),
            SAMPLE_RATE,
        )
    generator = np.random.default_rng(args.seed)
    kinds = sorted(DEMO_CLASSES)
    for i in range(args.n_generated):
        kind = kinds[i % len(kinds)]
        seconds = float(generator.uniform(1.0, 3.0))
        wav = synthesize_clip(kind, generator, SAMPLE_RATE, seconds)
        save_audio(
            os.path.join(unlabelled, "generated", f"{kind}_{i:03d}.wav"),
            wav,
            SAMPLE_RATE,
        )
    counts = defaultdict(int)
    for row in rows:
        counts[split[row["speaker"]]] += 1
    speakers = {
        part: sum(1 for value in split.values() if value == part)
        for part in ("train", "valid", "test")
    }
    print(
        f"speakers: {speakers}; clips: {dict(counts)}; labelled train: "
        f"{len(labelled)}; unlabelled speech clips: {len(train_clips)}"
    )


if __name__ == "__main__":
    main()
