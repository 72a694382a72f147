"""Tests of ast_sb.export.folder: EncoderClassifier round trip, offline.

Authors
 * ast_sb developers 2026
"""

import json
import os

import numpy as np
import pytest
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.demo import synthesize_clip
from ast_sb.export.folder import (
    ExportError,
    export_inference_folder,
    inference_modules,
    load_encoder_classifier,
    module_config,
    verify_loaded_weights,
)
from ast_sb.inference.pipeline import (
    WaveformEncoder,
    WaveformPassThrough,
    WindowedClassifier,
)
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

LABELS = ["am_tone", "chirp", "clicks", "pure_tone", "white_noise"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any network access would fail the tests."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _model(output="log_softmax", n_classes=len(LABELS)):
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224", n_mels=64, target_length=120, fstride=12, tstride=12, depth=2
    )
    classifier = AudioSpectrogramTransformerClassifier(
        encoder.embed_dim, n_classes, output=output
    )
    # non-trivial head so that the classes get different scores
    torch.nn.init.normal_(classifier.linear.weight, std=0.5)
    torch.nn.init.normal_(classifier.norm.weight, mean=1.0, std=0.3)
    encoder.eval()
    classifier.eval()
    return encoder, classifier


def _labels(labels=LABELS):
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(labels)
    return encoder


def _in_memory(wav, fbank, norm, encoder, classifier):
    with torch.no_grad():
        feats = norm(fbank(wav.unsqueeze(0)))
        return classifier(encoder(feats)).squeeze(1)[0]


def _export(tmp_path, output="log_softmax", multi_label=False):
    encoder, classifier = _model(output)
    fbank = KaldiFbank(n_mels=64, target_length=120)
    norm = AudioSpectrogramNormalizer(-6.6268077, 5.358466)
    folder = str(tmp_path / "export")
    export_inference_folder(
        folder,
        encoder,
        classifier,
        _labels(),
        compute_features=fbank,
        mean_var_norm=norm,
        multi_label=multi_label,
    )
    return folder, encoder, classifier, fbank, norm


def test_folder_layout(tmp_path):
    folder, *_ = _export(tmp_path)
    assert sorted(os.listdir(folder)) == [
        "ast_sb_model.json",
        "classifier.ckpt",
        "config.json",
        "embedding_model.ckpt",
        "hyperparams.yaml",
        "label_encoder.ckpt",
        "label_encoder.txt",
        "model.safetensors",
    ]
    with open(os.path.join(folder, "config.json")) as fin:
        assert json.load(fin) == {"speechbrain_interface": "EncoderClassifier"}
    text = open(os.path.join(folder, "hyperparams.yaml")).read()
    assert "!new:ast_sb.lobes.features.KaldiFbank" in text
    assert "target_length: 120" in text
    assert "mean: -6.6268077" in text
    for line in text.splitlines():  # YAML booleans True/False only
        assert not line.rstrip().endswith((": true", ": false"))


def test_encoder_classifier_round_trip(tmp_path):
    from speechbrain.inference.classifiers import EncoderClassifier

    folder, encoder, classifier, fbank, norm = _export(tmp_path)
    model = EncoderClassifier.from_hparams(
        source=folder,
        savedir=str(tmp_path / "loaded"),
        run_opts={"device": "cpu"},
    )
    # the waveform reaches the embedding model, which owns the trained
    # front end, normaliser and encoder; the head sits in the classifier
    mods = model.mods
    assert isinstance(mods.compute_features, WaveformPassThrough)
    assert isinstance(mods.mean_var_norm, WaveformPassThrough)
    assert isinstance(mods.embedding_model, WaveformEncoder)
    assert isinstance(mods.classifier, WindowedClassifier)
    features = mods.embedding_model.compute_features
    normalizer = mods.embedding_model.mean_var_norm
    # modules rebuilt identically ...
    assert isinstance(features, KaldiFbank)
    assert features.target_length == 120
    assert features.n_mels == 64
    assert torch.equal(features.mel_matrix, fbank.mel_matrix)
    assert (normalizer.mean, normalizer.std) == (norm.mean, norm.std)
    assert (
        mods.embedding_model.encoder.constructor_args
        == encoder.constructor_args
    )
    assert mods.classifier.head.constructor_args == classifier.constructor_args
    # ... with every weight loaded (the Pretrainer is strict=False)
    for ref, loaded in (
        (encoder, mods.embedding_model.encoder),
        (classifier, mods.classifier.head),
    ):
        ref_state, new_state = ref.state_dict(), loaded.state_dict()
        assert ref_state.keys() == new_state.keys()
        for key in ref_state:
            assert torch.equal(ref_state[key], new_state[key]), key
    verify_loaded_weights(mods, folder)
    assert model.hparams.label_encoder.lab2ind == _labels().lab2ind

    # classify_file == in-memory model (16 kHz file: no resampling)
    rng = np.random.default_rng(1)
    # 1.1 s: within the 120-frame grid (1.215 s)
    wav = torch.from_numpy(synthesize_clip("chirp", rng, 16000, 1.1))
    path = str(tmp_path / "clip.wav")
    save_audio(path, wav, 16000, subtype="FLOAT")
    expected = _in_memory(load_audio(path), fbank, norm, encoder, classifier)
    out_prob, score, index, text_lab = model.classify_file(path)
    assert out_prob.shape == (1, len(LABELS))
    torch.testing.assert_close(out_prob[0], expected, atol=1e-5, rtol=1e-5)
    assert float(out_prob[0].exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert index.item() == int(expected.argmax())
    assert text_lab == [LABELS[int(expected.argmax())]]
    assert score.item() == pytest.approx(float(expected.max()), abs=1e-5)

    # classify_batch with a padded batch: each clip as alone (fixed length)
    wav2 = torch.from_numpy(synthesize_clip("clicks", rng, 16000, 0.8))
    batch = torch.zeros(2, wav.shape[0])
    batch[0] = wav
    batch[1, : wav2.shape[0]] = wav2
    out_prob, _, index, text_lab = model.classify_batch(
        batch, torch.tensor([1.0, wav2.shape[0] / wav.shape[0]])
    )
    torch.testing.assert_close(
        out_prob[0],
        _in_memory(wav, fbank, norm, encoder, classifier),
        atol=1e-5,
        rtol=1e-5,
    )
    torch.testing.assert_close(
        out_prob[1],
        _in_memory(wav2, fbank, norm, encoder, classifier),
        atol=1e-5,
        rtol=1e-5,
    )
    assert len(text_lab) == 2


def test_resampled_file_and_moved_folder(tmp_path):
    folder, encoder, classifier, fbank, norm = _export(tmp_path)
    moved = str(tmp_path / "moved_export")
    os.rename(folder, moved)  # the folder is relocatable
    model = load_encoder_classifier(moved, str(tmp_path / "loaded2"))
    rng = np.random.default_rng(2)
    wav = torch.from_numpy(synthesize_clip("pure_tone", rng, 44100, 1.0))
    path = str(tmp_path / "clip44k.wav")
    save_audio(path, wav, 44100, subtype="FLOAT")
    out_prob, _, _, text_lab = model.classify_file(path)
    expected = _in_memory(
        load_audio(path, 16000), fbank, norm, encoder, classifier
    )
    # SpeechBrain's and ast_sb's resamplers may differ slightly
    torch.testing.assert_close(out_prob[0], expected, atol=2e-3, rtol=1e-3)
    assert text_lab[0] in LABELS


def test_multi_label_export_gives_logits(tmp_path):
    folder, encoder, classifier, fbank, norm = _export(
        tmp_path, output="logits", multi_label=True
    )
    text = open(os.path.join(folder, "hyperparams.yaml")).read()
    assert "multi_label: True" in text
    model = load_encoder_classifier(folder, str(tmp_path / "loaded"))
    wav = torch.randn(16000) * 0.1
    out, _, _, _ = model.classify_batch(wav.unsqueeze(0))
    torch.testing.assert_close(
        out[0],
        _in_memory(wav, fbank, norm, encoder, classifier),
        atol=1e-5,
        rtol=1e-5,
    )
    assert float(out[0].exp().sum()) != pytest.approx(1.0, abs=1e-3)


def _modules(encoder, classifier):
    return inference_modules(
        encoder,
        classifier,
        KaldiFbank(n_mels=64, target_length=120),
        AudioSpectrogramNormalizer(-6.6268077, 5.358466),
    )


def test_verify_detects_wrong_weights(tmp_path):
    folder, encoder, classifier, *_ = _export(tmp_path)
    other_encoder, other_head = _model()
    with torch.no_grad():
        other_head.linear.bias.add_(1.0)
    with pytest.raises(ExportError, match="linear.bias"):
        verify_loaded_weights(_modules(other_encoder, other_head), folder)
    smaller = AudioSpectrogramTransformerEncoder(
        "tiny224", n_mels=64, target_length=120, fstride=12, tstride=12, depth=1
    )
    with pytest.raises(ExportError, match="unexpected"):
        verify_loaded_weights(_modules(smaller, classifier), folder)


def test_export_errors(tmp_path):
    encoder, classifier = _model(n_classes=3)
    with pytest.raises(ExportError, match="3 outputs"):
        export_inference_folder(
            str(tmp_path / "x"), encoder, classifier, _labels()
        )

    class Opaque(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.register_buffer("w", torch.ones(2) * scale, persistent=False)

        def forward(self, x, lengths=None):
            return x

    with pytest.raises(ExportError):
        module_config(Opaque(3.0))


def test_module_config_round_trip():
    fbank = KaldiFbank(n_mels=80, target_length=300, frame_shift_ms=12.5)
    cfg = module_config(fbank)
    rebuilt = KaldiFbank(**cfg)
    wav = torch.randn(1, 16000)
    assert torch.equal(rebuilt(wav), fbank(wav))
    encoder, classifier = _model()
    assert module_config(encoder) == encoder.constructor_args
    assert module_config(classifier) == classifier.constructor_args


def test_module_config_keeps_every_kaldi_fbank_argument():
    # arguments without an attribute of their name (low_freq, high_freq)
    # were lost by reflection, so such a front end could not be exported
    fbank = KaldiFbank(
        n_mels=64, low_freq=50.0, high_freq=-400.0, window="hamming"
    )
    cfg = module_config(fbank)
    assert (cfg["low_freq"], cfg["high_freq"]) == (50.0, -400.0)
    assert cfg["window"] == "hamming"
    wav = torch.randn(1, 16000)
    assert torch.equal(KaldiFbank(**cfg)(wav), fbank(wav))
    norm = AudioSpectrogramNormalizer(-6.5, 5.25)
    assert module_config(norm) == norm.constructor_args


def test_every_lobe_keeps_its_constructor_args():
    lobes = [
        KaldiFbank(low_freq=50.0, target_length=200),
        AudioSpectrogramNormalizer(-6.5, 5.25),
        *_model(),
    ]
    for lobe in lobes:
        rebuilt = type(lobe)(**lobe.constructor_args)
        assert rebuilt.constructor_args == lobe.constructor_args
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
            k: v.shape for k, v in lobe.state_dict().items()
        }


def test_kaldi_fbank_low_freq_exports_to_a_folder(tmp_path):
    encoder, classifier = _model()
    out = str(tmp_path / "low_freq")
    export_inference_folder(
        out,
        encoder,
        classifier,
        _labels(),
        compute_features=KaldiFbank(
            n_mels=64, low_freq=50.0, target_length=120
        ),
    )
    with open(os.path.join(out, "hyperparams.yaml"), encoding="utf-8") as f:
        assert "low_freq: 50.0" in f.read()
