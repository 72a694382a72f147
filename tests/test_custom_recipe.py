"""End-to-end tests of the custom-data recipe (recipes/Custom).

Two tiny AST runs from scratch through ``train.py``: a folder of class
sub-folders (single-label, random stratified split) and a CSV manifest with
several labels per clip and a ``split`` column (multi-label: logits head,
BCE, mAP). Both exports are loaded with ``EncoderClassifier``.

Authors
 * ast_sb developers 2026
"""

import json
import math
import os

import numpy as np
import pytest
import torch
from helpers import ROOT, run_recipe
from hyperpyyaml import load_hyperpyyaml
from test_music_genre_recipe import FAST_OPTIONS

from ast_sb.dataio.audio import save_audio
from ast_sb.demo import synthesize_clip

RECIPE_DIR = os.path.join(ROOT, "recipes", "Custom")
#: class -> synthetic sound of ast_sb.demo
SOUNDS = {"bell": "pure_tone", "engine": "white_noise", "tap": "clicks"}
SAMPLE_RATE = 16000
CLIP_SECONDS = 2.0


def _clip(labels, rng):
    """Sum of the sounds of ``labels`` (a multi-label mixture)."""
    wav = sum(
        synthesize_clip(SOUNDS[lab], rng, SAMPLE_RATE, CLIP_SECONDS)
        for lab in labels
    )
    return wav / len(labels)


def _load_export(folder, savedir):
    from ast_sb.export.folder import load_encoder_classifier

    return load_encoder_classifier(str(folder), str(savedir))


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """Single-label run on ``<data>/<class>/*.wav`` (6 clips per class)."""
    tmp = tmp_path_factory.mktemp("custom_folder")
    rng = np.random.default_rng(0)
    for label in SOUNDS:
        for i in range(6):
            path = tmp / "data" / label / f"{label}_{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_audio(str(path), _clip([label], rng), SAMPLE_RATE)
    out = tmp / "out"
    options = {
        **FAST_OPTIONS,
        "data_folder": tmp / "data",
        "output_folder": out,
        "split_ratio": "[0.67, 0.17, 0.16]",
    }
    run_recipe("Custom", "ast_demo.yaml", options=options)
    return tmp, out


#: multi-label CSV rows: (labels, split)
ROWS = [
    (["bell"], "train"),
    (["engine"], "train"),
    (["tap"], "train"),
    (["bell", "engine"], "train"),
    (["engine", "tap"], "train"),
    (["bell", "tap"], "train"),
    (["bell"], "train"),
    (["engine"], "train"),
    (["tap"], "train"),
    (["bell", "tap"], "valid"),
    (["engine"], "valid"),
    (["bell"], "test"),
    (["engine", "tap"], "test"),
    (["tap"], "test"),
]


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """Multi-label run on a CSV manifest with relative wav paths."""
    tmp = tmp_path_factory.mktemp("custom_csv")
    rng = np.random.default_rng(1)
    (tmp / "clips").mkdir()
    lines = ["wav,labels,split"]
    for i, (labels, split) in enumerate(ROWS):
        save_audio(str(tmp / "clips" / f"{i}.wav"), _clip(labels, rng), 16000)
        lines.append(f"clips/{i}.wav,{';'.join(labels)},{split}")
    (tmp / "meta.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "out"
    options = {
        **FAST_OPTIONS,
        "manifest": tmp / "meta.csv",
        "multi_label": True,
        "output_folder": out,
    }
    run_recipe("Custom", "ast_demo.yaml", options=options)
    return tmp, out


def test_folder_single_label(folder_run):
    tmp, out = folder_run
    results = json.loads((out / "test_results.json").read_text())
    assert results["multi_label"] is False
    assert results["n_examples"] == len(SOUNDS)  # one test clip per class
    assert results["accuracy"] > 1.0 / len(SOUNDS), results  # separable
    test = json.loads((out / "save" / "test.json").read_text())
    assert sorted(e["label"] for e in test.values()) == sorted(SOUNDS)
    model = _load_export(out / "inference", tmp / "loaded")
    assert sorted(model.hparams.label_encoder.lab2ind) == sorted(SOUNDS)
    path = tmp / "query.wav"
    save_audio(str(path), _clip(["tap"], np.random.default_rng(5)), 16000)
    out_prob, _, _, text_lab = model.classify_file(str(path))
    assert out_prob.shape == (1, len(SOUNDS))
    assert torch.allclose(out_prob.exp().sum(), torch.tensor(1.0), atol=1e-4)
    assert text_lab[0] in SOUNDS


def test_csv_multi_label(csv_run):
    tmp, out = csv_run
    results = json.loads((out / "test_results.json").read_text())
    assert results["multi_label"] is True
    for key in ("mAP", "mAUC", "d_prime"):
        assert key in results and math.isfinite(results[key]), results
    assert 0.0 < results["mAP"] <= 1.0
    train = json.loads((out / "save" / "train.json").read_text())
    assert train["clips/3"]["labels"] == ["bell", "engine"]
    exported = (out / "inference" / "hyperparams.yaml").read_text()
    assert "multi_label: True" in exported
    model = _load_export(out / "inference", tmp / "loaded")
    logits = model.classify_file(str(tmp / "clips" / "12.wav"))[0]
    assert logits.shape == (1, len(SOUNDS))
    assert not torch.allclose(logits.exp().sum(), torch.tensor(1.0))


@pytest.mark.parametrize("multi_label", [False, True])
def test_multi_label_switch(tmp_path, multi_label):
    path = os.path.join(RECIPE_DIR, "hparams", "ast.yaml")
    overrides = {
        "n_classes": 4,
        "multi_label": multi_label,
        "output_folder": str(tmp_path),
    }
    with open(path, encoding="utf-8") as fin:
        hp = load_hyperpyyaml(fin, overrides)
    expected = "logits" if multi_label else "log_softmax"
    assert hp["classifier_output"] == expected
    assert hp["classifier"].constructor_args["output"] == expected
    assert hp["classifier"].constructor_args["n_classes"] == 4
    assert hp["embedding_model"].constructor_args["size"] == "base384"
    assert (hp["train_crop_seconds"], hp["eval_window_seconds"]) == (10.0, 10.0)
