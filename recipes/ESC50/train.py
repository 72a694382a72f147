#!/usr/bin/env python3
"""Recipe for training an Audio Spectrogram Transformer (AST) on ESC-50.

To run this recipe (single split: train folds 1-3, valid 4, test 5):

    python train.py hparams/ast.yaml --data_folder /path/to/ESC-50-master \
        --pretrained_path /path/to/audioset_10_10_0.4593.pth

Other splits: ``--train_folds "[1, 2, 3, 4]" --valid_folds "[]"
--test_folds "[5]"``; the 5-fold cross-validation of the AST paper is run by
``cross_validate.py``. At the end the model is tested on the best (or last)
checkpoint and exported as an ``EncoderClassifier`` folder
(``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.training.recipe import run_classification_recipe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esc50_prepare import prepare_esc50  # noqa: E402

if __name__ == "__main__":
    run_classification_recipe(
        sys.argv[1:],
        prepare_esc50,
        (
            "data_folder",
            "save_folder",
            "train_folds",
            "valid_folds",
            "test_folds",
            "sample_rate",
            "cache_folder",
            "skip_prep",
        ),
        results_meta=lambda hparams: {"test_folds": hparams["test_folds"]},
    )
