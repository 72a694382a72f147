"""Tests for ast_sb.training.schedulers.WarmupDecayScheduler.

Authors
 * ast_sb developers 2026
"""

import math

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from ast_sb.training.schedulers import WarmupDecayScheduler


def _optimizer(lrs=(1e-4, 1e-3)):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in lrs]
    return torch.optim.Adam(
        [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    )


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def test_linear_warmup_then_constant():
    opt = _optimizer()
    sched = WarmupDecayScheduler(warmup_steps=4, decay="constant")
    sched.attach(opt)
    seen = [_lrs(opt)[0]]
    for _ in range(6):
        sched.on_batch_end(opt)
        seen.append(_lrs(opt)[0])
    # the k-th update uses k / 4 of the base lr, then the base lr
    expected = [1e-4 * k / 4 for k in (1, 2, 3, 4)] + [1e-4] * 3
    assert seen == pytest.approx(expected)


@pytest.mark.parametrize(
    "start, step, gamma", [(5, 1, 0.85), (10, 5, 0.5), (2, 1, 0.5)]
)
def test_step_decay_matches_multisteplr(start, step, gamma):
    """Same schedule as the AST code's MultiStepLR stepped per epoch."""
    opt = _optimizer()
    sched = WarmupDecayScheduler(
        warmup_steps=0,
        decay="step",
        gamma=gamma,
        decay_start=start,
        step_epochs=step,
    )
    sched.attach(opt)
    ref_opt = _optimizer()
    ref = torch.optim.lr_scheduler.MultiStepLR(
        ref_opt, list(range(start, 1000, step)), gamma=gamma
    )
    for epoch in range(1, 26):
        assert _lrs(opt) == pytest.approx(_lrs(ref_opt), rel=1e-9)
        for _ in range(3):
            sched.on_batch_end(opt)
        sched.on_epoch_end(epoch, opt)
        ref_opt.step()  # no gradients: a no-op, keeps torch's order check
        ref.step()


def test_ratio_preserved_with_warmup_and_decay():
    opt = _optimizer((2e-5, 2e-4))
    sched = WarmupDecayScheduler(
        warmup_steps=5, decay="step", gamma=0.85, decay_start=1
    )
    sched.attach(opt)
    for epoch in range(1, 6):
        for _ in range(3):
            lrs = _lrs(opt)
            assert lrs[1] / lrs[0] == pytest.approx(10.0)
            sched.on_batch_end(opt)
        sched.on_epoch_end(epoch, opt)
    assert _lrs(opt)[0] == pytest.approx(2e-5 * 0.85**5)
    assert sched.current_lrs() == pytest.approx(_lrs(opt))


def test_cosine_decay():
    opt = _optimizer()
    sched = WarmupDecayScheduler(
        warmup_steps=2, decay="cosine", total_steps=12, min_lr_ratio=0.1
    )
    sched.attach(opt)
    values = []
    for _ in range(14):
        values.append(_lrs(opt)[0] / 1e-4)
        sched.on_batch_end(opt)
    assert values[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert values[7] == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2))
    )
    assert values[12] == pytest.approx(0.1) and values[13] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    epochwise = WarmupDecayScheduler(
        decay="cosine", decay_start=0, total_epochs=4, min_lr_ratio=0.0
    )
    factors = [epochwise.get_factor(0, e) for e in range(6)]
    assert factors == pytest.approx(
        [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.1464466, 0.0, 0.0],
        abs=1e-6,
    )


def test_epoch_end_idempotent_and_validation():
    opt = _optimizer()
    sched = WarmupDecayScheduler(decay="step", gamma=0.5, decay_start=1)
    sched.on_epoch_end(1, opt)  # attaches lazily
    sched.on_epoch_end(1, opt)
    assert _lrs(opt) == pytest.approx([5e-5, 5e-4])
    with pytest.raises(ValueError):
        WarmupDecayScheduler(decay="linear")
    with pytest.raises(ValueError):
        WarmupDecayScheduler(decay="cosine")
    with pytest.raises(ValueError):
        sched.attach(_optimizer((1.0,)))


def test_state_dict_and_checkpointer_round_trip(tmp_path):
    opt = _optimizer()
    sched = WarmupDecayScheduler(
        warmup_steps=3, decay="step", gamma=0.5, decay_start=1
    )
    sched.attach(opt)
    for _ in range(4):
        sched.on_batch_end(opt)
    sched.on_epoch_end(1, opt)
    state = sched.state_dict()
    assert state == {"n_steps": 4, "n_epochs": 1, "base_lrs": [1e-4, 1e-3]}

    ckpt = Checkpointer(tmp_path, recoverables={"lr_scheduler": sched})
    ckpt.save_checkpoint()

    # a fresh optimizer whose lr was changed: base lrs come from the state
    new_opt = _optimizer((7.0, 7.0))
    new_sched = WarmupDecayScheduler(
        warmup_steps=3, decay="step", gamma=0.5, decay_start=1
    )
    Checkpointer(
        tmp_path, recoverables={"lr_scheduler": new_sched}
    ).recover_if_possible()
    assert new_sched.state_dict() == state
    new_sched.attach(new_opt)
    assert _lrs(new_opt) == pytest.approx(_lrs(opt))
    for _ in range(2):
        sched.on_batch_end(opt)
        new_sched.on_batch_end(new_opt)
    sched.on_epoch_end(2, opt)
    new_sched.on_epoch_end(2, new_opt)
    assert _lrs(new_opt) == pytest.approx(_lrs(opt))
    assert "WarmupDecayScheduler(" in repr(new_sched)


def _former_factor(n_steps, n_epochs, warmup, decay, gamma, start, step, **kw):
    """The closed form of the hand-written scheduler (before LambdaLR)."""
    warm = 1.0 if warmup <= 0 else min(1.0, (n_steps + 1) / warmup)
    if decay == "constant":
        return warm
    if decay == "step":
        if n_epochs < start:
            return warm
        return warm * gamma ** ((n_epochs - start) // step + 1)
    floor = kw["min_lr_ratio"]
    if kw.get("total_steps") is not None:
        progress = (n_steps - warmup) / max(1, kw["total_steps"] - warmup)
    else:
        progress = (n_epochs - start) / max(1, kw["total_epochs"] - start)
    progress = min(1.0, max(0.0, progress))
    cos = 0.5 * (1.0 + math.cos(math.pi * progress))
    return warm * (floor + (1.0 - floor) * cos)


@pytest.mark.parametrize(
    "config",
    [
        dict(warmup=0, decay="step", gamma=0.85, start=5, step=1),
        dict(warmup=7, decay="step", gamma=0.5, start=2, step=3),
        dict(warmup=4, decay="constant", gamma=1.0, start=0, step=1),
        dict(
            warmup=5,
            decay="cosine",
            gamma=1.0,
            start=0,
            step=1,
            total_steps=30,
            min_lr_ratio=0.1,
        ),
        dict(
            warmup=3,
            decay="cosine",
            gamma=1.0,
            start=1,
            step=1,
            total_epochs=6,
            min_lr_ratio=0.0,
        ),
    ],
)
def test_lr_sequence_unchanged(config):
    """Every lr of a run is bit-identical to the former closed form."""
    base = (3e-5, 3e-4)
    opt = _optimizer(base)
    sched = WarmupDecayScheduler(
        warmup_steps=config["warmup"],
        decay=config["decay"],
        gamma=config["gamma"],
        decay_start=config["start"],
        step_epochs=config["step"],
        total_epochs=config.get("total_epochs"),
        total_steps=config.get("total_steps"),
        min_lr_ratio=config.get("min_lr_ratio", 0.0),
    )
    sched.attach(opt)
    n_steps = 0
    for epoch in range(1, 9):
        for _ in range(5):
            factor = _former_factor(n_steps, epoch - 1, **config)
            assert _lrs(opt) == [lr * factor for lr in base]
            opt.step()
            sched.on_batch_end(opt)
            n_steps += 1
        sched.on_epoch_end(epoch, opt)
        factor = _former_factor(n_steps, epoch, **config)
        assert _lrs(opt) == [lr * factor for lr in base]
