"""An exported folder and the results tell what ran.

Issue 23 B: list arguments load through the safe path (5), the model card
names the real patches (6), averaged weights are reported as such (7),
the baseline is compared on equal terms (8), seeds change group splits
(9), pretraining keeps its normalisation (10) and the SpecAugment widths
follow the clip length (11).

Authors
 * ast_sb developers 2026
"""

import json
import os

import pytest
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.cli import main
from ast_sb.dataio.audio import save_audio
from ast_sb.export.folder import export_inference_folder
from ast_sb.export.safe_folder import (
    DESCRIPTION_FILE,
    MAX_LIST_LENGTH,
    UntrustedModelError,
)
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

LABELS = ["cat", "dog"]


def _frame_patch_folder(path, patch_shape):
    """An exported folder of an encoder with frame-based patches."""
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224",
        depth=1,
        target_length=64,
        fstride=128,
        tstride=2,
        patch_shape=patch_shape,
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, len(LABELS))
    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    return export_inference_folder(
        str(path), enc.eval(), head.eval(), labels, {"target_length": 64}
    )


# ---------------------------------------------------------------------------
# 5. list arguments (patch_shape) load through the safe path
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("patch_shape", [[128, 4], (128, 4)])
def test_list_argument_loads_through_the_safe_path(
    patch_shape, tmp_path, capsys
):
    folder = _frame_patch_folder(tmp_path / "m", patch_shape)
    with open(os.path.join(folder, DESCRIPTION_FILE), encoding="utf-8") as f:
        parts = json.load(f)["modules"]["embedding_model"]["parts"]
    assert parts["encoder"]["config"]["patch_shape"] == [128, 4]
    safe = AudioSpectrogramTransformerInterface.from_folder(folder)
    assert safe.mods.embedding_model.encoder.patch_embed.patch_shape == (
        128,
        4,
    )
    yaml = AudioSpectrogramTransformerInterface.from_folder(
        folder, trust_yaml=True
    )
    wav = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(
        safe.classify_batch(wav * 0.1)[0], yaml.classify_batch(wav * 0.1)[0]
    )
    clip = tmp_path / "clip.wav"
    save_audio(clip, wav[0] * 0.1, 16000)
    capsys.readouterr()
    code = main(["classify", str(clip), "--model", folder, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)["results"][0]
    assert result["status"] == "ok"
    assert result["predictions"][0]["label"] in LABELS


@pytest.mark.parametrize(
    "value, message",
    [
        ([[128, 4]], "patch_shape is a nested list"),
        (list(range(MAX_LIST_LENGTH + 1)), "patch_shape is a list of 9 items"),
        ([{"a": 1}], "patch_shape is a nested list"),
        ({"a": 1}, "patch_shape is not a scalar or a flat list"),
    ],
)
def test_long_or_nested_lists_are_refused(value, message, tmp_path):
    folder = _frame_patch_folder(tmp_path / "m", [128, 4])
    path = os.path.join(folder, DESCRIPTION_FILE)
    with open(path, encoding="utf-8") as fin:
        data = json.load(fin)
    data["modules"]["embedding_model"]["parts"]["encoder"]["config"][
        "patch_shape"
    ] = value
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout)
    with pytest.raises(UntrustedModelError, match=message) as err:
        AudioSpectrogramTransformerInterface.from_folder(folder)
    assert DESCRIPTION_FILE in str(err.value)


# ---------------------------------------------------------------------------
# 6. the model card names the real patches
# ---------------------------------------------------------------------------
def test_model_card_names_the_patch_shape():
    from ast_sb.export.model_card import model_card_text

    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    for shape, fstride, tstride, expected in (
        ([128, 4], 128, 2, "patches: 128 x 4 (mel bins x frames), "),
        ((16, 16), 10, 10, "patches: 16 x 16 (mel bins x frames), "),
    ):
        enc = AudioSpectrogramTransformerEncoder(
            "tiny224",
            depth=1,
            target_length=64,
            fstride=fstride,
            tstride=tstride,
            patch_shape=shape,
        )
        text = model_card_text(
            {"embedding_model": enc, "label_encoder": labels}
        )
        assert f"{expected}fstride {fstride}, tstride {tstride}" in text


# ---------------------------------------------------------------------------
# 7. averaged weights are reported as such
# ---------------------------------------------------------------------------
def test_averaged_weights_are_logged_as_the_average(tmp_path):
    import sys

    from speechbrain.utils.train_logger import FileTrainLogger

    from ast_sb.export.model_card import model_card_text

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ddp_worker
    from helpers import make_brain

    torch.set_num_threads(1)
    log = tmp_path / "train_log.txt"
    brain, counter = make_brain(
        tmp_path / "save",
        3,
        average_last_n_epochs=2,
        train_logger=FileTrainLogger(str(log)),
    )
    train = ddp_worker.make_dataset(16, seed=1, prefix="tr")
    valid = ddp_worker.make_dataset(8, seed=2, prefix="va")
    kwargs = {"batch_size": 8}
    brain.fit(
        counter,
        train,
        valid,
        train_loader_kwargs=kwargs,
        valid_loader_kwargs=kwargs,
    )
    brain.evaluate(valid, test_loader_kwargs=kwargs)
    assert brain.averaged_epochs == [2, 3]
    assert brain.tested_weights() == "average of epochs 2-3"
    last = log.read_text(encoding="utf-8").strip().splitlines()[-1]
    assert last.startswith("Epoch loaded: average of epochs 2-3 - test")
    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    card = model_card_text(
        {"label_encoder": labels},
        {"eval_checkpoint": brain.tested_weights(), "accuracy": 0.5},
    )
    assert "Weights tested and exported: average of epochs 2-3." in card
    # without averaging: the recovered checkpoint's epoch, as before
    brain.hparams.average_last_n_epochs = None
    brain.evaluate(valid, test_loader_kwargs=kwargs)
    assert brain.averaged_epochs is None
    assert isinstance(brain.tested_weights(), int)


# ---------------------------------------------------------------------------
# 9. seeds change the group split
# ---------------------------------------------------------------------------
def _emotion_like_set():
    """10 speakers x 4 classes, every speaker with its own class mix."""
    import numpy as np

    counts = np.random.default_rng(0).integers(3, 15, size=(10, 4))
    ids, labels, speakers = [], [], []
    for spk, row in enumerate(counts):
        for cls, n in enumerate(row):
            for i in range(int(n)):
                ids.append(f"s{spk}_c{cls}_{i}")
                labels.append(f"c{cls}")
                speakers.append(f"s{spk}")
    return ids, labels, speakers, counts


def test_seeds_give_different_group_splits_close_to_stratified():
    import itertools

    import numpy as np

    from ast_sb.dataio.splits import group_split

    ids, labels, speakers, counts = _emotion_like_set()
    # every speaker has its own mix: StratifiedGroupKFold's shuffle gave
    # one split for all seeds here
    assert len({tuple(row / row.sum()) for row in counts}) == 10
    ratios = np.array([0.6, 0.2, 0.2])
    target = np.outer(ratios, counts.sum(axis=0))

    def deviation(assignment):  # [..., speakers] part of each speaker
        onehot = np.eye(3)[assignment]  # [..., speakers, parts]
        filled = np.einsum("...gp,gc->...pc", onehot, counts)
        return ((filled - target) ** 2).sum(axis=(-1, -2))

    every = np.array(list(itertools.product(range(3), repeat=10)))
    every = every[[len(set(a)) == 3 for a in every]]
    optimum = deviation(every).min()
    splits, deviations = set(), []
    for seed in range(20):
        parts = group_split(ids, labels, speakers, ratios, seed)
        assert sorted(sum(parts, [])) == sorted(ids)
        part_of = {}
        for index, part in enumerate(parts):
            for key in part:
                part_of.setdefault(key.split("_")[0], set()).add(index)
        assert all(len(p) == 1 for p in part_of.values()), "a group leaked"
        assignment = np.array([min(part_of[f"s{s}"]) for s in range(10)])
        splits.add(tuple(assignment))
        deviations.append(deviation(assignment))
    assert len(splits) >= 10
    # each close to the most stratified split the speakers allow
    assert max(deviations) <= 3 * optimum
    assert np.mean(deviations) <= 1.5 * optimum
    # the same seed, the same split
    assert group_split(ids, labels, speakers, ratios, 3) == group_split(
        ids, labels, speakers, ratios, 3
    )


# ---------------------------------------------------------------------------
# 10. the pretrained encoder keeps its normalisation
# ---------------------------------------------------------------------------
def test_pretrained_encoder_stores_and_restores_its_normalisation(tmp_path):
    from ast_sb.lobes.features import AudioSpectrogramNormalizer
    from ast_sb.pretraining import (
        AudioSpectrogramTransformerPretrainer,
        export_pretrained_encoder,
    )
    from ast_sb.training.norm_stats import apply_norm_stats
    from ast_sb.weights.pretrained import load_pretrained

    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=64, fstride=16, tstride=16, depth=1
    )
    model = AudioSpectrogramTransformerPretrainer(enc, mask_count=4)
    target = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=64, depth=1
    )
    path = export_pretrained_encoder(
        model, str(tmp_path / "new.ckpt"), norm_stats=(-6.5, 3.25)
    )
    info = load_pretrained(target, path)
    assert info["norm_stats"] == {"mean": -6.5, "std": 3.25}
    hparams = {
        "norm_stats": "fixed",
        "pretrained_path": path,
        "mean_var_norm": AudioSpectrogramNormalizer(),
    }
    stats = apply_norm_stats(hparams, None, info["norm_stats"])
    assert stats["source"] == f"pretrained encoder {path}"
    norm = hparams["mean_var_norm"]
    assert (norm.mean, norm.std) == (-6.5, 3.25)
    # opting out keeps the YAML's values
    hparams["mean_var_norm"] = AudioSpectrogramNormalizer(-1.0, 2.0)
    hparams["pretrained_norm_stats"] = False
    assert apply_norm_stats(hparams, None, info["norm_stats"]) is None
    assert hparams["mean_var_norm"].mean == -1.0
    # a file written before the statistics were stored still loads
    old = export_pretrained_encoder(model, str(tmp_path / "old.ckpt"))
    assert "norm_stats" not in torch.load(old, weights_only=True)
    info = load_pretrained(target, old)
    assert info["format"] == "ast_sb_pretraining"
    assert "norm_stats" not in info


# ---------------------------------------------------------------------------
# 11. SpecAugment widths follow the clip length and are top-level keys
# ---------------------------------------------------------------------------
def _spec_augment_yamls():
    import glob

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = sorted(glob.glob(os.path.join(root, "recipes/*/hparams/*.yaml")))
    return [p for p in paths if "SpecAugment" in open(p).read()]


def test_every_spec_augment_takes_scaled_top_level_widths():
    import re

    paths = _spec_augment_yamls()
    assert len(paths) >= 10
    for path in paths:
        text = open(path, encoding="utf-8").read()
        assert re.search(
            r"spec_augment: !new:ast_sb.lobes.augment.SpecAugment\n"
            r"    freq_mask: !ref <freq_mask>\n"
            r"    time_mask: !ref <time_mask>\n",
            text,
        ), path
        for key, size in (
            ("freq_mask", "n_mels"),
            ("time_mask", "target_length"),
        ):
            found = re.search(
                rf"^{key}: !apply:ast_sb.lobes.augment.scaled_mask_width "
                rf"\[(\d+), (\d+), !ref <{size}>\]$",
                text,
                re.M,
            )
            assert found, (path, key)
            # the reference is the YAML's own default size: its widths
            # are unchanged at that size
            default = re.search(rf"^{size}: (\d+)", text, re.M)
            assert found.group(2) == default.group(1), (path, key)


@pytest.mark.parametrize(
    "recipe, width, reference",
    [
        ("Custom/hparams/ast.yaml", 192, 1024),
        ("ESC50/hparams/ast.yaml", 96, 512),
    ],
)
def test_spec_augment_widths_scale_with_target_length(recipe, width, reference):
    from hyperpyyaml import load_hyperpyyaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "recipes", recipe)
    required = {"model_size": "tiny224", "depth": 1, "n_classes": 3}
    required["data_folder"] = "/nonexistent"

    def load(**overrides):
        with open(path, encoding="utf-8") as fin:
            hp = load_hyperpyyaml(fin, {**required, **overrides})
        return hp["spec_augment"].freq_mask, hp["spec_augment"].time_mask

    freq, time = load()
    assert time == width
    # --target_length 100: the same fraction of 100 frames, not up to 99
    short = load(target_length=100, n_mels=64)
    assert short == (int(freq / 2 + 0.5), int(width * 100 / reference + 0.5))
    assert short[1] <= 20
    assert load(target_length=100, time_mask=7, freq_mask=5) == (5, 7)


def test_custom_recipe_takes_the_from_scratch_lr_and_warmup():
    from hyperpyyaml import load_hyperpyyaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "recipes/Custom/hparams/ast.yaml")
    small = {"model_size": "tiny224", "depth": 1, "n_classes": 3}
    with open(path, encoding="utf-8") as fin:
        scratch = load_hyperpyyaml(
            fin, {**small, "lr": 0.0005, "warmup_steps": 100}
        )
    assert scratch["lr_scheduler"].warmup_steps == 100
    assert scratch["spec_augment"].time_mask == 192  # 1024 frames
