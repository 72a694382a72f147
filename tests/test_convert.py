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
