"""Tests for ast_sb.lobes.features: Kaldi fbank parity, padding, normalisation.

Authors
 * ast_sb developers 2026
"""

import math

import pytest
import torch
import torchaudio.compliance.kaldi as ta_kaldi
import transformers
from helpers import assert_close_to_scale

from ast_sb.lobes.features import (
    DATASET_STATS,
    AudioSpectrogramNormalizer,
    KaldiFbank,
    compute_dataset_stats,
    frame_count,
    pad_or_cut,
)

SR = 16000
# max|ours - reference| <= FBANK_REL x max|reference| (log-mel energies reach
# 16 in magnitude, the log floor of silence). Measured (torch 2.14.1,
# torchaudio kaldi.fbank, transformers 5.24, AVX-512/AMX Xeon): at most
# 1.5e-8 of the scale at the default level, 4.7e-8 at the AVX2 level (one
# float32 step); 3e-7 is about 2.5 float32 steps at the scale.
FBANK_REL = 3e-7


def _speech_like(n: int, seed: int) -> torch.Tensor:
    """Harmonic chirp with syllable-rate AM plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64) / SR
    f0 = 110 + 80 * t / max(t[-1].item(), 1e-3)  # rising pitch
    phase = 2 * math.pi * torch.cumsum(f0, 0) / SR
    x = sum(torch.sin(k * phase) / k for k in range(1, 12))
    am = 0.5 * (1 + torch.sin(2 * math.pi * 4 * t))
    x = 0.3 * am * x / 3 + 0.01 * torch.randn(n, generator=g, dtype=x.dtype)
    return x.float()


def _noise(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.2 * torch.randn(n, generator=g)


def _with_silence(n: int, seed: int) -> torch.Tensor:
    x = _speech_like(n, seed)
    x[n // 3 : n // 3 + 3200] = 0.0  # 200 ms of digital silence
    return x


def _reference(wav: torch.Tensor) -> torch.Tensor:
    return ta_kaldi.fbank(
        wav.unsqueeze(0),
        sample_frequency=SR,
        window_type="hanning",
        num_mel_bins=128,
        dither=0.0,
    )


@pytest.fixture(scope="module")
def clips():
    lengths = [16000, 12345, 8000, 400, 4321]
    makers = [_speech_like, _noise, _with_silence, _noise, _speech_like]
    return [m(n, i) for i, (m, n) in enumerate(zip(makers, lengths))]


def _pad_batch(clips):
    n_max = max(c.shape[0] for c in clips)
    wavs = torch.zeros(len(clips), n_max)
    for i, c in enumerate(clips):
        wavs[i, : c.shape[0]] = c
    lens = torch.tensor([c.shape[0] / n_max for c in clips])
    return wavs, lens


def test_fbank_parity_batched(clips):
    fbank = KaldiFbank()
    wavs, lens = _pad_batch(clips)
    feats = fbank(wavs, lens)
    assert feats.shape == (len(clips), frame_count(wavs.shape[1]), 128)
    rel = fbank.relative_frame_lengths(lens, wavs.shape[1])
    for i, c in enumerate(clips):
        ref = _reference(c)
        n_valid = round(rel[i].item() * feats.shape[1])
        assert n_valid == ref.shape[0] == frame_count(c.shape[0])
        assert_close_to_scale(
            feats[i, :n_valid], ref, FBANK_REL, msg=f"clip {i}"
        )
    # The silent stretch hits the log floor.
    eps_log = math.log(torch.finfo(torch.float32).eps)
    assert feats[2].min().item() == pytest.approx(eps_log, abs=1e-6)


def test_fbank_single_clip_exact_and_1d(clips):
    fbank = KaldiFbank()
    for c in clips[:3]:
        out = fbank(c)
        assert out.shape[0] == 1
        assert_close_to_scale(out[0], _reference(c), FBANK_REL)


def test_fbank_buffers_not_persistent():
    fbank = KaldiFbank()
    assert len(fbank.state_dict()) == 0
    names = {n for n, _ in fbank.named_buffers()}
    assert names == {"window", "mel_matrix"}
    assert fbank.mel_matrix.shape == (257, 128)


def test_fbank_other_windows(clips):
    for window in ["povey", "hamming", "rectangular", "blackman"]:
        out = KaldiFbank(window=window)(clips[0])[0]
        ref = ta_kaldi.fbank(
            clips[0].unsqueeze(0),
            sample_frequency=SR,
            window_type=window,
            num_mel_bins=128,
            dither=0.0,
        )
        assert_close_to_scale(out, ref, FBANK_REL, msg=window)


def test_fbank_double_input_and_grad():
    wav = _noise(4000, 0).double().requires_grad_()
    out = KaldiFbank()(wav)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all()


def test_hf_feature_extractor_parity(clips):
    numpy_clips = [c.numpy() for c in clips[:3]]
    for max_length in (1024, 512):
        hf = transformers.ASTFeatureExtractor(max_length=max_length)
        ref = hf(numpy_clips, sampling_rate=SR, return_tensors="pt")
        ref = ref["input_values"]
        fbank = KaldiFbank(target_length=max_length)
        norm = AudioSpectrogramNormalizer()
        wavs, lens = _pad_batch(clips[:3])
        ours = norm(fbank(wavs), lens)
        assert ours.shape == ref.shape == (3, max_length, 128)
        # Frames computed from padding samples differ from HF's zero frames;
        # compare each clip's valid frames and its padded tail.
        for i, c in enumerate(clips[:3]):
            n = min(frame_count(c.shape[0]), max_length)
            assert_close_to_scale(ours[i, :n], ref[i, :n], FBANK_REL)
        # A full-length clip alone matches HF everywhere (incl. padding).
        alone = norm(fbank(clips[0]))
        assert_close_to_scale(alone[0], ref[0], FBANK_REL)


def test_hf_parity_long_clip_cut():
    wav = _speech_like(SR * 6, 7)  # 598 frames > 512
    hf = transformers.ASTFeatureExtractor(max_length=512)
    ref = hf(wav.numpy(), sampling_rate=SR, return_tensors="pt")
    ours = AudioSpectrogramNormalizer()(KaldiFbank(target_length=512)(wav))
    assert_close_to_scale(ours, ref["input_values"], FBANK_REL)


def test_target_length_pad_and_cut():
    wav = _noise(SR, 1)  # 98 frames
    base = KaldiFbank()(wav)
    padded = KaldiFbank(target_length=128)(wav)
    assert padded.shape == (1, 128, 128)
    assert torch.equal(padded[:, :98], base)
    assert torch.count_nonzero(padded[:, 98:]) == 0
    cut = KaldiFbank(target_length=50)(wav)
    assert cut.shape == (1, 50, 128)
    # the early cut multiplies fewer rows by the mel matrix: MKL's AVX2
    # sgemm rounds rows differently with the row count (measured 3e-8 of the
    # scale, one float32 step; 0.0 at AVX-512), so tight, not bit-exact
    assert_close_to_scale(cut, base[:, :50], FBANK_REL)
    assert pad_or_cut(base, 98) is base
    with pytest.raises(ValueError):
        pad_or_cut(base, 0)


def test_frame_count_and_relative_lengths():
    assert frame_count(400) == 1
    assert frame_count(559) == 1
    assert frame_count(560) == 2
    assert frame_count(160000) == 998
    assert frame_count(0) == 0
    counts = frame_count(torch.tensor([399, 400, 16000]))
    assert counts.tolist() == [0, 1, 98]
    fbank = KaldiFbank(target_length=1024)
    rel = fbank.relative_frame_lengths(torch.tensor([1.0, 0.5, 0.001]), 160000)
    assert torch.allclose(rel * 1024, torch.tensor([998.0, 498.0, 1.0]))
    rel = KaldiFbank(target_length=100).relative_frame_lengths(None, 160000)
    assert rel.tolist() == [1.0]


def test_normalizer_stats():
    assert DATASET_STATS["audioset"] == (-4.2677393, 4.5689974)
    assert DATASET_STATS["esc50"] == (-6.6268077, 5.358466)
    assert DATASET_STATS["speechcommands"] == (-6.845978, 5.5654526)
    feats = torch.randn(2, 10, 128)
    for name, (mean, std) in DATASET_STATS.items():
        norm = AudioSpectrogramNormalizer.from_dataset(name)
        assert (norm.mean, norm.std) == (mean, std)
        expected = (feats - mean) / (2 * std)
        assert torch.allclose(norm(feats, torch.ones(2)), expected)
    pad_value = AudioSpectrogramNormalizer()(torch.zeros(1)).item()
    assert pad_value == pytest.approx(0.46703, abs=1e-5)
    with pytest.raises(ValueError, match="Unknown dataset 'librispeech'"):
        AudioSpectrogramNormalizer.from_dataset("librispeech")
    with pytest.raises(ValueError):
        AudioSpectrogramNormalizer(std=0.0)


def test_compute_dataset_stats():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(6, 50, 16, generator=g) * 2.5 - 7.0
    mean, std = compute_dataset_stats(iter([feats[:1], feats[1:4], feats[4:]]))
    assert mean == pytest.approx(feats.double().mean().item(), abs=1e-9)
    assert std == pytest.approx(feats.double().std().item(), abs=1e-9)
    # Padding excluded through relative lengths.
    padded = torch.cat([feats[:2], torch.full((2, 50, 16), 100.0)], dim=1)
    mean2, std2 = compute_dataset_stats([(padded, torch.tensor([0.5, 0.5]))])
    assert mean2 == pytest.approx(feats[:2].double().mean().item(), abs=1e-9)
    assert std2 == pytest.approx(feats[:2].double().std().item(), abs=1e-9)
    with pytest.raises(ValueError):
        compute_dataset_stats([])


def test_errors():
    fbank = KaldiFbank()
    with pytest.raises(ValueError, match="399 samples"):
        fbank(torch.zeros(2, 399))
    wav = torch.zeros(2, 1000)
    wav[1, 10] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fbank(wav)
    wav[1, 10] = float("inf")
    with pytest.raises(ValueError, match="inf"):
        fbank(wav)
    with pytest.raises(ValueError, match="shape"):
        fbank(torch.zeros(2, 1, 1000))
    with pytest.raises(TypeError):
        fbank(torch.zeros(1000, dtype=torch.int16))
    with pytest.raises(ValueError, match="window"):
        KaldiFbank(window="triangle")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fbank_cuda(clips):
    fbank = KaldiFbank().to("cuda")
    wavs, _ = _pad_batch(clips)
    out = fbank(wavs.cuda()).cpu()
    ref = KaldiFbank()(wavs)
    assert (out - ref).abs().max().item() <= 1e-3


def test_cpu_frame_blocks_are_bit_identical():
    """The cache-sized CPU frame blocks do not change a single value."""
    torch.manual_seed(0)
    wavs = torch.randn(3, 16000) * 0.1
    for target_length in (None, 64, 200):
        fbank = KaldiFbank(target_length=target_length)
        fbank.cpu_block_frames = 10**9  # one block: the whole batch
        whole = fbank(wavs)
        for block in (1, 7, 100):
            fbank.cpu_block_frames = block
            assert torch.equal(fbank(wavs), whole), (target_length, block)


def test_nan_check_names_the_batch_item():
    wavs = torch.zeros(3, 1600)
    wavs[2, 5] = float("nan")
    with pytest.raises(ValueError, match=r"batch items \[2\]"):
        KaldiFbank()(wavs)
    # huge but finite samples overflow the row sum: not reported as NaN
    # samples, but their features overflow float32 (issue 11, point 4)
    loud = torch.full((1, 1600), 3e38)
    with pytest.raises(ValueError, match=r"Features of batch items \[0\]"):
        KaldiFbank()(loud)


def test_fbank_padding_convention_alone_equals_batched(clips):
    """Issue 10.1: frames past a clip's own frame count are 0 (log-mel,
    before normalisation); a clip gives the same features in any batch."""
    wavs, lens = _pad_batch(clips)
    for target_length in (None, 120):
        fbank = KaldiFbank(target_length=target_length)
        feats = fbank(wavs, lens)
        n_total = feats.shape[1]
        for i, c in enumerate(clips):
            own = frame_count(c.shape[0])
            if own < n_total:
                assert feats[i, own:].abs().max().item() == 0.0
            # alone, padded to the same length
            alone = torch.zeros(1, wavs.shape[1])
            alone[0, : c.shape[0]] = c
            rel = torch.tensor([c.shape[0] / wavs.shape[1]])
            assert_close_to_scale(fbank(alone, rel)[0], feats[i], FBANK_REL)
            # alone at its own length, zero-padded like the original AST
            if c.shape[0] >= 400:
                ref = _reference(c)
                if target_length is not None:
                    ref = pad_or_cut(ref, target_length)
                else:
                    ref = pad_or_cut(ref, n_total)
                diff = (feats[i] - ref).abs().max().item()
                assert diff <= 2e-6, f"clip {i}: {diff}"  # measured 4.8e-7
        # HF ASTFeatureExtractor pads the fbank with zeros too: after AudioSet
        # normalisation the padded frames read +0.467
        norm = AudioSpectrogramNormalizer()
        padded = norm(feats)[1, frame_count(clips[1].shape[0]) :]
        assert padded.sub(0.46703).abs().max().item() <= 1e-4


def test_fbank_padding_skips_frames_past_longest_clip():
    fbank = KaldiFbank(target_length=300)
    wavs = torch.randn(2, 48000) * 0.1
    lens = torch.tensor([0.25, 0.5])
    feats = fbank(wavs, lens)
    assert feats.shape == (2, 300, 128)
    assert feats[1, frame_count(24000) :].abs().max().item() == 0.0
    assert torch.equal(feats[1, :148], fbank(wavs[1, :24000])[0, :148])


def test_more_clips_than_target_frames():
    """A batch larger than target_length keeps every clip (and its values)."""
    wavs = torch.randn(20, 4000) * 0.1
    fbank = KaldiFbank(target_length=16)
    out = fbank(wavs)
    assert out.shape == (20, 16, 128)
    # tight, not bit-exact: MKL's AVX2 sgemm rounds rows differently with
    # the batch's row count (measured 1.5e-8 of the scale; 0.0 at AVX-512)
    assert_close_to_scale(out[19:], fbank(wavs[19:]), FBANK_REL)


def test_fbank_runs_in_float32_under_autocast(clips):
    """bf16 autocast around the front end changes no bit of the features."""
    fbank = KaldiFbank(target_length=200)
    wavs, lengths = _pad_batch(clips[:2])
    ref = fbank(wavs, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fbank(wavs, lengths)
    assert out.dtype == torch.float32 and torch.equal(out, ref)


def test_constructor_args_rebuild_the_same_front_end():
    """``constructor_args`` (what an export writes) rebuilds an equal
    KaldiFbank: every argument under its own name."""
    fbank = KaldiFbank(
        n_mels=64,
        target_length=50,
        low_freq=50.0,
        high_freq=-500.0,
        preemphasis=0.9,
        remove_dc_offset=False,
        window="hamming",
    )
    rebuilt = KaldiFbank(**fbank.constructor_args)
    wav = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    assert rebuilt.constructor_args == fbank.constructor_args
    assert torch.equal(rebuilt(wav), fbank(wav))


def test_forward_refuses_lengths_that_do_not_fit_the_batch():
    """KaldiFbank.forward checks its relative lengths against the batch:
    one per clip, else a clear error instead of a wrong mask."""
    fbank = KaldiFbank(target_length=20)
    wavs = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="the batch has 2 clips"):
        fbank(wavs, torch.tensor([1.0, 0.5, 0.5]))
