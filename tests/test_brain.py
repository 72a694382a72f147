"""Tests for ast_sb.training.brain.AudioSpectrogramTransformerBrain.

Stand-in modules and synthetic tone data live in ``tests/ddp_worker.py``.

Authors
 * ast_sb developers 2026
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402
from helpers import adam, make_brain  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_KW = {"batch_size": 8, "shuffle": True}
VALID_KW = {"batch_size": 8}
LOADER_KW = {"train_loader_kwargs": TRAIN_KW, "valid_loader_kwargs": VALID_KW}


class Interrupted(Exception):
    """Simulated kill."""


class InterruptingBrain(AudioSpectrogramTransformerBrain):
    """Raises after the batch ``(interrupt_epoch, interrupt_step)``."""

    interrupt_at = None

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        super().on_fit_batch_end(batch, outputs, loss, should_step)
        if self.interrupt_at == (self._epoch, self.step):
            raise Interrupted()


def _state(brain):
    params = {
        k: v.detach().clone() for k, v in brain.modules.state_dict().items()
    }
    opt_state = brain.optimizer.state_dict()["state"]
    moments = {
        (k, name): t.clone()
        for k, s in opt_state.items()
        for name, t in s.items()
        if torch.is_tensor(t)
    }
    return params, moments, brain.hparams.lr_scheduler.state_dict()


def _assert_same_state(a, b):
    params_a, moments_a, sched_a = a
    params_b, moments_b, sched_b = b
    assert params_a.keys() == params_b.keys()
    for k in params_a:
        assert torch.equal(params_a[k], params_b[k]), k
    assert moments_a.keys() == moments_b.keys()
    for k in moments_a:
        assert torch.equal(moments_a[k], moments_b[k]), k
    assert sched_a == sched_b


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny models: thread wake-ups dominate on a loaded machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def data():
    return {
        "train": ddp_worker.make_dataset(48, seed=1, prefix="tr"),
        "valid": ddp_worker.make_dataset(24, seed=2, prefix="va"),
        "train_multi": ddp_worker.make_dataset(
            48, multi_label=True, seed=3, prefix="tr"
        ),
        "valid_multi": ddp_worker.make_dataset(
            24, multi_label=True, seed=4, prefix="va"
        ),
    }


def test_single_label_learns_and_evaluates(data, tmp_path):
    per_class = tmp_path / "per_class.txt"
    brain, counter = make_brain(
        tmp_path / "save", epochs=6, per_class_stats_file=str(per_class)
    )
    brain.fit(counter, data["train"], data["valid"], **LOADER_KW)
    assert brain.valid_stats["accuracy"] > 0.6  # chance: 0.25
    assert brain.valid_stats["error"] == pytest.approx(
        1 - brain.valid_stats["accuracy"]
    )
    groups = brain.optimizer.param_groups
    assert [g["name"] for g in groups] == ["encoder", "head"]
    assert groups[1]["lr"] / groups[0]["lr"] == pytest.approx(10.0)
    # 6 steps per epoch; step decay x0.5 from epoch 2 on -> 0.5 ** 5
    sched = brain.hparams.lr_scheduler
    assert sched.n_steps == 36 and sched.n_epochs == 6
    assert groups[0]["lr"] == pytest.approx(3e-3 * 0.5**5)
    loss = brain.evaluate(data["valid"], test_loader_kwargs=dict(VALID_KW))
    assert loss == pytest.approx(brain.test_stats["loss"])
    text = per_class.read_text()
    assert text.startswith("accuracy:") and len(text.splitlines()) == 2 + 4


def test_multi_label_map(data, tmp_path):
    brain, counter = make_brain(tmp_path / "save", epochs=6, multi_label=True)
    brain.fit(counter, data["train_multi"], data["valid_multi"], **LOADER_KW)
    stats = brain.valid_stats
    assert {"loss", "mAP", "AUC", "d_prime"} <= set(stats)
    assert stats["mAP"] > 0.7 and stats["AUC"] > 0.7 and stats["d_prime"] > 0
    ckpt = brain.checkpointer.find_checkpoint(max_key="mAP")
    assert ckpt is not None and "mAP" in ckpt.meta
    brain.evaluate(data["valid_multi"], test_loader_kwargs=dict(VALID_KW))
    assert brain.test_stats["mAP"] == pytest.approx(
        max(c.meta["mAP"] for c in brain.checkpointer.list_checkpoints())
    )


def test_clipping_covers_all_param_groups():
    modules = ddp_worker.make_modules()
    brain = AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=lambda groups: torch.optim.SGD(groups, lr=1.0),
        hparams={"head_lr_multiplier": 1.0},
        run_opts={"device": "cpu", "max_grad_norm": 0.5},
    )
    brain.init_optimizers()
    before = [p.detach().clone() for p in brain.modules.parameters()]
    for p in brain.modules.parameters():
        p.grad = torch.full_like(p, 10.0)
    brain.optimizers_step()
    delta = torch.cat(
        [
            (p.detach() - b).flatten()
            for p, b in zip(brain.modules.parameters(), before)
        ]
    )
    assert float(delta.norm()) == pytest.approx(0.5, rel=1e-4)
    head_delta = brain.modules.classifier.lin.weight.detach() - before[-2]
    assert float(head_delta.abs().max()) < 1.0  # the head is clipped too


@pytest.mark.parametrize("with_valid", [True, False])
def test_resume_end_of_epoch_is_exact(data, tmp_path, with_valid):
    valid = data["valid"] if with_valid else None
    reference, counter = make_brain(tmp_path / "ref", epochs=3)
    reference.fit(counter, data["train"], valid, **LOADER_KW)
    first, counter = make_brain(tmp_path / "run", epochs=2)
    first.fit(counter, data["train"], valid, **LOADER_KW)
    resumed, counter = make_brain(tmp_path / "run", epochs=3)
    resumed.fit(counter, data["train"], valid, **LOADER_KW)
    assert counter.current == 3
    _assert_same_state(_state(reference), _state(resumed))
    if with_valid:
        assert resumed.valid_stats == pytest.approx(reference.valid_stats)


def test_resume_intra_epoch_is_exact(data, tmp_path):
    opts = {"ckpt_interval_steps": 2}
    reference, counter = make_brain(tmp_path / "ref", epochs=3, run_opts=opts)
    reference.fit(counter, data["train"], data["valid"], **LOADER_KW)
    first, counter = make_brain(
        tmp_path / "run",
        epochs=3,
        run_opts=opts,
        brain_class=InterruptingBrain,
    )
    first.interrupt_at = (2, 5)  # intra-epoch checkpoint after step 4
    with pytest.raises(Interrupted):
        first.fit(counter, data["train"], data["valid"], **LOADER_KW)
    latest = first.checkpointer.find_checkpoint()
    assert latest.meta["end-of-epoch"] is False

    resumed, counter = make_brain(tmp_path / "run", epochs=3, run_opts=opts)
    resumed.checkpointer.recover_if_possible()
    assert resumed.step == 4 and counter.current == 1  # epoch 2 is redone
    resumed.fit(counter, data["train"], data["valid"], **LOADER_KW)
    assert counter.current == 3
    _assert_same_state(_state(reference), _state(resumed))


def test_bf16_and_no_augmentation(data, tmp_path):
    brain, counter = make_brain(
        tmp_path / "save",
        epochs=1,
        run_opts={"precision": "bf16"},
        spec_augment=None,
        mixup=None,
        lr_scheduler=None,
    )
    brain.fit(counter, data["train"], data["valid"], **LOADER_KW)
    assert torch.isfinite(torch.tensor(brain.valid_stats["loss"]))
    assert brain.hparams.lr_scheduler is None


def test_real_ast_encoder(tmp_path):
    from ast_sb import model

    encoder = model.AudioSpectrogramTransformerEncoder(
        size="tiny224", n_mels=33, target_length=64
    )
    classifier = model.AudioSpectrogramTransformerClassifier(
        encoder.embed_dim, 4, output="log_softmax"
    )
    modules = ddp_worker.make_modules()
    modules["embedding_model"] = encoder
    modules["classifier"] = classifier
    brain = AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=adam,
        hparams=ddp_worker.make_hparams(False),
        run_opts={"device": "cpu", "noprogressbar": True},
    )
    train = ddp_worker.make_dataset(8, seed=5)
    brain.fit([1], train, train, train_loader_kwargs={"batch_size": 4})
    assert brain.valid_stats["n_examples"] == 8


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_gloo_processes(tmp_path):
    """torchrun, 2 CPU ranks (gloo): replicas stay identical on other shards.

    After 2 epochs of 4 steps every parameter is bit-identical on both ranks
    (gradients are averaged, so any per-rank difference in the update, such as
    another learning rate, shows), the parameters moved away from their
    initialisation, and the two ranks trained on disjoint shards that
    together cover the training set in every epoch.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "--monitor-interval=0.1",
        os.path.join(REPO, "tests", "ddp_worker.py"),
        str(tmp_path),
    ]
    result = subprocess.run(
        cmd,
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for mode, key in (("single", "error"), ("multi", "mAP")):
        ranks = [
            json.loads((tmp_path / f"rank{r}_{mode}.json").read_text())
            for r in (0, 1)
        ]
        assert all(r["world_size"] == 2 for r in ranks)
        assert ranks[0]["valid"][key] == ranks[1]["valid"][key]
        assert ranks[0]["test"] == ranks[1]["test"]
        # the test set was sharded (5 + 5 examples) and gathered to 10
        assert ranks[0]["n_test_local"] == ranks[1]["n_test_local"] == 5
        if mode == "single":
            assert ranks[0]["test"]["n_examples"] == 10
        assert (tmp_path / f"save_{mode}").is_dir()
        params = [
            torch.load(tmp_path / f"rank{r}_{mode}_params.pt") for r in (0, 1)
        ]
        initial = ddp_worker.make_modules(multi_label=mode == "multi")
        initial = torch.nn.ModuleDict(initial).named_parameters()
        initial = {k: v.detach() for k, v in initial}
        assert params[0].keys() == params[1].keys() == initial.keys()
        for name in params[0]:
            assert torch.equal(params[0][name], params[1][name]), name
            assert not torch.equal(params[0][name], initial[name]), name
        # each rank saw its own shard: disjoint ids, together the train set
        for epoch in (1, 2):
            ids = [
                [
                    i
                    for e, _, batch in rank["train_batches"]
                    if e == epoch
                    for i in batch
                ]
                for rank in ranks
            ]
            assert len(ids[0]) == len(ids[1]) == 16
            assert not set(ids[0]) & set(ids[1])
            assert set(ids[0]) | set(ids[1]) == {
                f"tr{i:03d}" for i in range(32)
            }
            steps = [
                [s for e, s, _ in rank["train_batches"] if e == epoch]
                for rank in ranks
            ]
            assert steps[0] == steps[1] == [1, 2, 3, 4]
