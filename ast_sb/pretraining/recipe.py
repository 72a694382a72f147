"""The shared steps of the self-supervised pretraining recipe.

``recipes/SelfSupervised/train.py`` prepares manifests and calls:

.. code-block:: python

    hparams, run_opts = setup_experiment(sys.argv[1:])   # ast_sb.training.recipe
    datasets = build_pretraining_datasets(hparams, manifests)
    pretrain(hparams, run_opts, datasets)

Hyperparameters read here: ``data_folder`` (``$data_root`` of the
manifests), ``sample_rate``, ``crop_seconds`` (training crops; validation
crops start at the segment start), ``shards`` (optional WebDataset shard
spec replacing the training manifest), ``shard_epoch_length``,
``shuffle_buffer``, ``on_corrupt`` ("raise" or "skip" streamed samples
that do not decode, hold NaN / inf or are too short), ``seed``, ``modules``, ``opt_class``, ``checkpointer``,
``epoch_counter``, ``train/valid_dataloader_opts``, ``pretrainer``,
``encoder_file`` (the exported encoder for fine-tuning, with the mean /
std of ``mean_var_norm``, which fine-tuning reuses), ``output_folder``,
``train_log`` and ``plots``; the Brain's own hyperparameters are listed in
:mod:`ast_sb.pretraining.brain`.

Authors
 * ast_sb developers 2026
"""

import logging
import os
from typing import Any, Dict, Mapping, Optional

from speechbrain.utils.distributed import if_main_process

from ast_sb.pretraining.brain import AudioSpectrogramTransformerPretrainingBrain
from ast_sb.pretraining.data import unlabelled_dataset, unlabelled_shard_dataset
from ast_sb.pretraining.pretrainer import export_pretrained_encoder
from ast_sb.training.recipe import build_brain, dataloader_options

__all__ = ["build_pretraining_datasets", "pretrain"]

logger = logging.getLogger(__name__)


def build_pretraining_datasets(
    hparams: Mapping[str, Any], manifests: Mapping[str, Optional[str]]
) -> Dict[str, Any]:
    """The training (manifest or shards) and optional validation datasets.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters (see the module docstring).
    manifests : Mapping
        "train" and "valid" manifest paths (either may be None; "train"
        is not read when ``shards`` is set).

    Returns
    -------
    dict
        "train" and, if there is one, "valid".
    """
    sample_rate = int(hparams.get("sample_rate", 16000))
    crop = hparams.get("crop_seconds")
    seed = int(hparams.get("seed", 0))
    data_root = str(hparams.get("data_folder") or "")
    datasets: Dict[str, Any] = {}
    if hparams.get("shards"):
        datasets["train"] = unlabelled_shard_dataset(
            hparams["shards"],
            sample_rate=sample_rate,
            crop_seconds=crop,
            epoch_length=hparams.get("shard_epoch_length"),
            shuffle_buffer=int(hparams.get("shuffle_buffer", 1000)),
            seed=seed,
            on_corrupt=hparams.get("on_corrupt") or "raise",
        )
    elif manifests.get("train"):
        datasets["train"] = unlabelled_dataset(
            manifests["train"], data_root, sample_rate, crop, True, seed
        )
    else:
        raise ValueError("Pretraining needs a training manifest or shards.")
    if manifests.get("valid"):
        datasets["valid"] = unlabelled_dataset(
            manifests["valid"], data_root, sample_rate, crop, False, seed
        )
    return datasets


def pretrain(
    hparams: Dict[str, Any], run_opts: dict, datasets: Mapping[str, Any]
) -> AudioSpectrogramTransformerPretrainingBrain:
    """Pretrains, then exports the encoder and plots the loss curves.

    A run started again with the same ``output_folder`` resumes from its
    last checkpoint (SpeechBrain's checkpointer, also intra-epoch with
    ``ckpt_interval_minutes`` / ``ckpt_interval_steps``).

    Arguments
    ---------
    hparams : dict
        Loaded hyperparameters.
    run_opts : dict
        SpeechBrain run options (device, DDP, ``precision`` bf16 ...).
    datasets : Mapping
        "train" and optional "valid" datasets.

    Returns
    -------
    AudioSpectrogramTransformerPretrainingBrain
        The trained Brain.
    """
    loader_opts = dataloader_options(hparams, datasets)
    brain = build_brain(
        hparams, run_opts, AudioSpectrogramTransformerPretrainingBrain
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets.get("valid"),
        train_loader_kwargs=loader_opts["train"],
        valid_loader_kwargs=loader_opts.get("valid", {}),
    )
    if if_main_process():
        norm = hparams.get("mean_var_norm")
        path = export_pretrained_encoder(
            hparams["pretrainer"],
            hparams["encoder_file"],
            norm_stats=None if norm is None else (norm.mean, norm.std),
        )
        logger.info("Pretrained encoder for fine-tuning: %s", path)
        if hparams.get("plots", True) and os.path.isfile(
            hparams.get("train_log", "")
        ):
            _plot_curves(hparams)
    return brain


def _plot_curves(hparams: Mapping[str, Any]) -> None:
    """Loss curves (total, InfoNCE, MSE, accuracy) per epoch."""
    try:
        from ast_sb.evaluation.plots import plot_training_curves
    except ImportError as err:
        logger.warning("No plots (matplotlib is missing): %s", err)
        return
    out = os.path.join(hparams["output_folder"], "plots", "training_curves.png")
    plot_training_curves(hparams["train_log"], out, title="SSAST pretraining")
    logger.info("Plot training_curves: %s", os.path.relpath(out))
