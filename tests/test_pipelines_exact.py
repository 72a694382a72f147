"""One clip, the same scores through every path (issue 10, end to end).

A tiny single-label run of the Custom recipe on clips of mixed lengths
(shorter than the model's 64-frame grid, and one longer than it) writes its
test scores clip by clip; then the same clips go through

* a training-style forward of the Brain in eval mode on one padded batch,
* ``ast-sb classify`` (the CLI),
* the interface (``AudioSpectrogramTransformerInterface``),
* plain SpeechBrain ``EncoderClassifier.from_hparams`` (``classify_file``
  and ``classify_batch`` on a padded batch with relative lengths),
* the TorchScript and ONNX waveform exports (the long clip through the
  shared windows of :mod:`ast_sb.inference.windows`),

and every path must give the recipe's scores (log-probabilities) within
1e-5 (measured: 2.4e-7 at most; ONNX Runtime 1.2e-6).

Authors
 * ast_sb developers 2026
"""

import json
import warnings

import numpy as np
import pytest
import torch
from helpers import run_recipe
from speechbrain.inference.classifiers import EncoderClassifier

from ast_sb.cli import main as cli_main
from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.demo import synthesize_clip
from ast_sb.export.model_export import export_model, onnx_status
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.inference.windows import combine_window_scores, cut_windows
from ast_sb.training.brain import AudioSpectrogramTransformerBrain

RATE = 16000
SOUNDS = {"bell": "pure_tone", "engine": "white_noise", "tap": "clicks"}
#: seconds; the grid is 64 frames = 0.655 s, windows 0.6 s every 0.3 s
TEST_SECONDS = [0.3, 0.47, 0.62, 1.4, 0.55, 0.36]
TOL = 1e-5


def _clip(label, seconds, rng):
    return synthesize_clip(SOUNDS[label], rng, RATE, seconds)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exact")
    rng = np.random.default_rng(0)
    lines = ["wav,label,split"]
    labels = list(SOUNDS)
    rows = [(labels[i % 3], 0.66, "train") for i in range(9)]
    rows += [(labels[i % 3], 0.5, "valid") for i in range(3)]
    rows += [(labels[i % 3], s, "test") for i, s in enumerate(TEST_SECONDS)]
    (tmp / "clips").mkdir()
    test_ids = []
    for i, (label, seconds, split) in enumerate(rows):
        save_audio(
            str(tmp / "clips" / f"{i}.wav"), _clip(label, seconds, rng), RATE
        )
        lines.append(f"clips/{i}.wav,{label},{split}")
        if split == "test":
            test_ids.append(i)
    (tmp / "meta.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "out"
    options = {
        "n_classes": 3,
        "target_length": 64,
        "train_crop_seconds": 0.6,
        "eval_window_seconds": 0.6,
        "eval_hop_seconds": 0.3,
        "number_of_epochs": 1,
        "batch_size": 4,
        "plots": False,
        "manifest": tmp / "meta.csv",
        "output_folder": out,
    }
    run_recipe("Custom", "ast_demo.yaml", options=options)
    predictions = json.loads((out / "test_predictions.json").read_text())
    assert len(predictions) == len(TEST_SECONDS), predictions.keys()
    files = [str(tmp / "clips" / f"{i}.wav") for i in test_ids]
    expected = torch.tensor([predictions[f"clips/{i}"] for i in test_ids])
    return tmp, out, files, expected


def _padded(files):
    wavs = [load_audio(f, RATE) for f in files]
    n = torch.tensor([w.shape[0] for w in wavs])
    batch = torch.zeros(len(wavs), int(n.max()))
    for i, w in enumerate(wavs):
        batch[i, : w.shape[0]] = w
    return batch, n


def test_recipe_scores_are_windowed_and_exact(run):
    _, out, files, expected = run
    assert expected.shape == (len(TEST_SECONDS), 3)
    # log-probabilities of every clip, the long one a mean over windows
    assert torch.allclose(
        expected.exp().sum(-1), torch.ones(len(files)), atol=1e-4
    )
    hp = (out / "inference" / "hyperparams.yaml").read_text()
    assert "eval_window_seconds: 0.6" in hp and "eval_hop_seconds: 0.3" in hp


def test_encoder_classifier_file_and_batch(run):
    tmp, out, files, expected = run
    model = EncoderClassifier.from_hparams(
        source=str(out / "inference"),
        savedir=str(tmp / "plain"),
        run_opts={"device": "cpu"},
    )
    single = torch.cat([model.classify_file(f)[0] for f in files])
    torch.testing.assert_close(single, expected, atol=TOL, rtol=0)
    batch, n = _padded(files)
    # the relative lengths SpeechBrain's PaddedBatch passes
    lens = torch.tensor([x / batch.shape[1] for x in n.tolist()])
    with torch.no_grad():
        out_prob, _, index, _ = model.classify_batch(batch, lens)
    torch.testing.assert_close(out_prob, expected, atol=TOL, rtol=0)
    assert index.tolist() == expected.argmax(-1).tolist()
    emb = model.encode_batch(batch, lens)
    assert emb.shape[:2] == (len(files), 1)


def test_interface_and_cli(run, capsys):
    _, out, files, expected = run
    model = AudioSpectrogramTransformerInterface.from_folder(
        str(out / "inference")
    )
    batch, n = _padded(files)
    out_prob = model.classify_batch(batch, n / batch.shape[1])[0]
    torch.testing.assert_close(out_prob, expected, atol=TOL, rtol=0)
    results = model.classify_files(files, batch_size=4, top_k=0, progress=False)
    assert [r["status"] for r in results] == ["ok"] * len(files)
    code = cli_main(
        [
            "classify",
            *files,
            "--model",
            str(out / "inference"),
            "--top-k",
            "0",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    for res, row in zip(data["results"], expected.exp()):
        got = torch.zeros(3)
        for pred in res["predictions"]:
            got[pred["index"]] = pred["score"]
        torch.testing.assert_close(got, row, atol=TOL, rtol=0)


def test_training_forward_on_padded_batch(run):
    """The Brain's own forward (as in training, eval mode) on one padded
    batch of the clips within the grid, and its windowed test forward on
    all of them."""
    _, out, files, expected = run
    model = AudioSpectrogramTransformerInterface.from_folder(
        str(out / "inference")
    )
    modules = {
        "compute_features": model.features,
        "mean_var_norm": model.normalizer,
        "embedding_model": model.encoder,
        "classifier": model.head,
    }
    brain = AudioSpectrogramTransformerBrain(
        modules=modules,
        hparams={"eval_window_seconds": 0.6, "eval_hop_seconds": 0.3},
        run_opts={"device": "cpu"},
    )
    brain.modules.eval()
    short = [i for i, s in enumerate(TEST_SECONDS) if s < 0.6]
    batch, n = _padded([files[i] for i in short])
    with torch.no_grad():
        outputs, _, _ = brain._forward_waveforms(
            batch, n / batch.shape[1], False
        )
    torch.testing.assert_close(
        outputs.squeeze(1), expected[short], atol=TOL, rtol=0
    )
    batch, n = _padded(files)
    with torch.no_grad():
        windowed = brain._windowed_forward(batch, n / batch.shape[1])
    torch.testing.assert_close(windowed.squeeze(1), expected, atol=TOL, rtol=0)


@pytest.mark.skipif(
    not all(onnx_status().values()), reason="onnx, onnxscript, onnxruntime"
)
def test_torchscript_and_onnx_exports(run, tmp_path):
    import onnxruntime as ort

    _, out, files, expected = run
    model = AudioSpectrogramTransformerInterface.from_folder(
        str(out / "inference")
    )
    report = export_model(model, str(tmp_path), input_type="waveform")
    window, hop = model.pipeline.window, model.pipeline.hop
    assert report["input_shape"] == [-1, window]
    batch, n = _padded(files)
    chunks, chunk_lens, clips, counts = cut_windows(batch, n, window, hop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.load(report["torchscript"]["path"])
    session = ort.InferenceSession(report["onnx"]["path"])
    feed = {"inputs": chunks.numpy(), "lengths": chunk_lens.numpy()}
    for raw, tol in (
        (traced(chunks, chunk_lens), TOL),
        (torch.from_numpy(session.run(None, feed)[0]), TOL),
    ):
        scores = combine_window_scores(raw, clips, counts, multi_label=False)
        torch.testing.assert_close(scores, expected, atol=tol, rtol=0)
