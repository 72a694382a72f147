"""Cross-validation reports the last epoch AND the best-mean epoch.

The original AST ESC-50 logs give both the last-epoch 5-fold accuracy
(95.6 %) and the accuracy at the epoch with the best 5-fold average
(95.75 %); the driver reads each fold's ``train_log.txt`` to do the same.
A fake ``train.py`` writes a log and results, so no training is needed.

Authors
 * ast_sb developers 2026
"""

import importlib.util
import json
import os
import sys
import textwrap

import pytest

from ast_sb.training.cross_validation import best_epoch_summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: fold -> per-epoch accuracies; the last epoch is tested
CURVES = {1: [0.5, 0.9, 0.8], 2: [0.6, 0.8, 0.9], 3: [0.7, 0.95, 0.7]}

FAKE_TRAIN = textwrap.dedent(
    f"""
    import json, os, sys
    curves = {CURVES!r}
    args = sys.argv[sys.argv.index("--output_folder"):]
    opts = dict(zip(args[::2], args[1::2]))
    fold = int(opts["--test_folds"].strip("[]"))
    out = opts["--output_folder"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "train_log.txt"), "w") as f:
        for epoch, acc in enumerate(curves[fold], 1):
            f.write(
                f"epoch: {{epoch}}, lr: 1.00e-05 - train loss: 1.00 - "
                f"valid loss: 1.00, valid accuracy: {{acc:.2e}}, "
                f"valid error: {{1 - acc:.2e}}\\n"
            )
    with open(opts["--test_results_file"], "w") as f:
        json.dump({{"accuracy": curves[fold][-1]}}, f)
    """
)


def test_best_epoch_summary_picks_the_best_mean_epoch():
    summary = best_epoch_summary(CURVES_BY_EPOCH)
    # epoch means: 60, 88.33, 80 -> epoch 2
    assert summary["best_epoch"] == 2
    assert summary["best_epoch_mean_accuracy"] == pytest.approx(88.3333333)


CURVES_BY_EPOCH = {
    fold: dict(enumerate(curve, 1)) for fold, curve in CURVES.items()
}


def test_best_epoch_needs_an_epoch_of_every_fold():
    with pytest.raises(ValueError, match="every fold"):
        best_epoch_summary({1: {1: 0.5}, 2: {2: 0.5}})


def test_esc50_driver_reports_last_and_best_epoch(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "esc50_cv", os.path.join(ROOT, "recipes", "ESC50", "cross_validate.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.join(ROOT, "recipes", "ESC50"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    fake = tmp_path / "train.py"
    fake.write_text(FAKE_TRAIN)
    module.HERE = str(tmp_path)  # run the fake train.py
    root = tmp_path / "cv"
    summary = module.main(
        [
            "hp.yaml",
            "--data_folder",
            "/d",
            "--folds",
            "1",
            "2",
            "3",
            "--output_root",
            str(root),
        ]
    )
    # last epoch: 80, 90, 70 -> 80 %
    assert summary["mean_accuracy"] == pytest.approx(80.0)
    # best 3-fold mean: epoch 2 (90, 80, 95) -> 88.33 %
    assert summary["best_epoch"] == 2
    assert summary["best_epoch_mean_accuracy"] == pytest.approx(88.3333333)
    assert summary["fold_epoch_accuracy"]["3"] == pytest.approx(
        {"1": 70.0, "2": 95.0, "3": 70.0}
    )
    with open(root / "cv_results.json") as fin:
        assert json.load(fin)["best_epoch"] == 2
    printed = capsys.readouterr().out
    assert "80.00 +- " in printed and "(epoch 2): 88.33 +- " in printed
