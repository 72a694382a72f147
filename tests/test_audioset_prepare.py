"""Tests of recipes/AudioSet/audioset_prepare.py on a fake AudioSet tree."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ast_sb.dataio.audio_checks import AudioFileError
from ast_sb.dataio.labels import UnknownLabelError

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "AudioSet"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audioset_prepare = _load("audioset_prepare")
prepare_audioset = audioset_prepare.prepare_audioset

CLASSES = [
    ("/m/09x0r", "Speech"),
    ("/m/05zppz", "Male speech, man speaking"),
    ("/m/04rlf", "Music"),
    ("/m/0jbk", "Animal"),
]
HEADER = (
    "# Segments csv created Sun Mar  5 10:54:31 2017\n"
    "# num_ytids=3, num_segs=3, num_unique_labels=4, num_positive_labels=5\n"
    "# YTID, start_seconds, end_seconds, positive_labels\n"
)
# YTID -> (start, end, mids, file name or None if not downloaded)
BALANCED = {
    "--PJHxphWEs": (
        "30.000",
        "40.000",
        "/m/09x0r,/m/05zppz",
        "--PJHxphWEs.wav",
    ),
    "-0RWZT-miFs": ("420.000", "430.000", "/m/04rlf", "Y-0RWZT-miFs.wav"),
    "-1nilez17Dg": (
        "30.000",
        "40.000",
        "/m/04rlf,/m/0jbk",
        "-1nilez17Dg_30.000.wav",
    ),
    "-2ZcDh6c-bA": ("0.000", "10.000", "/m/09x0r", "sub/-2ZcDh6c-bA.flac"),
    "-3BORkWYfqg": ("20.000", "30.000", "/m/0jbk", None),
}
UNBALANCED = {
    "--04kMEQOAs": ("0.000", "10.000", "/m/09x0r", "--04kMEQOAs.wav"),
    "--0AzKXCHj8": ("22.000", "32.000", "/m/04rlf", "--0AzKXCHj8_22.wav"),
    "--0B3G_C3qc": ("30.000", "40.000", "/m/0jbk,/m/09x0r", None),
}
EVAL = {
    "--4gqARaEJE": ("0.000", "10.000", "/m/0jbk", "--4gqARaEJE.wav"),
    "--BfvyPmVMo": ("20.000", "30.000", "/m/09x0r", "--BfvyPmVMo.wav"),
    "--U7joUcTCo": ("0.000", "10.000", "/m/04rlf", "--U7joUcTCo.wav"),
}


def _tone(path, seconds=0.25, sample_rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    sf.write(str(path), 0.1 * np.sin(2 * np.pi * 440 * t), sample_rate)


def _write_segments(path, rows):
    lines = [
        f'{ytid}, {start}, {end}, "{mids}"'
        for ytid, (start, end, mids, _) in rows.items()
    ]
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def audioset(tmp_path):
    csv_dir, audio_dir = tmp_path / "csv", tmp_path / "audio"
    csv_dir.mkdir()
    labels = ["index,mid,display_name"] + [
        f'{i},{mid},"{name}"' for i, (mid, name) in enumerate(CLASSES)
    ]
    (csv_dir / "class_labels_indices.csv").write_text("\n".join(labels) + "\n")
    for name, rows, sub in (
        ("balanced_train_segments.csv", BALANCED, "balanced"),
        ("unbalanced_train_segments.csv", UNBALANCED, "unbalanced/part00"),
        ("eval_segments.csv", EVAL, "eval"),
    ):
        _write_segments(csv_dir / name, rows)
        for *_, filename in rows.values():
            if filename is not None:
                _tone(audio_dir / sub / filename)
    return tmp_path, csv_dir, audio_dir


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def test_balanced_manifests(audioset):
    tmp, csv_dir, audio_dir = audioset
    out = prepare_audioset(str(audio_dir), str(csv_dir), str(tmp / "save"))
    train, valid, test = (_read(out[s]) for s in ("train", "valid", "test"))
    assert sorted(train) == sorted(k for k, v in BALANCED.items() if v[3])
    assert valid == test and sorted(test) == sorted(EVAL)
    assert train["--PJHxphWEs"]["labels"] == [
        "Speech",
        "Male speech, man speaking",
    ]
    assert train["-1nilez17Dg"]["labels"] == ["Music", "Animal"]
    assert train["-2ZcDh6c-bA"]["wav"].endswith("-2ZcDh6c-bA.flac")
    assert train["-0RWZT-miFs"]["duration"] == pytest.approx(0.25)
    assert train["-0RWZT-miFs"]["set"] == "balanced_train"
    # AST gen_weight_file.py: 1000 / (count + 0.01), summed over labels.
    w = {lab: 1000 / (n + 0.01) for lab, n in [("Speech", 2), ("Music", 2)]}
    w.update({"Male speech, man speaking": 1000 / 1.01, "Animal": 1000 / 1.01})
    for entry in train.values():
        assert entry["weight"] == pytest.approx(
            sum(w[x] for x in entry["labels"])
        )
    assert "weight" not in test["--4gqARaEJE"]
    missing = (tmp / "save" / "missing_clips.txt").read_text().splitlines()
    assert missing == ["-3BORkWYfqg\tbalanced_train_segments.csv"]
    labels = (tmp / "save" / "labels.txt").read_text().splitlines()
    assert labels == [name for _, name in CLASSES]


def test_full_with_valid_holdout_and_mids(audioset):
    tmp, csv_dir, audio_dir = audioset
    out = prepare_audioset(
        str(audio_dir),
        str(csv_dir),
        str(tmp / "save"),
        train_set="full",
        valid_fraction=0.3,
        label_type="mid",
        num_workers=2,
    )
    train, valid, test = (_read(out[s]) for s in ("train", "valid", "test"))
    found = [k for k, v in {**BALANCED, **UNBALANCED}.items() if v[3]]
    assert sorted([*train, *valid]) == sorted(found)
    assert len(valid) == 2 and not set(train) & set(valid)
    assert not (set(train) | set(valid)) & set(test)
    assert train.get("--0AzKXCHj8", valid.get("--0AzKXCHj8"))["labels"] == [
        "/m/04rlf"
    ]
    assert all("weight" in e for e in train.values())
    assert all("weight" not in e for e in valid.values())
    missing = (tmp / "save" / "missing_clips.txt").read_text().splitlines()
    assert sorted(m.split("\t")[0] for m in missing) == [
        "--0B3G_C3qc",
        "-3BORkWYfqg",
    ]


def test_unknown_mid_names_label_and_file(audioset):
    tmp, csv_dir, audio_dir = audioset
    rows = dict(EVAL)
    rows["--xyz"] = ("0.000", "10.000", "/m/09x0r,/m/nope", None)
    _write_segments(csv_dir / "eval_segments.csv", rows)
    with pytest.raises(
        UnknownLabelError, match=r"/m/nope.*eval_segments.csv line 7"
    ):
        prepare_audioset(str(audio_dir), str(csv_dir), str(tmp / "save"))


def test_corrupt_clip_skipped_or_raised(audioset):
    tmp, csv_dir, audio_dir = audioset
    bad = audio_dir / "eval" / "--BfvyPmVMo.wav"
    bad.write_bytes(b"RIFF....garbage")
    out = prepare_audioset(str(audio_dir), str(csv_dir), str(tmp / "a"))
    assert "--BfvyPmVMo" not in _read(out["test"])
    corrupt = (tmp / "a" / "corrupt_clips.txt").read_text()
    assert "--BfvyPmVMo" in corrupt and str(bad) in corrupt
    with pytest.raises(AudioFileError, match="--BfvyPmVMo.wav"):
        prepare_audioset(
            str(audio_dir), str(csv_dir), str(tmp / "b"), on_corrupt="raise"
        )


def test_csv_durations_and_skip_if_prepared(audioset, caplog):
    tmp, csv_dir, audio_dir = audioset
    save = tmp / "save"
    out = prepare_audioset(
        str(audio_dir), str(csv_dir), str(save), read_durations=False
    )
    assert _read(out["train"])["-0RWZT-miFs"]["duration"] == 10.0
    mtime = Path(out["train"]).stat().st_mtime_ns
    caplog.set_level("INFO")
    prepare_audioset(
        str(audio_dir), str(csv_dir), str(save), read_durations=False
    )
    assert Path(out["train"]).stat().st_mtime_ns == mtime
    assert "up to date" in caplog.text
    # Changed options -> prepared again.
    prepare_audioset(str(audio_dir), str(csv_dir), str(save))
    assert _read(out["train"])["-0RWZT-miFs"]["duration"] == pytest.approx(0.25)


def test_missing_csv_and_no_clips(tmp_path, audioset):
    tmp, csv_dir, audio_dir = audioset
    with pytest.raises(ValueError, match="unbalanced_train_segments.csv"):
        (csv_dir / "unbalanced_train_segments.csv").unlink()
        prepare_audioset(
            str(audio_dir), str(csv_dir), str(tmp / "s"), train_set="full"
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No training clip"):
        prepare_audioset(str(empty), str(csv_dir), str(tmp / "s"))
