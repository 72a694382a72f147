"""Tests of TorchScript / ONNX export (ast_sb.export.model_export).

Authors
 * ast_sb developers 2026
"""

import json
import warnings

import pytest
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb import model_export
from ast_sb.export.folder import export_inference_folder
from ast_sb.export.model_export import (
    ModelExportError,
    TraceableFbank,
    export_model,
    onnx_status,
)
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.features import KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

HAS_ONNX = all(onnx_status().values())
needs_onnx = pytest.mark.skipif(
    not HAS_ONNX,
    reason="ONNX check skipped: onnx, onnxscript and onnxruntime are not "
    "all installed (pip install onnx onnxscript onnxruntime)",
)


def make_model(path, multi_label=False, n_classes=3):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(
        enc.embed_dim,
        n_classes,
        output="logits" if multi_label else "log_softmax",
    )
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"class{i}" for i in range(n_classes)])
    folder = export_inference_folder(
        str(path),
        enc.eval(),
        head.eval(),
        labels,
        {"target_length": 128},
        {"mean": -6.6268077, "std": 5.358466},
        multi_label=multi_label,
    )
    return AudioSpectrogramTransformerInterface.from_folder(folder)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("m") / "model")


def test_traceable_fbank_equals_kaldi_fbank():
    """With the FFT: bit-identical. With the MatMul DFT of the exports:
    within 1e-4 x the largest log-mel value (measured 4e-5 x)."""
    for target in (None, 50, 200):
        fbank = KaldiFbank(target_length=target)
        wavs = torch.randn(3, 12345) * 0.2
        ref = fbank(wavs)
        assert torch.equal(TraceableFbank(fbank, dft="fft")(wavs), ref)
        out = TraceableFbank(fbank)(wavs)
        assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
        assert not hasattr(fbank, "dft_basis")  # the front end is unchanged


def test_torchscript_features_equal_pytorch(model, tmp_path):
    report = export_model(model, str(tmp_path), formats=["torchscript"])
    entry = report["torchscript"]
    assert entry["ok"] and entry["max_abs_diff"] <= 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.load(entry["path"])
    # on real features of a clip, against the interface's own pipeline
    wav = torch.randn(4, 16000) * 0.1
    feats, _ = model.compute_features(wav)
    expected = model.classify_batch(wav)[0]
    assert torch.allclose(traced(feats), expected, atol=1e-5)
    meta = json.loads((tmp_path / "model_export.json").read_text("utf-8"))
    assert meta["input_shape"] == [-1, 128, 128]
    assert meta["files"] == {"torchscript": "model.torchscript.pt"}
    assert meta["normalization"]["mean"] == pytest.approx(-6.6268077)


@needs_onnx
def test_onnx_features_equal_pytorch(model, tmp_path):
    import onnxruntime as ort

    report = export_model(model, str(tmp_path), formats=["onnx"])
    entry = report["onnx"]
    assert entry["ok"], entry["error"]
    assert entry["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(entry["path"])
    wav = torch.randn(5, 16000) * 0.1  # batch size not seen in export
    feats, _ = model.compute_features(wav)
    out = session.run(None, {"inputs": feats.numpy()})[0]
    expected = model.classify_batch(wav)[0]
    assert torch.allclose(torch.from_numpy(out), expected, atol=1e-4)


@needs_onnx
def test_waveform_export_multi_label(tmp_path):
    import onnxruntime as ort

    model = make_model(tmp_path / "ml", multi_label=True, n_classes=5)
    report = export_model(model, str(tmp_path / "exp"), input_type="waveform")
    assert report["output"] == "logits"
    assert report["input_shape"] == [-1, model.max_samples]
    for fmt in ("torchscript", "onnx"):
        assert report[fmt]["ok"], report[fmt]["error"]
    # a padded batch of clips of different lengths (issue 10.1)
    wav = torch.randn(3, model.max_samples) * 0.1
    n = torch.tensor([model.max_samples, 12000, 6543])
    wav = wav * (torch.arange(model.max_samples)[None] < n[:, None])
    lens = n / model.max_samples
    expected = torch.cat(
        [model.classify_batch(wav[i : i + 1, : n[i]])[0] for i in range(3)]
    )
    session = ort.InferenceSession(report["onnx"]["path"])
    feed = {"inputs": wav.numpy(), "lengths": lens.numpy()}
    out = torch.from_numpy(session.run(None, feed)[0])
    assert torch.allclose(out, expected, atol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.load(report["torchscript"]["path"])
    assert torch.allclose(traced(wav, lens), expected, atol=1e-5)


@needs_onnx
def test_legacy_onnx_exporter_cannot_export_fft(model, tmp_path):
    with pytest.raises(ModelExportError, match="no FFT"):
        export_model(
            model,
            str(tmp_path),
            formats=["onnx"],
            input_type="waveform",
            dynamo=False,
        )
    # features work with the legacy exporter
    report = export_model(
        model, str(tmp_path), ["onnx"], dynamo=False, overwrite=True
    )
    assert report["onnx"]["ok"]


def test_missing_onnx_gives_clear_error(model, tmp_path, monkeypatch):
    monkeypatch.setattr(
        model_export,
        "onnx_status",
        lambda: {"onnx": False, "onnxscript": False, "onnxruntime": False},
    )
    report = export_model(model, str(tmp_path), raise_on_error=False)
    assert report["torchscript"]["ok"]
    assert not report["onnx"]["ok"]
    assert "`onnx` package, which is not installed" in report["onnx"]["error"]
    with pytest.raises(ModelExportError, match="onnx"):
        export_model(model, str(tmp_path), formats=["onnx"], overwrite=True)


def test_output_mismatch_is_reported(model, tmp_path):
    with pytest.raises(ModelExportError, match="differ from PyTorch"):
        export_model(model, str(tmp_path), ["torchscript"], atol=-1.0)


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="formats"):
        export_model(model, str(tmp_path), formats=["tflite"])
    with pytest.raises(ValueError, match="input_type"):
        export_model(model, str(tmp_path), input_type="mfcc")
