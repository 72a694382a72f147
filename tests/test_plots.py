"""Tests of the result plots (ast_sb.evaluation.plots).

Authors
 * ast_sb developers 2026
"""

import os

import numpy as np
import pytest
import torch

import ast_sb
from ast_sb import plots
from ast_sb.dataio.audio import save_audio
from ast_sb.inference.tagging import SlidingWindowTagger

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as fin:
        return fin.read(8) == PNG and os.path.getsize(path) > 1000


def loudness(wavs):
    p = (wavs.abs() > 0.1).float().mean(dim=1, keepdim=True)
    return torch.cat([p, 1 - p], dim=1)


def test_plot_tagging_with_spectrogram(tmp_path):
    wav = torch.randn(30 * 16000) * 0.01
    wav[8 * 16000 : 14 * 16000] = torch.randn(6 * 16000) * 0.5
    path = str(tmp_path / "x.wav")
    save_audio(path, wav, 16000)
    tagger = SlidingWindowTagger(
        loudness,
        window=1.0,
        hop=0.5,
        labels=["loud", "quiet"],
        multi_label=False,
        sample_rate=16000,
    )
    result = tagger.tag_file(path)
    out = plots.plot_tagging(result, str(tmp_path / "plots" / "tl.png"))
    assert is_png(out)
    # no spectrogram panel
    out = plots.plot_tagging(result, str(tmp_path / "tl2.png"), audio_path="")
    assert is_png(out)


def test_pooled_spectrogram_is_bounded(tmp_path):
    path = str(tmp_path / "long.wav")
    save_audio(path, torch.randn(200 * 16000) * 0.1, 16000)
    spec, step = plots._pooled_spectrogram(path, 200.0, max_columns=500)
    assert spec.shape[0] == 64 and spec.shape[1] <= 500
    assert spec.shape[1] * step == pytest.approx(200.0, abs=2 * step)
    assert np.isfinite(spec).all()


def test_test_results_plots(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"class {i}" for i in range(50)]
    targets = rng.integers(0, 50, 400)
    preds = np.where(rng.random(400) < 0.7, targets, rng.integers(0, 50, 400))
    matrix = plots.confusion_matrix(targets, preds, 50)
    assert matrix.sum() == 400 and np.trace(matrix) == (preds == targets).sum()
    expected = np.zeros(
        (50, 50), dtype=np.int64
    )  # rows true, columns predicted
    for t, p in zip(targets, preds):
        expected[t, p] += 1
    assert np.array_equal(matrix, expected)
    out = plots.plot_test_results(targets, preds, labels, str(tmp_path))
    assert all(is_png(p) for p in out.values())
    with pytest.raises(ValueError, match="predictions"):
        plots.confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match="prediction 5 is not a class"):
        plots.confusion_matrix([0, 1], [0, 5], 2)


def test_training_curves_from_speechbrain_log(tmp_path):
    from speechbrain.utils.train_logger import FileTrainLogger

    log = str(tmp_path / "train_log.txt")
    logger = FileTrainLogger(log)
    for epoch in range(1, 6):
        logger.log_stats(
            {"epoch": epoch, "lr": 1e-4 / epoch, "lr_head": 1e-3 / epoch},
            train_stats={"loss": 3.0 / epoch},
            valid_stats={"loss": 2.5 / epoch, "accuracy": 0.1 * epoch},
            verbose=False,
        )
    logger.log_stats(
        {"Epoch loaded": 5}, test_stats={"loss": 0.6}, verbose=False
    )
    history = plots.parse_train_log(log)
    assert sorted(history) == [
        "lr",
        "lr_head",
        "train loss",
        "valid accuracy",
        "valid loss",
    ]
    assert history["valid loss"][2] == pytest.approx(1.25)
    assert history["lr"][4] == pytest.approx(2.5e-5)
    out = plots.plot_training_curves(log, str(tmp_path / "curves.png"))
    assert is_png(out)
    written = plots.plot_recipe_results(
        str(tmp_path), [0, 1, 1], [0, 1, 0], ["a", "b"]
    )
    assert sorted(written) == [
        "confusion_matrix",
        "per_class_accuracy",
        "training_curves",
    ]
    assert all(is_png(p) for p in written.values())
    assert os.path.dirname(written["training_curves"]).endswith("plots")
    from ast_sb.evaluation.metrics import AccuracyStats

    stats = AccuracyStats()
    scores = torch.log_softmax(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), -1)
    stats.append(["x", "y"], scores, torch.tensor([0, 0]))
    stats.summarize()
    written = plots.plot_recipe_results(
        str(tmp_path / "r2"), labels=["a", "b"], stats=stats
    )
    assert sorted(written) == ["confusion_matrix", "per_class_accuracy"]
    with pytest.raises(ValueError, match="No per-epoch"):
        plots.plot_training_curves({}, str(tmp_path / "x.png"))


def test_core_package_does_not_import_matplotlib():
    """matplotlib is imported only inside plotting functions."""
    import ast

    for name in (
        "evaluation/plots",
        "inference/interface",
        "inference/tagging",
        "cli",
        "export/model_export",
    ):
        path = os.path.join(os.path.dirname(ast_sb.__file__), f"{name}.py")
        with open(path, encoding="utf-8") as fin:
            tree = ast.parse(fin.read())
        for node in tree.body:  # module-level statements only
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.startswith("matplotlib") for m in modules), name
