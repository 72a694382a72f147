"""Untrusted model folders and checkpoints, and atomic folder writes.

Issue 11, points 9 (a model folder's YAML is code: the default load path
executes nothing), 10 (no load path unpickles code, even with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) and 11 (``convert`` / export refuse
a non-empty target and never leave a half-written folder).

Authors
 * ast_sb developers 2026
"""

import json
import os
import sys

import pytest
import torch
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.inference.classifiers import EncoderClassifier
from speechbrain.utils.checkpoints import Checkpointer

import ast_sb.export.folder
import ast_sb.export.model_export
from ast_sb.cli import main
from ast_sb.export.atomic_folder import FolderExistsError
from ast_sb.export.folder import export_inference_folder
from ast_sb.export.model_export import export_model
from ast_sb.export.safe_folder import DESCRIPTION_FILE, UntrustedModelError
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.features import KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.training.schedulers import WarmupDecayScheduler
from ast_sb.weights.pretrained import (
    CheckpointError,
    export_original,
    load_pretrained,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import make_model_folder  # noqa: E402

LABELS = ["cat", "dog", "bird"]
Interface = AudioSpectrogramTransformerInterface


class MakeDir:
    """Unpickling it creates a directory: stands for any code execution."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _malicious_ckpt(path, marker):
    torch.save({"weight": MakeDir(marker)}, str(path))


def _wav():
    return torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def folder(tmp_path):
    return make_model_folder(tmp_path / "model", LABELS)


@pytest.fixture
def no_weights_only_default(monkeypatch):
    """torch.load defaults to weights_only=False, as on torch < 2.6."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def _append_yaml(folder, marker):
    with open(os.path.join(folder, "hyperparams.yaml"), "a") as fout:
        fout.write(f"\nexploit: !apply:os.mkdir [{marker}]\n")


# ---------------------------------------------------------------------------
# 9. the YAML is code; the default path runs nothing
# ---------------------------------------------------------------------------
def test_malicious_yaml_is_ignored_on_the_safe_path(folder, tmp_path, capsys):
    marker = tmp_path / "yaml_ran"
    _append_yaml(folder, marker)
    model = Interface.from_folder(folder)
    assert model.labels == LABELS
    assert main(["info", "--model", folder]) == 0
    assert main(["classify", "--model", folder, "--help"]) == 0
    assert not marker.exists()
    # the same folder through its YAML runs the code: the test can fail
    Interface.from_folder(folder, trust_yaml=True)
    assert marker.exists()
    assert "--trust-yaml" in capsys.readouterr().out


def test_yaml_only_folder_is_refused_by_default(folder, tmp_path, capsys):
    marker = tmp_path / "yaml_ran"
    _append_yaml(folder, marker)
    os.remove(os.path.join(folder, DESCRIPTION_FILE))
    with pytest.raises(UntrustedModelError, match="trust_yaml=True"):
        Interface.from_folder(folder)
    assert main(["info", "--model", folder]) == 1
    assert "--trust-yaml" in capsys.readouterr().err
    assert not marker.exists()
    assert main(["info", "--model", folder, "--trust-yaml"]) == 0
    assert marker.exists()


def test_description_names_only_allowed_classes(folder):
    path = os.path.join(folder, DESCRIPTION_FILE)
    with open(path, encoding="utf-8") as fin:
        data = json.load(fin)
    data["modules"]["classifier"]["class"] = "subprocess.Popen"
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout)
    with pytest.raises(UntrustedModelError, match="subprocess.Popen"):
        Interface.from_folder(folder)


def test_description_parts_name_only_allowed_classes(folder):
    """The trained parts inside the pipeline modules are checked too."""
    path = os.path.join(folder, DESCRIPTION_FILE)
    with open(path, encoding="utf-8") as fin:
        data = json.load(fin)
    parts = data["modules"]["embedding_model"]["parts"]
    parts["compute_features"]["class"] = "os.system"
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout)
    with pytest.raises(UntrustedModelError, match="os.system"):
        Interface.from_folder(folder)


def test_safe_path_gives_the_yaml_path_outputs(folder):
    safe = Interface.from_folder(folder)
    yaml = Interface.from_folder(folder, trust_yaml=True)
    wavs = _wav() * 0.1
    assert torch.equal(
        safe.classify_batch(wavs)[0], yaml.classify_batch(wavs)[0]
    )
    assert safe.sample_rate == yaml.sample_rate and safe.labels == yaml.labels


def test_safe_path_rebuilds_the_exported_pipeline(tmp_path):
    """The description rebuilds the exported layout (WaveformEncoder /
    WindowedClassifier, window settings): the same scores as the YAML and
    as plain EncoderClassifier, for a padded batch of mixed lengths with a
    clip longer than the grid (sliding windows)."""
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 3)
    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    folder = export_inference_folder(
        str(tmp_path / "m"),
        enc,
        head,
        labels,
        {"target_length": 128},
        {"mean": -5.0, "std": 4.0},
        eval_window_seconds=0.8,
        eval_hop_seconds=0.4,
    )
    safe = Interface.from_folder(folder)
    yaml = Interface.from_folder(folder, trust_yaml=True)
    plain = EncoderClassifier.from_hparams(source=folder, savedir=folder)
    for name in ("compute_features", "mean_var_norm", "embedding_model"):
        assert type(safe.mods[name]) is type(yaml.mods[name])
    assert type(safe.mods.classifier) is type(yaml.mods.classifier)
    assert safe.window_settings == yaml.window_settings
    assert safe.window_settings["eval_window_seconds"] == 0.8
    assert safe.normalizer.mean == -5.0 and safe.normalizer.std == 4.0
    gen = torch.Generator().manual_seed(1)
    wavs = torch.zeros(3, 40000)
    sizes = [40000, 9000, 16000]  # 2.5 s: longer than the 1.3 s grid
    for i, size in enumerate(sizes):
        wavs[i, :size] = torch.randn(size, generator=gen) * 0.1
    lens = torch.tensor([s / 40000 for s in sizes])
    out_safe = safe.classify_batch(wavs, lens)[0]
    assert torch.equal(out_safe, yaml.classify_batch(wavs, lens)[0])
    assert torch.equal(out_safe, plain.classify_batch(wavs, lens)[0])
    alone = safe.classify_batch(wavs[1:2, : sizes[1]])[0]
    assert (alone - out_safe[1:2]).abs().max().item() <= 1e-5


# ---------------------------------------------------------------------------
# 10. no load path unpickles code, on any torch default
# ---------------------------------------------------------------------------
def test_the_threat_is_real(tmp_path, no_weights_only_default):
    marker = tmp_path / "pickle_ran"
    _malicious_ckpt(tmp_path / "evil.ckpt", marker)
    torch.load(str(tmp_path / "evil.ckpt"))
    assert marker.exists()


def test_model_folder_checkpoints(folder, tmp_path, no_weights_only_default):
    marker = tmp_path / "pickle_ran"
    for name in ("classifier.ckpt", "embedding_model.ckpt"):
        _malicious_ckpt(os.path.join(folder, name), marker)
    # the safe path never reads the pickles
    assert Interface.from_folder(folder).n_classes == 3
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        Interface.from_folder(folder, trust_yaml=True)
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        EncoderClassifier.from_hparams(
            source=folder, savedir=str(tmp_path / "save")
        )
    assert main(["info", "--model", folder, "--trust-yaml"]) != 0
    assert not marker.exists()


def test_checkpoint_recovery(tmp_path, no_weights_only_default):
    marker = tmp_path / "pickle_ran"
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = WarmupDecayScheduler(warmup_steps=1)
    recoverables = {"model": model, "optimizer": optimizer, "sched": scheduler}
    for name in recoverables:
        checkpointer = Checkpointer(
            str(tmp_path / name), recoverables=recoverables
        )
        ckpt = checkpointer.save_checkpoint()
        _malicious_ckpt(ckpt.paramfiles[name], marker)
        with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
            checkpointer.recover_if_possible()
    assert not marker.exists()


def test_pretrained_and_convert(tmp_path, no_weights_only_default, capsys):
    marker = tmp_path / "pickle_ran"
    pth = tmp_path / "evil.pth"
    enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    state = export_original(enc, head)
    state["module.payload"] = MakeDir(marker)
    torch.save(state, str(pth))
    with pytest.raises(CheckpointError):
        load_pretrained(enc, str(pth), head)
    assert main(["convert", str(pth), str(tmp_path / "out")]) == 1
    assert not marker.exists()


# ---------------------------------------------------------------------------
# 11. atomic folder writes
# ---------------------------------------------------------------------------
def _listing(folder):
    return {
        name: open(os.path.join(folder, name), "rb").read()
        for name in sorted(os.listdir(folder))
    }


def _leftovers(folder):
    parent, name = os.path.split(os.path.abspath(folder))
    return [f for f in os.listdir(parent) if f.startswith(f".{name}.")]


def test_convert_refuses_a_non_empty_target(tmp_path, capsys):
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2, "logits")
    pth = tmp_path / "ast.pth"
    torch.save(export_original(enc, head), str(pth))
    out = tmp_path / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["convert", str(pth), str(out), "--target-length", "128"]
    assert main(args) == 1
    assert "not empty" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["notes.txt"]
    assert main(args + ["--overwrite"]) == 0
    assert "notes.txt" not in os.listdir(out)
    assert Interface.from_folder(str(out)).n_classes == 2
    assert not _leftovers(out)


def _export(folder, overwrite=False, seed=0):
    torch.manual_seed(seed)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b"])
    return export_inference_folder(
        str(folder),
        enc,
        head,
        labels,
        {"target_length": 128},
        None,
        overwrite=overwrite,
    )


def test_interrupted_export_leaves_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "model"
    _export(out)
    before = _listing(out)
    with pytest.raises(FolderExistsError):
        _export(out, seed=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the weights, before the YAML

    monkeypatch.setattr(ast_sb.export.folder.shutil, "copyfile", killed)
    with pytest.raises(KeyboardInterrupt):
        _export(out, overwrite=True, seed=1)
    assert _listing(out) == before
    assert not _leftovers(out)
    monkeypatch.undo()
    _export(out, overwrite=True, seed=1)
    assert _listing(out) != before and not _leftovers(out)


def test_interrupted_model_export_leaves_the_old_folder(
    folder, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "exported"
    args = ["export", "--model", folder, "--out", str(out)]
    assert main(args + ["--format", "torchscript"]) == 0
    before = _listing(out)
    assert main(args + ["--format", "torchscript"]) == 1
    assert "not empty" in capsys.readouterr().err

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the TorchScript file is written

    monkeypatch.setattr(ast_sb.export.model_export, "check_torchscript", killed)
    with pytest.raises(KeyboardInterrupt):
        export_model(folder, str(out), ["torchscript"], overwrite=True)
    assert _listing(out) == before
    assert not _leftovers(out)


class CustomFbank(KaldiFbank):
    """A front end outside the allow-list: only YAML can describe it."""


def test_custom_modules_get_no_description(tmp_path):
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b"])
    out = export_inference_folder(
        str(tmp_path / "m"), enc, head, labels, CustomFbank(target_length=128)
    )
    assert DESCRIPTION_FILE not in os.listdir(out)
    with pytest.raises(UntrustedModelError, match="trust_yaml=True"):
        Interface.from_folder(out)
