"""A full disk: one clear error, no temporary files, no partial output.

Most cases inject ``OSError(ENOSPC)`` (or the message a library gives
instead) at the write; one runs ``ast-sb export --overwrite`` on a real
full tmpfs in a user namespace (``unshare -r -m``), skipped where that is
not allowed: torch's C++ writer aborted the process there (SIGABRT).

Authors
 * ast_sb developers 2026
"""

import errno
import os
import shutil
import subprocess
import sys

import pytest
import torch
from helpers import make_model_folder
from speechbrain.dataio.encoder import CategoricalEncoder

import ast_sb.export.folder
import ast_sb.export.safe_folder
from ast_sb.cli import main
from ast_sb.dataio.audio import save_audio
from ast_sb.disk_space import DiskFullError, write_file_atomic
from ast_sb.export.folder import export_inference_folder
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _listing(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _others(folder):
    """Files next to ``folder`` other than itself (temporary leftovers)."""
    return sorted(p.name for p in folder.parent.iterdir() if p != folder)


def _export(out, overwrite=False):
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b"])
    return export_inference_folder(
        str(out), enc, head, labels, {"target_length": 128}, overwrite=overwrite
    )


@pytest.mark.parametrize(
    "where,error",
    [
        ("safetensors", "Error while serializing: I/O error: No space left "
         "on device (os error 28)"),
        ("torch.save", "[enforce fail at inline_container.cc:672] . "
         "unexpected pos 910976 vs 910864"),
    ],
)  # fmt: skip
def test_export_on_a_full_disk_keeps_the_old_folder(
    tmp_path, monkeypatch, where, error
):
    out = tmp_path / "parent" / "model"
    _export(out)
    before = _listing(out)

    def full(*args, **kwargs):
        raise RuntimeError(error)

    if where == "safetensors":
        monkeypatch.setattr(ast_sb.export.safe_folder, "save_file", full)
    else:
        monkeypatch.setattr(ast_sb.export.folder.torch, "save", full)
    with pytest.raises(DiskFullError, match=f"No space left.*{out}"):
        _export(out, overwrite=True)
    assert _listing(out) == before and _others(out) == []


def test_classify_output_on_a_full_disk(tmp_path, monkeypatch, capsys):
    """``classify --output``: a clear error, and no 0-byte or partial file
    (the previous result stays as it was)."""
    folder = make_model_folder(tmp_path / "m", ["a", "b"])
    clip = tmp_path / "clip.wav"
    save_audio(clip, torch.randn(8000) * 0.1, 16000)
    results = tmp_path / "out" / "result.json"
    args = ["classify", str(clip), "--model", folder, "--output", str(results)]
    assert main(args) == 0
    before = results.read_bytes()
    monkeypatch.setattr("ast_sb.disk_space.os.fsync", _full)
    capsys.readouterr()
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert (
        err.startswith("ast-sb: error: No space left") and str(results) in err
    )
    assert "Traceback" not in err and out == ""
    assert results.read_bytes() == before
    assert sorted(os.listdir(results.parent)) == ["result.json"]


def test_write_file_atomic_keeps_nothing_partial(tmp_path, monkeypatch):
    path = tmp_path / "new.json"
    monkeypatch.setattr("ast_sb.disk_space.os.fsync", _full)
    with pytest.raises(DiskFullError) as err:
        write_file_atomic(path, "x" * 100)
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr("ast_sb.disk_space.os.fsync", lambda fd: None)
    monkeypatch.setattr("ast_sb.disk_space.os.replace", _full)
    with pytest.raises(DiskFullError):
        write_file_atomic(path, "x")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    permission = OSError(errno.EACCES, "Permission denied")

    def denied(*args):
        raise permission

    monkeypatch.setattr("ast_sb.disk_space.os.replace", denied)
    with pytest.raises(OSError) as err:
        write_file_atomic(path, "x")  # other errors stay what they are
    assert err.value is permission and os.listdir(tmp_path) == []


def _unshare_works():
    if not sys.platform.startswith("linux") or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c",
         "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
         "mount -t tmpfs -o size=64k tmpfs /tmp"],
        capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="no user-namespace tmpfs")
def test_export_overwrite_on_a_real_full_tmpfs(tmp_path):
    """``ast-sb export --overwrite`` on a tmpfs with room for one export:
    exit 1 with one line naming the folder, the old export intact, no
    temporary folder (was: SIGABRT and a C++ stack trace)."""
    folder = make_model_folder(tmp_path / "m", ["a", "b"])
    mount = tmp_path / "small"
    mount.mkdir()
    out = mount / "exp"
    code = (
        "import sys; from ast_sb.cli import main; "
        f"args = ['export', '--model', {folder!r}, '--out', {str(out)!r}, "
        "'--format', 'torchscript']; "
        "assert main(args) == 0; sys.stdout.flush(); "
        f"files = lambda: repr(sorted((f.name, f.stat().st_size, "
        f"f.stat().st_mtime_ns) for f in __import__('os').scandir("
        f"{str(out)!r}))); before = files(); "
        "print('rc=%d' % main(args + ['--overwrite'])); "
        "print('unchanged' if files() == before else 'changed')"
    )
    script = (
        f"mount -t tmpfs -o size=3000k tmpfs {mount} && "
        f'{sys.executable} -c "{code}" > {tmp_path}/run.txt; '
        f"ls -a {mount}"
    )
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONWARNINGS="ignore")
    run = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    printed = (tmp_path / "run.txt").read_text()
    assert printed.endswith("rc=1\nunchanged\n"), printed + run.stderr
    assert f"ast-sb: error: No space left on the device of {out}" in run.stderr
    assert "Traceback" not in run.stderr and "frame #" not in run.stderr
    assert run.stdout.split() == [".", "..", "exp"]  # no temporary folder
