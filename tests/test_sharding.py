"""Tests of ast_sb.dataio.sharding (WebDataset tar shards writer and reader)."""

import io
import json
import tarfile

import numpy as np
import pytest
import soundfile as sf
import torch
import webdataset
from torch.utils.data import DataLoader

from ast_sb.dataio.datasets import DatasetError
from ast_sb.dataio.sharding import (
    ShardedAudioDataset,
    expand_shard_spec,
    iterate_tar_samples,
    write_shards,
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """12 clips: lengths (30 to 140 ms) differ by id; one 8 kHz, one
    stereo, one FLAC."""
    tmp = tmp_path_factory.mktemp("clips")
    entries = {}
    for i in range(12):
        rate = 8000 if i == 3 else 16000
        n = (i + 3) * rate // 100  # (i + 3) * 10 ms
        wav = (0.01 * (i + 1) * np.ones(n)).astype("float32")
        if i == 4:
            wav = np.stack([wav, -wav], axis=1)  # stereo, mean = 0
        ext = "flac" if i == 5 else "wav"
        path = tmp / f"clip{i}.{ext}"
        sf.write(str(path), wav, rate)
        entries[f"Y{i}.part/{i}"] = {
            "wav": str(path),
            "duration": n / rate,
            "labels": ["a", "b"][: 1 + i % 2],
            "weight": float(i),
        }
    return entries


@pytest.fixture(scope="module")
def shard_dir(manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_shards(manifest, out, max_samples_per_shard=3, seed=0)
    return out


def _garbage_tar(path):
    """A shard with one sample whose audio member is not audio."""
    with tarfile.open(path, "w") as tar:
        for name, payload in [("k1.wav", b"garbage"), ("k1.json", b"{}")]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def _ids(items):
    return [item["id"] for item in items]


def test_write_layout_and_index(manifest, shard_dir):
    index = json.loads((shard_dir / "shards.json").read_text())
    assert index["num_samples"] == 12 and len(index["shards"]) == 4
    shards, total = expand_shard_spec(shard_dir)
    assert total == 12 and [s.split("/")[-1] for s in shards] == [
        f"shard-{i:06d}.tar" for i in range(4)
    ]
    names = tarfile.open(shards[0]).getnames()
    # WebDataset layout: consecutive <key>.<ext> members, keys without dots.
    keys = [n.split(".")[0] for n in names]
    assert keys[0::2] == keys[1::2] and len(set(keys)) == 3
    assert all("/" not in n and n.count(".") == 1 for n in names)
    samples = [s for shard in shards for s in iterate_tar_samples(shard)]
    meta = [json.loads(s["json"]) for s in samples]
    assert sorted(m["id"] for m in meta) == sorted(manifest)
    by_id = {m["id"]: (m, s) for m, s in zip(meta, samples)}
    first, raw = by_id["Y1.part/1"]
    assert first["labels"] == ["a", "b"] and first["weight"] == 1.0
    assert "wav" not in first and set(raw) == {"__key__", "wav", "json"}
    with open(manifest["Y1.part/1"]["wav"], "rb") as f:
        assert raw["wav"] == f.read()  # "keep" copies the bytes
    assert "flac" in by_id["Y5.part/5"][1]
    # Globs and brace patterns give the same shards.
    assert expand_shard_spec(str(shard_dir / "*.tar"))[0] == shards
    brace = str(shard_dir / "shard-{000000..000003}.tar")
    assert expand_shard_spec(brace)[0] == shards


def test_read_decodes_resamples_and_collates(shard_dir):
    data = ShardedAudioDataset(shard_dir, rank=0, world_size=1, seed=3)
    items = {item["id"]: item for item in data}
    assert sorted(items) == sorted(f"Y{i}.part/{i}" for i in range(12))
    for i in range(12):
        sig = items[f"Y{i}.part/{i}"]["sig"]
        assert sig.dtype == torch.float32 and sig.dim() == 1
        assert sig.shape[0] == (i + 3) * 160  # 8 kHz clip resampled
    assert torch.allclose(
        items["Y4.part/4"]["sig"], torch.zeros(1120), atol=1e-4
    )
    assert items["Y0.part/0"]["sig"].mean().item() == pytest.approx(
        0.01, abs=1e-4
    )
    from speechbrain.dataio.batch import PaddedBatch

    loader = DataLoader(data, batch_size=4, collate_fn=PaddedBatch)
    batch = next(iter(loader))
    assert batch.sig.data.shape[0] == 4 and len(batch.labels) == 4
    assert batch.sig.lengths.max().item() == 1.0


def test_reencode_flac(manifest, tmp_path):
    shards = write_shards(
        manifest, tmp_path, audio_format="flac", shuffle=False
    )
    assert len(shards) == 1
    items = list(
        ShardedAudioDataset(shards, shuffle=False, rank=0, world_size=1)
    )
    assert _ids(items) == list(manifest)  # shuffle=False keeps the order
    assert items[2]["sig"].mean().item() == pytest.approx(0.03, abs=1e-4)


@pytest.mark.parametrize("n_shards_limit", [3, 12])
def test_split_over_ranks_and_workers(manifest, tmp_path, n_shards_limit):
    # 3 samples/shard -> 4 shards (enough for 2x2 readers); 12 -> 1 shard
    # (fewer shards than readers: sample-level split).
    write_shards(manifest, tmp_path, max_samples_per_shard=n_shards_limit)
    seen = []
    for rank in range(2):
        data = ShardedAudioDataset(tmp_path, rank=rank, world_size=2, seed=1)
        loader = DataLoader(data, batch_size=None, num_workers=2)
        seen.extend(_ids(loader))
    assert sorted(seen) == sorted(manifest)


def test_epoch_length_and_set_epoch(shard_dir):
    lengths = []
    for rank in range(3):
        data = ShardedAudioDataset(
            shard_dir, rank=rank, world_size=3, epoch_length=7, seed=2
        )
        assert len(data) == 7
        items = _ids(data)
        lengths.append(len(items))
        assert len(set(items)) <= 6  # at most 2 shards for this rank
    assert lengths == [7, 7, 7]  # cycled over the rank's shards
    data = ShardedAudioDataset(
        shard_dir, rank=0, world_size=1, shuffle_buffer=4
    )
    first = _ids(data)
    assert _ids(data) == first  # deterministic
    data.set_epoch(1)
    second = _ids(data)
    assert sorted(second) == sorted(first) and second != first
    with pytest.raises(TypeError, match="epoch_length"):
        len(data)


def test_corrupt_sample_and_errors(manifest, tmp_path):
    tar_path = _garbage_tar(tmp_path / "bad.tar")
    with pytest.raises(sf.LibsndfileError):
        list(ShardedAudioDataset([str(tar_path)], rank=0, world_size=1))
    data = ShardedAudioDataset(
        [str(tar_path)], rank=0, world_size=1, on_error="skip"
    )
    with pytest.raises(DatasetError, match="no usable sample"):
        list(data)  # a whole pass that gives nothing is an error
    raw = list(ShardedAudioDataset([str(tar_path)], decode=False, world_size=1))
    assert raw[0]["wav"] == b"garbage" and raw[0]["id"] == "k1"
    with pytest.raises(ValueError, match="No shard"):
        ShardedAudioDataset(str(tmp_path / "none" / "*.tar"))
    with pytest.raises(ValueError, match="Bad rank"):
        list(ShardedAudioDataset([str(tar_path)], rank=2, world_size=2))


def test_errors_name_the_shard(shard_dir, tmp_path, caplog):
    """A truncated shard or an undecodable sample names its tar file."""
    good = sorted(shard_dir.glob("*.tar"))[0]
    cut = tmp_path / "cut-000000.tar"
    cut.write_bytes(good.read_bytes()[:1000])  # inside the first member
    with pytest.raises(Exception, match="cut-000000.tar"):
        list(ShardedAudioDataset([str(cut)], rank=0, world_size=1))
    bad = _garbage_tar(tmp_path / "bad-000000.tar")
    data = ShardedAudioDataset(
        [str(bad)], rank=0, world_size=1, on_error="skip"
    )
    with caplog.at_level("WARNING", logger="ast_sb.dataio.sharding"):
        with pytest.raises(DatasetError, match="bad-000000.tar"):
            list(data)
    assert "k1" in caplog.text and "bad-000000.tar" in caplog.text


@pytest.fixture
def no_hang():
    """Turns a reader that would loop forever into a test failure."""
    import signal

    class ReaderHangs(BaseException):
        """Not an Exception: the reader's skip path must not catch it."""

    def stop(signum, frame):
        raise ReaderHangs("the reader did not stop")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _clips(tmp_path, waves):
    entries = {}
    for name, wav in waves.items():
        path = tmp_path / f"{name}.wav"
        sf.write(str(path), wav, 16000, subtype="FLOAT")
        entries[name] = {"wav": str(path), "labels": ["a"]}
    return entries


def test_all_bad_shard_set_stops_with_an_error(tmp_path, no_hang):
    """Cycling readers (epoch_length) over shards whose samples all fail
    stop after one pass instead of skipping forever (issue 24, 6)."""
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.dataio.sharding import sharded_classification_dataset

    bad = [str(_garbage_tar(tmp_path / f"bad-{i}.tar")) for i in range(2)]
    enc = CategoricalEncoder()
    enc.update_from_iterable(["a"])
    data = sharded_classification_dataset(bad, enc, epoch_length=4)
    with pytest.raises(DatasetError, match="bad-0.tar.*no usable sample"):
        list(data)
    # one good clip among bad ones, with a shuffle buffer spanning many
    # passes: no false alarm
    good = write_shards(
        _clips(tmp_path, {"ok": np.full(800, 0.1, "float32")}),
        tmp_path / "good",
    )
    mixed = sharded_classification_dataset(
        bad + good, enc, epoch_length=9, shuffle_buffer=50
    )
    assert _ids(mixed) == ["ok"] * 9


def test_nan_and_one_sample_clips_in_shards(tmp_path, caplog):
    """The manifests' audio rule (finite, >= MIN_DURATION) applies to
    streamed samples: an error naming the sample, or skipped (issue 24, 11)."""
    nan = np.full(800, 0.1, "float32")
    nan[400] = np.nan
    waves = {"ok": np.full(800, 0.1, "float32"), "nan": nan}
    waves["one"] = np.full(1, 0.1, "float32")
    shards = write_shards(_clips(tmp_path, waves), tmp_path / "s")
    for name, why in [("nan", "NaN"), ("one", "shorter than min_duration")]:
        alone = write_shards(
            _clips(tmp_path, {name: waves[name]}), tmp_path / name
        )
        with pytest.raises(DatasetError, match=f"Sample {name} of .*{why}"):
            list(ShardedAudioDataset(alone, rank=0, world_size=1))
    data = ShardedAudioDataset(shards, rank=0, world_size=1, on_error="skip")
    with caplog.at_level("WARNING", logger="ast_sb.dataio.sharding"):
        assert _ids(data) == ["ok"]
    assert "NaN" in caplog.text and "min_duration" in caplog.text


def test_failed_write_leaves_no_shard(tmp_path):
    """A missing clip: write_shards raises and leaves no .tar (complete or
    partial), no .tmp and no index (issue 24, 12)."""
    entries = _clips(
        tmp_path, {f"c{i}": np.zeros(800, "float32") for i in range(3)}
    )
    entries["gone"] = {"wav": str(tmp_path / "gone.wav"), "labels": ["a"]}
    out = tmp_path / "shards"
    with pytest.raises(Exception, match="gone.wav"):
        write_shards(entries, out, max_samples_per_shard=2, shuffle=False)
    assert sorted(p.name for p in out.iterdir()) == []


def test_streamed_crops_are_the_manifest_draws(tmp_path):
    """Crops of streamed clips come from (seed, epoch, clip), as the
    manifests' ClipLoader, not from the global RNG (issue 24, 13)."""
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.dataio.datasets import ClipLoader
    from ast_sb.dataio.sharding import sharded_classification_dataset

    wave = np.arange(16000, dtype="float32") / 16000
    entries = _clips(tmp_path, {f"c{i}": wave for i in range(4)})
    shards = write_shards(entries, tmp_path / "s")
    enc = CategoricalEncoder()
    enc.update_from_iterable(["a"])
    loader = ClipLoader(crop_seconds=0.1, random_crop=True, seed=7)
    for epoch in (0, 3):
        data = sharded_classification_dataset(
            shards, enc, crop_seconds=0.1, seed=7
        )
        data.set_epoch(epoch)
        loader.set_epoch(epoch)
        torch.manual_seed(epoch)  # the global RNG plays no part
        for item in data:
            want = loader(item["id"], entries[item["id"]]["wav"])
            assert torch.equal(item["sig"], want)


def test_write_shards_on_a_full_disk(tmp_path, monkeypatch):
    """ENOSPC while packing: DiskFullError naming the folder, nothing left."""
    import errno

    from ast_sb.disk_space import DiskFullError

    entries = _clips(
        tmp_path, {f"c{i}": np.zeros(800, "float32") for i in range(3)}
    )
    out = tmp_path / "shards"
    real = webdataset.TarWriter.write
    calls = []

    def full(self, obj):
        calls.append(obj["__key__"])
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, obj)

    monkeypatch.setattr(webdataset.TarWriter, "write", full)
    with pytest.raises(DiskFullError, match=f"No space left.*{out}"):
        write_shards(entries, out, max_samples_per_shard=2, shuffle=False)
    assert list(out.iterdir()) == []
