"""The shared steps of every ``ast_sb`` classification recipe.

A recipe's ``train.py`` only runs its data preparation; everything else is
here, so that ESC-50, AudioSet, speech emotion, music genre and custom-data
recipes train, test and export in exactly the same way:

.. code-block:: python

    hparams, run_opts = setup_experiment(sys.argv[1:])
    manifests = prepare_on_main(prepare_my_data, hparams, ("data_folder", ...))
    datasets = build_datasets(hparams, manifests)
    train_and_evaluate(hparams, run_opts, datasets)

Hyperparameters read here, besides those of
:class:`ast_sb.brain.AudioSpectrogramTransformerBrain`:

* data: ``data_folder`` (``$data_root`` of the manifests unless the
  manifests give ``data_root``), ``label_encoder_file``, ``multi_label``,
  ``sample_rate``, ``label_key``, ``train_crop_seconds``,
  ``eval_crop_seconds`` (random training crops are seeded by ``seed``,
  the epoch and the clip id), ``n_classes`` (checked against the data),
  ``on_corrupt`` ("raise" or "skip": clips that do not decode, hold NaN /
  inf samples or are shorter than ``min_duration`` seconds, default
  0.025, when they are loaded in training or evaluation);
* ``waveform_mixup`` (probability, default 0) and ``waveform_mixup_alpha``:
  the original AST's mixup of waveforms with partners from the whole
  training set (:func:`with_waveform_mixup`), beside the in-batch ``mixup``;
* batching: ``train_sampler`` ("shuffle", "weighted": manifest ``weight``
  values with replacement like AST's balanced AudioSet sampler, or
  "dynamic": length-bucketed batches of at most ``max_batch_length``
  seconds), ``samples_per_epoch`` (weighted), ``dynamic_batching`` (bool:
  length-sorted batches of ``max_batch_length`` seconds for validation and
  test too), ``num_buckets``; ``train/valid/test_dataloader_opts``;
* ``pretrained_path`` (optional: a local checkpoint, a Hugging Face id, a
  release URL, a timm name or an alias, see :mod:`ast_sb.hub`),
  ``pretrained_revision``, ``pretrained_sha256``, ``keep_pretrained_head``
  (default False: a fresh head, as the original AST fine-tuning; True keeps
  a checkpoint head with the same classes), ``eval_checkpoint``
  ("best" or "last"), ``test_results_file`` (JSON: the test metrics and
  what was tested, ``eval_checkpoint`` "best"/"last" with its
  ``eval_epoch``, or "average of epochs 131-150" with ``averaged_epochs``
  under ``average_last_n_epochs``), ``test_predictions_file``
  (optional: per-clip test scores, JSON id -> list), ``export_folder``,
  ``output_folder``, ``plots`` (bool, default True).

Authors
 * ast_sb developers 2026
"""

import json
import logging
import os
import re
import shutil
import sys
from typing import (
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

import numpy as np
import speechbrain as sb
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import if_main_process, run_on_main

from ast_sb.brain import AudioSpectrogramTransformerBrain
from ast_sb.data import (
    MIN_DURATION,
    DatasetError,
    prepare_classification_datasets,
)

__all__ = [
    "build_brain",
    "build_datasets",
    "check_overrides",
    "class_counter",
    "count_lines",
    "dataloader_options",
    "length_quantiles",
    "load_pretrained_weights",
    "prepare_arguments",
    "prepare_on_main",
    "run_classification_recipe",
    "setup_experiment",
    "train_and_evaluate",
    "with_waveform_mixup",
]

logger = logging.getLogger(__name__)

TRAIN_SAMPLERS = ("shuffle", "weighted", "dynamic")


def _include_arguments(hparams_file: str) -> Dict[str, set]:
    """Known names of each top-level ``!include`` of a YAML file.

    Those are the include's arguments (the indented keys below it) and the
    top-level keys of the included file.
    """
    with open(hparams_file, encoding="utf-8") as fin:
        text = fin.read()
    known: Dict[str, set] = {}
    pattern = r"^(\w+):\s*!include:(\S+)\n((?:[ \t]+\S.*\n?)*)"
    for key, path, block in re.findall(pattern, text, flags=re.M):
        names = set(re.findall(r"^[ \t]+(\w+):", block, flags=re.M))
        included = os.path.join(os.path.dirname(hparams_file), path)
        if os.path.isfile(included):
            with open(included, encoding="utf-8") as fin:
                names |= set(re.findall(r"^(\w+):", fin.read(), flags=re.M))
        known[key] = names
    return known


def check_overrides(hparams_file: str, overrides: str) -> None:
    r"""Rejects overrides inside an ``!include`` that HyperPyYAML ignores.

    HyperPyYAML accepts ``--model '{layers: 4}'`` and changes nothing (an
    unknown argument of an included file is dropped); the recipes expose
    the model's settings as top-level keys (``--depth 4``) instead.

    Arguments
    ---------
    hparams_file : str
        The recipe YAML.
    overrides : str
        The YAML overrides of the command line.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "model.yaml").write_text("net: !ref <depth>\n", "utf-8")
    >>> path = str(tmp / "hp.yaml")
    >>> with open(path, "w") as fout:
    ...     _ = fout.write("model: !include:model.yaml\n    depth: 2\n")
    >>> check_overrides(path, "model: {depth: 4}")
    >>> check_overrides(path, "model: {layers: 4}")
    Traceback (most recent call last):
    ...
    ValueError: Override 'model: {layers: ...}' is ignored: ...
    """
    if not overrides or not overrides.strip():
        return
    try:
        given = yaml.safe_load(overrides)
    except yaml.YAMLError:
        return  # tagged overrides: HyperPyYAML checks them itself
    if not isinstance(given, dict):
        return
    for key, known in _include_arguments(hparams_file).items():
        value = given.get(key)
        if not isinstance(value, dict):
            continue
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"Override '{key}: {{{unknown[0]}: ...}}' is ignored: "
                f"{unknown} not among the names of {key} ({sorted(known)}) "
                f"in {hparams_file}. Override a top-level key instead, e.g. "
                f"--depth, --embed_dim, --num_heads, --model_size."
            )


def count_lines(path: str) -> int:
    r"""Number of non-empty lines of a text file (e.g. ``labels.txt``).

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    int
        Its number of non-empty lines.

    Example
    -------
    >>> path = getfixture("tmpdir") / "labels.txt"
    >>> _ = path.write_text("cat\ndog\n\n", "utf-8")
    >>> count_lines(str(path))
    2
    """
    with open(path, encoding="utf-8") as fin:
        return sum(1 for line in fin if line.strip())


PrepareKeys = Union[Sequence[str], Mapping[str, str]]
"""The hyperparameters a recipe hands to its prepare function: names (the
argument and the hyperparameter are called the same) or a mapping
``argument -> hyperparameter``."""


def prepare_arguments(
    hparams: Mapping[str, Any],
    keys: PrepareKeys,
    optional: Sequence[str] = (),
) -> Dict[str, Any]:
    """The keyword arguments of a recipe's prepare function, from hparams.

    This is the one way every recipe maps its hyperparameters to its data
    preparation (:func:`prepare_on_main`, :func:`run_classification_recipe`).

    Arguments
    ---------
    hparams : Mapping
        The loaded hyperparameters.
    keys : Sequence[str] or Mapping[str, str]
        Required arguments: names, or ``argument -> hyperparameter``; a
        missing hyperparameter raises ``KeyError``.
    optional : Sequence[str]
        Arguments passed only when the hyperparameter of that name is
        defined (otherwise the prepare function's default applies).

    Returns
    -------
    dict
        Keyword arguments.

    Example
    -------
    >>> hparams = {"prepare_folder": "out", "seed": 3, "lr": 0.1}
    >>> prepare_arguments(hparams, {"save_folder": "prepare_folder"})
    {'save_folder': 'out'}
    >>> prepare_arguments(hparams, ("seed",), optional=("skip_prep", "lr"))
    {'seed': 3, 'lr': 0.1}
    """
    names = dict(keys) if isinstance(keys, Mapping) else {k: k for k in keys}
    kwargs = {arg: hparams[key] for arg, key in names.items()}
    kwargs.update({key: hparams[key] for key in optional if key in hparams})
    return kwargs


def prepare_on_main(
    prepare: Callable[..., Any],
    hparams: Mapping[str, Any],
    keys: PrepareKeys,
    optional: Sequence[str] = (),
    **extra: Any,
) -> Any:
    """Runs a recipe's data preparation on the main process.

    The keyword arguments come from :func:`prepare_arguments` (``keys``
    and ``optional``); ``extra`` keyword arguments are passed as given.
    Under DDP the other processes wait for the main one.

    Arguments
    ---------
    prepare : callable
        The recipe's preparation function (e.g. ``prepare_esc50``).
    hparams : Mapping
        The loaded hyperparameters.
    keys : Sequence[str] or Mapping[str, str]
        The hyperparameters handed over (see :func:`prepare_arguments`).
    optional : Sequence[str]
        Hyperparameters handed over only when defined.
    **extra
        Further keyword arguments of ``prepare``.

    Returns
    -------
    object
        What ``prepare`` returns (usually the manifest paths).

    Example
    -------
    >>> def prepare(save_folder, seed, skip_prep=False):
    ...     return save_folder, seed, skip_prep
    >>> hparams = {"save_folder": "out", "seed": 3, "lr": 0.1}
    >>> prepare_on_main(prepare, hparams, ("save_folder", "seed"))
    ('out', 3, False)
    >>> prepare_on_main(prepare, hparams, ("save_folder",), seed=1)
    ('out', 1, False)
    """
    kwargs = prepare_arguments(hparams, keys, optional)
    kwargs.update(extra)
    return run_on_main(prepare, kwargs=kwargs)


def class_counter(
    prepare: Callable[[Dict[str, Any]], Any],
) -> Callable[[Dict[str, Any]], int]:
    r"""Returns a ``count_classes`` for :func:`setup_experiment`.

    The returned function runs ``prepare(hparams)`` and counts the lines of
    ``<save_folder>/labels.txt`` that the preparation wrote.

    Arguments
    ---------
    prepare : callable
        ``prepare(hparams)``: the recipe's data preparation.

    Returns
    -------
    callable
        ``count_classes(hparams) -> int``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> def prepare(hparams):
    ...     _ = (tmp / "labels.txt").write_text("cat\ndog\n", "utf-8")
    >>> class_counter(prepare)({"save_folder": str(tmp)})
    2
    """

    def count_classes(hparams: Dict[str, Any]) -> int:
        prepare(hparams)
        return count_lines(os.path.join(hparams["save_folder"], "labels.txt"))

    return count_classes


def setup_experiment(
    argv: Sequence[str],
    count_classes: Optional[Callable[[Dict[str, Any]], int]] = None,
) -> Tuple[Dict[str, Any], dict]:
    """Parses the command line, starts DDP and loads the hparams.

    With ``count_classes`` and no ``--n_classes`` on the command line, the
    hparams are first loaded with a provisional ``n_classes``, handed to
    ``count_classes`` (which prepares the data and counts its classes) and
    then loaded again with the counted number.

    Arguments
    ---------
    argv : Sequence[str]
        ``sys.argv[1:]``: the hparams file, run options and overrides.
    count_classes : callable, optional
        ``count_classes(hparams) -> int``, e.g. a recipe's data preparation
        followed by counting ``labels.txt``.

    Returns
    -------
    hparams : dict
        The loaded hyperparameters (the experiment folder is created and
        the hparams file copied into it).
    run_opts : dict
        SpeechBrain run options.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> path = tmp / "hp.yaml"
    >>> path.write_text("output_folder: " + str(tmp / "out"), "utf-8")
    >>> logging.disable(logging.INFO)  # SpeechBrain logs to stdout
    >>> hparams, run_opts = setup_experiment([str(path), "--device", "cpu"])
    >>> logging.disable(logging.NOTSET)
    >>> os.path.isfile(tmp / "out" / "hyperparams.yaml"), run_opts["device"]
    (True, 'cpu')
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(list(argv))
    sb.utils.distributed.ddp_init_group(run_opts)
    overrides = overrides or ""
    check_overrides(hparams_file, overrides)
    if count_classes is not None and not re.search(
        r"^n_classes:", overrides, flags=re.M
    ):
        with open(hparams_file, encoding="utf-8") as fin:
            provisional = load_hyperpyyaml(fin, overrides + "\nn_classes: 1")
        n_classes = int(count_classes(provisional))
        logger.info("%d classes in the data", n_classes)
        overrides = overrides + f"\nn_classes: {n_classes}"
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    # SpeechBrain saved this module; also keep the recipe's own script
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if script and script.endswith(".py") and if_main_process():
        shutil.copy(os.path.realpath(script), hparams["output_folder"])
    return hparams, run_opts


def build_datasets(
    hparams: Dict[str, Any], manifests: Mapping[str, Optional[str]]
) -> Dict[str, Any]:
    """Builds the datasets of the manifests and the label encoder.

    Sets ``hparams["label_encoder"]`` (used by the Brain and the export)
    and checks that the data has ``n_classes`` classes.

    Arguments
    ---------
    hparams : dict
        Loaded hyperparameters (see the module docstring).
    manifests : Mapping
        "train", "valid", "test" manifest paths (a missing or None split is
        skipped) and optionally "data_root" or "cache_folder", the value of
        ``$data_root`` (default ``hparams["data_folder"]``).

    Returns
    -------
    dict
        Split name -> ``DynamicItemDataset``.
    """
    data_root = manifests.get("data_root") or manifests.get("cache_folder")
    if data_root is None:
        data_root = hparams.get("data_folder") or ""
    min_duration = hparams.get("min_duration")
    datasets, label_encoder = prepare_classification_datasets(
        train_json=manifests.get("train"),
        valid_json=manifests.get("valid"),
        test_json=manifests.get("test"),
        data_folder=str(data_root),
        label_encoder_path=hparams["label_encoder_file"],
        multi_label=bool(hparams.get("multi_label", False)),
        sample_rate=int(hparams.get("sample_rate", 16000)),
        label_key=hparams.get("label_key", "label_encoded"),
        train_crop_seconds=hparams.get("train_crop_seconds"),
        eval_crop_seconds=hparams.get("eval_crop_seconds"),
        seed=int(hparams.get("seed", 0)),
        min_duration=MIN_DURATION if min_duration is None else min_duration,
        on_corrupt=hparams.get("on_corrupt") or "raise",
    )
    check_n_classes(hparams, len(label_encoder))
    hparams["label_encoder"] = label_encoder
    return datasets


def check_n_classes(hparams: Mapping[str, Any], n_data: int) -> None:
    """Raises if the data's number of classes differs from ``n_classes``.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters with ``n_classes``.
    n_data : int
        Number of classes found in the data.

    Example
    -------
    >>> check_n_classes({"n_classes": 3}, 3)
    >>> check_n_classes({"n_classes": 3}, 4)
    Traceback (most recent call last):
    ...
    ast_sb.data.DatasetError: The data has 4 classes but n_classes is 3; ...
    """
    if n_data != hparams["n_classes"]:
        raise DatasetError(
            f"The data has {n_data} classes but n_classes is "
            f"{hparams['n_classes']}; pass --n_classes {n_data}."
        )


def load_pretrained_weights(hparams: Mapping[str, Any]) -> Optional[Any]:
    """Loads ``hparams["pretrained_path"]`` (if set) into the model.

    The classifier starts fresh (its own initialisation), as in the
    original AST, which always builds a new ``mlp_head`` on the pretrained
    model, also for AudioSet-to-AudioSet fine-tuning; with
    ``keep_pretrained_head: True`` a checkpoint head with the recipe's
    number of classes is loaded.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters with ``embedding_model``, ``classifier`` and
        optionally ``pretrained_path`` (a local original-AST, HF or timm
        checkpoint, or a published source, see
        :func:`ast_sb.pretrained.load_pretrained`), ``pretrained_revision``,
        ``pretrained_sha256`` and ``keep_pretrained_head``.

    Returns
    -------
    object or None
        What :func:`ast_sb.pretrained.load_pretrained` reports, None when
        no path is set.
    """
    path = hparams.get("pretrained_path")
    if not path:
        return None
    from ast_sb.hub import resolve_weights
    from ast_sb.pretrained import load_pretrained

    keep_head = bool(hparams.get("keep_pretrained_head", False))
    source = {
        "revision": hparams.get("pretrained_revision"),
        "sha256": hparams.get("pretrained_sha256"),
    }
    # downloads once (main process); every process then reads the cache
    run_on_main(resolve_weights, args=[path], kwargs=source)
    info = load_pretrained(
        hparams["embedding_model"],
        path,
        classifier=hparams["classifier"] if keep_head else None,
        **source,
    )
    logger.info("Initialised from %s: %s", path, info)
    return info


def with_waveform_mixup(
    hparams: Mapping[str, Any],
    datasets: Mapping[str, Any],
    loader_opts: Dict[str, Dict[str, Any]],
) -> Dict[str, Any]:
    """Wraps the training set for waveform mixup when ``waveform_mixup`` > 0.

    ``waveform_mixup`` is the probability that a training clip is mixed
    with a partner drawn from the whole training set (the original AST's
    mixup; ``waveform_mixup_alpha``, default 10, is the Beta parameter).
    The in-batch fbank mixup (``mixup``) is a separate option.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters (``waveform_mixup``, ``waveform_mixup_alpha``,
        ``seed``, ``label_key``).
    datasets : Mapping
        Split name -> dataset.
    loader_opts : dict
        DataLoader options of :func:`dataloader_options` (its samplers
        index the same clips); the training collate function is set.

    Returns
    -------
    dict
        The datasets, "train" wrapped when waveform mixup is on.

    Example
    -------
    >>> opts = {"train": {}}
    >>> logging.disable(logging.INFO)  # SpeechBrain may log to stdout
    >>> out = with_waveform_mixup({"waveform_mixup": 0.5}, {"train": []}, opts)
    >>> logging.disable(logging.NOTSET)
    >>> type(out["train"]).__name__, opts["train"]["collate_fn"].__name__
    ('WaveformMixupDataset', 'PaddedBatch')
    """
    datasets = dict(datasets)
    prob = float(hparams.get("waveform_mixup") or 0.0)
    if prob <= 0.0:
        return datasets
    from ast_sb.waveform_mixup import WaveformMixupDataset

    datasets["train"] = WaveformMixupDataset(
        datasets["train"],
        mixup_prob=prob,
        alpha=float(hparams.get("waveform_mixup_alpha") or 10.0),
        seed=int(hparams.get("seed", 0)),
        label_key=hparams.get("label_key", "label_encoded"),
    )
    loader_opts["train"].setdefault("collate_fn", PaddedBatch)
    logger.info(
        "Waveform mixup: p=%s, alpha=%s, partners from the whole training set",
        prob,
        datasets["train"].alpha,
    )
    return datasets


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


def _checkpoint_choice(
    hparams: Mapping[str, Any], has_valid: bool
) -> Tuple[str, Dict[str, str]]:
    """Which checkpoint is tested: ("best"|"last", evaluate() keys).

    "best" passes no key: the Brain then recovers the checkpoint with the
    lowest validation error (single-label) or highest mAP (multi-label).
    """
    choice = hparams.get("eval_checkpoint", "best")
    if choice not in ("best", "last"):
        raise ValueError(f"eval_checkpoint must be best or last: {choice!r}")
    if not has_valid and choice != "last":
        logger.warning(
            "No validation set: validating on the test set, so the test is "
            "run on the last checkpoint (not the best)."
        )
        choice = "last"
    if choice == "last":
        return choice, {"max_key": "epoch"}
    return choice, {}


def _class_names(label_encoder) -> Optional[list]:
    ind2lab = getattr(label_encoder, "ind2lab", None)
    if not ind2lab:
        return None
    return [str(ind2lab[i]) for i in range(len(ind2lab))]


def build_brain(
    hparams: Dict[str, Any], run_opts: dict, brain_class: Type[sb.Brain]
) -> sb.Brain:
    """The recipe's Brain from its ``modules``, ``opt_class`` and checkpointer.

    Arguments
    ---------
    hparams : dict
        Loaded hyperparameters with ``modules``, ``opt_class`` and
        ``checkpointer``.
    run_opts : dict
        SpeechBrain run options.
    brain_class : type
        The Brain class.

    Returns
    -------
    speechbrain.Brain
        The Brain.
    """
    return brain_class(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )


def train_and_evaluate(
    hparams: Dict[str, Any],
    run_opts: dict,
    datasets: Mapping[str, Any],
    brain_class: Type[
        AudioSpectrogramTransformerBrain
    ] = AudioSpectrogramTransformerBrain,
    results_meta: Optional[Mapping[str, Any]] = None,
) -> AudioSpectrogramTransformerBrain:
    """Trains, tests, writes results and plots, and exports the model.

    Loads ``pretrained_path`` first (a fresh run only: resumed runs are
    restored from their checkpoints right after). Without a "valid" split
    the test set is used for validation and the last checkpoint is tested
    (the original AST protocol), never a test-selected one.

    Arguments
    ---------
    hparams : dict
        Loaded hyperparameters (with ``label_encoder`` set by
        :func:`build_datasets`).
    run_opts : dict
        SpeechBrain run options.
    datasets : Mapping
        "train", optional "valid", and "test" datasets.
    brain_class : type
        The Brain class to instantiate.
    results_meta : Mapping, optional
        Extra fields of the ``test_results_file`` JSON (e.g. the folds).

    Returns
    -------
    AudioSpectrogramTransformerBrain
        The trained Brain (``test_stats`` holds the test metrics).
    """
    if "train" not in datasets or "test" not in datasets:
        raise DatasetError(
            f"Training needs 'train' and 'test' datasets, got {sorted(datasets)}"
        )
    pretrained = load_pretrained_weights(hparams)
    from ast_sb.norm_stats import apply_norm_stats

    # an SSL encoder's own statistics by default (ast_sb.norm_stats)
    norm_stats = apply_norm_stats(
        hparams,
        datasets["train"],
        (pretrained or {}).get("norm_stats"),
    )
    loader_opts = dataloader_options(hparams, datasets)
    datasets = with_waveform_mixup(hparams, datasets, loader_opts)
    valid_split = "valid" if datasets.get("valid") is not None else "test"
    choice, key = _checkpoint_choice(hparams, valid_split == "valid")

    brain = build_brain(hparams, run_opts, brain_class)
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets[valid_split],
        train_loader_kwargs=loader_opts["train"],
        valid_loader_kwargs=loader_opts[valid_split],
    )
    brain.evaluate(
        datasets["test"], test_loader_kwargs=loader_opts["test"], **key
    )

    labels = _class_names(hparams.get("label_encoder"))
    targets = predictions = None
    ids, scores = [], None
    if hasattr(brain.stats, "collect"):
        # every rank takes part in the gather
        ids, scores, stat_targets = brain.stats.collect()
        if not brain.multi_label and len(stat_targets):
            targets = stat_targets.reshape(-1).tolist()
            predictions = scores.argmax(dim=-1).tolist()
    if if_main_process():
        results = {
            **dict(results_meta or {}),
            # what was tested: "best" / "last" and the epoch it held, or
            # the averaged epochs (average_last_n_epochs replaces it)
            **(
                {
                    "eval_checkpoint": brain.tested_weights(),
                    "averaged_epochs": brain.averaged_epochs,
                }
                if brain.averaged_epochs
                else {
                    "eval_checkpoint": choice,
                    "eval_epoch": brain.tested_weights(),
                }
            ),
            **brain.test_stats,
        }
        if norm_stats is not None:
            results["norm_stats"] = norm_stats
        if hparams.get("baseline", False):
            results["baseline"] = _run_baseline(hparams, datasets)
        results_file = hparams.get("test_results_file")
        if results_file:
            with open(results_file, "w", encoding="utf-8") as fout:
                json.dump(results, fout, indent=2)
        logger.info("Test results: %s", results)
        predictions_file = hparams.get("test_predictions_file")
        if predictions_file and scores is not None:
            # per-clip scores (log-probabilities or logits), the reference
            # the exported folder reproduces clip by clip
            with open(predictions_file, "w", encoding="utf-8") as fout:
                json.dump(
                    dict(zip(ids, scores.tolist())),
                    fout,
                )
        if hparams.get("plots", True):
            _write_plots(hparams, targets, predictions, labels)
        export_folder = hparams.get("export_folder")
        if export_folder:
            from ast_sb.export import export_from_hparams

            export_from_hparams(hparams, export_folder)
            logger.info(
                "Exported the EncoderClassifier folder %s", export_folder
            )
            from ast_sb.model_card import write_model_card

            sizes = {
                name: len(data)
                for name, data in datasets.items()
                if data is not None and hasattr(data, "__len__")
            }
            write_model_card(export_folder, hparams, results, sizes)
    return brain


def _run_baseline(
    hparams: Mapping[str, Any], datasets: Mapping[str, Any]
) -> Dict[str, Any]:
    """The MFCC + logistic-regression baseline on the recipe's split."""
    from ast_sb.baseline import baseline_comparison

    if bool(hparams.get("multi_label", False)):
        raise ValueError("baseline: True needs single-label data")
    valid = datasets.get("valid")
    # fitted on train, as the AST (valid only selects its checkpoint);
    # on train + valid too, under "train_valid"
    results = baseline_comparison(
        datasets["train"].data,
        None if valid is None else valid.data,
        datasets["test"].data,
        int(hparams.get("sample_rate", 16000)),
        int(hparams.get("seed", 0)),
    )
    results["model"] = "MFCC mean/std + logistic regression"
    logger.info("Baseline: %s", results)
    return results


def _write_plots(hparams, targets, predictions, labels) -> None:
    """Training curves and (single-label) confusion matrix PNGs."""
    try:
        from ast_sb.plots import plot_recipe_results

        written = plot_recipe_results(
            hparams["output_folder"],
            targets=targets,
            predictions=predictions,
            labels=labels,
            train_log=hparams.get("train_log"),
        )
    except ImportError as err:
        logger.warning("No plots (matplotlib is missing): %s", err)
        return
    for name, path in written.items():
        logger.info("Plot %s: %s", name, os.path.relpath(path))


def run_classification_recipe(
    argv: Sequence[str],
    prepare: Callable[..., Mapping[str, Optional[str]]],
    keys: PrepareKeys,
    results_meta: Optional[
        Callable[[Dict[str, Any]], Mapping[str, Any]]
    ] = None,
) -> AudioSpectrogramTransformerBrain:
    """The whole ``train.py`` of a recipe whose preparation reads hparams.

    :func:`setup_experiment`, ``prepare`` on the main process with the
    hyperparameters ``keys`` (:func:`prepare_on_main`),
    :func:`build_datasets` and :func:`train_and_evaluate`.

    Arguments
    ---------
    argv : Sequence[str]
        ``sys.argv[1:]``.
    prepare : callable
        The recipe's preparation, returning the manifest paths.
    keys : Sequence[str] or Mapping[str, str]
        The hyperparameters handed to ``prepare`` (see
        :func:`prepare_arguments`).
    results_meta : callable, optional
        ``results_meta(hparams) -> dict``: extra entries of the results
        file (see :func:`train_and_evaluate`).

    Returns
    -------
    AudioSpectrogramTransformerBrain
        The trained Brain.
    """
    hparams, run_opts = setup_experiment(argv)
    manifests = prepare_on_main(prepare, hparams, keys)
    datasets = build_datasets(hparams, manifests)
    meta = results_meta(hparams) if results_meta is not None else None
    return train_and_evaluate(hparams, run_opts, datasets, results_meta=meta)
