"""Token budget at inference: structured, deterministic patch dropping.

An AST trained with structured patchout (PaSST; ``patchout="structured"``
on :class:`~ast_sb.lobes.model.AudioSpectrogramTransformerEncoder`) has seen
spectrograms with whole time columns and frequency rows missing. At
inference, a ``token_budget`` in (0, 1] keeps about that fraction of the
patch tokens, so every transformer block runs on fewer tokens (compute
falls roughly linearly with the budget, attention quadratically):

* frequency rows: ``round(f_dim * sqrt(budget))`` rows, evenly spaced;
* time columns: per clip, ``round(budget * f_dim * t / rows)`` of the
  clip's own ``t`` valid columns (its patch columns fully inside its
  frames), evenly spaced.

That is ``axes="both"`` (default); ``axes="time"`` keeps every frequency
row and ``round(budget * t)`` columns, ``axes="frequency"`` every valid
column and ``round(budget * f_dim)`` rows.

The choice is deterministic (no randomness at inference) and depends only
on the clip's own length, never on its batch neighbours: padded time
columns are never kept (they are dropped first), clips that keep fewer
tokens than the longest clip of the batch are filled up with masked tokens
at the end. So a clip scores the same alone and in a padded batch (with
``use_padding_mask``, as without a budget). A budget of 1.0 is the full
model, bit for bit (nothing is selected). The cls and distillation tokens
are always kept.

Written here rather than taken from timm: timm's ``PatchDropout`` drops
random tokens in training only; ToMe-style merging (the ``tome`` package)
is not padding invariant without per-clip merge counts.

Authors
 * ast_sb developers 2026
"""

import math
from typing import Any, Optional, Tuple

import torch

from ast_sb._aliases import moved_attribute

TOKEN_BUDGET_AXES = ("both", "time", "frequency")
"""Where a token budget drops patches: rows and columns, columns, rows."""

__all__ = [
    "TOKEN_BUDGET_AXES",
    "check_token_budget",
    "check_token_budget_axes",
    "even_indices",
    "kept_grid",
    "select_budget_tokens",
]


def check_token_budget(value: Any) -> float:
    """Validates a token budget: a number in (0, 1].

    Arguments
    ---------
    value : float, int or str
        The fraction of patch tokens to keep (a numeric string is accepted,
        for command lines).

    Returns
    -------
    float
        The budget.

    Example
    -------
    >>> check_token_budget(0.5), check_token_budget("1")
    (0.5, 1.0)
    >>> check_token_budget(1.5)
    Traceback (most recent call last):
    ...
    ValueError: token_budget must be a number in (0, 1] (the fraction of patch tokens kept), got 1.5.
    """
    error = ValueError(
        "token_budget must be a number in (0, 1] (the fraction of patch "
        f"tokens kept), got {value!r}."
    )
    if isinstance(value, bool):
        raise error
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise error from None
    if not 0.0 < budget <= 1.0:  # also rejects NaN
        raise error
    return budget


def check_token_budget_axes(value: Any) -> str:
    """Validates the axes of a token budget (:data:`TOKEN_BUDGET_AXES`).

    Arguments
    ---------
    value : str
        "both", "time" or "frequency".

    Returns
    -------
    str
        The axes.

    Example
    -------
    >>> check_token_budget_axes("time")
    'time'
    >>> check_token_budget_axes("rows")
    Traceback (most recent call last):
    ...
    ValueError: token_budget_axes must be one of ('both', 'time', 'frequency'), got 'rows'.
    """
    if value not in TOKEN_BUDGET_AXES:
        raise ValueError(
            f"token_budget_axes must be one of {TOKEN_BUDGET_AXES}, got "
            f"{value!r}."
        )
    return value


def even_indices(n: int, keep: int) -> torch.Tensor:
    """``keep`` of ``n`` positions, evenly spaced (centres of ``keep``
    equal bins), in integer arithmetic.

    Arguments
    ---------
    n : int
        Number of positions.
    keep : int
        Number kept, ``1 <= keep <= n``.

    Returns
    -------
    torch.Tensor
        Sorted, distinct long indices ``[keep]``.

    Example
    -------
    >>> even_indices(12, 4).tolist()
    [1, 4, 7, 10]
    >>> even_indices(5, 5).tolist()
    [0, 1, 2, 3, 4]
    """
    return (2 * torch.arange(keep) + 1) * n // (2 * keep)


def kept_grid(
    f_dim: int, t_dim: int, budget: float, axes: str = "both"
) -> Tuple[int, int]:
    """Frequency rows and time columns kept of an ``f_dim x t_dim`` grid.

    Arguments
    ---------
    f_dim : int
        Frequency rows of the patch grid.
    t_dim : int
        Valid time columns of the clip.
    budget : float
        Fraction of patches kept, in (0, 1].
    axes : str
        "both" (rows and columns), "time" (columns only) or "frequency"
        (rows only).

    Returns
    -------
    tuple of int
        ``(rows, columns)``, each at least 1 and at most the grid's.

    Example
    -------
    >>> kept_grid(12, 9, 0.5)
    (8, 7)
    >>> kept_grid(12, 9, 1.0)
    (12, 9)
    >>> kept_grid(1, 512, 0.25)  # frame-based patches: time only
    (1, 128)
    >>> kept_grid(12, 9, 0.5, "time"), kept_grid(12, 9, 0.5, "frequency")
    ((12, 4), (6, 9))
    """
    if axes == "time":
        return f_dim, min(t_dim, max(1, round(budget * t_dim)))
    if axes == "frequency":
        return min(f_dim, max(1, round(budget * f_dim))), t_dim
    rows = min(f_dim, max(1, round(f_dim * math.sqrt(budget))))
    columns = min(t_dim, max(1, round(budget * f_dim * t_dim / rows)))
    return rows, columns


def select_budget_tokens(
    tokens: torch.Tensor,
    grid: Tuple[int, int],
    valid_columns: Optional[torch.Tensor],
    budget: float,
    axes: str = "both",
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Keeps the budget's patch tokens of each clip.

    Arguments
    ---------
    tokens : torch.Tensor
        Patch tokens ``[B, f_dim * t_dim, D]`` (frequency-major, as
        ``patches.flatten(2).transpose(1, 2)``), without prefix tokens.
    grid : tuple of int
        ``(f_dim, t_dim)`` of the batch's patch grid.
    valid_columns : torch.Tensor, optional
        Valid time columns of each clip ``[B]``; None: all ``t_dim``.
    budget : float
        Fraction of patch tokens kept, in (0, 1].
    axes : str
        See :func:`kept_grid`.

    Returns
    -------
    tokens : torch.Tensor
        ``[B, N, D]``, N the largest count kept in the batch.
    key_mask : torch.Tensor or None
        Boolean ``[B, N]``, False on the filler tokens of clips that keep
        fewer; None when every clip keeps N.

    Example
    -------
    >>> tokens = torch.arange(12 * 9).float().reshape(1, 108, 1)
    >>> kept, mask = select_budget_tokens(tokens, (12, 9), None, 0.5)
    >>> kept.shape, mask
    (torch.Size([1, 56, 1]), None)
    >>> both, mask = select_budget_tokens(
    ...     tokens.expand(2, -1, -1), (12, 9), torch.tensor([9, 5]), 0.5
    ... )
    >>> mask.sum(1).tolist()
    [56, 32]
    """
    budget = check_token_budget(budget)
    axes = check_token_budget_axes(axes)
    batch, n_tokens, dim = tokens.shape
    f_dim, t_dim = grid
    if n_tokens != f_dim * t_dim:
        raise ValueError(
            f"select_budget_tokens: {n_tokens} tokens is not a "
            f"{f_dim} x {t_dim} grid."
        )
    if valid_columns is None:
        columns = [t_dim] * batch
    else:
        columns = valid_columns.clamp(1, t_dim).tolist()
    per_clip = []
    for t_valid in columns:
        rows, keep_t = kept_grid(f_dim, t_valid, budget, axes)
        f_idx = even_indices(f_dim, rows)
        t_idx = even_indices(t_valid, keep_t)
        per_clip.append((f_idx[:, None] * t_dim + t_idx[None, :]).flatten())
    counts = [len(idx) for idx in per_clip]
    n_kept = max(counts)
    index = torch.zeros(batch, n_kept, dtype=torch.long)
    for i, idx in enumerate(per_clip):
        index[i, : len(idx)] = idx
    index = index.to(tokens.device)
    kept = tokens.gather(1, index[:, :, None].expand(-1, -1, dim))
    if min(counts) == n_kept:
        return kept, None
    key_mask = torch.arange(n_kept, device=tokens.device) < torch.tensor(
        counts, device=tokens.device
    ).unsqueeze(1)
    return kept, key_mask


def __getattr__(name: str) -> Any:
    # set_token_budget moved to ast_sb.lobes.model (the encoder's module), so
    # that this module imports no other ast_sb module
    return moved_attribute(__name__, name)
