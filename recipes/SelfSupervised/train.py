#!/usr/bin/env python3
"""Recipe for self-supervised pretraining of an Audio Spectrogram Transformer.

Masked spectrogram patch modelling after SSAST (Gong et al., AAAI 2022) on
unlabelled audio of any length, from a folder, a manifest or WebDataset
shards:

    python train.py hparams/ssast_patch.yaml --data_folder /path/to/audio
    python train.py hparams/ssast_frame.yaml --manifest /path/to/list.csv
    torchrun --nproc_per_node=4 train.py hparams/ssast_patch.yaml \
        --shards "/data/shards/shard-{000000..000999}.tar" \
        --valid_manifest /data/valid.json --precision bf16

The encoder is written to ``<output_folder>/pretrained_encoder.ckpt``; give
it as ``--pretrained_path`` to any fine-tuning recipe.

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.pretraining.recipe import build_pretraining_datasets, pretrain
from ast_sb.training.recipe import prepare_on_main, setup_experiment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unlabelled_prepare import prepare_unlabelled  # noqa: E402


def prepare(hparams):
    """Writes the manifests on the main process (none with shards alone).

    Arguments
    ---------
    hparams : dict
        The pretraining hyperparameters: ``shards``, ``data_folder`` or
        ``manifest``, ``valid_manifest`` and the segmenting options.

    Returns
    -------
    dict
        "train" and "valid" manifest paths (or None).
    """
    if hparams["shards"] and not (
        hparams["data_folder"] or hparams["manifest"]
    ):
        return {"train": None, "valid": hparams["valid_manifest"]}
    manifests = prepare_on_main(
        prepare_unlabelled,
        hparams,
        (
            "save_folder",
            "data_folder",
            "manifest",
            "segment_seconds",
            "valid_ratio",
            "seed",
            "on_missing",
            "on_corrupt",
            "skip_prep",
        ),
    )
    if hparams["valid_manifest"]:
        manifests["valid"] = hparams["valid_manifest"]
    return manifests


if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
    pretrain(
        hparams, run_opts, build_pretraining_datasets(hparams, prepare(hparams))
    )
