"""The two objectives of masked spectrogram patch modelling (SSAST).

For every clip, ``M`` patches are masked; the model predicts a vector
``c_i`` (discriminative head) and a reconstruction ``r_i`` (generative head)
for each masked position ``i``, and ``x_i`` is the true (normalised fbank)
patch there, flattened to ``P`` values.

* Discriminative, InfoNCE: each prediction must pick its own patch among
  all masked patches of the same clip,
  ``L_d = -1/(B M) sum_b sum_i log( exp(c_i . x_i) / sum_j exp(c_i . x_j) )``.
* Generative: ``L_g = mean over (b, i, p) of (r_i - x_i)^2``.

SSAST trains on ``L_d + 10 L_g``.

Authors
 * ast_sb developers 2026
"""

from typing import Tuple

import torch
import torch.nn.functional as F


def _check_shapes(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    if predictions.dim() != 3 or predictions.shape != targets.shape:
        raise ValueError(
            "Predictions and targets must both be [batch, masked, patch] "
            f"with the same shape, got {tuple(predictions.shape)} and "
            f"{tuple(targets.shape)}."
        )


def masked_patch_infonce(
    predictions: torch.Tensor, targets: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE of each masked position against the masked patches of its clip.

    Arguments
    ---------
    predictions : torch.Tensor
        [B, M, P] outputs of the discriminative head at the masked positions.
    targets : torch.Tensor
        [B, M, P] true patches at the same positions.

    Returns
    -------
    loss : torch.Tensor
        Scalar mean cross-entropy over the B * M masked positions.
    accuracy : torch.Tensor
        Scalar fraction of positions whose own patch scores highest.

    Example
    -------
    >>> pred = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> loss, acc = masked_patch_infonce(pred, pred)
    >>> round(loss.item(), 4), acc.item()
    (0.3133, 1.0)
    """
    _check_shapes(predictions, targets)
    batch, n_masked, _ = predictions.shape
    # scores[b, i, j] = c_i . x_j
    scores = torch.bmm(predictions.float(), targets.float().transpose(1, 2))
    labels = torch.arange(n_masked, device=scores.device).repeat(batch)
    flat = scores.reshape(batch * n_masked, n_masked)
    loss = F.cross_entropy(flat, labels)
    accuracy = (flat.argmax(dim=-1) == labels).float().mean()
    return loss, accuracy


def masked_patch_mse(
    predictions: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean squared error of the reconstructed masked patches.

    Arguments
    ---------
    predictions : torch.Tensor
        [B, M, P] outputs of the generative head at the masked positions.
    targets : torch.Tensor
        [B, M, P] true patches.

    Returns
    -------
    torch.Tensor
        Scalar mean over every value.

    Example
    -------
    >>> masked_patch_mse(torch.zeros(1, 2, 2), torch.ones(1, 2, 2)).item()
    1.0
    """
    _check_shapes(predictions, targets)
    return F.mse_loss(predictions.float(), targets.float())
