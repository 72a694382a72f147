"""Tests of the ``ast-sb`` command line (ast_sb.cli).

Authors
 * ast_sb developers 2026
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import ast_sb
from ast_sb.cli import main, read_labels
from ast_sb.dataio.audio import save_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.features import AudioSpectrogramNormalizer
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.weights.pretrained import export_original, save_hf_folder

RATE = 16000
LABELS = ["Speech", "Dog, bark", "Music"]


def tiny_model(n_classes=3, seed=0):
    torch.manual_seed(seed)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    ).eval()
    head = AudioSpectrogramTransformerClassifier(
        enc.embed_dim, n_classes, output="logits"
    ).eval()
    return enc, head


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    enc, head = tiny_model()
    out = tmp_path_factory.mktemp("hf") / "hf_model"
    esc50 = AudioSpectrogramNormalizer.from_dataset("esc50")
    return save_hf_folder(str(out), enc, head, LABELS, normalizer=esc50)


@pytest.fixture(scope="module")
def model_dir(hf_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("conv") / "ast_model")
    code = main(
        [
            "convert",
            hf_folder,
            out,
            "--dataset",
            "esc50",
            "--single-label",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    gen = torch.Generator().manual_seed(0)
    paths = []
    for i, seconds in enumerate((1.0, 0.6, 2.5)):
        path = folder / f"clip{i}.wav"
        save_audio(
            path, torch.randn(int(seconds * RATE), generator=gen) * 0.1, RATE
        )
        paths.append(str(path))
    return paths


def test_convert_hf_folder(model_dir, hf_folder, tmp_path):
    model = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    assert model.labels == LABELS and not model.multi_label
    assert model.normalizer.mean == pytest.approx(-6.6268077)
    # equals the HF weights run through ast_sb directly
    from ast_sb.weights.pretrained import build_from_hf

    enc, head, _ = build_from_hf(hf_folder, output="log_softmax")
    wav = torch.randn(1, RATE) * 0.1
    feats, _ = model.compute_features(wav)
    expected = head(enc(feats)).squeeze(1)
    assert torch.allclose(model.classify_batch(wav)[0], expected, atol=1e-5)
    # multi-label by default for 527 classes; here forced
    out = str(tmp_path / "ml")
    assert main(["convert", hf_folder, out, "--multi-label"]) == 0
    assert AudioSpectrogramTransformerInterface.from_folder(out).multi_label


def test_convert_original_checkpoint_with_labels_csv(tmp_path, capsys):
    enc, head = tiny_model(4, seed=3)
    pth = tmp_path / "audioset_tiny.pth"
    torch.save(export_original(enc, head), pth)
    csv_path = tmp_path / "class_labels_indices.csv"
    csv_path.write_text(
        "index,mid,display_name\n"
        '0,/m/09x0r,"Speech"\n1,/m/05zppz,"Male speech, man speaking"\n'
        '2,/m/02zsn,"Female speech, woman speaking"\n3,/m/0ytgt,"Child"\n',
        encoding="utf-8",
    )
    out = tmp_path / "converted"
    code, stdout, _ = run(
        capsys,
        "convert",
        pth,
        out,
        "--labels",
        csv_path,
        "--target-length",
        128,
        "--dataset",
        "audioset",
        "--multi-label",
    )
    assert code == 0, stdout
    assert "original checkpoint, 4 classes" in stdout
    model = AudioSpectrogramTransformerInterface.from_folder(str(out))
    assert model.labels[1] == "Male speech, man speaking"
    assert model.multi_label and model.max_frames == 128
    wav = torch.randn(2, RATE) * 0.1
    feats, _ = model.compute_features(wav)
    assert torch.allclose(
        model.classify_batch(wav)[0], head(enc(feats)).squeeze(1), atol=1e-5
    )
    # wrong geometry: clear error naming --target-length
    code, _, err = run(
        capsys, "convert", pth, tmp_path / "bad", "--labels", csv_path
    )
    assert code == 1 and "--target-length" in err
    # label count mismatch
    txt = tmp_path / "labels.txt"
    txt.write_text("a\nb\n", encoding="utf-8")
    code, _, err = run(
        capsys,
        "convert",
        pth,
        tmp_path / "bad2",
        "--labels",
        txt,
        "--target-length",
        128,
    )
    assert code == 1 and "2 labels for a model with 4 classes" in err


def test_read_labels_plain_text(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("dog\n\ncat\n", encoding="utf-8")
    assert read_labels(str(path)) == ["dog", "cat"]


def check_result_schema(res):
    assert set(res) == {"file", "status", "error", "duration", "predictions"}
    assert isinstance(res["file"], str)
    assert res["status"] in ("ok", "error")
    if res["status"] == "ok":
        assert res["error"] is None
        assert isinstance(res["duration"], float) and res["duration"] > 0
        scores = [p["score"] for p in res["predictions"]]
        assert scores == sorted(scores, reverse=True)
        for pred in res["predictions"]:
            assert set(pred) == {"label", "index", "score"}
            assert isinstance(pred["label"], str)
            assert isinstance(pred["index"], int)
            assert 0.0 <= pred["score"] <= 1.0
    else:
        assert isinstance(res["error"], str) and res["error"]
        assert res["duration"] is None and res["predictions"] == []


def test_classify_json_schema(model_dir, audio_files, capsys, tmp_path):
    out_file = tmp_path / "res" / "out.json"
    code, out, err = run(
        capsys,
        "classify",
        *audio_files,
        "--model",
        model_dir,
        "--json",
        "--top-k",
        2,
        "--batch-size",
        2,
        "--output",
        out_file,
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"model", "multi_label", "inference", "results"}
    assert data["inference"]["fast_path"] == "auto"
    assert data["multi_label"] is False
    assert [r["file"] for r in data["results"]] == audio_files
    for res in data["results"]:
        check_result_schema(res)
        assert res["status"] == "ok" and len(res["predictions"]) == 2
        assert res["predictions"][0]["label"] in LABELS
    assert json.loads(out_file.read_text(encoding="utf-8")) == data
    # the 2.5 s clip is classified whole (two windows of the 1.295 s grid)
    assert data["results"][2]["duration"] == pytest.approx(2.5)
    model = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    expected = model.predict_file(audio_files[0], top_k=2)
    assert data["results"][0]["predictions"][0]["score"] == pytest.approx(
        expected[0]["score"], abs=1e-5
    )


def test_classify_bad_files_continue(model_dir, audio_files, capsys, tmp_path):
    missing = tmp_path / "missing.wav"
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\x00\x01 not audio")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), RATE)
    short = tmp_path / "short.wav"
    save_audio(short, torch.zeros(100), RATE)
    nan = tmp_path / "nan.wav"
    data = np.full(RATE, 0.1, dtype=np.float32)
    data[5] = np.nan
    sf.write(str(nan), data, RATE, subtype="FLOAT")
    files = [
        missing,
        audio_files[0],
        garbage,
        empty,
        short,
        nan,
        audio_files[1],
    ]
    code, out, err = run(
        capsys,
        "classify",
        *files,
        "--model",
        model_dir,
        "--json",
        "--no-progress",
    )
    assert code == 1
    results = json.loads(out)["results"]
    for res in results:
        check_result_schema(res)
    status = [r["status"] for r in results]
    assert status == ["error", "ok", "error", "error", "error", "error", "ok"]
    messages = [r["error"] for r in results]
    assert "not found" in messages[0]
    assert "Could not read" in messages[2]
    assert "no samples" in messages[3]
    assert "too short" in messages[4]
    assert "NaN" in messages[5]
    assert "missing.wav" in err and "nan.wav" in err
    # text output: one line per file
    code, out, _ = run(capsys, "classify", *files, "--model", model_dir)
    lines = out.strip().splitlines()
    assert len(lines) == len(files) and lines[0].endswith(
        f"ERROR: AudioLoadError: Audio file not found: {missing}"
    )
    assert lines[1].startswith(audio_files[0] + "\t")


def test_tag_json_and_plot(model_dir, capsys, tmp_path):
    path = tmp_path / "long.wav"
    save_audio(path, torch.randn(int(6.5 * RATE)) * 0.1, RATE)
    plot = tmp_path / "plots" / "timeline.png"
    code, out, err = run(
        capsys,
        "tag",
        path,
        "--model",
        model_dir,
        "--window",
        1.0,
        "--hop",
        0.5,
        "--json",
        "--windows",
        "--plot",
        plot,
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"file", "duration", "window", "hop", "events", "windows"} <= set(
        data
    )
    assert data["duration"] == pytest.approx(6.5)
    assert data["n_windows"] == len(data["windows"]) == 12
    for event in data["events"]:
        assert set(event) == {"start", "end", "label", "score"}
        assert 0 <= event["start"] < event["end"] <= 6.5
        assert event["label"] in LABELS
    # single-label: the events tile the file
    assert sum(e["end"] - e["start"] for e in data["events"]) == pytest.approx(
        6.5
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, "tag", path, "--model", model_dir)
    assert code == 0 and "windows of 1.29 s" in out
    code, _, err = run(
        capsys, "tag", path, "--model", model_dir, "--window", 30
    )
    assert code == 1 and "longer than" in err
    code, _, err = run(
        capsys, "tag", tmp_path / "nope.wav", "--model", model_dir
    )
    assert code == 1 and "not found" in err


def test_info(model_dir, capsys):
    code, out, _ = run(capsys, "info", "--model", model_dir, "--json")
    assert code == 0
    info = json.loads(out)
    params = info["parameters"]
    assert info["n_classes"] == 3 and info["sample_rate"] == 16000
    assert params["classifier"]["total"] == 192 * 2 + 192 * 3 + 3
    enc_parts = params["embedding_model"]["parts"]
    assert sum(enc_parts.values()) == params["embedding_model"]["total"]
    assert {"patch_embed", "blocks", "norm", "tokens_and_pos_embed"} <= set(
        enc_parts
    )
    assert info["total_parameters"] == sum(p["total"] for p in params.values())
    assert info["encoder"]["depth"] == 1 and info["encoder"]["n_patches"] == 144
    assert info["gflops_per_clip"] > 0
    assert "embedding_model.ckpt" in info["files_mb"]
    # windows of long clips: the grid by default (issue 10.3)
    assert info["windows"] == {
        "window": 20720 / 16000,
        "hop": 20720 / 16000,
        "eval_window_seconds": None,
        "eval_hop_seconds": None,
    }
    code, out, _ = run(capsys, "info", "--model", model_dir)
    assert code == 0
    assert "parameters:" in out and "total" in out and "GFLOPs" in out
    assert "sliding windows of 1.295 s every 1.295 s" in out


def test_info_shows_the_recipe_windows(tmp_path, capsys):
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.export.folder import export_inference_folder

    enc, head = tiny_model()
    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    folder = str(tmp_path / "m")
    export_inference_folder(
        folder,
        enc,
        head,
        labels,
        {"target_length": 128},
        eval_window_seconds=1.0,
        eval_hop_seconds=0.5,
    )
    assert (
        "eval_window_seconds: 1.0" in open(f"{folder}/hyperparams.yaml").read()
    )
    code, out, _ = run(capsys, "info", "--model", folder)
    assert code == 0
    assert "sliding windows of 1 s every 0.5 s" in out


def test_export_torchscript(model_dir, capsys, tmp_path):
    out_dir = tmp_path / "exp"
    code, out, err = run(
        capsys,
        "export",
        "--model",
        model_dir,
        "--out",
        out_dir,
        "--format",
        "torchscript",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["torchscript"]["ok"] is True
    assert report["torchscript"]["max_abs_diff"] <= 1e-4
    assert report["input_shape"] == [-1, 128, 128]
    assert os.path.isfile(out_dir / "model.torchscript.pt")
    meta = json.loads(
        (out_dir / "model_export.json").read_text(encoding="utf-8")
    )
    assert meta["labels"] == LABELS


def test_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "classify", "x.wav")
    assert code == 2 and "--model" in err
    code, _, err = run(capsys)
    assert code == 2
    code, _, err = run(capsys, "info", "--model", tmp_path / "nothing")
    assert code == 1 and "Model folder not found" in err
    code, _, err = run(capsys, "convert", tmp_path / "none.pth", tmp_path / "o")
    assert code == 1 and "not found" in err
    code, _, err = run(capsys, "tag", "x.wav", "--model", "m", "--hop", "-1")
    assert code == 2 and "must be > 0" in err


def test_python_dash_m(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(ast_sb.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    out = subprocess.run(
        [sys.executable, "-m", "ast_sb.cli", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=120,
    )
    assert out.returncode == 0
    for command in ("classify", "tag", "stream", "info", "convert", "export"):
        assert command in out.stdout
