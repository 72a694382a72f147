"""Waveform-level mixup with a partner drawn from the whole data set.

The original AST dataloader (``src/dataloader.py``) mixes in the data
set, not in the batch: with probability ``mixup`` a clip is mixed with a
clip drawn uniformly from the *whole* training set, the two *waveforms*
are mixed, ``lam * x1 + (1 - lam) * x2`` with ``lam ~ Beta(10, 10)`` (the
partner zero-padded or cut to the clip's length), the fbank is computed
from the mixture, and the label becomes ``lam * y1 + (1 - lam) * y2``.

:class:`WaveformMixupDataset` wraps a training dataset to do exactly this.
Its draws (mix or not, partner, ``lam``) come from a NumPy generator seeded
with ``(seed, epoch, index)``, so they do not depend on the data order,
the worker or the process, and a resumed run draws what the uninterrupted
one drew. The item gets two extra keys, ``mixup_lam`` (``[1]``) and
``mixup_label`` (the partner's label, in the format of ``label_key``); the
Brain turns them into soft targets.

This is not the same augmentation as ``ast_sb.lobes.augment.Mixup``, which mixes
two clips of the *batch* after the fbank (log-mel features, in the
original's order before normalisation). The log of a sum is not the sum of
the logs, so the features differ: for ``lam = 0.5`` the normalised AudioSet
features of an fbank mixture and of a waveform mixture differ by up to 0.97
(a 440 Hz tone with white noise) and 1.16 (the tone with a chirp), 1 s each
(``tests/test_waveform_mixup.py``). The fbank of a waveform mixture follows
the louder clip in each bin, while the mean of two log spectra lies halfway
between them. The batch version is cheaper (no second file to load) and
the partner comes from the batch only.

Authors
 * ast_sb developers 2026
"""

import logging
from typing import Any, Dict, Tuple

import numpy as np
import torch

from ast_sb.dataio.seeding import EpochSeeded

__all__ = ["WaveformMixupDataset", "mix_waveforms"]

logger = logging.getLogger(__name__)


def mix_waveforms(
    wav: torch.Tensor, partner: torch.Tensor, lam: float
) -> torch.Tensor:
    """``lam * wav + (1 - lam) * partner``, as the original AST mixes.

    The partner has its mean removed, then is zero-padded or cut to the
    length of ``wav`` (the original also removes the mean of ``wav`` and of
    the mixture; those constant offsets do not change the Kaldi fbank,
    which removes each frame's mean).

    Arguments
    ---------
    wav : torch.Tensor
        [N] waveform of the clip.
    partner : torch.Tensor
        [M] waveform of the partner.
    lam : float
        Weight of ``wav``.

    Returns
    -------
    torch.Tensor
        [N] mixture.

    Example
    -------
    >>> mix_waveforms(torch.ones(4), torch.tensor([1.0, 3.0]), 0.75)
    tensor([0.5000, 1.0000, 0.7500, 0.7500])
    """
    partner = partner.to(wav.dtype)
    partner = partner - partner.mean()
    n = wav.shape[-1]
    if partner.shape[-1] >= n:
        partner = partner[..., :n]
    else:
        partner = torch.nn.functional.pad(partner, (0, n - partner.shape[-1]))
    return lam * wav + (1.0 - lam) * partner


class WaveformMixupDataset(EpochSeeded, torch.utils.data.Dataset):
    """A training dataset whose clips are mixed with whole-data-set partners.

    Arguments
    ---------
    dataset : torch.utils.data.Dataset
        Map-style dataset of dicts with ``sig`` (a 1-D waveform) and
        ``label_key`` (e.g. a ``DynamicItemDataset``). Its other attributes
        (``data``, ``data_ids``, ...) are reachable through the wrapper.
    mixup_prob : float
        Probability that a clip is mixed (AST ``mixup``: 0.5 AudioSet, 0.6
        Speech Commands).
    alpha : float
        ``lam ~ Beta(alpha, alpha)`` (10 in the AST code).
    seed : int
        Seed of the draws (with the epoch and the index).
    label_key : str
        Key of the encoded label.

    Example
    -------
    >>> base = [
    ...     {"sig": torch.ones(4), "label_encoded": torch.tensor([0])},
    ...     {"sig": torch.zeros(4), "label_encoded": torch.tensor([1])},
    ... ]
    >>> data = WaveformMixupDataset(base, mixup_prob=1.0, seed=3)
    >>> data.set_epoch(1)
    >>> item = data[0]
    >>> sorted(item)
    ['label_encoded', 'mixup_label', 'mixup_lam', 'sig']
    >>> data.draw(0) == data.draw(0)  # a function of (seed, epoch, index)
    True
    >>> lam = float(item["mixup_lam"])  # the partners have zero mean here
    >>> bool(torch.allclose(item["sig"], torch.full((4,), lam)))
    True
    """

    def __init__(
        self,
        dataset,
        mixup_prob: float = 0.5,
        alpha: float = 10.0,
        seed: int = 0,
        label_key: str = "label_encoded",
    ):
        if not 0.0 <= mixup_prob <= 1.0:
            raise ValueError(f"mixup_prob must be in [0, 1]: {mixup_prob}")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0: {alpha}")
        if isinstance(dataset, torch.utils.data.IterableDataset):
            raise TypeError(
                "Waveform mixup draws partners by index: it needs a "
                "map-style dataset, not a stream (WebDataset shards); use "
                "the in-batch mixup there."
            )
        self.base = dataset
        self.mixup_prob = float(mixup_prob)
        self.alpha = float(alpha)
        self.init_seed(seed)
        self.label_key = label_key

    def draw(self, index: int) -> Tuple[bool, int, float]:
        """The draws of clip ``index`` in the current epoch.

        Arguments
        ---------
        index : int
            Clip index.

        Returns
        -------
        mixed : bool
            Whether the clip is mixed.
        partner : int
            Index of the partner (uniform over the data set, the clip
            itself included, as in the original).
        lam : float
            Weight of the clip (1.0 when not mixed).
        """
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        mixed = bool(rng.random() < self.mixup_prob)
        partner = int(rng.integers(0, len(self.base)))
        lam = float(rng.beta(self.alpha, self.alpha))
        if not mixed:
            return False, int(index), 1.0
        return True, partner, lam

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        item = dict(self.base[index])
        mixed, partner, lam = self.draw(index)
        label = item[self.label_key]
        if mixed:
            other = self.base[partner]
            item["sig"] = mix_waveforms(item["sig"], other["sig"], lam)
            label = other[self.label_key]
        item["mixup_lam"] = torch.tensor([lam], dtype=torch.float32)
        item["mixup_label"] = label
        return item

    def __getattr__(self, name: str):
        # only called for missing attributes; "base" guards unpickling
        if name == "base" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.base, name)
