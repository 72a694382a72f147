"""A folder exported before the package moved into subpackages still loads.

``tests/fixtures/legacy_folder_v0`` was written by the flat-layout package
(``tests/fixtures/make_legacy_folder.py``): its ``hyperparams.yaml`` names
``ast_sb.pipeline.WaveformEncoder``, ``ast_sb.model...`` and so on. It must
load unchanged, and give the scores stored next to it, through the safe
path, ``trust_yaml=True`` and plain SpeechBrain ``EncoderClassifier``.

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
import shutil

import pytest
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LEGACY = os.path.join(FIXTURES, "legacy_folder_v0")
SCORES = os.path.join(FIXTURES, "legacy_folder_v0_scores.json")
LABELS = ["bird", "cat", "dog"]


def legacy_clip() -> torch.Tensor:
    """The fixed clip of the stored scores: [1, 24000] (1.5 s at 16 kHz),
    a 440 Hz tone with a 3 Hz amplitude wobble plus seeded noise."""
    t = torch.arange(24000, dtype=torch.float64) / 16000
    tone = torch.sin(2 * math.pi * 440 * t) * (0.6 + 0.4 * torch.sin(6 * t))
    noise = torch.randn(24000, generator=torch.Generator().manual_seed(22))
    return (0.3 * tone + 0.05 * noise.double()).float().unsqueeze(0)


@pytest.fixture
def folder(tmp_path):
    """A copy of the legacy folder (loaders may link files next to it)."""
    return shutil.copytree(LEGACY, str(tmp_path / "legacy"))


def _expected() -> torch.Tensor:
    with open(SCORES, encoding="utf-8") as fin:
        data = json.load(fin)
    assert data["labels"] == LABELS
    return torch.tensor(data["out_prob"])


def _check(out_prob: torch.Tensor) -> None:
    want = _expected()
    got = out_prob.reshape(-1).double()
    assert got.shape == want.shape
    # fp32 on every path; the scale is that of the log-probabilities
    assert (got - want.double()).abs().max() <= 1e-5 * want.abs().max()


def test_fixture_names_the_old_flat_paths():
    with open(os.path.join(LEGACY, "hyperparams.yaml"), encoding="utf-8") as f:
        text = f.read()
    assert "!new:ast_sb.pipeline.WaveformEncoder" in text
    assert "!new:ast_sb.model.AudioSpectrogramTransformerEncoder" in text


def test_safe_path(folder):
    from ast_sb.inference import AudioSpectrogramTransformerInterface

    model = AudioSpectrogramTransformerInterface.from_folder(
        folder, fast_path="fp32"
    )
    with torch.no_grad():
        _check(model.classify_batch(legacy_clip())[0])


def test_trust_yaml(folder):
    from ast_sb.inference import AudioSpectrogramTransformerInterface

    model = AudioSpectrogramTransformerInterface.from_folder(
        folder, trust_yaml=True, fast_path="fp32"
    )
    with torch.no_grad():
        _check(model.classify_batch(legacy_clip())[0])


def test_plain_speechbrain_encoder_classifier(folder, monkeypatch):
    from speechbrain.inference.classifiers import EncoderClassifier

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = EncoderClassifier.from_hparams(
        source=folder,
        run_opts={"device": "cpu"},
        overrides={"fast_path": "fp32"},
    )
    with torch.no_grad():
        _check(model.classify_batch(legacy_clip())[0])


def test_old_module_paths_import_the_new_modules():
    import importlib

    from ast_sb._aliases import (
        MODULE_ALIASES,
        PACKAGE_FORWARDS,
        ModuleAliasFinder,
    )

    for old, new in MODULE_ALIASES.items():
        module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert module.__name__ == module.__spec__.name == new
    # the classes of the old YAML are the new classes (isinstance holds)
    from ast_sb.inference.pipeline import WaveformEncoder
    from ast_sb.model import AudioSpectrogramTransformerEncoder as Old

    enc = Old("tiny224", depth=1, embed_dim=32, num_heads=2)
    from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

    assert isinstance(enc, AudioSpectrogramTransformerEncoder)
    assert importlib.import_module("ast_sb.pipeline").WaveformEncoder is (
        WaveformEncoder
    )
    # `python -m ast_sb.baseline` (runpy: the spec's origin and code) runs
    # the moved module
    spec = ModuleAliasFinder().find_spec("ast_sb.baseline")
    code = spec.loader.get_code("ast_sb.baseline")
    new_file = importlib.import_module("ast_sb.training.baseline").__file__
    assert spec.origin == code.co_filename == new_file
    # the two old modules that became packages forward their names
    for package, target in PACKAGE_FORWARDS.items():
        module = importlib.import_module(target)
        for name in module.__all__:
            assert getattr(importlib.import_module(package), name) is getattr(
                module, name
            )


def test_every_path_of_the_legacy_yaml_maps_to_a_new_one(tmp_path):
    """The legacy YAML's tags name old paths; they resolve to the objects a
    new export names by their new paths (and no new path is an old one)."""
    import pydoc
    import re

    from ast_sb._aliases import new_module_path
    from ast_sb.export.folder import export_inference_folder
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    model = AudioSpectrogramTransformerInterface.from_folder(LEGACY)
    mods = model.mods
    export_inference_folder(
        str(tmp_path / "new"),
        mods.embedding_model.encoder,
        mods.classifier.head,
        model.hparams.label_encoder,
        mods.embedding_model.compute_features,
        mods.embedding_model.mean_var_norm,
    )

    def paths(folder):
        with open(
            os.path.join(folder, "hyperparams.yaml"), encoding="utf-8"
        ) as f:
            tags = re.findall(r"!(?:new|apply):(ast_sb\.[\w.]+)", f.read())
        return set(tags)

    old, new = paths(LEGACY), paths(str(tmp_path / "new"))
    assert len(old) == len(new) == 8
    assert not old & new
    located = {pydoc.locate(p) for p in old}
    assert None not in located
    assert located == {pydoc.locate(p) for p in new}
    assert {pydoc.locate(new_module_path(p)) for p in old} == located
