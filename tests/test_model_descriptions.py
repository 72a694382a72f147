"""Hostile or broken model descriptions (``ast_sb_model.json``): bounded
sizes checked against the weights' header before anything large is built,
checked dtypes, clear errors naming the key, no options switched on from
``extra``, special files named (issue 24).

Authors
 * ast_sb developers 2026
"""

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.export.folder import ExportError, export_inference_folder
from ast_sb.export.safe_folder import (
    DESCRIPTION_FILE,
    WEIGHTS_FILE,
    UntrustedModelError,
    load_described_modules,
)
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

ENCODER = ("modules", "embedding_model", "parts", "encoder", "config")
FBANK = ("modules", "embedding_model", "parts", "compute_features", "config")
PIPELINE = ("modules", "embedding_model", "config")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=32, fstride=16, tstride=16
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["cat", "dog"])
    out = str(tmp_path_factory.mktemp("desc") / "model")
    export_inference_folder(out, enc, head, labels, {"target_length": 32})
    return out


@pytest.fixture
def folder(exported, tmp_path):
    copy = str(tmp_path / "model")
    shutil.copytree(exported, copy)
    return copy


def _edit(folder, path, key, value):
    """Sets ``description[path...][key] = value``."""
    file = os.path.join(folder, DESCRIPTION_FILE)
    with open(file) as fin:
        data = json.load(fin)
    node = data
    for name in path:
        node = node[name]
    node[key] = value
    with open(file, "w") as fout:
        json.dump(data, fout)


@pytest.mark.parametrize(
    "path, key, value",
    [
        (ENCODER, "depth", 1_000_000),
        (ENCODER, "embed_dim", 1_000_000_000),
        (ENCODER, "target_length", 10**12),
        (ENCODER, "n_mels", 10**9),
        (FBANK, "n_mels", 10**9),
        (FBANK, "frame_length_ms", 1e6),
        ((), "sample_rate", 10**15),
        (PIPELINE, "sample_rate", 10**15),
        (ENCODER, "depth", -3),
        (ENCODER, "depth", True),
        (ENCODER, "mlp_ratio", 1e9),
    ],
)
def test_unbounded_or_invalid_sizes_name_the_key(folder, path, key, value):
    _edit(folder, path, key, value)
    with pytest.raises(UntrustedModelError) as err:
        load_described_modules(folder)
    assert f"{key} = {value!r} must be" in str(err.value)


def test_info_reports_a_bad_size_as_an_error(folder, capsys):
    from ast_sb.cli import main

    _edit(folder, ENCODER, "depth", 1_000_000)
    assert main(["info", "--model", folder]) == 1
    assert "depth = 1000000 must be an integer in [1, 64]" in (
        capsys.readouterr().err
    )


def test_sizes_are_checked_against_the_header_before_building(
    folder, monkeypatch
):
    """Within the limits but 200 GB of weights: refused from the header,
    never built for real (a guard fails the test if it is)."""
    real_init = AudioSpectrogramTransformerEncoder.__init__

    def guarded(self, *args, **kwargs):
        if torch.empty(0).device.type != "meta" and kwargs.get("depth") != 1:
            pytest.fail("a large encoder was built before the header check")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(AudioSpectrogramTransformerEncoder, "__init__", guarded)
    _edit(folder, ENCODER, "depth", 64)
    _edit(folder, ENCODER, "embed_dim", 8192)
    _edit(folder, ENCODER, "num_heads", 64)
    with pytest.raises(UntrustedModelError) as err:
        load_described_modules(folder)
    message = str(err.value)
    assert "does not match" in message and "embedding_model.encoder." in message
    # a plain mismatch names the tensor and both shapes
    monkeypatch.undo()
    _edit(folder, ENCODER, "depth", 1)
    _edit(folder, ENCODER, "embed_dim", 384)
    _edit(folder, ENCODER, "num_heads", 6)
    with pytest.raises(UntrustedModelError) as err:
        load_described_modules(folder)
    assert (
        "tensor embedding_model.encoder.cls_token has shape [1, 1, 192] in "
        "the file, the description builds [1, 1, 384]"
    ) in str(err.value)


def test_integer_weights_are_refused_by_name(folder):
    path = os.path.join(folder, WEIGHTS_FILE)
    tensors = load_file(path)
    key = "classifier.head.linear.weight"
    assert key in tensors, sorted(tensors)
    tensors[key] = (tensors[key] * 1000).round().to(torch.int64)
    save_file(tensors, path)
    with pytest.raises(UntrustedModelError) as err:
        load_described_modules(folder)
    assert f"tensor {key} is int64 in the file" in str(err.value)


@pytest.mark.parametrize("key", ["compile", "jit", "device", "precision"])
def test_extra_cannot_switch_on_options(folder, key):
    _edit(folder, (), "extra", {key: True})
    with pytest.raises(UntrustedModelError, match=f"extra.{key} is an option"):
        AudioSpectrogramTransformerInterface.from_folder(folder)


def test_export_refuses_reserved_extra(tmp_path):
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=32, fstride=16, tstride=16
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b"])
    with pytest.raises(ExportError, match="extra.compile"):
        export_inference_folder(
            str(tmp_path / "m"), enc, head, labels, extra_hparams={"compile": 1}
        )
    assert not os.path.exists(tmp_path / "m")


def test_other_invalid_descriptions_name_the_problem(folder):
    file = os.path.join(folder, DESCRIPTION_FILE)
    with open(file, "w") as fout:
        fout.write("[" * 100_000)
    with pytest.raises(UntrustedModelError, match="nested too deeply"):
        load_described_modules(folder)


@pytest.mark.parametrize(
    "path, key, value, message",
    [
        (ENCODER, "num_heads", 5, "embed_dim = 192 is not a multiple"),
        (ENCODER, "evil", 1, "config.evil is not an argument"),
        ((), "sample_rate", 8000, "differs from modules.embedding_model"),
    ],
)
def test_inconsistent_descriptions_name_the_key(
    folder, path, key, value, message
):
    _edit(folder, path, key, value)
    with pytest.raises(UntrustedModelError, match=message):
        load_described_modules(folder)


@pytest.mark.parametrize("name", [WEIGHTS_FILE, DESCRIPTION_FILE])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_special_files_are_named_not_missing(folder, name, kind):
    path = os.path.join(folder, name)
    os.remove(path)
    if kind == "fifo":
        os.mkfifo(path)
        expected = "a FIFO (named pipe)"
    else:
        os.symlink("/dev/zero", path)
        expected = "a symbolic link to /dev/zero, a character device"
    with pytest.raises(UntrustedModelError) as err:
        AudioSpectrogramTransformerInterface.from_folder(folder)
    message = str(err.value)
    assert f"{path} is {expected}, not a regular file" in message
    assert "trust_yaml" not in message


def test_valid_description_still_loads(folder):
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    assert model.hparams.sample_rate == 16000
