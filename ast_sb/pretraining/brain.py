"""SpeechBrain ``Brain`` for self-supervised (SSAST) pretraining.

``AudioSpectrogramTransformerPretrainingBrain`` reuses the classification
Brain's machinery (per-batch reseeding, so that a resumed run reproduces
the uninterrupted one; all-group gradient clipping; warmup/decay schedules;
checkpoints with or without a validation set; DDP loss reduction; bf16 /
fp16 autocast from ``--precision``) and replaces forward and loss:

waveforms -> ``compute_features`` (fbank padded / cut to the encoder's
``target_length``) -> ``mean_var_norm`` -> ``pretrainer``
(:class:`ast_sb.pretraining.AudioSpectrogramTransformerPretrainer`) ->
``discriminative_weight * InfoNCE + generative_weight * MSE``.

Validation masks are drawn from a fixed seed per batch, so the validation
loss of two epochs (or two runs) is measured on the same masks.
Checkpoints are kept by the lowest validation loss (or by epoch without a
validation set).

Hyperparameters read, besides those of
:class:`ast_sb.training.brain.AudioSpectrogramTransformerBrain`:
``discriminative_weight`` (1.0), ``generative_weight`` (10.0, as in
SSAST), ``seed``.

Authors
 * ast_sb developers 2026
"""

import contextlib
import hashlib
from typing import Dict, List

import speechbrain as sb
import torch

from ast_sb.pretraining.losses import masked_patch_infonce, masked_patch_mse
from ast_sb.training.brain import AudioSpectrogramTransformerBrain


class PretrainingStats:
    """Running means of the pretraining losses and InfoNCE accuracy.

    Example
    -------
    >>> stats = PretrainingStats()
    >>> stats.append(2, discriminative=1.0, generative=0.5, accuracy=0.5)
    >>> stats.append(2, discriminative=3.0, generative=0.5, accuracy=1.0)
    >>> stats.summarize()
    {'discriminative': 2.0, 'generative': 0.5, 'accuracy': 0.75}
    """

    KEYS = ("discriminative", "generative", "accuracy")

    def __init__(self):
        self.sums = torch.zeros(len(self.KEYS) + 1, dtype=torch.float64)

    def append(self, n_clips: int, **values: float) -> None:
        """Adds the batch means of ``values`` weighted by ``n_clips``.

        Arguments
        ---------
        n_clips : int
            Number of clips of the batch.
        **values : float
            ``discriminative``, ``generative`` and ``accuracy``.
        """
        for i, key in enumerate(self.KEYS):
            self.sums[i] += float(values[key]) * n_clips
        self.sums[-1] += n_clips

    def summarize(self) -> Dict[str, float]:
        """Means over every clip (all DDP ranks).

        Returns
        -------
        dict
            ``discriminative``, ``generative`` and ``accuracy``.
        """
        sums = self.sums.clone()
        if (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            backend = torch.distributed.get_backend()
            device = "cuda" if backend == "nccl" else "cpu"
            sums = sums.to(device)
            torch.distributed.all_reduce(sums)
            sums = sums.cpu()
        n_clips = max(float(sums[-1]), 1.0)
        return {
            key: float(sums[i]) / n_clips for i, key in enumerate(self.KEYS)
        }


class AudioSpectrogramTransformerPretrainingBrain(
    AudioSpectrogramTransformerBrain
):
    """Brain for SSAST masked spectrogram patch pretraining.

    Modules: ``compute_features`` (e.g. ``KaldiFbank`` with the encoder's
    ``target_length``), ``mean_var_norm`` and ``pretrainer``. Batch keys:
    ``id`` and ``sig``.

    Arguments
    ---------
    modules : dict
        The modules listed above.
    opt_class, hparams, run_opts, checkpointer
        As in :class:`AudioSpectrogramTransformerBrain` (hyperparameters:
        see the module docstring).

    Example
    -------
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> from ast_sb.pretraining import AudioSpectrogramTransformerPretrainer
    >>> encoder = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=48, fstride=16, tstride=16, depth=1
    ... )
    >>> modules = {
    ...     "compute_features": KaldiFbank(target_length=48),
    ...     "mean_var_norm": AudioSpectrogramNormalizer(),
    ...     "pretrainer": AudioSpectrogramTransformerPretrainer(encoder, 12),
    ... }
    >>> brain = AudioSpectrogramTransformerPretrainingBrain(
    ...     modules=modules,
    ...     opt_class=lambda groups: torch.optim.Adam(groups, lr=1e-3),
    ...     run_opts={"device": "cpu"},
    ... )
    >>> data = sb.dataio.dataset.DynamicItemDataset(
    ...     {f"u{i}": {"sig": torch.randn(8000)} for i in range(4)},
    ...     output_keys=["id", "sig"],
    ... )
    >>> brain.fit([1], data, data, progressbar=False,
    ...           train_loader_kwargs={"batch_size": 2},
    ...           valid_loader_kwargs={"batch_size": 2})
    >>> sorted(brain.valid_stats)
    ['accuracy', 'discriminative', 'generative', 'loss']
    """

    def _checkpoint_key(self) -> Dict[str, List[str]]:
        """Checkpoints are kept by the lowest validation loss."""
        return {"min_keys": ["loss"]}

    @contextlib.contextmanager
    def _eval_rng(self, batch):
        """Seeds the masks of an evaluation batch from its clip ids."""
        key = f"{self._hp('seed', 0)}:" + ",".join(self._ids(batch, 10**9))
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(
                int.from_bytes(digest, "little") & ((1 << 63) - 1)
            )
            yield

    def compute_forward(self, batch, stage):
        """Waveforms -> fbank -> normalisation -> masked patch predictions.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Batch with ``id`` and ``sig``.
        stage : speechbrain.Stage
            Evaluation stages use masks seeded by the batch's clip ids.

        Returns
        -------
        dict
            Output of the pretrainer (predictions, targets, mask).
        """
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        with torch.autocast(device_type=self.device_type, enabled=False):
            feats = self._call("compute_features", wavs.float(), lengths)
            lengths = self._frame_lengths(lengths, wavs.shape[-1])
            feats = self._call("mean_var_norm", feats.float(), lengths)
        if stage == sb.Stage.TRAIN:
            return self.modules.pretrainer(feats)
        with self._eval_rng(batch):
            mask = self.modules.pretrainer.draw_mask(
                feats.shape[0], self._grid(feats), feats.device
            )
        return self.modules.pretrainer(feats, mask)

    def _grid(self, feats: torch.Tensor):
        """Patch grid (f_dim, t_dim) of a batch of features."""
        pretrainer = self.modules.pretrainer
        (f_patch, t_patch) = pretrainer.patch_shape
        return (
            (feats.shape[2] - f_patch) // f_patch + 1,
            (feats.shape[1] - t_patch) // t_patch + 1,
        )

    def compute_objectives(self, predictions, batch, stage):
        """Weighted sum of the InfoNCE and MSE losses.

        Arguments
        ---------
        predictions : dict
            Output of ``compute_forward``.
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        stage : speechbrain.Stage
            The stage.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        targets = predictions["targets"]
        loss_d, accuracy = masked_patch_infonce(
            predictions["discriminative"], targets
        )
        loss_g = masked_patch_mse(predictions["generative"], targets)
        loss = (
            float(self._hp("discriminative_weight", 1.0)) * loss_d
            + float(self._hp("generative_weight", 10.0)) * loss_g
        )
        self.stats.append(
            targets.shape[0],
            discriminative=loss_d.detach(),
            generative=loss_g.detach(),
            accuracy=accuracy.detach(),
        )
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Starts the stage's loss accumulator.

        Arguments
        ---------
        stage, epoch : speechbrain.Stage, int
            As in :meth:`AudioSpectrogramTransformerBrain.on_stage_start`.
        """
        super().on_stage_start(stage, epoch)
        self.stats = PretrainingStats()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the loss components too (train and valid), checkpoints.

        Arguments
        ---------
        stage, stage_loss, epoch : speechbrain.Stage, float, int
            As in :meth:`AudioSpectrogramTransformerBrain.on_stage_end`.
        """
        if stage == sb.Stage.TRAIN:
            self._train_components = self.stats.summarize()
        super().on_stage_end(stage, stage_loss, epoch)

    def _log(self, meta, train_stats, valid_stats=None, test_stats=None):
        """Adds the training loss components to the logged train stats."""
        if train_stats is not None:
            train_stats = {
                **train_stats,
                **getattr(self, "_train_components", {}),
            }
        super()._log(meta, train_stats, valid_stats, test_stats)
