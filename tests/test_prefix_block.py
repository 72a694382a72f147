"""The last block computed for the pooled tokens only
(:mod:`ast_sb.lobes.prefix_block`): the same outputs and gradients as the whole
block, and really less work.

Authors
 * ast_sb developers 2026
"""

import pytest
import torch
from helpers import assert_close_to_scale
from timm.models.vision_transformer import Attention, Block
from torch import nn

from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.lobes.prefix_block import (
    prefix_block_forward,
    supports_prefix_forward,
)

# max|prefix - whole| <= REL x max|whole|: matrix products over fewer rows
# round differently
REL = 2e-6


def key_mask(batch, n_tokens, valid):
    """[B, 1, 1, N] boolean: clip i attends to its first valid[i] tokens."""
    mask = torch.arange(n_tokens)[None, :] < torch.tensor(valid)[:, None]
    return mask[:, None, None, :]


def random_block(dim=32, heads=4, **attn_kwargs):
    torch.manual_seed(0)
    block = Block(dim=dim, num_heads=heads, qkv_bias=True)
    if attn_kwargs:
        block.attn = Attention(dim, heads, qkv_bias=True, **attn_kwargs)
    for p in block.parameters():  # every parameter random, biases too
        nn.init.normal_(p, std=0.3)
    return block.eval()


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    "attn_kwargs",
    [
        {},
        {"qk_norm": True, "norm_layer": nn.LayerNorm},
        {"scale_norm": True, "norm_layer": nn.LayerNorm},
        {"gated": True},
    ],
    ids=["plain", "qk_norm", "scale_norm", "gated"],
)
def test_prefix_rows_equal_the_whole_block(fused, attn_kwargs):
    block = random_block(**attn_kwargs)
    block.attn.fused_attn = fused
    x = torch.randn(3, 11, 32)
    mask = key_mask(3, 11, [11, 7, 4])
    with torch.no_grad():
        for m in (None, mask):
            whole = block(x, attn_mask=m)[:, :NUM_PREFIX_TOKENS]
            prefix = prefix_block_forward(block, x, m, NUM_PREFIX_TOKENS)
            assert_close_to_scale(prefix, whole, REL)
    # the mask matters: a path ignoring it would not match
    with torch.no_grad():
        unmasked = prefix_block_forward(block, x, None, NUM_PREFIX_TOKENS)
        masked = prefix_block_forward(block, x, mask, NUM_PREFIX_TOKENS)
    assert (unmasked[2] - masked[2]).abs().max() > 1e-3


def test_only_the_prefix_rows_reach_the_mlp_and_projection():
    block = random_block()
    rows = {}

    def record(name):
        def hook(module, args, out):
            rows[name] = args[0].shape[1]

        return hook

    block.mlp.register_forward_hook(record("mlp"))
    block.attn.proj.register_forward_hook(record("proj"))
    with torch.no_grad():
        prefix_block_forward(block, torch.randn(2, 9, 32), None, 2)
    assert rows == {"mlp": 2, "proj": 2}


def test_other_blocks_run_whole():
    class ScaledBlock(Block):
        def forward(self, x, attn_mask=None):
            return 2 * super().forward(x, attn_mask=attn_mask)

    torch.manual_seed(0)
    block = ScaledBlock(dim=16, num_heads=2).eval()
    assert not supports_prefix_forward(block)
    x = torch.randn(2, 6, 16)
    with torch.no_grad():
        assert torch.equal(prefix_block_forward(block, x), block(x)[:, :2])


def full_pooled(enc, feats, lengths):
    """The pooled embedding with the last block run for every token."""
    tokens = enc._encode(feats, lengths, prefix_only=False)
    return enc.norm(tokens[:, :NUM_PREFIX_TOKENS]).mean(1, keepdim=True)


def gradients(enc, fn, feats, lengths):
    enc.zero_grad()
    torch.manual_seed(3)  # the same drop-path draws for both
    fn(feats, lengths).square().sum().backward()
    return {n: p.grad.clone() for n, p in enc.named_parameters()}


@pytest.mark.parametrize("checkpointing", [False, True])
def test_encoder_gradients_equal_the_whole_last_block(checkpointing):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224",
        target_length=64,
        depth=2,
        use_padding_mask=True,
        drop_path_rate=0.3,
    ).train()
    enc.set_grad_checkpointing(checkpointing)
    feats = torch.randn(3, 64, 128)
    lengths = torch.tensor([1.0, 0.6, 0.3])
    calls = []
    enc.blocks[-1].mlp.register_forward_hook(
        lambda m, args, out: calls.append(args[0].shape[1])
    )
    fast = gradients(enc, enc, feats, lengths)
    assert set(calls) == {NUM_PREFIX_TOKENS}  # the prefix path ran
    whole = gradients(enc, lambda f, n: full_pooled(enc, f, n), feats, lengths)
    assert fast.keys() == whole.keys()
    for name in fast:
        # gradients reach 228; measured max diff per tensor 7.7e-7 of the
        # tensor's largest value (AVX-512/AMX), 6.4e-7 at AVX2
        assert_close_to_scale(fast[name], whole[name], rel=1e-5, msg=name)
    # the patch tokens' last-block outputs feed nothing: their MLP weights
    # get gradient through the cls and distillation rows only
    assert fast["blocks.1.mlp.fc1.weight"].abs().sum() > 0


@pytest.mark.parametrize("fused", [True, False])
def test_additive_float_masks_are_added(fused):
    """A float mask is a bias on the scores (SDPA's convention), in the
    fused and the manual attention alike."""
    block = random_block()
    block.attn.fused_attn = fused
    x = torch.randn(2, 9, 32)
    bias = torch.randn(2, 1, 1, 9)
    with torch.no_grad():
        whole = block(x, attn_mask=bias)[:, :NUM_PREFIX_TOKENS]
        prefix = prefix_block_forward(block, x, bias, NUM_PREFIX_TOKENS)
        plain = prefix_block_forward(block, x, None, NUM_PREFIX_TOKENS)
    assert_close_to_scale(prefix, whole, REL)
    assert (prefix - plain).abs().max() > 1e-3


def test_attention_without_attn_dim_attribute():
    """Older timm 1.0 releases have no ``Attention.attn_dim``: the width
    is then heads x head_dim."""
    block = random_block(dim=32, heads=4)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        want = prefix_block_forward(block, x)
        del block.attn.attn_dim
        got = prefix_block_forward(block, x)
    assert torch.equal(got, want)
