"""K-fold cross-validation of a recipe: one ``train.py`` run per fold.

Each fold runs the recipe's ``train.py`` in a subprocess (so any launcher,
e.g. ``torchrun --nproc_per_node=4``, can be used) with its own output
folder; the test metric of every fold is read back from the fold's
``test_results.json`` and summarised as mean +- std (population std over
folds, the way AST and most audio papers report "95.6 +- 0.4"). Folds that
already have results are not run again, so an interrupted cross-validation
resumes where it stopped.

With ``per_epoch=True`` (the test fold is the validation set, as in the
original AST ESC-50 recipe) the driver also reads every fold's per-epoch
validation accuracy from its ``train_log.txt`` and reports, like the
original's logs, both the accuracy of the last epoch and the accuracy at
the epoch with the best average over the folds (95.6 % vs 95.75 % in the
AST paper's ESC-50 run). The second picks the epoch on the test folds, so
it is the optimistic number of the two.

A recipe's ``cross_validate.py`` only says which command-line overrides
select fold k (see ``recipes/ESC50/cross_validate.py`` and
``recipes/MusicGenre/cross_validate.py``).

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "best_epoch_summary",
    "cross_validation_parser",
    "read_epoch_metric",
    "run_cross_validation",
    "split_passthrough",
    "summarize_folds",
]


def summarize_folds(
    values: Dict[int, float], metric: str = "accuracy"
) -> Dict[str, float]:
    """Mean and population standard deviation over folds, in percent.

    Arguments
    ---------
    values : dict
        Fold -> metric value in [0, 1].
    metric : str
        Metric name used in the returned keys.

    Returns
    -------
    dict
        ``mean_<metric>`` and ``std_<metric>`` (percent) and ``n_folds``.

    Example
    -------
    >>> summarize_folds({1: 0.9, 2: 0.8})
    {'mean_accuracy': 85.0, 'std_accuracy': 5.0, 'n_folds': 2}
    """
    percents = [100.0 * v for v in values.values()]
    if not percents:
        raise ValueError("No fold results to summarise")
    mean = sum(percents) / len(percents)
    std = math.sqrt(sum((v - mean) ** 2 for v in percents) / len(percents))
    return {
        f"mean_{metric}": round(mean, 10),
        f"std_{metric}": round(std, 10),
        "n_folds": len(percents),
    }


def read_epoch_metric(
    train_log: str, metric: str = "accuracy", stage: str = "valid"
) -> Dict[int, float]:
    r"""Per-epoch values of a metric from a SpeechBrain ``train_log.txt``.

    Lines look like ``epoch: 3, lr: ... - train loss: ... - valid loss:
    ..., valid accuracy: 9.00e-01, ...``; a resumed run may log an epoch
    twice, and then the last line counts.

    Arguments
    ---------
    train_log : str
        The log file.
    metric : str
        Metric name (e.g. "accuracy").
    stage : str
        Stage prefix in the log ("valid").

    Returns
    -------
    dict
        Epoch -> value.

    Example
    -------
    >>> path = getfixture("tmpdir") / "train_log.txt"
    >>> _ = path.write_text(
    ...     "epoch: 1, lr: 1e-4 - train loss: 2 - valid loss: 1, "
    ...     "valid accuracy: 5.00e-01\n"
    ...     "epoch: 2, lr: 1e-4 - train loss: 1 - valid loss: 1, "
    ...     "valid accuracy: 7.50e-01, valid error: 2.50e-01\n",
    ...     "utf-8",
    ... )
    >>> read_epoch_metric(str(path))
    {1: 0.5, 2: 0.75}
    """
    pattern = re.compile(
        rf"(?:^|[\s,-]){re.escape(stage)} {re.escape(metric)}: "
        rf"([-+0-9.eE]+|nan)"
    )
    values: Dict[int, float] = {}
    with open(train_log, encoding="utf-8") as fin:
        for line in fin:
            epoch = re.match(r"\s*epoch: (\d+)", line)
            found = pattern.search(line)
            if epoch and found:
                values[int(epoch.group(1))] = float(found.group(1))
    return values


def best_epoch_summary(
    per_fold: Dict[int, Dict[int, float]], metric: str = "accuracy"
) -> Dict[str, float]:
    """The epoch with the best mean over folds, and that mean +- std.

    Only epochs that every fold reached count.

    Arguments
    ---------
    per_fold : dict
        Fold -> (epoch -> metric value in [0, 1]).
    metric : str
        Metric name used in the returned keys.

    Returns
    -------
    dict
        ``best_epoch`` and ``best_epoch_mean_<metric>`` /
        ``best_epoch_std_<metric>`` (percent).

    Example
    -------
    >>> best_epoch_summary({1: {1: 0.5, 2: 0.9, 3: 0.8},
    ...                     2: {1: 0.6, 2: 0.8, 3: 0.85}})
    {'best_epoch': 2, 'best_epoch_mean_accuracy': 85.0, 'best_epoch_std_accuracy': 5.0}
    """
    common = set.intersection(*(set(v) for v in per_fold.values()))
    if not common:
        raise ValueError("No epoch is logged in every fold")
    best = max(
        sorted(common),
        key=lambda e: sum(f[e] for f in per_fold.values()),
    )
    stats = summarize_folds({k: v[best] for k, v in per_fold.items()}, metric)
    return {
        "best_epoch": best,
        f"best_epoch_mean_{metric}": stats[f"mean_{metric}"],
        f"best_epoch_std_{metric}": stats[f"std_{metric}"],
    }


def split_passthrough(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Splits ``argv`` at ``--``: (driver arguments, train.py arguments).

    Arguments
    ---------
    argv : Sequence[str]
        Command line.

    Returns
    -------
    tuple of lists
        Arguments before and after ``--``.

    Example
    -------
    >>> split_passthrough(["a.yaml", "--", "--lr", "1e-4"])
    (['a.yaml'], ['--lr', '1e-4'])
    """
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def cross_validation_parser(
    description: str, default_output_root: str, folds: Sequence[int]
) -> argparse.ArgumentParser:
    """The command-line options shared by the cross-validation drivers.

    Arguments
    ---------
    description : str
        Help text.
    default_output_root : str
        Default ``--output_root`` (fold k goes to ``<root>/fold<k>``).
    folds : Sequence[int]
        All folds of the data set (default of ``--folds``).

    Returns
    -------
    argparse.ArgumentParser
        Parser with ``hparams``, ``--data_folder``, ``--output_root``,
        ``--folds``, ``--launcher`` and ``--force``.

    Example
    -------
    >>> parser = cross_validation_parser("cv", "results/cv", [1, 2, 3])
    >>> args = parser.parse_args(["hp.yaml", "--data_folder", "/d"])
    >>> args.folds, args.output_root
    ([1, 2, 3], 'results/cv')
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("hparams", help="recipe YAML, e.g. hparams/ast.yaml")
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--output_root", default=default_output_root)
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=list(folds),
        choices=list(folds),
        help="folds to run (default: all)",
    )
    parser.add_argument(
        "--launcher",
        default=None,
        help='command replacing "python", e.g. "torchrun --nproc_per_node=4"',
    )
    parser.add_argument("--force", action="store_true", help="rerun done folds")
    return parser


def _read_metric(results_file: str, metric: str) -> float:
    """Reads one metric from a fold's results JSON (clear errors)."""
    with open(results_file, encoding="utf-8") as fin:
        results = json.load(fin)
    if metric not in results:
        raise KeyError(
            f"{results_file} has no {metric!r} (keys: {sorted(results)})"
        )
    return float(results[metric])


def run_cross_validation(
    train_script: str,
    hparams_file: str,
    folds: Sequence[int],
    fold_overrides: Callable[[int], List[str]],
    output_root: str,
    extra_args: Sequence[str] = (),
    launcher: Optional[str] = None,
    force: bool = False,
    metric: str = "accuracy",
    name: str = "",
    per_epoch: bool = False,
) -> dict:
    """Runs ``train_script`` for every fold and writes ``cv_results.json``.

    Arguments
    ---------
    train_script : str
        The recipe's ``train.py``.
    hparams_file : str
        The recipe YAML.
    folds : Sequence[int]
        The folds to run.
    fold_overrides : callable
        Fold -> ``train.py`` overrides selecting that fold's split, e.g.
        ``lambda k: ["--test_fold", str(k)]``.
    output_root : str
        Fold k writes to ``<output_root>/fold<k>``; the summary to
        ``<output_root>/cv_results.json``.
    extra_args : Sequence[str]
        Overrides passed to every run (e.g. ``--pretrained_path ...``).
    launcher : str, optional
        Command replacing the Python interpreter (e.g. ``torchrun ...``).
    force : bool
        Rerun folds that already have results.
    metric : str
        Key of ``test_results.json`` to summarise.
    name : str
        Data set name for the printed summary.
    per_epoch : bool
        Also report the epoch with the best mean validation ``metric`` over
        the folds (from each fold's ``train_log.txt``; meaningful when the
        test fold is the validation set). Skipped, with a message, when a
        fold has no such log.

    Returns
    -------
    dict
        The summary: per-fold values, mean and std (percent), the command.
    """
    output_root = os.path.abspath(output_root)
    values: Dict[int, float] = {}
    epochs: Dict[int, Dict[int, float]] = {}
    for fold in folds:
        fold_dir = os.path.join(output_root, f"fold{fold}")
        results_file = os.path.join(fold_dir, "test_results.json")
        if force or not os.path.isfile(results_file):
            cmd = shlex.split(launcher) if launcher else [sys.executable]
            cmd += [
                train_script,
                hparams_file,
                "--output_folder",
                fold_dir,
                "--test_results_file",
                results_file,
                *fold_overrides(fold),
                *extra_args,
            ]
            print(f"[fold {fold}] {shlex.join(cmd)}", flush=True)
            subprocess.run(cmd, check=True)
        values[fold] = _read_metric(results_file, metric)
        print(f"[fold {fold}] test {metric} {100 * values[fold]:.2f} %")
        log = os.path.join(fold_dir, "train_log.txt")
        if per_epoch and os.path.isfile(log):
            epochs[fold] = read_epoch_metric(log, metric)
    summary = {
        "hparams": os.path.abspath(hparams_file),
        "extra_args": list(extra_args),
        f"fold_{metric}": {str(k): 100.0 * v for k, v in values.items()},
        **summarize_folds(values, metric),
    }
    lacking = [k for k in values if not epochs.get(k)]
    if per_epoch and lacking:
        print(
            f"No per-epoch valid {metric} in the train_log.txt of folds "
            f"{lacking}: the best-epoch accuracy is not reported",
            flush=True,
        )
    per_epoch = per_epoch and not lacking
    if per_epoch:
        summary.update(best_epoch_summary(epochs, metric))
        summary[f"fold_epoch_{metric}"] = {
            str(k): {str(e): 100.0 * v for e, v in sorted(per.items())}
            for k, per in epochs.items()
        }
    os.makedirs(output_root, exist_ok=True)
    out = os.path.join(output_root, "cv_results.json")
    with open(out, "w", encoding="utf-8") as fout:
        json.dump(summary, fout, indent=2)
    print(
        f"{name} {len(values)}-fold cross-validation: "
        f"{summary[f'mean_{metric}']:.2f} +- {summary[f'std_{metric}']:.2f} % "
        f"{metric} (tested checkpoint) -> {out}",
        flush=True,
    )
    if per_epoch:
        print(
            f"{name} at the epoch with the best {len(values)}-fold mean "
            f"(epoch {summary['best_epoch']}): "
            f"{summary[f'best_epoch_mean_{metric}']:.2f} +- "
            f"{summary[f'best_epoch_std_{metric}']:.2f} % {metric}",
            flush=True,
        )
    return summary
