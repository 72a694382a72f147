"""Tests for ast_sb.lobes.augment (SpecAugment, Mixup).

Authors
 * ast_sb developers 2026
"""

import pytest
import torch

from ast_sb.lobes.augment import Mixup, SpecAugment


def _masked_bins(out):
    """Fully masked frequency columns [B, F] and time rows [B, T]."""
    zero = out == 0
    return zero.all(dim=1), zero.all(dim=2)


def _assert_contiguous(mask_1d):
    idx = torch.nonzero(mask_1d).flatten()
    if len(idx) > 1:
        assert int(idx[-1] - idx[0]) + 1 == len(idx)


def test_specaugment_shapes_and_widths():
    torch.manual_seed(0)
    aug = SpecAugment(freq_mask=24, time_mask=96)
    feats = torch.ones(256, 300, 128)
    out = aug(feats)
    assert out.shape == feats.shape
    freq_masked, time_masked = _masked_bins(out)
    freq_widths = freq_masked.sum(dim=1)
    time_widths = time_masked.sum(dim=1)
    assert int(freq_widths.max()) <= 23 and int(time_widths.max()) <= 95
    # uniform over [0, F): the extremes show up over 256 draws
    assert int(freq_widths.max()) >= 20 and int(freq_widths.min()) <= 2
    assert int(time_widths.max()) >= 85
    # one contiguous mask per axis; every non-masked bin untouched
    for b in range(0, 256, 37):
        _assert_contiguous(freq_masked[b])
        _assert_contiguous(time_masked[b])
    untouched = ~(freq_masked[:, None, :] | time_masked[:, :, None])
    assert torch.all(out[untouched] == 1)
    # iid masks: examples get different masks
    assert len({tuple(m.tolist()) for m in freq_masked[:32]}) > 10
    # the input is not modified
    assert torch.all(feats == 1)


def test_specaugment_lengths_and_small_inputs():
    torch.manual_seed(1)
    aug = SpecAugment(freq_mask=8, time_mask=50, n_time_masks=2)
    feats = torch.ones(64, 40, 16)
    out = aug(feats, lengths=torch.full((64,), 0.5))
    _, time_masked = _masked_bins(out)
    assert not time_masked[:, 20:].any()  # only inside the valid frames
    assert time_masked.any()
    # mask parameter larger than the axis: clamped, no error
    out = SpecAugment(freq_mask=100, time_mask=100)(torch.ones(4, 10, 6))
    assert out.shape == (4, 10, 6)
    # disabled masks: identity
    x = torch.randn(2, 10, 6)
    assert torch.equal(SpecAugment(0, 0)(x), x)
    with pytest.raises(ValueError):
        SpecAugment()(torch.randn(10, 6))


def test_specaugment_deterministic_under_seed():
    aug = SpecAugment(freq_mask=10, time_mask=10, mask_value=-1.0)
    x = torch.randn(8, 50, 32)
    torch.manual_seed(3)
    a = aug(x)
    torch.manual_seed(3)
    b = aug(x)
    assert torch.equal(a, b)
    assert (a == -1.0).any()


def test_mixup_soft_targets_and_features():
    torch.manual_seed(0)
    mixup = Mixup(mixup_prob=0.5, alpha=10.0)
    feats = torch.randn(64, 20, 8)
    lengths = torch.rand(64)
    mixed, new_lengths, lam, index = mixup(feats, lengths)
    assert mixed.shape == feats.shape and lam.shape == index.shape == (64,)
    is_mixed = lam < 1
    assert 10 < int(is_mixed.sum()) < 54
    assert torch.all(index[~is_mixed] == torch.arange(64)[~is_mixed])
    assert torch.all(index[is_mixed] != torch.arange(64)[is_mixed])
    assert torch.all((lam > 0) & (lam <= 1))
    expected = (
        lam[:, None, None] * feats + (1 - lam[:, None, None]) * feats[index]
    )
    assert torch.allclose(mixed, expected)
    assert torch.equal(new_lengths, torch.maximum(lengths, lengths[index]))
    # one-hot -> soft targets summing to one
    one_hot = torch.nn.functional.one_hot(torch.randint(0, 5, (64,)), 5)
    soft = Mixup.mix_targets(one_hot, lam, index)
    assert soft.dtype == torch.float32
    assert torch.allclose(soft.sum(dim=1), torch.ones(64))
    # multi-hot: lam * y1 + (1 - lam) * y2
    multi = (torch.rand(64, 6) < 0.5).float()
    soft = Mixup.mix_targets(multi, lam, index)
    assert torch.allclose(
        soft, lam[:, None] * multi + (1 - lam[:, None]) * multi[index]
    )
    assert torch.all((soft >= 0) & (soft <= 1))


def test_mixup_beta_and_probability():
    torch.manual_seed(0)
    lam, index = Mixup(mixup_prob=1.0, alpha=10.0).sample(4000)
    assert torch.all(lam < 1)
    # Beta(10, 10): mean 0.5, std sqrt(1 / 84)
    assert abs(float(lam.mean()) - 0.5) < 0.01
    assert abs(float(lam.std()) - (1 / 84) ** 0.5) < 0.01
    lam, index = Mixup(mixup_prob=0.0).sample(8)
    assert torch.all(lam == 1) and torch.equal(index, torch.arange(8))
    x = torch.randn(1, 5)
    mixed, _, lam, _ = Mixup(mixup_prob=1.0)(x)  # a batch of one: unchanged
    assert torch.equal(mixed, x) and float(lam) == 1.0
    with pytest.raises(ValueError):
        Mixup(mixup_prob=1.5)


def test_specaugment_draws_torchaudio_iid_masks():
    """Full-length clips get exactly torchaudio's iid masks (same seed)."""
    import torchaudio

    x = torch.randn(16, 60, 32)
    torch.manual_seed(5)
    out = SpecAugment(freq_mask=12, time_mask=20, n_time_masks=2)(x)
    torch.manual_seed(5)
    ref = x.transpose(1, 2)[:, None]  # torchaudio layout [B, 1, F, T]
    ref = torchaudio.transforms.FrequencyMasking(12, iid_masks=True)(ref)
    for _ in range(2):
        ref = torchaudio.transforms.TimeMasking(20, iid_masks=True)(ref)
    assert torch.equal(out, ref[:, 0].transpose(1, 2))
