#!/usr/bin/env python3
"""Recipe for training an Audio Spectrogram Transformer (AST) on your data.

To run this recipe on a folder of class sub-folders (single-label):

    python train.py hparams/ast.yaml --data_folder /path/to/classes \
        --pretrained_path /path/to/audioset_10_10_0.4593.pth

or on a manifest (CSV with ``wav`` and ``label`` or ``labels`` columns, or
JSON), multi-label:

    python train.py hparams/ast.yaml --manifest /path/to/meta.csv \
        --multi_label True --group_column speaker

The number of classes is counted from the data (``--n_classes`` is only
checked against it when given).

The accepted inputs are described in ``custom_prepare.py`` and README.md.
At the end the model is tested on the best (or last) checkpoint and exported
as an ``EncoderClassifier`` folder (``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.training.recipe import (
    build_datasets,
    class_counter,
    prepare_on_main,
    setup_experiment,
    train_and_evaluate,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from custom_prepare import prepare_custom  # noqa: E402


def prepare(hparams):
    """Runs ``prepare_custom`` on the main process with the recipe hparams.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters: the data source (``manifest`` or
        ``data_folder``), labels, split and bad-audio options.

    Returns
    -------
    dict
        The "train", "valid" and "test" manifest paths.
    """
    return prepare_on_main(
        prepare_custom,
        hparams,
        (
            "save_folder",
            "manifest",
            "data_folder",
            "multi_label",
            "label_separator",
            "allowed_labels",
            "split_ratio",
            "seed",
            "on_missing",
            "on_corrupt",
            "min_duration",
            "skip_prep",
        ),
        optional=("group_column", "wav_column"),
    )


if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:], class_counter(prepare))
    datasets = build_datasets(hparams, prepare(hparams))
    meta = {"multi_label": bool(hparams["multi_label"])}
    train_and_evaluate(hparams, run_opts, datasets, results_meta=meta)
