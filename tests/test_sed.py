"""Sound event detection: strong-label reader errors, the frame-level head's
shapes and padding masks, post-processing on hand-made score curves, the
detector's windows, and a tiny end-to-end recipe run.

Authors
 * ast_sb developers 2026
"""

import importlib
import json
import os
import warnings

import numpy as np
import pytest
import torch
from helpers import run_recipe

from ast_sb.dataio.strong_labels import (
    StrongLabelError,
    frame_targets,
    read_strong_labels,
)
from ast_sb.inference.frame_detection import (
    FrameLevelDetector,
    frame_forward,
)
from ast_sb.inference.sed_postprocessing import (
    median_filter_scores,
    scores_to_frame_events,
)
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.frame_level import (
    AudioSpectrogramTransformerFrameClassifier as FrameHead,
    output_frame_count,
)
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

HEADER = "filename\tonset\toffset\tevent_label\n"


def _sed_eval_importable() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("sed_eval")
            importlib.import_module("sed_scores_eval")
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------
# strong-label TSV reader
@pytest.mark.parametrize(
    "row, message",
    [
        ("x.wav\t2.0\t1.0\tdog", r"b\.tsv:3: onset 2.0 >= offset 1.0"),
        ("x.wav\t1.0\t1.0\tdog", r"b\.tsv:3: onset 1.0 >= offset 1.0"),
        ("x.wav\t-0.5\t1.0\tdog", r"b\.tsv:3: negative time"),
        (
            "x.wav\t1.0\t4.5\tdog",
            r"b\.tsv:3: offset 4.5 is past the end of x\.wav",
        ),
        ("x.wav\t1.0\t2.0\tbird", r"b\.tsv:3: unknown class 'bird'"),
        ("x.wav\tone\t2.0\tdog", r"b\.tsv:3: onset 'one' is not a number"),
        ("x.wav\t1.0\tnan\tdog", r"b\.tsv:3: offset 'nan' is not finite"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    path = tmp_path / "b.tsv"
    path.write_text(HEADER + "x.wav\t0.0\t1.0\tdog\n" + row + "\n")
    with pytest.raises(StrongLabelError, match=message):
        read_strong_labels(
            str(path), classes=["dog", "cat"], durations={"x.wav": 4.0}
        )


def test_bad_header_and_audioset_layout(tmp_path):
    path = tmp_path / "h.tsv"
    path.write_text("file\tstart\tend\tlabel\nx.wav\t0\t1\tdog\n")
    with pytest.raises(
        StrongLabelError, match=r"h\.tsv:1: expected the header"
    ):
        read_strong_labels(str(path))
    path = tmp_path / "a.tsv"
    path.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
        "Yabc_30000\t0.25\t1.5\t/m/0bt9lr\nYabc_30000\t3.0\t2.0\t/m/0bt9lr\n"
    )
    with pytest.raises(
        StrongLabelError, match=r"a\.tsv:3: onset 3.0 >= offset"
    ):
        read_strong_labels(str(path), layout="audioset")
    path.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
        "Yabc_30000\t0.25\t1.5\t/m/0bt9lr\n"
    )
    assert read_strong_labels(str(path), layout="audioset") == {
        "Yabc_30000.wav": [(0.25, 1.5, "/m/0bt9lr")]
    }


def test_frame_targets_round_trip_to_events():
    events = [(0.4, 1.2, "dog"), (2.0, 2.6, "cat"), (0.8, 1.0, "cat")]
    hop = 0.04
    n = int(output_frame_count(torch.tensor(298), hop))  # a 3 s clip
    targets = frame_targets(events, n, hop, ["cat", "dog"])
    found = scores_to_frame_events(targets.numpy(), ["cat", "dog"], hop)
    assert len(found) == len(events)
    for (a, b, c), (x, y, z) in zip(sorted(events), found):
        assert c == z and abs(a - x) <= hop and abs(b - y) <= hop


# --------------------------------------------------------------------------
# the frame-level head
def _encoder(patch_shape=(16, 16), fstride=16, tstride=8, n_mels=32):
    torch.manual_seed(0)
    return AudioSpectrogramTransformerEncoder(
        "tiny224",
        n_mels=n_mels,
        target_length=300,
        depth=1,
        fstride=fstride,
        tstride=tstride,
        patch_shape=patch_shape,
        use_padding_mask=True,
    ).eval()


def _modules(encoder, pooling="linear_softmax", frame_hop=0.04):
    torch.manual_seed(1)
    return {
        "compute_features": KaldiFbank(n_mels=encoder.n_mels),
        "mean_var_norm": AudioSpectrogramNormalizer(),
        "embedding_model": encoder,
        "classifier": FrameHead.for_encoder(
            encoder, 3, frame_hop=frame_hop, pooling=pooling
        ),
    }


@pytest.mark.parametrize(
    "geometry, pooling",
    [
        (((16, 16), 16, 8), "linear_softmax"),
        (((16, 16), 10, 10), "attention"),
        (((32, 2), 32, 2), "linear_softmax"),  # frame-based: 20 ms columns
    ],
)
def test_a_clip_alone_equals_the_clip_in_a_padded_batch(geometry, pooling):
    patch_shape, fstride, tstride = geometry
    modules = _modules(_encoder(patch_shape, fstride, tstride), pooling)
    torch.manual_seed(2)
    sizes = [16000 * 2, 9123, 4000]
    wavs = torch.zeros(len(sizes), max(sizes))
    for i, n in enumerate(sizes):
        wavs[i, :n] = torch.randn(n)
    lengths = torch.tensor(sizes, dtype=torch.float64) / max(sizes)
    with torch.no_grad():
        logits, clip, mask = frame_forward(modules, wavs, lengths.float())
        for i, n in enumerate(sizes):
            alone, clip_alone, mask_alone = frame_forward(
                modules, wavs[i : i + 1, :n], torch.ones(1)
            )
            k = int(mask_alone.sum())
            assert k == int(mask[i].sum())
            assert k == int(
                output_frame_count(torch.tensor((n - 400) // 160 + 1), 0.04)
            )
            scale = alone.abs().max()
            assert (logits[i, :k] - alone[0]).abs().max() <= 1e-5 * scale
            assert (
                clip[i] - clip_alone[0]
            ).abs().max() <= 1e-5 * clip_alone.abs().max()
    assert logits.shape == (3, mask.shape[1], 3) and clip.shape == (3, 3)


def test_clip_pooling_ignores_frames_past_the_clip():
    head = FrameHead(8, 2, f_dim=2, tstride=10, patch_width=16, frame_hop=0.05)
    torch.manual_seed(0)
    tokens = torch.randn(1, 2 + 2 * 8, 8)
    lengths = torch.tensor([0.5])  # 48 of 96 fbank frames: 4 columns
    _, clip, mask = head(tokens, lengths, n_frames=96)
    grid = tokens[:, 2:].reshape(1, 2, 8, 8).clone()
    grid[:, :, 4:] = 100.0  # padding columns
    changed = torch.cat([tokens[:, :2], grid.reshape(1, 16, 8)], dim=1)
    _, clip2, _ = head(changed, lengths, n_frames=96)
    assert torch.equal(clip, clip2)
    # and linear-softmax is sum p^2 / sum p over the clip's own frames
    logits, _, _ = head(tokens, lengths, n_frames=96)
    p = torch.sigmoid(logits[0, : int(mask.sum())])
    assert torch.allclose(clip[0], (p * p).sum(0) / p.sum(0), rtol=1e-6)


def test_frame_times_follow_the_column_centres():
    """A column-wise step in the logits appears at the column's time."""
    head = FrameHead(4, 1, f_dim=1, tstride=10, patch_width=16, frame_hop=0.02)
    with torch.no_grad():
        head.norm.weight.fill_(1.0)
        head.norm.bias.zero_()
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        head.linear.weight[0, 0] = 1.0
    tokens = torch.zeros(1, 2 + 10, 4)
    tokens[0, 2 + 5 :, 0] = 1.0  # columns 5.. on
    tokens[0, 2 + 5 :, 1] = -1.0
    tokens[0, 2 : 2 + 5, 0] = -1.0
    tokens[0, 2 : 2 + 5, 1] = 1.0
    logits, _, _ = head(tokens)
    # column j centred at (10 j + 7.5) * 10 ms + 12.5 ms: the step's
    # midpoint (between columns 4 and 5) is at 0.5375 s
    frames = logits[0, :, 0]
    crossing = int(torch.nonzero(frames > 0)[0]) * 0.02 + 0.01
    assert abs(crossing - 0.5375) <= 0.02


def test_head_refuses_a_partial_grid():
    head = FrameHead(8, 2, f_dim=3, tstride=10, patch_width=16)
    with pytest.raises(ValueError, match="whole frequency rows"):
        head(torch.randn(1, 2 + 7, 8))


# --------------------------------------------------------------------------
# post-processing on hand-made curves
def test_median_filter_removes_spikes_and_fills_gaps_per_class():
    spike = [0, 0, 0, 0.9, 0, 0, 0, 0, 0, 0]
    gap = [0, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0, 0]
    scores = np.array([spike, gap, gap]).T
    out = median_filter_scores(scores, [3, 3, 1])
    assert out[:, 0].max() == 0.0
    assert out[4, 1] == 0.9 and out[4, 2] == 0.1
    events = scores_to_frame_events(
        scores,
        ["spike", "gap", "raw"],
        0.1,
        threshold=0.5,
        median_window=[3, 3, 1],
    )
    assert events == [
        (0.1, 0.8, "gap"),
        (0.1, 0.4, "raw"),
        (0.5, 0.8, "raw"),
    ]


def test_hysteresis_and_per_class_thresholds():
    curve = np.array([0.1, 0.35, 0.6, 0.9, 0.6, 0.35, 0.1, 0.35, 0.45, 0.1])
    scores = np.stack([curve, curve], axis=1)
    plain = scores_to_frame_events(
        scores, ["a", "b"], 1.0, threshold=[0.5, 0.8]
    )
    assert plain == [(2.0, 5.0, "a"), (3.0, 4.0, "b")]
    hyst = scores_to_frame_events(
        scores, ["a", "b"], 1.0, threshold=0.8, low_threshold=0.3
    )
    # the second bump (max 0.45) never reaches 0.8: no event
    assert hyst == [(1.0, 6.0, "a"), (1.0, 6.0, "b")]
    with pytest.raises(ValueError, match="low_threshold"):
        scores_to_frame_events(scores, ["a", "b"], 1.0, 0.3, low_threshold=0.5)


def test_runs_touching_the_ends_and_other_classes():
    """A run ending at the last frame next to a run starting at frame 0 of
    the next class (adjacent in the flattened array)."""
    scores = np.array([[0.0, 0.9], [0.2, 0.0], [0.9, 0.0]])
    events = scores_to_frame_events(
        scores, ["a", "b"], 0.5, threshold=0.8, low_threshold=0.1
    )
    assert events == [(0.0, 0.5, "b"), (0.5, 1.5, "a")]


# --------------------------------------------------------------------------
# detector windows
def test_detector_windows_cover_the_file_at_frame_resolution():
    modules = _modules(_encoder())
    detector = FrameLevelDetector(modules, ["a", "b", "c"], window_seconds=1.0)
    torch.manual_seed(3)
    wav = torch.randn(16000 * 2 + 5000)
    scores = detector.frame_scores(wav)
    assert scores.shape == (50 + 8, 3)  # 2 full windows + 5000 samples
    with torch.no_grad():
        first, _, _ = frame_forward(modules, wav[None, :16000], torch.ones(1))
    expected = torch.sigmoid(first[0]).numpy()
    assert np.abs(scores[:25] - expected).max() <= 1e-5
    # windows one by one: the same frames
    single = FrameLevelDetector(
        modules, ["a", "b", "c"], window_seconds=1.0, batch_size=1
    ).frame_scores(wav)
    assert single.shape == scores.shape
    assert np.abs(single - scores).max() <= 1e-5


# --------------------------------------------------------------------------
# tiny end-to-end recipe run
def test_tiny_recipe_run(tmp_path):
    from ast_sb.dataio.soundscapes import (
        generate_soundscapes,
        write_synthetic_events,
    )

    data = tmp_path / "data"
    events = write_synthetic_events(
        str(tmp_path / "isolated"), ["tone", "clicks"], per_class=2, seed=0
    )
    for offset, (split, count) in enumerate(
        (("train", 4), ("validation", 2), ("eval", 2), ("weak", 2))
    ):
        out = tmp_path / "gen" / split
        tsv, _ = generate_soundscapes(
            events, str(out), count, duration=2.0, seed=offset, prefix=split
        )
        (data / "metadata").mkdir(parents=True, exist_ok=True)
        (data / "audio").mkdir(exist_ok=True)
        os.replace(tsv, data / "metadata" / f"{split}.tsv")
        os.replace(out / "audio", data / "audio" / split)
    # the "weak" soundscapes keep only their clip labels (DESED weak.tsv)
    strong = read_strong_labels(str(data / "metadata" / "weak.tsv"))
    (data / "metadata" / "weak.tsv").write_text(
        "filename\tevent_labels\n"
        + "".join(
            f"{name}\t{','.join(sorted({e[2] for e in events}))}\n"
            for name, events in strong.items()
        )
    )
    evaluate = _sed_eval_importable()
    out = tmp_path / "out"
    run_recipe(
        "SoundEventDetection",
        "ast_sed_demo.yaml",
        options={
            "data_folder": data,
            "output_folder": out,
            "number_of_epochs": 1,
            "depth": 1,
            "n_mels": 32,
            "target_length": 200,
            "batch_size": 2,
            "window_tagger_seconds": 1.0,
            "evaluate": evaluate,
            "weak_tsv": "metadata/weak.tsv",
            "weak_audio": "audio/weak",
        },
    )
    train = json.loads((out / "save" / "train.json").read_text())
    weak = {k: v for k, v in train.items() if k.startswith("weak/")}
    assert len(weak) == 2 and all("events" not in v for v in weak.values())
    results = json.loads((out / "sed_results.json").read_text())
    assert results["classes"] == ["clicks", "tone"]
    assert 0.0 <= results["test_clip_stats"]["mAP"] <= 1.0
    if evaluate:
        for system in ("frame_level", "window_level"):
            assert set(results[system]) == {
                "event_f1",
                "segment_f1",
                "psds1",
                "psds2",
                "median_onset_error",
            }
            assert 0.0 <= results[system]["psds1"] <= 1.0
    from ast_sb.inference.frame_detection import load_detector

    detector = load_detector(str(out / "detector"))
    wav = torch.randn(16000 * 3)
    assert detector.frame_scores(wav).shape == (75, 2)
    # the folder carries the post-processing and a model card
    saved = json.loads((out / "detector" / "ast_sb_detector.json").read_text())
    assert saved["median_window"] == results["median_window"]
    assert saved["threshold"] == results["threshold"]
    card = (out / "detector" / "README.md").read_text()
    assert "| clicks |" in card and "--frame-level" in card
    if evaluate:
        f1 = results["frame_level"]["event_f1"]
        assert f"| frame-level | {f1:.4g} |" in card


def test_cli_tag_frame_level(tmp_path, capsys):
    from ast_sb.cli import main
    from ast_sb.dataio.audio import save_audio
    from ast_sb.inference.frame_detection import save_detector

    detector = FrameLevelDetector(_modules(_encoder()), ["a", "b", "c"])
    save_detector(str(tmp_path / "det"), detector)
    torch.manual_seed(4)
    wav = torch.randn(16000 * 2)
    save_audio(str(tmp_path / "x.wav"), wav, 16000)
    argv = ["tag", str(tmp_path / "x.wav"), "--model", str(tmp_path / "det")]
    assert main(argv + ["--frame-level", "--json", "--threshold", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 50 and data["frame_hop"] == 0.04
    # threshold 0: every class is on over the whole file
    assert [(e["start"], e["end"]) for e in data["events"]] == [(0.0, 2.0)] * 3
    # options of classifier folders are refused, not silently ignored
    for extra in (["--token-budget", "0.5"], ["--fast-path", "int8"]):
        assert main(argv + ["--frame-level"] + extra) != 0
        assert "applies to classifier folders" in capsys.readouterr().err


class _BurstDetector(FrameLevelDetector):
    """Frame scores from the loudness of each 40 ms frame (window-consistent),
    so the stream's logic is checked against known curves."""

    def frame_scores(self, wav):
        wav = torch.as_tensor(wav).reshape(-1)
        hop = int(self.frame_hop * self.sample_rate)
        k = max(1, -(-len(wav) // hop))
        frames = torch.nn.functional.pad(wav.abs(), (0, k * hop - len(wav)))
        loud = frames.view(k, hop).mean(dim=1).numpy()
        return np.stack([loud, 1.5 * loud, 0.5 * loud], axis=1)


@pytest.mark.parametrize("chunk", [777, 5000, 16000, 40000])
def test_stream_gives_the_offline_events(chunk):
    from ast_sb.inference.frame_streaming import FrameLevelStream

    detector = _BurstDetector(
        _modules(_encoder()),
        ["a", "b", "c"],
        window_seconds=1.0,
        threshold=0.5,
        low_threshold=0.25,
        median_window=[5, 3, 1],
    )
    rng = np.random.default_rng(0)
    wav = np.zeros(16000 * 6 + 1234, dtype=np.float32)
    for start in (0, 9000, 23000, 47000, 63000, 95000):  # bursts, some at edges
        n = int(rng.integers(800, 9000))
        wav[start : start + n] = rng.uniform(0.55, 1.0) * np.sign(
            rng.standard_normal(min(n, len(wav) - start))
        )
    # 2-frame spikes that end at window boundaries: the median filter
    # removes them only when it sees the next window's frames
    for end in (16000 * 2, 16000 * 4):
        wav[end - 1280 : end] = 0.9
    offline = detector.events(detector.frame_scores(torch.from_numpy(wav)))
    assert len(offline) >= 6
    stream = FrameLevelStream(detector)
    events = []
    for first in range(0, len(wav), chunk):
        events += stream.push(wav[first : first + chunk])
    events += stream.finish()
    assert sorted(events) == sorted(offline)


def test_cli_stream_frame_level_gives_the_tag_events(tmp_path, capsys):
    from ast_sb.cli import main
    from ast_sb.dataio.audio import save_audio
    from ast_sb.inference.frame_detection import save_detector

    modules = _modules(_encoder())
    with torch.no_grad():  # a head that fires on loud frames
        modules["classifier"].linear.bias.fill_(-0.2)
    save_detector(
        str(tmp_path / "det"),
        FrameLevelDetector(modules, ["a", "b", "c"], window_seconds=1.0),
    )
    torch.manual_seed(5)
    wav = torch.randn(16000 * 3 + 3000) * 0.1
    wav[20000:30000] *= 8.0
    save_audio(str(tmp_path / "x.wav"), wav, 16000)
    common = ["--model", str(tmp_path / "det"), "--frame-level"]
    assert main(["tag", str(tmp_path / "x.wav"), *common, "--json"]) == 0
    tagged = json.loads(capsys.readouterr().out)["events"]
    assert tagged, "the test needs events"
    assert main(["stream", str(tmp_path / "x.wav"), *common]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[-1] == {"type": "end", "n_events": len(lines) - 1}
    streamed = [
        {k: x[k] for k in ("start", "end", "label")} for x in lines[:-1]
    ]
    key = lambda e: (e["start"], e["label"])  # noqa: E731
    assert sorted(streamed, key=key) == sorted(tagged, key=key)


# --------------------------------------------------------------------------
# the interface loads a detector folder
def test_interface_detects_with_a_detector_folder(tmp_path):
    from ast_sb.dataio.audio import load_audio, save_audio
    from ast_sb.inference.frame_detection import save_detector
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    modules = _modules(_encoder())
    with torch.no_grad():  # a head that fires on loud frames
        modules["classifier"].linear.bias.fill_(-0.2)
    save_detector(
        str(tmp_path / "det"),
        FrameLevelDetector(
            modules, ["a", "b", "c"], window_seconds=1.0, median_window=3
        ),
    )
    det = AudioSpectrogramTransformerInterface.from_folder(
        str(tmp_path / "det")
    )
    assert isinstance(det, FrameLevelDetector)
    assert det.postprocessing()["median_window"] == 3
    torch.manual_seed(5)
    width = 16000 * 2 + 3000
    wavs = torch.randn(3, width) * 0.1
    wavs[:, 6000:12000] *= 8.0
    lens = torch.tensor([1.0, 0.55, 0.3])
    n = torch.round(lens.double() * width).long()
    for i in range(3):
        wavs[i, n[i] :] = 0.0
    batch = det.detect_batch(wavs, lens)
    assert [len(s) for _, s in batch] == [
        int(output_frame_count(torch.tensor((int(k) - 400) // 160 + 1), 0.04))
        if k <= 16000
        else len(det.frame_scores(wavs[i, :k]))
        for i, k in enumerate(n.tolist())
    ]
    for i in range(3):  # a clip alone = in the padded batch
        events, scores = det.detect(wavs[i, : n[i]])
        assert batch[i][1].shape == scores.shape
        assert np.abs(batch[i][1] - scores).max() <= 1e-5 * np.abs(scores).max()
        assert batch[i][0] == events
    assert batch[0][0], "the test needs events"
    save_audio(str(tmp_path / "x.wav"), wavs[0], 16000)
    events, scores = det.detect_file(str(tmp_path / "x.wav"))
    read = load_audio(str(tmp_path / "x.wav"), 16000)  # 16-bit PCM
    assert (events, scores.tolist()) == (
        det.detect(read)[0],
        det.frame_scores(read).tolist(),
    )
    # post-processing overrides, and arguments that do not apply
    strict = AudioSpectrogramTransformerInterface.from_folder(
        str(tmp_path / "det"), threshold=1.0
    )
    assert strict.detect_file(str(tmp_path / "x.wav"))[0] == []
    with pytest.raises(TypeError, match="frame-level detector folder"):
        AudioSpectrogramTransformerInterface.from_folder(
            str(tmp_path / "det"), overrides={}
        )


# --------------------------------------------------------------------------
# ONNX export of a detector folder, with its post-processing
def test_cli_exports_a_detector_to_onnx_with_its_postprocessing(
    tmp_path, capsys
):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnxruntime as ort

    from ast_sb.cli import main
    from ast_sb.export.detector_export import read_onnx_postprocessing
    from ast_sb.export.model_export import describe_exports
    from ast_sb.inference.frame_detection import load_detector, save_detector

    modules = _modules(_encoder())
    save_detector(
        str(tmp_path / "det"),
        FrameLevelDetector(
            modules,
            ["a", "b", "c"],
            window_seconds=0.8,
            threshold=[0.5, 0.6, 0.7],
            low_threshold=0.3,
            median_window=[1, 3, 5],
        ),
    )
    out = tmp_path / "onnx"
    argv = ["export", "--model", str(tmp_path / "det"), "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["onnx"]["ok"], report
    assert report["output_shape"] == [-1, 20, 3]
    det = load_detector(str(tmp_path / "det"))
    # the post-processing round-trips through the ONNX metadata and the JSON
    settings = read_onnx_postprocessing(str(out / "model.onnx"))
    assert settings == describe_exports(str(out))["postprocessing"]
    assert settings == json.loads(json.dumps(det.postprocessing()))
    assert settings["median_window"] == [1, 3, 5]
    assert settings["frame_hop"] == 0.04
    # onnxruntime = the detector on a padded batch, each clip's own frames
    torch.manual_seed(7)
    wavs = torch.randn(3, 12800) * 0.1
    lens = torch.tensor([1.0, 0.62, 0.31])
    n = torch.round(lens.double() * 12800).long()
    for i in range(3):
        wavs[i, n[i] :] = 0.0
    session = ort.InferenceSession(
        str(out / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    probs, counts = session.run(
        None, {"inputs": wavs.numpy(), "lengths": lens.numpy()}
    )
    expected = det.batch_frame_scores(wavs, lens)
    assert counts.tolist() == [len(e) for e in expected]
    for i, ref in enumerate(expected):
        assert (
            np.abs(probs[i, : counts[i]] - ref).max()
            <= 1e-3 * np.abs(ref).max()
        )
        assert not probs[i, counts[i] :].any()
    # the classifier-only formats are refused with a clear error
    code = main([*argv[:-1], str(tmp_path / "ts"), "--format", "torchscript"])
    assert code == 1
    assert "ONNX only" in capsys.readouterr().err
