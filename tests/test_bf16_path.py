"""bf16 by default where the CPU has it natively, with the probe as guard.

The CPU's answer is forced with ``AST_SB_NATIVE_BF16`` (or the ``bf16``
argument), so each branch runs on any CPU (on one without native bf16,
oneDNN emulates it: slow, same numbers). No timing assertions: the probe's
clock is replaced by a fake one.

Tolerances (bf16 has 8 mantissa bits, relative rounding 2**-8 = 0.4 %):

* bf16 against fp32: ``max|bf16 - fp32| <= BF16_RTOL * max|fp32|``
  (``BF16_RTOL`` = 0.05; measured 0.007-0.012 on these depth-1/2 models).
* a clip alone and in a padded batch through bf16: the same bound (both
  are bf16 computations; measured <= 0.007 relative).
* fp32: bit-exact, as before.
"""

import json

import helpers
import pytest
import torch

import ast_sb.inference.fast as fast
from ast_sb.cli import main
from ast_sb.inference.cpu_features import (
    NATIVE_BF16_ENV,
    cpu_flags,
    native_bf16,
)
from ast_sb.inference.fast import BF16_RTOL, InferencePath, default_path
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

LABELS = ["cat", "dog", "bird"]


def noise(seconds, seed=0, rate=16000, amp=0.1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(int(seconds * rate), generator=gen) * amp


def encoder(depth=2, frames=64):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=frames, depth=depth, use_padding_mask=True
    )
    return helpers.randomize_parameters(enc, seed=2).eval()


def within_bf16(out, ref):
    return (out - ref).abs().max() <= BF16_RTOL * ref.abs().max()


def fake_clock(monkeypatch, costs):
    """The probe's clock advances by a fixed cost per path run."""
    state = {"now": 0.0}
    run = InferencePath.run

    def counted(self, name, *args):
        state["now"] += costs[name]
        return run(self, name, *args)

    monkeypatch.setattr(fast, "_clock", lambda: state["now"])
    monkeypatch.setattr(InferencePath, "run", counted)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return helpers.make_model_folder(
        tmp_path_factory.mktemp("bf16") / "model", LABELS
    )


# ----------------------------------------------------------- detection
@pytest.mark.parametrize(
    "forced, capability, expected",
    [
        ("1", "AVX512", "bf16"),  # AMX / AVX512-BF16 Xeon
        ("1", "AVX2", "bf16"),  # Zen 4 level: native bf16, AVX2 kernels
        ("0", "AVX2", "fp32"),  # AVX2 EPYC: unchanged
    ],
)
def test_rule_per_forced_capability(monkeypatch, forced, capability, expected):
    monkeypatch.setenv(NATIVE_BF16_ENV, forced)
    assert native_bf16() is (forced == "1")
    assert default_path("cpu", capability, onednn=True) == expected
    run = InferencePath(encoder(1), "auto", capability=capability)
    assert run.candidate == expected
    assert default_path("cuda", capability, onednn=True) == "fp32"


def test_detection_reads_the_cpu_flags(monkeypatch, tmp_path):
    monkeypatch.delenv(NATIVE_BF16_ENV)
    # the emulation of tools/run_tests_all_isa.py sets it; set below
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    for flags, expected in [("fpu avx2 amx_bf16", True), ("fpu avx2", False)]:
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        parsed = cpu_flags.__wrapped__(str(cpuinfo))
        assert parsed == frozenset(flags.split())
        monkeypatch.setattr(
            "ast_sb.inference.cpu_features.cpu_flags",
            lambda found=parsed: found,
        )
        assert native_bf16() is expected
        # oneDNN limited below its bf16 kernels (the AVX2 emulation):
        # not native, whatever the flags say
        for isa, allowed in [("AVX2", False), ("AVX512_CORE", False)] + [
            ("AVX512_CORE_AMX", expected),
            ("ALL", expected),
        ]:
            monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
            assert native_bf16() is allowed
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv(NATIVE_BF16_ENV, "maybe")
    with pytest.raises(ValueError, match="maybe"):
        native_bf16()


# ----------------------------------------------------------- the probe
def test_auto_keeps_bf16_when_close_same_top1_and_faster(monkeypatch):
    enc = encoder()
    fake_clock(monkeypatch, {"fp32": 2.0, "bf16": 1.0})
    run = InferencePath(enc, "auto", bf16=True, scorer=lambda e: e)
    x = torch.randn(3, 64, 128)
    lengths = torch.tensor([1.0, 0.7, 0.4])
    with torch.no_grad():
        ref = enc(x, lengths)
        first = run(x, lengths)
        second = run(x, lengths)
    assert list(run.choices.values()) == ["bf16"]
    assert first.dtype == torch.float32
    assert torch.equal(first, second)  # the probe returns bf16's output
    assert not torch.equal(first, ref)
    assert within_bf16(second, ref)
    variant = run._variants["bf16"]
    assert variant.blocks[0].mlp.fc1.weight.dtype == torch.bfloat16
    assert enc.blocks[0].mlp.fc1.weight.dtype == torch.float32


@pytest.mark.parametrize("fault", ["too_far", "other_top1", "slower"])
def test_probe_falls_back_to_fp32(monkeypatch, fault):
    enc = encoder()
    costs = {"fp32": 2.0, "bf16": 3.0 if fault == "slower" else 1.0}
    fake_clock(monkeypatch, costs)
    if fault == "too_far":
        monkeypatch.setattr(fast, "BF16_RTOL", 1e-6)
    calls = []

    def scorer(emb):  # disagrees with itself on the second (bf16) call
        calls.append(1)
        top = torch.zeros(emb.shape[:-1] + (2,))
        top[..., 1 if fault == "other_top1" and len(calls) > 1 else 0] = 1
        return top

    run = InferencePath(enc, "auto", bf16=True, scorer=scorer)
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        ref = enc(x)
        assert torch.equal(run(x), ref)
        assert torch.equal(run(x), ref)
    assert list(run.choices.values()) == ["fp32"]


def test_fp32_stays_bit_exact_where_bf16_is_native(monkeypatch):
    monkeypatch.setenv(NATIVE_BF16_ENV, "1")
    enc = encoder()
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        assert torch.equal(InferencePath(enc, "fp32")(x), enc(x))


# ------------------------------------------------------------ interface
def test_interface_bf16_batch_equals_single(model_dir):
    """A clip scores alike alone and in a padded batch through bf16, near
    fp32 and with fp32's top-1 class."""
    clips = [noise(1.0, 1), noise(0.55, 2), noise(0.3, 3)]
    out, ref, bf16 = helpers.scores_beside_fp32(model_dir, clips, "bf16")
    assert within_bf16(out, ref) and not torch.equal(out, ref)
    assert torch.equal(out.argmax(-1), ref.argmax(-1))
    for i, clip in enumerate(clips):
        alone = bf16.classify_batch(clip[None])[0][0]
        assert within_bf16(alone, out[i])


def test_interface_auto_probe_checks_the_head(model_dir, monkeypatch):
    monkeypatch.setenv(NATIVE_BF16_ENV, "1")
    fake_clock(monkeypatch, {"fp32": 2.0, "bf16": 1.0})
    clf = AudioSpectrogramTransformerInterface.from_folder(model_dir)
    path = clf.pipeline.inference_path
    assert path.scorer is clf.head
    assert "classifier" not in str(list(clf.pipeline.state_dict()))
    clf.classify_batch(noise(1.0, 4)[None])
    assert set(path.choices.values()) == {"bf16"}
    assert all(p["same_top1"] for p in path.probes.values())


def test_cli_reports_the_path(model_dir, tmp_path, capsys, monkeypatch):
    from ast_sb.dataio.audio import save_audio

    monkeypatch.setenv(NATIVE_BF16_ENV, "1")
    path = str(tmp_path / "a.wav")
    save_audio(path, noise(1.0, 9), 16000)
    args = ["--model", model_dir, "--json"]
    assert (
        main(["classify", path, "--fast-path", "bf16", "--no-progress"] + args)
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["inference"]["fast_path"] == "bf16"
    assert data["inference"]["ran"] == ["bf16"]
    assert data["inference"]["cpu"]["native_bf16"] is True
    assert main(["info"] + args) == 0
    info = json.loads(capsys.readouterr().out)["inference"]
    assert info["fast_path"] == "auto" and info["candidate"] == "bf16"
    monkeypatch.setenv(NATIVE_BF16_ENV, "0")
    assert main(["info", "--model", model_dir]) == 0
    assert "native bf16: False" in capsys.readouterr().out
