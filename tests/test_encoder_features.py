"""timm-style encoder API: forward_features / forward_head split,
intermediate layers, gradient checkpointing, weight-decay and layer-decay
parameter grouping (``no_weight_decay``, ``group_matcher``).

Authors
 * ast_sb developers 2026
"""

import pytest
import torch
from helpers import assert_close_to_scale
from timm.models import group_parameters

from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    AudioSpectrogramTransformerEncoder,
)


def encoder(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("target_length", 64)
    return AudioSpectrogramTransformerEncoder("tiny224", depth=3, **kwargs)


def manual_tokens(enc, feats, lengths=None):
    """Block outputs computed by hand from the encoder's parts."""
    tokens, key_mask = enc.embed(feats, lengths)
    mask = None if key_mask is None else key_mask[:, None, None, :]
    outputs = []
    for block in enc.blocks:
        tokens = block(tokens, attn_mask=mask)
        outputs.append(tokens)
    return outputs


def test_forward_is_head_of_features():
    enc = encoder(use_padding_mask=True).eval()
    feats = torch.randn(2, 64, 128)
    lengths = torch.tensor([1.0, 0.6])
    with torch.no_grad():
        features = enc.forward_features(feats, lengths)
        pooled = enc.forward_head(features)
        blocks = manual_tokens(enc, feats, lengths)
        out = enc(feats, lengths)
    assert features.shape == (2, NUM_PREFIX_TOKENS + 12 * 5, 192)
    assert torch.equal(features, enc.norm(blocks[-1]))
    # forward computes the last block for the pooled tokens only: the same
    # values up to the rounding of matrix products over fewer rows
    # (measured: 4.8e-7 absolute)
    assert_close_to_scale(out, pooled, 2e-6)
    expected = enc.norm(blocks[-1][:, :NUM_PREFIX_TOKENS]).mean(1, True)
    assert_close_to_scale(out, expected, 2e-6)


@pytest.mark.parametrize(
    "indices, taken", [(None, [0, 1, 2]), (2, [1, 2]), ([0, -1], [0, 2])]
)
def test_forward_intermediates(indices, taken):
    enc = encoder().eval()
    feats = torch.randn(2, 64, 128)
    with torch.no_grad():
        blocks = manual_tokens(enc, feats)
        final, inter = enc.forward_intermediates(feats, indices=indices)
        normed = enc.forward_intermediates(
            feats, indices=indices, norm=True, intermediates_only=True
        )
        early = enc.forward_intermediates(
            feats, indices=[0], stop_early=True, intermediates_only=True
        )
    assert torch.equal(final, enc.norm(blocks[-1]))
    assert len(inter) == len(taken) == len(normed)
    for i, out, out_normed in zip(taken, inter, normed):
        assert torch.equal(out, blocks[i])
        assert torch.equal(out_normed, enc.norm(blocks[i]))
    assert torch.equal(early[0], blocks[0])
    with pytest.raises(AssertionError):
        enc.forward_intermediates(feats, indices=[3])


def _gradients(enc, feats, lengths):
    enc.zero_grad()
    torch.manual_seed(5)  # dropout / drop path draws
    enc(feats, lengths).square().sum().backward()
    return {n: p.grad.clone() for n, p in enc.named_parameters()}


def test_grad_checkpointing_gives_equal_gradients():
    enc = encoder(
        use_padding_mask=True, drop_rate=0.1, drop_path_rate=0.2
    ).train()
    feats = torch.randn(3, 64, 128)
    lengths = torch.tensor([1.0, 0.7, 0.4])
    plain = _gradients(enc, feats, lengths)
    calls = []
    enc.blocks[1].register_forward_pre_hook(lambda *args: calls.append(1))
    enc.set_grad_checkpointing(True)
    checkpointed = _gradients(enc, feats, lengths)
    # each block runs again in the backward pass: checkpointing is on
    assert len(calls) == 2
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert torch.equal(plain[name], checkpointed[name]), name
    with torch.no_grad():  # no recomputation without gradients
        calls.clear()
        enc.eval()(feats, lengths)
        assert len(calls) == 1


def test_grad_checkpointing_constructor_argument():
    assert encoder(grad_checkpointing=True).grad_checkpointing
    enc = encoder()
    assert not enc.grad_checkpointing
    # a training option: not part of the exported configuration
    assert (
        "grad_checkpointing"
        not in encoder(grad_checkpointing=True).constructor_args
    )


def test_no_weight_decay_names_the_position_and_prefix_tokens():
    enc = encoder()
    names = dict(enc.named_parameters())
    assert enc.no_weight_decay() == {"pos_embed", "cls_token", "dist_token"}
    assert enc.no_weight_decay() <= set(names)


def test_group_matcher_orders_stem_blocks_norm():
    enc = encoder()
    layers = group_parameters(enc, enc.group_matcher(), reverse=True)
    for name in (
        "cls_token",
        "dist_token",
        "pos_embed",
        "patch_embed.proj.weight",
    ):
        assert layers[name] == 0, name
    assert layers["blocks.0.attn.qkv.weight"] == 1
    assert layers["blocks.2.mlp.fc2.bias"] == 3
    # timm: the final norm joins the last block (MATCH_PREV_GROUP)
    assert layers["norm.weight"] == layers["norm.bias"] == 3
    assert set(layers) == {n for n, _ in enc.named_parameters()}
    coarse = group_parameters(enc, enc.group_matcher(coarse=True))
    assert len(coarse) == 1 + 3


def test_unstructured_patchout_drops_padding_patches_first():
    """The contract timm's PatchDropout does not meet (docs/DESIGN.md): with
    the padding mask, a short clip keeps all its real patches while the
    padding ones are dropped; L - int(L * p) patches are kept."""
    enc = encoder(
        target_length=256,
        use_padding_mask=True,
        patchout="unstructured",
        patchout_time=0.5,
    ).train()
    feats = torch.randn(2, 256, 128)
    lengths = torch.tensor([1.0, 0.3])
    real = 12 * enc.valid_time_patches(lengths, 256)
    for seed in range(3):
        torch.manual_seed(seed)
        tokens, key_mask = enc.embed(feats, lengths)
        assert tokens.shape[1] == NUM_PREFIX_TOKENS + 300 - int(300 * 0.5)
        kept_real = key_mask[:, NUM_PREFIX_TOKENS:].sum(dim=1)
        assert kept_real.tolist() == [150, int(real[1])]
