"""The features of SpeechBrain's ESC-50 recipe as one ``compute_features``.

SpeechBrain's ESC-50 recipe computes its features in ``train.py``
(``compute_stft``, ``spectral_magnitude``, ``compute_fbank``, ``log1p``), so
its YAML has no ``compute_features`` for ``EncoderClassifier``.
:class:`StftFilterbankFeatures` chains the recipe's own modules the same
way and attaches the batch's sample count (:mod:`ast_sb.lobes.clip_frames`), so an
AST encoder with ``use_padding_mask`` gives each clip of a padded batch its
own ``1 + n // hop`` frames (``center=True`` STFT with zero padding: a
clip's frames are the same alone and in a batch).

Authors
 * ast_sb developers 2026
"""

from typing import Optional

import torch
from speechbrain.processing.features import spectral_magnitude
from torch import nn

from ast_sb.lobes.clip_frames import SampleGrid, attach_sample_grid

__all__ = ["StftFilterbankFeatures"]


class StftFilterbankFeatures(nn.Module):
    """STFT, magnitude, mel filterbank and ``log1p``, as ESC-50's train.py.

    Arguments
    ---------
    compute_stft : torch.nn.Module
        SpeechBrain ``STFT`` (``hop_length``, ``n_fft``, ``center`` in
        samples, as it stores them).
    compute_fbank : torch.nn.Module, optional
        SpeechBrain ``Filterbank`` (the recipe's ``use_melspectra``); None
        keeps the linear spectrum.
    spec_mag_power : float
        Power of ``spectral_magnitude`` (the recipe's ``spec_mag_power``).
    log1p : bool
        Apply ``log1p`` (the recipe's ``use_log1p_mel``; always applied
        without ``compute_fbank``, as the recipe does).

    Example
    -------
    >>> from speechbrain.processing.features import STFT, Filterbank
    >>> stft = STFT(sample_rate=16000, n_fft=1024, hop_length=11.6099)
    >>> fbank = Filterbank(n_mels=128, n_fft=1024, log_mel=False)
    >>> feats = StftFilterbankFeatures(stft, fbank)(torch.randn(2, 16000))
    >>> feats.shape
    torch.Size([2, 87, 128])
    >>> feats.ast_sb_sample_grid.frames(torch.tensor([1.0, 0.5])).tolist()
    [87, 44]
    """

    def __init__(
        self,
        compute_stft: nn.Module,
        compute_fbank: Optional[nn.Module] = None,
        spec_mag_power: float = 0.5,
        log1p: bool = True,
    ):
        super().__init__()
        self.compute_stft = compute_stft
        self.compute_fbank = compute_fbank
        self.spec_mag_power = float(spec_mag_power)
        self.log1p = bool(log1p) or compute_fbank is None

    def forward(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Features ``[B, T, F]`` of a padded batch, with its sample count.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]``.
        lengths : torch.Tensor, optional
            Unused: the lengths reach the encoder relative to the samples,
            which the attached :class:`~ast_sb.lobes.clip_frames.SampleGrid`
            turns into each clip's frames.

        Returns
        -------
        torch.Tensor
            Features.
        """
        feats = spectral_magnitude(
            self.compute_stft(wavs), power=self.spec_mag_power
        )
        if self.compute_fbank is not None:
            feats = self.compute_fbank(feats)
        if self.log1p:
            feats = torch.log1p(feats)
        stft = self.compute_stft
        grid = SampleGrid(
            int(wavs.shape[-1]),
            int(stft.n_fft),
            int(stft.hop_length),
            center=bool(stft.center),
        )
        return attach_sample_grid(feats, grid)
