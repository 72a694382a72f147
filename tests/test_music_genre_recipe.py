"""End-to-end tests of the GTZAN music genre recipe (recipes/MusicGenre).

A fake GTZAN tree in the real layout (``genres/<genre>/<genre>.000NN.wav``,
with the undecodable ``jazz.00054`` of the public release) holds
three "genres" of clearly separable synthetic sounds. A tiny AST is trained
from scratch through ``train.py`` with the crop and the sliding test windows
scaled down from 10 s / 10 s every 5 s to 0.6 s / 0.6 s every 0.3 s
(64 frames).

Authors
 * ast_sb developers 2026
"""

import json
import os

import numpy as np
import pytest
import torch
from helpers import run_recipe
from hyperpyyaml import load_hyperpyyaml

from ast_sb.dataio.audio import save_audio
from ast_sb.demo import synthesize_clip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_DIR = os.path.join(ROOT, "recipes", "MusicGenre")

#: genre folder -> synthetic sound of ast_sb.demo
GENRE_SOUNDS = {
    "blues": "pure_tone",
    "classical": "white_noise",
    "metal": "clicks",
}
#: 10-fold split by excerpt number: fold 0 (0-9) test, fold 1 (10-19) valid
TEST_TRACKS, VALID_TRACKS = (0, 5), (10,)
TRAIN_TRACKS = (20, 30, 40, 50)
SAMPLE_RATE = 16000  # GTZAN: 22.05 kHz; resampling is tested elsewhere
CLIP_SECONDS = 2.0

#: train.py overrides of the test runs (tiny and fast)
FAST_OPTIONS = {
    "n_classes": 3,
    "target_length": 64,
    "train_crop_seconds": 0.6,
    "eval_window_seconds": 0.6,
    "eval_hop_seconds": 0.3,
    "number_of_epochs": 3,
    "batch_size": 6,
    "plots": False,
}


def make_fake_gtzan(root, seed=0):
    """Writes ``<root>/genres/<genre>/<genre>.000NN.wav`` test data."""
    rng = np.random.default_rng(seed)
    for genre, sound in GENRE_SOUNDS.items():
        folder = os.path.join(root, "genres", genre)
        os.makedirs(folder)
        for track in TEST_TRACKS + VALID_TRACKS + TRAIN_TRACKS:
            wav = synthesize_clip(sound, rng, SAMPLE_RATE, CLIP_SECONDS)
            path = os.path.join(folder, f"{genre}.{track:05d}.wav")
            save_audio(path, wav, SAMPLE_RATE)
    # the public release's undecodable excerpt is skipped with a warning
    os.makedirs(os.path.join(root, "genres", "jazz"))
    with open(
        os.path.join(root, "genres", "jazz", "jazz.00054.wav"), "wb"
    ) as f:
        f.write(b"RIFF\x00\x00garbage" * 10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gtzan_recipe")
    make_fake_gtzan(str(tmp / "gtzan"))
    out = tmp / "out"
    options = {"data_folder": tmp / "gtzan", "output_folder": out}
    run_recipe(
        "MusicGenre", "ast_demo.yaml", options={**options, **FAST_OPTIONS}
    )
    return tmp, out


def test_recipe_trains_and_tests_on_windows(trained):
    _, out = trained
    with open(out / "test_results.json") as fin:
        results = json.load(fin)
    assert results["split"] == "fold" and results["test_fold"] == 0
    # one score per excerpt: its 6 windows (2 s, 0.6 s every 0.3 s) averaged
    assert results["n_examples"] == len(GENRE_SOUNDS) * len(TEST_TRACKS)
    assert results["error"] == pytest.approx(1.0 - results["accuracy"])
    assert results["accuracy"] > 1.0 / len(GENRE_SOUNDS), results
    test = json.loads((out / "save" / "test.json").read_text())
    assert sorted(test) == sorted(
        f"{g}.{t:05d}" for g in GENRE_SOUNDS for t in TEST_TRACKS
    )
    assert "jazz.00054" in (out / "save" / "corrupt_files.txt").read_text()
    for name in ("train_log.txt", "per_class_test_stats.txt", "train.py"):
        assert (out / name).is_file(), name


def test_exported_model_classifies(trained):
    from ast_sb.export.folder import load_encoder_classifier

    tmp, out = trained
    model = load_encoder_classifier(
        str(out / "inference"), str(tmp / "pretrained")
    )
    assert sorted(model.hparams.label_encoder.lab2ind) == sorted(GENRE_SOUNDS)
    path = str(tmp / "tone.wav")
    rng = np.random.default_rng(7)
    save_audio(path, synthesize_clip("pure_tone", rng, 16000, 1.0), 16000)
    out_prob, _, _, text_lab = model.classify_file(path)
    assert out_prob.shape == (1, len(GENRE_SOUNDS))
    assert torch.allclose(out_prob.exp().sum(), torch.tensor(1.0), atol=1e-4)
    assert text_lab[0] in GENRE_SOUNDS


def test_paper_hparams(tmp_path):
    path = os.path.join(RECIPE_DIR, "hparams", "ast.yaml")
    overrides = {"data_folder": str(tmp_path), "output_folder": str(tmp_path)}
    with open(path, encoding="utf-8") as fin:
        hp = load_hyperpyyaml(fin, overrides)
    encoder = hp["embedding_model"].constructor_args
    assert encoder["size"] == "base384" and encoder["target_length"] == 1024
    assert (encoder["fstride"], encoder["tstride"]) == (10, 10)
    assert hp["classifier"].constructor_args["n_classes"] == 10
    assert hp["compute_features"].target_length == 1024
    assert hp["train_crop_seconds"] == 10.0
    assert (hp["eval_window_seconds"], hp["eval_hop_seconds"]) == (10.0, 5.0)
    assert (hp["split"], hp["n_folds"], hp["test_fold"]) == ("fold", 10, 0)
    assert hp["split_file"] is None and hp["pretrained_path"] is None
