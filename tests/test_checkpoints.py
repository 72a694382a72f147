"""Crash safety of the checkpoints the Brain saves and recovers.

The Brain is given SpeechBrain's stock ``Checkpointer`` (as a recipe YAML
builds it) and must save atomically and recover from the newest complete
checkpoint when newer folders are incomplete.

Authors
 * ast_sb developers 2026
"""

import logging
import os
import sys

import pytest
import torch
import yaml
from speechbrain.utils.checkpoints import (
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.epoch_loop import EpochCounter

from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402


@register_checkpoint_hooks
class FolderProbe:
    """Recoverable that records the checkpoint folders while it is saved.

    Arguments
    ---------
    folder : pathlib.Path
        The checkpoints folder.
    """

    def __init__(self, folder):
        self.folder = folder
        self.seen = []

    @mark_as_saver
    def save(self, path):
        """Records the ``CKPT+`` folders visible during the save."""
        self.seen.append(
            sorted(
                p.name for p in self.folder.iterdir() if p.name[:4] == "CKPT"
            )
        )
        with open(path, "w", encoding="utf-8") as fout:
            fout.write("probe\n")

    @mark_as_loader
    def load(self, path, end_of_epoch):
        """Nothing to restore."""
        del path, end_of_epoch


def _brain(folder, seed=0, extra=None):
    """A stand-in-model Brain with a stock Checkpointer in ``folder``."""
    modules = ddp_worker.make_modules(seed=seed)
    counter = EpochCounter(1)
    recoverables = dict(extra or {})
    recoverables.update(
        embedding_model=modules["embedding_model"],
        classifier=modules["classifier"],
        counter=counter,
    )
    brain = AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=lambda groups: torch.optim.Adam(groups, lr=3e-3),
        hparams=ddp_worker.make_hparams(epoch_counter=counter),
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=Checkpointer(folder, recoverables=recoverables),
    )
    return brain, counter


def _params(brain):
    return {k: v.clone() for k, v in brain.modules.state_dict().items()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch trained; its end-of-epoch checkpoint and weights."""
    folder = tmp_path_factory.mktemp("ckpt")
    brain, counter = _brain(folder)
    data = ddp_worker.make_dataset(16, seed=1)
    brain.fit(counter, data, train_loader_kwargs={"batch_size": 8})
    (ckpt,) = brain.checkpointer.list_checkpoints()
    return folder, ckpt, _params(brain)


def _newer_copy(ckpt, name, files):
    """A checkpoint folder newer than ``ckpt`` holding ``files`` of it."""
    folder = ckpt.path.parent / name
    folder.mkdir()
    meta = dict(ckpt.meta, unixtime=ckpt.meta["unixtime"] + 100.0)
    with open(folder / "CKPT.yaml", "w", encoding="utf-8") as fout:
        yaml.dump(meta, fout)
    for fname in files:
        (folder / fname).write_bytes((ckpt.path / fname).read_bytes())
    return folder


@pytest.mark.parametrize("damage", ["meta_only", "truncated", "bad_meta"])
def test_recovery_skips_incomplete_newer_checkpoint(trained, damage, caplog):
    folder, ckpt, weights = trained
    name = f"CKPT+2999-01-01+00-00-00+{damage}"
    files = sorted(p.name for p in ckpt.path.iterdir() if p.suffix == ".ckpt")
    if damage == "meta_only":  # kill -9 right after the meta file
        broken = _newer_copy(ckpt, name, [])
    elif damage == "truncated":  # kill -9 inside torch.save
        broken = _newer_copy(ckpt, name, files)
        target = broken / "embedding_model.ckpt"
        target.write_bytes(target.read_bytes()[:100])
    else:  # kill -9 inside the meta file write
        broken = _newer_copy(ckpt, name, files)
        (broken / "CKPT.yaml").write_text("end-of-epoch: tr", "utf-8")
    try:
        brain, _ = _brain(folder, seed=5)
        assert not all(
            torch.equal(v, weights[k]) for k, v in _params(brain).items()
        )
        with caplog.at_level(logging.WARNING):
            loaded = brain.checkpointer.recover_if_possible()
        assert loaded.path == ckpt.path
        for key, value in _params(brain).items():
            assert torch.equal(value, weights[key]), key
        assert name in caplog.text and "incomplete" in caplog.text
    finally:
        for path in broken.iterdir():
            path.unlink()
        broken.rmdir()


def test_checkpoint_folder_appears_only_when_complete(tmp_path):
    probe = FolderProbe(tmp_path)
    # the probe is saved first: a stock save shows its CKPT+ folder by then
    brain, _ = _brain(tmp_path, extra={"probe": probe})
    first = brain.checkpointer.save_checkpoint(meta={"n": 1})
    assert probe.seen == [[]]
    expected = {f"{name}.ckpt" for name in brain.checkpointer.recoverables}
    assert {p.name for p in first.path.iterdir()} == expected | {"CKPT.yaml"}
    brain.checkpointer.save_checkpoint(meta={"n": 2})
    assert probe.seen[-1] == [first.path.name]
    # a custom name is replaced as a whole
    brain.checkpointer.save_checkpoint(meta={"n": 3}, name="last")
    brain.checkpointer.save_checkpoint(meta={"n": 4}, name="last")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and "CKPT+last" in names
    last = brain.checkpointer.find_checkpoint(max_key="n")
    assert last.meta["n"] == 4 and last.path.name == "CKPT+last"


def test_each_save_costs_the_same(tmp_path):
    """SpeechBrain's shared default list made save N list checkpoints N
    times more often (quadratic in the number of saves)."""
    brain, _ = _brain(tmp_path)
    ckpter = brain.checkpointer
    calls = []
    find = ckpter.find_checkpoints

    def counting(*args, **kwargs):
        calls.append(1)
        return find(*args, **kwargs)

    ckpter.find_checkpoints = counting
    per_save = []
    for i in range(6):
        before = len(calls)
        ckpter.save_and_keep_only(meta={"error": 1.0 / (i + 1)})
        per_save.append(len(calls) - before)
    assert per_save[-1] == per_save[1]
    assert len(ckpter.list_checkpoints()) == 1


def test_interrupted_replacement_is_undone_by_next_save(tmp_path):
    brain, _ = _brain(tmp_path)
    ckpter = brain.checkpointer
    ckpter.save_checkpoint(meta={"n": 1}, name="last")
    # a kill between moving the old "last" aside and renaming the new one
    os.rename(tmp_path / "CKPT+last", tmp_path / ".partial-old-CKPT+last")
    (tmp_path / ".partial-CKPT+last").mkdir()
    assert ckpter.list_checkpoints() == []
    ckpter.save_checkpoint(meta={"n": 2})
    assert sorted(c.meta["n"] for c in ckpter.list_checkpoints()) == [1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
