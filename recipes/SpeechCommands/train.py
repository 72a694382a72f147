#!/usr/bin/env python3
"""Recipe for training an Audio Spectrogram Transformer (AST) on Speech
Commands V2 (35 keywords, official validation / testing lists).

To run this recipe:

    python train.py hparams/ast.yaml --data_folder /path/to/speech_commands_v0.02 \
        --pretrained_path /path/to/deit_base_distilled_patch16_384.pth

Training clips get the release's background noise (``_background_noise_``)
and mixup; the checkpoint with the best validation accuracy is tested and
exported as an ``EncoderClassifier`` folder (``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

from ast_sb.training.recipe import run_classification_recipe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speech_commands_prepare import prepare_speech_commands  # noqa: E402

if __name__ == "__main__":
    run_classification_recipe(
        sys.argv[1:],
        prepare_speech_commands,
        ("data_folder", "save_folder", "keywords", "skip_prep"),
    )
