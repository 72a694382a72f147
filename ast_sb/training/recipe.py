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
:class:`ast_sb.training.brain.AudioSpectrogramTransformerBrain`:

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
  release URL, a timm name or an alias, see :mod:`ast_sb.weights.hub`),
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
)

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import if_main_process, run_on_main

from ast_sb.dataio.datasets import (
    MIN_DURATION,
    DatasetError,
    prepare_classification_datasets,
)
from ast_sb.training.brain import AudioSpectrogramTransformerBrain
from ast_sb.training.dataloaders import (
    TRAIN_SAMPLERS as TRAIN_SAMPLERS,
    dataloader_options,
    length_quantiles as length_quantiles,
)
from ast_sb.training.preparation import (
    PrepareKeys,
    check_overrides,
    class_counter as class_counter,
    count_lines as count_lines,
    prepare_arguments as prepare_arguments,
    prepare_on_main,
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
    ast_sb.dataio.datasets.DatasetError: The data has 4 classes but n_classes is 3; ...
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
        :func:`ast_sb.weights.pretrained.load_pretrained`), ``pretrained_revision``,
        ``pretrained_sha256`` and ``keep_pretrained_head``.

    Returns
    -------
    object or None
        What :func:`ast_sb.weights.pretrained.load_pretrained` reports, None when
        no path is set.
    """
    path = hparams.get("pretrained_path")
    if not path:
        return None
    from ast_sb.weights.hub import resolve_weights
    from ast_sb.weights.pretrained import load_pretrained

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
    from ast_sb.training.waveform_mixup import WaveformMixupDataset

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
    from ast_sb.training.norm_stats import apply_norm_stats

    # an SSL encoder's own statistics by default (ast_sb.training.norm_stats)
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
            from ast_sb.export.folder import export_from_hparams

            export_from_hparams(hparams, export_folder)
            logger.info(
                "Exported the EncoderClassifier folder %s", export_folder
            )
            from ast_sb.export.model_card import write_model_card

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
    from ast_sb.training.baseline import baseline_comparison

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
        from ast_sb.evaluation.plots import plot_recipe_results

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
