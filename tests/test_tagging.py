"""Tests of sliding-window tagging of long files (ast_sb.inference.tagging).

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import make_model_folder

import ast_sb
from ast_sb.dataio.audio import AudioLoadError, load_audio, save_audio
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.inference.tagging import (
    EventTracker,
    SlidingWindowTagger,
    event_order,
    iter_windows,
    scores_to_events,
    segment_activity,
    segment_scores,
)

RATE = 16000


def tone(freq, seconds, amp=0.5):
    t = torch.arange(int(seconds * RATE)) / RATE
    return amp * torch.sin(2 * math.pi * freq * t)


class LoudFrames(torch.nn.Module):
    """Deterministic "encoder": fraction of loud frames in mel bands.

    Normalised silence is about -1.27, padding 0.47 and a 0.5-amplitude
    tone above 1 kHz about 1.2, so a frame is loud when a bin of its band
    exceeds 0.75.
    """

    def __init__(self, bands):
        super().__init__()
        self.bands = bands

    def forward(self, feats, lengths=None):
        fracs = [
            (feats[:, :, lo:hi].max(dim=-1).values > 0.75).float().mean(1)
            for lo, hi in self.bands
        ]
        return torch.stack(fracs, dim=-1)[:, None]  # [B, 1, K]


class LogProbHead(torch.nn.Module):
    def forward(self, emb):
        return emb.clamp_min(1e-6).log()


class LogitHead(torch.nn.Module):
    def forward(self, emb):
        return (emb - 0.5) * 20.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_model_folder(
        tmp_path_factory.mktemp("tag") / "model", ["a", "b", "c"]
    )


def test_iter_windows_positions_and_blocks(tmp_path):
    path = str(tmp_path / "x.wav")
    wav = torch.rand(int(5.3 * RATE)) - 0.5
    save_audio(path, wav, RATE, subtype="FLOAT")
    windows = list(iter_windows(path, 2.0, 1.0, RATE, block_frames=777))
    assert [(s, e) for s, e, _ in windows] == [
        (0.0, 2.0),
        (1.0, 3.0),
        (2.0, 4.0),
        (3.0, 5.0),
        (4.0, 5.3),
    ]
    for start, end, seg in windows:
        a, b = int(start * RATE), int(round(end * RATE))
        assert torch.equal(seg, wav[a:b])
    # A tail shorter than min_samples is dropped (covered by the previous
    # window); a whole file that short raises.
    starts = [s for s, _, _ in iter_windows(path, 2.0, 2.0, RATE, 24000)]
    assert starts == [0.0, 2.0]
    with pytest.raises(AudioLoadError, match="too short"):
        list(iter_windows(path, 10.0, 5.0, RATE, 10 * RATE))


def test_iter_windows_stereo_resampled(tmp_path):
    path = str(tmp_path / "stereo.flac")
    left = tone(440, 3.0, 0.3)[::2]  # 8 kHz content
    save_audio(path, torch.stack([left, -left * 0.5]), 8000)
    windows = list(iter_windows(path, 1.0, 1.0, RATE))
    assert [w.shape[0] for _, _, w in windows] == [RATE] * 3
    expected = load_audio(path, RATE, 1.0, 1.0)
    assert torch.allclose(windows[1][2], expected, atol=1e-6)


def test_iter_windows_errors(tmp_path):
    with pytest.raises(AudioLoadError, match="not found"):
        list(iter_windows(str(tmp_path / "no.wav"), 1.0, 1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(AudioLoadError, match="Could not read"):
        list(iter_windows(str(bad), 1.0, 1.0))
    empty = str(tmp_path / "empty.wav")
    sf.write(empty, np.zeros(0, dtype=np.float32), RATE)
    with pytest.raises(AudioLoadError, match="no samples"):
        list(iter_windows(empty, 1.0, 1.0))
    nan = str(tmp_path / "nan.wav")
    data = np.zeros(3 * RATE, dtype=np.float32)
    data[int(2.5 * RATE)] = np.nan
    sf.write(nan, data, RATE, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match=r"NaN.*2\.500 s"):
        list(iter_windows(nan, 1.0, 1.0))
    with pytest.raises(ValueError, match="must not exceed"):
        list(iter_windows(empty, 1.0, 2.0))


def test_segment_scores_and_events():
    starts = np.array([0.0, 1.0, 2.0, 3.0])
    scores = np.array([[0.9, 0.6], [0.8, 0.1], [0.1, 0.7], [0.2, 0.9]])
    bounds, seg = segment_scores(starts, starts + 2.0, scores, 5.0, 1.0)
    assert bounds.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(seg[:, 0], [0.9, 0.85, 0.45, 0.15, 0.2])
    labels = ["speech", "music"]
    events = scores_to_events(
        starts, starts + 2.0, scores, labels, 5.0, 1.0, True, 0.5
    )
    got = [(e.start, e.end, e.label) for e in events]
    assert got == [  # by start, then decreasing score
        (0.0, 2.0, "speech"),
        (0.0, 1.0, "music"),
        (3.0, 5.0, "music"),
    ]
    assert events[0].score == pytest.approx((0.9 + 0.85) / 2)
    merged = scores_to_events(
        starts,
        starts + 2.0,
        scores,
        labels,
        5.0,
        1.0,
        True,
        0.5,
        merge_gap=2.0,
    )
    music = [(e.start, e.end) for e in merged if e.label == "music"]
    assert music == [(0.0, 5.0)]
    top1 = scores_to_events(
        starts, starts + 2.0, scores, labels, 5.0, 1.0, True, 0.5, top_k=1
    )
    assert [(e.start, e.end, e.label) for e in top1] == [
        (0.0, 2.0, "speech"),
        (3.0, 5.0, "music"),
    ]
    long_only = scores_to_events(
        starts,
        starts + 2.0,
        scores,
        labels,
        5.0,
        1.0,
        True,
        0.5,
        min_duration=1.5,
    )
    assert len(long_only) == 2


def swapped_model(folder, bands, head):
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    model.mods.embedding_model.encoder = LoudFrames(bands)
    model.mods.classifier.head = head
    return model


def test_single_label_timeline_timestamps(tmp_path):
    folder = make_model_folder(
        tmp_path / "m", ["tone", "silence"], feature_length=None
    )
    # "tone" = loud in any band; "silence" = 1 - tone
    model = swapped_model(folder, [(0, 128)], LogProbHead())

    class ToneVsSilence(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, feats, lengths=None):
            p = self.inner(feats, lengths)
            return torch.cat([p, 1 - p], dim=-1)

    model.mods.embedding_model.encoder = ToneVsSilence(LoudFrames([(0, 128)]))
    wav = torch.zeros(40 * RATE)
    wav[10 * RATE : 20 * RATE] = tone(1000, 10)
    wav[31 * RATE : 34 * RATE] = tone(3000, 3)
    path = str(tmp_path / "events.wav")
    save_audio(path, wav, RATE)
    result = model.tag_file(path, window=1.0, hop=0.5, batch_size=16)
    got = [(e.start, e.end, e.label) for e in result.events]
    assert got == [
        (0.0, 10.0, "silence"),
        (10.0, 20.0, "tone"),
        (20.0, 31.0, "silence"),
        (31.0, 34.0, "tone"),
        (34.0, 40.0, "silence"),
    ]
    assert result.scores.shape == (79, 2)
    assert result.window_starts[1] == 0.5 and result.window_ends[-1] == 40.0
    # event score: mean over its 0.5 s segments of the mean score of the
    # windows containing the segment's midpoint (by hand)
    tone_col = result.labels.index("tone")
    starts, ends = result.window_starts, result.window_ends
    segments = [
        result.scores[(starts <= mid) & (mid < ends), tone_col].mean()
        for mid in np.arange(10.25, 20.0, 0.5)
    ]
    assert len(segments) == 20
    # windows inside the tone all score the same (the share of loud frames
    # in the model's grid: 1 s windows are padded to the front end's frames
    # with the padding convention); the two boundary segments are covered
    # by one window half tone and one all tone
    inside = result.scores[(starts >= 10.0) & (ends <= 20.0), tone_col]
    assert len(inside) == 19 and inside.min() == inside.max() > 0.5
    full = float(inside[0])
    assert segments[1:-1] == pytest.approx([full] * 18)
    assert 0.5 * full < segments[0] < full
    assert segments[-1] == pytest.approx(segments[0], abs=0.02)
    expected = float(np.mean(segments))
    assert result.events[1].score == pytest.approx(expected, abs=1e-6)
    data = json.loads(json.dumps(result.to_dict(windows=True)))
    assert data["events"][1] == {
        "start": 10.0,
        "end": 20.0,
        "label": "tone",
        "score": pytest.approx(expected, abs=1e-4),  # rounded to 4 decimals
    }
    assert len(data["windows"]) == 79


def test_multi_label_overlapping_events(tmp_path):
    folder = make_model_folder(
        tmp_path / "m", ["low", "high"], multi_label=True, feature_length=None
    )
    model = swapped_model(folder, [(0, 80), (90, 128)], LogitHead())
    wav = torch.zeros(30 * RATE)
    wav[5 * RATE : 15 * RATE] += tone(1500, 10, 0.4)
    wav[10 * RATE : 25 * RATE] += tone(6000, 15, 0.4)
    path = str(tmp_path / "overlap.wav")
    save_audio(path, wav, RATE, subtype="FLOAT")
    tagger = SlidingWindowTagger(model, window=2.0, hop=0.5, batch_size=7)
    result = tagger.tag_file(path)
    events = {e.label: e for e in result.events}
    assert sorted(events) == ["high", "low"] and len(result.events) == 2
    assert events["low"].start == pytest.approx(5.0, abs=0.5)
    assert events["low"].end == pytest.approx(15.0, abs=0.5)
    assert events["high"].start == pytest.approx(10.0, abs=0.5)
    assert events["high"].end == pytest.approx(25.0, abs=0.5)
    assert all(0.5 <= e.score <= 1.0 for e in result.events)


def test_window_scores_equal_clip_classification(folder, tmp_path):
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    path = str(tmp_path / "noise.wav")
    save_audio(path, torch.randn(int(3.3 * RATE)) * 0.1, RATE, subtype="FLOAT")
    tagger = SlidingWindowTagger(model, window=1.0, hop=0.5, batch_size=3)
    result = tagger.tag_file(path)
    assert result.window_starts.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert result.window_ends[-1] == pytest.approx(3.3)
    for start, end, row in zip(
        result.window_starts, result.window_ends, result.scores
    ):
        wav = load_audio(path, RATE, start, end - start)
        expected = model.predict_proba(wav[None])[0]
        np.testing.assert_allclose(row, expected.numpy(), atol=1e-5)
    # single-label: exactly one class per time segment
    covered = sum(e.end - e.start for e in result.events)
    assert covered == pytest.approx(3.3)


def test_default_window_and_bad_options(folder):
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    tagger = SlidingWindowTagger(model)
    assert model.max_duration == pytest.approx(1.295)  # 128 frames
    assert tagger.window == pytest.approx(1.29)
    assert tagger.hop == pytest.approx(tagger.window / 2)
    with pytest.raises(ValueError, match="longer than"):
        SlidingWindowTagger(model, window=5.0)
    with pytest.raises(ValueError, match="hop"):
        SlidingWindowTagger(model, window=1.0, hop=2.0)
    with pytest.raises(ValueError, match="required"):
        SlidingWindowTagger(lambda w: w, window=1.0)


def write_long_file(path, seconds, rate=RATE, block_seconds=30):
    """Writes a long noise file block by block (never all in memory)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(
        path, "w", samplerate=rate, channels=1, subtype="PCM_16"
    ) as fout:
        left = int(seconds * rate)
        while left > 0:
            n = min(left, block_seconds * rate)
            fout.write((rng.standard_normal(n) * 0.05).astype(np.float32))
            left -= n


@pytest.fixture(scope="module")
def ten_minute_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("long") / "ten_minutes.wav")
    write_long_file(path, 600)
    return path


def test_reading_long_file_is_memory_bounded(ten_minute_file):
    full_bytes = 600 * RATE * 4  # the file as float32
    tracemalloc.start()
    try:
        n = 0
        for _, _, wav in iter_windows(ten_minute_file, 10.0, 5.0, RATE):
            n += 1
            assert wav.shape[0] == 10 * RATE or n == 120
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 119
    assert peak < full_bytes / 10, peak  # a few windows, not the file


def test_tagging_long_file_peak_rss(folder, ten_minute_file):
    """Peak RSS of tagging 10 min stays far below the file's size."""
    script = textwrap.dedent(
        f"""
        import json, resource, torch
        from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
        from ast_sb.inference.tagging import SlidingWindowTagger
        torch.set_num_threads(4)
        model = AudioSpectrogramTransformerInterface.from_folder({folder!r})
        tagger = SlidingWindowTagger(model, window=1.27, hop=1.27,
                                     batch_size=64)
        import soundfile as sf, numpy as np
        # warm-up with full batches, so that only the file length differs
        sf.write("warm.wav", np.zeros(16000 * 100, np.float32), 16000)
        tagger.tag_file("warm.wav")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = tagger.tag_file({ten_minute_file!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"before_kb": before, "after_kb": after,
                          "n_windows": len(result.window_starts)}}))
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(ast_sb.__file__)))
    env = dict(os.environ)
    # glibc's dynamic mmap threshold lets freed batch tensors fragment the
    # heap: RSS then creeps up ~100 MB whatever the file length. A fixed
    # threshold makes the measure reflect what the tagger keeps alive.
    env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        env=env,
        text=True,
        timeout=300,
        cwd=str(ten_minute_file.rsplit("/", 1)[0]),
        check=True,
    )
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    assert stats["n_windows"] == math.ceil(600 / 1.27)
    growth_mb = (stats["after_kb"] - stats["before_kb"]) / 1024
    file_mb = 600 * RATE * 4 / 2**20  # 36.6 MB as float32
    assert growth_mb < file_mb / 3, stats


def naive_events(
    starts, ends, scores, labels, duration, hop, multi_label, **kw
):
    """The timeline by its definition, one segment and class at a time."""
    threshold = kw.get("threshold")
    threshold = (
        (0.5 if multi_label else 0.0) if threshold is None else threshold
    )
    top_k, gap = kw.get("top_k"), kw.get("merge_gap", 0.0)
    n_seg = max(1, math.ceil(duration / hop - 1e-9))
    bounds = [min(j * hop, duration) for j in range(n_seg)] + [duration]
    seg, active = [], []
    for j in range(n_seg):
        mid = (bounds[j] + bounds[j + 1]) / 2
        rows = [s for a, b, s in zip(starts, ends, scores) if a <= mid <= b]
        row = np.mean(rows, axis=0) if rows else np.zeros(len(labels))
        seg.append(row)
        if not rows:
            on = np.zeros(len(labels), bool)
        elif multi_label:
            on = row >= threshold
            if top_k:
                on &= np.argsort(np.argsort(-row)) < top_k
        else:
            on = np.zeros(len(labels), bool)
            on[row.argmax()] = row.max() >= threshold
        active.append(on)
    events = []
    for c, label in enumerate(labels):
        runs = []
        for j in range(n_seg):
            if not active[j][c]:
                continue
            if runs and (
                runs[-1][1] == j
                or bounds[j] - bounds[runs[-1][1]] <= gap + 1e-9
            ):
                runs[-1][1] = j + 1
                runs[-1][2].append(seg[j][c])
            else:
                runs.append([j, j + 1, [seg[j][c]]])
        for a, b, values in runs:
            if bounds[b] - bounds[a] + 1e-9 >= kw.get("min_duration", 0.0):
                events.append(
                    (bounds[a], bounds[b], label, float(np.mean(values)))
                )
    return sorted(events, key=lambda e: (e[0], -e[3], e[2]))


def test_timeline_matches_its_definition_and_any_feeding():
    """scores_to_events equals the timeline built by its definition, and
    EventTracker gives the same events fed in any number of pieces (as the
    streaming tagger feeds it)."""
    rng = np.random.default_rng(0)
    n_events = 0
    for _ in range(150):
        n_win = int(rng.integers(1, 30))
        hop = float(rng.choice([0.25, 0.5, 1.0, 1.3]))
        window = hop * int(rng.integers(1, 5))
        starts = np.arange(n_win) * hop
        duration = float(starts[-1] + rng.uniform(0.01, window))
        ends = np.minimum(starts + window, duration)
        n_cls = int(rng.integers(1, 6))
        scores = rng.random((n_win, n_cls)).astype(np.float32)
        labels = [f"c{i}" for i in range(n_cls)]
        multi = bool(rng.integers(2))
        kw = dict(
            threshold=[None, 0.3, 0.6][rng.integers(3)],
            top_k=[None, 1, 2][rng.integers(3)],
            merge_gap=float(rng.choice([0.0, 0.5, 2.0])),
            min_duration=float(rng.choice([0.0, 1.0])),
        )
        events = scores_to_events(
            starts, ends, scores, labels, duration, hop, multi, **kw
        )
        got = [(e.start, e.end, e.label, e.score) for e in events]
        want = naive_events(
            starts, ends, scores, labels, duration, hop, multi, **kw
        )
        assert [g[:3] for g in got] == [w[:3] for w in want]
        np.testing.assert_allclose(
            [g[3] for g in got], [w[3] for w in want], atol=1e-6
        )
        n_events += len(got)
        # the same segments fed in random pieces
        bounds, seg, counts = segment_scores(
            starts, ends, scores, duration, hop, return_counts=True
        )
        active = segment_activity(
            seg, counts, multi, kw["threshold"], kw["top_k"]
        )
        tracker = EventTracker(labels, kw["merge_gap"], kw["min_duration"])
        pieces, a = [], 0
        while a < len(seg):
            b = a + int(rng.integers(1, 4))
            pieces += tracker.update(bounds[a : b + 1], seg[a:b], active[a:b])
            a = b
        pieces = sorted(pieces + tracker.finish(), key=event_order)
        assert [(e.start, e.end, e.label, e.score) for e in pieces] == got
    assert n_events > 300


def test_event_tracker_returns_events_by_class_then_time():
    """The events one update closes come by class index, then time (the
    order of the per-class loop the vectorised tracker replaced), whatever
    the segment that closes them."""
    tracker = EventTracker(["a", "b"])
    seg = np.array([[0.1, 0.9], [0.8, 0.2], [0.1, 0.7]])
    active = seg > 0.5  # b, then a, then b again
    events = tracker.update(np.arange(4.0), seg, active)
    assert [(e.label, e.start, e.end) for e in events] == [
        ("a", 1.0, 2.0),
        ("b", 0.0, 1.0),
    ]
    assert tracker.open == {1: [2.0, 3.0, pytest.approx(0.7), 1]}
    assert [(e.label, e.start) for e in tracker.finish()] == [("b", 2.0)]
