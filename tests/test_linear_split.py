"""bf16 oneDNN Linear layers run whole or in two output halves, as measured.

The choice is timed per shape (``ast_sb.inference.linear_split``); these
tests replace the clock or the choice, so nothing asserts a timing. Where
oneDNN has no bf16 inner product (an AVX2 CPU), the layer tests that need
it are skipped; the split itself is checked with ``F.linear`` everywhere.

Tolerances: fp32 halves against the whole layer within 1e-5 of the
largest output (the same dot products, blocked apart); bf16 within 2**-7
of the largest output (bf16's relative rounding is 2**-8; the halves may
block the inner dimension differently).

Authors
 * ast_sb developers 2026
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ast_sb.inference.linear_split as linear_split
from ast_sb.inference.fast import BF16_RTOL, InferencePath
from ast_sb.inference.linear_split import (
    MIN_ROWS,
    clear_split_choices,
    measured_fastest,
    output_halves_linear,
    split_choices,
    tuned_bf16_linear,
)
from ast_sb.inference.onednn import (
    OneDNNLinear,
    onednn_bf16_linear_available,
    onednn_linear_op,
)
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

needs_bf16_onednn = pytest.mark.skipif(
    not onednn_bf16_linear_available(),
    reason="oneDNN has no bf16 inner product on this CPU",
)


def _linear_op(x, w, b, activation, scalars, algorithm):
    out = F.linear(x, w, b)
    return F.gelu(out) if activation == "gelu" else out


@pytest.fixture(autouse=True)
def fresh_choices():
    clear_split_choices()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)
    clear_split_choices()


class FakeClock:
    """Time that moves only when a candidate says how long it took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def runner(self, durations, output):
        durations = iter(durations)

        def run():
            self.now += next(durations)
            return output

        return run


def test_fastest_by_median_after_a_warm_up():
    clock = FakeClock()
    candidates = {
        "whole": clock.runner([0.1, 5.0, 5.0, 5.0], "W"),
        # slow warm-up and one slow spell: the median still says faster
        "halves": clock.runner([9.0, 1.0, 1.0, 50.0], "H"),
    }
    assert measured_fastest(candidates, reps=3, clock=clock) == ("halves", "H")


def test_fastest_tie_goes_to_the_first():
    clock = FakeClock()
    candidates = {
        "whole": clock.runner([1.0] * 4, "W"),
        "halves": clock.runner([1.0] * 4, "H"),
    }
    assert measured_fastest(candidates, reps=3, clock=clock) == ("whole", "W")


@pytest.mark.parametrize("activation", ["none", "gelu"])
def test_output_halves_equal_the_whole_layer_fp32(activation):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 70, 48, generator=gen)
    w = torch.randn(300, 48, generator=gen)
    b = torch.randn(300, generator=gen) * 10
    ref = _linear_op(x, w, b, activation, [], "")
    out = output_halves_linear(_linear_op, x, w, b, activation, "")
    assert out.shape == ref.shape
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    op = onednn_linear_op()
    if op is not None:
        algorithm = "none" if activation == "gelu" else ""
        out = output_halves_linear(op, x, w, b, activation, algorithm)
        assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    no_bias = output_halves_linear(_linear_op, x, w, None, activation, "")
    assert (
        no_bias - _linear_op(x, w, None, activation, [], "")
    ).abs().max() <= (1e-5 * ref.abs().max())


def test_small_shapes_one_thread_and_the_switch_run_whole(monkeypatch):
    calls = []
    monkeypatch.setattr(
        linear_split, "measured_fastest", lambda *a, **k: calls.append(a)
    )
    w = torch.randn(512, 16).bfloat16()
    few_rows = torch.randn(1, MIN_ROWS - 1, 16).bfloat16()
    tuned_bf16_linear(_linear_op, few_rows, w, None, "none", "")
    narrow = torch.randn(1, 200, 16).bfloat16()
    tuned_bf16_linear(_linear_op, narrow, w[:128], None, "none", "")
    torch.set_num_threads(1)
    tuned_bf16_linear(_linear_op, narrow, w, None, "none", "")
    torch.set_num_threads(2)
    monkeypatch.setenv(linear_split.SPLIT_ENV, "0")
    tuned_bf16_linear(_linear_op, narrow, w, None, "none", "")
    assert calls == [] and split_choices() == {}
    monkeypatch.setenv(linear_split.SPLIT_ENV, "1")
    with pytest.raises(TypeError):  # the fake measurement was reached
        tuned_bf16_linear(_linear_op, narrow, w, None, "none", "")


def _force(monkeypatch, chunks):
    """Makes every measurement choose ``chunks``; returns the call log."""
    calls = []

    def choose(candidates, *args, **kwargs):
        calls.append(sorted(candidates))
        return chunks, candidates[chunks]()

    monkeypatch.setattr(linear_split, "measured_fastest", choose)
    return calls


@needs_bf16_onednn
@pytest.mark.parametrize("chunks", [1, 2])
def test_a_shape_is_measured_once_and_scores_alike(monkeypatch, chunks):
    calls = _force(monkeypatch, chunks)
    torch.manual_seed(0)
    layer = OneDNNLinear.from_linear(nn.Linear(96, 384), "gelu").bfloat16()
    x = torch.randn(2, 100, 96).bfloat16()
    with torch.no_grad():
        first = layer(x)
        second = layer(x)
        ref = F.gelu(
            F.linear(x.float(), layer.weight.float(), layer.bias.float())
        )
    assert calls == [[1, 2]]
    assert split_choices() == {(200, 96, 384, "gelu", 2): chunks}
    assert torch.equal(first, second)
    assert (first.float() - ref).abs().max() <= 2**-7 * ref.abs().max()


@needs_bf16_onednn
def test_encoder_with_every_linear_split_keeps_the_bf16_bounds(monkeypatch):
    calls = _force(monkeypatch, 2)
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=128, depth=2
    ).eval()
    feats = torch.randn(3, 128, 128)
    lengths = torch.tensor([1.0, 0.5, 0.75])
    path = InferencePath(enc, "bf16")
    with torch.no_grad():
        ref = enc(feats, lengths)
        batch = path(feats, lengths)
        alone = torch.cat(
            [path(feats[i : i + 1], lengths[i : i + 1]) for i in range(3)]
        )
    assert calls  # the split ran
    assert set(split_choices().values()) == {2}
    bound = BF16_RTOL * ref.abs().max()
    assert (batch - ref).abs().max() <= bound
    assert (alone - batch).abs().max() <= bound
