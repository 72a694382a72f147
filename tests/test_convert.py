"""Tests of ast_sb.export.convert: what a converted folder takes from where.

Authors
 * ast_sb developers 2026
"""

import logging
import os

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
    import ast_sb.weights.pretrained as pretrained

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


def _hf_folder(tmp_path):
    enc, head = _model(2, "logits")
    return save_hf_folder(
        str(tmp_path / "hf"),
        enc,
        head,
        ["a", "b"],
        normalizer=AudioSpectrogramNormalizer.from_dataset("esc50"),
    )


def _listing(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(folder):
    return [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_failed_check_leaves_the_old_folder(tmp_path, capsys):
    """The reload check runs before the move: a rejected model never
    replaces the folder (issue 24, 1)."""
    hf = _hf_folder(tmp_path)
    out = tmp_path / "mymodel"
    assert main(["convert", hf, str(out)]) == 0
    before = _listing(out)
    bad = ["convert", hf, str(out), "--overwrite", "--mean", "0", "--std"]
    assert main(bad + ["1"]) == 1
    assert "--no-check" in capsys.readouterr().err
    assert _listing(out) == before
    assert not _leftovers(out)


def test_concurrent_writers_report_their_own_result(tmp_path, monkeypatch):
    """A writer that passed its check keeps its success when a rejected
    writer runs right after its move; the rejected one changes nothing."""
    import ast_sb.export.atomic_folder as atomic

    hf = _hf_folder(tmp_path)
    out = str(tmp_path / "m")
    replace, state = atomic._replace, {"bad": None}

    def then_a_bad_writer(new, path, overwrite=True):
        replace(new, path, overwrite)
        if state["bad"] is None:
            state["bad"] = "running"
            with pytest.raises(ConversionError, match="--no-check"):
                convert_to_folder(hf, out, mean=0.0, std=1.0, overwrite=True)
            state["bad"] = "rejected"

    monkeypatch.setattr(atomic, "_replace", then_a_bad_writer)
    good = convert_to_folder(hf, out, overwrite=True)
    assert state["bad"] == "rejected" and good["max_abs_diff"] <= 1e-4
    model = AudioSpectrogramTransformerInterface.from_folder(out)
    assert model.normalizer.mean == pytest.approx(-6.6268077)


def test_concurrent_convert_to_a_new_folder(tmp_path, monkeypatch, capsys):
    """Another writer fills the new target while this one writes: a clear
    CLI error naming the folder, not a FolderExistsError traceback
    (issue 24, 18)."""
    import ast_sb.export.atomic_folder as atomic

    enc, head = _model(2, "logits")
    pth = str(tmp_path / "ast.pth")
    torch.save(export_original(enc, head), pth)
    out = tmp_path / "new"
    check, calls = atomic.check_output_folder, []

    def other_writer_first(target, overwrite=False):
        calls.append(target)
        if len(calls) == 3:  # this writer's check after its block
            out.mkdir()
            (out / "other.txt").write_text("the other writer's")
        return check(target, overwrite)

    monkeypatch.setattr(atomic, "check_output_folder", other_writer_first)
    args = ["convert", pth, str(out), "--target-length", "128", "--no-check"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("ast-sb: error:") and str(out) in err
    assert sorted(os.listdir(out)) == ["other.txt"] and not _leftovers(out)
