"""Tests of recipes/Custom/custom_prepare.py (CSV, JSON and folder input)."""

import importlib.util
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ast_sb.dataio.audio_checks import AudioFileError
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.errors import DataPreparationError

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "Custom"
spec = importlib.util.spec_from_file_location(
    "custom_prepare", RECIPE / "custom_prepare.py"
)
custom_prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(custom_prepare)
prepare_custom = custom_prepare.prepare_custom

CLASSES = ("cat", "dog", "bird")


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _splits(out):
    return [_read(out[s]) for s in ("train", "valid", "test")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """<root>/<class>/clip_NN.wav, 10 clips per class (one in a sub-folder)."""
    root = tmp_path_factory.mktemp("custom") / "data"
    wav = 0.1 * np.sin(np.arange(1600) / 5)
    for label in CLASSES:
        for i in range(10):
            sub = "more/" if i == 9 else ""
            path = root / label / f"{sub}clip_{i:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), wav, 16000)
    return root


def test_folder_of_classes(folder, tmp_path):
    out = prepare_custom(str(tmp_path / "s"), data_folder=str(folder), seed=3)
    train, valid, test = _splits(out)
    assert (len(train), len(valid), len(test)) == (24, 3, 3)
    for part, n in zip((train, valid, test), (8, 1, 1)):
        assert Counter(e["label"] for e in part.values()) == dict.fromkeys(
            CLASSES, n
        )
    entry = {**train, **valid, **test}["dog/more/clip_09"]
    assert entry["label"] == "dog" and entry["duration"] == pytest.approx(0.1)
    assert (tmp_path / "s" / "labels.txt").read_text().split() == sorted(
        CLASSES
    )
    # Same seed -> same split; another seed -> another split.
    again = prepare_custom(str(tmp_path / "t"), data_folder=str(folder), seed=3)
    assert _read(again["test"]) == test
    other = prepare_custom(str(tmp_path / "u"), data_folder=str(folder), seed=4)
    assert _read(other["test"]).keys() != test.keys()


def test_csv_single_label_relative_paths(folder, tmp_path):
    rows = ["wav,label,source"] + [
        f"{label}/clip_{i:02d}.wav,{label},mic{i % 2}"
        for label in CLASSES
        for i in range(9)
    ]
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    out = prepare_custom(
        str(tmp_path / "s"), manifest=str(csv_path), data_folder=str(folder)
    )
    train, valid, test = _splits(out)
    assert len(train) + len(valid) + len(test) == 27
    entry = {**train, **valid, **test}["cat/clip_01"]
    assert entry == {
        "wav": str((folder / "cat" / "clip_01.wav").resolve()),
        "label": "cat",
        "source": "mic1",
        "duration": pytest.approx(0.1),
    }


def test_csv_multi_label_with_split_column(folder, tmp_path):
    rows = ["id,wav,labels,split"]
    for i in range(6):
        wav = folder / "cat" / f"clip_{i:02d}.wav"
        split = ("train", "train", "train", "train", "valid", "test")[i]
        labels = "cat;dog" if i % 2 else "cat"
        rows.append(f"item{i},{wav},{labels},{split}")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    out = prepare_custom(str(tmp_path / "s"), manifest=str(csv_path))
    train, valid, test = _splits(out)
    assert sorted(train) == ["item0", "item1", "item2", "item3"]
    assert list(valid) == ["item4"] and list(test) == ["item5"]
    assert train["item1"]["labels"] == ["cat", "dog"]
    assert train["item0"]["labels"] == ["cat"]
    with pytest.raises(
        DataPreparationError, match=r"line 3.*multi_label=False"
    ):
        prepare_custom(
            str(tmp_path / "t"), manifest=str(csv_path), multi_label=False
        )


def test_json_inputs_and_multilabel_split(folder, tmp_path):
    entries = {
        f"{label}{i}": {
            "wav": f"{label}/clip_{i:02d}.wav",
            "labels": [label, "animal"] if i < 5 else f"{label};animal",
        }
        for label in CLASSES
        for i in range(9)
    }
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(entries))
    out = prepare_custom(
        str(tmp_path / "s"), manifest=str(path), data_folder=str(folder)
    )
    train, valid, test = _splits(out)
    assert len(train) + len(valid) + len(test) == 27
    assert all(e["labels"][1] == "animal" for e in train.values())
    assert {e["labels"][0] for e in test.values()} == set(CLASSES)
    listed = [{"wav": "data/dog/clip_00.wav", "label": "dog"}]
    path = folder.parent / "list.json"  # relative to the manifest's folder
    path.write_text(json.dumps(listed))
    out = prepare_custom(
        str(tmp_path / "t"), manifest=str(path), split_ratio=(1, 0, 0)
    )
    assert list(_read(out["train"])) == ["data/dog/clip_00"]


def test_unknown_label(folder, tmp_path):
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text(
        f"wav,label\n{folder}/cat/clip_00.wav,cat\n{folder}/dog/clip_00.wav,cow\n"
    )
    with pytest.raises(UnknownLabelError, match=r"'cow' in .*meta.csv line 3"):
        prepare_custom(
            str(tmp_path / "s"), manifest=str(csv_path), allowed_labels=CLASSES
        )
    with pytest.raises(UnknownLabelError, match=r"'bird'.*clip_"):
        prepare_custom(
            str(tmp_path / "s"),
            data_folder=str(folder),
            allowed_labels=["cat", "dog"],
        )


def test_missing_and_corrupt_files(folder, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\x00" * 100)
    rows = ["wav,label"] + [
        f"{folder}/cat/clip_{i:02d}.wav,cat" for i in range(4)
    ]
    rows += [f"{tmp_path}/gone.wav,cat", f"{bad},dog"]
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    with pytest.raises(AudioFileError, match="gone.wav: file not found"):
        prepare_custom(str(tmp_path / "s"), manifest=str(csv_path))
    with pytest.raises(AudioFileError, match="bad.wav: unreadable"):
        prepare_custom(
            str(tmp_path / "s"), manifest=str(csv_path), on_missing="skip"
        )
    out = prepare_custom(
        str(tmp_path / "s"),
        manifest=str(csv_path),
        on_missing="skip",
        on_corrupt="skip",
    )
    assert sum(len(p) for p in _splits(out)) == 4
    assert "gone.wav" in (tmp_path / "s" / "missing_files.txt").read_text()
    assert "bad.wav" in (tmp_path / "s" / "corrupt_files.txt").read_text()


def test_bad_manifests(tmp_path):
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("path,label\na.wav,cat\n")
    with pytest.raises(DataPreparationError, match="needs the columns 'wav'"):
        prepare_custom(str(tmp_path / "s"), manifest=str(csv_path))
    csv_path.write_text("wav,label\na.wav,\n")
    with pytest.raises(DataPreparationError, match="Empty label in .*line 2"):
        prepare_custom(str(tmp_path / "s"), manifest=str(csv_path))
    with pytest.raises(ValueError, match="manifest file or a data_folder"):
        prepare_custom(str(tmp_path / "s"))
