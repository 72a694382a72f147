#!/usr/bin/env python3
"""Recipe for training an Audio Spectrogram Transformer (AST) on AudioSet.

Balanced training set (~20k clips), one GPU:

    python train.py hparams/ast_balanced.yaml --data_folder /data/audioset \
        --pretrained_path /ckpt/deit_base_distilled_patch16_384.pth

Full training set (~2M clips) streamed from WebDataset shards on 4 GPUs
(shards written once by ``make_shards.py`` from the prepared train manifest):

    torchrun --nproc_per_node=4 train.py hparams/ast_full.yaml \
        --data_folder /data/audioset --train_shards /data/audioset_shards \
        --pretrained_path /ckpt/deit_base_distilled_patch16_384.pth \
        --precision bf16

The label encoder is written from ``labels.txt`` (official class order, all
527 classes) before the datasets are built. The model is tested on the
AudioSet eval set (mAP, mAUC, d-prime) and exported as an
``EncoderClassifier`` folder (``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

from speechbrain.utils.distributed import run_on_main

from ast_sb.dataio.sharding import sharded_classification_dataset
from ast_sb.training.recipe import (
    build_datasets,
    prepare_on_main,
    setup_experiment,
    train_and_evaluate,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audioset_prepare import prepare_audioset, write_label_encoder  # noqa: E402

# prepare_audioset argument -> hparam
PREPARE_ARGS = {
    "audio_folder": "audio_folder",
    "csv_folder": "csv_folder",
    "save_folder": "prepare_folder",
    "train_set": "train_set",
    "valid_fraction": "valid_fraction",
    "label_type": "label_type",
    "read_durations": "read_durations",
    "num_workers": "prep_workers",
    "seed": "seed",
    "skip_prep": "skip_prep",
}

if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
    manifests = prepare_on_main(prepare_audioset, hparams, PREPARE_ARGS)
    # all 527 classes in the official order, even those without clips
    run_on_main(
        write_label_encoder,
        kwargs={
            "labels_file": os.path.join(
                hparams["prepare_folder"], "labels.txt"
            ),
            "label_encoder_file": hparams["label_encoder_file"],
        },
    )
    shards = hparams["train_shards"]
    if shards:  # stream the training set; the manifest is not read
        manifests = {**manifests, "train": None}
    datasets = build_datasets(hparams, manifests)
    if shards:
        datasets["train"] = sharded_classification_dataset(
            shards,
            hparams["label_encoder"],
            multi_label=hparams["multi_label"],
            label_key=hparams["label_key"],
            sample_rate=hparams["sample_rate"],
            crop_seconds=hparams["train_crop_seconds"],
            weighted=hparams["train_sampler"] == "weighted",
            epoch_length=hparams["shard_epoch_length"],
            shuffle_buffer=hparams["shard_shuffle_buffer"],
            seed=hparams["seed"],
        )
    train_and_evaluate(hparams, run_opts, datasets)
