"""Tests of ast_sb.dataio.datasets (manifests -> DynamicItemDatasets).

Authors
 * ast_sb developers 2026
"""

import json
import os

import pytest
import torch
from speechbrain.dataio.dataloader import make_dataloader

from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.dataio.datasets import (
    DatasetError,
    load_manifest,
    multi_hot,
    prepare_classification_datasets,
)


@pytest.fixture
def audio_dir(tmp_path):
    """Three clips: 1 s at 44.1 kHz stereo, 2 s at 16 kHz, 0.5 s at 8 kHz."""
    torch.manual_seed(0)
    save_audio(tmp_path / "a.wav", torch.randn(2, 44100) * 0.1, 44100)
    save_audio(tmp_path / "b.wav", torch.randn(32000) * 0.1, 16000)
    save_audio(tmp_path / "c.wav", torch.randn(4000) * 0.1, 8000)
    return tmp_path


def _write(path, manifest):
    with open(path, "w") as fout:
        json.dump(manifest, fout)
    return str(path)


def _single(audio_dir, labels=("dog", "cat", "dog")):
    return {
        name: {"wav": f"$data_root/{name}.wav", "duration": 1.0, "label": lab}
        for name, lab in zip("abc", labels)
    }


def test_single_label(audio_dir):
    train = _write(audio_dir / "train.json", _single(audio_dir))
    test = _write(audio_dir / "test.json", _single(audio_dir, ("cat",) * 3))
    enc_path = str(audio_dir / "save" / "label_encoder.txt")
    datasets, encoder = prepare_classification_datasets(
        train, None, test, str(audio_dir), enc_path
    )
    assert sorted(datasets) == ["test", "train"]
    assert encoder.lab2ind == {"cat": 0, "dog": 1}  # sorted, reproducible
    assert os.path.isfile(enc_path)
    items = {item["id"]: item for item in datasets["train"]}
    assert items["a"]["sig"].shape == (16000,)  # resampled + downmixed
    assert items["b"]["sig"].shape == (32000,)
    assert items["c"]["sig"].shape == (8000,)
    assert items["a"]["label_encoded"].dtype == torch.long
    assert items["a"]["label_encoded"].tolist() == [1]
    assert items["b"]["label_encoded"].tolist() == [0]
    # batches: padded waveforms with relative lengths, labels [B, 1]
    loader = make_dataloader(datasets["train"], batch_size=3)
    batch = next(iter(loader))
    wavs, lens = batch.sig
    assert wavs.shape == (3, 32000)
    assert lens.tolist() == pytest.approx([0.5, 1.0, 0.25])
    assert batch.label_encoded.data.shape == (3, 1)


def test_existing_encoder_is_loaded(audio_dir):
    enc_path = str(audio_dir / "label_encoder.txt")
    train = _write(audio_dir / "train.json", _single(audio_dir))
    _, first = prepare_classification_datasets(
        train, None, None, str(audio_dir), enc_path
    )
    # evaluate only: no training manifest, the saved encoder is used
    test = _write(audio_dir / "test.json", _single(audio_dir, ("dog",) * 3))
    datasets, second = prepare_classification_datasets(
        None, None, test, str(audio_dir), enc_path
    )
    assert second.lab2ind == first.lab2ind
    assert datasets["test"][0]["label_encoded"].tolist() == [1]


def test_multi_label(audio_dir):
    manifest = {
        "a": {"wav": "$data_root/a.wav", "duration": 1.0, "labels": ["x", "y"]},
        "b": {"wav": "{data_root}/b.wav", "duration": 2.0, "labels": ["z"]},
        "c": {"wav": "${data_root}/c.wav", "duration": 0.5, "labels": []},
    }
    train = _write(audio_dir / "train.json", manifest)
    datasets, encoder = prepare_classification_datasets(
        train,
        train,
        None,
        str(audio_dir),
        str(audio_dir / "enc.txt"),
        multi_label=True,
        label_key="targets",
    )
    assert len(encoder) == 3
    items = {item["id"]: item for item in datasets["valid"]}
    assert items["a"]["targets"].dtype == torch.float32
    assert items["a"]["targets"].tolist() == [1.0, 1.0, 0.0]
    assert items["b"]["targets"].tolist() == [0.0, 0.0, 1.0]
    assert items["c"]["targets"].tolist() == [0.0, 0.0, 0.0]
    batch = next(iter(make_dataloader(datasets["valid"], batch_size=3)))
    assert batch.targets.data.shape == (3, 3)
    assert multi_hot(["z", "x"], encoder).tolist() == [1.0, 0.0, 1.0]


def test_unknown_label_is_named(audio_dir):
    train = _write(audio_dir / "train.json", _single(audio_dir))
    valid = _write(
        audio_dir / "valid.json", _single(audio_dir, ("cat", "cow", "dog"))
    )
    with pytest.raises(DatasetError, match="'cow'") as err:
        prepare_classification_datasets(
            train, valid, None, str(audio_dir), str(audio_dir / "enc.txt")
        )
    assert "valid.json" in str(err.value) and "b" in str(err.value)


def test_missing_file_is_named(audio_dir):
    manifest = _single(audio_dir)
    manifest["b"]["wav"] = "$data_root/missing_clip.wav"
    train = _write(audio_dir / "train.json", manifest)
    with pytest.raises(FileNotFoundError, match="missing_clip.wav"):
        prepare_classification_datasets(
            train, None, None, str(audio_dir), str(audio_dir / "enc.txt")
        )


def test_missing_manifest_and_label_field(audio_dir):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        prepare_classification_datasets(
            str(audio_dir / "nope.json"),
            None,
            None,
            str(audio_dir),
            str(audio_dir / "enc.txt"),
        )
    manifest = _single(audio_dir)
    del manifest["c"]["label"]
    train = _write(audio_dir / "train.json", manifest)
    with pytest.raises(DatasetError, match="'c'"):
        prepare_classification_datasets(
            train, None, None, str(audio_dir), str(audio_dir / "enc.txt")
        )


def test_crops_and_segments(audio_dir):
    manifest = _single(audio_dir)
    manifest["seg"] = {
        "wav": "$data_root/b.wav",
        "duration": 0.5,
        "start": 0.25,
        "stop": 0.75,
        "label": "cat",
    }
    train = _write(audio_dir / "train.json", manifest)
    datasets, _ = prepare_classification_datasets(
        train,
        None,
        train,
        str(audio_dir),
        str(audio_dir / "enc.txt"),
        train_crop_seconds=0.5,
        eval_crop_seconds=1.5,
    )
    train_items = {item["id"]: item["sig"] for item in datasets["train"]}
    test_items = {item["id"]: item["sig"] for item in datasets["test"]}
    assert train_items["b"].shape == (8000,)  # random 0.5 s crop
    assert train_items["c"].shape == (8000,)  # 0.5 s clip: unchanged
    assert test_items["b"].shape == (24000,)  # first 1.5 s
    assert test_items["a"].shape == (16000,)
    full = load_audio(str(audio_dir / "b.wav"))
    assert torch.equal(test_items["b"], full[:24000])
    assert torch.equal(test_items["seg"], full[4000:12000])
    # random crops are windows of the clip
    crop = train_items["b"]
    starts = [
        i
        for i in range(0, 32000 - 8000 + 1)
        if torch.equal(full[i : i + 8000], crop)
    ]
    assert starts


def test_load_manifest_replacements(tmp_path):
    path = _write(
        tmp_path / "m.json",
        {
            "u1": {
                "wav": "$data_root/x.wav",
                "labels": ["{odd}", "$data_rootless"],
            }
        },
    )
    out = load_manifest(path, {"data_root": "/d", "data_rootless": "R"})
    assert out["u1"]["wav"] == "/d/x.wav"
    assert out["u1"]["labels"] == ["{odd}", "R"]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="bad.json"):
        load_manifest(str(bad))
