"""Per-clip random draws seeded by (seed, epoch, clip), not a global RNG.

Random crops and waveform mixup draw from a function of the run seed, the
epoch and the clip, so a resumed run (or any DataLoader worker, in any
order) reads exactly the draws of the uninterrupted run, and a new epoch
(:meth:`EpochSeeded.set_epoch`, called by the Brain) gives new draws.

Authors
 * ast_sb developers 2026
"""

import hashlib
from typing import Union

__all__ = ["EpochSeeded", "clip_hash"]


def clip_hash(seed: int, epoch: int, clip: Union[str, int]) -> int:
    """Unsigned 64-bit hash of ``(seed, epoch, clip)`` (BLAKE2b).

    Arguments
    ---------
    seed : int
        Run seed.
    epoch : int
        Epoch.
    clip : str or int
        Clip id (or index).

    Returns
    -------
    int
        A number in ``[0, 2**64)``.

    Example
    -------
    >>> clip_hash(0, 1, "a") == clip_hash(0, 1, "a")
    True
    >>> clip_hash(0, 1, "a") != clip_hash(0, 2, "a")
    True
    >>> 0 <= clip_hash(5, 0, "b") < 2**64
    True
    """
    key = f"{seed}:{epoch}:{clip}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little")


class EpochSeeded:
    """Mixin: a ``seed``, an ``epoch`` (0 at first) and ``set_epoch``.

    Call :meth:`init_seed` from ``__init__``; :meth:`clip_hash` hashes a
    clip with the current seed and epoch.

    Example
    -------
    >>> class Draws(EpochSeeded):
    ...     def __init__(self, seed):
    ...         self.init_seed(seed)
    >>> draws = Draws(3)
    >>> draws.seed, draws.epoch
    (3, 0)
    >>> draws.set_epoch(2)
    >>> draws.clip_hash("a") == clip_hash(3, 2, "a")
    True
    """

    seed: int
    epoch: int

    def init_seed(self, seed: int) -> None:
        """Sets the seed and starts at epoch 0.

        Arguments
        ---------
        seed : int
            Seed of the draws.
        """
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch of the draws (the Brain calls it every epoch).

        Arguments
        ---------
        epoch : int
            The epoch.
        """
        self.epoch = int(epoch)

    def clip_hash(self, clip: Union[str, int]) -> int:
        """:func:`clip_hash` of ``clip`` with this seed and epoch.

        Arguments
        ---------
        clip : str or int
            As in :func:`clip_hash`, which gives the result.
        """
        return clip_hash(self.seed, self.epoch, clip)
