"""Token budget at inference (issue 15.3): fewer patch tokens reach the
blocks, budget 1.0 is the full model, decisions are per clip and
deterministic, and the setting travels through the interface, CLI, YAML
and exported folders."""

import json
import math
import os
import re

import pytest
import torch
from helpers import make_model_folder
from hyperpyyaml import load_hyperpyyaml
from torch.utils.flop_counter import FlopCounterMode

from ast_sb.cli import main
from ast_sb.dataio.audio import save_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
from ast_sb.lobes.token_budget import (
    check_token_budget,
    even_indices,
    select_budget_tokens,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAD_BUDGETS = [0, 0.0, -0.5, 1.5, float("nan"), "abc", None, True]


def encoder(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("target_length", 100)
    return AudioSpectrogramTransformerEncoder(
        "tiny224", depth=2, **kwargs
    ).eval()


def tokens_reaching_blocks(enc, feats, lengths=None):
    seen = []
    hook = enc.blocks[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].shape[1])
    )
    with torch.no_grad():
        enc(feats, lengths)
    hook.remove()
    return seen[0]


def test_budget_one_is_the_full_model_exactly():
    feats = torch.randn(3, 100, 128)
    full = encoder()
    with torch.no_grad():
        reference = full(feats)
        full.token_budget = 1.0
        assert torch.equal(full(feats), reference)
        assert torch.equal(encoder(token_budget=1.0)(feats), reference)
        assert "token_budget" not in encoder(token_budget=1).constructor_args
        half = encoder(token_budget=0.5)
        assert not torch.allclose(half(feats), reference, atol=1e-3)


def test_training_ignores_the_budget():
    feats = torch.randn(2, 100, 128)
    full, half = encoder().train(), encoder(token_budget=0.25).train()
    assert torch.equal(full(feats), half(feats))
    assert tokens_reaching_blocks(half, feats) == 2 + 12 * 9


@pytest.mark.parametrize(
    "budget, kept", [(1.0, 12 * 9), (0.5, 8 * 7), (0.25, 6 * 4), (0.01, 1)]
)
def test_fewer_tokens_reach_the_blocks(budget, kept):
    enc = encoder(token_budget=budget)
    feats = torch.randn(2, 100, 128)  # 12 x 9 patch grid
    assert tokens_reaching_blocks(enc, feats) == 2 + kept


@pytest.mark.parametrize(
    "axes, budget, kept",
    [("time", 0.5, 12 * 4), ("frequency", 0.5, 6 * 9), ("time", 0.01, 12)],
)
def test_budget_on_one_axis(axes, budget, kept):
    enc = encoder(token_budget=budget, token_budget_axes=axes)
    assert tokens_reaching_blocks(enc, torch.randn(1, 100, 128)) == 2 + kept
    assert enc.constructor_args["token_budget_axes"] == axes


def test_flops_fall_with_the_budget():
    feats = torch.randn(1, 100, 128)
    flops = {}
    for budget in (1.0, 0.5, 0.25):
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            encoder(token_budget=budget)(feats)
        flops[budget] = counter.get_total_flops()
    assert flops[0.5] < 0.6 * flops[1.0]
    assert flops[0.25] < 0.35 * flops[1.0]


def test_kept_patches_are_evenly_spaced_rows_and_columns():
    """Whole frequency rows and time columns, evenly spaced, same order."""
    tokens = torch.arange(12 * 9).float().reshape(1, 108, 1)
    kept, mask = select_budget_tokens(tokens, (12, 9), None, 0.5)
    assert mask is None
    grid = kept.reshape(8, 7)  # rows x columns
    rows, columns = grid[:, 0] // 9, grid[0] % 9
    assert rows.tolist() == even_indices(12, 8).tolist()
    assert rows.tolist() == [0, 2, 3, 5, 6, 8, 9, 11]
    assert columns.tolist() == [0, 1, 3, 4, 5, 7, 8]
    assert torch.equal(grid, rows[:, None] * 9 + columns[None, :])


def test_deterministic():
    enc = encoder(token_budget=0.3)
    feats = torch.randn(2, 100, 128)
    with torch.no_grad():
        first = enc(feats)
        torch.manual_seed(123)
        assert torch.equal(enc(feats), first)


@pytest.mark.parametrize(
    "budget, axes",
    [(0.5, "both"), (0.3, "both"), (0.4, "time"), (0.5, "frequency")],
)
def test_padded_batch_equals_each_clip_alone(budget, axes):
    enc = encoder(
        token_budget=budget,
        token_budget_axes=axes,
        use_padding_mask=True,
        target_length=256,
    )
    n_frames = [256, 131, 60, 20]
    feats = torch.randn(len(n_frames), 256, 128)
    for i, n in enumerate(n_frames):
        feats[i, n:] = 0.0
    lengths = torch.tensor(n_frames, dtype=torch.float) / 256
    with torch.no_grad():
        batched = enc(feats, lengths)
        for i, n in enumerate(n_frames):
            alone = enc(feats[i : i + 1, :n])
            assert torch.allclose(batched[i], alone[0], atol=1e-5), (i, n)
    # the short clips really keep fewer tokens than the long one
    tokens = enc.patch_embed(feats).flatten(2).transpose(1, 2)
    valid = enc.valid_time_patches(lengths, 256)
    _, mask = select_budget_tokens(tokens, (12, 25), valid, budget, axes)
    assert mask.sum(1).tolist() == sorted(mask.sum(1).tolist(), reverse=True)
    assert mask.sum(1)[-1] < mask.sum(1)[0]


@pytest.mark.parametrize("bad", BAD_BUDGETS, ids=repr)
def test_bad_budgets_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="token_budget") as err:
        check_token_budget(bad)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        encoder(token_budget=bad)


@pytest.mark.parametrize("bad", ["rows", None, 1])
def test_bad_axes_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="token_budget_axes") as err:
        encoder(token_budget_axes=bad)
    assert repr(bad) in str(err.value)


def test_interface_cli_and_exported_folder(tmp_path, capsys):
    folder = make_model_folder(tmp_path / "model", ["a", "b", "c"])
    wav = tmp_path / "clip.wav"
    torch.manual_seed(1)
    save_audio(wav, torch.randn(16000) * 0.1, 16000)
    full = AudioSpectrogramTransformerInterface.from_folder(folder)
    assert full.token_budget == 1.0
    half = AudioSpectrogramTransformerInterface.from_folder(
        folder, token_budget=0.5
    )
    assert half.token_budget == 0.5 and half.encoder.token_budget == 0.5
    expected = half.predict_file(str(wav), top_k=3)
    assert expected != full.predict_file(str(wav), top_k=3)
    full.token_budget = 0.5
    assert full.predict_file(str(wav), top_k=3) == expected

    code = main(
        ["classify", str(wav), "--model", folder, "--json", "--top-k", "3"]
        + ["--token-budget", "0.5"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    predictions = json.loads(out)["results"][0]["predictions"]
    assert [p["label"] for p in predictions] == [e["label"] for e in expected]
    for got, want in zip(predictions, expected):
        assert math.isclose(got["score"], want["score"], abs_tol=1e-5)

    for command in (["classify", str(wav)], ["tag", str(wav)]):
        assert main(command + ["--model", folder, "--token-budget", "2"]) == 2
        assert "token_budget" in capsys.readouterr().err
    with pytest.raises(ValueError, match="'abc'"):
        half.token_budget = "abc"
    time_only = AudioSpectrogramTransformerInterface.from_folder(
        folder, token_budget_axes="time"
    )
    assert (time_only.token_budget, time_only.token_budget_axes) == (
        1.0,
        "time",
    )
    time_only.token_budget = 0.5  # keeps the axes
    assert time_only.encoder.token_budget_axes == "time"
    code = main(
        ["classify", str(wav), "--model", folder, "--json", "--top-k", "3"]
        + ["--token-budget", "0.5", "--token-budget-axes", "time"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    predictions = json.loads(out)["results"][0]["predictions"]
    expected = time_only.predict_file(str(wav), top_k=3)
    assert expected != half.predict_file(str(wav), top_k=3)
    for got, want in zip(predictions, expected):
        assert got["label"] == want["label"]
        assert math.isclose(got["score"], want["score"], abs_tol=1e-5)


def test_yaml_key_reaches_the_encoder_and_the_exported_folder(tmp_path):
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.export.folder import export_inference_folder

    path = os.path.join(ROOT, "recipes", "Custom", "hparams", "ast_demo.yaml")
    with open(path, encoding="utf-8") as fin:
        hp = load_hyperpyyaml(
            fin,
            {
                "data_folder": "/nonexistent",
                "n_classes": 3,
                "depth": 1,
                "token_budget": 0.4,
                "token_budget_axes": "frequency",
            },
        )
    enc = hp["embedding_model"].eval()
    assert enc.token_budget == 0.4
    assert enc.constructor_args["token_budget"] == 0.4
    assert enc.token_budget_axes == "frequency"
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b", "c"])
    folder = export_inference_folder(
        str(tmp_path / "exported"),
        enc,
        hp["classifier"].eval(),
        labels,
        {"target_length": 512},
    )
    for trust_yaml in (False, True):
        model = AudioSpectrogramTransformerInterface.from_folder(
            folder, trust_yaml=trust_yaml
        )
        assert model.token_budget == 0.4, trust_yaml
        assert model.token_budget_axes == "frequency", trust_yaml
    with open(os.path.join(ROOT, "hparams", "model", "ast.yaml")) as fin:
        assert "token_budget: !ref <token_budget>" in fin.read()


@pytest.mark.parametrize("use_padding_mask", [False, True])
def test_interface_padded_batch_equals_each_clip_alone(
    tmp_path, use_padding_mask
):
    """The user path with a budget: a clip scores the same in a padded
    batch (with or without the encoder's padding mask) as alone."""
    folder = make_model_folder(tmp_path / "model", ["a", "b", "c"])
    model = AudioSpectrogramTransformerInterface.from_folder(
        folder, token_budget=0.4
    )
    model.encoder.use_padding_mask = use_padding_mask
    torch.manual_seed(2)
    samples = [16000, 9000, 4000]
    wavs = torch.zeros(3, 16000)
    for i, n in enumerate(samples):
        wavs[i, :n] = torch.randn(n) * 0.1
    lengths = torch.tensor(samples, dtype=torch.float) / 16000
    with torch.no_grad():
        batched = model.predict_proba(wavs, lengths)
        for i, n in enumerate(samples):
            alone = model.predict_proba(wavs[i : i + 1, :n])
            assert torch.allclose(batched[i], alone[0], atol=1e-5), (i, n)


def test_set_token_budget_sets_the_axes_only_when_given():
    from ast_sb.lobes.model import set_token_budget

    enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    set_token_budget(enc, 0.5, "time")
    assert enc.token_budget_axes == "time"
    assert enc.constructor_args["token_budget_axes"] == "time"
    set_token_budget(enc, 0.7)  # keeps the axes
    assert enc.token_budget_axes == "time"
    assert enc.constructor_args["token_budget_axes"] == "time"
    set_token_budget(enc, 0.7, "both")
    assert enc.token_budget_axes == "both"
    assert "token_budget_axes" not in enc.constructor_args
