"""Patches: the patch grid of a spectrogram and the patch embedding.

A log-mel spectrogram [B, T, F] is cut into (by default 16x16) patches with
strides ``fstride`` / ``tstride``; :func:`patch_grid_size` gives the grid,
:class:`PatchEmbedding` embeds the patches, and :func:`record_position_grid`
writes an encoder's grid into its state dict. These are the encoder's
building blocks (:mod:`ast_sb.lobes.model` re-exports them).

Authors
 * ast_sb developers 2026
"""

from typing import Tuple

import torch
from torch import nn

from ast_sb.lobes.classifier import (
    AudioSpectrogramTransformerClassifier as AudioSpectrogramTransformerClassifier,
)

__all__ = [
    "NUM_PREFIX_TOKENS",
    "PATCH_SIZE",
    "POSITION_GRID_METADATA",
    "PatchEmbedding",
    "patch_grid_size",
    "record_position_grid",
]


PATCH_SIZE = 16


NUM_PREFIX_TOKENS = 2  # cls + distillation


POSITION_GRID_METADATA = "ast_sb_position_grid"
"""Key of the (f_dim, t_dim) position grid in a state dict's ``_metadata``."""


def record_position_grid(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict
) -> None:
    """State-dict hook: writes the encoder's position grid into the
    checkpoint's metadata, so a loader reads the grid instead of guessing it
    from the number of position embeddings.

    Arguments
    ---------
    module : AudioSpectrogramTransformerEncoder
        The encoder being saved.
    state_dict : dict
        The state dict being built (unchanged).
    prefix : str
        The encoder's key prefix.
    local_metadata : dict
        The encoder's entry of ``state_dict._metadata`` (gets the grid).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> enc.state_dict()._metadata[""][POSITION_GRID_METADATA]
    [12, 101]
    """
    local_metadata[POSITION_GRID_METADATA] = list(module.grid_size)


def patch_grid_size(
    n_mels: int,
    n_frames: int,
    fstride: int,
    tstride: int,
    patch_shape: Tuple[int, int] = (PATCH_SIZE, PATCH_SIZE),
) -> Tuple[int, int]:
    """Number of patches along frequency and time for an input size.

    Arguments
    ---------
    n_mels : int
        Number of mel bins (F).
    n_frames : int
        Number of frames (T).
    fstride : int
        Patch stride along frequency.
    tstride : int
        Patch stride along time.
    patch_shape : tuple of int
        (frequency, time) size of a patch: (16, 16) in AST, e.g. (128, 2)
        for SSAST's frame-based models.

    Returns
    -------
    tuple of int
        (f_dim, t_dim).

    Example
    -------
    >>> patch_grid_size(128, 1024, 10, 10)
    (12, 101)
    >>> patch_grid_size(128, 512, 10, 10)
    (12, 50)
    >>> patch_grid_size(128, 1024, 128, 2, patch_shape=(128, 2))
    (1, 512)
    """
    for name, size, patch in (
        ("n_mels", n_mels, patch_shape[0]),
        ("frames", n_frames, patch_shape[1]),
    ):
        if size < patch:
            raise ValueError(f"AST needs at least {patch} {name}, got {size}.")
    return (
        (n_mels - patch_shape[0]) // fstride + 1,
        (n_frames - patch_shape[1]) // tstride + 1,
    )


class PatchEmbedding(nn.Module):
    """Overlapping 16x16 patch embedding of a spectrogram.

    Arguments
    ---------
    embed_dim : int
        Output dimension of each patch.
    fstride : int
        Stride along frequency (10 in AST: 6 bins of overlap).
    tstride : int
        Stride along time.
    patch_shape : tuple of int
        (frequency, time) size of a patch (default 16x16).

    Example
    -------
    >>> embed = PatchEmbedding(embed_dim=32, fstride=10, tstride=10)
    >>> embed(torch.randn(2, 100, 128)).shape
    torch.Size([2, 32, 12, 9])
    """

    def __init__(
        self,
        embed_dim: int,
        fstride: int = 10,
        tstride: int = 10,
        patch_shape: Tuple[int, int] = (PATCH_SIZE, PATCH_SIZE),
    ):
        super().__init__()
        self.fstride = fstride
        self.tstride = tstride
        self.patch_shape = (int(patch_shape[0]), int(patch_shape[1]))
        self.proj = nn.Conv2d(
            1,
            embed_dim,
            kernel_size=self.patch_shape,
            stride=(fstride, tstride),
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Embeds the patches of ``feats`` [B, T, F] into [B, D, f, t].

        Arguments
        ---------
        feats : torch.Tensor
            Spectrogram of shape [B, T, F].

        Returns
        -------
        torch.Tensor
            Patch embeddings of shape [B, D, f_dim, t_dim].
        """
        return self.proj(feats.transpose(1, 2).unsqueeze(1))
