"""Brain for sound event detection with the frame-level AST head.

:class:`AudioSpectrogramTransformerDetectionBrain` is the classification
Brain (:class:`ast_sb.training.brain.AudioSpectrogramTransformerBrain`: optimizer
groups, lr schedule, gradient clipping, seeded batches, crash-safe
checkpoints) with a different forward and loss:

* ``embedding_model`` is an AST encoder whose ``forward_features`` gives
  the tokens (build it with ``use_padding_mask: True`` so that a clip
  scores the same alone and in a padded batch);
* ``classifier`` is an
  :class:`ast_sb.lobes.frame_level.AudioSpectrogramTransformerFrameClassifier`;
* batches (:func:`ast_sb.dataio.strong_labels.strong_label_dataset`) carry
  ``frame_targets`` [B, K, C], ``weak_targets`` [B, C] and ``strong`` [B].

Loss: ``frame_loss_weight`` x BCE of the frame logits on the frames of
strongly labelled clips + ``clip_loss_weight`` x BCE of the pooled clip
probabilities on the weak targets of every clip. Validation reports the
clip-level mAP (checkpoints are kept by it). Mixup is not supported (frame
targets would need mixing too); SpecAugment (hparam ``spec_augment``)
applies in training.

Authors
 * ast_sb developers 2026
"""

from typing import List, Tuple

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.dataio.batch import PaddedData

from ast_sb.training.brain import AudioSpectrogramTransformerBrain

__all__ = ["AudioSpectrogramTransformerDetectionBrain"]


def _data(value) -> torch.Tensor:
    return value.data if isinstance(value, PaddedData) else value


class AudioSpectrogramTransformerDetectionBrain(
    AudioSpectrogramTransformerBrain
):
    """Trains the frame-level head on strong and weak labels together.

    ``compute_forward`` returns ``(frame_logits [B, K, C], clip_probs
    [B, C], mask [B, K])``.

    Example
    -------
    >>> from ast_sb.lobes.features import KaldiFbank, AudioSpectrogramNormalizer
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> from ast_sb.lobes.frame_level import (
    ...     AudioSpectrogramTransformerFrameClassifier as Head)
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", n_mels=32, target_length=64, depth=1,
    ...     use_padding_mask=True)
    >>> modules = {
    ...     "compute_features": KaldiFbank(n_mels=32),
    ...     "mean_var_norm": AudioSpectrogramNormalizer(),
    ...     "embedding_model": enc,
    ...     "classifier": Head.for_encoder(enc, 2, frame_hop=0.04),
    ... }
    >>> brain = AudioSpectrogramTransformerDetectionBrain(
    ...     modules=modules,
    ...     opt_class=lambda groups: torch.optim.Adam(groups, lr=1e-3),
    ...     hparams={}, run_opts={"device": "cpu"},
    ... )
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> batch = PaddedBatch([
    ...     {"id": "a", "sig": torch.randn(8000),
    ...      "frame_targets": torch.zeros(13, 2),
    ...      "weak_targets": torch.tensor([0.0, 1.0]), "strong": 0.0},
    ...     {"id": "b", "sig": torch.randn(4000),
    ...      "frame_targets": torch.ones(7, 2),
    ...      "weak_targets": torch.tensor([1.0, 1.0]), "strong": 1.0},
    ... ])
    >>> out = brain.compute_forward(batch, sb.Stage.TRAIN)
    >>> out[0].shape, out[2].sum(1).tolist()
    (torch.Size([2, 13, 2]), [13, 7])
    >>> brain.compute_objectives(out, batch, sb.Stage.TRAIN).shape
    torch.Size([])
    """

    @property
    def multi_label(self) -> bool:
        """Event classes are independent (multi-label clip metrics)."""
        return True

    def _make_test_path(self):
        """None: the frame path runs the encoder's ``forward_features`` as
        it is (the inference paths of :mod:`ast_sb.inference.fast` wrap ``forward``)."""
        return None

    def compute_forward(self, batch, stage):
        """Waveforms -> fbank -> (SpecAugment) -> normalise -> tokens -> head.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Batch with ``sig``.
        stage : speechbrain.Stage
            TRAIN applies SpecAugment.

        Returns
        -------
        tuple
            ``(frame_logits, clip_probs, mask)``.
        """
        if self._hp("mixup") is not None:
            raise ValueError(
                "mixup is not supported by the detection Brain (frame "
                "targets are not mixed); remove the mixup hparam."
            )
        wavs, lengths = self._checked_signal(batch)
        train = stage == sb.Stage.TRAIN
        with torch.autocast(device_type=self.device_type, enabled=False):
            feats = self._call("compute_features", wavs.float(), lengths)
            feats = feats.float()
            lengths = self._frame_lengths(lengths, wavs.shape[-1])
            spec_augment = self._hp("spec_augment") if train else None
            if spec_augment is not None:
                feats = spec_augment(feats, lengths)
            feats = self._call("mean_var_norm", feats, lengths)
        tokens = self.modules.embedding_model.forward_features(feats, lengths)
        return self.modules.classifier(tokens, lengths, feats.shape[1])

    def compute_objectives(self, predictions, batch, stage):
        """Frame BCE (strong clips) + clip BCE (all clips).

        Arguments
        ---------
        predictions : tuple
            Output of :meth:`compute_forward`.
        batch : speechbrain.dataio.batch.PaddedBatch
            Batch with ``frame_targets``, ``weak_targets`` and ``strong``.
        stage : speechbrain.Stage
            Clip metrics are accumulated for VALID and TEST.

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        frame_logits, clip_probs, mask = predictions
        frame_logits = frame_logits.float()
        clip_probs = clip_probs.float()
        frames = _data(batch.frame_targets).to(self.device).float()
        weak = _data(batch.weak_targets).to(self.device).float()
        strong = _data(batch.strong).to(self.device).float().reshape(-1)
        if frames.shape != frame_logits.shape:
            raise ValueError(
                f"frame targets {tuple(frames.shape)} do not match the "
                f"head's frames {tuple(frame_logits.shape)}: the dataset's "
                "frame_hop must be the head's."
            )
        weight = mask.float() * strong[:, None]
        per_frame = F.binary_cross_entropy_with_logits(
            frame_logits, frames, reduction="none"
        ).mean(dim=-1)
        frame_loss = (per_frame * weight).sum() / weight.sum().clamp(min=1.0)
        eps = 1e-7
        clip_loss = F.binary_cross_entropy(clip_probs.clamp(eps, 1 - eps), weak)
        loss = (
            float(self._hp("frame_loss_weight", 1.0)) * frame_loss
            + float(self._hp("clip_loss_weight", 1.0)) * clip_loss
        )
        if stage != sb.Stage.TRAIN:
            clip_logits = torch.logit(clip_probs.detach(), eps=eps)
            self.stats.append(self._ids(batch, len(weak)), clip_logits, weak)
        return loss

    def frame_scores(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Eval-mode frame probabilities of a padded batch, one [K_b, C] each.

        Arguments
        ---------
        wavs : torch.Tensor
            [B, N] waveforms.
        lengths : torch.Tensor
            [B] relative lengths.

        Returns
        -------
        list of torch.Tensor
            Each clip's own frames.
        torch.Tensor
            [B, C] clip probabilities.
        """
        self.modules.eval()
        batch = _Batch(wavs.to(self.device), lengths.to(self.device))
        with torch.no_grad():
            logits, clip, mask = self.compute_forward(batch, sb.Stage.TEST)
        probs = torch.sigmoid(logits).cpu()
        counts = mask.sum(dim=1).tolist()
        return [p[:k] for p, k in zip(probs, counts)], clip.cpu()


class _Batch:
    """The ``sig`` of a batch, for :meth:`frame_scores`."""

    def __init__(self, wavs, lengths):
        self.sig = (wavs, lengths)

    def to(self, device):
        return self
