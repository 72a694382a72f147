"""Model weight averaging over the last epochs' checkpoints.

The original AST AudioSet recipe averages the weights saved at the end of
its last epochs (``--wa True --wa_start / --wa_end``): one full-AudioSet
model scores 0.448 mAP without and 0.459 with weight averaging (the
released ``audioset_10_10_0.4593.pth`` is such an average).
:func:`average_last_epochs` does the same with SpeechBrain's checkpoints:
it picks the end-of-epoch checkpoints of the last ``n`` epochs and loads
the average of every module's weights, computed by
``speechbrain.utils.checkpoints.average_checkpoints``.

Authors
 * ast_sb developers 2026
"""

import logging
from typing import List

import torch
from speechbrain.utils.checkpoints import (
    Checkpoint,
    Checkpointer,
    average_checkpoints,
)

__all__ = [
    "average_last_epochs",
    "describe_average",
    "end_of_epoch_checkpoints",
]

logger = logging.getLogger(__name__)


def describe_average(epochs: List[int]) -> str:
    """What averaged weights are, in words (logs, results, model card).

    Arguments
    ---------
    epochs : list of int
        The averaged epochs (as :func:`average_last_epochs` returns them).

    Returns
    -------
    str
        ``"average of epochs 131-150"`` for consecutive epochs, else the
        epochs listed.

    Example
    -------
    >>> describe_average(list(range(131, 151)))
    'average of epochs 131-150'
    >>> describe_average([3]), describe_average([2, 5])
    ('average of epochs 3-3', 'average of epochs 2, 5')
    """
    epochs = [int(e) for e in epochs]
    if epochs == list(range(epochs[0], epochs[0] + len(epochs))):
        return f"average of epochs {epochs[0]}-{epochs[-1]}"
    return "average of epochs " + ", ".join(str(e) for e in epochs)


def end_of_epoch_checkpoints(checkpointer: Checkpointer) -> List[Checkpoint]:
    """The end-of-epoch checkpoints (meta ``epoch``), oldest epoch first.

    Intra-epoch checkpoints (SpeechBrain's ``end-of-epoch: False``) are left
    out.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The run's checkpointer.

    Returns
    -------
    list of Checkpoint
        Sorted by epoch; one per epoch (the latest saved).
    """
    by_epoch = {}
    for ckpt in checkpointer.list_checkpoints():
        meta = ckpt.meta
        if meta.get("epoch") is None or meta.get("end-of-epoch") is False:
            continue
        previous = by_epoch.get(meta["epoch"])
        if (
            previous is None
            or ckpt.meta["unixtime"] > previous.meta["unixtime"]
        ):
            by_epoch[meta["epoch"]] = ckpt
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def average_last_epochs(checkpointer: Checkpointer, n_epochs: int) -> List[int]:
    """Loads the average weights of the last ``n_epochs`` epochs.

    Every recoverable ``torch.nn.Module`` of the checkpointer with a state
    (the encoder and the classifier of a recipe) gets the element-wise mean
    of its state dicts in those checkpoints.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The run's checkpointer (end-of-epoch checkpoints with meta
        ``epoch``, as ``AudioSpectrogramTransformerBrain`` saves them).
    n_epochs : int
        How many of the last epochs to average (>= 1); fewer are averaged,
        with a warning, when fewer were kept.

    Returns
    -------
    list of int
        The averaged epochs (empty when there is no end-of-epoch
        checkpoint: the weights are then left as they are).

    Example
    -------
    >>> layer = torch.nn.Linear(1, 1, bias=False)
    >>> ckpt = Checkpointer(getfixture("tmpdir"), {"layer": layer})
    >>> for epoch in (1, 2, 3):
    ...     _ = layer.weight.data.fill_(float(epoch))
    ...     _ = ckpt.save_checkpoint(meta={"epoch": epoch})
    >>> average_last_epochs(ckpt, 2)
    [2, 3]
    >>> layer.weight.item()
    2.5
    >>> average_last_epochs(Checkpointer(getfixture("tmpdir") / "no"), 2)
    []
    """
    if int(n_epochs) < 1:
        raise ValueError(f"n_epochs must be >= 1, got {n_epochs}")
    checkpoints = end_of_epoch_checkpoints(checkpointer)[-int(n_epochs) :]
    if not checkpoints:
        # e.g. evaluating pretrained weights with 0 training epochs
        logger.warning(
            "Weight averaging: no end-of-epoch checkpoint in %s; the "
            "weights are left as they are.",
            checkpointer.checkpoints_dir,
        )
        return []
    epochs = [int(c.meta["epoch"]) for c in checkpoints]
    if len(checkpoints) < n_epochs:
        logger.warning(
            "Weight averaging over %d epochs: only epochs %s are kept.",
            n_epochs,
            epochs,
        )
    for name, obj in checkpointer.recoverables.items():
        if not isinstance(obj, torch.nn.Module) or not obj.state_dict():
            continue
        present = [c for c in checkpoints if name in c.paramfiles]
        if len(present) != len(checkpoints):
            raise ValueError(
                f"Checkpoints of epochs {epochs} do not all hold {name!r}."
            )
        state = average_checkpoints(present, name)
        obj.load_state_dict(state)
    logger.info("Loaded the average weights of epochs %s", epochs)
    return epochs
