"""Tests of recipes/ESC50/esc50_prepare.py on a generated ESC-50 tree.

Authors
 * ast_sb developers 2026
"""

import csv
import json
import os
import sys

import pytest
import soundfile as sf

from ast_sb.dataio.audio_checks import AudioFileError
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.demo import DEMO_CLASSES, generate_esc50_like_dataset
from ast_sb.errors import DataPreparationError

RECIPE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "recipes",
    "ESC50",
)
sys.path.insert(0, RECIPE_DIR)
from esc50_prepare import prepare_esc50, read_esc50_csv  # noqa: E402


@pytest.fixture(scope="module")
def esc50_tree(tmp_path_factory):
    """A small ESC-50-like tree: 5 classes x 5 folds x 1 clip of 1 s."""
    folder = str(tmp_path_factory.mktemp("esc50") / "ESC-50")
    generate_esc50_like_dataset(folder, clips_per_fold=1, duration=1.0, seed=3)
    return folder


def _copy_tree(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return str(dst)


def _rows(folder):
    with open(os.path.join(folder, "meta", "esc50.csv"), newline="") as fin:
        return list(csv.DictReader(fin))


def _write_rows(folder, rows):
    with open(
        os.path.join(folder, "meta", "esc50.csv"), "w", newline=""
    ) as fout:
        writer = csv.DictWriter(fout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_generated_tree_has_published_layout(esc50_tree):
    rows = _rows(esc50_tree)
    assert list(rows[0]) == [
        "filename",
        "fold",
        "target",
        "category",
        "esc10",
        "src_file",
        "take",
    ]
    assert len(rows) == 5 * len(DEMO_CLASSES)
    info = sf.info(os.path.join(esc50_tree, "audio", rows[0]["filename"]))
    assert info.samplerate == 44100
    assert info.frames == 44100
    fold, _src, _take, target = rows[0]["filename"][:-4].split("-")
    assert fold == rows[0]["fold"] and target == rows[0]["target"]


def test_manifests_and_resampled_cache(esc50_tree, tmp_path):
    out = prepare_esc50(esc50_tree, str(tmp_path / "save"))
    assert set(out) == {"train", "valid", "test", "cache_folder"}
    manifests = {}
    for split in ("train", "valid", "test"):
        with open(out[split]) as fin:
            manifests[split] = json.load(fin)
    assert len(manifests["train"]) == 3 * 5
    assert len(manifests["valid"]) == 5
    assert len(manifests["test"]) == 5
    assert {e["fold"] for e in manifests["train"].values()} == {1, 2, 3}
    assert {e["fold"] for e in manifests["valid"].values()} == {4}
    assert {e["fold"] for e in manifests["test"].values()} == {5}
    entry = next(iter(manifests["test"].values()))
    assert set(entry) >= {"wav", "duration", "label"}
    assert entry["label"] in DEMO_CLASSES
    assert entry["duration"] == pytest.approx(1.0)
    info = sf.info(entry["wav"])
    assert info.samplerate == 16000
    assert os.path.dirname(entry["wav"]) == out["cache_folder"]
    # target <-> category consistent with the csv
    for row in _rows(esc50_tree):
        utt = row["filename"][:-4]
        for manifest in manifests.values():
            if utt in manifest:
                assert manifest[utt]["label"] == row["category"]
                assert manifest[utt]["target"] == int(row["target"])


def test_skip_when_prepared_and_cache_shared(esc50_tree, tmp_path):
    cache = str(tmp_path / "cache")
    save = str(tmp_path / "save")
    out = prepare_esc50(esc50_tree, save, cache_folder=cache)
    mtimes = {p: os.path.getmtime(out[p]) for p in ("train", "valid", "test")}
    cached = sorted(os.listdir(cache))
    cache_mtimes = {f: os.path.getmtime(os.path.join(cache, f)) for f in cached}
    # same options: nothing is rewritten
    prepare_esc50(esc50_tree, save, cache_folder=cache)
    assert {p: os.path.getmtime(out[p]) for p in mtimes} == mtimes
    # other split, same cache: manifests redone, audio not resampled again
    out2 = prepare_esc50(
        esc50_tree,
        str(tmp_path / "save_cv"),
        train_folds=[2, 3, 4, 5],
        valid_folds=[],
        test_folds=[1],
        cache_folder=cache,
    )
    assert out2["valid"] is None
    assert sorted(os.listdir(cache)) == cached
    assert {
        f: os.path.getmtime(os.path.join(cache, f)) for f in cached
    } == cache_mtimes
    with open(out2["train"]) as fin:
        assert len(json.load(fin)) == 4 * 5
    # changed options for the same save folder: prepared again
    out3 = prepare_esc50(
        esc50_tree,
        save,
        train_folds=[1, 2],
        valid_folds=[3],
        cache_folder=cache,
    )
    with open(out3["train"]) as fin:
        assert {e["fold"] for e in json.load(fin).values()} == {1, 2}


def test_skip_prep_returns_paths_only(esc50_tree, tmp_path):
    out = prepare_esc50(esc50_tree, str(tmp_path / "save"), skip_prep=True)
    assert not os.path.exists(out["train"])


@pytest.mark.parametrize(
    "folds, match",
    [
        ({"train_folds": [1, 2], "valid_folds": [2], "test_folds": [5]}, "2"),
        ({"train_folds": [1, 2], "valid_folds": [3], "test_folds": [6]}, "6"),
        ({"train_folds": [0], "valid_folds": [3], "test_folds": [5]}, "0"),
        ({"train_folds": [], "valid_folds": [3], "test_folds": [5]}, "empty"),
        (
            {"train_folds": [1, 1], "valid_folds": [3], "test_folds": [5]},
            "twice",
        ),
    ],
)
def test_invalid_folds(esc50_tree, tmp_path, folds, match):
    with pytest.raises(DataPreparationError, match=match):
        prepare_esc50(esc50_tree, str(tmp_path / "save"), **folds)


def test_missing_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="esc50.csv"):
        prepare_esc50(str(tmp_path / "nothing"), str(tmp_path / "save"))


def test_missing_wav_names_the_file(esc50_tree, tmp_path):
    tree = _copy_tree(esc50_tree, tmp_path / "tree")
    victim = _rows(tree)[7]["filename"]
    os.remove(os.path.join(tree, "audio", victim))
    with pytest.raises(AudioFileError, match=victim) as err:
        prepare_esc50(tree, str(tmp_path / "save"))
    assert "not found" in str(err.value)


def test_corrupt_wav_names_the_file(esc50_tree, tmp_path):
    tree = _copy_tree(esc50_tree, tmp_path / "tree")
    victim = _rows(tree)[3]["filename"]
    with open(os.path.join(tree, "audio", victim), "wb") as fout:
        fout.write(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 4)
    with pytest.raises(AudioFileError, match=victim) as err:
        prepare_esc50(tree, str(tmp_path / "save"))
    assert "corrupt" in str(err.value)


def test_inconsistent_label_is_rejected(esc50_tree, tmp_path):
    tree = _copy_tree(esc50_tree, tmp_path / "tree")
    rows = _rows(tree)
    # a clip of target 0 labelled with another category
    victim = next(r for r in rows[1:] if r["target"] == "0")
    victim["category"] = "unknown_animal"
    _write_rows(tree, rows)
    with pytest.raises(UnknownLabelError, match="unknown_animal") as err:
        prepare_esc50(tree, str(tmp_path / "save"))
    assert victim["filename"] in str(err.value)
    # a category used with two targets
    rows = _rows(esc50_tree)
    rows[-1]["target"] = "42"
    _write_rows(tree, rows)
    with pytest.raises(UnknownLabelError, match=rows[-1]["filename"]):
        read_esc50_csv(os.path.join(tree, "meta", "esc50.csv"))


def test_bad_csv_content(esc50_tree, tmp_path):
    tree = _copy_tree(esc50_tree, tmp_path / "tree")
    rows = _rows(tree)
    rows[2]["fold"] = "7"
    _write_rows(tree, rows)
    with pytest.raises(DataPreparationError, match="fold 7"):
        prepare_esc50(tree, str(tmp_path / "save"))
    with open(os.path.join(tree, "meta", "esc50.csv"), "w") as fout:
        fout.write("filename,fold\na.wav,1\n")
    with pytest.raises(DataPreparationError, match="category"):
        prepare_esc50(tree, str(tmp_path / "save"))
