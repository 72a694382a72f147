"""Learning-rate schedule of the AST recipes: warmup, then step/cosine decay.

``WarmupDecayScheduler`` computes a multiplicative factor from the number of
optimizer steps and completed epochs and applies it to *every* param group
relative to that group's own base learning rate through torch's
``LambdaLR``, so a classification head with a 10x learning rate keeps its
ratio to the encoder throughout training (SpeechBrain's schedulers set one
value for all groups). Its state (the two counters and the base learning
rates) is saved and restored by SpeechBrain's ``Checkpointer``, so resuming
is exact.

Authors
 * ast_sb developers 2026
"""

import math
import warnings
from typing import Dict, List, Optional

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch.optim.lr_scheduler import LambdaLR

_DECAYS = ("step", "cosine", "constant")


@register_checkpoint_hooks
class WarmupDecayScheduler:
    """Linear warmup over optimizer steps followed by an epoch-wise decay.

    The learning rate of param group ``g`` is ``base_lr[g] * factor`` with
    ``factor = warmup(n_steps) * decay(n_epochs, n_steps)`` where ``n_steps``
    counts optimizer updates already made and ``n_epochs`` completed epochs.

    * warmup: ``min(1, (n_steps + 1) / warmup_steps)``, i.e. the k-th update
      uses ``k / warmup_steps`` of the base lr (1 when ``warmup_steps = 0``).
    * ``decay="step"``: ``gamma ** m`` with ``m`` the number of milestones
      ``decay_start, decay_start + step_epochs, ...`` that are ``<= n_epochs``.
      This is torch ``MultiStepLR(milestones=range(decay_start, inf,
      step_epochs))`` stepped once per epoch, as in the AST code: ESC-50 and
      Speech Commands use ``decay_start=5, step_epochs=1, gamma=0.85`` (the
      lr is multiplied by 0.85 after each epoch from the 5th on), AudioSet
      balanced ``decay_start=10, step_epochs=5, gamma=0.5``.
    * ``decay="cosine"``: half-cosine from 1 to ``min_lr_ratio``. With
      ``total_steps`` set it follows the optimizer steps after warmup
      (``(n_steps - warmup_steps) / (total_steps - warmup_steps)``);
      otherwise it follows the completed epochs from ``decay_start`` to
      ``total_epochs``.
    * ``decay="constant"``: 1 after warmup.

    Call ``on_batch_end(optimizer)`` after every optimizer update and
    ``on_epoch_end(epoch, optimizer)`` after each epoch. The base learning
    rates are read from the optimizer the first time it is seen (or from a
    param group's ``initial_lr`` if present) and are part of the saved state.

    Arguments
    ---------
    warmup_steps : int
        Number of optimizer updates of the linear warmup (0: none).
    decay : str
        ``"step"``, ``"cosine"`` or ``"constant"``.
    gamma : float
        Multiplicative factor of the step decay.
    decay_start : int
        First epoch milestone of the step decay; first epoch of the
        epoch-wise cosine decay.
    step_epochs : int
        Epochs between two step-decay milestones.
    total_epochs : int, optional
        Epoch at which the epoch-wise cosine decay reaches its floor.
    total_steps : int, optional
        Optimizer step at which the step-wise cosine decay reaches its floor.
    min_lr_ratio : float
        Floor of the cosine decay, relative to the base lr.

    Example
    -------
    >>> model = torch.nn.Linear(2, 2)
    >>> opt = torch.optim.SGD(
    ...     [{"params": [model.weight]}, {"params": [model.bias], "lr": 1.0}],
    ...     lr=0.1,
    ... )
    >>> sched = WarmupDecayScheduler(
    ...     warmup_steps=2, decay="step", gamma=0.5, decay_start=1
    ... )
    >>> sched.attach(opt)
    >>> [g["lr"] for g in opt.param_groups]
    [0.05, 0.5]
    >>> sched.on_batch_end(opt)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 1.0]
    >>> sched.on_epoch_end(1, opt)
    >>> [g["lr"] for g in opt.param_groups]
    [0.05, 0.5]
    """

    def __init__(
        self,
        warmup_steps: int = 0,
        decay: str = "step",
        gamma: float = 0.85,
        decay_start: int = 5,
        step_epochs: int = 1,
        total_epochs: Optional[int] = None,
        total_steps: Optional[int] = None,
        min_lr_ratio: float = 0.0,
    ):
        if decay not in _DECAYS:
            raise ValueError(f"decay must be one of {_DECAYS}, got {decay!r}.")
        if warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0.")
        if step_epochs < 1:
            raise ValueError("step_epochs must be >= 1.")
        if decay == "cosine" and total_steps is None and total_epochs is None:
            raise ValueError(
                "decay='cosine' needs total_steps or total_epochs."
            )
        self.warmup_steps = int(warmup_steps)
        self.decay = decay
        self.gamma = float(gamma)
        self.decay_start = int(decay_start)
        self.step_epochs = int(step_epochs)
        self.total_epochs = total_epochs
        self.total_steps = total_steps
        self.min_lr_ratio = float(min_lr_ratio)
        self.n_steps = 0
        self.n_epochs = 0
        self.base_lrs: Optional[List[float]] = None
        self.lr_scheduler: Optional[LambdaLR] = None

    # ------------------------------------------------------------------
    def _warmup_factor(self, n_steps: int) -> float:
        """Linear warmup factor for the update after ``n_steps``."""
        if self.warmup_steps <= 0:
            return 1.0
        return min(1.0, (n_steps + 1) / self.warmup_steps)

    def _cosine(self, progress: float) -> float:
        """Half-cosine from 1 to ``min_lr_ratio`` over progress in [0, 1]."""
        progress = min(1.0, max(0.0, progress))
        cos = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cos

    def _decay_factor(self, n_epochs: int, n_steps: int) -> float:
        """Decay factor after ``n_epochs`` epochs / ``n_steps`` updates."""
        if self.decay == "constant":
            return 1.0
        if self.decay == "step":
            if n_epochs < self.decay_start:
                return 1.0
            n_milestones = (n_epochs - self.decay_start) // self.step_epochs + 1
            return self.gamma**n_milestones
        # cosine
        if self.total_steps is not None:
            span = max(1, self.total_steps - self.warmup_steps)
            return self._cosine((n_steps - self.warmup_steps) / span)
        span = max(1, self.total_epochs - self.decay_start)
        return self._cosine((n_epochs - self.decay_start) / span)

    def get_factor(
        self, n_steps: Optional[int] = None, n_epochs: Optional[int] = None
    ) -> float:
        """Returns the lr factor for given (or the current) counters.

        Arguments
        ---------
        n_steps : int, optional
            Optimizer updates already made (default: current state).
        n_epochs : int, optional
            Completed epochs (default: current state).

        Returns
        -------
        float
            Factor applied to every group's base learning rate.

        Example
        -------
        >>> sched = WarmupDecayScheduler(warmup_steps=0, gamma=0.85)
        >>> [round(sched.get_factor(0, e), 4) for e in range(4, 8)]
        [1.0, 0.85, 0.7225, 0.6141]
        """
        n_steps = self.n_steps if n_steps is None else n_steps
        n_epochs = self.n_epochs if n_epochs is None else n_epochs
        return self._warmup_factor(n_steps) * self._decay_factor(
            n_epochs, n_steps
        )

    # ------------------------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer):
        """Records the base lrs (first call only) and sets the current lrs.

        Call it once the optimizer exists and after a checkpoint was
        recovered (``AudioSpectrogramTransformerBrain`` does it in
        ``on_fit_start``). The lrs are set by a ``torch.optim.lr_scheduler.
        LambdaLR`` whose factor is :meth:`get_factor` (``lr_scheduler``).

        Arguments
        ---------
        optimizer : torch.optim.Optimizer
            The optimizer whose param groups are scheduled.
        """
        groups = optimizer.param_groups
        if self.base_lrs is None:
            self.base_lrs = [g.get("initial_lr", g["lr"]) for g in groups]
        elif len(self.base_lrs) != len(groups):
            raise ValueError(
                f"Scheduler has {len(self.base_lrs)} base lrs but the "
                f"optimizer has {len(groups)} param groups."
            )
        for group, base_lr in zip(groups, self.base_lrs):
            group["initial_lr"] = base_lr
        # LambdaLR sets lr = initial_lr * factor at once (its initial step)
        self.lr_scheduler = LambdaLR(optimizer, lambda _: self.get_factor())

    def _apply(self, optimizer: torch.optim.Optimizer):
        """Sets every group's lr to its base lr times the current factor."""
        if self.lr_scheduler is None or self.lr_scheduler.optimizer is not (
            optimizer
        ):
            self.attach(optimizer)
            return
        with warnings.catch_warnings():
            # the step counters are ours; torch's order check does not apply
            warnings.filterwarnings("ignore", "Detected call of")
            self.lr_scheduler.step()

    def on_batch_end(self, optimizer: torch.optim.Optimizer):
        """Counts one optimizer update and updates the lrs.

        Arguments
        ---------
        optimizer : torch.optim.Optimizer
            The scheduled optimizer.
        """
        self.n_steps += 1
        self._apply(optimizer)

    def on_epoch_end(self, epoch: int, optimizer: torch.optim.Optimizer):
        """Marks ``epoch`` as completed and updates the lrs.

        Idempotent: calling it twice for the same epoch changes nothing.

        Arguments
        ---------
        epoch : int
            The (1-based) epoch that just ended.
        optimizer : torch.optim.Optimizer
            The scheduled optimizer.
        """
        self.n_epochs = int(epoch)
        self._apply(optimizer)

    def current_lrs(self) -> List[float]:
        """Returns the learning rate of every group at the current state.

        Returns
        -------
        list of float
            ``base_lr * factor`` per param group (empty before ``attach``).
        """
        if self.base_lrs is None:
            return []
        factor = self.get_factor()
        return [lr * factor for lr in self.base_lrs]

    # ------------------------------------------------------------------
    def state_dict(self) -> Dict:
        """Returns the scheduler state.

        Returns
        -------
        dict
            Counters and base learning rates.
        """
        return {
            "n_steps": self.n_steps,
            "n_epochs": self.n_epochs,
            "base_lrs": None if self.base_lrs is None else list(self.base_lrs),
        }

    def load_state_dict(self, state: Dict):
        """Restores a state produced by ``state_dict``.

        Arguments
        ---------
        state : dict
            Scheduler state.
        """
        self.n_steps = int(state["n_steps"])
        self.n_epochs = int(state["n_epochs"])
        base = state.get("base_lrs")
        self.base_lrs = None if base is None else [float(x) for x in base]
        self.lr_scheduler = None  # rebuilt from these base lrs when applied

    @mark_as_saver
    def save(self, path):
        """Saves the state for the SpeechBrain ``Checkpointer``.

        Arguments
        ---------
        path : str or pathlib.Path
            Destination file.
        """
        torch.save(self.state_dict(), path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Loads the state for the SpeechBrain ``Checkpointer``.

        Arguments
        ---------
        path : str or pathlib.Path
            Source file.
        end_of_epoch : bool
            Whether the checkpoint was saved at the end of an epoch (unused:
            the counters are exact either way).
        """
        del end_of_epoch
        self.load_state_dict(torch.load(path, weights_only=True))

    def __repr__(self) -> str:
        """Returns the constructor arguments."""
        return (
            f"{self.__class__.__name__}(warmup_steps={self.warmup_steps}, "
            f"decay={self.decay!r}, gamma={self.gamma}, "
            f"decay_start={self.decay_start}, step_epochs={self.step_epochs}, "
            f"total_epochs={self.total_epochs}, total_steps={self.total_steps}"
            f", min_lr_ratio={self.min_lr_ratio})"
        )
