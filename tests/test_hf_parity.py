"""Parity of ast_sb with HF transformers' AST (model and front end).

Every parameter of the reference models is random (``randomize_parameters``:
LayerNorm weights and biases, all biases, peaked attention), so a mapping
mistake among LayerNorms, biases, queries and keys changes the logits by
0.5 to 2 (measured for swapped ``layernorm_before``/``layernorm_after`` and
swapped ``q_proj``/``k_proj``), far above the tolerances.

Tolerances follow the scale: ``max|ours - HF| <= REL x max|HF|``. Measured
(torch 2.14.1, transformers 5.24, AVX-512/AMX Xeon): logits differ by at
most 3.1e-7 of the largest logit at the default level and 4.3e-7 at the
AVX2 level (0.0 in the earlier measurement on another CPU); ``LOGIT_REL = 1e-5``.
GELU with the tanh approximation instead of the exact one moves them by
5e-5 to 5e-4 of the scale. The front end differs from
``ASTFeatureExtractor`` by at most 4.7e-8 of the scale;
``FBANK_REL = 3e-7``.
"""

import numpy as np
import pytest
import torch
import transformers
from helpers import assert_close_to_scale, randomize_parameters

from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    MODEL_SIZES,
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
    count_parameters,
)
from ast_sb.weights.pretrained import (
    build_from_hf,
    load_pretrained,
    save_hf_folder,
)

# tests/helpers.py::assert_close_to_scale
LOGIT_REL = 1e-5
FBANK_REL = 3e-7


def hf_model(**kwargs):
    """An HF ASTForAudioClassification with every parameter random, eval mode.

    HF initialises LayerNorms at 1 / 0, biases and cls/dist/pos at zero and
    gives near-uniform attention: all of it is randomised so that parity is
    meaningful.
    """
    torch.manual_seed(0)
    config = transformers.ASTConfig(**kwargs)
    model = transformers.ASTForAudioClassification(config).eval()
    return randomize_parameters(model, seed=0)


def ours_logits(encoder, classifier, feats):
    with torch.no_grad():
        return classifier(encoder(feats)).squeeze(1)


SMALL = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_length=256,
    num_labels=7,
)


def test_small_config_folder_round_trip(tmp_path):
    model = hf_model(**SMALL)
    model.save_pretrained(tmp_path / "hf")
    encoder, classifier, labels = build_from_hf(str(tmp_path / "hf"))
    assert (
        len(labels) == 7 and encoder.constructor_args["layer_norm_eps"] == 1e-12
    )
    feats = torch.randn(3, 256, 128)
    with torch.no_grad():
        expected = model(feats).logits
    assert_close_to_scale(
        ours_logits(encoder.eval(), classifier.eval(), feats),
        expected,
        LOGIT_REL,
    )


def test_v5_in_memory_state_dict(tmp_path):
    """A state dict with the transformers 5 in-memory names loads too."""
    model = hf_model(**SMALL)
    path = tmp_path / "v5.pt"
    torch.save(model.state_dict(), path)
    assert any(".q_proj." in k for k in model.state_dict())
    encoder = AudioSpectrogramTransformerEncoder(
        "base384",
        target_length=256,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=2.0,
        layer_norm_eps=1e-12,
    ).eval()
    classifier = AudioSpectrogramTransformerClassifier(
        64, 7, output="logits", layer_norm_eps=1e-12
    )
    report = load_pretrained(encoder, str(path), classifier)
    assert report == {"format": "hf", "head_loaded": True, "source": str(path)}
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        expected = model(feats).logits
    assert_close_to_scale(
        ours_logits(encoder, classifier, feats), expected, LOGIT_REL
    )


def test_save_hf_folder_loads_into_transformers(tmp_path):
    """ast_sb -> HF folder (v4 names) -> from_pretrained gives equal logits."""
    encoder = AudioSpectrogramTransformerEncoder(
        "base384",
        target_length=256,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=2.0,
        layer_norm_eps=1e-12,
    ).eval()
    classifier = AudioSpectrogramTransformerClassifier(
        64, 7, output="logits", layer_norm_eps=1e-12
    )
    randomize_parameters(encoder, seed=1)
    randomize_parameters(classifier, seed=2)
    labels = [f"class{i}" for i in range(7)]
    save_hf_folder(str(tmp_path / "hf"), encoder, classifier, labels)
    model = transformers.ASTForAudioClassification.from_pretrained(
        tmp_path / "hf"
    ).eval()
    assert model.config.id2label[3] == "class3"
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        expected = model(feats).logits
    assert_close_to_scale(
        ours_logits(encoder, classifier, feats), expected, LOGIT_REL
    )


@pytest.mark.parametrize("max_length", [1024, 512])
def test_base_config_parity(tmp_path, max_length):
    """The full base model (AudioSet geometry and the ESC-50 one)."""
    model = hf_model(max_length=max_length, num_labels=527)
    model.save_pretrained(tmp_path / "hf")
    encoder, classifier, _ = build_from_hf(str(tmp_path / "hf"))
    assert count_parameters(encoder) + count_parameters(classifier) == sum(
        p.numel() for p in model.parameters()
    )
    feats = torch.randn(1, max_length, 128)
    with torch.no_grad():
        expected = model(feats).logits
    assert_close_to_scale(
        ours_logits(encoder.eval(), classifier, feats), expected, LOGIT_REL
    )


def test_end_to_end_with_feature_extractor(tmp_path):
    """wav -> ASTFeatureExtractor -> HF equals wav -> ast_sb front end -> ast_sb."""
    model = hf_model(**SMALL)
    model.save_pretrained(tmp_path / "hf")
    encoder, classifier, _ = build_from_hf(str(tmp_path / "hf"))
    extractor = transformers.ASTFeatureExtractor(max_length=256)
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    waves = [
        (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32),
        (0.1 * rng.standard_normal(32000)).astype(np.float32),
    ]
    inputs = extractor(waves, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        expected = model(**inputs).logits
    fbank = KaldiFbank(target_length=256)
    norm = AudioSpectrogramNormalizer()
    feats = norm(fbank(torch.from_numpy(np.stack(waves))))
    assert_close_to_scale(feats, inputs["input_values"], FBANK_REL)
    assert_close_to_scale(
        ours_logits(encoder.eval(), classifier, feats), expected, LOGIT_REL
    )


@pytest.mark.parametrize("size", sorted(MODEL_SIZES))
def test_parameter_counts_match_hf(size):
    dims = MODEL_SIZES[size]
    encoder = AudioSpectrogramTransformerEncoder(size)
    head = AudioSpectrogramTransformerClassifier(encoder.embed_dim, 527)
    config = transformers.ASTConfig(
        hidden_size=dims["embed_dim"],
        num_attention_heads=dims["num_heads"],
        num_hidden_layers=dims["depth"],
        intermediate_size=4 * dims["embed_dim"],
        num_labels=527,
    )
    hf = transformers.ASTForAudioClassification(config)
    assert count_parameters(encoder) + count_parameters(head) == sum(
        p.numel() for p in hf.parameters()
    )
    if size == "base384":
        assert count_parameters(encoder) + count_parameters(head) == 86_594_063


def hf_round_trip_model(tmp_path, multi_label=False):
    """A tiny trained-looking model saved as an HF folder with ESC-50 stats."""
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128, layer_norm_eps=1e-12
    ).eval()
    classifier = AudioSpectrogramTransformerClassifier(
        192,
        5,
        output="logits" if multi_label else "log_softmax",
        layer_norm_eps=1e-12,
    ).eval()
    with torch.no_grad():
        classifier.linear.weight.mul_(100.0)  # well separated scores
    norm = AudioSpectrogramNormalizer.from_dataset("esc50")
    labels = ["dog", "rain", "bird", "siren", "clock"]
    folder = str(tmp_path / "hf")
    save_hf_folder(folder, encoder, classifier, labels, normalizer=norm)
    return encoder, classifier, norm, labels, folder


def source_scores(encoder, classifier, norm, wav):
    fbank = KaldiFbank(n_mels=128, target_length=128)
    with torch.no_grad():
        out = classifier(encoder(norm(fbank(wav[None])))).squeeze()
    return out.sigmoid() if classifier.output == "logits" else out.exp()


@pytest.mark.parametrize("multi_label", [False, True])
def test_hf_folder_runs_in_transformers_pipeline(tmp_path, multi_label):
    encoder, classifier, norm, labels, folder = hf_round_trip_model(
        tmp_path, multi_label
    )
    pipe = transformers.pipeline("audio-classification", model=folder)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        wav = torch.randn(16000, generator=gen) * 0.1
        got = pipe(wav.numpy(), top_k=3)
        scores = source_scores(encoder, classifier, norm, wav)
        top = scores.topk(3)
        assert [g["label"] for g in got] == [labels[i] for i in top.indices]
        assert (
            max(abs(g["score"] - float(s)) for g, s in zip(got, top.values))
            <= 1e-4
        )


def test_convert_of_hf_folder_keeps_its_statistics(tmp_path):
    from ast_sb.cli import main
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    encoder, classifier, norm, labels, folder = hf_round_trip_model(tmp_path)
    out = str(tmp_path / "converted")
    assert main(["convert", folder, out, "--single-label"]) == 0
    model = AudioSpectrogramTransformerInterface.from_folder(out)
    assert model.normalizer.mean == pytest.approx(norm.mean)
    assert model.normalizer.std == pytest.approx(norm.std)
    wav = torch.randn(16000, generator=torch.Generator().manual_seed(2)) * 0.1
    got = model.classify_batch(wav[None])[0].exp()[0]
    expected = source_scores(encoder, classifier, norm, wav)
    assert torch.allclose(got, expected, atol=1e-5)


def test_convert_check_compares_against_the_source(tmp_path, capsys):
    """Statistics that differ from the source's must fail the check."""
    from ast_sb.cli import main

    *_, folder = hf_round_trip_model(tmp_path)
    out = str(tmp_path / "converted")
    code = main(
        ["convert", folder, out, "--single-label", "--dataset", "audioset"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "other outputs than the source" in err and "-6.62" in err
    # Same statistics as the source: the check passes.
    assert main(["convert", folder, out + "2", "--single-label"]) == 0


def test_unequal_strides_parity(tmp_path):
    """frequency_stride != time_stride: the two strides are not swapped."""
    model = hf_model(**SMALL, frequency_stride=16, time_stride=8)
    model.save_pretrained(tmp_path / "hf")
    encoder, classifier, _ = build_from_hf(str(tmp_path / "hf"))
    assert encoder.grid_size == (8, 31)
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        expected = model(feats).logits
    assert_close_to_scale(
        ours_logits(encoder.eval(), classifier, feats), expected, LOGIT_REL
    )
