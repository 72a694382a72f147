"""Patch masks for masked spectrogram patch modelling (SSAST).

A mask is a LongTensor ``[B, M]`` of distinct patch indices per clip, in the
frequency-major order of the encoder's patch tokens (index =
``f_idx * t_dim + t_idx``), sorted. Every clip gets exactly ``M`` masked
patches so that predictions and targets stack into ``[B, M, P]`` tensors.

* :func:`random_mask`: ``M`` patches drawn uniformly without replacement.
* :func:`cluster_mask`: SSAST's cluster masking: square blocks of
  ``size x size`` neighbouring patches (``size`` drawn in
  ``cluster_sizes``) at random positions until ``M`` patches are masked,
  so that a masked patch can rarely be copied from an unmasked neighbour.
  On a one-row grid (frame-based models, 128x2 patches) the blocks are runs
  of ``size`` consecutive frames.

Randomness comes from ``torch``'s global generator (or ``generator``), so
a Brain that reseeds per batch gets reproducible masks.

Authors
 * ast_sb developers 2026
"""

from typing import Optional, Sequence, Tuple

import numpy as np
import torch


def _check_count(n_masked: int, n_patches: int) -> None:
    if not 0 < n_masked <= n_patches:
        raise ValueError(
            f"Cannot mask {n_masked} of {n_patches} patches: the mask count "
            f"must be in [1, {n_patches}] (lower mask_count or use longer "
            "crops)."
        )


def random_mask(
    batch_size: int,
    n_patches: int,
    n_masked: int,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Draws ``n_masked`` distinct patch indices per clip, uniformly.

    Arguments
    ---------
    batch_size : int
        Number of clips B.
    n_patches : int
        Number of patches N of each clip.
    n_masked : int
        Masked patches M per clip (1 <= M <= N).
    generator : torch.Generator, optional
        Random generator (default: the global one).
    device : torch.device, optional
        Device of the result.

    Returns
    -------
    torch.Tensor
        LongTensor [B, M] of sorted, distinct indices in [0, N).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> mask = random_mask(2, 10, 4)
    >>> mask.shape, [len(set(row.tolist())) for row in mask]
    (torch.Size([2, 4]), [4, 4])
    """
    _check_count(n_masked, n_patches)
    scores = torch.rand(batch_size, n_patches, generator=generator)
    indices = scores.argsort(dim=1)[:, :n_masked].sort(dim=1).values
    return indices.to(device) if device is not None else indices


def _cluster_mask_one(
    grid: Tuple[int, int],
    n_masked: int,
    cluster_sizes: Tuple[int, int],
    generator: Optional[torch.Generator],
) -> torch.Tensor:
    """Boolean [f, t] mask of one clip with exactly ``n_masked`` cells."""
    f_dim, t_dim = grid
    mask = np.zeros((f_dim, t_dim), dtype=bool)
    low, high = cluster_sizes
    count = 0
    drawn = 0
    max_draws = 100 * f_dim * t_dim
    while count < n_masked and drawn < max_draws:
        # uniform draws in bulk: block side, then top-left corner
        draws = torch.rand(256, 3, generator=generator).numpy()
        drawn += len(draws)
        for u_size, u_f, u_t in draws:
            size = low + min(int(u_size * (high - low + 1)), high - low)
            height, width = min(size, f_dim), min(size, t_dim)
            f0 = min(int(u_f * (f_dim - height + 1)), f_dim - height)
            t0 = min(int(u_t * (t_dim - width + 1)), t_dim - width)
            block = mask[f0 : f0 + height, t0 : t0 + width]
            new = ~block
            n_new = int(new.sum())
            if n_new == 0:
                continue
            excess = count + n_new - n_masked
            if excess > 0:
                # keep the first new cells of the block in raster order, so
                # the kept part of the last block stays connected
                flat = new.flatten()
                flat[np.flatnonzero(flat)[n_new - excess :]] = False
                new = flat.reshape(new.shape)
                n_new -= excess
            block |= new
            count += n_new
            if count == n_masked:
                break
    result = torch.from_numpy(mask)
    if count < n_masked:  # pathological grids: fill at random
        free = (~result).flatten().nonzero().flatten()
        order = torch.randperm(len(free), generator=generator)
        result.view(-1)[free[order[: n_masked - count]]] = True
    return result


def cluster_mask(
    batch_size: int,
    grid: Sequence[int],
    n_masked: int,
    cluster_sizes: Sequence[int] = (3, 5),
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Masks square clusters of neighbouring patches (SSAST cluster masking).

    Blocks of ``size x size`` patches (``size`` uniform in
    ``[cluster_sizes[0], cluster_sizes[1]]``, cut to the grid's height and
    width) are placed inside the grid at random positions until
    ``n_masked`` patches are masked; the cells of the last block beyond
    ``n_masked`` are dropped from its end (raster order).

    Arguments
    ---------
    batch_size : int
        Number of clips B.
    grid : Sequence[int]
        (f_dim, t_dim) patch grid of a clip.
    n_masked : int
        Masked patches M per clip.
    cluster_sizes : Sequence[int]
        Smallest and largest block side (inclusive).
    generator : torch.Generator, optional
        Random generator (default: the global one).
    device : torch.device, optional
        Device of the result.

    Returns
    -------
    torch.Tensor
        LongTensor [B, M] of sorted, distinct indices (frequency-major).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> mask = cluster_mask(1, (4, 6), 9, cluster_sizes=(3, 3))
    >>> cells = torch.zeros(24, dtype=torch.bool)
    >>> cells[mask[0]] = True
    >>> cells.view(4, 6).int()
    tensor([[0, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 0, 0, 0]], dtype=torch.int32)
    """
    f_dim, t_dim = int(grid[0]), int(grid[1])
    _check_count(n_masked, f_dim * t_dim)
    low, high = int(cluster_sizes[0]), int(cluster_sizes[1])
    if not 1 <= low <= high:
        raise ValueError(
            f"cluster_sizes must be 1 <= low <= high, got {tuple(cluster_sizes)}."
        )
    rows = [
        _cluster_mask_one((f_dim, t_dim), n_masked, (low, high), generator)
        .flatten()
        .nonzero()
        .flatten()
        for _ in range(batch_size)
    ]
    indices = torch.stack(rows)
    return indices.to(device) if device is not None else indices
