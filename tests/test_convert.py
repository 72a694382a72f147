"""Tests of ast_sb.export.convert: what a converted folder takes from where.

Authors
 * ast_sb developers 2026
"""

import logging

import pytest
import torch

from ast_sb.cli import main
from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.export.convert import ConversionError, convert_to_folder
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.features import AudioSpectrogramNormalizer
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.weights.pretrained import export_original, save_hf_folder


def _model(n_classes, output):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    ).eval()
    head = AudioSpectrogramTransformerClassifier(
        enc.embed_dim, n_classes, output=output
    ).eval()
    return enc, head


@pytest.mark.parametrize("output", ["logits", "log_softmax"])
def test_hf_problem_type_decides_multi_label(tmp_path, output):
    enc, head = _model(3, output)
    folder = save_hf_folder(
        str(tmp_path / "hf"),
        enc,
        head,
        ["a", "b", "c"],
        normalizer=AudioSpectrogramNormalizer.from_dataset("esc50"),
    )
    out = str(tmp_path / "out")
    assert main(["convert", folder, out]) == 0
    model = AudioSpectrogramTransformerInterface.from_folder(out)
    assert model.multi_label == (output == "logits")
    assert model.normalizer.mean == pytest.approx(-6.6268077)


def test_original_without_information_warns_about_each_guess(tmp_path, caplog):
    enc, head = _model(4, "logits")
    pth = str(tmp_path / "ast.pth")
    torch.save(export_original(enc, head), pth)
    with caplog.at_level(logging.WARNING, logger="ast_sb.export.convert"):
        summary = convert_to_folder(
            pth, str(tmp_path / "out"), target_length=128
        )
    assert summary["multi_label"] is False
    assert summary["max_abs_diff"] <= 1e-5
    text = caplog.text
    assert "multi-label" in text and "normalisation stats" in text
    assert "LABEL_<i>" in text


def test_conversion_errors_share_the_package_base(tmp_path):
    enc, head = _model(2, "logits")
    pth = str(tmp_path / "ast.pth")
    torch.save(export_original(enc, head), pth)
    with pytest.raises(ConversionError, match="--target-length") as err:
        convert_to_folder(pth, str(tmp_path / "out"))  # 1024 frames
    assert isinstance(err.value, AudioSpectrogramTransformerError)
    with pytest.raises(ConversionError, match="--mean and --std"):
        convert_to_folder(
            pth, str(tmp_path / "o2"), target_length=128, mean=-4.0
        )


def _short_hf_folder(folder, intermediate_size):
    """A 3-class HF AST with a 64-frame grid (0.655 s), every parameter
    random, saved with its feature extractor's configuration."""
    transformers = pytest.importorskip("transformers")
    from helpers import randomize_parameters

    torch.manual_seed(0)
    config = transformers.ASTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=intermediate_size,
        max_length=64,
        num_labels=3,
    )
    model = transformers.ASTForAudioClassification(config).eval()
    randomize_parameters(model, seed=0).save_pretrained(folder)
    transformers.ASTFeatureExtractor(max_length=64).save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("intermediate_size", [128, 256])
def test_models_shorter_than_the_check_clip_convert(
    tmp_path, intermediate_size
):
    """The reload check compares clips that fit the grid: a 1 s clip would
    be windowed by the folder but truncated by the source (max diff 0.2-0.3
    before)."""
    folder = _short_hf_folder(tmp_path / "hf", intermediate_size)
    summary = convert_to_folder(folder, str(tmp_path / "out"))
    assert summary["max_abs_diff"] <= 1e-5  # measured 2.4e-7 / 3.6e-7


def test_check_refuses_a_corrupted_weight(tmp_path, monkeypatch):
    """A loader bug (one attention weight off by 1 %) fails the check on a
    short grid too."""
    import ast_sb.pretrained as pretrained

    folder = _short_hf_folder(tmp_path / "hf", 128)
    build = pretrained.build_from_hf

    def corrupted(*args, **kwargs):
        encoder, classifier, labels = build(*args, **kwargs)
        with torch.no_grad():
            encoder.blocks[0].attn.qkv.weight.mul_(1.01)
        return encoder, classifier, labels

    monkeypatch.setattr(pretrained, "build_from_hf", corrupted)
    with pytest.raises(ConversionError, match="other outputs than the source"):
        convert_to_folder(folder, str(tmp_path / "out"))
