"""SpeechBrain ``Brain`` for Audio Spectrogram Transformer classification.

``AudioSpectrogramTransformerBrain`` trains an AST (or any encoder following
the ``ast_sb`` module contracts, see ``docs/DESIGN.md``) for

* single-label classification (``multi_label: False``): cross-entropy on the
  log-probabilities of the classifier; accuracy / error; checkpoints kept by
  the lowest validation ``error``;
* multi-label tagging (``multi_label: True``): BCE with logits on multi-hot
  targets; mAP / mean AUC / d-prime; checkpoints kept by the highest
  validation ``mAP``.

On top of ``speechbrain.Brain`` it adds AST-style SpecAugment and mixup in
training, one optimizer with a separate (``head_lr_multiplier`` times larger)
learning rate for the classifier (and optional layer-wise lr decay),
gradient clipping of *all* param groups (SpeechBrain only clips group 0),
a per-batch / per-epoch ``WarmupDecayScheduler``, metrics gathered across DDP ranks, and per-batch
reseeding of the random number generator so that resuming from any
checkpoint (end-of-epoch or intra-epoch) reproduces the uninterrupted run.

Hyperparameters read (all optional except the modules):

* ``multi_label`` (bool, False), ``label_key`` (str, "label_encoded");
* ``wav_augment`` (None or a waveform augmentation ``(wavs, lengths) ->
  (wavs, lengths)`` applied in training, e.g. SpeechBrain's ``Augmenter``
  with ``SpeedPerturb``);
* ``spec_augment`` (``ast_sb.lobes.augment.SpecAugment`` or None),
  ``mixup`` (``ast_sb.lobes.augment.Mixup`` or None: in-batch fbank mixup;
  batches of a ``ast_sb.training.waveform_mixup.WaveformMixupDataset`` carry
  ``mixup_lam`` / ``mixup_label`` and get soft targets too),
  ``augment_before_norm``
  (bool, True: mixup and masking on the fbank before ``mean_var_norm``, the
  order of the original AST code, where masked bins are 0 *before*
  normalisation);
* ``head_lr_multiplier`` (float, 1.0), ``lr_scheduler``
  (``WarmupDecayScheduler`` or None);
* ``layer_decay`` (float in (0, 1] or None): timm's layer-wise lr decay of
  the encoder (:mod:`ast_sb.training.param_groups`);
* ``grad_checkpointing`` (bool or None): the embedding model's
  ``set_grad_checkpointing`` (recompute the blocks in the backward pass);
* ``seed`` (int, 0), ``reseed_every_batch`` (bool, True);
* ``average_last_n_epochs`` (int or None): test and export the average
  weights of the last N epochs (the last N end-of-epoch checkpoints are
  kept for it; the test log then says ``Epoch loaded: average of epochs
  131-150``, see :meth:`AudioSpectrogramTransformerBrain.tested_weights`);
* ``train_logger``, ``per_class_stats_file`` (path), ``label_encoder``;
* run options such as ``max_grad_norm`` (0: no clipping),
  ``remove_vector_weight_decay`` (weight decay 0 for 1-d parameters and the
  encoder's ``no_weight_decay()``), ``precision``,
  ``ckpt_interval_minutes`` / ``ckpt_interval_steps`` may also live in the
  hparams (SpeechBrain's own mechanism).

Precision: ``precision: bf16`` is bfloat16 autocast; ``precision: fp16`` is
float16 autocast with a ``torch.GradScaler`` (dynamic loss scaling, steps
with inf/NaN gradients are skipped, the scaler state is checkpointed), which
is SpeechBrain's own handling on CUDA; SpeechBrain refuses fp16 on the CPU,
where this Brain sets up the same (autocast + GradScaler on the CPU) instead.
The front end always runs in float32, and the loss in float32.

Authors
 * ast_sb developers 2026
"""

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import random
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import speechbrain as sb
import torch
import torch.nn.functional as F
import yaml
from speechbrain.dataio.batch import PaddedData
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.autocast import TorchAutocast
from speechbrain.utils.distributed import if_main_process
from speechbrain.utils.run_opts import RunOptions

from ast_sb.dataio.datasets import collate_clips
from ast_sb.dataio.validation import check_relative_lengths, check_waveforms
from ast_sb.evaluation.metrics import AccuracyStats, MultiLabelStats
from ast_sb.inference.fast import InferencePath
from ast_sb.inference.pipeline import accepts_lengths
from ast_sb.inference.windows import (
    combine_window_scores,
    cut_windows,
    grid_samples,
    run_by_length,
    window_samples,
)
from ast_sb.lobes.augment import Mixup
from ast_sb.lobes.features import sample_counts
from ast_sb.training.averaging import average_last_epochs, describe_average
from ast_sb.training.checkpoints import make_crash_safe
from ast_sb.training.param_groups import parameter_groups, unwrap

logger = logging.getLogger(__name__)

_HEAD_MODULES = ("classifier",)


def _defer_cpu_fp16(run_opts, hparams):
    """Takes ``fp16`` (which SpeechBrain refuses on the CPU) out of the
    options of a CPU run, for ``_enable_cpu_fp16`` to set up afterwards.

    Returns ``(run_opts, hparams, None or (train_fp16, eval_fp16))``; the
    options follow SpeechBrain's priority (default < hparams < run_opts).
    """
    opts = run_opts
    if isinstance(opts, dict) or opts is None:
        opts = RunOptions.from_dictionary(dict(opts or {}))

    def option(name):
        if name in opts.overridden_args:
            return opts[name]
        if hparams is not None and name in hparams:
            return hparams[name]
        return getattr(RunOptions(), name)

    device = option("device") or sb.utils.distributed.infer_device()
    fp16 = [option(n) == "fp16" for n in ("precision", "eval_precision")]
    if not str(device).startswith("cpu") or not any(fp16):
        return run_opts, hparams, None
    hparams = dict(hparams) if hparams is not None else None
    changes = {}
    for name, is_fp16 in zip(("precision", "eval_precision"), fp16):
        if is_fp16:
            if name in opts.overridden_args:
                changes[name] = "fp32"
            if hparams is not None and name in hparams:
                hparams[name] = "fp32"
    return dataclasses.replace(opts, **changes), hparams, tuple(fp16)


@sb.utils.checkpoints.register_checkpoint_hooks
class AudioSpectrogramTransformerBrain(sb.Brain):
    """Brain for AST single-label or multi-label audio classification.

    Modules (``self.modules``):

    * ``compute_features``: ``(wavs [B, N], lengths [B]) -> feats [B, T, F]``
      (called with the waveform only if its forward takes one argument);
    * ``mean_var_norm``: ``(feats, lengths) -> feats``;
    * ``embedding_model``: ``(feats, lengths) -> [B, 1, D]``;
    * ``classifier``: ``[B, 1, D] -> [B, 1, C]`` (log-probabilities or
      logits for single-label, logits for multi-label).

    Batch keys: ``id``, ``sig`` (waveforms and relative lengths) and the
    label key (hparam ``label_key``, default ``label_encoded``): a
    LongTensor [B, 1] or [B] of class indices (single-label) or a float
    multi-hot [B, C] (multi-label).

    ``compute_forward`` returns ``(outputs [B, 1, C], lengths, mix)`` where
    ``mix`` is ``(lam, index)`` from ``Mixup`` in training (else None).

    Arguments
    ---------
    modules : dict
        The modules listed above.
    opt_class : callable
        Optimizer class taking a list of param groups (e.g.
        ``!name:torch.optim.Adam`` with ``lr``); its default lr is the
        encoder lr and ``head_lr_multiplier`` times it the classifier lr.
    hparams : dict
        Hyperparameters (see the module docstring).
    run_opts : dict
        SpeechBrain run options.
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        Checkpointer; the ``lr_scheduler`` is registered in it.

    Example
    -------
    >>> import speechbrain as sb
    >>> class Frames(torch.nn.Module):
    ...     def forward(self, wavs, lengths=None):
    ...         return wavs.unfold(1, 16, 8).abs().add(1e-3).log()
    >>> class Pool(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.lin = torch.nn.Linear(16, 8)
    ...     def forward(self, feats, lengths=None):
    ...         return self.lin(feats).mean(dim=1, keepdim=True)
    >>> modules = {
    ...     "compute_features": Frames(),
    ...     "mean_var_norm": torch.nn.Identity(),
    ...     "embedding_model": Pool(),
    ...     "classifier": torch.nn.Sequential(
    ...         torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=-1)
    ...     ),
    ... }
    >>> brain = AudioSpectrogramTransformerBrain(
    ...     modules=modules,
    ...     opt_class=lambda groups: torch.optim.Adam(groups, lr=1e-3),
    ...     hparams={"head_lr_multiplier": 10.0},
    ...     run_opts={"device": "cpu"},
    ... )
    >>> data = sb.dataio.dataset.DynamicItemDataset(
    ...     {
    ...         f"u{i}": {
    ...             "sig": torch.randn(160),
    ...             "label_encoded": torch.LongTensor([i % 3]),
    ...         }
    ...         for i in range(6)
    ...     },
    ...     output_keys=["id", "sig", "label_encoded"],
    ... )
    >>> brain.fit(
    ...     [1], data, data, progressbar=False,
    ...     train_loader_kwargs={"batch_size": 3},
    ...     valid_loader_kwargs={"batch_size": 3},
    ... )
    >>> [g["lr"] for g in brain.optimizer.param_groups]
    [0.001, 0.01]
    >>> sorted(brain.valid_stats)
    ['accuracy', 'error', 'loss', 'n_examples']
    """

    def __init__(
        self,
        modules=None,
        opt_class=None,
        hparams=None,
        run_opts=None,
        checkpointer=None,
    ):
        run_opts, hparams, cpu_fp16 = _defer_cpu_fp16(run_opts, hparams)
        super().__init__(
            modules=modules,
            opt_class=opt_class,
            hparams=hparams,
            run_opts=run_opts,
            # atomic saves; recovery skips incomplete checkpoints
            checkpointer=make_crash_safe(checkpointer),
        )
        if cpu_fp16:
            self._enable_cpu_fp16(*cpu_fp16)
        self._epoch = 0
        self._has_valid = True
        self._train_set = None
        self._two_arg_cache: Dict[int, bool] = {}
        # encoder inference path of the test (evaluate), see on_evaluate_start
        self.test_path: Optional[InferencePath] = None
        self.averaged_epochs: Optional[List[int]] = None
        self.train_stats: Dict[str, float] = {}
        self.valid_stats: Dict[str, float] = {}
        self.test_stats: Dict[str, float] = {}
        # clips left out of batches (on_corrupt: skip): id -> reason, for
        # the running stage and for the whole run (per stage name)
        self._stage_skipped: Dict[str, str] = {}
        self.skipped_clips: Dict[str, Dict[str, str]] = {}
        self._clip_norm: Optional[float] = None  # see optimizers_step
        self._set_grad_checkpointing()
        scheduler = self._hp("lr_scheduler")
        if scheduler is not None and self.checkpointer is not None:
            registered = self.checkpointer.recoverables.values()
            if not any(obj is scheduler for obj in registered):
                self.checkpointer.add_recoverable("lr_scheduler", scheduler)

    def _enable_cpu_fp16(self, train: bool, evaluate: bool) -> None:
        """float16 autocast (and a GradScaler for training) on the CPU.

        SpeechBrain 1.1.2 refuses ``precision: fp16`` on the CPU; this is
        what its Brain does for fp16 on CUDA (``TorchAutocast`` with
        float16, an enabled ``torch.GradScaler`` registered in the
        checkpointer as "scaler"), with the CPU as device type.
        """
        logger.info(
            "precision fp16 on the CPU: float16 autocast (%s)%s",
            "training" if train else "evaluation",
            " with a GradScaler" if train else "",
        )
        if train:
            self.precision = "fp16"
            self.training_ctx = TorchAutocast(
                device_type="cpu", dtype=torch.float16
            )
            self.scaler = torch.GradScaler("cpu", enabled=True)
            if self.checkpointer is not None:
                self.checkpointer.add_recoverable(
                    "scaler", self.scaler, optional_load=True
                )
        if evaluate:
            self.eval_precision = "fp16"
            self.evaluation_ctx = TorchAutocast(
                device_type="cpu", dtype=torch.float16
            )

    def _set_grad_checkpointing(self) -> None:
        """Applies hparam ``grad_checkpointing`` to the embedding model."""
        enable = self._hp("grad_checkpointing")
        if enable is None or "embedding_model" not in self.modules:
            return
        encoder = unwrap(self.modules["embedding_model"])
        if hasattr(encoder, "set_grad_checkpointing"):
            encoder.set_grad_checkpointing(bool(enable))
        elif enable:
            raise ValueError(
                "grad_checkpointing: True needs an embedding_model with "
                f"set_grad_checkpointing(); {type(encoder).__name__} has none."
            )

    # ------------------------------------------------------------------
    # helpers
    def _hp(self, name: str, default=None):
        """Returns hparam ``name`` or ``default`` when absent (or None)."""
        hparams = getattr(self, "hparams", None)
        value = getattr(hparams, name, None) if hparams is not None else None
        return default if value is None else value

    @property
    def multi_label(self) -> bool:
        """Whether the task is multi-label (hparam ``multi_label``)."""
        return bool(self._hp("multi_label", False))

    def _call(self, name: str, x: torch.Tensor, lengths: torch.Tensor):
        """Calls module ``name`` with lengths if its forward accepts them."""
        module = self.modules[name]
        key = id(module)
        if key not in self._two_arg_cache:
            self._two_arg_cache[key] = accepts_lengths(module)
        if self._two_arg_cache[key]:
            return module(x, lengths)
        return module(x)

    def _frame_lengths(
        self, lengths: torch.Tensor, num_samples: int
    ) -> torch.Tensor:
        """Converts waveform-relative lengths into feature-relative ones.

        A clip of n samples has 1 + (n - 400) // 160 frames, which is not
        exactly its waveform fraction of the padded batch's frames; the
        front end's ``relative_frame_lengths`` gives the exact value so the
        encoder's padding mask covers exactly the clip's own frames.
        """
        features = self.modules["compute_features"]
        convert = getattr(features, "relative_frame_lengths", None)
        if convert is None:
            return lengths
        return convert(lengths, num_samples)

    def _targets(self, batch) -> torch.Tensor:
        """Returns the label tensor of the batch (padding removed)."""
        targets = getattr(batch, self._hp("label_key", "label_encoded"))
        if isinstance(targets, PaddedData):
            targets = targets.data
        return targets.to(self.device)

    @staticmethod
    def _ids(batch, n: int) -> List[str]:
        """Returns the ids of the batch examples."""
        ids = getattr(batch, "id", None)
        if ids is None:
            raise ValueError("Batches need an 'id' key for the metrics.")
        return list(ids)[:n]

    def _batch_seed(self) -> int:
        """Seed of the current training batch (seed, rank, epoch, step)."""
        rank = os.environ.get("RANK", "0")
        key = f"{self._hp('seed', 0)}:{rank}:{self._epoch}:{self.step}"
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") & ((1 << 63) - 1)

    @contextlib.contextmanager
    def _batch_rng(self):
        """Forks the RNGs and seeds them from the batch position.

        Augmentation draws, dropout and drop-path of a training batch then
        depend only on (seed, rank, epoch, step), so a run resumed from an
        (intra-epoch) checkpoint reproduces the uninterrupted one exactly,
        and the RNGs outside training batches are left untouched. The
        torch (CPU and current CUDA device), NumPy and Python ``random``
        generators are covered.
        """
        if not self._hp("reseed_every_batch", True):
            yield
            return
        devices = []
        if self.device_type == "cuda" and torch.cuda.is_available():
            devices = [torch.cuda.current_device()]
        seed = self._batch_seed()
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                random.seed(seed)
                np.random.seed(seed % (1 << 32))
                yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

    def _augment(
        self, feats: torch.Tensor, lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[Tuple]]:
        """Applies mixup then SpecAugment (training only)."""
        mix = None
        mixup = self._hp("mixup")
        if mixup is not None and getattr(mixup, "mixup_prob", 1.0) > 0:
            feats, lengths, lam, index = mixup(feats, lengths)
            mix = (lam, index)
        spec_augment = self._hp("spec_augment")
        if spec_augment is not None:
            feats = spec_augment(feats, lengths)
        return feats, lengths, mix

    # ------------------------------------------------------------------
    # forward / loss
    def _checked_signal(self, batch) -> Tuple[torch.Tensor, torch.Tensor]:
        """``batch.sig`` on the Brain's device: waveforms ``[B, N]`` and
        relative lengths ``[B]``, checked by the input rule
        (:mod:`ast_sb.dataio.validation`)."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        wavs = check_waveforms(wavs, "batch.sig waveforms")
        lengths = check_relative_lengths(
            lengths, len(wavs), "batch.sig lengths"
        )
        return wavs, lengths

    def compute_forward(self, batch, stage):
        """Waveforms -> features -> (augment) -> normalise -> AST -> head.

        In validation and test, clips are classified by sliding windows
        (:meth:`_windowed_forward`) of ``eval_window_seconds`` or, when
        unset, of the model's grid; models without a grid (no
        ``target_length``) classify whole clips, each as it is alone.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Batch with ``sig`` (and ``id``).
        stage : speechbrain.Stage
            TRAIN applies mixup / SpecAugment.

        Returns
        -------
        outputs : torch.Tensor
            [B, 1, C] classifier outputs.
        lengths : torch.Tensor
            [B] relative lengths.
        mix : tuple or None
            ``(lam, index)`` of mixup (training), else None.
        """
        wavs, lengths = self._checked_signal(batch)
        train = stage == sb.Stage.TRAIN
        if not train:
            outputs = self._windowed_forward(wavs, lengths)
            return outputs, lengths, None
        outputs, lengths, mix = self._forward_waveforms(wavs, lengths, train)
        return outputs, lengths, mix

    def _forward_waveforms(
        self, wavs: torch.Tensor, lengths: torch.Tensor, train: bool
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[Tuple]]:
        """Runs the modules on a batch of waveforms [B, N]."""
        before_norm = bool(self._hp("augment_before_norm", True))
        mix = None
        wav_augment = self._hp("wav_augment") if train else None
        if wav_augment is not None:
            wavs, lengths = wav_augment(wavs, lengths)
        # features in float32, outside autocast
        with torch.autocast(device_type=self.device_type, enabled=False):
            feats = self._call("compute_features", wavs.float(), lengths)
            feats = feats.float()
            lengths = self._frame_lengths(lengths, wavs.shape[-1])
            if train and before_norm:
                feats, lengths, mix = self._augment(feats, lengths)
            feats = self._call("mean_var_norm", feats, lengths)
            if train and not before_norm:
                feats, lengths, mix = self._augment(feats, lengths)
        if self.test_path is not None and not train:
            embeddings = self.test_path(feats, lengths)
        else:
            embeddings = self.modules.embedding_model(feats, lengths)
        outputs = self.modules.classifier(embeddings)
        return outputs, lengths, mix

    def _windowed_forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Classifies each clip by averaging over sliding windows.

        Windows of ``eval_window_seconds`` (default: the model's grid) every
        ``eval_hop_seconds`` (default: the window) cover each clip's real
        samples (:func:`ast_sb.inference.windows.cut_windows`); windows that start in
        the padding of shorter clips are never computed. The probabilities
        of a clip's windows are averaged
        (:func:`ast_sb.inference.windows.combine_window_scores`: log of the mean for
        single-label, logit of the mean for multi-label; a single-window
        clip keeps its raw output). The exported inference modules
        (:mod:`ast_sb.inference.pipeline`) run the same functions.

        Arguments
        ---------
        wavs : torch.Tensor
            [B, N] padded waveforms.
        lengths : torch.Tensor
            [B] relative lengths.

        Returns
        -------
        torch.Tensor
            [B, 1, C] clip-level outputs (without windows: the outputs
            of :meth:`_eval_forward`).
        """
        window, hop = self._eval_window()
        num_samples = sample_counts(lengths, wavs.shape[-1]).clamp(min=1)
        if window is None:
            return self._eval_forward(wavs, num_samples)
        chunks, chunk_lengths, clip_index, n_windows = cut_windows(
            wavs, num_samples, window, hop
        )
        chunk_samples = sample_counts(chunk_lengths, window)
        outputs = self._eval_forward(chunks, chunk_samples)
        scores = combine_window_scores(
            outputs, clip_index, n_windows, self.multi_label
        )
        return scores.unsqueeze(1)

    def _eval_forward(
        self, wavs: torch.Tensor, num_samples: torch.Tensor
    ) -> torch.Tensor:
        """Eval forward of clips that each get their output alone.

        A front end with the padding convention (``KaldiFbank``) runs the
        padded batch at once; others (SpeechBrain's ``Fbank``) run clips of
        equal length together (:func:`ast_sb.inference.windows.run_by_length`), as
        the exported folder does.
        """
        exact = hasattr(self.modules["compute_features"], "valid_frames")
        return run_by_length(
            lambda w, n: self._forward_waveforms(w, n, False)[0],
            wavs,
            num_samples,
            exact,
        )

    def _eval_window(self) -> Tuple[Optional[int], Optional[int]]:
        """Validation / test window and hop in samples (None: no windows).

        ``eval_window_seconds`` / ``eval_hop_seconds`` when set, else the
        model's grid (front end or encoder ``target_length``), so a clip
        longer than the grid is classified by windows and never cut.
        """
        grid = grid_samples(
            self.modules["compute_features"], self.modules["embedding_model"]
        )
        return window_samples(
            int(self._hp("sample_rate", 16000)),
            self._hp("eval_window_seconds"),
            self._hp("eval_hop_seconds"),
            grid,
        )

    def compute_objectives(self, predictions, batch, stage):
        """Computes the loss and accumulates the evaluation metrics.

        Arguments
        ---------
        predictions : tuple
            Output of ``compute_forward``.
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch (labels under hparam ``label_key``).
        stage : speechbrain.Stage
            Metrics are accumulated for VALID and TEST.

        Returns
        -------
        torch.Tensor
            Scalar loss: soft-target cross-entropy / NLL (single-label) or
            BCE with logits (multi-label).
        """
        outputs, _, mix = predictions
        scores = outputs.float()
        if scores.dim() == 3:
            scores = scores.squeeze(1)
        targets = self._targets(batch)
        soft = None
        if stage == sb.Stage.TRAIN:
            soft = self._soft_targets(batch, targets, scores.shape, mix)
        if self.multi_label:
            targets = targets.float().reshape(scores.shape)
            soft = targets if soft is None else soft
            loss = F.binary_cross_entropy_with_logits(scores, soft)
        else:
            targets = targets.long().reshape(-1)
            # idempotent on log-probabilities, normalises raw logits
            log_probs = F.log_softmax(scores, dim=-1)
            if soft is None:
                loss = F.nll_loss(log_probs, targets)
            else:
                loss = -(soft * log_probs).sum(dim=-1).mean()
        if stage != sb.Stage.TRAIN:
            self.stats.append(
                self._ids(batch, scores.shape[0]), scores, targets
            )
        return loss

    def _dense_targets(self, targets: torch.Tensor, shape) -> torch.Tensor:
        """[B, C] float targets: multi-hot as is, class indices one-hot."""
        if self.multi_label:
            return targets.float().reshape(shape)
        return F.one_hot(targets.long().reshape(-1), shape[-1]).float()

    def _soft_targets(self, batch, targets, shape, mix):
        """Mixup soft targets [B, C], or None without mixup.

        Waveform mixup (``ast_sb.training.waveform_mixup.WaveformMixupDataset``:
        batch keys ``mixup_lam`` and ``mixup_label``) gives
        ``lam * y + (1 - lam) * y_partner``; in-batch fbank mixup (``mix``)
        then mixes those targets like the features.
        """
        wave_lam = getattr(batch, "mixup_lam", None)
        if wave_lam is None and mix is None:
            return None
        soft = self._dense_targets(targets, shape)
        if wave_lam is not None:
            partner = batch.mixup_label
            if isinstance(partner, PaddedData):
                partner = partner.data
            if isinstance(wave_lam, PaddedData):
                wave_lam = wave_lam.data
            lam = wave_lam.to(self.device).float().reshape(-1, 1)
            partner = self._dense_targets(partner.to(self.device), shape)
            soft = lam * soft + (1.0 - lam) * partner
        if mix is not None:
            soft = Mixup.mix_targets(soft, *mix)
        return soft

    # ------------------------------------------------------------------
    # optimisation
    def init_optimizers(self):
        """One optimizer with encoder and head (``classifier``) param groups
        (:func:`ast_sb.training.param_groups.parameter_groups`).

        The head's lr is ``head_lr_multiplier`` times the optimizer's
        default lr; with hparam ``layer_decay`` the encoder's layers get
        timm's layer-wise lr decay; with SpeechBrain's
        ``remove_vector_weight_decay`` the 1-d parameters and the modules'
        ``no_weight_decay()`` (position embedding, cls and distillation
        tokens) get weight decay 0. The optimizer's step pre-hook clips the
        gradients (:meth:`optimizers_step`).
        """
        if self.opt_class is None:
            super().init_optimizers()
            return
        groups, lr_scales = parameter_groups(
            self.modules,
            _HEAD_MODULES,
            remove_vector_weight_decay=self.remove_vector_weight_decay,
            layer_decay=self._hp("layer_decay"),
            head_lr_scale=float(self._hp("head_lr_multiplier", 1.0)),
        )
        self.optimizer = self.opt_class(groups)
        for group, scale in zip(self.optimizer.param_groups, lr_scales):
            group["lr"] = group["lr"] * scale
        self.optimizer.register_step_pre_hook(self._clip_gradients)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def optimizers_step(self):
        """SpeechBrain's step, with *all* param groups clipped together.

        SpeechBrain 1.1.2 clips only ``param_groups[0]`` of each optimizer
        to ``max_grad_norm`` (and zeroes every gradient when it is 0). Its
        clip is made a no-op here (``max_grad_norm`` is infinite while
        SpeechBrain's ``optimizers_step`` runs); the optimizer's step
        pre-hook (:meth:`_clip_gradients`), called by the step after the
        gradients were unscaled, clips the total norm of every group
        instead (``max_grad_norm`` 0 or None: no clipping).
        """
        self._clip_norm, self.max_grad_norm = self.max_grad_norm, math.inf
        try:
            super().optimizers_step()
        finally:
            self.max_grad_norm, self._clip_norm = self._clip_norm, None

    def _clip_gradients(self, optimizer, args, kwargs) -> None:
        """Optimizer step pre-hook: clips all of the optimizer's gradients
        to the ``max_grad_norm`` of the running :meth:`optimizers_step`."""
        max_norm = getattr(self, "_clip_norm", None)
        if not max_norm or max_norm <= 0:
            return
        params = [
            p
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if params:
            torch.nn.utils.clip_grad_norm_(params, max_norm)

    def fit_batch(self, batch):
        """Trains on one batch with the RNG seeded from the batch position.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Training batch.

        Returns
        -------
        torch.Tensor
            Detached loss.
        """
        if self._take_skipped(batch):
            # no usable clip: no step (a NaN loss leaves the average as is)
            return torch.tensor(float("nan"))
        with self._batch_rng():
            return super().fit_batch(batch)

    def evaluate_batch(self, batch, stage):
        """Evaluates one batch (a batch without usable clips is skipped).

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        stage : speechbrain.Stage
            VALID or TEST.

        Returns
        -------
        torch.Tensor
            Detached loss (NaN for a batch without usable clips, which the
            running average ignores).
        """
        if self._take_skipped(batch):
            return torch.tensor(float("nan"))
        return super().evaluate_batch(batch, stage)

    def _take_skipped(self, batch) -> bool:
        """Records the batch's skipped clips; True if it has no clip left."""
        skipped = getattr(batch, "skipped_clips", None)
        if skipped:
            self._stage_skipped.update(skipped)
        return getattr(batch, "batchsize", None) == 0

    def _report_skipped(self, stage, epoch=None) -> int:
        """Logs the clips skipped in the stage that ended; returns count."""
        skipped, self._stage_skipped = self._stage_skipped, {}
        if not skipped:
            return 0
        self.skipped_clips.setdefault(stage.name, {}).update(skipped)
        shown = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:5])
        more = f"; ... ({len(skipped)} in all)" if len(skipped) > 5 else ""
        where = stage.name.lower() + (
            "" if epoch is None else f" epoch {epoch}"
        )
        logger.warning(
            "%d unusable clip(s) skipped in %s (on_corrupt: skip): %s%s",
            len(skipped),
            where,
            shown,
            more,
        )
        return len(skipped)

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """SpeechBrain's ``make_dataloader`` with :func:`collate_clips`.

        ``DynamicItemDataset`` batches default to
        ``ast_sb.dataio.datasets.collate_clips`` (a ``PaddedBatch`` that leaves out
        and lists clips skipped under ``on_corrupt: skip``).

        Arguments
        ---------
        dataset : Dataset
            The data.
        stage : speechbrain.Stage
            The stage.
        ckpt_prefix : str, optional
            Checkpoint name prefix of the loader (None: not saved).
        **loader_kwargs : dict
            DataLoader options.

        Returns
        -------
        DataLoader
            The loader.
        """
        if isinstance(dataset, DynamicItemDataset):
            loader_kwargs.setdefault("collate_fn", collate_clips)
        if (
            stage == sb.Stage.TRAIN
            and loader_kwargs.get("persistent_workers")
            and hasattr(dataset, "set_epoch")
        ):
            logger.warning(
                "persistent_workers keep the epoch of their first epoch: "
                "random crops then repeat and a resumed run differs; use "
                "persistent_workers: False"
            )
        return super().make_dataloader(
            dataset, stage, ckpt_prefix=ckpt_prefix, **loader_kwargs
        )

    @sb.utils.checkpoints.mark_as_saver
    def _save(self, path):
        """Saves SpeechBrain's counters and the clips skipped this epoch.

        Arguments
        ---------
        path : str or pathlib.Path
            File to write (YAML).
        """
        sb.Brain._save(self, path)
        with open(path, "a", encoding="utf-8") as fout:
            fout.write(yaml.dump({"stage_skipped": dict(self._stage_skipped)}))

    @sb.utils.checkpoints.mark_as_loader
    def _recover(self, path, end_of_epoch):
        """Restores SpeechBrain's counters and the skipped clips.

        Arguments
        ---------
        path : str or pathlib.Path
            File written by ``_save``.
        end_of_epoch : bool
            Whether the checkpoint is at the end of an epoch.
        """
        sb.Brain._recover(self, path, end_of_epoch)
        with open(path, encoding="utf-8") as fin:
            saved = yaml.safe_load(fin)
        self._stage_skipped = dict(saved.get("stage_skipped") or {})

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Steps the per-batch lr schedule after an optimizer update.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        outputs : tuple
            Output of ``compute_forward``.
        loss : torch.Tensor
            The loss.
        should_step : bool
            Whether the optimizer stepped.
        """
        scheduler = self._hp("lr_scheduler")
        if should_step and scheduler is not None and self.opt_class:
            scheduler.on_batch_end(self.optimizer)

    def on_fit_start(self):
        """Builds optimizers, recovers, then sets the scheduled lrs."""
        self.test_path = None  # validation runs the trained module itself
        super().on_fit_start()
        scheduler = self._hp("lr_scheduler")
        if scheduler is not None and self.opt_class is not None:
            scheduler.attach(self.optimizer)

    def fit(self, epoch_counter, train_set, valid_set=None, *args, **kwargs):
        """Runs ``speechbrain.Brain.fit``.

        Without a validation set the end-of-epoch checkpoint is saved after
        training (its metadata then has no error / mAP).

        Arguments
        ---------
        epoch_counter : iterable
            Epoch counter.
        train_set : Dataset or DataLoader
            Training data.
        valid_set : Dataset or DataLoader, optional
            Validation data.
        *args : tuple
            Passed on.
        **kwargs : dict
            Passed on.
        """
        self._has_valid = valid_set is not None
        self._train_set = train_set
        # SpeechBrain reshuffles only its own samplers: a given (weighted)
        # sampler or dynamic batch sampler also needs ``set_epoch`` at
        # every epoch, else it repeats its first epoch's order
        loader_kwargs = kwargs.get("train_loader_kwargs") or {}
        for key in ("sampler", "batch_sampler"):
            if hasattr(loader_kwargs.get(key), "set_epoch"):
                self.train_sampler = loader_kwargs[key]
        return super().fit(epoch_counter, train_set, valid_set, *args, **kwargs)

    # ------------------------------------------------------------------
    # stages
    def on_stage_start(self, stage, epoch=None):
        """Creates the metric accumulator of the stage.

        Arguments
        ---------
        stage : speechbrain.Stage
            The stage.
        epoch : int, optional
            The epoch.
        """
        if stage == sb.Stage.TRAIN and epoch is not None:
            self._epoch = int(epoch)
            # streamed (WebDataset) data reshuffles its shards per epoch
            data = getattr(self, "_train_set", None)
            data = getattr(data, "dataset", data)
            if hasattr(data, "set_epoch"):
                data.set_epoch(int(epoch))
        self.stats = MultiLabelStats() if self.multi_label else AccuracyStats()

    def _current_lrs(self) -> Dict[str, float]:
        """Returns the lr of every param group, keyed by group name."""
        if getattr(self, "optimizer", None) is None:
            return {}
        lrs = {}
        for i, group in enumerate(self.optimizer.param_groups):
            lrs[f"lr_{group.get('name', i)}"] = group["lr"]
        return lrs

    def _reduce_loss(self, loss: float) -> float:
        """Averages a stage loss over DDP ranks (identity otherwise)."""
        if not (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            return float(loss)
        device = self.device if self.device_type == "cuda" else "cpu"
        value = torch.tensor([float(loss)], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(value)
        return float(value.item()) / torch.distributed.get_world_size()

    def _checkpoint_key(self) -> Dict[str, List[str]]:
        """Checkpoint selection keys: max mAP or min error."""
        if self.multi_label:
            return {"max_keys": ["mAP"]}
        return {"min_keys": ["error"]}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Steps the epoch schedule, logs, checkpoints, writes test stats.

        Arguments
        ---------
        stage : speechbrain.Stage
            The stage that ended.
        stage_loss : float
            Average loss of the stage.
        epoch : int, optional
            The epoch.
        """
        n_skipped = self._report_skipped(stage, epoch)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": float(stage_loss)}
            if n_skipped:
                self.train_stats["skipped_clips"] = n_skipped
            self._epoch_lrs = self._current_lrs()
            scheduler = self._hp("lr_scheduler")
            if scheduler is not None and self.opt_class is not None:
                scheduler.on_epoch_end(epoch, self.optimizer)
            if not self._has_valid:
                self._log({"epoch": epoch, **self._epoch_lrs}, self.train_stats)
                if self.checkpointer is not None:
                    # the epoch is over: save the counters of a new epoch
                    # (``_fit_train`` resets them right after this hook)
                    self.step = 0
                    self.avg_train_loss = 0.0
                    self.checkpointer.save_and_keep_only(
                        meta={"epoch": epoch, "loss": float(stage_loss)},
                        num_to_keep=self._num_to_keep(),
                    )
            return

        stats = {"loss": self._reduce_loss(stage_loss)}
        stats.update(self.stats.summarize())
        if n_skipped:
            stats["skipped_clips"] = n_skipped
        if stage == sb.Stage.VALID:
            self.valid_stats = stats
            meta = {"epoch": epoch, **self._epoch_lrs}
            self._log(meta, self.train_stats, valid_stats=stats)
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(
                    meta={"epoch": epoch, **stats},
                    num_to_keep=self._num_to_keep(),
                    **self._checkpoint_key(),
                )
        elif stage == sb.Stage.TEST:
            self.test_stats = stats
            self._log(
                {"Epoch loaded": self.tested_weights()},
                None,
                test_stats=stats,
            )
            self._write_per_class_stats()

    def _log(self, meta, train_stats, valid_stats=None, test_stats=None):
        """Logs with ``hparams.train_logger`` if present, else the logger."""
        train_logger = self._hp("train_logger")
        if train_logger is not None:
            train_logger.log_stats(
                stats_meta=meta,
                train_stats=train_stats,
                valid_stats=valid_stats,
                test_stats=test_stats,
            )
        elif if_main_process():
            logger.info(
                "%s train: %s valid: %s test: %s",
                meta,
                train_stats,
                valid_stats,
                test_stats,
            )

    def _write_per_class_stats(self):
        """Writes per-class test results to ``per_class_stats_file``."""
        path = self._hp("per_class_stats_file")
        if path is None or not if_main_process():
            return
        labels = None
        encoder = self._hp("label_encoder")
        if encoder is not None and hasattr(encoder, "ind2lab"):
            ind2lab = encoder.ind2lab
            labels = [ind2lab.get(i, str(i)) for i in range(len(ind2lab))]
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            self.stats.write_stats(f, labels=labels)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Recovers the best checkpoint (error or mAP when no key is given).

        With hparam ``average_last_n_epochs`` (N >= 1) the recovered weights
        are then replaced by the average of the last N end-of-epoch
        checkpoints (``ast_sb.training.averaging``; the original AST AudioSet recipe's
        weight averaging), so the test and the export use the average; the
        averaged epochs are in ``self.averaged_epochs``.

        Arguments
        ---------
        max_key : str, optional
            Higher-is-better checkpoint key.
        min_key : str, optional
            Lower-is-better checkpoint key.
        """
        if max_key is None and min_key is None and self.checkpointer:
            keys = self._checkpoint_key()
            max_key = keys.get("max_keys", [None])[0]
            min_key = keys.get("min_keys", [None])[0]
            has_key = self.checkpointer.find_checkpoint(
                max_key=max_key, min_key=min_key
            )
            if has_key is None:
                max_key = min_key = None
        super().on_evaluate_start(max_key=max_key, min_key=min_key)
        n_average = self._hp("average_last_n_epochs")
        self.averaged_epochs = None
        if n_average and self.checkpointer is not None:
            self.averaged_epochs = average_last_epochs(
                self.checkpointer, int(n_average)
            )
        self.test_path = self._make_test_path()

    def tested_weights(self) -> Union[int, str, None]:
        """What the last ``evaluate`` tested: the epoch of the recovered
        checkpoint (int, None when unknown), or ``"average of epochs
        131-150"`` when ``average_last_n_epochs`` replaced it
        (:func:`ast_sb.training.averaging.describe_average`).

        Returns
        -------
        int or str or None
            The recovered epoch or the averaged epochs in words.
        """
        if self.averaged_epochs:
            return describe_average(self.averaged_epochs)
        counter = self._hp("epoch_counter")
        return None if counter is None else getattr(counter, "current", None)

    def _make_test_path(self) -> Optional[InferencePath]:
        """The encoder's inference path of the test (hparam
        ``inference_fast_path``, default "auto": the fastest path within
        1e-4 of fp32 on this machine; "fp32", "onednn", "int8", "bf16").

        None (the module as it is) under DDP, with a non-fp32 evaluation
        precision (its autocast applies) or an encoder without lengths.
        """
        path = self._hp("inference_fast_path", "auto")
        module = self.modules["embedding_model"]
        if (
            self.distributed_launch
            or getattr(self, "eval_precision", "fp32") != "fp32"
            or not accepts_lengths(module)
        ):
            return None
        return InferencePath(module, path)

    def _num_to_keep(self) -> int:
        """Recent checkpoints to keep: all the epochs to average (>= 1)."""
        return max(1, int(self._hp("average_last_n_epochs", 1)))
