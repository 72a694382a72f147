"""WebDataset-format tar shards for streaming large audio datasets.

Full AudioSet (about 2 million 10-s clips) is slow to read as single files
from network storage. :func:`write_shards` packs a manifest (see
``ast_sb.dataio.manifests``) into tar shards in the WebDataset layout: each
sample is a group of consecutive members sharing a key,
``<key>.wav`` (or ``.flac``) with the audio bytes and ``<key>.json`` with
the manifest entry (labels, duration, weight, ..., plus the original
``id``), written with ``webdataset.ShardWriter``. A ``shards.json`` index
lists the shards and their sample counts. Writing lives in
:mod:`ast_sb.dataio.shard_writing` (re-exported here).

:class:`ShardedAudioDataset` streams the shards back as an
``IterableDataset``: the shard list is shuffled per epoch (same order on
every process), split across DDP ranks and DataLoader workers, read
sequentially with ``webdataset.tarfile_samples``, mixed through
``webdataset.shuffle`` (seeded per epoch and reader), decoded with soundfile,
downmixed to mono and resampled. With ``epoch_length`` every rank yields
the same number of samples per epoch (cycling over its shards), which keeps
DDP ranks in step.

Authors
 * ast_sb developers 2026
"""

import glob
import io
import itertools
import json
import logging
import math
import os
import random
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import soundfile as sf
import torch
import webdataset
from braceexpand import braceexpand
from torch.utils.data import IterableDataset, get_worker_info

from ast_sb.dataio.seeding import EpochSeeded
from ast_sb.dataio.shard_writing import INDEX_NAME, write_shards

__all__ = [
    "EncodeClassificationItem",
    "ShardedAudioDataset",
    "WeightedShardedAudioDataset",
    "expand_shard_spec",
    "iterate_tar_samples",
    "read_shard_index",
    "sharded_classification_dataset",
    "write_shards",
]

logger = logging.getLogger(__name__)


def expand_shard_spec(
    spec: Union[str, "os.PathLike[str]", Sequence[str]],
) -> Tuple[List[str], Optional[int]]:
    """Resolves a shard specification into a sorted list of tar paths.

    Arguments
    ---------
    spec : str, os.PathLike or Sequence[str]
        One of: a ``shards.json`` index, a folder (its index if present,
        else its ``*.tar`` files), a brace pattern such as
        ``/data/shard-{000000..000099}.tar``, a glob pattern, a single tar,
        or a list of tar paths.

    Returns
    -------
    shards : List[str]
        Shard paths.
    num_samples : int or None
        Total number of samples if an index was read.

    Example
    -------
    >>> expand_shard_spec("/d/s-{08..11}.tar")
    (['/d/s-08.tar', '/d/s-09.tar', '/d/s-10.tar', '/d/s-11.tar'], None)
    """
    if not isinstance(spec, (str, os.PathLike)):
        return [os.fspath(s) for s in spec], None
    spec = os.fspath(spec)
    if os.path.isdir(spec) and os.path.isfile(os.path.join(spec, INDEX_NAME)):
        spec = os.path.join(spec, INDEX_NAME)
    if spec.endswith(".json"):
        with open(spec, encoding="utf-8") as f:
            index = json.load(f)
        folder = os.path.dirname(spec)
        shards = [os.path.join(folder, s["path"]) for s in index["shards"]]
        return shards, index.get("num_samples")
    if os.path.isdir(spec):
        return sorted(str(p) for p in Path(spec).glob("*.tar")), None
    if "{" in spec:
        return list(braceexpand(spec)), None
    if any(c in spec for c in "*?["):
        return sorted(glob.glob(spec)), None
    return [spec], None


def iterate_tar_samples(path: str) -> Iterator[Dict[str, bytes]]:
    """Yields the samples of a WebDataset tar as ``{ext: bytes}`` dicts.

    Members are grouped by key (file name up to the first dot), which must
    be consecutive, by ``webdataset.tarfile_samples``. Each dict also has
    ``__key__``.

    Arguments
    ---------
    path : str
        Tar shard.

    Yields
    ------
    Dict[str, bytes]
        e.g. ``{"__key__": "Y1", "wav": b"...", "json": b"..."}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "a.wav"), np.zeros(160, dtype="float32"), 16000)
    >>> shards = write_shards({"a": {"wav": str(tmp / "a.wav")}}, tmp / "s")
    >>> sorted(next(iterate_tar_samples(shards[0])))
    ['__key__', 'json', 'wav']
    """
    for sample in webdataset.tarfile_samples([{"url": os.fspath(path)}]):
        yield {
            k: v
            for k, v in sample.items()
            if k == "__key__" or not k.startswith("__")
        }


def _check_audio(
    data: np.ndarray, rate: int, min_duration: float, where: str
) -> None:
    """The rule of the manifests (:func:`ast_sb.dataio.audio_checks.check_audio_file`):
    finite samples, at least ``min_duration`` seconds."""
    from ast_sb.dataio.datasets import DatasetError

    finite = np.isfinite(data).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise DatasetError(
            f"{where} contains NaN or inf samples (first at "
            f"{first / rate:.4f} s)"
        )
    if data.shape[0] < min_duration * rate:
        raise DatasetError(
            f"{where} is {data.shape[0] / rate:.4f} s long, shorter than "
            f"min_duration={min_duration} s"
        )


class _Passes:
    """Samples read and decoded per pass over a reader's shards.

    A reader cycling over shards whose samples all fail to decode would
    skip forever; once every sample read in a pass is decoded or skipped
    and none gave an item, :meth:`done` raises instead.
    """

    def __init__(self, shards: Sequence[str]):
        self.shards = shards
        self.reading = 0  # the pass the shard reader is in
        self.read: Dict[int, int] = {}
        self.tried: Dict[int, int] = {}
        self.good: Dict[int, int] = {}
        self.skipped = 0

    def error(self, what: str):
        from ast_sb.dataio.datasets import DatasetError

        names = ", ".join(self.shards[:3])
        more = (
            f" and {len(self.shards) - 3} more" if len(self.shards) > 3 else ""
        )
        return DatasetError(
            f"A whole pass over the shards {names}{more} gave no usable "
            f"sample ({what}); every sample failed to decode or was "
            "skipped: nothing to train on"
        )

    def start(self, cycle: int) -> None:
        """The shard reader begins pass ``cycle`` (``math.inf``: ended)."""
        self.reading = cycle

    def count(self, samples: Iterator[Dict[str, Any]]):
        """Tags each raw sample with the pass it was read in."""
        for sample in samples:
            sample["__pass__"] = self.reading
            self.read[self.reading] = self.read.get(self.reading, 0) + 1
            yield sample

    def done(self, sample: Dict[str, Any], ok: bool) -> None:
        """One sample decoded (``ok``) or skipped; raises after a dead pass."""
        number = sample["__pass__"]
        self.tried[number] = self.tried.get(number, 0) + 1
        self.good[number] = self.good.get(number, 0) + int(ok)
        self.skipped += int(not ok)
        self.check()

    def check(self) -> None:
        """Raises if a finished pass gave no item; forgets finished passes."""
        for number in [n for n in self.tried if n < self.reading]:
            if self.tried[number] < self.read.get(number, 0):
                continue
            if not self.good[number]:
                raise self.error(f"{self.skipped} skipped")
            del self.tried[number], self.good[number], self.read[number]


class ShardedAudioDataset(IterableDataset):
    """Streams WebDataset tar shards written by :func:`write_shards`.

    Each item is the sample's JSON metadata (``id``, ``labels`` / ``label``,
    ``duration``, ...) plus ``sig``, the mono float32 waveform ``[N]`` at
    ``sample_rate`` (the raw bytes under the audio extension when
    ``decode=False``). Items work with SpeechBrain's ``PaddedBatch``.

    Work splitting: at each epoch the shard list is shuffled with
    ``seed + epoch`` (identically on every process); consumer
    ``rank * num_workers + worker_id`` then reads every
    ``world_size * num_workers``-th shard. With fewer shards than consumers
    every consumer reads all shards and keeps every n-th sample (correct
    but slower: write more shards). Call :meth:`set_epoch` before each
    epoch (with non-persistent DataLoader workers) to reshuffle.
    Without ``epoch_length`` the ranks may get different numbers of
    samples, which can stall DDP training; set ``epoch_length`` (e.g.
    ``num_samples // world_size``) for DDP.

    Arguments
    ---------
    shards : str, os.PathLike or Sequence[str]
        Shard specification (see :func:`expand_shard_spec`).
    sample_rate : int, optional
        Target sampling rate; None keeps each file's rate.
    shuffle : bool
        Shuffle shard order and samples (shuffle buffer).
    shuffle_buffer : int
        Size of the sample shuffle buffer (per worker).
    seed : int
        Base seed.
    epoch_length : int, optional
        Number of samples each rank yields per epoch (cycling over its
        shards as needed); keeps DDP ranks in step and gives ``len()``.
        None: each shard is read once per epoch.
    rank : int, optional
        Process rank; default from torch.distributed or ``RANK``.
    world_size : int, optional
        Number of processes; default from torch.distributed or
        ``WORLD_SIZE``.
    decode : bool
        Decode the audio into ``sig``.
    transform : Callable[[dict], dict], optional
        Applied to every item (e.g. label encoding).
    on_error : str
        "raise" or "skip" (log a warning) for undecodable samples, NaN or
        inf samples and clips shorter than ``min_duration`` (the rule of
        the manifests). With "skip", a whole pass over the shards that
        gives no item raises a ``DatasetError`` (instead of cycling
        forever).
    min_duration : float
        Shortest clip accepted (seconds), default
        :data:`ast_sb.dataio.audio_checks.MIN_DURATION` (one fbank frame).

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> manifest = {}
    >>> for i in range(6):
    ...     path = str(tmp / f"c{i}.wav")
    ...     sf.write(path, np.zeros(800 * (i + 1), dtype="float32"), 16000)
    ...     manifest[f"c{i}"] = {"wav": path, "labels": ["x"], "duration": 0.0}
    >>> _ = write_shards(manifest, tmp / "sh", max_samples_per_shard=2)
    >>> data = ShardedAudioDataset(tmp / "sh", rank=0, world_size=1)
    >>> items = list(data)
    >>> sorted(item["id"] for item in items)
    ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']
    >>> sorted(item["sig"].shape[0] for item in items)
    [800, 1600, 2400, 3200, 4000, 4800]
    >>> rank1 = ShardedAudioDataset(tmp / "sh", rank=1, world_size=2)
    >>> len(list(rank1))  # 3 shards of 2 samples, rank 1 gets one shard
    2
    """

    def __init__(
        self,
        shards: Union[str, "os.PathLike[str]", Sequence[str]],
        sample_rate: Optional[int] = 16000,
        shuffle: bool = True,
        shuffle_buffer: int = 1000,
        seed: int = 1234,
        epoch_length: Optional[int] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        decode: bool = True,
        transform: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None,
        on_error: str = "raise",
        min_duration: Optional[float] = None,
    ):
        super().__init__()
        self.shards, self.num_samples = expand_shard_spec(shards)
        if not self.shards:
            raise ValueError(f"No shard found for {shards!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip': {on_error}")
        if epoch_length is not None and epoch_length < 1:
            raise ValueError("epoch_length must be >= 1")
        self.sample_rate = sample_rate
        self.shuffle = shuffle
        self.shuffle_buffer = max(1, shuffle_buffer)
        self.seed = seed
        self.epoch_length = epoch_length
        self._rank, self._world_size = rank, world_size
        self.decode = decode
        self.transform = transform
        self.on_error = on_error
        if min_duration is None:
            from ast_sb.dataio.audio_checks import MIN_DURATION

            min_duration = MIN_DURATION
        self.min_duration = float(min_duration)
        self.epoch = 0

    def set_epoch(self, epoch: int):
        """Sets the epoch, which seeds the shard and sample shuffles.

        Arguments
        ---------
        epoch : int
            Epoch number.
        """
        self.epoch = int(epoch)
        if hasattr(self.transform, "set_epoch"):  # seeded crops
            self.transform.set_epoch(self.epoch)

    def rank_and_world_size(self) -> Tuple[int, int]:
        """Returns (rank, world size) of this process.

        Returns
        -------
        Tuple[int, int]
            From the constructor arguments, else torch.distributed, else the
            RANK / WORLD_SIZE environment variables, else (0, 1).
        """
        rank, world_size = self._rank, self._world_size
        if rank is None or world_size is None:
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized():
                auto_rank, auto_world = dist.get_rank(), dist.get_world_size()
            else:
                auto_rank = int(os.environ.get("RANK", 0))
                auto_world = int(os.environ.get("WORLD_SIZE", 1))
            rank = auto_rank if rank is None else rank
            world_size = auto_world if world_size is None else world_size
        if not 0 <= rank < world_size:
            raise ValueError(f"Bad rank {rank} for world size {world_size}")
        return rank, world_size

    def __len__(self) -> int:
        """Samples per rank and epoch; known only with ``epoch_length``."""
        if self.epoch_length is None:
            raise TypeError(
                "ShardedAudioDataset has no length without epoch_length"
            )
        return self.epoch_length

    def _consumer(self) -> Tuple[int, int, int]:
        """Returns (consumer id, number of consumers, worker count)."""
        rank, world_size = self.rank_and_world_size()
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        return rank * n_workers + worker, world_size * n_workers, n_workers

    def _shard_urls(
        self,
        consumer: int,
        n_consumers: int,
        cycles: bool,
        passes: Optional[_Passes] = None,
    ):
        """This consumer's shards, as ``{"url": path}``, cycled if asked.

        The shard list is permuted with ``(seed, epoch, cycle)``, the same
        on every process, and consumer ``c`` takes every
        ``n_consumers``-th shard from position ``c`` (node then worker
        split in one slice, from the explicit or detected rank).
        """
        cycle = 0
        while True:
            if passes is not None:
                passes.start(cycle)
            shards = list(self.shards)
            if self.shuffle:
                seed = f"{self.seed}-{self.epoch}-{cycle}"
                random.Random(seed).shuffle(shards)
            if len(shards) >= n_consumers:
                shards = shards[consumer::n_consumers]
            for shard in shards:
                yield {"url": shard}
            if not cycles:
                if passes is not None:
                    passes.start(math.inf)
                return
            cycle += 1

    def _raw_samples(
        self,
        consumer: int,
        n_consumers: int,
        cycles: bool,
        passes: Optional[_Passes] = None,
    ):
        """Raw samples (``{ext: bytes}``) of this consumer's shards."""
        handler = (
            webdataset.reraise_exception
            if self.on_error == "raise"
            else webdataset.warn_and_continue
        )
        urls = self._shard_urls(consumer, n_consumers, cycles, passes)
        samples = webdataset.tarfile_samples(urls, handler=handler)
        if len(self.shards) >= n_consumers:
            return samples
        if consumer == 0:
            logger.warning(
                "%d shards for %d readers: every reader reads every "
                "shard; write more shards",
                len(self.shards),
                n_consumers,
            )
        return itertools.islice(samples, consumer, None, n_consumers)

    def _decode(self, sample: Dict[str, bytes]) -> Dict[str, Any]:
        """Builds the item (metadata + waveform) of a raw sample."""
        item: Dict[str, Any] = {}
        if "json" in sample:
            item.update(json.loads(sample["json"].decode("utf-8")))
        item.setdefault("id", sample["__key__"])
        audio_ext = next(
            (e for e in ("wav", "flac", "ogg", "mp3") if e in sample), None
        )
        if audio_ext is None:
            raise ValueError(f"Sample {item['id']} has no audio member")
        if not self.decode:
            item[audio_ext] = sample[audio_ext]
            return item
        data, rate = sf.read(
            io.BytesIO(sample[audio_ext]), dtype="float32", always_2d=True
        )
        if data.shape[0] == 0:
            raise ValueError(f"Sample {item['id']} has no audio samples")
        where = f"Sample {item['id']} of {sample.get('__url__', 'a shard')}"
        _check_audio(data, rate, self.min_duration, where)
        sig = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
        if self.sample_rate is not None and rate != self.sample_rate:
            import torchaudio

            sig = torchaudio.functional.resample(sig, rate, self.sample_rate)
        item["sig"] = sig
        return item

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        consumer, n_consumers, n_workers = self._consumer()
        limit = None
        if self.epoch_length is not None:
            worker = consumer % n_workers
            limit = self.epoch_length // n_workers
            limit += int(worker < self.epoch_length % n_workers)
            if limit == 0:
                return
        passes = _Passes(self.shards)
        samples = passes.count(
            self._raw_samples(consumer, n_consumers, limit is not None, passes)
        )
        if self.shuffle and self.shuffle_buffer > 1:
            rng = random.Random(f"{self.seed}-{self.epoch}-{consumer}")
            samples = webdataset.shuffle(
                self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng
            )(samples)
        produced = 0
        for sample in samples:
            try:
                item = self._decode(sample)
            except Exception as err:
                where = f"sample {sample['__key__']} of {sample['__url__']}"
                if self.on_error == "raise":
                    logger.error("Cannot read %s: %s", where, err)
                    raise
                logger.warning("Skipping %s: %s", where, err)
                passes.done(sample, ok=False)
                continue
            passes.done(sample, ok=True)
            if self.transform is not None:
                item = self.transform(item)
            yield item
            produced += 1
            if limit is not None and produced >= limit:
                return
        passes.check()

    def estimated_num_batches(self, batch_size: int) -> Optional[int]:
        """Batches per rank and epoch, if the length is known.

        Arguments
        ---------
        batch_size : int
            Batch size of the DataLoader.

        Returns
        -------
        int or None
            ``ceil(epoch_length / batch_size)`` (per worker remainder
            ignored), or an estimate from the index, or None.
        """
        if self.epoch_length is not None:
            return math.ceil(self.epoch_length / batch_size)
        if self.num_samples is not None:
            _, world_size = self.rank_and_world_size()
            return math.ceil(self.num_samples / world_size / batch_size)
        return None


def read_shard_index(
    spec: Union[str, "os.PathLike[str]", Sequence[str]],
) -> Optional[Dict[str, Any]]:
    """Returns the ``shards.json`` index of a shard specification, if any.

    Arguments
    ---------
    spec : str, os.PathLike or Sequence[str]
        Shard specification (see :func:`expand_shard_spec`).

    Returns
    -------
    dict or None
        The index (``num_samples``, ``shards``, ``weight_sum`` when the
        manifest had weights) of a folder or ``.json`` spec, else None.

    Example
    -------
    >>> read_shard_index("/d/s-{08..11}.tar") is None
    True
    """
    if not isinstance(spec, (str, os.PathLike)):
        return None
    path = os.fspath(spec)
    if os.path.isdir(path):
        path = os.path.join(path, INDEX_NAME)
    if not (path.endswith(".json") and os.path.isfile(path)):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class WeightedShardedAudioDataset(ShardedAudioDataset):
    """Streams shards drawing each sample in proportion to its ``weight``.

    The streaming counterpart of a weighted random sampler with replacement
    (the balanced sampling of the original AST AudioSet recipe): each sample
    read from the shards is yielded ``k ~ Poisson(weight / mean_weight)``
    times, before the shuffle buffer, which is the number of times
    ``num_samples`` draws with replacement pick it (Poisson limit). Copies
    of a heavily weighted clip stay within a shuffle buffer of each other:
    use a large ``shuffle_buffer``. Samples must carry a ``weight`` in their
    JSON metadata (``write_shards`` of a manifest with weights).

    Arguments
    ---------
    shards : str, os.PathLike or Sequence[str]
        Shard specification (see :func:`expand_shard_spec`).
    mean_weight : float, optional
        Mean sample weight; default ``weight_sum / num_samples`` of the
        shard index written by :func:`write_shards`.
    **kwargs
        Arguments of :class:`ShardedAudioDataset`.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> manifest = {}
    >>> for i in range(4):
    ...     path = str(tmp / f"w{i}.wav")
    ...     sf.write(path, np.zeros(800, dtype="float32"), 16000)
    ...     manifest[f"w{i}"] = {"wav": path, "weight": [0.0, 0.0, 1.0, 3.0][i]}
    >>> _ = write_shards(manifest, tmp / "ws", max_samples_per_shard=2)
    >>> data = WeightedShardedAudioDataset(
    ...     tmp / "ws", epoch_length=400, rank=0, world_size=1
    ... )
    >>> data.mean_weight
    1.0
    >>> ids = [item["id"] for item in data]
    >>> sorted(set(ids)), 0.6 < ids.count("w3") / len(ids) < 0.9
    (['w2', 'w3'], True)
    """

    def __init__(
        self,
        shards: Union[str, "os.PathLike[str]", Sequence[str]],
        mean_weight: Optional[float] = None,
        **kwargs: Any,
    ):
        super().__init__(shards, **kwargs)
        if mean_weight is None:
            index = read_shard_index(shards) or {}
            if "weight_sum" not in index or not index.get("num_samples"):
                raise ValueError(
                    f"Weighted streaming needs mean_weight or a shard index "
                    f"with 'weight_sum' (write_shards of a manifest whose "
                    f"entries all have a 'weight'); {shards!r} has none"
                )
            mean_weight = index["weight_sum"] / index["num_samples"]
        if not mean_weight > 0:
            raise ValueError(f"mean_weight must be > 0, got {mean_weight}")
        self.mean_weight = float(mean_weight)

    def _raw_samples(
        self,
        consumer: int,
        n_consumers: int,
        cycles: bool,
        passes: Optional[_Passes] = None,
    ):
        """Raw samples, each repeated a Poisson number of times."""
        rng = np.random.default_rng([self.seed, self.epoch, consumer])
        raw = super()._raw_samples(consumer, n_consumers, cycles, passes)
        for sample in raw:
            meta = json.loads(sample["json"]) if "json" in sample else {}
            if "weight" not in meta:
                raise ValueError(
                    f"Sample {sample['__key__']} has no 'weight' in its "
                    f"metadata; weighted streaming needs one per sample"
                )
            for _ in range(
                rng.poisson(float(meta["weight"]) / self.mean_weight)
            ):
                yield sample


class EncodeClassificationItem(EpochSeeded):
    """Transform of streamed items into ``id``, ``sig`` and encoded labels.

    Gives the same items as the manifest datasets of
    :func:`ast_sb.dataio.datasets.prepare_classification_datasets`, so that
    SpeechBrain's ``PaddedBatch`` and the Brain see the same batch keys.

    Arguments
    ---------
    label_encoder : CategoricalEncoder
        The recipe's label encoder.
    multi_label : bool
        True: float multi-hot ``[C]`` of ``labels``; False: ``LongTensor
        [1]`` of ``label``.
    label_key : str
        Name of the encoded label item.
    crop_samples : int, optional
        Longest waveform; longer ones are cropped at a random offset, a
        hash of (``seed``, epoch, clip id) as the manifests' crops
        (:mod:`ast_sb.dataio.seeding`), so a resumed run crops as the
        uninterrupted one; :meth:`set_epoch` (called through the dataset's)
        changes them.
    seed : int
        Seed of the crop offsets.

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> enc = CategoricalEncoder()
    >>> enc.update_from_iterable(["a", "b", "c"])
    >>> encode = EncodeClassificationItem(enc, crop_samples=4)
    >>> item = encode({"id": "x", "labels": ["c", "a"], "sig": torch.ones(9)})
    >>> sorted(item), item["label_encoded"], item["sig"].shape
    (['id', 'label_encoded', 'sig'], tensor([1., 0., 1.]), torch.Size([4]))
    """

    def __init__(
        self,
        label_encoder,
        multi_label: bool = True,
        label_key: str = "label_encoded",
        crop_samples: Optional[int] = None,
        seed: int = 0,
    ):
        self.init_seed(seed)
        self.label_encoder = label_encoder
        self.multi_label = multi_label
        self.label_key = label_key
        self.crop_samples = crop_samples

    def __call__(self, item: Dict[str, Any]) -> Dict[str, Any]:
        """Encodes one item.

        Arguments
        ---------
        item : dict
            Item of :class:`ShardedAudioDataset` (metadata and ``sig``).

        Returns
        -------
        dict
            ``{"id", "sig", label_key}``.
        """
        from ast_sb.dataio.datasets import DatasetError, entry_labels, multi_hot

        utt_id = str(item["id"])
        labels = entry_labels(item, self.multi_label, utt_id)
        unknown = [x for x in labels if x not in self.label_encoder.lab2ind]
        if unknown:
            raise DatasetError(
                f"Sample {utt_id!r} of the shards has label(s) {unknown} "
                f"unknown to the label encoder ({len(self.label_encoder)} "
                f"classes)"
            )
        if self.multi_label:
            target = multi_hot(labels, self.label_encoder)
        else:
            target = self.label_encoder.encode_label_torch(labels[0])
        sig = item["sig"]
        excess = (
            0 if self.crop_samples is None else len(sig) - self.crop_samples
        )
        if excess > 0:
            start = self.clip_hash(utt_id) % (excess + 1)
            sig = sig[start : start + self.crop_samples]
        return {"id": utt_id, "sig": sig, self.label_key: target}


def sharded_classification_dataset(
    shards: Union[str, "os.PathLike[str]", Sequence[str]],
    label_encoder,
    multi_label: bool = True,
    label_key: str = "label_encoded",
    sample_rate: int = 16000,
    crop_seconds: Optional[float] = None,
    weighted: bool = False,
    epoch_length: Optional[int] = None,
    shuffle_buffer: int = 1000,
    seed: int = 1234,
    on_error: str = "skip",
) -> ShardedAudioDataset:
    """A training set streamed from shards, with batch keys like a manifest's.

    Items are ``{"id", "sig", label_key}`` (see
    :class:`EncodeClassificationItem`), ready for SpeechBrain's
    ``PaddedBatch`` (give ``collate_fn`` explicitly: SpeechBrain only
    defaults to it for ``DynamicItemDataset``).

    Arguments
    ---------
    shards : str, os.PathLike or Sequence[str]
        Shard specification (see :func:`expand_shard_spec`).
    label_encoder : CategoricalEncoder
        The label encoder (e.g. from ``ast_sb.training.recipe.build_datasets``).
    multi_label : bool
        Multi-hot ``labels`` (True) or one ``label`` index (False).
    label_key : str
        Name of the encoded label item.
    sample_rate : int
        Sampling rate of ``sig``.
    crop_seconds : float, optional
        Random crops of at most this length.
    weighted : bool
        Draw samples in proportion to their ``weight``
        (:class:`WeightedShardedAudioDataset`).
    epoch_length : int, optional
        Samples per rank and epoch. None: ``num_samples // world_size``
        from the shard index when there is one (keeps DDP ranks in step),
        else one pass over the shards.
    shuffle_buffer : int
        Sample shuffle buffer per DataLoader worker.
    seed : int
        Base seed of the shard and sample shuffles.
    on_error : str
        "skip" (log) or "raise" for undecodable samples.

    Returns
    -------
    ShardedAudioDataset
        The streaming dataset (``set_epoch`` reshuffles it).

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> tmp = getfixture("tmpdir")
    >>> manifest = {}
    >>> for i in range(4):
    ...     path = str(tmp / f"e{i}.wav")
    ...     sf.write(path, np.zeros(800 * (i + 1), dtype="float32"), 16000)
    ...     manifest[f"e{i}"] = {"wav": path, "labels": ["ab"[i % 2]]}
    >>> _ = write_shards(manifest, tmp / "es", max_samples_per_shard=2)
    >>> enc = CategoricalEncoder()
    >>> enc.update_from_iterable(["a", "b"])
    >>> data = sharded_classification_dataset(tmp / "es", enc)
    >>> len(data)  # num_samples // world size
    4
    >>> batch = PaddedBatch(list(data))
    >>> batch.sig.data.shape, batch.label_encoded.data.shape
    (torch.Size([4, 3200]), torch.Size([4, 2]))
    """
    crop = None
    if crop_seconds is not None:
        crop = int(round(float(crop_seconds) * sample_rate))
    options = dict(
        sample_rate=sample_rate,
        shuffle=True,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        epoch_length=epoch_length,
        transform=EncodeClassificationItem(
            label_encoder, multi_label, label_key, crop, seed
        ),
        on_error=on_error,
    )
    if weighted:
        dataset: ShardedAudioDataset = WeightedShardedAudioDataset(
            shards, **options
        )
    else:
        dataset = ShardedAudioDataset(shards, **options)
    if epoch_length is None and dataset.num_samples:
        _, world_size = dataset.rank_and_world_size()
        dataset.epoch_length = max(1, dataset.num_samples // world_size)
    return dataset
