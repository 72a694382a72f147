"""Sliding-window evaluation of ``AudioSpectrogramTransformerBrain``."""

import pytest
import torch
import torch.nn.functional as F

from ast_sb.training.brain import AudioSpectrogramTransformerBrain

RATE = 160  # samples per "second" keeps the test small


class Frames(torch.nn.Module):
    def forward(self, wavs, lengths=None):
        return wavs.unfold(1, 16, 16).abs().add(1e-3).log()


class MaskedMean(torch.nn.Module):
    """Encoder that averages only the real frames (like the padding mask)."""

    def __init__(self, n_classes=4):
        super().__init__()
        self.lin = torch.nn.Linear(16, n_classes)

    def forward(self, feats, lengths=None):
        n = (lengths * feats.shape[1]).round().long().clamp(min=1)
        mask = torch.arange(feats.shape[1])[None] < n[:, None]
        mask = mask.float()[..., None]
        return (self.lin(feats) * mask).sum(1, keepdim=True) / mask.sum(
            1, keepdim=True
        )


def _brain(multi_label, hop=0.5):
    head = torch.nn.Identity() if multi_label else torch.nn.LogSoftmax(-1)
    modules = {
        "compute_features": Frames(),
        "mean_var_norm": torch.nn.Identity(),
        "embedding_model": MaskedMean(),
        "classifier": head,
    }
    hparams = {
        "eval_window_seconds": 1.0,
        "eval_hop_seconds": hop,
        "sample_rate": RATE,
        "multi_label": multi_label,
    }
    return AudioSpectrogramTransformerBrain(
        modules=modules, hparams=hparams, run_opts={"device": "cpu"}
    )


def _window_probs(brain, clip, starts, multi_label):
    probs = []
    for start in starts:
        seg = clip[start : start + RATE]
        n = seg.shape[0]
        out, _, _ = brain._forward_waveforms(
            F.pad(seg, (0, RATE - n))[None], torch.tensor([n / RATE]), False
        )
        out = out.reshape(1, -1)
        probs.append(torch.sigmoid(out) if multi_label else out.exp())
    return torch.cat(probs).mean(0)


@pytest.mark.parametrize("multi_label", [False, True])
def test_windows_average_each_clip_alone(multi_label):
    torch.manual_seed(0)
    brain = _brain(multi_label)
    long_clip, short_clip = torch.randn(500), torch.randn(320)
    wavs = torch.zeros(2, 500)
    wavs[0], wavs[1, :320] = long_clip, short_clip
    out = brain._windowed_forward(wavs, torch.tensor([1.0, 320 / 500]))
    assert out.shape == (2, 1, 4)
    # 500 samples, window 160, hop 80: windows at 0, 80, ..., 400 (the last
    # one holds 100 real samples); 320 samples: 0, 80, 160
    expected_long = _window_probs(
        brain, long_clip, range(0, 401, 80), multi_label
    )
    expected_short = _window_probs(brain, short_clip, (0, 80, 160), multi_label)
    probs = torch.sigmoid(out) if multi_label else out.exp()
    torch.testing.assert_close(probs[0, 0], expected_long, atol=1e-5, rtol=0)
    torch.testing.assert_close(probs[1, 0], expected_short, atol=1e-5, rtol=0)


def test_clip_shorter_than_window_is_one_window():
    torch.manual_seed(0)
    brain = _brain(False)
    clip = torch.randn(100)
    out = brain._windowed_forward(clip[None], torch.ones(1))
    direct, _, _ = brain._forward_waveforms(clip[None], torch.ones(1), False)
    torch.testing.assert_close(out, direct, atol=1e-5, rtol=0)


def test_bad_window_is_an_error():
    brain = _brain(False, hop=0.0)
    with pytest.raises(ValueError, match="eval_hop_seconds"):
        brain._windowed_forward(torch.randn(1, 400), torch.ones(1))


@pytest.mark.parametrize("seconds", [0.5, 2.0, 3.2, 5.0])
def test_tagging_places_windows_like_the_recipe(tmp_path, seconds):
    """``ast-sb tag`` windows start where the recipe's test windows do."""
    from ast_sb.dataio.audio import save_audio
    from ast_sb.inference.tagging import iter_windows
    from ast_sb.inference.windows import cut_windows, window_count

    rate, window, hop = 1000, 2000, 1500
    n = int(seconds * rate)
    path = str(tmp_path / "x.wav")
    save_audio(path, torch.rand(n) - 0.5, rate)
    starts = [s for s, _, _ in iter_windows(path, 2.0, 1.5)]
    assert len(starts) == int(window_count(torch.tensor([n]), window, hop))
    wavs = torch.arange(1.0, n + 1)[None]
    chunks, _, _, _ = cut_windows(wavs, torch.tensor([n]), window, hop)
    assert [float(c[0] - 1) / rate for c in chunks] == starts
