#!/usr/bin/env python3
"""5-fold cross-validation of the ESC-50 AST recipe, as in the AST paper.

For each fold k in 1..5, fold k is the test set and ``train.py`` is run once
(in a subprocess, so any launcher such as ``torchrun`` can be used); the
test accuracies are then summarised as mean +- std, like the paper's
"95.6 +- 0.4". Two protocols:

* ``paper`` (default, the original AST code): train on the 4 other folds,
  validate on the test fold after every epoch (monitoring only), report the
  accuracy of the LAST epoch (no checkpoint selected on the test fold).
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

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
from typing import Dict, List, Sequence

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


def summarize(accuracies: Dict[int, float]) -> Dict[str, float]:
    """Mean and standard deviation (population, over folds) in percent.

    Arguments
    ---------
    accuracies : dict
        Fold -> accuracy in [0, 1].

    Returns
    -------
    dict
        ``mean_accuracy`` and ``std_accuracy`` (percent), ``n_folds``.
    """
    values = [100.0 * a for a in accuracies.values()]
    if not values:
        raise ValueError("no fold results to summarise")
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"mean_accuracy": mean, "std_accuracy": std, "n_folds": len(values)}


def run_fold(
    fold: int,
    args: argparse.Namespace,
    extra: Sequence[str],
) -> float:
    """Runs ``train.py`` for one fold (unless done) and returns its accuracy."""
    fold_dir = os.path.join(args.output_root, f"fold{fold}")
    results_file = os.path.join(fold_dir, "test_results.json")
    if args.force or not os.path.isfile(results_file):
        split = fold_split(fold, args.protocol)
        cmd = shlex.split(args.launcher) if args.launcher else [sys.executable]
        cmd += [
            os.path.join(HERE, "train.py"),
            args.hparams,
            "--data_folder",
            args.data_folder,
            "--output_folder",
            fold_dir,
            "--cache_folder",
            os.path.join(args.output_root, "audio_cache"),
            "--test_results_file",
            results_file,
            "--eval_checkpoint",
            "last" if args.protocol == "paper" else "best",
        ]
        for key, folds in split.items():
            cmd += [f"--{key}", json.dumps(folds)]
        cmd += list(extra)
        print(
            f"[fold {fold}] " + " ".join(shlex.quote(c) for c in cmd),
            flush=True,
        )
        subprocess.run(cmd, check=True)
    with open(results_file, encoding="utf-8") as fin:
        accuracy = float(json.load(fin)["accuracy"])
    print(f"[fold {fold}] test accuracy {100 * accuracy:.2f} %", flush=True)
    return accuracy


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hparams", help="recipe YAML, e.g. hparams/ast.yaml")
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--output_root", default="results/ESC50/ast_cv")
    parser.add_argument(
        "--protocol", choices=["paper", "heldout"], default="paper"
    )
    parser.add_argument("--folds", type=int, nargs="+", default=list(FOLDS))
    parser.add_argument(
        "--launcher",
        default=None,
        help='command replacing "python", e.g. "torchrun --nproc_per_node=4"',
    )
    parser.add_argument("--force", action="store_true", help="rerun done folds")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args, unknown = parser.parse_known_args(argv)
    extra = unknown + extra
    args.output_root = os.path.abspath(args.output_root)

    accuracies = {fold: run_fold(fold, args, extra) for fold in args.folds}
    summary = {
        "protocol": args.protocol,
        "hparams": os.path.abspath(args.hparams),
        "extra_args": extra,
        "fold_accuracy": {str(k): 100.0 * v for k, v in accuracies.items()},
        **summarize(accuracies),
    }
    os.makedirs(args.output_root, exist_ok=True)
    out = os.path.join(args.output_root, "cv_results.json")
    with open(out, "w", encoding="utf-8") as fout:
        json.dump(summary, fout, indent=2)
    print(
        f"ESC-50 {len(accuracies)}-fold CV ({args.protocol}): "
        f"{summary['mean_accuracy']:.1f} +- {summary['std_accuracy']:.1f} % "
        f"-> {out}"
    )
    return summary


if __name__ == "__main__":
    main()
