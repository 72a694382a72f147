"""The SSAST pretraining lobe around an ``AudioSpectrogramTransformerEncoder``.

:class:`AudioSpectrogramTransformerPretrainer` takes normalised fbank
features [B, T, F], cuts them into non-overlapping patches (the encoder's
patch shape, which must equal its strides), replaces ``mask_count`` patch
embeddings per clip by a learned mask embedding, adds the position
embeddings, runs the encoder's blocks and final LayerNorm, and feeds the
outputs at the masked positions to two heads (Linear-ReLU-Linear, as in
SSAST): a discriminative one and a generative one, each predicting the
``P = patch height x patch width`` values of the masked patch.

Patch-based (16x16 patches, 16x16 strides) and frame-based (128x2 patches
over 128 mel bins, strides 128 and 2) models are two encoder geometries of
the same lobe; any encoder size works.

Checkpoint format: the lobe's state dict has the encoder under
``encoder.*`` and a ``patch_grid`` buffer (f_dim, t_dim of the position
embedding); the exported encoder also holds ``norm_stats`` (the fbank
mean and std it was pretrained with, reused when fine-tuning), so a SpeechBrain checkpoint of the lobe
(``save/CKPT+*/pretrainer.ckpt``) or the file written by
:func:`export_pretrained_encoder` loads through
``ast_sb.weights.pretrained.load_pretrained`` into any fine-tuning encoder with the
same patch shape (strides, length and size of the grid may differ: the
position embedding is cut / interpolated).

Authors
 * ast_sb developers 2026
"""

import os
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.lobes.position_embedding import grid_to_tokens, tokens_to_grid
from ast_sb.pretraining.masking import cluster_mask, random_mask

GRID_KEY = "patch_grid"
"""State-dict key that marks a pretraining checkpoint (its patch grid)."""

ENCODER_PREFIX = "encoder."
NORM_STATS_KEY = "norm_stats"
"""State-dict key of the fbank normalisation the encoder was pretrained
with: a float64 tensor ``[mean, std]`` (files written before it have none)."""
MASKINGS = ("random", "cluster")


class MaskedPatchHead(nn.Sequential):
    """Prediction head of a masked patch: Linear, ReLU, Linear.

    Arguments
    ---------
    embed_dim : int
        Encoder width D.
    patch_values : int
        Values per patch P (e.g. 256 for 16x16 or 128x2).

    Example
    -------
    >>> MaskedPatchHead(8, 4)(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 4])
    """

    def __init__(self, embed_dim: int, patch_values: int):
        super().__init__(
            nn.Linear(embed_dim, embed_dim),
            nn.ReLU(),
            nn.Linear(embed_dim, patch_values),
        )


class AudioSpectrogramTransformerPretrainer(nn.Module):
    """Masked spectrogram patch modelling (SSAST) on an AST encoder.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformerEncoder
        The encoder to pretrain; its strides must equal its patch shape (no
        overlap, so a masked patch is not visible in its neighbours).
    mask_count : int
        Patches masked per clip (SSAST: 400 of the 512 patches of a 10 s
        clip).
    masking : str
        "random" or "cluster" (see :mod:`ast_sb.pretraining.masking`).
    cluster_sizes : Sequence[int]
        Smallest and largest cluster side, for "cluster" masking.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, fstride=16, tstride=16, depth=1
    ... )
    >>> model = AudioSpectrogramTransformerPretrainer(enc, mask_count=10)
    >>> out = model(torch.randn(2, 64, 128))
    >>> out["discriminative"].shape, out["targets"].shape, out["mask"].shape
    (torch.Size([2, 10, 256]), torch.Size([2, 10, 256]), torch.Size([2, 10]))
    """

    def __init__(
        self,
        encoder: AudioSpectrogramTransformerEncoder,
        mask_count: int = 400,
        masking: str = "random",
        cluster_sizes: Sequence[int] = (3, 5),
    ):
        super().__init__()
        if masking not in MASKINGS:
            raise ValueError(
                f"masking must be one of {MASKINGS}, got {masking!r}."
            )
        embed = encoder.patch_embed
        strides = (embed.fstride, embed.tstride)
        if strides != tuple(embed.patch_shape):
            raise ValueError(
                f"Pretraining needs non-overlapping patches: the encoder has "
                f"patch shape {tuple(embed.patch_shape)} but strides "
                f"{strides}; build it with fstride={embed.patch_shape[0]} "
                f"and tstride={embed.patch_shape[1]} (fine-tuning may use "
                "other strides)."
            )
        if encoder.patchout is not None:
            raise ValueError("Pretraining does not combine with patchout.")
        _check_mask_count(mask_count, encoder.grid_size)
        self.encoder = encoder
        self.mask_count = int(mask_count)
        self.masking = masking
        self.cluster_sizes = (int(cluster_sizes[0]), int(cluster_sizes[1]))
        self.patch_shape = tuple(embed.patch_shape)
        patch_values = self.patch_shape[0] * self.patch_shape[1]
        dim = encoder.embed_dim
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.mask_embed, std=0.02)
        self.discriminative_head = MaskedPatchHead(dim, patch_values)
        self.generative_head = MaskedPatchHead(dim, patch_values)
        for head in (self.discriminative_head, self.generative_head):
            for layer in head:
                if isinstance(layer, nn.Linear):
                    nn.init.trunc_normal_(layer.weight, std=0.02)
                    nn.init.zeros_(layer.bias)
        self.register_buffer(
            GRID_KEY, torch.tensor(encoder.grid_size, dtype=torch.long)
        )

    def patchify(self, feats: torch.Tensor) -> torch.Tensor:
        """Cuts features [B, T, F] into flattened patches [B, N, P].

        The patch order is the encoder's token order (frequency-major).

        Arguments
        ---------
        feats : torch.Tensor
            Normalised fbank [B, T, F].

        Returns
        -------
        torch.Tensor
            [B, N, P] patch values (a patch is flattened frequency-major).
        """
        images = feats.transpose(1, 2).unsqueeze(1)  # [B, 1, F, T]
        cols = F.unfold(images, self.patch_shape, stride=self.patch_shape)
        return cols.transpose(1, 2)

    def draw_mask(
        self, batch_size: int, grid: Tuple[int, int], device: torch.device
    ) -> torch.Tensor:
        """Masked patch indices [B, mask_count] for a batch on ``grid``.

        Arguments
        ---------
        batch_size : int
            Number of clips.
        grid : tuple of int
            (f_dim, t_dim) of the batch.
        device : torch.device
            Device of the result.

        Returns
        -------
        torch.Tensor
            LongTensor [B, mask_count].
        """
        _check_mask_count(self.mask_count, grid)
        if self.masking == "cluster":
            return cluster_mask(
                batch_size, grid, self.mask_count, self.cluster_sizes
            ).to(device)
        return random_mask(batch_size, grid[0] * grid[1], self.mask_count).to(
            device
        )

    def forward(
        self, feats: torch.Tensor, mask: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        """Predicts the masked patches of a batch.

        Arguments
        ---------
        feats : torch.Tensor
            Normalised fbank [B, T, F] with T <= the encoder's
            ``target_length`` (shorter inputs use the first time columns of
            the position embedding).
        mask : torch.Tensor, optional
            LongTensor [B, M] of masked patch indices; drawn with
            :meth:`draw_mask` when None.

        Returns
        -------
        dict
            ``discriminative`` and ``generative`` [B, M, P] predictions,
            ``targets`` [B, M, P] true patches, ``mask`` [B, M].
        """
        encoder = self.encoder
        if feats.dim() != 3 or feats.shape[-1] != encoder.n_mels:
            raise ValueError(
                f"Expected features [batch, time, {encoder.n_mels}], got "
                f"shape {tuple(feats.shape)}."
            )
        if feats.shape[1] > encoder.target_length:
            raise ValueError(
                f"Input has {feats.shape[1]} frames but the encoder was built "
                f"for target_length={encoder.target_length}."
            )
        patches = encoder.patch_embed(feats)  # [B, D, f, t]
        batch, dim, f_dim, t_dim = patches.shape
        if mask is None:
            mask = self.draw_mask(batch, (f_dim, t_dim), feats.device)
        tokens = patches.flatten(2).transpose(1, 2)  # [B, N, D]
        masked = torch.zeros(
            batch, f_dim * t_dim, dtype=torch.bool, device=feats.device
        )
        masked.scatter_(1, mask, True)
        tokens = torch.where(
            masked[:, :, None], self.mask_embed.to(tokens.dtype), tokens
        )
        position = tokens_to_grid(
            encoder.pos_embed[:, NUM_PREFIX_TOKENS:],
            encoder.f_dim,
            encoder.t_dim,
        )[:, :, :, :t_dim]
        tokens = tokens + grid_to_tokens(position)
        prefix = (
            torch.cat([encoder.cls_token, encoder.dist_token], dim=1)
            + encoder.pos_embed[:, :NUM_PREFIX_TOKENS]
        )
        tokens = torch.cat([prefix.expand(batch, -1, -1), tokens], dim=1)
        tokens = encoder.pos_drop(tokens)
        for block in encoder.blocks:
            tokens = block(tokens)
        tokens = encoder.norm(tokens[:, NUM_PREFIX_TOKENS:])
        index = mask[:, :, None]
        outputs = tokens.gather(1, index.expand(-1, -1, dim))
        targets = self.patchify(feats).gather(
            1, index.expand(-1, -1, self.patch_shape[0] * self.patch_shape[1])
        )
        return {
            "discriminative": self.discriminative_head(outputs),
            "generative": self.generative_head(outputs),
            "targets": targets,
            "mask": mask,
        }


def _check_mask_count(mask_count: int, grid: Sequence[int]) -> None:
    n_patches = int(grid[0]) * int(grid[1])
    if not 1 <= mask_count < n_patches:
        raise ValueError(
            f"mask_count={mask_count} must be in [1, {n_patches - 1}] for a "
            f"{grid[0]}x{grid[1]} patch grid ({n_patches} patches; some must "
            "stay visible)."
        )


def is_pretraining_state(state: Dict[str, torch.Tensor]) -> bool:
    """Whether a state dict is a pretraining checkpoint of this module.

    Arguments
    ---------
    state : dict
        A state dict.

    Returns
    -------
    bool
        True when it has the ``patch_grid`` marker and ``encoder.*`` keys.

    Example
    -------
    >>> is_pretraining_state({"patch_grid": torch.tensor([8, 64])})
    False
    """
    return GRID_KEY in state and any(
        k.startswith(ENCODER_PREFIX) for k in state
    )


def pretraining_encoder_state(
    state: Dict[str, torch.Tensor],
) -> Tuple[Dict[str, torch.Tensor], Tuple[int, int]]:
    """The encoder weights and position grid of a pretraining checkpoint.

    Arguments
    ---------
    state : dict
        State dict of :class:`AudioSpectrogramTransformerPretrainer` (or
        of :func:`export_pretrained_encoder`).

    Returns
    -------
    encoder_state : dict
        Keys of ``AudioSpectrogramTransformerEncoder`` (heads and mask
        embedding dropped).
    grid : tuple of int
        (f_dim, t_dim) of the checkpoint's position embedding.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, fstride=16, tstride=16, depth=1
    ... )
    >>> model = AudioSpectrogramTransformerPretrainer(enc, mask_count=4)
    >>> state, grid = pretraining_encoder_state(model.state_dict())
    >>> grid, sorted(state) == sorted(enc.state_dict())
    ((8, 4), True)
    """
    grid = tuple(int(v) for v in state[GRID_KEY].tolist())
    encoder = {
        k[len(ENCODER_PREFIX) :]: v
        for k, v in state.items()
        if k.startswith(ENCODER_PREFIX)
    }
    return encoder, (grid[0], grid[1])


def pretraining_norm_stats(
    state: Dict[str, torch.Tensor],
) -> Optional[Tuple[float, float]]:
    """The (mean, std) an exported pretrained encoder was trained with.

    Arguments
    ---------
    state : dict
        State dict written by :func:`export_pretrained_encoder`.

    Returns
    -------
    tuple of float or None
        ``(mean, std)``; None for files without them (written before they
        were stored, or a SpeechBrain checkpoint of the lobe).

    Example
    -------
    >>> pretraining_norm_stats({NORM_STATS_KEY: torch.tensor([-4.0, 4.5])})
    (-4.0, 4.5)
    >>> pretraining_norm_stats({}) is None
    True
    """
    stats = state.get(NORM_STATS_KEY)
    if stats is None:
        return None
    mean, std = (float(v) for v in stats.reshape(-1).tolist())
    return mean, std


def export_pretrained_encoder(
    pretrainer: AudioSpectrogramTransformerPretrainer,
    path: str,
    norm_stats: Optional[Tuple[float, float]] = None,
) -> str:
    """Writes the pretrained encoder (and its patch grid) for fine-tuning.

    The file holds ``encoder.*``, ``patch_grid`` and, if given,
    ``norm_stats`` (no heads), and is what ``pretrained_path`` of a
    fine-tuning recipe points at; a recipe fine-tuning from it normalises
    with those statistics by default (``ast_sb.training.norm_stats``).

    Arguments
    ---------
    pretrainer : AudioSpectrogramTransformerPretrainer
        The trained lobe.
    path : str
        Output file (``.ckpt`` / ``.pt``).
    norm_stats : tuple of float, optional
        ``(mean, std)`` of the fbank normalisation of the pretraining
        (its ``mean_var_norm``).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> from ast_sb.weights.pretrained import load_pretrained
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=64, fstride=16, tstride=16, depth=1
    ... )
    >>> model = AudioSpectrogramTransformerPretrainer(enc, mask_count=4)
    >>> path = export_pretrained_encoder(
    ...     model, str(getfixture("tmpdir") / "encoder.ckpt")
    ... )
    >>> target = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=128, depth=1
    ... )
    >>> load_pretrained(target, path)["format"]
    'ast_sb_pretraining'
    >>> path = export_pretrained_encoder(model, path, norm_stats=(-4.0, 4.5))
    >>> load_pretrained(target, path)["norm_stats"]
    {'mean': -4.0, 'std': 4.5}
    """
    state = {
        k: v.detach().cpu().clone()
        for k, v in pretrainer.state_dict().items()
        if k.startswith(ENCODER_PREFIX) or k == GRID_KEY
    }
    if norm_stats is not None:
        state[NORM_STATS_KEY] = torch.tensor(
            [float(norm_stats[0]), float(norm_stats[1])], dtype=torch.float64
        )
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    torch.save(state, path)
    return path
