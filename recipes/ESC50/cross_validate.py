#!/usr/bin/env python3
"""5-fold cross-validation of the ESC-50 AST recipe, as in the AST paper.

For each fold k in 1..5, fold k is the test set and ``train.py`` is run once
(in a subprocess, so any launcher such as ``torchrun`` can be used); the
test accuracies are then summarised as mean +- std, like the paper's
"95.6 +- 0.4". Two protocols:

* ``paper`` (default, the original AST code): train on the 4 other folds,
  validate on the test fold after every epoch, report the accuracy of the
  LAST epoch and, like the original's logs, the accuracy at the epoch with
  the best 5-fold mean (an epoch chosen on the test folds: optimistic).
* ``heldout``: validation fold ``k % 5 + 1``, train on the remaining 3 folds,
  test the checkpoint with the best validation error (no test-fold
  monitoring at all; less training data).

Example::

    python cross_validate.py hparams/ast.yaml --data_folder /data/ESC-50-master \
        --output_root results/ESC50/ast_cv -- --pretrained_path /ckpt/audioset_10_10_0.4593.pth

Arguments after ``--`` (or unknown ones) are passed to every ``train.py`` run.
Folds with an existing ``test_results.json`` are not run again (resume);
``--force`` reruns them. The summary goes to ``<output_root>/cv_results.json``.

Authors
 * ast_sb developers 2026
"""

import json
import os
import sys
from typing import Dict, List

from ast_sb.training.cross_validation import (
    cross_validation_parser,
    run_cross_validation,
    split_passthrough,
)

FOLDS = (1, 2, 3, 4, 5)
HERE = os.path.dirname(os.path.abspath(__file__))


def fold_split(test_fold: int, protocol: str = "paper") -> Dict[str, List[int]]:
    """Returns the train/valid/test folds of one cross-validation run.

    Arguments
    ---------
    test_fold : int
        The test fold (1-5).
    protocol : str
        "paper" (train on the 4 other folds, no validation fold) or
        "heldout" (validation fold ``test_fold % 5 + 1``).

    Returns
    -------
    dict
        ``{"train_folds": [...], "valid_folds": [...], "test_folds": [k]}``.

    Example
    -------
    >>> fold_split(5, "heldout")
    {'train_folds': [2, 3, 4], 'valid_folds': [1], 'test_folds': [5]}
    """
    if test_fold not in FOLDS:
        raise ValueError(f"test fold must be in 1-5, got {test_fold}")
    others = [f for f in FOLDS if f != test_fold]
    if protocol == "paper":
        return {
            "train_folds": others,
            "valid_folds": [],
            "test_folds": [test_fold],
        }
    if protocol == "heldout":
        valid = test_fold % 5 + 1
        return {
            "train_folds": [f for f in others if f != valid],
            "valid_folds": [valid],
            "test_folds": [test_fold],
        }
    raise ValueError(f"protocol must be 'paper' or 'heldout', got {protocol!r}")


def main(argv=None) -> dict:
    """Parses the command line, runs the folds and writes the summary.

    Arguments
    ---------
    argv : list of str, optional
        Command line (default ``sys.argv[1:]``).

    Returns
    -------
    dict
        The summary written to ``cv_results.json``.
    """
    parser = cross_validation_parser(
        __doc__.split("\n\n")[0], "results/ESC50/ast_cv", FOLDS
    )
    parser.add_argument(
        "--protocol", choices=["paper", "heldout"], default="paper"
    )
    argv, extra = split_passthrough(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(argv)
    output_root = os.path.abspath(args.output_root)

    def fold_overrides(fold: int) -> List[str]:
        overrides = [
            "--data_folder",
            args.data_folder,
            "--cache_folder",
            os.path.join(output_root, "audio_cache"),
            "--eval_checkpoint",
            "last" if args.protocol == "paper" else "best",
        ]
        for key, folds in fold_split(fold, args.protocol).items():
            overrides += [f"--{key}", json.dumps(folds)]
        return overrides

    summary = run_cross_validation(
        os.path.join(HERE, "train.py"),
        args.hparams,
        args.folds,
        fold_overrides,
        output_root,
        extra_args=unknown + extra,
        launcher=args.launcher,
        force=args.force,
        name=f"ESC-50 ({args.protocol})",
        per_epoch=args.protocol == "paper",
    )
    return summary


if __name__ == "__main__":
    main()
