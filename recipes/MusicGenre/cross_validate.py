#!/usr/bin/env python3
"""10-fold cross-validation of the GTZAN AST recipe.

For each fold k in 0..9 (the excerpt-number folds of ``gtzan_prepare.py``),
``train.py`` is run once with ``--split fold --test_fold k`` (validation
fold ``(k + 1) % 10``, training on the 8 others), in a subprocess so any
launcher such as ``torchrun`` can be used; the test accuracies are then
summarised as mean +- std.

Example::

    python cross_validate.py hparams/ast.yaml --data_folder /data/gtzan \
        --output_root results/GTZAN/ast_cv -- --pretrained_path /ckpt/audioset_10_10_0.4593.pth

Arguments after ``--`` (or unknown ones) are passed to every ``train.py`` run.
Folds with an existing ``test_results.json`` are not run again (resume);
``--force`` reruns them. The summary goes to ``<output_root>/cv_results.json``.

Authors
 * ast_sb developers 2026
"""

import os
import sys
from typing import List

from ast_sb.training.cross_validation import (
    cross_validation_parser,
    run_cross_validation,
    split_passthrough,
)

FOLDS = tuple(range(10))
HERE = os.path.dirname(os.path.abspath(__file__))


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
        __doc__.split("\n\n")[0], "results/GTZAN/ast_cv", FOLDS
    )
    argv, extra = split_passthrough(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(argv)

    def fold_overrides(fold: int) -> List[str]:
        return [
            "--data_folder",
            args.data_folder,
            "--split",
            "fold",
            "--n_folds",
            str(len(FOLDS)),
            "--test_fold",
            str(fold),
        ]

    return run_cross_validation(
        os.path.join(HERE, "train.py"),
        args.hparams,
        args.folds,
        fold_overrides,
        args.output_root,
        extra_args=unknown + extra,
        launcher=args.launcher,
        force=args.force,
        name="GTZAN",
    )


if __name__ == "__main__":
    main()
