"""End-to-end tests of the self-supervised recipe (recipes/SelfSupervised).

A tiny SSAST pretraining run through ``train.py`` on generated audio of
several lengths (a folder, a long file cut into segments), then the Custom
recipe fine-tunes from the exported encoder with other strides (position
embedding interpolated). A resumed pretraining ends bit-identical to an
uninterrupted one.

Authors
 * ast_sb developers 2026
"""

import json

import numpy as np
import pytest
import speechbrain as sb
import torch
from helpers import run_recipe
from test_music_genre_recipe import FAST_OPTIONS

from ast_sb.dataio.audio import save_audio
from ast_sb.demo import synthesize_clip
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
from ast_sb.pretraining import AudioSpectrogramTransformerPretrainer
from ast_sb.pretraining.brain import AudioSpectrogramTransformerPretrainingBrain
from ast_sb.pretraining.data import unlabelled_dataset

SR = 16000
SOUNDS = {"bell": "pure_tone", "engine": "white_noise", "tap": "clicks"}

PRETRAIN_OPTIONS = {
    "depth": 1,
    "target_length": 48,  # 0.5 s crops: 8 x 3 patches
    "crop_seconds": 0.5,
    "segment_seconds": 1.0,
    "mask_count": 10,
    "number_of_epochs": 2,
    "batch_size": 4,
    "valid_ratio": 0.2,
    "plots": True,
}


def _write_audio(folder, rng):
    """Unlabelled clips of 0.3 s to 3 s in sub-folders."""
    for i in range(10):
        kind = list(SOUNDS.values())[i % 3]
        seconds = [0.3, 0.7, 1.2][i % 3]
        wav = synthesize_clip(kind, rng, SR, seconds)
        save_audio(str(folder / f"part{i % 2}" / f"clip{i}.wav"), wav, SR)
    long = np.concatenate([synthesize_clip("chirp", rng, SR, 1.0)] * 3)
    save_audio(str(folder / "long.wav"), long, SR)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssl")
    _write_audio(tmp / "audio", np.random.default_rng(0))
    out = tmp / "pretrain"
    options = {
        **PRETRAIN_OPTIONS,
        "data_folder": tmp / "audio",
        "output_folder": out,
    }
    run_recipe("SelfSupervised", "ssast_demo.yaml", options=options)
    return tmp, out


def test_pretraining_run_writes_logs_plots_and_encoder(pretrained):
    _, out = pretrained
    with open(out / "save" / "train.json", encoding="utf-8") as fin:
        train = json.load(fin)
    assert "long@1" in train or "long@1" in json.load(
        open(out / "save" / "valid.json", encoding="utf-8")
    )
    log = (out / "train_log.txt").read_text("utf-8").strip().splitlines()
    assert len(log) == 2
    for key in ("train discriminative", "valid generative", "valid accuracy"):
        assert key in log[-1]
    assert (out / "plots" / "training_curves.png").stat().st_size > 0
    state = torch.load(out / "pretrained_encoder.ckpt", weights_only=True)
    assert state["patch_grid"].tolist() == [8, 3]
    # the normalisation of pretraining (ssast_demo.yaml's mean_var_norm)
    assert state["norm_stats"].tolist() == pytest.approx(
        [-4.2677393, 4.5689974]
    )
    assert not any(k.startswith("generative_head") for k in state)


def test_pretrained_encoder_fine_tunes_in_the_custom_recipe(pretrained):
    tmp, out = pretrained
    rng = np.random.default_rng(1)
    for label, sound in SOUNDS.items():
        for i in range(6):
            wav = synthesize_clip(sound, rng, SR, 0.6)
            save_audio(str(tmp / "labelled" / label / f"{i}.wav"), wav, SR)
    finetune = tmp / "finetune"
    options = {
        **FAST_OPTIONS,
        "number_of_epochs": 1,
        "depth": 1,
        "fstride": 10,  # other strides than pretraining: grid 12 x 5
        "tstride": 10,
        "data_folder": tmp / "labelled",
        "output_folder": finetune,
        "split_ratio": "[0.67, 0.17, 0.16]",
        "pretrained_path": out / "pretrained_encoder.ckpt",
        # the encoder's stored statistics win over the training set's
        "norm_stats": "auto",
    }
    proc = run_recipe("Custom", "ast_demo.yaml", options=options)
    log = (finetune / "log.txt").read_text("utf-8") + proc.stdout + proc.stderr
    assert "'format': 'ast_sb_pretraining'" in log
    results = json.loads((finetune / "test_results.json").read_text("utf-8"))
    assert 0.0 <= results["accuracy"] <= 1.0
    assert results["norm_stats"]["mean"] == pytest.approx(-4.2677393)
    assert results["norm_stats"]["std"] == pytest.approx(4.5689974)
    assert results["norm_stats"]["source"].startswith("pretrained encoder")
    card = (finetune / "inference" / "README.md").read_text("utf-8")
    assert "std 4.569 (those of the pretrained encoder" in card
    pretrained_state = torch.load(
        out / "pretrained_encoder.ckpt", weights_only=True
    )
    ckpt = sorted((finetune / "save").glob("CKPT+*"))[-1]
    tuned = torch.load(ckpt / "embedding_model.ckpt", weights_only=True)
    assert tuned["pos_embed"].shape == (1, 2 + 12 * 5, 192)
    # trained from the pretrained weights, not left untouched
    before = pretrained_state["encoder.blocks.0.attn.qkv.weight"]
    after = tuned["blocks.0.attn.qkv.weight"]
    assert not torch.equal(before, after)
    assert (after - before).abs().mean() < 0.1 * before.abs().mean()


def _brain(tmp, folder):
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224",
        target_length=48,
        fstride=16,
        tstride=16,
        depth=1,
        embed_dim=32,
        num_heads=2,
        drop_rate=0.1,
    )
    pretrainer = AudioSpectrogramTransformerPretrainer(
        encoder, mask_count=10, masking="cluster", cluster_sizes=(2, 3)
    )
    counter = sb.utils.epoch_loop.EpochCounter(limit=2)
    checkpointer = sb.utils.checkpoints.Checkpointer(
        str(tmp / folder), {"pretrainer": pretrainer, "counter": counter}
    )
    brain = AudioSpectrogramTransformerPretrainingBrain(
        modules={
            "compute_features": KaldiFbank(target_length=48),
            "mean_var_norm": AudioSpectrogramNormalizer(),
            "pretrainer": pretrainer,
        },
        opt_class=lambda groups: torch.optim.Adam(groups, lr=1e-3),
        hparams={"seed": 3},
        run_opts={"device": "cpu"},
        checkpointer=checkpointer,
    )
    return brain, counter, pretrainer


def test_resumed_pretraining_is_bit_identical(pretrained, tmp_path):
    _, out = pretrained
    data = unlabelled_dataset(
        str(out / "save" / "train.json"), crop_seconds=0.5, seed=1
    )
    loader = {"batch_size": 4, "shuffle": True}
    brain, counter, reference = _brain(tmp_path, "full")
    brain.fit(counter, data, progressbar=False, train_loader_kwargs=loader)

    brain, counter, _ = _brain(tmp_path, "resumed")
    counter.limit = 1
    brain.fit(counter, data, progressbar=False, train_loader_kwargs=loader)
    brain, counter, resumed = _brain(tmp_path, "resumed")
    brain.fit(counter, data, progressbar=False, train_loader_kwargs=loader)
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
