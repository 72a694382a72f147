"""Position embeddings of the Audio Spectrogram Transformer on an f/t grid.

AST adds a learned position embedding to every patch of a frequency x time
grid. Pretrained grids (ImageNet 14x14 / 24x24, AudioSet 12x101) rarely match
the grid of a new task, so the grid is cut around its centre along an axis
that shrinks and bilinearly interpolated along an axis that grows, exactly as
the original AST code does.

Authors
 * ast_sb developers 2026
"""

from typing import Tuple

import torch
import torch.nn.functional as F


def grid_to_tokens(grid: torch.Tensor) -> torch.Tensor:
    """Flattens a position grid [1, D, f, t] into tokens [1, f * t, D].

    Patches are ordered frequency-major (index = f_idx * t + t_idx), the order
    produced by flattening the patch-embedding convolution output.

    Arguments
    ---------
    grid : torch.Tensor
        Position grid of shape [1, D, f, t].

    Returns
    -------
    torch.Tensor
        Tokens of shape [1, f * t, D].

    Example
    -------
    >>> grid_to_tokens(torch.zeros(1, 8, 3, 5)).shape
    torch.Size([1, 15, 8])
    """
    return grid.flatten(2).transpose(1, 2)


def tokens_to_grid(
    tokens: torch.Tensor, f_dim: int, t_dim: int
) -> torch.Tensor:
    """Reshapes patch tokens [1, f * t, D] into a position grid [1, D, f, t].

    Arguments
    ---------
    tokens : torch.Tensor
        Patch position embeddings of shape [1, f_dim * t_dim, D] (without the
        cls/distillation tokens).
    f_dim : int
        Number of patches along frequency.
    t_dim : int
        Number of patches along time.

    Returns
    -------
    torch.Tensor
        Grid of shape [1, D, f_dim, t_dim].

    Example
    -------
    >>> tokens_to_grid(torch.zeros(1, 15, 8), 3, 5).shape
    torch.Size([1, 8, 3, 5])
    """
    n_tokens, dim = tokens.shape[1], tokens.shape[2]
    if n_tokens != f_dim * t_dim:
        raise ValueError(
            f"Cannot reshape {n_tokens} position embeddings into a "
            f"{f_dim}x{t_dim} grid ({f_dim * t_dim} patches)."
        )
    return tokens.transpose(1, 2).reshape(1, dim, f_dim, t_dim)


def _resize_axis(grid: torch.Tensor, new_size: int, axis: int) -> torch.Tensor:
    """Centre-cuts (shrink) or bilinearly interpolates (grow) one grid axis."""
    old_size = grid.shape[axis]
    if new_size == old_size:
        return grid
    if new_size < old_size:
        start = old_size // 2 - new_size // 2
        return grid.narrow(axis, start, new_size)
    size = list(grid.shape[2:])
    size[axis - 2] = new_size
    return F.interpolate(grid, size=tuple(size), mode="bilinear")


def resize_position_grid(
    grid: torch.Tensor, f_dim: int, t_dim: int
) -> torch.Tensor:
    """Adapts a position grid [1, D, F0, T0] to [1, D, f_dim, t_dim].

    Each axis is cut around its centre when it shrinks and bilinearly
    interpolated when it grows; time is adapted first, then frequency, in the
    order of the original AST code.

    Arguments
    ---------
    grid : torch.Tensor
        Position grid of shape [1, D, F0, T0].
    f_dim : int
        Target number of patches along frequency.
    t_dim : int
        Target number of patches along time.

    Returns
    -------
    torch.Tensor
        Grid of shape [1, D, f_dim, t_dim].

    Example
    -------
    >>> grid = torch.randn(1, 4, 24, 24)
    >>> resize_position_grid(grid, 12, 101).shape
    torch.Size([1, 4, 12, 101])
    >>> torch.equal(resize_position_grid(grid, 12, 24), grid[:, :, 6:18])
    True
    """
    grid = _resize_axis(grid, t_dim, axis=3)
    return _resize_axis(grid, f_dim, axis=2)


def adapt_position_embedding(
    pos_embed: torch.Tensor,
    source_grid: Tuple[int, int],
    target_grid: Tuple[int, int],
    num_prefix_tokens: int = 2,
) -> torch.Tensor:
    """Adapts a full position embedding (prefix tokens + patch grid).

    Arguments
    ---------
    pos_embed : torch.Tensor
        Position embedding [1, num_prefix_tokens + F0 * T0, D].
    source_grid : tuple of int
        (F0, T0), the grid the embedding was trained on.
    target_grid : tuple of int
        (f_dim, t_dim), the grid of the target model.
    num_prefix_tokens : int
        Number of leading non-patch tokens (cls and distillation: 2).

    Returns
    -------
    torch.Tensor
        Position embedding [1, num_prefix_tokens + f_dim * t_dim, D].

    Example
    -------
    >>> pos = torch.randn(1, 2 + 12 * 101, 16)
    >>> adapt_position_embedding(pos, (12, 101), (12, 50)).shape
    torch.Size([1, 602, 16])
    """
    prefix = pos_embed[:, :num_prefix_tokens]
    grid = tokens_to_grid(pos_embed[:, num_prefix_tokens:], *source_grid)
    grid = resize_position_grid(grid, *target_grid)
    return torch.cat([prefix, grid_to_tokens(grid)], dim=1)


def clip_time_grids(
    grid: torch.Tensor, columns: torch.Tensor, t_dim: int
) -> torch.Tensor:
    """Each clip's time grid for a batch of ``t_dim`` patch columns.

    Clip ``b`` with ``columns[b]`` valid patch columns gets the grid it gets
    alone: the first columns of ``grid`` when it fits (``columns[b] <= T0``),
    else ``grid`` linearly stretched along time to ``columns[b]`` columns
    (as ``F.interpolate(grid, (f, columns[b]), mode="bilinear")``,
    ``align_corners=False``). One gather for the whole batch; columns past
    a clip's own (padding) repeat its last position.

    Arguments
    ---------
    grid : torch.Tensor
        Position grid ``[1, D, f, T0]``.
    columns : torch.Tensor
        Long ``[B]``: each clip's valid patch columns (>= 1).
    t_dim : int
        Patch columns of the batch (>= ``columns.max()``).

    Returns
    -------
    torch.Tensor
        ``[B, D, f, t_dim]``.

    Example
    -------
    >>> grid = torch.randn(1, 4, 2, 5)
    >>> out = clip_time_grids(grid, torch.tensor([3, 8]), 8)
    >>> torch.equal(out[0, :, :, :3], grid[0, :, :, :3])
    True
    >>> alone = F.interpolate(grid, size=(2, 8), mode="bilinear")
    >>> bool((out[1] - alone[0]).abs().max() < 1e-5)
    True
    """
    t0 = grid.shape[-1]
    # float64 source positions: the float32 ones of F.interpolate are off
    # by up to ~1e-5 of a column at a few hundred columns
    dtype = torch.float64
    device = grid.device
    # PyTorch's align_corners=False source index: (dst + 0.5) * scale - 0.5
    scale = t0 / columns.to(device).clamp(min=t0).to(dtype)
    dst = torch.arange(t_dim, device=device, dtype=dtype)
    src = ((dst[None, :] + 0.5) * scale[:, None] - 0.5).clamp(min=0.0)
    left = src.floor().long().clamp(max=t0 - 1)
    right = (left + 1).clamp(max=t0 - 1)
    weight = (src - left.to(dtype)).clamp(0.0, 1.0).to(grid.dtype)
    times = grid[0].permute(2, 0, 1)  # [T0, D, f]
    weight = weight[:, :, None, None]
    out = (1.0 - weight) * times[left] + weight * times[right]
    return out.permute(0, 2, 3, 1)  # [B, D, f, t_dim]
