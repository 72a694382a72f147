#!/usr/bin/env python3
"""Recipe for sound event detection with a frame-level AST head.

Strong labels (DESED layout, see ``desed_prepare.py``) train the frame
head; the test set is evaluated with the DCASE metrics (event-based F1 with
a 200 ms collar, segment F1 on 1 s, PSDS1/2) for the frame-level detector
and for the window-level tagger on the same network.

    python make_soundscapes.py data/soundscapes
    python train.py hparams/ast_sed_demo.yaml --data_folder data/soundscapes

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.training.preparation import prepare_arguments, prepare_on_main
from ast_sb.training.recipe import setup_experiment
from ast_sb.training.sed_recipe import run_detection_recipe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desed_prepare import (  # noqa: E402
    PREPARE_KEYS,
    prepare_desed_from_hparams,
)

OPTIONAL = ("weak_tsv", "weak_audio")


def prepare(hparams):
    """Prepares the manifests on the main process, then reads them on
    every process; returns (manifests, classes)."""
    prepare_on_main(prepare_desed_from_hparams, hparams, PREPARE_KEYS, OPTIONAL)
    kwargs = prepare_arguments(hparams, PREPARE_KEYS, OPTIONAL)
    return prepare_desed_from_hparams(**kwargs, skip_prep=True)


def count_classes(hparams):
    """Number of training classes (prepares the data)."""
    return len(prepare(hparams)[1])


if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:], count_classes)
    manifests, classes = prepare(hparams)
    run_detection_recipe(hparams, run_opts, manifests, classes)
