"""Dataloader options of the recipes: shuffled, weighted or dynamic batches.

``train_sampler`` ("shuffle", "weighted": manifest ``weight`` values with
replacement like AST's balanced AudioSet sampler, or "dynamic":
length-bucketed batches of at most ``max_batch_length`` seconds) and
``dynamic_batching`` for validation and test; see
:mod:`ast_sb.training.recipe`, which re-exports these names.

Authors
 * ast_sb developers 2026
"""

from typing import (
    Any,
    Dict,
    Mapping,
    Optional,
    Sequence,
)

import numpy as np
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import DynamicBatchSampler

from ast_sb.dataio.datasets import (
    DatasetError,
)

__all__ = [
    "TRAIN_SAMPLERS",
    "dataloader_options",
    "length_quantiles",
]


TRAIN_SAMPLERS = ("shuffle", "weighted", "dynamic")


def _clip_seconds(entry: Mapping[str, Any]) -> float:
    """Duration of a manifest entry's segment (``start`` / ``stop``)."""
    duration = float(entry["duration"])
    start, stop = entry.get("start"), entry.get("stop")
    if stop is not None:
        duration = min(duration, float(stop))
    return duration - float(start or 0.0)


def length_quantiles(lengths: Sequence[float], num_buckets: int) -> list:
    """Bucket boundaries at the quantiles of the clips' own lengths.

    SpeechBrain's ``DynamicBatchSampler`` spaces ``num_buckets`` boundaries
    up to ``max_batch_length`` (e.g. 240 s), so short utterances all fall
    into its first bucket and batches mix 1 s and 10 s clips; boundaries at
    the length quantiles give buckets of equal size and similar lengths.

    Arguments
    ---------
    lengths : Sequence[float]
        Clip lengths (seconds).
    num_buckets : int
        Number of buckets (>= 1).

    Returns
    -------
    list of float
        Increasing upper bucket boundaries; the last is the longest clip.

    Example
    -------
    >>> length_quantiles([1.0, 2.0, 3.0, 4.0, 10.0], 2)
    [3.0, 10.0]
    >>> length_quantiles([2.0, 2.0, 2.0], 4)
    [2.0]
    """
    if num_buckets < 1:
        raise ValueError(f"num_buckets must be >= 1: {num_buckets}")
    if not lengths:
        raise ValueError("No clip lengths to bucket")
    quantiles = np.linspace(0.0, 1.0, num_buckets + 1)[1:]
    edges = np.quantile(np.asarray(lengths, dtype=np.float64), quantiles)
    return sorted({float(edge) for edge in edges})


def _dynamic_sampler(
    dataset, hparams: Mapping[str, Any], shuffle: bool, crop: Optional[float]
):
    """Length-bucketed batches of at most ``max_batch_length`` seconds.

    Under DDP the batches are split between the processes.
    """
    max_length = hparams.get("max_batch_length")
    if not max_length or max_length <= 0:
        raise ValueError(
            f"Dynamic batching needs max_batch_length > 0 (seconds of audio "
            f"per batch), got {max_length!r}"
        )
    lengths = {}
    for key, entry in dataset.data.items():
        if "duration" not in entry:
            raise DatasetError(
                f"Dynamic batching needs a 'duration' for every clip; "
                f"{key!r} has none."
            )
        seconds = _clip_seconds(entry)
        lengths[key] = seconds if crop is None else min(seconds, float(crop))
    longest_key = max(lengths, key=lengths.get)
    if lengths[longest_key] > max_length:
        raise ValueError(
            f"max_batch_length={max_length} s is shorter than clip "
            f"{longest_key!r} ({lengths[longest_key]:.1f} s); raise it or "
            f"crop the clips"
        )
    sampler = DynamicBatchSampler(
        dataset,
        max_batch_length=float(max_length),
        bucket_boundaries=length_quantiles(
            list(lengths.values()), int(hparams.get("num_buckets", 20))
        ),
        lengths_list=[lengths[key] for key in dataset.data_ids],
        shuffle=shuffle,
        batch_ordering="random" if shuffle else "descending",
        max_batch_ex=hparams.get("max_batch_ex"),
    )
    if shuffle and torch.distributed.is_initialized():
        from speechbrain.dataio.sampler import DistributedSamplerWrapper

        sampler = DistributedSamplerWrapper(sampler, shuffle=True)
    return sampler


def _weighted_sampler(dataset, hparams: Mapping[str, Any]):
    """Sampling with replacement by the manifests' ``weight`` values."""
    from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler

    weights = []
    for key, entry in dataset.data.items():
        if "weight" not in entry:
            raise DatasetError(
                f"train_sampler 'weighted' needs a 'weight' for every clip "
                f"of the training manifest; {key!r} has none."
            )
        weights.append(float(entry["weight"]))
    num_samples = hparams.get("samples_per_epoch") or len(weights)
    return ReproducibleWeightedRandomSampler(
        weights,
        num_samples=int(num_samples),
        replacement=True,
        seed=int(hparams.get("seed", 0)),
    )


def dataloader_options(
    hparams: Mapping[str, Any], datasets: Mapping[str, Any]
) -> Dict[str, Dict[str, Any]]:
    """The DataLoader options of each split, with the configured sampler.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters: ``<split>_dataloader_opts`` and the batching keys
        of the module docstring.
    datasets : Mapping
        Split name -> dataset.

    Returns
    -------
    dict
        Split name -> DataLoader keyword arguments.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> data = DynamicItemDataset(
    ...     {f"u{i}": {"duration": 1.0 + i, "weight": 1.0} for i in range(6)}
    ... )
    >>> hparams = {"train_dataloader_opts": {"batch_size": 2},
    ...            "train_sampler": "weighted", "samples_per_epoch": 4}
    >>> opts = dataloader_options(hparams, {"train": data})
    >>> len(opts["train"]["sampler"])
    4
    >>> hparams = {"train_sampler": "dynamic", "max_batch_length": 6.0,
    ...            "num_buckets": 2, "dynamic_batching": True}
    >>> opts = dataloader_options(hparams, {"train": data, "test": data})
    >>> sorted(opts["test"]), sum(len(b) for b in opts["test"]["batch_sampler"])
    (['batch_sampler'], 6)
    """
    options: Dict[str, Dict[str, Any]] = {}
    sampler = hparams.get("train_sampler") or "shuffle"
    if sampler not in TRAIN_SAMPLERS:
        raise ValueError(
            f"train_sampler must be one of {TRAIN_SAMPLERS}: {sampler!r}"
        )
    for split, dataset in datasets.items():
        opts = dict(hparams.get(f"{split}_dataloader_opts") or {})
        is_train = split == "train"
        dynamic = (is_train and sampler == "dynamic") or (
            not is_train and bool(hparams.get("dynamic_batching", False))
        )
        if isinstance(dataset, torch.utils.data.IterableDataset):
            # streamed data: the stream shuffles; SpeechBrain only defaults
            # to PaddedBatch for DynamicItemDatasets
            opts.pop("shuffle", None)
            opts.setdefault("collate_fn", PaddedBatch)
        elif dynamic:
            for key in ("batch_size", "shuffle", "sampler", "drop_last"):
                opts.pop(key, None)
            crop = hparams.get(
                "train_crop_seconds" if is_train else "eval_crop_seconds"
            )
            opts["batch_sampler"] = _dynamic_sampler(
                dataset, hparams, shuffle=is_train, crop=crop
            )
        elif is_train and sampler == "weighted":
            opts.pop("shuffle", None)
            opts["sampler"] = _weighted_sampler(dataset, hparams)
        options[split] = opts
    return options
