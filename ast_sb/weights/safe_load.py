"""Loading weights without unpickling code, on every supported torch.

``torch.load`` unpickles; with ``weights_only=False`` a crafted ``.ckpt``
runs arbitrary code when it is loaded. torch >= 2.6 defaults to
``weights_only=True``, but the environment variable
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (or an older torch) turns the
default off. So every load in ast_sb passes ``weights_only=True``
explicitly (:func:`load_weights`), which that variable cannot override.

SpeechBrain loads module, optimizer and scheduler state dicts (checkpoint
recovery, the ``Pretrainer`` of ``EncoderClassifier.from_hparams``) through
the hooks in ``speechbrain.utils.checkpoints.DEFAULT_LOAD_HOOKS`` /
``DEFAULT_TRANSFER_HOOKS``, which call ``torch.load`` with the default.
:func:`install_weights_only_hooks` (run when ``ast_sb`` is imported)
replaces those two default hooks by equivalents that pass
``weights_only=True``; that is SpeechBrain's documented way to change how
a type is loaded. Other SpeechBrain loaders (e.g. its own LR schedulers,
``speechbrain.utils.repro.SaveableGenerator``) are not used by the ast_sb
recipes and keep torch's default.

Authors
 * ast_sb developers 2026
"""

import logging
import os
from typing import Any, Union

import torch
from speechbrain.utils import checkpoints as sb_checkpoints

__all__ = [
    "install_weights_only_hooks",
    "load_weights",
    "weights_only_parameter_transfer",
    "weights_only_recovery",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


def load_weights(path: PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` that never unpickles code (``weights_only=True``).

    Arguments
    ---------
    path : str or os.PathLike
        Checkpoint file.
    map_location : Any
        As for ``torch.load``.

    Returns
    -------
    Any
        The loaded tensors / containers of tensors and plain values.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "w.ckpt")
    >>> torch.save({"w": torch.ones(2)}, path)
    >>> load_weights(path)
    {'w': tensor([1., 1.])}
    """
    return torch.load(path, map_location=map_location, weights_only=True)


def _state_dict(path: PathLike, device: str = "cpu") -> Any:
    """SpeechBrain's state-dict load (key renaming hooks), weights only."""
    state_dict = load_weights(path, map_location=device)
    return sb_checkpoints.hook_on_loading_state_dict_checkpoint(state_dict)


def weights_only_recovery(obj: Any, path: PathLike, end_of_epoch: bool):
    """``speechbrain.utils.checkpoints.torch_recovery``, weights only.

    Arguments
    ---------
    obj : torch.nn.Module or torch.optim.Optimizer or scheduler
        Object whose ``load_state_dict`` receives the state.
    path : str or os.PathLike
        Checkpoint file.
    end_of_epoch : bool
        Unused (SpeechBrain hook signature).
    """
    del end_of_epoch
    state_dict = _state_dict(path)
    try:
        obj.load_state_dict(state_dict, strict=True)
    except TypeError:  # optimizers / schedulers have no ``strict``
        obj.load_state_dict(state_dict)


def weights_only_parameter_transfer(obj: torch.nn.Module, path: PathLike):
    """``speechbrain.utils.checkpoints.torch_parameter_transfer``, weights
    only (non-strict; missing / unexpected keys are logged).

    Arguments
    ---------
    obj : torch.nn.Module
        Module receiving the parameters.
    path : str or os.PathLike
        Checkpoint file.
    """
    result = obj.load_state_dict(_state_dict(path), strict=False)
    for key in result.missing_keys:
        logger.warning("Parameter transfer from %s: missing %s", path, key)
    for key in result.unexpected_keys:
        logger.warning("Parameter transfer from %s: unexpected %s", path, key)


def install_weights_only_hooks() -> None:
    """Makes SpeechBrain's default state-dict loaders pass weights_only=True.

    Every entry of ``DEFAULT_LOAD_HOOKS`` that is SpeechBrain's
    ``torch_recovery`` and every entry of ``DEFAULT_TRANSFER_HOOKS`` that is
    ``torch_parameter_transfer`` is replaced. Idempotent.

    Example
    -------
    >>> install_weights_only_hooks()
    >>> hooks = sb_checkpoints.DEFAULT_LOAD_HOOKS
    >>> hooks[torch.nn.Module] is weights_only_recovery
    True
    """
    for hooks, unsafe, safe in (
        (
            sb_checkpoints.DEFAULT_LOAD_HOOKS,
            sb_checkpoints.torch_recovery,
            weights_only_recovery,
        ),
        (
            sb_checkpoints.DEFAULT_TRANSFER_HOOKS,
            sb_checkpoints.torch_parameter_transfer,
            weights_only_parameter_transfer,
        ),
    ):
        for cls, hook in list(hooks.items()):
            if hook is unsafe:
                hooks[cls] = safe
