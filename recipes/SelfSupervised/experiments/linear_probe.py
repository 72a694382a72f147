#!/usr/bin/env python3
"""Linear probe of a pretrained encoder against randomly initialised ones.

The encoder is frozen; each clip's embedding is the mean of the encoder's
patch-token outputs (after its final LayerNorm) on the normalised fbank; a
logistic regression (scikit-learn) is fitted on the ``train`` rows of the
experiment's ``finetune.csv`` and scored on its ``test`` rows. The same is
done with randomly initialised encoders of the same geometry (one per
seed), the baseline a probe must beat.

Usage::

    python linear_probe.py --csv /tmp/sc_ssl/finetune.csv \
        --encoder results/.../pretrained_encoder.ckpt --depth 4

Authors
 * ast_sb developers 2026
"""

import argparse
import csv

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ast_sb.dataio.audio import load_audio
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.weights.pretrained import load_pretrained


@torch.no_grad()
def embed(encoder, wavs, target_length):
    """Mean patch-token output of each clip, [N, D]."""
    fbank = KaldiFbank(target_length=target_length)
    norm = AudioSpectrogramNormalizer()
    feats = norm(fbank(torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)))
    tokens = encoder.forward_features(feats)
    return tokens[:, NUM_PREFIX_TOKENS:].mean(dim=1).numpy()


def probe(train_x, train_y, test_x, test_y):
    """Test accuracy of a logistic regression on standardised features."""
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(max_iter=2000, C=1.0)
    model.fit(scaler.transform(train_x), train_y)
    return float((model.predict(scaler.transform(test_x)) == test_y).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--target_length", type=int, default=96)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with open(args.csv, encoding="utf-8") as fin:
        rows = list(csv.DictReader(fin))
    data = {}
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        wavs = [load_audio(r["wav"], 16000) for r in part]
        data[split] = (wavs, np.array([r["label"] for r in part]))

    def build():
        return AudioSpectrogramTransformerEncoder(
            "tiny224",
            target_length=args.target_length,
            fstride=16,
            tstride=16,
            depth=args.depth,
        ).eval()

    def score(encoder):
        feats = {
            s: embed(encoder, data[s][0], args.target_length) for s in data
        }
        return probe(
            feats["train"], data["train"][1], feats["test"], data["test"][1]
        )

    pretrained = build()
    load_pretrained(pretrained, args.encoder)
    print(f"pretrained encoder: test accuracy {score(pretrained):.3f}")
    random_scores = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        random_scores.append(score(build()))
    print(
        "random encoders: test accuracy "
        + ", ".join(f"{s:.3f}" for s in random_scores)
        + f" (mean {np.mean(random_scores):.3f})"
    )


if __name__ == "__main__":
    main()
