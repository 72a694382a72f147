"""Tests of the AST inference interface (ast_sb.inference.interface).

Authors
 * ast_sb developers 2026
"""

import os

import helpers
import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.inference.classifiers import EncoderClassifier

from ast_sb.dataio.audio import AudioLoadError, load_audio, save_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

LABELS = ["cat", "dog", "bird"]


def make_model_folder(path, labels=LABELS, **kwargs):
    """A tiny exported model of the 3 test labels (see helpers)."""
    return helpers.make_model_folder(path, labels, **kwargs)


def noise(seconds, seed=0, rate=16000, amp=0.1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(int(seconds * rate), generator=gen) * amp


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model_folder(tmp_path_factory.mktemp("single") / "model")


@pytest.fixture(scope="module")
def model(model_dir):
    return AudioSpectrogramTransformerInterface.from_folder(model_dir)


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory):
    folder = make_model_folder(
        tmp_path_factory.mktemp("multi") / "model",
        labels=["speech", "music", "dog", "car"],
        multi_label=True,
        seed=1,
    )
    return AudioSpectrogramTransformerInterface.from_folder(folder)


def test_from_folder_offline_and_read_only(model_dir):
    before = sorted(os.listdir(model_dir))
    clf = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    assert sorted(os.listdir(model_dir)) == before
    assert isinstance(clf, EncoderClassifier)
    assert clf.labels == LABELS
    assert clf.n_classes == 3 and not clf.multi_label
    assert clf.sample_rate == 16000
    assert clf.max_frames == 128
    assert clf.max_samples == 400 + 127 * 160
    assert clf.min_samples == 400


def test_from_hparams_with_savedir(model_dir, tmp_path):
    clf = AudioSpectrogramTransformerInterface.from_hparams(
        source=model_dir, savedir=str(tmp_path / "save")
    )
    wav = noise(1.0)
    ref = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    assert torch.allclose(
        clf.classify_batch(wav[None])[0], ref.classify_batch(wav[None])[0]
    )


def test_from_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        AudioSpectrogramTransformerInterface.from_folder(tmp_path / "nope")
    (tmp_path / "hyperparams.yaml").write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="embedding_model.ckpt"):
        AudioSpectrogramTransformerInterface.from_folder(
            tmp_path, trust_yaml=True
        )


def _padded(clips):
    n_max = max(len(c) for c in clips)
    wavs = torch.zeros(len(clips), n_max)
    for i, clip in enumerate(clips):
        wavs[i, : len(clip)] = clip
    return wavs, torch.tensor([len(c) / n_max for c in clips])


def test_padded_batch_equals_single_clips(model):
    """One padded forward pass (no grouping by length): frames past each
    clip's end are padding (0 before normalisation), as for the clip
    alone, and the scores equal those of each clip alone."""
    clips = [noise(1.0, 1), noise(0.55, 2), noise(0.3, 3)]
    wavs, lens = _padded(clips)
    emb = model.encode_batch(wavs, lens)
    out = model.classify_batch(wavs, lens)[0]
    assert emb.shape == (3, 1, 192) and out.shape == (3, 3)
    # the padded batch through the modules at once
    feats, frame_lens = model.compute_features(wavs, lens)
    direct = model.head(model.encoder(feats, frame_lens)).squeeze(1)
    norm = model.normalizer
    for i, clip in enumerate(clips):
        n_frames = 1 + (len(clip) - 400) // 160
        padding = feats[i, n_frames:]
        assert torch.allclose(
            padding, torch.full_like(padding, -norm.mean / (2 * norm.std))
        )
        alone = model.encode_batch(clip[None])
        assert torch.allclose(emb[i], alone[0], atol=1e-5)
        single = model.classify_batch(clip[None])[0][0]
        assert torch.allclose(out[i], single, atol=1e-5)
        assert torch.allclose(direct[i], single, atol=1e-5)


def test_variable_frame_lengths_without_target_length(tmp_path):
    """No fbank target_length, no padding mask: every clip is padded to the
    model's grid (one window), alone or in a batch."""
    folder = make_model_folder(tmp_path / "m", feature_length=None)
    clf = AudioSpectrogramTransformerInterface.from_folder(folder)
    assert clf.min_samples == 400 + 15 * 160
    clips = [noise(1.2, 4), noise(0.5, 5)]
    wavs, lens = _padded(clips)
    emb = clf.encode_batch(wavs, lens)
    grid = clf.max_samples
    for i, clip in enumerate(clips):
        assert torch.allclose(
            emb[i], clf.encode_batch(clip[None])[0], atol=1e-5
        )
        # = the clip zero-padded to the grid, with its length
        padded = torch.zeros(1, grid)
        padded[0, : len(clip)] = clip
        feats, frame_lens = clf.compute_features(
            padded, torch.tensor([len(clip) / grid])
        )
        direct = clf.encoder(feats, frame_lens)
        assert torch.allclose(emb[i], direct[0], atol=1e-5)
    with pytest.raises(AudioLoadError, match="too short"):
        clf.encode_batch(noise(0.1)[None])


def test_probabilities_and_top_k(model, ml_model):
    wavs = torch.stack([noise(1.0, 6), noise(1.0, 7)])
    proba = model.predict_proba(wavs)
    assert torch.allclose(proba.sum(-1), torch.ones(2), atol=1e-5)
    preds = model.predict_batch(wavs)
    assert [len(p) for p in preds] == [1, 1]  # single-label default top-1
    assert preds[0][0]["label"] == model.classify_batch(wavs)[3][0]
    preds = model.predict_batch(wavs, top_k=0)
    assert [p["index"] for p in preds[0]] == proba[0].argsort(
        descending=True
    ).tolist()

    ml_proba = ml_model.predict_proba(wavs)
    out = ml_model.classify_batch(wavs)[0]
    assert torch.allclose(ml_proba, torch.sigmoid(out))
    preds = ml_model.predict_batch(wavs, top_k=3)
    assert [len(p) for p in preds] == [3, 3]
    scores = [p["score"] for p in preds[0]]
    assert scores == sorted(scores, reverse=True)
    cut = float(ml_proba[0].median())
    kept = ml_model.predict_batch(wavs, top_k=0, threshold=cut)[0]
    assert kept and all(p["score"] >= cut for p in kept)
    assert len(kept) == int((ml_proba[0] >= cut).sum())


def test_classify_file_resamples_and_downmixes(model, tmp_path):
    rate = 44100
    stereo = torch.stack([noise(1.0, 8, rate), noise(1.0, 9, rate)])
    path = tmp_path / "stereo.wav"
    save_audio(path, stereo, rate, subtype="FLOAT")
    out, score, index, text = model.classify_file(str(path))
    assert out.shape == (1, 3) and text[0] in LABELS
    wav = load_audio(str(path), 16000)
    assert wav.shape[0] == 16000
    assert torch.allclose(out, model.classify_batch(wav[None])[0], atol=1e-5)
    preds = model.predict_file(str(path), top_k=2)
    assert len(preds) == 2 and preds[0]["label"] == text[0]


def test_long_file_is_classified_by_windows(model, tmp_path):
    """Issue 10.3: a file longer than the grid is the mean of the window
    probabilities (windows of the grid, the recipe's default), not cut."""
    path = tmp_path / "long.wav"
    wav = noise(5.0, 10)
    save_audio(path, wav, 16000, subtype="FLOAT")
    loaded = model.load_audio(str(path))
    assert torch.equal(loaded, wav)
    window = model.max_samples
    assert model.window_settings["window"] == window / 16000
    probs = []
    for start in range(0, wav.shape[0], window):
        seg = wav[start : start + window]
        probs.append(model.classify_batch(seg[None])[0].exp())
    assert len(probs) == 4
    expected = torch.cat(probs).mean(0).log()
    out = model.classify_file(str(path))[0][0]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    first_window_only = model.classify_batch(wav[None, :window])[0][0]
    assert (out - first_window_only).abs().max() > 1e-3


def write_bad_files(folder):
    """Missing, unreadable, empty, too short, NaN and directory inputs."""
    bad = {}
    bad["missing"] = str(folder / "missing.wav")
    path = folder / "garbage.wav"
    path.write_bytes(b"this is not audio" * 10)
    bad["unreadable"] = str(path)
    path = folder / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    bad["empty"] = str(path)
    path = folder / "short.wav"
    save_audio(path, noise(0.01), 16000)
    bad["too short"] = str(path)
    path = folder / "nan.wav"
    data = noise(1.0).numpy()
    data[100] = np.nan
    sf.write(str(path), data, 16000, subtype="FLOAT")
    bad["nan"] = str(path)
    bad["directory"] = str(folder)
    return bad


EXPECTED_ERRORS = {
    "missing": "not found",
    "unreadable": "Could not read",
    "empty": "no samples",
    "too short": "too short",
    "nan": "NaN",
    "directory": "directory",
}


def test_classify_files_reports_bad_files_and_continues(model, tmp_path):
    good = []
    for i, seconds in enumerate((1.0, 0.7, 2.0)):
        path = tmp_path / f"good{i}.wav"
        save_audio(path, noise(seconds, 20 + i), 16000)
        good.append(str(path))
    bad = write_bad_files(tmp_path)
    paths = [good[0], *bad.values(), good[1], good[2]]
    results = model.classify_files(paths, batch_size=3, top_k=2, progress=False)
    assert [r["file"] for r in results] == paths
    by_file = {r["file"]: r for r in results}
    for path in good:
        res = by_file[path]
        assert res["status"] == "ok" and res["error"] is None
        assert len(res["predictions"]) == 2
        expected = model.predict_file(path, top_k=2)
        assert [p["label"] for p in res["predictions"]] == [
            p["label"] for p in expected
        ]
        assert res["predictions"][0]["score"] == pytest.approx(
            expected[0]["score"], abs=1e-5
        )
    for kind, path in bad.items():
        res = by_file[path]
        assert res["status"] == "error", kind
        assert EXPECTED_ERRORS[kind] in res["error"], (kind, res["error"])
        assert os.path.basename(path) in res["error"]
        assert res["predictions"] == []


def test_encode_files(model, tmp_path):
    good = str(tmp_path / "a.wav")
    save_audio(good, noise(1.0, 30), 16000)
    missing = str(tmp_path / "missing.wav")
    emb, errors = model.encode_files([good, missing], progress=False)
    assert list(emb) == [good] and list(errors) == [missing]
    assert emb[good].shape == (192,)
    ref = model.encode_batch(model.load_audio(good)[None])[0, 0]
    assert torch.allclose(emb[good], ref, atol=1e-5)
