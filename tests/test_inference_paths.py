"""The inference path chosen per machine, its override, and int8.

No timing assertions: the probe's clock is replaced by a fake one where
the choice depends on speed.

Tolerances:

* exact paths (what "auto" may run): within 1e-4 of fp32
  (``ast_sb.inference.fast.EXACT_ATOL``).
* int8 (PyTorch dynamic quantisation) against fp32 on the depth-1 test
  model: max abs log-probability difference <= 0.1 (measured 0.02-0.04).
* int8 ONNX (onnxruntime) against PyTorch int8 and fp32: <= 0.1
  (measured 0.02-0.03).
* a clip alone and in a padded batch through int8: within 1e-5 (each clip
  runs alone; a batched int8 forward differs by ~1e-2 through the shared
  activation scale).
"""

import helpers
import pytest
import torch

import ast_sb.cli as cli
import ast_sb.inference.fast as fast
import ast_sb.inference.onednn as onednn
import ast_sb.lobes.token_budget as token_budget
from ast_sb.cli import FAST_PATHS, main
from ast_sb.inference.fast import (
    EXACT_ATOL,
    INFERENCE_PATHS,
    InferencePath,
    OneDNNLinear,
    default_path,
    onednn_linear_available,
    use_onednn_linear,
)
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

LABELS = ["cat", "dog", "bird"]
INT8_ATOL = 0.1


def noise(seconds, seed=0, rate=16000, amp=0.1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(int(seconds * rate), generator=gen) * amp


def encoder(depth=1, frames=64):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=frames, depth=depth
    )
    return helpers.randomize_parameters(enc, seed=2).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return helpers.make_model_folder(
        tmp_path_factory.mktemp("paths") / "model", LABELS
    )


@pytest.fixture
def fresh_probe():
    """Re-probes the oneDNN operator before and after the test."""
    fast.onednn_linear_op.cache_clear()
    yield
    fast.onednn_linear_op.cache_clear()


class FakeClock:
    """``_clock`` of the probe: each path run advances it by its cost."""

    def __init__(self, costs):
        self.now = 0.0
        self.costs = costs

    def __call__(self):
        return self.now


def timed_runs(monkeypatch, costs):
    """Fake clock + counted runs; returns (clock, list of run names)."""
    clock = FakeClock(costs)
    calls = []
    run = InferencePath.run

    def counted(self, name, *args):
        calls.append(name)
        clock.now += clock.costs[name]
        return run(self, name, *args)

    monkeypatch.setattr(fast, "_clock", clock)
    monkeypatch.setattr(InferencePath, "run", counted)
    return clock, calls


# ----------------------------------------------------------- the rule
@pytest.mark.parametrize(
    "device, capability, onednn, expected",
    [
        ("cpu", "AVX2", True, "fp32"),  # oneDNN measured slower on AVX2
        ("cpu", "DEFAULT", True, "fp32"),
        ("cpu", "AVX512", True, "onednn"),
        ("cpu", "AVX512", False, "fp32"),  # private op missing / failing
        ("cuda", "AVX512", True, "fp32"),  # bf16 is not exact
    ],
)
def test_capability_rule(device, capability, onednn, expected):
    assert default_path(device, capability, onednn) == expected


def test_cli_choices_are_the_inference_paths():
    assert FAST_PATHS == INFERENCE_PATHS
    assert cli.TOKEN_BUDGET_AXES == token_budget.TOKEN_BUDGET_AXES


def test_auto_on_avx2_runs_the_module_itself(monkeypatch):
    enc = encoder()
    _, calls = timed_runs(monkeypatch, {"fp32": 1.0})
    run = InferencePath(enc, "auto", capability="AVX2")
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        assert torch.equal(run(x), enc(x))
        run(x)
    assert calls == ["fp32", "fp32"]  # no probe, no variant built
    assert run._variants == {}
    assert list(run.choices.values()) == ["fp32"]


def test_unknown_path_is_refused():
    with pytest.raises(ValueError, match="'fp8'"):
        InferencePath(encoder(), "fp8")


# ----------------------------------------------------------- the probe
@pytest.mark.skipif(not onednn_linear_available(), reason="no oneDNN op")
@pytest.mark.parametrize(
    "costs, expected",
    [
        ({"fp32": 2.0, "onednn": 1.0}, "onednn"),
        ({"fp32": 1.0, "onednn": 2.0}, "fp32"),  # never slower than fp32
    ],
)
def test_probe_keeps_the_candidate_only_if_not_slower(
    monkeypatch, costs, expected
):
    enc = encoder(depth=2)
    _, calls = timed_runs(monkeypatch, costs)
    run = InferencePath(enc, "auto", probe_reps=2, capability="AVX512")
    x = torch.randn(3, 64, 128)
    with torch.no_grad():
        ref = enc(x)
        first = run(x)  # the probe's fp32 output
        second = run(x)
        other = run(x[:1])  # a new shape is probed again
    assert torch.equal(first, ref)
    assert (second - ref).abs().max() <= EXACT_ATOL
    assert (other - ref[:1]).abs().max() <= EXACT_ATOL
    probe = ["fp32", "onednn"] * 3  # warm-up + 2 timed reps each
    assert calls == probe + [expected] + probe
    assert list(run.choices.values()) == [expected, expected]
    assert run.probes[next(iter(run.probes))]["max_abs_diff"] <= EXACT_ATOL


def test_probe_refuses_an_inexact_candidate(monkeypatch):
    """A faster exact-class path (oneDNN) whose outputs are not within 1e-4
    of fp32 is never kept (bf16 has its own relative bound and top-1 check:
    tests/test_bf16_path.py)."""
    enc = encoder(depth=2)
    timed_runs(monkeypatch, {"fp32": 5.0, "onednn": 1.0})
    monkeypatch.setattr(fast, "default_path", lambda *a, **k: "onednn")
    run = InferencePath(enc, "auto")
    run._variants["onednn"] = lambda *args: enc(*args) + 1e-3
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        ref = enc(x)
        run(x)
        assert torch.equal(run(x), ref)
    assert list(run.choices.values()) == ["fp32"]
    assert run.probes[next(iter(run.probes))]["max_abs_diff"] > EXACT_ATOL


# ----------------------------------------------- the private op's fallback
def _raise(*args):
    raise RuntimeError("no oneDNN here")


@pytest.mark.parametrize(
    "private",
    [
        pytest.param(lambda: _raise(), id="missing"),
        pytest.param(lambda: _raise, id="fails"),
        pytest.param(
            lambda: lambda x, w, b, *a: torch.zeros(x.shape[:-1] + (4,)),
            id="wrong",
        ),
    ],
)
def test_onednn_op_missing_or_wrong_falls_back(
    monkeypatch, fresh_probe, private
):
    monkeypatch.setattr(onednn, "_private_onednn_linear", private)
    assert fast.onednn_linear_op() is None
    assert default_path("cpu", "AVX512") == "fp32"
    enc = encoder()
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        ref = enc(x)
        with pytest.warns(RuntimeWarning, match="unavailable"):
            assert use_onednn_linear(enc) == 0
        assert torch.equal(
            InferencePath(enc, "auto", capability="AVX512")(x), ref
        )
    # a layer built before the probe failed still falls back to F.linear
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 4)
    layer = OneDNNLinear.from_linear(linear, activation="gelu")
    with torch.no_grad():
        inputs = torch.randn(3, 8)
        expected = torch.nn.functional.gelu(linear(inputs))
        assert torch.equal(layer(inputs), expected)


# ------------------------------------------------------------ interface
def test_interface_default_override_and_bad_value(model_dir):
    clf = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    assert clf.fast_path == "auto"
    forced = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path="int8"
    )
    assert forced.fast_path == "int8"
    with pytest.raises(ValueError, match="'int4'"):
        clf.fast_path = "int4"


def test_interface_auto_equals_fp32_on_any_rule(model_dir, monkeypatch):
    """Whatever the CPU, "auto" gives fp32's scores within 1e-4 (here with
    the AVX-512 rule and a oneDNN path the fake clock makes faster)."""
    clips = [noise(1.0, 1), noise(0.55, 2), noise(0.3, 3)]
    wavs = torch.zeros(3, 16000)
    for i, clip in enumerate(clips):
        wavs[i, : len(clip)] = clip
    lens = torch.tensor([len(c) / 16000 for c in clips])
    ref_model = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path="fp32"
    )
    ref = ref_model.classify_batch(wavs, lens)[0]
    monkeypatch.setattr(fast, "cpu_capability", lambda: "AVX512")
    timed_runs(monkeypatch, {"fp32": 2.0, "onednn": 1.0, "int8": 1.0})
    clf = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    for _ in range(2):  # probe, then the cached choice
        out = clf.classify_batch(wavs, lens)[0]
        assert (out - ref).abs().max() <= EXACT_ATOL
    expected = "onednn" if onednn_linear_available() else "fp32"
    assert set(clf.pipeline.inference_path.choices.values()) == {expected}


def test_int8_through_the_interface(model_dir):
    """int8 runs through the interface; a clip scores the same alone and in
    a padded batch; scores stay near fp32 with the same top-1 class."""
    clips = [noise(1.0, 4), noise(0.55, 5), noise(0.3, 6), noise(0.8, 7)]
    out, ref, int8 = helpers.scores_beside_fp32(model_dir, clips, "int8")
    assert 0 < (out - ref).abs().max() <= INT8_ATOL
    assert torch.equal(out.argmax(-1), ref.argmax(-1))
    for i, clip in enumerate(clips):
        alone = int8.classify_batch(clip[None])[0][0]
        assert (out[i] - alone).abs().max() <= 1e-5
    quantised = int8.pipeline.inference_path._variants["int8"]
    # the blocks' MatMuls run int8 in onnxruntime (4 Linear layers per
    # block of the depth-1 model + the attention products at most)
    assert quantised.op_types.get("MatMulInteger", 0) >= 4


def test_int8_masks_the_padding_of_a_short_clip():
    """The int8 graph attends only to a padded clip's own tokens: its
    scores are near the masked fp32 encoder's and far from the unmasked
    one's (the padding attended to); the padding mask also reaches a
    token budget's kept tokens."""
    torch.manual_seed(3)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=128, depth=2, use_padding_mask=True
    ).eval()
    feats = torch.randn(3, 128, 128)
    feats[1:, 40:] = 3.0  # loud padding: attending to it shows
    lengths = torch.tensor([1.0, 0.3, 0.3])
    int8 = InferencePath(enc, "int8")
    with torch.no_grad():
        out = int8(feats, lengths)
        masked = enc(feats, lengths)
        unmasked = enc(feats)
    near = (out - masked).abs().amax(dim=(1, 2))
    far = (unmasked - masked).abs().amax(dim=(1, 2))
    assert torch.all(near[1:] <= 0.1 * far[1:]), (near, far)
    assert near[0] <= 0.05 * masked.abs().max()
    enc.token_budget = 0.5
    with torch.no_grad():
        out = int8(feats, lengths)
        masked = enc(feats, lengths)
    scale = masked.abs().max()
    assert (out - masked).abs().max() <= 0.05 * scale


def test_int8_without_onnxruntime_names_the_extra(monkeypatch):
    import ast_sb.inference.onnxruntime_int8 as int8

    monkeypatch.setattr(int8, "onnxruntime_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"ast_sb\[onnx\]"):
        InferencePath(encoder(), "int8")(torch.randn(1, 64, 128))
    with pytest.raises(ValueError, match="needs example inputs"):
        int8.quantize_int8(torch.nn.Linear(4, 4))


def test_int8_follows_new_weights(model_dir):
    """Loading other weights rebuilds the quantised copy."""
    clf = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path="int8"
    )
    wav = noise(1.0, 8)[None]
    before = clf.classify_batch(wav)[0]
    state = {k: v * 1.5 for k, v in clf.pipeline.state_dict().items()}
    clf.pipeline.load_state_dict(state)
    after = clf.classify_batch(wav)[0]
    clf.fast_path = "fp32"
    ref = clf.classify_batch(wav)[0]
    assert (after - ref).abs().max() <= INT8_ATOL
    assert (after - before).abs().max() > INT8_ATOL


def test_int8_follows_a_new_token_budget(model_dir):
    """A token budget set after the quantised copy exists reaches it."""
    clf = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path="int8"
    )
    wav = noise(1.0, 9)[None]
    full = clf.classify_batch(wav)[0]
    clf.token_budget = 0.5
    budget = clf.classify_batch(wav)[0]
    quantised = clf.pipeline.inference_path._variants["int8"]
    assert quantised.encoder.token_budget == 0.5  # embeds in PyTorch
    clf.fast_path = "fp32"
    ref = clf.classify_batch(wav)[0]
    assert (budget - ref).abs().max() <= INT8_ATOL
    assert not torch.equal(budget, full)


def test_cli_fast_path_flag(model_dir, tmp_path, capsys):
    from ast_sb.dataio.audio import save_audio

    path = str(tmp_path / "a.wav")
    save_audio(path, noise(1.0, 9), 16000)
    code = main(
        ["classify", path, "--model", model_dir, "--fast-path", "int8"]
        + ["--json", "--no-progress"]
    )
    assert code == 0
    assert '"status": "ok"' in capsys.readouterr().out
    code = main(["classify", path, "--model", model_dir, "--fast-path", "x"])
    assert code != 0
    assert "invalid choice: 'x'" in capsys.readouterr().err


# ------------------------------------------------------------ int8 ONNX
def test_int8_onnx_export_agrees_with_pytorch(model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnxruntime as ort

    from ast_sb.export.model_export import export_model

    report = export_model(
        model_dir, str(tmp_path / "onnx"), formats=["onnx_int8"]
    )
    entry = report["onnx_int8"]
    assert entry["ok"] and entry["max_abs_diff"] <= entry["atol"]
    session = ort.InferenceSession(
        entry["path"], providers=["CPUExecutionProvider"]
    )
    ops = {
        node.op_type
        for node in __import__("onnx").load(entry["path"]).graph.node
    }
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    clf = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    torch.manual_seed(5)
    feats = torch.randn(3, clf.max_frames, 128)
    with torch.no_grad():
        ref = clf.head(clf.encoder(feats)).squeeze(1)
        torch_int8 = clf.head(
            InferencePath(clf.encoder, "int8")(feats)
        ).squeeze(1)
    out = torch.from_numpy(session.run(None, {"inputs": feats.numpy()})[0])
    assert 0 < (out - ref).abs().max() <= INT8_ATOL
    assert (out - torch_int8).abs().max() <= INT8_ATOL


# ---------------------------------------------------------------- Brain
@pytest.fixture(scope="module")
def tones():
    import ddp_worker

    return ddp_worker.make_dataset(16, seed=2, prefix="va")


def test_brain_test_stage_uses_the_yaml_path(tones, tmp_path):
    """Test (evaluate) runs the encoder through hparam
    ``inference_fast_path``; "auto" scores as fp32, "int8" runs the
    quantised encoder, and validation in fit runs the module itself."""
    kwargs = {"batch_size": 8}
    losses, paths = {}, {}
    for path in ("fp32", "auto", "int8"):
        brain, _ = helpers.make_brain(inference_fast_path=path)
        losses[path] = brain.evaluate(tones, test_loader_kwargs=dict(kwargs))
        paths[path] = brain.test_path
    with pytest.raises(ValueError, match="'int4'"):
        helpers.make_brain(inference_fast_path="int4")[0].evaluate(
            tones, test_loader_kwargs=dict(kwargs)
        )
    assert abs(losses["auto"] - losses["fp32"]) <= EXACT_ATOL
    assert 0 < abs(losses["int8"] - losses["fp32"]) <= INT8_ATOL
    assert "int8" in paths["int8"]._variants
    assert set(paths["int8"].choices.values()) == {"int8"}
    brain, counter = helpers.make_brain(epochs=1, inference_fast_path="int8")
    brain.evaluate(tones, test_loader_kwargs=dict(kwargs))
    brain.fit(counter, tones, tones, train_loader_kwargs=dict(kwargs))
    assert brain.test_path is None  # reset for training and validation
