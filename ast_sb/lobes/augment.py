"""Batch-level feature augmentation for the Audio Spectrogram Transformer.

Two augmentations used by the original AST training recipes (Gong et al.,
"AST: Audio Spectrogram Transformer", Interspeech 2021):

* ``SpecAugment``: frequency and time masking on fbank features, with masks
  drawn independently for every example by torchaudio's
  ``mask_along_axis_iid`` (``FrequencyMasking`` / ``TimeMasking`` with
  ``iid_masks=True``); time masks stay inside each clip's own frames.
* ``Mixup``: with probability ``mixup_prob`` an example is mixed with another
  example of the batch (fbank features, unlike the original's waveform
  mixup, see ``ast_sb.training.waveform_mixup``), ``x = lam * x1 + (1 - lam) * x2`` with
  ``lam ~ Beta(alpha, alpha)`` (``alpha = 10`` in the AST code); the targets
  become ``lam * y1 + (1 - lam) * y2`` (see ``Mixup.mix_targets``).

The recipe YAMLs give the SpecAugment widths as top-level ``freq_mask`` /
``time_mask`` keys scaled to their ``n_mels`` / ``target_length`` by
:func:`scaled_mask_width` (the original recipe's widths at its input size;
a number given on the command line overrides).

Both draw their random numbers from the global torch RNG, so seeding it (as
``AudioSpectrogramTransformerBrain`` does for every training batch) makes them
reproducible.

Authors
 * ast_sb developers 2026
"""

import math
from typing import Optional, Tuple

import torch
from torch import nn
from torchaudio.functional import mask_along_axis_iid


def scaled_mask_width(width: int, reference: int, size: int) -> int:
    """A SpecAugment mask width scaled to another input size.

    ``round(width * size / reference)``: the same fraction of the axis as
    ``width`` of ``reference`` (e.g. AST's AudioSet recipe: 192 of 1024
    frames, 48 of 128 mel bins).

    Arguments
    ---------
    width : int
        Mask width (exclusive bound) at the reference size.
    reference : int
        Axis length the width was chosen for (frames or mel bins).
    size : int
        This model's axis length (``target_length`` or ``n_mels``).

    Returns
    -------
    int
        The scaled width (0 stays 0, halves round up).

    Example
    -------
    >>> scaled_mask_width(192, 1024, 1024), scaled_mask_width(192, 1024, 100)
    (192, 19)
    >>> scaled_mask_width(48, 128, 64)
    24
    """
    if width < 0 or reference < 1 or size < 1:
        raise ValueError(
            f"Mask width {width} of {reference} cannot be scaled to {size}"
        )
    return int(math.floor(width * size / reference + 0.5))


def _mask_iid(
    feats: torch.Tensor, mask_param: int, n_masks: int, axis: int, value: float
) -> torch.Tensor:
    """``n_masks`` masks per example along ``axis`` (1: time, 2: frequency).

    torchaudio's ``mask_along_axis_iid`` (what ``FrequencyMasking`` /
    ``TimeMasking`` with ``iid_masks=True`` call), with the width bound
    clamped to the axis length.
    """
    mask_param = min(mask_param, feats.shape[axis])
    for _ in range(n_masks):
        feats = mask_along_axis_iid(feats, mask_param, value, axis)
    return feats


class SpecAugment(nn.Module):
    """AST-style SpecAugment: iid frequency and time masks per example.

    Every example gets ``n_freq_masks`` frequency masks whose width is
    uniform in ``[0, freq_mask)`` and ``n_time_masks`` time masks whose width
    is uniform in ``[0, time_mask)`` (integers, like torchaudio's
    ``FrequencyMasking(freq_mask)`` / ``TimeMasking(time_mask)``). Masked bins
    are set to ``mask_value``. The original AST code masks the log-mel fbank
    with 0 *before* the ``(x - mean) / (2 * std)`` normalisation. The module
    only masks; whether it runs (training only) is the caller's decision.

    Arguments
    ---------
    freq_mask : int
        Exclusive upper bound of the frequency mask width (AST ``freqm``;
        24 for ESC-50, 48 for AudioSet and Speech Commands). 0 disables.
    time_mask : int
        Exclusive upper bound of the time mask width (AST ``timem``; 96 for
        ESC-50, 192 for AudioSet, 48 for Speech Commands). 0 disables.
    n_freq_masks : int
        Number of frequency masks per example.
    n_time_masks : int
        Number of time masks per example.
    mask_value : float
        Value of the masked bins.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> augment = SpecAugment(freq_mask=24, time_mask=96)
    >>> feats = torch.randn(4, 512, 128)
    >>> out = augment(feats)
    >>> out.shape
    torch.Size([4, 512, 128])
    >>> bool(((out == 0).sum() > 0).item())
    True
    """

    def __init__(
        self,
        freq_mask: int = 24,
        time_mask: int = 96,
        n_freq_masks: int = 1,
        n_time_masks: int = 1,
        mask_value: float = 0.0,
    ):
        super().__init__()
        if freq_mask < 0 or time_mask < 0:
            raise ValueError("Mask widths must be >= 0.")
        self.freq_mask = int(freq_mask)
        self.time_mask = int(time_mask)
        self.n_freq_masks = int(n_freq_masks)
        self.n_time_masks = int(n_time_masks)
        self.mask_value = float(mask_value)

    def forward(
        self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Masks the features.

        Arguments
        ---------
        feats : torch.Tensor
            Features [B, T, F].
        lengths : torch.Tensor, optional
            [B] lengths relative to T; time masks are drawn inside the valid
            frames of every example. None: the whole T.

        Returns
        -------
        torch.Tensor
            Masked features [B, T, F].
        """
        if feats.dim() != 3:
            raise ValueError(
                f"SpecAugment expects [B, T, F] features, got {feats.shape}."
            )
        if self.freq_mask > 0 and self.n_freq_masks > 0:
            feats = _mask_iid(
                feats, self.freq_mask, self.n_freq_masks, 2, self.mask_value
            )
        if self.time_mask <= 0 or self.n_time_masks <= 0:
            return feats
        n_frames = feats.shape[1]
        valid = [n_frames] * feats.shape[0]
        if lengths is not None:
            valid = torch.round(lengths.float() * n_frames).clamp(0, n_frames)
            valid = valid.long().tolist()
        if all(n == n_frames for n in valid):
            return _mask_iid(
                feats, self.time_mask, self.n_time_masks, 1, self.mask_value
            )
        # masks only inside each clip's own frames (never in the padding)
        feats = feats.clone()
        for i, n in enumerate(valid):
            if n > 0:
                feats[i, :n] = _mask_iid(
                    feats[i : i + 1, :n],
                    self.time_mask,
                    self.n_time_masks,
                    1,
                    self.mask_value,
                )[0]
        return feats

    def extra_repr(self) -> str:
        """Returns the module configuration as a string.

        Returns
        -------
        str
            The constructor arguments.
        """
        return (
            f"freq_mask={self.freq_mask}, time_mask={self.time_mask}, "
            f"n_freq_masks={self.n_freq_masks}, "
            f"n_time_masks={self.n_time_masks}, mask_value={self.mask_value}"
        )


class Mixup(nn.Module):
    """AST-style mixup inside a batch.

    With probability ``mixup_prob`` each example ``i`` is mixed with another
    example ``j != i`` of the batch (chosen uniformly):
    ``x_i' = lam_i * x_i + (1 - lam_i) * x_j`` with
    ``lam_i ~ Beta(alpha, alpha)``; otherwise ``lam_i = 1`` and ``j = i``.
    ``mix_targets`` applies the same combination to one-hot or multi-hot
    targets, giving soft targets.

    This is *not* the original AST's mixup, which mixes two *waveforms*
    (the partner drawn from the whole data set) and then computes the fbank
    (``ast_sb.training.waveform_mixup.WaveformMixupDataset``, recipe key
    ``waveform_mixup``). The fbank is a log spectrum, so mixing features is
    a different augmentation, not a batched equivalent: for ``lam = 0.5``
    the normalised features of the two mixtures differ by up to 0.97 (a
    tone with noise) and 1.16 (a tone with a chirp): the mean of two log
    spectra against the log spectrum of the summed waveforms, which follows
    the louder clip in each bin.
    It needs no second clip to be loaded, and the partner comes from the
    batch.

    Arguments
    ---------
    mixup_prob : float
        Probability that an example is mixed (AST ``mixup``: 0.5 AudioSet,
        0.6 Speech Commands, 0 ESC-50).
    alpha : float
        Parameter of the symmetric Beta distribution (10 in the AST code).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> mixup = Mixup(mixup_prob=1.0)
    >>> feats = torch.randn(4, 100, 128)
    >>> mixed, lengths, lam, index = mixup(feats, torch.ones(4))
    >>> mixed.shape, lam.shape, index.shape
    (torch.Size([4, 100, 128]), torch.Size([4]), torch.Size([4]))
    >>> targets = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3]), 5)
    >>> soft = Mixup.mix_targets(targets.float(), lam, index)
    >>> torch.allclose(soft.sum(dim=1), torch.ones(4))
    True
    """

    def __init__(self, mixup_prob: float = 0.5, alpha: float = 10.0):
        super().__init__()
        if not 0.0 <= mixup_prob <= 1.0:
            raise ValueError("mixup_prob must be in [0, 1].")
        if alpha <= 0:
            raise ValueError("alpha must be > 0.")
        self.mixup_prob = float(mixup_prob)
        self.alpha = float(alpha)

    def sample(
        self, batch_size: int, device: torch.device = torch.device("cpu")
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draws the mixing weights and partners for a batch.

        Arguments
        ---------
        batch_size : int
            Number of examples B.
        device : torch.device
            Device of the returned tensors.

        Returns
        -------
        lam : torch.Tensor
            [B] weight of the example itself (1.0 for unmixed examples).
        index : torch.Tensor
            [B] LongTensor, index of the partner example (itself if unmixed).
        """
        self_index = torch.arange(batch_size, device=device)
        if batch_size < 2 or self.mixup_prob <= 0.0:
            return torch.ones(batch_size, device=device), self_index
        concentration = torch.tensor(self.alpha, device=device)
        lam = torch.distributions.Beta(concentration, concentration).sample(
            (batch_size,)
        )
        do_mix = torch.rand(batch_size, device=device) < self.mixup_prob
        # a partner different from the example itself
        offset = torch.randint(1, batch_size, (batch_size,), device=device)
        partner = (self_index + offset) % batch_size
        lam = torch.where(do_mix, lam, torch.ones_like(lam))
        index = torch.where(do_mix, partner, self_index)
        return lam, index

    @staticmethod
    def mix(
        x: torch.Tensor, lam: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """Mixes a batched tensor with given weights and partners.

        Arguments
        ---------
        x : torch.Tensor
            [B, ...] tensor (features or one-/multi-hot targets).
        lam : torch.Tensor
            [B] weights of the examples themselves.
        index : torch.Tensor
            [B] partner indices.

        Returns
        -------
        torch.Tensor
            ``lam * x + (1 - lam) * x[index]`` (broadcast over trailing dims).

        Example
        -------
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> Mixup.mix(x, torch.tensor([0.75, 1.0]), torch.tensor([1, 1]))
        tensor([[0.7500, 0.2500],
                [0.0000, 1.0000]])
        """
        shape = (-1,) + (1,) * (x.dim() - 1)
        lam = lam.to(device=x.device, dtype=x.dtype).view(shape)
        return lam * x + (1.0 - lam) * x[index.to(x.device)]

    @staticmethod
    def mix_targets(
        targets: torch.Tensor, lam: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """Turns one-hot or multi-hot targets into mixup soft targets.

        Arguments
        ---------
        targets : torch.Tensor
            [B, C] one-hot or multi-hot targets (cast to float).
        lam : torch.Tensor
            [B] weights returned by ``forward`` / ``sample``.
        index : torch.Tensor
            [B] partner indices returned by ``forward`` / ``sample``.

        Returns
        -------
        torch.Tensor
            [B, C] float soft targets ``lam * y_i + (1 - lam) * y_index``.
        """
        return Mixup.mix(targets.float(), lam.float(), index)

    def forward(
        self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> Tuple[
        torch.Tensor, Optional[torch.Tensor], torch.Tensor, torch.Tensor
    ]:
        """Mixes a batch.

        Arguments
        ---------
        x : torch.Tensor
            [B, ...] features (e.g. [B, T, F]).
        lengths : torch.Tensor, optional
            [B] relative lengths; a mixed example gets the larger of the two.

        Returns
        -------
        mixed : torch.Tensor
            Mixed features, same shape as ``x``.
        lengths : torch.Tensor or None
            Relative lengths of the mixed examples.
        lam : torch.Tensor
            [B] mixing weights (1.0 where not mixed).
        index : torch.Tensor
            [B] partner indices (the example itself where not mixed).
        """
        lam, index = self.sample(x.shape[0], x.device)
        mixed = self.mix(x, lam, index)
        if lengths is not None:
            lengths = torch.maximum(lengths, lengths[index.to(lengths.device)])
        return mixed, lengths, lam, index

    def extra_repr(self) -> str:
        """Returns the module configuration as a string.

        Returns
        -------
        str
            The constructor arguments.
        """
        return f"mixup_prob={self.mixup_prob}, alpha={self.alpha}"
