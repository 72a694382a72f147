"""Behaviour of the AST encoder: shapes, padding mask, patchout, errors."""

import helpers
import pytest
import torch
import torch.nn.functional as F

from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
    forward_flops,
    patch_grid_size,
)


def small_encoder(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("target_length", 256)
    return AudioSpectrogramTransformerEncoder(
        "tiny224", depth=2, **kwargs
    ).eval()


def test_output_shape_and_grid():
    encoder = small_encoder()
    assert encoder.grid_size == (12, 25)
    assert encoder.pos_embed.shape == (1, 2 + 12 * 25, 192)
    assert encoder(torch.randn(2, 256, 128)).shape == (2, 1, 192)


def test_overlapping_strides_change_the_grid():
    assert patch_grid_size(128, 1024, 10, 10) == (12, 101)
    assert patch_grid_size(128, 1024, 16, 16) == (8, 64)
    encoder = small_encoder(fstride=16, tstride=16)
    assert encoder.grid_size == (8, 16)
    assert encoder(torch.randn(1, 256, 128)).shape == (1, 1, 192)


def test_padding_mask_matches_each_clip_alone():
    """A clip inside a padded, masked batch equals the clip run alone."""
    encoder = small_encoder(use_padding_mask=True)
    n_frames = [256, 131, 60]
    feats = torch.randn(3, 256, 128)
    for i, n in enumerate(n_frames):
        feats[i, n:] = 0.0
    lengths = torch.tensor(n_frames, dtype=torch.float) / 256
    with torch.no_grad():
        batched = encoder(feats, lengths)
        for i, n in enumerate(n_frames):
            alone = encoder(feats[i : i + 1, :n])
            assert torch.allclose(batched[i], alone[0], atol=1e-5), i


def test_padding_mask_skips_columns_padded_everywhere():
    """Columns beyond the longest clip are cut, not just masked."""
    encoder = small_encoder(use_padding_mask=True)
    feats = torch.randn(2, 256, 128)
    lengths = torch.tensor([0.5, 0.25])
    tokens, key_mask = encoder.embed(feats, lengths)
    t_valid = encoder.valid_time_patches(lengths, 256)
    assert tokens.shape[1] == 2 + 12 * int(t_valid.max())
    assert key_mask.shape == tokens.shape[:2]
    assert key_mask[1].sum() == 2 + 12 * int(t_valid[1])


def test_without_padding_mask_lengths_are_ignored():
    encoder = small_encoder()
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        a = encoder(feats, torch.tensor([1.0, 0.3]))
        b = encoder(feats)
    assert torch.equal(a, b)


@pytest.mark.parametrize("mode", ["structured", "unstructured"])
def test_patchout_drops_tokens_in_training_only(mode):
    encoder = small_encoder(
        patchout=mode, patchout_time=0.5, patchout_freq=0.25
    )
    reference = small_encoder()
    reference.load_state_dict(encoder.state_dict())
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        assert torch.equal(encoder(feats), reference(feats))
    encoder.train()
    tokens, _ = encoder.embed(feats)
    full = 2 + 12 * 25
    if mode == "structured":
        assert tokens.shape[1] == 2 + 9 * 13
    else:
        assert tokens.shape[1] == 2 + (12 * 25 - int(12 * 25 * 0.5))
    assert tokens.shape[1] < full
    out = encoder(feats)
    out.sum().backward()
    assert encoder.pos_embed.grad is not None


def test_patchout_keeps_position_embeddings_of_kept_patches():
    encoder = small_encoder(patchout="structured", patchout_time=0.5)
    encoder.train()
    feats = torch.randn(1, 256, 128)
    torch.manual_seed(3)
    tokens, _ = encoder.embed(feats)
    torch.manual_seed(3)
    t_idx = torch.randperm(25)[:13].sort().values
    encoder.eval()
    full, _ = encoder.embed(feats)
    grid = full[:, 2:].reshape(1, 12, 25, -1)
    expected = grid[:, :, t_idx].reshape(1, -1, 192)
    assert torch.allclose(tokens[:, 2:], expected)


def test_bad_inputs_raise_clear_errors():
    encoder = small_encoder()
    strict = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=256, depth=1, long_inputs="error"
    )
    with pytest.raises(ValueError, match="target_length=256"):
        strict(torch.randn(1, 300, 128))
    with pytest.raises(ValueError, match="long_inputs"):
        AudioSpectrogramTransformerEncoder("tiny224", long_inputs="cut")
    with pytest.raises(ValueError, match="128"):
        encoder(torch.randn(1, 100, 80))
    with pytest.raises(ValueError, match="0 frames"):
        encoder(torch.randn(1, 0, 128))
    with pytest.raises(ValueError, match="Unknown AST size"):
        AudioSpectrogramTransformerEncoder("huge")
    with pytest.raises(ValueError, match="patchout"):
        AudioSpectrogramTransformerEncoder("tiny224", patchout="random")
    with pytest.raises(ValueError, match="output"):
        AudioSpectrogramTransformerClassifier(4, 2, output="softmax")


def test_classifier_outputs():
    emb = torch.randn(3, 1, 16)
    log_probs = AudioSpectrogramTransformerClassifier(16, 5)(emb)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 1))
    logits = AudioSpectrogramTransformerClassifier(16, 5, output="logits")(emb)
    assert logits.shape == (3, 1, 5)
    assert not torch.allclose(logits.exp().sum(-1), torch.ones(3, 1))


def closed_form_flops(encoder, n_frames):
    """The hand count: patch conv + QKV/proj/MLP + attention matmuls, the
    last block computing the queries' attention, the projection and the MLP
    for the cls and distillation tokens only."""
    cfg = encoder.constructor_args
    f_dim, t_dim = patch_grid_size(
        cfg["n_mels"], n_frames, cfg["fstride"], cfg["tstride"], (16, 16)
    )
    n_patches = f_dim * t_dim
    n_tokens = n_patches + 2
    dim = cfg["embed_dim"]
    hidden = int(dim * cfg["mlp_ratio"])
    conv = 2 * n_patches * dim * 16 * 16

    def block(n_queries):
        qkv = 2 * n_tokens * 3 * dim * dim
        rest = 2 * n_queries * (dim * dim + 2 * dim * hidden)
        return qkv + rest + 2 * 2 * n_queries * n_tokens * dim

    return conv + (cfg["depth"] - 1) * block(n_tokens) + block(2)


@pytest.mark.parametrize("n_frames", [100, 256, 1024])
def test_forward_flops_equal_the_closed_form(n_frames):
    encoder = small_encoder(fstride=10, tstride=12).train()
    assert forward_flops(encoder, n_frames) == closed_form_flops(
        encoder, n_frames
    )
    # the encoder is left as it was: weights on their device, fused attention
    assert all(block.attn.fused_attn for block in encoder.blocks)
    assert encoder.pos_embed.device.type == "cpu" and encoder.training


def test_forward_flops_counts_match_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    encoder = small_encoder()
    for block in encoder.blocks:
        block.attn.fused_attn = False  # count the attention matmuls too
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(torch.randn(1, 256, 128))
    assert counter.get_total_flops() == pytest.approx(
        forward_flops(encoder, 256), rel=1e-9
    )


def test_cosine_head_is_the_cosine_of_embedding_and_class_weights():
    """output="cosine" (AAM losses): the cosine similarity between the
    normalised embedding and each class's weight row, per class."""
    torch.manual_seed(0)
    head = AudioSpectrogramTransformerClassifier(16, 5, output="cosine")
    helpers.randomize_parameters(head, seed=3)
    emb = torch.randn(3, 1, 16)
    expected = F.cosine_similarity(
        head.norm(emb)[:, :, None, :], head.linear.weight[None, None], dim=-1
    )
    assert torch.allclose(head(emb), expected, atol=1e-6)
