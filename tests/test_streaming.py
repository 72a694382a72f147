"""Tests of real-time tagging (ast_sb.inference.streaming, ``ast-sb stream``).

Authors
 * ast_sb developers 2026
"""

import io
import json
import math
import struct
import sys
import threading
import time

import numpy as np
import pytest
import torch
import torchaudio
import torchaudio.compliance.kaldi as ta_kaldi
from helpers import assert_close_to_scale, make_model_folder

from ast_sb.cli import main
from ast_sb.dataio.audio import AudioLoadError, save_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.inference.stream_sources import (
    PcmDecoder,
    StreamResampler,
    follow_file,
    microphone_chunks,
    read_wav_header,
)
from ast_sb.inference.streaming import StreamingFbank, StreamingTagger
from ast_sb.inference.tagging import SlidingWindowTagger, event_order
from ast_sb.lobes.features import KaldiFbank

RATE = 16000


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    return {
        "single": make_model_folder(root / "single", ["a", "b", "c"]),
        "multi": make_model_folder(
            root / "multi", ["a", "b", "c", "d"], multi_label=True, seed=3
        ),
    }


def bursty_audio(seconds, seed=0):
    """Noise whose loudness and colour change every ~0.7 s."""
    rng = np.random.default_rng(seed)
    wav = rng.standard_normal(int(seconds * RATE)).astype(np.float32)
    step = int(0.7 * RATE)
    for a in range(0, len(wav), step):
        wav[a : a + step] *= rng.choice([0.01, 0.1, 0.5])
        if rng.random() < 0.5:
            wav[a : a + step] = np.cumsum(wav[a : a + step]) * 0.05
    return np.clip(wav, -1, 1)


def stream_in_chunks(tagger, wav, seed=1, max_chunk=5000):
    rng = np.random.default_rng(seed)
    events, i = [], 0
    while i < len(wav):
        n = int(rng.integers(1, max_chunk))
        events += tagger.push(wav[i : i + n])
        i += n
    return events + tagger.finish()


def as_tuples(events):
    return [(e.start, e.end, e.label) for e in events]


CASES = [
    ("single", dict(window=1.0, hop=0.5)),
    ("single", dict(window=1.2, hop=0.3, merge_gap=0.6, min_duration=0.5)),
    ("single", dict(window=1.0, hop=1.0, threshold=0.36)),
    ("multi", dict(window=1.0, hop=0.25, threshold=0.55)),
    ("multi", dict(window=1.27, hop=0.5, threshold=0.4, top_k=1)),
]


@pytest.mark.parametrize("kind,options", CASES)
def test_stream_equals_offline_tagging(folders, tmp_path, kind, options):
    model = AudioSpectrogramTransformerInterface.from_folder(folders[kind])
    wav = bursty_audio(9.37)
    path = str(tmp_path / "x.wav")
    save_audio(path, torch.from_numpy(wav), RATE, subtype="FLOAT")
    offline = SlidingWindowTagger(model, **options).tag_file(path)
    windows = []
    tagger = StreamingTagger(
        model, on_window=lambda *w: windows.append(w), **options
    )
    assert tagger.incremental  # hops are multiples of 10 ms
    events = stream_in_chunks(tagger, wav)
    assert [w[0] for w in windows] == offline.window_starts.tolist()
    assert [w[1] for w in windows] == offline.window_ends.tolist()
    np.testing.assert_allclose(
        np.stack([w[2] for w in windows]), offline.scores, atol=1e-5
    )
    assert len(offline.events) >= 2
    # emitted as they close; the same timeline once sorted
    events.sort(key=event_order)
    assert as_tuples(events) == as_tuples(offline.events)
    np.testing.assert_allclose(
        [e.score for e in events],
        [e.score for e in offline.events],
        atol=1e-6,
    )


def test_waveform_mode_equals_offline(folders, tmp_path):
    """Without the incremental fbank (a hop that is not a whole number of
    frames), each window's waveform is classified: the same events."""
    model = AudioSpectrogramTransformerInterface.from_folder(folders["single"])
    wav = bursty_audio(6.1, seed=4)
    path = str(tmp_path / "y.wav")
    save_audio(path, torch.from_numpy(wav), RATE, subtype="FLOAT")
    options = dict(window=1.1, hop=0.3333)
    with pytest.raises(ValueError, match="not a multiple of the frame shift"):
        StreamingTagger(model, incremental=True, **options)
    tagger = StreamingTagger(model, **options)
    assert not tagger.incremental
    offline = SlidingWindowTagger(model, **options).tag_file(path)
    events = sorted(stream_in_chunks(tagger, wav, seed=5), key=event_order)
    assert as_tuples(events) == as_tuples(offline.events)
    assert tagger.n_windows == len(offline.window_starts)


def test_events_are_emitted_as_they_close(folders):
    """An event comes out of push() once the audio has passed its end by a
    hop and a window (the windows that decide its last segments), not at
    the end of the stream."""
    model = AudioSpectrogramTransformerInterface.from_folder(folders["single"])
    window, hop = 1.0, 0.5
    tagger = StreamingTagger(model, window=window, hop=hop)
    wav = bursty_audio(12.0, seed=2)
    emitted_at = []  # (event, seconds of audio received when emitted)
    for chunk in np.array_split(wav, 60):  # 0.2 s chunks
        for event in tagger.push(chunk):
            emitted_at.append((event, tagger.received / RATE))
    last = tagger.finish()
    assert len(emitted_at) >= 3 and last
    for event, when in emitted_at:
        assert event.end <= when <= event.end + hop + window + 0.2 + 1e-9
    # the events still open at the end are the ones that end late
    assert min(e.end for e in last) > 12.0 - hop - window - 0.2


def test_streaming_fbank_equals_kaldi():
    torch.manual_seed(0)
    wav = torch.randn(3 * RATE + 123) * 0.1
    for fbank in (KaldiFbank(), KaldiFbank(target_length=64)):
        stream = StreamingFbank(fbank)
        rng = np.random.default_rng(0)
        parts, i = [], 0
        while i < len(wav):
            n = int(rng.integers(1, 3000))
            parts.append(stream.push(wav[i : i + n]))
            i += n
        frames = torch.cat(parts)
        ref = ta_kaldi.fbank(
            wav[None],
            sample_frequency=RATE,
            window_type="hanning",
            num_mel_bins=128,
            dither=0.0,
        )
        assert frames.shape == ref.shape == (299, 128)
        assert_close_to_scale(frames, ref, 3e-7)
        assert stream.frames_done == 299 and len(stream.tail) < 400


class LoudFrames(torch.nn.Module):
    """Cheap "encoder": share of loud frames in two mel bands."""

    def forward(self, feats, lengths=None):
        loud = feats.max(dim=-1).values > 0.75
        low = (feats[:, :, :64].max(dim=-1).values > 0.75).float().mean(1)
        return torch.stack([low, loud.float().mean(1)], dim=-1)[:, None]


class LogitHead(torch.nn.Module):
    def forward(self, emb):
        return (emb - 0.3) * 20.0


def test_memory_stays_flat_over_a_long_stream(tmp_path):
    """Ten minutes of audio in 1 s chunks (an hour in benchmarks/): every
    buffer stays bounded by the window (frames, fbank tail, window scores,
    open events) and nothing grows after the first minute."""
    folder = make_model_folder(
        tmp_path / "m",
        ["low", "loud"],
        multi_label=True,
        target_length=1024,
        feature_length=None,
    )
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    model.mods.embedding_model.encoder = LoudFrames()  # cheap forward
    model.mods.classifier.head = LogitHead()
    tagger = StreamingTagger(model, window=10.0, hop=5.0)
    assert tagger.incremental
    rng = np.random.default_rng(0)
    tone = 0.5 * np.sin(2 * np.pi * 3000 * np.arange(RATE) / RATE)
    peak = {}
    n_events = 0
    for second in range(600):
        chunk = rng.standard_normal(RATE).astype(np.float32) * 0.01
        if (second // 20) % 3 == 0:  # a loud tone 20 s out of every 60 s
            chunk += tone.astype(np.float32)
        n_events += len(tagger.push(chunk))
        for key, value in tagger.buffered().items():
            peak[key] = max(peak.get(key, 0), value)
        if second == 59:
            after_a_minute = dict(peak)
    n_events += len(tagger.finish())
    assert tagger.n_windows == 119
    assert n_events >= 10  # the tone events, emitted along the way
    assert peak == after_a_minute
    assert peak["frames"] <= peak["frame_capacity"] <= 998 + 500 + 2
    assert peak["fbank_tail"] < 400
    assert peak["windows"] <= 3 and peak["open_events"] <= 2


def test_stream_errors(folders):
    model = AudioSpectrogramTransformerInterface.from_folder(folders["single"])
    tagger = StreamingTagger(model, window=1.0, hop=0.5)
    tagger.push(np.zeros(RATE, np.float32))
    bad = np.zeros(RATE, np.float32)
    bad[RATE // 2] = np.nan
    with pytest.raises(AudioLoadError, match=r"NaN.*1\.500 s"):
        tagger.push(bad)
    with pytest.raises(AudioLoadError, match="no samples"):
        StreamingTagger(model, window=1.0, hop=0.5).finish()
    short = StreamingTagger(model, window=1.0, hop=0.5)
    short.push(np.zeros(300, np.float32))
    with pytest.raises(AudioLoadError, match="too short"):
        short.finish()


def test_resampled_stream(folders):
    """8 kHz input is resampled as one signal: the same as resampling the
    whole signal at once."""
    x = torch.from_numpy(bursty_audio(2.5, seed=7)[::2].copy())
    res = StreamResampler(8000, RATE)
    rng = np.random.default_rng(0)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 3000))
        out.append(res.push(x[i : i + n]))
        i += n
    out.append(res.flush())
    whole = torchaudio.functional.resample(x, 8000, RATE)
    got = torch.cat(out)
    assert got.shape == whole.shape
    assert (got - whole).abs().max() < 1e-5
    odd = StreamResampler(44100, RATE)
    y = torch.randn(44100)
    got = torch.cat([odd.push(y[:10000]), odd.push(y[10000:]), odd.flush()])
    ref = torchaudio.functional.resample(y, 44100, RATE)
    assert got.shape == ref.shape and (got - ref).abs().max() < 1e-5
    model = AudioSpectrogramTransformerInterface.from_folder(folders["single"])
    tagger = StreamingTagger(model, window=1.0, hop=0.5, input_rate=8000)
    tagger.push(x.numpy())
    tagger.finish()
    assert tagger.received == len(whole) == 2 * len(x)


def test_pcm_and_wav_decoding():
    samples = np.array([[1000, -2000], [32767, -32768]], "<i2")
    dec = PcmDecoder("s16le", 2)
    data = samples.tobytes()
    got = np.concatenate([dec.decode(data[:3]), dec.decode(data[3:])])
    np.testing.assert_allclose(got, samples.mean(axis=1) / 32768.0)
    with pytest.raises(ValueError, match="Unknown PCM format"):
        PcmDecoder("mp3")
    with pytest.raises(AudioLoadError, match="not a WAV"):
        read_wav_header(io.BytesIO(b"OggS" + bytes(40)), "x.ogg")
    buf = io.BytesIO()
    import soundfile as sf

    sf.write(
        buf, np.zeros(10, np.float32), 22050, format="WAV", subtype="FLOAT"
    )
    buf.seek(0)
    assert read_wav_header(buf) == (22050, 1, "f32le")


def wav_header(rate, channels=1):
    """A 16-bit WAV header whose sizes are not filled in (a recorder's)."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 0)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", 0)
    )


def test_follow_growing_file(tmp_path):
    path = str(tmp_path / "rec.wav")
    pcm = (np.random.default_rng(0).standard_normal(RATE) * 3000).astype("<i2")
    with open(path, "wb") as fout:
        fout.write(wav_header(RATE))

    def writer():
        with open(path, "ab") as fout:
            for part in np.array_split(pcm, 10):
                fout.write(part.tobytes())
                fout.flush()
                time.sleep(0.03)

    thread = threading.Thread(target=writer)
    thread.start()
    rate, chunks = follow_file(path, idle_timeout=0.5, poll=0.01)
    got = np.concatenate(list(chunks))
    thread.join()
    assert rate == RATE
    np.testing.assert_array_equal(got, pcm.astype(np.float32) / 32768.0)


def test_microphone_needs_sounddevice(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # not installed
    with pytest.raises(RuntimeError, match="pip install sounddevice"):
        next(microphone_chunks())


def run_cli(capsys, monkeypatch, argv, stdin_bytes=None):
    if stdin_bytes is not None:
        monkeypatch.setattr(
            sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_bytes))
        )
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_stream_stdin_equals_tag(folders, tmp_path, capsys, monkeypatch):
    model_dir = folders["single"]
    pcm = (bursty_audio(7.4, seed=9) * 32767).astype("<i2")
    path = tmp_path / "rec.wav"
    save_audio(path, torch.from_numpy(pcm / 32768.0), RATE, subtype="PCM_16")
    opts = ["--window", 1.0, "--hop", 0.5, "--merge-gap", 0.5]
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        ["tag", path, "--model", model_dir, "--json", *opts],
    )
    assert code == 0, err
    tagged = json.loads(out)
    assert len(tagged["events"]) >= 2
    for argv, data in [
        (["--format", "s16le"], pcm.tobytes()),
        (["--format", "wav"], path.read_bytes()),
    ]:
        code, out, err = run_cli(
            capsys,
            monkeypatch,
            ["stream", "--model", model_dir, *argv, "--windows", *opts],
            data,
        )
        assert code == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        events = [r for r in lines if r.pop("type") == "event"]
        events.sort(key=lambda e: (e["start"], -e["score"], e["label"]))
        assert [(e["start"], e["end"], e["label"]) for e in events] == [
            (e["start"], e["end"], e["label"]) for e in tagged["events"]
        ]
        for got, want in zip(events, tagged["events"]):
            assert got["score"] == pytest.approx(want["score"], abs=1e-4)
        assert len([r for r in lines if "top" in r]) == tagged["n_windows"]
        assert lines[-1] == {
            "duration": 7.4,
            "n_windows": tagged["n_windows"],
            "n_events": len(events),
        }
    # a finished file as the source, and errors
    code, out, _ = run_cli(
        capsys, monkeypatch, ["stream", path, "--model", model_dir, *opts]
    )
    assert code == 0 and json.loads(out.splitlines()[-1])["n_windows"] == 14
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        ["stream", "--model", model_dir, "--format", "f32le"],
        np.full(2 * RATE, np.nan, "<f4").tobytes(),
    )
    assert code == 1 and "NaN" in err


def test_cli_stream_resamples_raw_pcm(folders, capsys, monkeypatch):
    pcm = (bursty_audio(3.0, seed=3)[::2] * 0.9).astype("<f4")
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        ["stream", "--model", folders["multi"], "--format", "f32le"]
        + ["--rate", 8000, "--window", 1.0, "--hop", 0.5],
        pcm.tobytes(),
    )
    assert code == 0, err
    end = json.loads(out.splitlines()[-1])
    assert end["duration"] == pytest.approx(3.0) and end["n_windows"] == 5
    assert math.isfinite(end["n_events"])


def test_wav_stream_with_rate_zero_is_refused(folders, capsys, monkeypatch):
    """A header saying 0 Hz is an error, not a stream at the model's rate."""
    pcm = np.zeros(RATE, "<i2").tobytes()
    with pytest.raises(AudioLoadError, match="0 Hz"):
        read_wav_header(io.BytesIO(wav_header(0) + pcm), "rec.wav")
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        ["stream", "--model", folders["single"], "--format", "wav"],
        wav_header(0) + pcm,
    )
    assert code == 1 and "0 Hz" in err and out == ""


class _ClosedPipe(io.StringIO):
    """stdout whose reader went away after ``room`` characters."""

    def __init__(self, room):
        super().__init__()
        self.room = room

    def write(self, text):
        if self.tell() + len(text) > self.room:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_stream_into_a_closed_pipe_exits_quietly(folders, capsys, monkeypatch):
    """``ast-sb stream ... | head -c 50``: exit 141, no traceback."""
    pcm = (bursty_audio(3.0, seed=2) * 32767).astype("<i2").tobytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm)))
    monkeypatch.setattr(sys, "stdout", _ClosedPipe(50))
    argv = ["stream", "--model", str(folders["single"]), "--windows"]
    code = main(argv + ["--window", "1.0", "--hop", "0.5"])
    assert code == 141
    assert capsys.readouterr().err == ""
