"""End-to-end test of the Speech Commands V2 recipe (recipes/SpeechCommands).

A generated tree in the official layout (``<word>/<speaker>_nohash_<n>.wav``,
``_background_noise_/``, ``validation_list.txt``, ``testing_list.txt``)
goes through ``train.py`` with a tiny AST; the test checks the official
split, the noise list and the exported model.

Authors
 * ast_sb developers 2026
"""

import json
import os

import numpy as np
import pytest
import torch
from helpers import ROOT, run_recipe
from hyperpyyaml import load_hyperpyyaml

from ast_sb.dataio.audio import save_audio
from ast_sb.demo import synthesize_clip

RECIPE_DIR = os.path.join(ROOT, "recipes", "SpeechCommands")
#: keyword -> synthetic sound standing in for it
WORDS = {"yes": "pure_tone", "no": "white_noise", "up": "clicks"}
#: speaker -> split through the official lists
SPEAKERS = {
    "aa11": "train",
    "bb22": "train",
    "cc33": "train",
    "dd44": "valid",
    "ee55": "test",
}


def make_speech_commands_tree(root, seed=0):
    """Writes a tiny Speech Commands V2 tree; returns {split: [rel paths]}."""
    rng = np.random.default_rng(seed)
    split_files = {"train": [], "valid": [], "test": []}
    for word, sound in WORDS.items():
        for speaker, split in SPEAKERS.items():
            for n in range(2 if split == "train" else 1):
                rel = f"{word}/{speaker}_nohash_{n}.wav"
                wav = synthesize_clip(sound, rng, 16000, 1.0)
                save_audio(str(root / rel), wav, 16000)
                split_files[split].append(rel)
    noise = rng.standard_normal(16000 * 3).astype(np.float32) * 0.1
    save_audio(str(root / "_background_noise_" / "white.wav"), noise, 16000)
    (root / "validation_list.txt").write_text(
        "\n".join(split_files["valid"]) + "\n"
    )
    (root / "testing_list.txt").write_text(
        "\n".join(split_files["test"]) + "\n"
    )
    return split_files


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speech_commands")
    split_files = make_speech_commands_tree(tmp / "data")
    out = tmp / "out"
    options = {
        "data_folder": tmp / "data",
        "output_folder": out,
        "keywords": "[yes, no, up]",
        "n_classes": 3,
        "model_size": "tiny224",
        "depth": 2,
        "fstride": 16,
        "tstride": 16,
        "target_length": 100,
        "number_of_epochs": 2,
        "batch_size": 4,
        "num_workers": 0,
        "lr": 0.001,
        "plots": False,
    }
    run_recipe("SpeechCommands", "ast.yaml", options=options)
    return tmp, out, split_files


def test_official_split_and_noise_list(trained):
    tmp, out, split_files = trained
    for split, files in split_files.items():
        entries = json.loads((out / "save" / f"{split}.json").read_text())
        assert sorted(entries) == sorted(f[: -len(".wav")] for f in files)
        assert all(e["wav"].startswith("$data_root/") for e in entries.values())
    noise = (out / "save" / "noise.csv").read_text().splitlines()
    assert noise[0] == "ID,duration,wav" and len(noise) == 2
    assert noise[1].endswith("_background_noise_/white.wav")


def test_trains_tests_and_exports(trained):
    tmp, out, _ = trained
    results = json.loads((out / "test_results.json").read_text())
    assert results["n_examples"] == len(WORDS)
    assert results["eval_checkpoint"] == "best"
    # the epoch of the tested checkpoint, in the results and the card
    epoch = results["eval_epoch"]
    assert isinstance(epoch, int) and epoch >= 1
    card = (out / "inference" / "README.md").read_text()
    assert (
        f"Weights tested and exported: best checkpoint (epoch {epoch})." in card
    )
    from ast_sb.export.folder import load_encoder_classifier

    model = load_encoder_classifier(str(out / "inference"), str(tmp / "loaded"))
    assert sorted(model.hparams.label_encoder.lab2ind) == sorted(WORDS)
    out_prob = model.classify_file(
        str(tmp / "data" / "yes" / "ee55_nohash_0.wav")
    )[0]
    assert out_prob.shape == (1, len(WORDS))
    assert "## How to load" in (out / "inference" / "README.md").read_text()


def test_missing_lists_are_named(tmp_path):
    import sys

    sys.path.insert(0, RECIPE_DIR)
    try:
        from speech_commands_prepare import prepare_speech_commands
    finally:
        sys.path.pop(0)
    make_speech_commands_tree(tmp_path / "data")
    os.remove(tmp_path / "data" / "testing_list.txt")
    with pytest.raises(Exception, match="testing_list.txt"):
        prepare_speech_commands(
            str(tmp_path / "data"), str(tmp_path / "save"), keywords=list(WORDS)
        )


def test_paper_settings():
    path = os.path.join(RECIPE_DIR, "hparams", "ast.yaml")
    overrides = {"data_folder": "/x", "model_size": "tiny224", "depth": 1}
    with open(path, encoding="utf-8") as fin:
        hp = load_hyperpyyaml(fin, overrides)
    assert hp["classifier"].constructor_args["n_classes"] == 35
    assert hp["target_length"] == 128
    assert (hp["lr"], hp["batch_size"], hp["number_of_epochs"]) == (
        0.00025,
        128,
        30,
    )
    assert (hp["spec_augment"].freq_mask, hp["spec_augment"].time_mask) == (
        48,
        48,
    )
    assert hp["mixup"].mixup_prob == 0.6
    assert hp["embedding_model"].constructor_args["fstride"] == 10


def test_background_noise_mixes_at_the_snr(tmp_path):
    from ast_sb.training.background_noise import BackgroundNoise

    path = str(tmp_path / "n.wav")
    save_audio(
        path, np.random.default_rng(0).standard_normal(32000) * 0.1, 16000
    )
    noise = BackgroundNoise([path], snr_low=10.0, snr_high=10.0, prob=1.0)
    torch.manual_seed(0)
    clean = torch.sin(torch.arange(16000) * 0.1).repeat(2, 1) * 0.5
    noisy = noise(clean, torch.ones(2))
    added = noisy - clean
    snr = 20 * torch.log10(
        clean.pow(2).mean(1).sqrt() / added.pow(2).mean(1).sqrt()
    )
    assert torch.allclose(snr, torch.full((2,), 10.0), atol=0.01)
