"""Normalisation statistics of a recipe's own training set (``norm_stats``).

AST normalises the log-mel fbank with one mean and standard deviation of the
training data (``(x - mean) / (2 std)``). The published values (AudioSet,
ESC-50, Speech Commands) suit fine-tuning from those checkpoints; for new
data trained from scratch the data's own values are the natural choice.
With ``norm_stats: auto`` a recipe computes them over every training clip
(each clip's own frames only, not the padding), sets them on
``mean_var_norm`` (so they are trained with and exported), and writes them
to ``save_folder/norm_stats.json``, which a resumed run reads back instead
of recomputing.

Fine-tuning from an encoder of the self-supervised recipe
(``ast_sb.pretraining``), whose file stores the statistics it was
pretrained with, uses those by default, whatever ``norm_stats`` says: the
encoder learnt on features normalised that way. ``pretrained_norm_stats:
False`` follows ``norm_stats`` instead; files without statistics (written
before they were stored) follow ``norm_stats`` too.

Authors
 * ast_sb developers 2026
"""

import json
import logging
import os
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import torch

from ast_sb.lobes.features import compute_dataset_stats, frame_count

__all__ = ["NORM_STATS_MODES", "apply_norm_stats", "training_set_stats"]

logger = logging.getLogger(__name__)

NORM_STATS_MODES = ("fixed", "auto")
"""``fixed``: the YAML's mean/std; ``auto``: the training set's."""


def _clip_features(dataset, compute_features) -> Iterator[torch.Tensor]:
    """Yields each clip's fbank ``[1, T, F]`` cut to its own frames."""
    with dataset.output_keys_as(["sig"]):
        for item in dataset:
            wav = item["sig"].reshape(1, -1).float()
            with torch.no_grad():
                feats = compute_features(wav)
            n_frames = max(
                1, min(int(frame_count(wav.shape[1])), feats.shape[1])
            )
            yield feats[:, :n_frames]


def training_set_stats(dataset, compute_features) -> Tuple[float, float]:
    """Mean and std of the fbank values of every clip of a dataset.

    Arguments
    ---------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        Dataset with a ``sig`` output (waveform ``[N]``).
    compute_features : callable
        The recipe's front end (``wav [1, N] -> [1, T, F]``); frames past
        the clip's own ``frame_count`` (padding) are left out.

    Returns
    -------
    tuple of float
        ``(mean, std)``.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> from ast_sb.lobes.features import KaldiFbank
    >>> _ = torch.manual_seed(0)
    >>> wavs = {"a": torch.randn(8000), "b": torch.randn(4000) * 0.1}
    >>> data = DynamicItemDataset({k: {"k": k} for k in wavs})
    >>> data.add_dynamic_item(lambda k: wavs[k], takes="k", provides="sig")
    >>> data.set_output_keys(["id", "sig"])
    >>> fbank = KaldiFbank(target_length=100)  # pads b; padding is skipped
    >>> mean, std = training_set_stats(data, fbank)
    >>> alone = [KaldiFbank()(w.reshape(1, -1)) for w in wavs.values()]
    >>> expected = compute_dataset_stats(alone)
    >>> abs(mean - expected[0]) < 1e-9, abs(std - expected[1]) < 1e-9
    (True, True)
    """
    return compute_dataset_stats(_clip_features(dataset, compute_features))


def apply_norm_stats(
    hparams: Mapping[str, Any],
    train_dataset,
    pretrained: Optional[Mapping[str, float]] = None,
) -> Optional[Dict[str, Any]]:
    """Sets the pretrained encoder's or the training set's mean/std on
    ``mean_var_norm`` if asked.

    Arguments
    ---------
    hparams : Mapping
        Hyperparameters: ``norm_stats`` ("fixed" or "auto"; default
        "fixed"), ``pretrained_norm_stats`` (default True),
        ``mean_var_norm``, ``compute_features``, ``save_folder``,
        ``pretrained_path``.
    train_dataset : DynamicItemDataset
        The training data.
    pretrained : Mapping, optional
        ``{"mean", "std"}`` stored with the pretrained encoder (the
        ``norm_stats`` of ``ast_sb.weights.pretrained.load_pretrained``); used
        unless ``pretrained_norm_stats`` is False.

    Returns
    -------
    dict or None
        ``{"mean": ..., "std": ..., "source": ...}`` ("pretrained encoder
        <path>" or "training set"), None for the YAML's fixed values.

    Example
    -------
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer
    >>> hparams = {"norm_stats": "auto", "pretrained_path": "enc.ckpt",
    ...            "mean_var_norm": AudioSpectrogramNormalizer()}
    >>> apply_norm_stats(hparams, None, {"mean": -6.0, "std": 3.0})["source"]
    'pretrained encoder enc.ckpt'
    >>> hparams["mean_var_norm"].mean, hparams["mean_var_norm"].std
    (-6.0, 3.0)
    """
    mode = hparams.get("norm_stats") or "fixed"
    if mode not in NORM_STATS_MODES:
        raise ValueError(
            f"norm_stats must be one of {NORM_STATS_MODES}: {mode!r}"
        )
    if pretrained is not None and hparams.get("pretrained_norm_stats", True):
        stats = {
            "mean": float(pretrained["mean"]),
            "std": float(pretrained["std"]),
            "source": f"pretrained encoder {hparams.get('pretrained_path')}",
        }
        hparams["mean_var_norm"].set_statistics(stats["mean"], stats["std"])
        logger.info(
            "Normalisation stats of the pretrained encoder (instead of "
            "norm_stats: %s): %s",
            mode,
            stats,
        )
        return stats
    if mode == "fixed":
        return None
    path = os.path.join(hparams["save_folder"], "norm_stats.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fin:
            stats = json.load(fin)
        logger.info("Normalisation stats from %s: %s", path, stats)
    else:
        mean, std = training_set_stats(
            train_dataset, hparams["compute_features"]
        )
        stats = {"mean": mean, "std": std, "source": "training set"}
        os.makedirs(hparams["save_folder"], exist_ok=True)
        with open(path, "w", encoding="utf-8") as fout:
            json.dump(stats, fout, indent=2)
        logger.info("Normalisation stats of the training set: %s", stats)
    norm = hparams["mean_var_norm"]
    norm.set_statistics(float(stats["mean"]), float(stats["std"]))
    return stats
