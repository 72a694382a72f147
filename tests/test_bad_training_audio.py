"""Bad audio in training data: found at preparation, skipped or named later.

A float WAV with a NaN sample and a one-sample WAV are caught by the
preparation's decoding and minimum-duration checks; if they reach the
training data anyway, ``on_corrupt: raise`` names the file when it is
loaded and ``on_corrupt: skip`` leaves it out of its batch, counts it and
reports it at the end of the epoch, without stopping the epoch.

Authors
 * ast_sb developers 2026
"""

import json
import logging
import math
import os
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from ast_sb.dataio.audio import AudioLoadError
from ast_sb.dataio.audio_checks import AudioFileError, add_durations
from ast_sb.dataio.datasets import DatasetError, prepare_classification_datasets
from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402

RATE = 16000


def _tone(i, n=1024):
    t = np.arange(n)
    freq = ddp_worker.FREQS[i % ddp_worker.N_CLASSES]
    return (0.5 * np.sin(2 * math.pi * freq * t)).astype("float32")


@pytest.fixture
def files(tmp_path):
    """Good tone clips, a float WAV with one NaN, a one-sample WAV."""
    paths = {}
    for i in range(8):
        paths[f"good{i}"] = tmp_path / f"good{i}.wav"
        sf.write(paths[f"good{i}"], _tone(i), RATE)
    wav = _tone(1)
    wav[500] = np.nan
    paths["nan"] = tmp_path / "nan.wav"
    sf.write(paths["nan"], wav, RATE, subtype="FLOAT")
    paths["short"] = tmp_path / "short.wav"
    sf.write(paths["short"], _tone(2)[:1], RATE)
    return paths


def _entries(files, keys):
    return {key: {"wav": str(files[key])} for key in keys}


def test_preparation_decodes_and_names_nan_file(files):
    with pytest.raises(AudioFileError, match="nan.wav: contains NaN"):
        add_durations(_entries(files, ["good0", "nan"]))
    entries = _entries(files, ["good0", "nan"])
    _, corrupt = add_durations(entries, on_corrupt="skip")
    assert list(entries) == ["good0"] and list(corrupt) == ["nan"]
    # the header-only check (opt-out) lets it through
    entries = _entries(files, ["nan"])
    add_durations(entries, decode_check=False)
    assert entries["nan"]["duration"] == pytest.approx(1024 / RATE)


def test_preparation_rejects_clip_below_min_duration(files):
    with pytest.raises(AudioFileError, match="short.wav: is 0.0001 s long"):
        add_durations(_entries(files, ["good0", "short"]))
    entries = _entries(files, ["good0", "short"])
    _, corrupt = add_durations(entries, on_corrupt="skip")
    assert list(entries) == ["good0"]
    assert "min_duration=0.025" in corrupt["short"]
    entries = _entries(files, ["short"])
    add_durations(entries, min_duration=0.0)
    assert entries["short"]["duration"] == 1 / RATE


def _manifest(path, files, keys):
    data = {}
    for key in keys:
        index = int(key[-1]) if key.startswith("good") else 1
        data[key] = {
            "wav": str(files[key]),
            "duration": 0.064,
            "label": f"c{index % ddp_worker.N_CLASSES}",
        }
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout)
    return str(path)


def _datasets(tmp_path, files, train_keys, valid_keys, **kwargs):
    return prepare_classification_datasets(
        _manifest(tmp_path / "train.json", files, train_keys),
        _manifest(tmp_path / "valid.json", files, valid_keys),
        None,
        str(tmp_path),
        str(tmp_path / "labels.txt"),
        **kwargs,
    )[0]


def test_bad_clip_raises_naming_the_file_by_default(tmp_path, files):
    keys = ["good0", "good1", "good2", "good3", "nan", "short"]
    train = _datasets(tmp_path, files, keys, keys[:4])["train"]
    with pytest.raises(AudioLoadError, match="nan.wav"):
        train[keys.index("nan")]
    # a one-sample clip is not zero-padded into a labelled example
    with pytest.raises(DatasetError, match="short.wav is 0.0001 s long"):
        train[keys.index("short")]


def _brain(folder, counter):
    modules = ddp_worker.make_modules()
    return AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=lambda groups: torch.optim.Adam(groups, lr=3e-3),
        hparams=ddp_worker.make_hparams(epoch_counter=counter),
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=Checkpointer(
            folder,
            recoverables={
                "embedding_model": modules["embedding_model"],
                "classifier": modules["classifier"],
                "counter": counter,
            },
        ),
    )


def test_training_skips_counts_and_reports_bad_clips(tmp_path, files, caplog):
    # first batch: only bad clips (an empty batch); then good ones
    train_keys = ["nan", "short", "good0", "good1", "good2", "good3"]
    valid_keys = ["good4", "nan", "good5", "good6"]
    datasets = _datasets(
        tmp_path, files, train_keys, valid_keys, on_corrupt="skip"
    )
    counter = EpochCounter(2)
    brain = _brain(tmp_path / "save", counter)
    with caplog.at_level(logging.WARNING):
        brain.fit(
            counter,
            datasets["train"],
            datasets["valid"],
            train_loader_kwargs={"batch_size": 2},
            valid_loader_kwargs={"batch_size": 2},
        )
    assert counter.current == 2
    skipped = brain.skipped_clips
    assert sorted(skipped["TRAIN"]) == ["nan", "short"]
    assert "NaN" in skipped["TRAIN"]["nan"]
    assert "min_duration" in skipped["TRAIN"]["short"]
    assert sorted(skipped["VALID"]) == ["nan"]
    assert brain.train_stats["skipped_clips"] == 2
    assert brain.valid_stats["skipped_clips"] == 1
    assert brain.valid_stats["n_examples"] == 3
    assert math.isfinite(brain.train_stats["loss"])
    reports = [r.getMessage() for r in caplog.records if "skipped" in r.msg]
    assert sum("train epoch" in r for r in reports) == 2  # one per epoch
    assert any("short.wav" in r for r in reports)


def test_skipped_clips_of_a_resumed_epoch_are_kept(tmp_path):
    counter = EpochCounter(2)
    brain = _brain(tmp_path, counter)
    brain._stage_skipped = {"nan": "Audio file contains NaN: nan.wav"}
    brain.checkpointer.save_checkpoint(end_of_epoch=False)
    resumed = _brain(tmp_path, EpochCounter(2))
    resumed.checkpointer.recover_if_possible()
    assert resumed._stage_skipped == brain._stage_skipped
