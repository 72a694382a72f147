"""The Custom recipe on a speaker-grouped manifest, small-data configuration.

One tiny run of ``recipes/Custom/hparams/ast_small_data.yaml`` on a CSV with
``path``, ``label`` and ``speaker`` columns (the layout of a keyword data
set's metadata), without ``--n_classes``: the classes are counted, no
speaker is in two splits, the normalisation statistics are the training
set's (results, exported folder), the MFCC baseline runs on the same split,
and the exported folder has a model card.

Authors
 * ast_sb developers 2026
"""

import json

import numpy as np
import pytest
import torch
from helpers import run_recipe

from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.demo import synthesize_clip
from ast_sb.lobes.features import KaldiFbank, compute_dataset_stats

SOUNDS = {"bell": "pure_tone", "engine": "white_noise", "tap": "clicks"}
SPEAKERS = [f"spk{i}" for i in range(8)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("custom_small")
    rng = np.random.default_rng(0)
    lines = ["path,label,speaker"]
    for speaker in SPEAKERS:
        for label, sound in SOUNDS.items():
            rel = f"audio/{label}/{speaker}_0.wav"
            (tmp / "audio" / label).mkdir(parents=True, exist_ok=True)
            save_audio(
                str(tmp / rel), synthesize_clip(sound, rng, 16000, 0.5), 16000
            )
            lines.append(f"{rel},{label},{speaker}")
    (tmp / "meta.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "out"
    options = {
        "manifest": tmp / "meta.csv",
        "wav_column": "path",
        "group_column": "speaker",
        "split_ratio": "[0.5, 0.25, 0.25]",
        "output_folder": out,
        "depth": 1,
        "target_length": 50,
        "train_crop_seconds": 0.5,
        "eval_window_seconds": 0.5,
        "number_of_epochs": 2,
        "batch_size": 4,
        "plots": False,
    }
    run_recipe("Custom", "ast_small_data.yaml", options=options)
    return tmp, out


def _split(out, name):
    return json.loads((out / "save" / f"{name}.json").read_text())


def test_speakers_stay_in_one_split(run):
    _, out = run
    speakers = {
        name: {e["speaker"] for e in _split(out, name).values()}
        for name in ("train", "valid", "test")
    }
    assert all(speakers.values())
    assert not speakers["train"] & speakers["test"]
    assert not speakers["train"] & speakers["valid"]
    assert not speakers["valid"] & speakers["test"]
    assert set().union(*speakers.values()) == set(SPEAKERS)


def test_classes_counted_and_baseline_on_the_same_split(run):
    _, out = run
    exported = (out / "inference" / "hyperparams.yaml").read_text()
    assert "n_classes: 3" in exported
    results = json.loads((out / "test_results.json").read_text())
    test_size = len(_split(out, "test"))
    assert results["n_examples"] == test_size
    baseline = results["baseline"]
    assert baseline["n_test"] == test_size
    # fitted on the AST's training clips; on train + valid too, labelled
    # (issue 23.8)
    assert baseline["fitted_on"] == "train"
    assert baseline["n_train"] == len(_split(out, "train"))
    both = baseline["train_valid"]
    assert both["fitted_on"] == "train+valid"
    assert both["n_train"] == len(_split(out, "train")) + len(
        _split(out, "valid")
    )
    assert both["n_test"] == test_size
    assert 0.0 <= baseline["accuracy"] <= 1.0
    card = (out / "inference" / "README.md").read_text()
    assert "fitted on train (as the AST): accuracy" in card
    assert "; fitted on train+valid: accuracy" in card


def test_norm_stats_of_the_training_set(run):
    _, out = run
    fbank = KaldiFbank()
    feats = [
        fbank(load_audio(e["wav"], 16000).reshape(1, -1))
        for e in _split(out, "train").values()
    ]
    mean, std = compute_dataset_stats(feats)
    results = json.loads((out / "test_results.json").read_text())
    assert results["norm_stats"]["mean"] == pytest.approx(mean, abs=1e-6)
    assert results["norm_stats"]["std"] == pytest.approx(std, abs=1e-6)
    from ast_sb.export.folder import load_encoder_classifier

    model = load_encoder_classifier(str(out / "inference"), str(out / "loaded"))
    assert model.mods.embedding_model.mean_var_norm.mean == pytest.approx(
        mean, abs=1e-6
    )
    assert model.mods.embedding_model.mean_var_norm.std == pytest.approx(
        std, abs=1e-6
    )
    assert not np.isclose(mean, -4.2677393, atol=0.1)  # not AudioSet's


def test_frame_based_patches_in_the_exported_model(run):
    # ast_small_data.yaml: 2 blocks of width 64, patches spanning every mel
    # bin and 4 frames, one every 2 frames (target_length 50 here: 24)
    _, out = run
    from ast_sb.export.folder import load_encoder_classifier

    model = load_encoder_classifier(
        str(out / "inference"), str(out / "loaded_patches")
    )
    encoder = model.mods.embedding_model.encoder
    assert encoder.constructor_args["patch_shape"] == [128, 4]
    assert (encoder.f_dim, encoder.t_dim) == (1, 24)
    assert (encoder.embed_dim, len(encoder.blocks)) == (64, 1)
    assert encoder.blocks[0].attn.num_heads == 2
    # the safe (description) path loads the list argument too (issue 23.5)
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    safe = AudioSpectrogramTransformerInterface.from_folder(
        str(out / "inference")
    )
    patch_embed = safe.mods.embedding_model.encoder.patch_embed
    assert patch_embed.patch_shape == (128, 4)
    wav = torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))
    assert safe.classify_batch(wav * 0.1)[3][0] in SOUNDS


def test_model_card(run):
    _, out = run
    card = (out / "inference" / "README.md").read_text()
    for text in (
        "single-label audio classification (3 classes",
        "`bell`, `engine`, `tap`",
        "split: by `speaker`",
        "| accuracy |",
        "Baseline on the same split",
        "depth 1",
        "patches: 128 x 4 (mel bins x frames), fstride 128, tstride 2",
        "Weights tested and exported: average of epochs 1-2.",
        "(this training set)",
        "EncoderClassifier.from_hparams",
    ):
        assert text in card, text


def test_baseline_separates_separable_sounds(tmp_path):
    from ast_sb.training.baseline import run_baseline

    rng = np.random.default_rng(1)
    manifests = {}
    for split, n in (("train", 6), ("test", 3)):
        entries = {}
        for label, sound in SOUNDS.items():
            for i in range(n):
                path = tmp_path / f"{split}_{label}_{i}.wav"
                save_audio(
                    str(path), synthesize_clip(sound, rng, 16000, 0.5), 16000
                )
                entries[path.stem] = {"wav": str(path), "label": label}
        manifests[split] = tmp_path / f"{split}.json"
        manifests[split].write_text(json.dumps(entries))
    torch.manual_seed(0)
    results = run_baseline([str(manifests["train"])], str(manifests["test"]))
    assert results["accuracy"] == 1.0
    assert (results["n_train"], results["n_test"]) == (18, 9)
