"""Group-independent train / valid / test splits (e.g. by speaker).

When several clips come from one speaker (or actor, recording session,
source file), a random split puts the same speaker in training and test and
measures how well the model recognises *that speaker*, not the class.
:func:`group_split` keeps every group in exactly one part, stratified by
class as far as the groups allow (scikit-learn's ``StratifiedGroupKFold``).

Authors
 * ast_sb developers 2026
"""

import random
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ast_sb.errors import DataPreparationError

__all__ = ["check_disjoint", "group_split", "stratified_split"]


def _holdout(
    indices: np.ndarray,
    labels: Sequence[str],
    groups: Sequence[str],
    fraction: float,
    seed: int,
) -> np.ndarray:
    """Indices (of ``indices``) of a held-out part of about ``fraction``.

    The held-out part is one fold of ``round(1 / fraction)`` stratified
    group folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if fraction <= 0.0:
        return np.zeros(0, dtype=np.int64)
    sub_groups = [groups[i] for i in indices]
    n_groups = len(set(sub_groups))
    n_splits = min(max(2, int(round(1.0 / fraction))), n_groups)
    if n_splits < 2:
        raise ValueError(
            f"Cannot hold out {fraction:.0%} of {n_groups} group(s): a group "
            f"split needs at least 2 groups"
        )
    folds = StratifiedGroupKFold(
        n_splits=n_splits, shuffle=True, random_state=seed
    )
    _, held = next(
        iter(folds.split(indices, [labels[i] for i in indices], sub_groups))
    )
    return held


def group_split(
    ids: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    ratios: Sequence[float],
    seed: int = 1234,
) -> List[List[str]]:
    """Splits ids into train / valid / test with no group in two parts.

    The test part is one fold of ``round(1 / test_ratio)`` stratified group
    folds of all items; the valid part is then taken the same way from the
    rest. Sizes follow ``ratios`` only approximately: whole groups move.

    Arguments
    ---------
    ids : Sequence[str]
        Unique item ids.
    labels : Sequence[str]
        Class of each item (stratification).
    groups : Sequence[str]
        Group of each item (e.g. the speaker).
    ratios : Sequence[float]
        Train, valid and test ratios (need not sum to 1; valid may be 0).
    seed : int
        Random seed.

    Returns
    -------
    List[List[str]]
        Sorted train, valid and test ids.

    Example
    -------
    >>> ids = [f"s{s}_{c}{i}" for s in range(10) for c in "ab" for i in range(2)]
    >>> speakers = [i.split("_")[0] for i in ids]
    >>> labels = [i.split("_")[1][0] for i in ids]
    >>> train, valid, test = group_split(ids, labels, speakers, (0.6, 0.2, 0.2))
    >>> len(train), len(valid), len(test)
    (24, 8, 8)
    >>> spk = lambda part: {i.split("_")[0] for i in part}
    >>> spk(train) & spk(test), spk(train) & spk(valid), spk(valid) & spk(test)
    (set(), set(), set())
    """
    if len(ratios) != 3 or min(ratios) < 0 or ratios[0] <= 0:
        raise ValueError(
            f"ratios must be 3 values >= 0 with train > 0: {list(ratios)}"
        )
    if not len(ids) == len(labels) == len(groups):
        raise ValueError("ids, labels and groups must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    total = float(sum(ratios))
    train_r, valid_r, test_r = (r / total for r in ratios)
    labels = [str(lab) for lab in labels]
    groups = [str(g) for g in groups]
    everything = np.arange(len(ids))
    test_pos = _holdout(everything, labels, groups, test_r, seed)
    rest = np.setdiff1d(everything, everything[test_pos])
    valid_fraction = valid_r / (train_r + valid_r) if valid_r > 0 else 0.0
    valid_pos = _holdout(rest, labels, groups, valid_fraction, seed + 1)
    valid = rest[valid_pos]
    train = np.setdiff1d(rest, valid)
    return [
        sorted(ids[i] for i in part)
        for part in (train, valid, everything[test_pos])
    ]


def _split_sizes(n: int, ratios: Sequence[float]) -> List[int]:
    """Sizes of consecutive parts of ``n`` items by cumulative rounding."""
    total = float(sum(ratios))
    sizes, previous, cumulative = [], 0, 0.0
    for ratio in ratios:
        cumulative += ratio
        boundary = int(round(n * cumulative / total))
        sizes.append(boundary - previous)
        previous = boundary
    return sizes


def stratified_split(
    ids: Sequence[str],
    strata: Optional[Sequence[str]],
    ratios: Sequence[float],
    seed: int = 1234,
) -> List[List[str]]:
    """Deterministic random split of ids, stratified by a key.

    Inside each stratum the ids are sorted, shuffled with ``seed`` and cut
    into consecutive parts with sizes ``round(n * cumulative ratio)``, so
    every part gets (up to rounding) its share of each stratum. A stratum
    with a single item goes to the first part.

    Arguments
    ---------
    ids : Sequence[str]
        Items to split (unique).
    strata : Sequence[str], optional
        Stratum of each id (e.g. its class); ``None`` for a plain random
        split.
    ratios : Sequence[float]
        Relative part sizes, e.g. ``(0.8, 0.1, 0.1)``; need not sum to 1.
    seed : int
        Random seed.

    Returns
    -------
    List[List[str]]
        One sorted list of ids per ratio.

    Example
    -------
    >>> ids = [f"{c}{i}" for c in "ab" for i in range(10)]
    >>> train, valid, test = stratified_split(
    ...     ids, [i[0] for i in ids], (0.8, 0.1, 0.1), seed=0
    ... )
    >>> len(train), len(valid), len(test)
    (16, 2, 2)
    >>> sorted(i[0] for i in test)
    ['a', 'b']
    """
    if len(ratios) == 0 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"ratios must be >= 0 with a positive sum: {ratios}")
    if strata is None:
        strata = [""] * len(ids)
    if len(strata) != len(ids):
        raise ValueError("ids and strata must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    groups: Dict[str, List[str]] = defaultdict(list)
    for key, stratum in zip(ids, strata):
        groups[stratum].append(key)
    parts: List[List[str]] = [[] for _ in ratios]
    rng = random.Random(seed)
    for stratum in sorted(groups):
        members = sorted(groups[stratum])
        rng.shuffle(members)
        start = 0
        for part, size in zip(parts, _split_sizes(len(members), ratios)):
            part.extend(members[start : start + size])
            start += size
    return [sorted(part) for part in parts]


def check_disjoint(
    splits: Mapping[str, Mapping[str, Mapping[str, Any]]], field: str
):
    """Checks that no value of ``field`` occurs in two splits (leakage).

    Arguments
    ---------
    splits : Mapping[str, Manifest]
        Split name -> manifest.
    field : str
        Entry field that must not be shared (e.g. "speaker", "actor").

    Raises
    ------
    DataPreparationError
        Naming the shared values and the splits.

    Example
    -------
    >>> train = {"u1": {"speaker": "s1"}}
    >>> test = {"u2": {"speaker": "s1"}}
    >>> check_disjoint({"train": train, "test": {}}, "speaker")
    >>> check_disjoint({"train": train, "test": test}, "speaker")
    Traceback (most recent call last):
    ...
    ast_sb.errors.DataPreparationError: speaker values shared by splits train and test: ['s1']
    """
    values = {
        name: {entry[field] for entry in manifest.values()}
        for name, manifest in splits.items()
    }
    names = list(values)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = values[first] & values[second]
            if shared:
                raise DataPreparationError(
                    f"{field} values shared by splits {first} and {second}: "
                    f"{sorted(shared)[:20]}"
                )
