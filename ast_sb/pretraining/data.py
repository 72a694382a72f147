"""Unlabelled audio for pretraining: manifests or shards, random crops.

Pretraining reads clips of any length. A manifest entry (``wav``,
``duration`` and optionally ``start`` / ``stop`` of a segment, see
``recipes/SelfSupervised/unlabelled_prepare.py``) gives one crop of at most
``crop_seconds`` per epoch, read from disk alone (long files are never
loaded whole); shorter clips are returned whole and padded by the batch
and the front end. WebDataset shards (``ast_sb.dataio.sharding.write_shards``)
stream the same way for large sets.

Crop offsets are a hash of (seed, epoch, clip id), not draws from a global
generator, so a resumed run reads the same crops as the uninterrupted one,
in the main process or in DataLoader workers; ``set_epoch`` (called by the
Brain at each epoch) changes them.

Authors
 * ast_sb developers 2026
"""

import os
from typing import Any, Dict, Optional

from speechbrain.dataio.dataset import DynamicItemDataset

from ast_sb.dataio.audio import load_audio
from ast_sb.dataio.datasets import DatasetError, load_manifest
from ast_sb.dataio.seeding import EpochSeeded
from ast_sb.dataio.sharding import ShardedAudioDataset

__all__ = [
    "RandomCrop",
    "UnlabelledAudioDataset",
    "UnlabelledShardDataset",
    "unlabelled_dataset",
    "unlabelled_shard_dataset",
]


class RandomCrop(EpochSeeded):
    """Crop offsets from a hash of (seed, epoch, clip id).

    Arguments
    ---------
    crop_seconds : float, optional
        Crop length; None keeps whole clips.
    seed : int
        Base seed.
    random : bool
        Random offsets (training); False crops from the segment start.

    Example
    -------
    >>> crop = RandomCrop(1.0, seed=3)
    >>> a = crop.offset("clip", 10.0)
    >>> a == crop.offset("clip", 10.0), 0.0 <= a <= 9.0
    (True, True)
    >>> crop.set_epoch(2)
    >>> crop.offset("clip", 10.0) != a
    True
    >>> crop.offset("short", 0.5)
    0.0
    """

    def __init__(
        self, crop_seconds: Optional[float], seed: int = 0, random: bool = True
    ):
        if crop_seconds is not None and crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be > 0, got {crop_seconds}.")
        self.crop_seconds = crop_seconds
        self.init_seed(seed)
        self.random = random

    def fraction(self, clip_id: str) -> float:
        """Uniform number in [0, 1) from (seed, epoch, clip id).

        Arguments
        ---------
        clip_id : str
            The clip.

        Returns
        -------
        float
            The number.
        """
        return self.clip_hash(clip_id) / 2.0**64

    def offset(self, clip_id: str, seconds: float) -> float:
        """Crop start (seconds) inside a clip of ``seconds``.

        Arguments
        ---------
        clip_id : str
            The clip.
        seconds : float
            Clip (segment) length.

        Returns
        -------
        float
            Offset in [0, seconds - crop_seconds] (0 for short clips).
        """
        if self.crop_seconds is None or not self.random:
            return 0.0
        room = seconds - self.crop_seconds
        return room * self.fraction(clip_id) if room > 0 else 0.0


class UnlabelledAudioDataset(DynamicItemDataset):
    """A ``DynamicItemDataset`` whose crops change with :meth:`set_epoch`."""

    crop: RandomCrop

    def set_epoch(self, epoch: int) -> None:
        """New crop offsets for ``epoch``.

        Arguments
        ---------
        epoch : int
            The epoch.
        """
        self.crop.set_epoch(epoch)


def unlabelled_dataset(
    manifest: str,
    data_folder: str = "",
    sample_rate: int = 16000,
    crop_seconds: Optional[float] = None,
    random_crop: bool = True,
    seed: int = 0,
) -> UnlabelledAudioDataset:
    """Dataset of ``id`` and ``sig`` (a crop of each clip) from a manifest.

    Arguments
    ---------
    manifest : str
        JSON manifest: id -> ``wav`` (``$data_root`` is ``data_folder``),
        ``duration`` and optional ``start`` / ``stop`` (seconds).
    data_folder : str
        Value of ``$data_root``.
    sample_rate : int
        Sampling rate of ``sig``.
    crop_seconds : float, optional
        Longest waveform; None keeps whole segments.
    random_crop : bool
        Random offsets (else from the segment start).
    seed : int
        Base seed of the offsets.

    Returns
    -------
    UnlabelledAudioDataset
        The dataset (output keys ``id``, ``sig``).

    Example
    -------
    >>> import json
    >>> import torch
    >>> from ast_sb.dataio.audio import save_audio
    >>> tmp = getfixture("tmpdir")
    >>> save_audio(tmp / "long.wav", torch.randn(48000) * 0.1, 16000)
    >>> entries = {"a": {"wav": "$data_root/long.wav", "duration": 3.0,
    ...                  "start": 1.0, "stop": 3.0}}
    >>> _ = (tmp / "m.json").write_text(json.dumps(entries), "utf-8")
    >>> data = unlabelled_dataset(str(tmp / "m.json"), str(tmp),
    ...                           crop_seconds=0.5)
    >>> data[0]["id"], data[0]["sig"].shape
    ('a', torch.Size([8000]))
    """
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"Manifest not found: {manifest}")
    data = load_manifest(manifest, {"data_root": data_folder})
    if not data:
        raise DatasetError(f"Manifest {manifest} has no entries")
    for clip_id, entry in data.items():
        for key in ("wav", "duration"):
            if key not in entry:
                raise DatasetError(
                    f"Entry {clip_id!r} of {manifest} has no {key!r}"
                )
        entry.setdefault("start", None)
        entry.setdefault("stop", None)
    dataset = UnlabelledAudioDataset(data)
    crop = RandomCrop(crop_seconds, seed=seed, random=random_crop)
    dataset.crop = crop

    def audio_pipeline(clip_id, wav, duration, start, stop):
        begin = float(start or 0.0)
        end = float(duration) if stop is None else float(stop)
        length = end - begin
        if length <= 0:
            raise DatasetError(
                f"Segment start={start} stop={stop} of {wav} is empty"
            )
        seconds = length
        if crop.crop_seconds is not None:
            seconds = min(length, crop.crop_seconds)
        offset = begin + crop.offset(clip_id, length)
        return load_audio(wav, sample_rate, start=offset, duration=seconds)

    dataset.add_dynamic_item(
        audio_pipeline,
        takes=["id", "wav", "duration", "start", "stop"],
        provides="sig",
    )
    dataset.set_output_keys(["id", "sig"])
    return dataset


class _CropStreamedItem:
    """Transform of streamed items into ``id`` and a crop of ``sig``."""

    def __init__(self, crop: RandomCrop, sample_rate: int):
        self.crop = crop
        self.sample_rate = sample_rate

    def __call__(self, item: Dict[str, Any]) -> Dict[str, Any]:
        sig = item["sig"]
        clip_id = str(item["id"])
        if self.crop.crop_seconds is not None:
            size = int(round(self.crop.crop_seconds * self.sample_rate))
            seconds = len(sig) / self.sample_rate
            start = int(
                round(self.crop.offset(clip_id, seconds) * self.sample_rate)
            )
            sig = sig[start : start + size]
        return {"id": clip_id, "sig": sig}


class UnlabelledShardDataset(ShardedAudioDataset):
    """Shards streamed as ``id`` / ``sig`` crops (see ``ast_sb.dataio.sharding``)."""

    def set_epoch(self, epoch: int) -> None:
        """Reshuffles the shards and changes the crops for ``epoch``.

        Arguments
        ---------
        epoch : int
            The epoch.
        """
        super().set_epoch(epoch)
        self.transform.crop.set_epoch(epoch)


def unlabelled_shard_dataset(
    shards,
    sample_rate: int = 16000,
    crop_seconds: Optional[float] = None,
    epoch_length: Optional[int] = None,
    shuffle_buffer: int = 1000,
    seed: int = 0,
    on_corrupt: str = "raise",
) -> UnlabelledShardDataset:
    """A streamed pretraining set from WebDataset shards.

    Arguments
    ---------
    shards : str or Sequence[str]
        Shard specification (see ``ast_sb.dataio.sharding.expand_shard_spec``).
    sample_rate : int
        Sampling rate of ``sig``.
    crop_seconds : float, optional
        Random crops of at most this length.
    epoch_length : int, optional
        Samples per rank and epoch (default: the index's count divided by
        the world size, which keeps DDP ranks in step).
    shuffle_buffer : int
        Sample shuffle buffer per DataLoader worker.
    seed : int
        Base seed of the shard order, sample shuffle and crops.
    on_corrupt : str
        "raise" (an error naming the sample and shard) or "skip" (a
        warning) for samples that do not decode, hold NaN / inf or are
        shorter than :data:`ast_sb.dataio.audio_checks.MIN_DURATION`, the rule of
        the manifests (:class:`ast_sb.dataio.sharding.ShardedAudioDataset`).

    Returns
    -------
    UnlabelledShardDataset
        Items ``{"id", "sig"}`` (use ``PaddedBatch`` as ``collate_fn``).

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> from ast_sb.dataio.sharding import write_shards
    >>> tmp = getfixture("tmpdir")
    >>> manifest = {}
    >>> for i in range(3):
    ...     path = str(tmp / f"u{i}.wav")
    ...     sf.write(path, np.zeros(16000, dtype="float32"), 16000)
    ...     manifest[f"u{i}"] = {"wav": path, "duration": 1.0}
    >>> _ = write_shards(manifest, tmp / "shards", max_samples_per_shard=2)
    >>> data = unlabelled_shard_dataset(str(tmp / "shards"), crop_seconds=0.25)
    >>> sorted(len(item["sig"]) for item in data)
    [4000, 4000, 4000]
    """
    crop = RandomCrop(crop_seconds, seed=seed, random=True)
    dataset = UnlabelledShardDataset(
        shards,
        sample_rate=sample_rate,
        shuffle=True,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        epoch_length=epoch_length,
        transform=_CropStreamedItem(crop, sample_rate),
        on_error=on_corrupt,
    )
    if epoch_length is None and dataset.num_samples:
        _, world_size = dataset.rank_and_world_size()
        dataset.epoch_length = max(1, dataset.num_samples // world_size)
    return dataset
