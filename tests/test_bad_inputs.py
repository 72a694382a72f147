"""Bad values into every entry point get a clear error naming the value.

Issue 11, points 4 (huge amplitude: no NaN scores, valid JSON), 6
(relative lengths), 7 (integer waveforms) and 8 (unclear errors). The rule
lives in ``ast_sb/dataio/validation.py``; these tests drive it through the public
entry points: ``KaldiFbank``, the encoder, the inference interface, the
Brain, the tagger and ``ast-sb``.

Authors
 * ast_sb developers 2026
"""

import importlib.util
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.utils.epoch_loop import EpochCounter

from ast_sb.cli import main
from ast_sb.dataio.audio import AudioLoadError, load_audio
from ast_sb.errors import DataPreparationError
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.features import KaldiFbank
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402
from helpers import make_model_folder  # noqa: E402

BAD_LENGTHS = [
    (torch.tensor([1.0, -0.5]), r"\[1\] = -0.5 is outside \(0, 1\]"),
    (torch.tensor([1.0, 0.0]), r"\[1\] = 0 is outside \(0, 1\]"),
    (torch.tensor([1.5, 1.0]), r"\[0\] = 1.5 is outside \(0, 1\]"),
    (torch.tensor([1.0, math.nan]), r"\[1\] = nan is not finite"),
    (torch.tensor([1.0, 1.0, 0.5]), r" has shape \(3,\) but the batch has 2"),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model_folder(
        tmp_path_factory.mktemp("bad") / "model", ["cat", "dog", "bird"]
    )


@pytest.fixture(scope="module")
def model(model_dir):
    return AudioSpectrogramTransformerInterface.from_folder(model_dir)


def _wav(path, amplitude=0.1, n=16000, seed=0):
    wav = np.random.default_rng(seed).standard_normal(n) * amplitude
    sf.write(str(path), wav.astype(np.float32), 16000, subtype="FLOAT")
    return str(path)


class _Batch:
    """The two fields of a SpeechBrain PaddedBatch the Brain reads."""

    def __init__(self, wavs, lengths):
        self.sig = (wavs, lengths)
        self.id = [str(i) for i in range(len(wavs))]

    def to(self, device):
        return self


def _brain():
    return AudioSpectrogramTransformerBrain(
        modules=ddp_worker.make_modules(),
        opt_class=lambda groups: torch.optim.SGD(groups, lr=0.1),
        hparams=ddp_worker.make_hparams(epoch_counter=EpochCounter(1)),
        run_opts={"device": "cpu", "noprogressbar": True},
    )


# ---------------------------------------------------------------------------
# 4. a finite waveform of amplitude 1e30: an error, never NaN scores
# ---------------------------------------------------------------------------
def test_huge_amplitude_file_is_an_error_and_others_are_kept(model, tmp_path):
    huge = _wav(tmp_path / "huge.wav", amplitude=1e30)
    fine = _wav(tmp_path / "fine.wav")
    results = model.classify_files([fine, huge], batch_size=2, progress=False)
    assert results[0]["status"] == "ok"
    assert all(math.isfinite(p["score"]) for p in results[0]["predictions"])
    alone = model.predict_file(fine)
    assert results[0]["predictions"][0]["label"] == alone[0]["label"]
    assert results[1]["status"] == "error"
    assert results[1]["predictions"] == []
    assert huge in results[1]["error"]
    assert "not finite" in results[1]["error"]
    with pytest.raises(ValueError, match="peak amplitude"):
        model.classify_batch(load_audio(huge).unsqueeze(0))
    for method in (model.classify_file, model.predict_file):
        with pytest.raises(
            ValueError, match="^" + re.escape(huge) + ": Features"
        ):
            method(huge)
    embeddings, errors = model.encode_files([fine, huge], progress=False)
    assert list(embeddings) == [fine] and huge in errors[huge]


def test_non_finite_scores_never_reach_the_output(model_dir, tmp_path):
    broken = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    with torch.no_grad():
        broken.head.linear.bias[1] = math.nan
    with pytest.raises(ValueError, match="NaN or inf scores"):
        broken.classify_batch(torch.randn(2, 16000) * 0.1)
    fine = _wav(tmp_path / "fine.wav")
    (result,) = broken.classify_files([fine], progress=False)
    assert result["status"] == "error" and fine in result["error"]


def test_cli_json_is_valid_when_a_file_fails(model_dir, tmp_path, capsys):
    huge = _wav(tmp_path / "huge.wav", amplitude=1e30)
    code = main(["classify", huge, "--model", model_dir, "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)  # strict JSON: no NaN
    assert code == 1
    (result,) = data["results"]
    assert result["status"] == "error" and huge in result["error"]

    code = main(["tag", huge, "--model", model_dir, "--json"])
    out = capsys.readouterr().out
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "error" and huge in data["error"]
    assert "not finite" in data["error"]

    code = main(["info", "--model", str(tmp_path / "nope"), "--json"])
    assert code == 1
    assert "not found" in json.loads(capsys.readouterr().out)["error"]


# ---------------------------------------------------------------------------
# 6. relative lengths: finite, in (0, 1], one per clip, on every entry point
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("lengths, message", BAD_LENGTHS)
def test_bad_lengths_into_the_front_end(lengths, message):
    wavs = torch.randn(2, 16000) * 0.1
    fbank = KaldiFbank(target_length=100)
    with pytest.raises(ValueError, match="^lengths" + message):
        fbank(wavs, lengths)
    if len(lengths) == 2:  # (the batch size is not an argument here)
        with pytest.raises(ValueError, match="^lengths" + message):
            fbank.relative_frame_lengths(lengths, 16000)


@pytest.mark.parametrize("lengths, message", BAD_LENGTHS)
def test_bad_lengths_into_the_masked_encoder(lengths, message):
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128, use_padding_mask=True
    ).eval()
    with pytest.raises(ValueError, match=message):
        encoder(torch.randn(2, 128, 128), lengths)
    encoder.use_padding_mask = False  # checked whenever lengths are given
    with pytest.raises(ValueError, match="^lengths" + message):
        encoder(torch.randn(2, 128, 128), lengths)


@pytest.mark.parametrize("lengths, message", BAD_LENGTHS)
def test_bad_lengths_into_the_interface(model, lengths, message):
    wavs = torch.randn(2, 16000) * 0.1
    for method in (model.classify_batch, model.encode_batch):
        with pytest.raises(ValueError, match="^wav_lens" + message):
            method(wavs, lengths)


@pytest.mark.parametrize("lengths, message", BAD_LENGTHS)
def test_bad_lengths_into_the_brain(lengths, message):
    brain = _brain()
    batch = _Batch(torch.randn(2, 16000) * 0.1, lengths)
    with pytest.raises(ValueError, match="^batch.sig lengths" + message):
        brain.compute_forward(batch, sb.Stage.VALID)


def test_good_lengths_still_work(model):
    wavs = torch.randn(2, 16000) * 0.1
    wavs[1, 8000:] = 0
    lens = torch.tensor([1.0, 0.5])
    alone = model.classify_batch(wavs[1:, :8000])[0]
    batch = model.classify_batch(wavs, lens)[0]
    assert torch.allclose(batch[1], alone[0], atol=1e-5)


# ---------------------------------------------------------------------------
# 7. integer waveforms: rejected on every entry point, with the scaling
# ---------------------------------------------------------------------------
def test_integer_waveforms_are_rejected_everywhere(model):
    pcm = (torch.randn(2, 16000) * 3000).to(torch.int16)
    message = r"integer dtype torch.int16.*1/32768"
    entry_points = [
        KaldiFbank(),
        model.classify_batch,
        model.encode_batch,
        model.predict_proba,
        lambda w: _brain().compute_forward(
            _Batch(w, torch.ones(2)), sb.Stage.VALID
        ),
    ]
    for call in entry_points:
        with pytest.raises(TypeError, match=message):
            call(pcm)
    # the documented scaling gives the float clip's result
    scaled = model.classify_batch(pcm.float() / 32768)[0]
    assert torch.isfinite(scaled).all()


# ---------------------------------------------------------------------------
# 8. clear errors
# ---------------------------------------------------------------------------
def test_empty_batch_and_channel_axis(model):
    for call in (KaldiFbank(), model.classify_batch, model.encode_batch):
        with pytest.raises(ValueError, match=r"empty batch \(shape \(0, "):
            call(torch.zeros(0, 16000))
        with pytest.raises(ValueError, match=r"\[batch, channels, time\]"):
            call(torch.zeros(2, 2, 16000))


def _unreadable_file(tmp_path):
    """A path whose open() raises PermissionError (even for root)."""
    if os.geteuid() != 0:
        path = Path(_wav(tmp_path / "locked.wav"))
        path.chmod(0)
        return str(path)
    # chmod does not stop root; sysctl write-only entries do
    path = "/proc/sys/vm/drop_caches"
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return path
    except OSError:
        pass
    pytest.skip("no file unreadable by this user")


def test_unreadable_file_says_permission_denied(model, tmp_path):
    path = _unreadable_file(tmp_path)
    with pytest.raises(AudioLoadError, match="Permission denied") as err:
        load_audio(path)
    assert path in str(err.value) and "System error" not in str(err.value)
    (result,) = model.classify_files([path], progress=False)
    assert "Permission denied" in result["error"] and path in result["error"]


def test_manifest_wav_of_wrong_type_says_so(tmp_path):
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "Custom"
    spec = importlib.util.spec_from_file_location(
        "custom_prepare_bad_inputs", recipe / "custom_prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"a": {"wav": 5, "label": "cat"}}))
    with pytest.raises(DataPreparationError, match="must be a path") as err:
        module.prepare_custom(str(tmp_path / "s"), manifest=str(manifest))
    assert "int 5" in str(err.value) and "Missing" not in str(err.value)
