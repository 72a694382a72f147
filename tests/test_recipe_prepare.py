"""Every recipe maps its hyperparameters to its prepare function one way
(issue 13): ``ast_sb.training.recipe.prepare_arguments``.

Authors
 * ast_sb developers 2026
"""

import re
from pathlib import Path

import pytest
from helpers import RECIPES

from ast_sb.training.recipe import prepare_arguments, prepare_on_main


def test_names_renames_and_optional_keys():
    hparams = {"prepare_folder": "out", "seed": 3, "skip_prep": True}
    kwargs = prepare_arguments(
        hparams,
        {"save_folder": "prepare_folder", "seed": "seed"},
        optional=("skip_prep", "on_corrupt"),
    )
    assert kwargs == {"save_folder": "out", "seed": 3, "skip_prep": True}
    with pytest.raises(KeyError, match="data_folder"):
        prepare_arguments(hparams, ("data_folder",))


def test_optional_keys_keep_the_prepare_default():
    def prepare(save_folder, wav_column="wav", group_column=None):
        return save_folder, wav_column, group_column

    hparams = {"save_folder": "s", "group_column": "speaker"}
    got = prepare_on_main(
        prepare,
        hparams,
        ("save_folder",),
        optional=("wav_column", "group_column"),
    )
    assert got == ("s", "wav", "speaker")


@pytest.mark.parametrize(
    "train_py",
    sorted(Path(RECIPES).glob("*/train.py")),
    ids=lambda p: p.parent.name,
)
def test_every_recipe_uses_the_shared_mapping(train_py):
    text = train_py.read_text(encoding="utf-8")
    shared = (
        "prepare_on_main",
        "run_classification_recipe",
        "prepare_arguments",
    )
    assert any(name in text for name in shared)
    # no hand-built keyword dict from hparams (results metadata aside)
    hand_built = re.compile(
        r"^(?!\s*meta).*\{[^{}]*:\s*hparams\[[^{}]*\bfor\b", re.M
    )
    assert not hand_built.search(text)
