"""Every recipe YAML: model size, depth, width, heads, strides and mixup as
plain top-level keys, and overrides that would be ignored are refused.

Authors
 * ast_sb developers 2026
"""

import glob
import os

import pytest
from hyperpyyaml import load_hyperpyyaml

from ast_sb.training.recipe import setup_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_YAMLS = sorted(
    glob.glob(os.path.join(ROOT, "recipes", "*", "hparams", "*.yaml"))
)
#: placeholders of the recipe YAMLs
REQUIRED = {"data_folder": "/nonexistent", "n_classes": 3}


def _load(path, **overrides):
    required = dict(REQUIRED)
    if "SelfSupervised" in path:  # unlabelled audio: no classes
        required.pop("n_classes")
    with open(path, encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, {**required, **overrides})


@pytest.mark.parametrize(
    "path", RECIPE_YAMLS, ids=lambda p: os.path.relpath(p, ROOT)
)
def test_model_keys_and_mixup_from_the_command_line(path):
    overrides = dict(
        model_size="small224",
        depth=2,
        embed_dim=96,
        num_heads=2,
        fstride=12,
        tstride=14,
    )
    if "SelfSupervised" in path:
        # pretraining: the strides must equal the patch shape
        hp = _load(path)
        patch_shape = hp["encoder"].patch_embed.patch_shape
        overrides.update(fstride=patch_shape[0], tstride=patch_shape[1])
    elif "SoundEventDetection" not in path:  # detection: no mixup
        overrides.update(mixup_prob=0.6, mixup_alpha=5.0)
    hp = _load(path, **overrides)
    hp.setdefault("embedding_model", hp.get("encoder"))
    config = hp["embedding_model"].constructor_args
    assert config["size"] == "small224"
    assert (config["depth"], config["embed_dim"], config["num_heads"]) == (
        2,
        96,
        2,
    )
    assert len(hp["embedding_model"].blocks) == 2
    assert (config["fstride"], config["tstride"]) == (
        overrides["fstride"],
        overrides["tstride"],
    )
    if "pretrainer" in hp:  # self-supervised pretraining: no head, no mixup
        assert hp["pretrainer"].encoder is hp["embedding_model"]
        return
    assert hp["classifier"].constructor_args["input_size"] == 96
    if "SoundEventDetection" in path:  # frame targets are not mixed
        assert "mixup" not in hp
        return
    assert (hp["mixup"].mixup_prob, hp["mixup"].alpha) == (0.6, 5.0)
    assert hp["norm_stats"] in ("fixed", "auto")


def test_unknown_key_inside_the_model_include_is_refused(tmp_path):
    yaml_path = os.path.join(
        ROOT, "recipes", "Custom", "hparams", "ast_demo.yaml"
    )
    argv = [
        yaml_path,
        "--output_folder",
        str(tmp_path),
        "--n_classes",
        "3",
        "--model",
        "{layers: 4}",
    ]
    with pytest.raises(ValueError, match="layers.*--depth"):
        setup_experiment(argv)


def test_unknown_top_level_key_is_refused(tmp_path):
    yaml_path = os.path.join(
        ROOT, "recipes", "Custom", "hparams", "ast_demo.yaml"
    )
    argv = [yaml_path, "--output_folder", str(tmp_path), "--n_classes", "3"]
    with pytest.raises(KeyError, match="n_layers"):
        setup_experiment(argv + ["--n_layers", "4"])
