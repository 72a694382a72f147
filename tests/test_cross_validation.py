"""Cross-validation drivers (ast_sb.training.cross_validation, MusicGenre driver).

A fake ``train.py`` stands in for the recipe: it records its arguments and
writes a results file, so the orchestration is tested without training.
"""

import importlib.util
import json
import os
import sys
import textwrap

import numpy as np
import pytest

from ast_sb.training.cross_validation import run_cross_validation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAKE_TRAIN = textwrap.dedent(
    """
    import json, os, sys
    args = sys.argv[sys.argv.index("--output_folder"):]
    opts = dict(zip(args[::2], args[1::2]))
    fold = int(opts["--test_fold"])
    os.makedirs(opts["--output_folder"], exist_ok=True)
    with open(os.path.join(opts["--output_folder"], "args.json"), "w") as f:
        json.dump(opts, f)
    with open(opts["--test_results_file"], "w") as f:
        json.dump({"accuracy": 0.5 + 0.05 * fold}, f)
    """
)


@pytest.fixture
def fake_train(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(FAKE_TRAIN)
    return str(path)


def test_runs_folds_summarises_and_resumes(tmp_path, fake_train):
    root = tmp_path / "cv"
    calls = []

    def overrides(fold):
        calls.append(fold)
        return ["--test_fold", str(fold)]

    summary = run_cross_validation(
        fake_train,
        "hp.yaml",
        [0, 1, 2],
        overrides,
        str(root),
        extra_args=["--lr", "0.001"],
    )
    expected = [50.0, 55.0, 60.0]
    assert summary["mean_accuracy"] == pytest.approx(np.mean(expected))
    assert summary["std_accuracy"] == pytest.approx(np.std(expected))
    assert summary["fold_accuracy"] == pytest.approx(
        {"0": 50.0, "1": 55.0, "2": 60.0}
    )
    with open(root / "fold1" / "args.json") as fin:
        args = json.load(fin)
    assert args["--lr"] == "0.001"
    assert args["--output_folder"] == str(root / "fold1")
    with open(root / "cv_results.json") as fin:
        assert json.load(fin)["n_folds"] == 3

    # a second call reuses the finished folds (no new run), --force reruns
    calls.clear()
    run_cross_validation(fake_train, "hp.yaml", [0, 1, 2], overrides, str(root))
    assert calls == []
    run_cross_validation(
        fake_train, "hp.yaml", [2], overrides, str(root), force=True
    )
    assert calls == [2]


def test_missing_metric_names_the_file(tmp_path, fake_train):
    with pytest.raises(KeyError, match="test_results.json has no 'mAP'"):
        run_cross_validation(
            fake_train,
            "hp.yaml",
            [0],
            lambda k: ["--test_fold", str(k)],
            str(tmp_path / "cv"),
            metric="mAP",
        )


def test_failed_fold_stops_with_an_error(tmp_path):
    failing = tmp_path / "train.py"
    failing.write_text("import sys; sys.exit(3)\n")
    with pytest.raises(Exception, match="exit status 3"):
        run_cross_validation(
            str(failing), "hp.yaml", [0], lambda k: [], str(tmp_path / "cv")
        )


def test_music_genre_driver_passes_the_fold(tmp_path, fake_train):
    path = os.path.join(ROOT, "recipes", "MusicGenre", "cross_validate.py")
    spec = importlib.util.spec_from_file_location("music_cv", path)
    music_cv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(music_cv)
    assert music_cv.FOLDS == tuple(range(10))
    root = tmp_path / "cv"
    summary = music_cv.main(
        [
            "hparams/ast.yaml",
            "--data_folder",
            "/data/gtzan",
            "--output_root",
            str(root),
            "--folds",
            "3",
            "7",
            "--launcher",
            f"{sys.executable} {fake_train}",
            "--",
            "--lr",
            "0.0001",
        ]
    )
    assert summary["fold_accuracy"] == pytest.approx({"3": 65.0, "7": 85.0})
    with open(root / "fold7" / "args.json") as fin:
        args = json.load(fin)
    assert args["--split"] == "fold" and args["--test_fold"] == "7"
    assert args["--data_folder"] == "/data/gtzan"
    assert args["--lr"] == "0.0001"
