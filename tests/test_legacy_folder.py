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
