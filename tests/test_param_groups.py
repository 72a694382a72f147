"""Optimizer setup of the Brain: weight decay exclusion (SpeechBrain's
``remove_vector_weight_decay`` plus the encoder's ``no_weight_decay()``),
layer-wise lr decay (hparam ``layer_decay``), gradient clipping over all
param groups through SpeechBrain's own ``optimizers_step``, and the
``grad_checkpointing`` hparam.

Authors
 * ast_sb developers 2026
"""

import pytest
import torch

from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.training.brain import AudioSpectrogramTransformerBrain
from ast_sb.training.schedulers import WarmupDecayScheduler


def ast_modules():
    torch.manual_seed(0)
    return {
        "compute_features": torch.nn.Identity(),
        "mean_var_norm": torch.nn.Identity(),
        "embedding_model": AudioSpectrogramTransformerEncoder(
            "tiny224", depth=2, target_length=64
        ),
        "classifier": AudioSpectrogramTransformerClassifier(192, 4),
    }


def adamw(groups):
    return torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.05)


def brain(hparams=None, opt_class=adamw, **run_opts):
    b = AudioSpectrogramTransformerBrain(
        modules=ast_modules(),
        opt_class=opt_class,
        hparams={"head_lr_multiplier": 10.0, **(hparams or {})},
        run_opts={"device": "cpu", **run_opts},
    )
    b.init_optimizers()
    return b


def by_name(b, key):
    """Parameter name -> value of ``key`` in its param group."""
    group_of = {
        id(p): g[key] for g in b.optimizer.param_groups for p in g["params"]
    }
    return {n: group_of[id(p)] for n, p in b.modules.named_parameters()}


def test_remove_vector_weight_decay_spares_position_and_prefix_tokens():
    b = brain(remove_vector_weight_decay=True)
    decay = by_name(b, "weight_decay")
    params = dict(b.modules.named_parameters())
    assert len(decay) == len(params)
    for name in ("pos_embed", "cls_token", "dist_token"):
        assert decay[f"embedding_model.{name}"] == 0.0, name
    for name, param in params.items():
        if param.ndim == 1:
            assert decay[name] == 0.0, name
    decayed = {n for n, wd in decay.items() if wd == 0.05}
    assert decayed == {
        n
        for n, p in params.items()
        if p.ndim > 1
        and n.split(".", 1)[1] not in ("pos_embed", "cls_token", "dist_token")
    }
    assert "embedding_model.patch_embed.proj.weight" in decayed
    assert "classifier.linear.weight" in decayed
    names = [g["name"] for g in b.optimizer.param_groups]
    assert names == ["encoder_no_decay", "encoder", "head_no_decay", "head"]


def test_without_remove_vector_weight_decay_every_parameter_decays():
    b = brain()
    assert set(by_name(b, "weight_decay").values()) == {0.05}
    assert [g["name"] for g in b.optimizer.param_groups] == ["encoder", "head"]
    lrs = by_name(b, "lr")
    assert lrs["embedding_model.pos_embed"] == 1e-3
    assert lrs["classifier.linear.weight"] == pytest.approx(1e-2)


@pytest.mark.parametrize("no_vector_decay", [False, True])
def test_layer_decay_scales_the_lr_of_each_layer(no_vector_decay):
    b = brain({"layer_decay": 0.5}, remove_vector_weight_decay=no_vector_decay)
    lrs = by_name(b, "lr")
    # layers: 0 embedding, 1 block 0, 2 block 1 and final norm; head above
    expected = {
        "embedding_model.pos_embed": 1e-3 * 0.5**3,
        "embedding_model.cls_token": 1e-3 * 0.5**3,
        "embedding_model.patch_embed.proj.bias": 1e-3 * 0.5**3,
        "embedding_model.blocks.0.attn.qkv.weight": 1e-3 * 0.5**2,
        "embedding_model.blocks.1.mlp.fc2.bias": 1e-3 * 0.5,
        "embedding_model.norm.weight": 1e-3 * 0.5,
        "classifier.linear.weight": 1e-2,
        "classifier.norm.bias": 1e-2,
    }
    for name, lr in expected.items():
        assert lrs[name] == pytest.approx(lr, rel=1e-12), name
    decay = by_name(b, "weight_decay")
    assert (decay["embedding_model.pos_embed"] == 0.0) == no_vector_decay
    assert decay["embedding_model.blocks.0.attn.qkv.weight"] == 0.05
    # a schedule keeps the ratios between the layers
    scheduler = WarmupDecayScheduler(warmup_steps=4)
    scheduler.attach(b.optimizer)
    scheduled = by_name(b, "lr")
    for name in expected:
        assert scheduled[name] / scheduled["classifier.linear.weight"] == (
            pytest.approx(expected[name] / 1e-2)
        )


def test_layer_decay_errors():
    with pytest.raises(ValueError, match="layer_decay"):
        brain({"layer_decay": 1.5})
    modules = ast_modules()
    modules["embedding_model"] = torch.nn.Linear(3, 3)
    b = AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=lambda groups: torch.optim.SGD(groups, lr=1.0),
        hparams={"layer_decay": 0.75},
        run_opts={"device": "cpu"},
    )
    with pytest.raises(ValueError, match="group_matcher.*Linear"):
        b.init_optimizers()


def _step_delta(max_grad_norm):
    b = brain(
        opt_class=lambda groups: torch.optim.SGD(groups, lr=1.0),
        max_grad_norm=max_grad_norm,
    )
    before = [p.detach().clone() for p in b.modules.parameters()]
    for p in b.modules.parameters():
        p.grad = torch.full_like(p, 0.01)
    b.optimizers_step()
    assert b.max_grad_norm == max_grad_norm
    deltas = [p.detach() - q for p, q in zip(b.modules.parameters(), before)]
    return b, deltas


def test_max_grad_norm_zero_does_not_clip():
    b, deltas = _step_delta(0.0)
    lr_of = {
        id(p): g["lr"] for g in b.optimizer.param_groups for p in g["params"]
    }
    for p, delta in zip(b.modules.parameters(), deltas):
        expected = torch.full_like(p, -0.01 * lr_of[id(p)])
        assert torch.allclose(delta, expected, rtol=1e-5, atol=1e-9)


def test_clipping_uses_the_total_norm_of_every_group():
    _, clipped = _step_delta(0.1)
    _, free = _step_delta(0.0)
    grad_norm = (
        sum(d.numel() for d in free) ** 0.5 * 0.01
    )  # every gradient is 0.01
    coef = 0.1 / (grad_norm + 1e-6)
    for c, f in zip(clipped, free):
        # float32 rounding of the parameters (|p| <= 1): ~1e-7 absolute
        assert torch.allclose(c, f * coef, rtol=1e-4, atol=2e-7)


def test_grad_checkpointing_hparam():
    b = brain({"grad_checkpointing": True})
    assert b.modules.embedding_model.grad_checkpointing
    assert not brain().modules.embedding_model.grad_checkpointing
    modules = ast_modules()
    modules["embedding_model"] = torch.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="grad_checkpointing.*Linear"):
        AudioSpectrogramTransformerBrain(
            modules=modules,
            hparams={"grad_checkpointing": True},
            run_opts={"device": "cpu"},
        )
