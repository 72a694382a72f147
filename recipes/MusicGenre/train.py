#!/usr/bin/env python3
"""Recipe for training an Audio Spectrogram Transformer (AST) on GTZAN.

To run this recipe (10-fold split by excerpt number, test fold 0):

    python train.py hparams/ast.yaml --data_folder /path/to/gtzan \
        --pretrained_path /path/to/audioset_10_10_0.4593.pth

The fault-filtered split: ``--split file --split_file fault_filtered.json``
(made by ``python gtzan_prepare.py --make-split-file fault_filtered.json``);
another fold: ``--test_fold 3``. The 30 s excerpts are trained on random
10 s crops and tested by averaging sliding 10 s windows every 5 s. At the
end the model is tested on the best (or last) checkpoint and exported as an
``EncoderClassifier`` folder (``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.training.recipe import run_classification_recipe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gtzan_prepare import prepare_gtzan  # noqa: E402

#: ``prepare_gtzan`` arguments, read from the hparams of the same name
PREPARE_ARGS = (
    "data_folder",
    "save_folder",
    "split",
    "test_fold",
    "valid_fold",
    "n_folds",
    "split_ratio",
    "split_file",
    "skip_known_corrupt",
    "on_corrupt",
    "seed",
    "skip_prep",
)


def results_meta(hparams):
    """The split of a run, written into its results file.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    dict
        ``split``, ``test_fold`` and ``split_file``.
    """
    split = hparams["split"]
    return {
        "split": split,
        "test_fold": hparams["test_fold"] if split == "fold" else None,
        "split_file": hparams["split_file"] if split == "file" else None,
    }


def main(argv):
    """Prepares GTZAN, trains, tests and exports (see the module docstring).

    Arguments
    ---------
    argv : list of str
        The hparams file, run options and overrides.
    """
    run_classification_recipe(
        argv, prepare_gtzan, PREPARE_ARGS, results_meta=results_meta
    )


if __name__ == "__main__":
    main(sys.argv[1:])
