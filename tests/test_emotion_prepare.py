"""Tests of the IEMOCAP and RAVDESS preparation on fake published layouts."""

import importlib.util
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ast_sb.dataio.audio_checks import AudioFileError
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.errors import DataPreparationError

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "SpeechEmotion"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prepare_iemocap = _load("iemocap_prepare").prepare_iemocap
prepare_ravdess = _load("ravdess_prepare").prepare_ravdess


def _tone(path, seconds=0.2, sample_rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    sf.write(str(path), 0.1 * np.sin(2 * np.pi * 220 * t), sample_rate)


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- IEMOCAP

CODES = ["neu", "hap", "exc", "sad", "ang", "fru", "xxx"]


def _make_iemocap(root):
    """5 sessions x 2 dialogs x 7 utterances (both speakers)."""
    release = root / "IEMOCAP_full_release"
    for n in range(1, 6):
        session = release / f"Session{n}"
        eval_dir = session / "dialog" / "EmoEvaluation"
        eval_dir.mkdir(parents=True)
        (eval_dir / "Categorical").mkdir()  # real releases have sub-folders
        for dialog in (f"Ses0{n}F_impro01", f"Ses0{n}M_script01_1"):
            lines = [
                "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]",
                "",
            ]
            for i, code in enumerate(CODES):
                utt = f"{dialog}_{'FM'[i % 2]}{i:03d}"
                lines += [
                    f"[{i * 3.1:.4f} - {i * 3.1 + 2:.4f}]\t{utt}\t{code}\t"
                    "[2.5000, 2.5000, 2.5000]",
                    "C-E1:\tNeutral state;\t()",
                    "A-E1:\tval 3; act 2; dom  2;\t()",
                    "",
                ]
                _tone(session / "sentences" / "wav" / dialog / f"{utt}.wav")
            (eval_dir / f"{dialog}.txt").write_text("\n".join(lines))
    return release


@pytest.fixture(scope="module")
def iemocap_tree(tmp_path_factory):
    return _make_iemocap(tmp_path_factory.mktemp("iemocap"))


@pytest.fixture
def iemocap(iemocap_tree, tmp_path):
    """A private copy of the fake tree (tests may modify it)."""
    return Path(
        shutil.copytree(iemocap_tree, tmp_path / "data" / iemocap_tree.name)
    )


def test_iemocap_leave_one_session_out(iemocap, tmp_path):
    out = prepare_iemocap(str(iemocap.parent), str(tmp_path / "save"))
    train, valid, test = (_read(out[s]) for s in ("train", "valid", "test"))
    # 5 kept utterances (neu, hap, exc->hap, sad, ang) per dialog.
    assert (len(train), len(valid), len(test)) == (34, 6, 10)
    assert {e["session"] for e in test.values()} == {5}
    assert {e["speaker"] for e in valid.values()} == {"Ses01F"}
    assert "Ses01F" not in {e["speaker"] for e in train.values()}
    speakers = [
        {e["speaker"] for e in s.values()} for s in (train, valid, test)
    ]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2])
    assert speakers[2] == {"Ses05F", "Ses05M"}
    entry = test["Ses05F_impro01_M001"]
    assert entry["label"] == "hap" and entry["gender"] == "M"
    assert entry["speaker"] == "Ses05M"
    assert test["Ses05F_impro01_F002"]["label"] == "hap"  # exc merged
    assert entry["duration"] == pytest.approx(0.2)
    assert Path(entry["wav"]).is_file()
    labels = Counter(e["label"] for e in {**train, **valid, **test}.values())
    assert labels == {"neu": 10, "hap": 20, "sad": 10, "ang": 10}


def test_iemocap_fraction_mode_and_no_excited(iemocap, tmp_path):
    out = prepare_iemocap(
        str(iemocap),
        str(tmp_path / "save"),
        test_session=2,
        valid_mode="fraction",
        valid_fraction=0.25,
        merge_excited=False,
    )
    train, valid, test = (_read(out[s]) for s in ("train", "valid", "test"))
    assert {e["session"] for e in test.values()} == {2}
    assert len(train) + len(valid) == 4 * 2 * 4
    assert len(valid) == 8 and not set(train) & set(valid)
    assert {e["session"] for e in valid.values()} <= {1, 3, 4, 5}


def test_iemocap_missing_wav(iemocap, tmp_path):
    wav = (
        iemocap
        / "Session3/sentences/wav/Ses03F_impro01/Ses03F_impro01_F000.wav"
    )
    wav.unlink()
    out = prepare_iemocap(str(iemocap), str(tmp_path / "a"))
    assert "Ses03F_impro01_F000" not in _read(out["train"])
    report = (tmp_path / "a" / "missing_files.txt").read_text()
    assert "Ses03F_impro01_F000" in report
    with pytest.raises(AudioFileError, match="Ses03F_impro01_F000.wav"):
        prepare_iemocap(str(iemocap), str(tmp_path / "b"), on_missing="raise")


def test_iemocap_unknown_code(iemocap, tmp_path):
    path = iemocap / "Session4/dialog/EmoEvaluation/Ses04F_impro01.txt"
    path.write_text(path.read_text().replace("\tsad\t", "\tbored\t"))
    with pytest.raises(
        UnknownLabelError, match=r"'bored'.*Ses04F_impro01.txt line"
    ):
        prepare_iemocap(str(iemocap), str(tmp_path / "save"))


def test_iemocap_bad_arguments(iemocap, tmp_path):
    with pytest.raises(ValueError, match="test session"):
        prepare_iemocap(str(iemocap), str(tmp_path), valid_speaker="Ses05M")
    with pytest.raises(DataPreparationError, match="Session1..Session5"):
        prepare_iemocap(str(tmp_path / "nowhere"), str(tmp_path))


# ---------------------------------------------------------------- RAVDESS


@pytest.fixture(scope="module")
def ravdess_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    for actor in range(1, 25):
        speech = root / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}"
        for emotion in range(1, 9):
            intensity = 1 if emotion == 1 else 2
            name = f"03-01-{emotion:02d}-{intensity:02d}-01-01-{actor:02d}.wav"
            _tone(speech / name, seconds=0.1)
    song = root / "Audio_Song_Actors_01-24" / "Actor_01"
    for emotion in (1, 3):
        _tone(song / f"03-02-{emotion:02d}-01-02-02-01.wav", seconds=0.1)
    return root


@pytest.fixture
def ravdess(ravdess_tree, tmp_path):
    """A private copy of the fake tree (tests may modify it)."""
    return Path(shutil.copytree(ravdess_tree, tmp_path / "ravdess"))


def test_ravdess_actor_independent_split(ravdess, tmp_path):
    out = prepare_ravdess(str(ravdess), str(tmp_path / "save"))
    train, valid, test = (_read(out[s]) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (160, 16, 16)
    actors = [{e["actor"] for e in s.values()} for s in (train, valid, test)]
    assert actors == [set(range(1, 21)), {21, 22}, {23, 24}]
    entry = test["03-01-05-02-01-01-23"]
    assert entry["label"] == "angry" and entry["gender"] == "M"
    assert entry["speaker"] == "Actor_23" and entry["intensity"] == "strong"
    assert entry["vocal_channel"] == "speech" and entry["statement"] == 1
    assert Counter(e["label"] for e in train.values())["surprised"] == 20
    labels = (tmp_path / "save" / "labels.txt").read_text().split()
    assert labels[:3] == ["neutral", "calm", "happy"] and len(labels) == 8


def test_ravdess_custom_actors_and_song(ravdess, tmp_path):
    out = prepare_ravdess(
        str(ravdess),
        str(tmp_path / "save"),
        train_actors=[1, 3],
        valid_actors=[2],
        test_actors=[4],
        vocal_channels=("speech", "song"),
    )
    train = _read(out["train"])
    assert len(train) == 18
    assert train["03-02-03-01-02-02-01"]["vocal_channel"] == "song"
    with pytest.raises(ValueError, match=r"Actors \[4\].*train.*test"):
        prepare_ravdess(
            str(ravdess),
            str(tmp_path / "x"),
            train_actors=[1, 4],
            test_actors=[4],
        )


def test_ravdess_bad_names(ravdess, tmp_path):
    bad = (
        ravdess
        / "Audio_Speech_Actors_01-24"
        / "Actor_05"
        / "03-01-09-01-01-01-05.wav"
    )
    _tone(bad, seconds=0.1)
    with pytest.raises(
        UnknownLabelError, match=r"'09'.*03-01-09-01-01-01-05.wav"
    ):
        prepare_ravdess(str(ravdess), str(tmp_path / "save"))
    bad.rename(bad.with_name("not-a-ravdess-name.wav"))
    with pytest.raises(DataPreparationError, match="not-a-ravdess-name.wav"):
        prepare_ravdess(str(ravdess), str(tmp_path / "save"))
    bad.with_name("not-a-ravdess-name.wav").unlink()
    wrong_actor = bad.with_name("03-01-01-01-01-01-06.wav")
    _tone(wrong_actor, seconds=0.1)
    with pytest.raises(DataPreparationError, match="folder Actor_05"):
        prepare_ravdess(str(ravdess), str(tmp_path / "save"))
