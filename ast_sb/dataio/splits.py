"""Group-independent train / valid / test splits (e.g. by speaker).

When several clips come from one speaker (or actor, recording session,
source file), a random split puts the same speaker in training and test and
measures how well the model recognises *that speaker*, not the class.
:func:`group_split` keeps every group in exactly one part, stratified by
class as far as the groups allow (the best of a few seeded greedy
assignments: see :func:`group_split`).

Authors
 * ast_sb developers 2026
"""

import random
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ast_sb.errors import DataPreparationError

__all__ = [
    "GROUP_SPLIT_CANDIDATES",
    "check_disjoint",
    "group_split",
    "stratified_split",
]


#: Candidate group assignments :func:`group_split` draws per seed.
GROUP_SPLIT_CANDIDATES = 32


def _assign_groups(
    counts: np.ndarray,
    target: np.ndarray,
    positive: List[int],
    rng: np.random.Generator,
) -> np.ndarray:
    """One seeded greedy assignment of groups to parts.

    The groups are taken in a random order (``rng``); each goes to the
    part where it reduces most the L1 distance between that part's class
    counts and its target counts (ties: the first part). When as many
    groups are left as parts with a positive ratio are still empty, the
    groups go to those parts.

    Arguments
    ---------
    counts : numpy.ndarray
        ``[groups, classes]`` items per group and class.
    target : numpy.ndarray
        ``[parts, classes]`` the stratified item counts (ratio x total).
    positive : list of int
        The parts with a positive ratio (the others stay empty).
    rng : numpy.random.Generator
        Source of the order.

    Returns
    -------
    numpy.ndarray
        ``[groups]`` the part of each group.
    """
    n_groups = counts.shape[0]
    filled = np.zeros_like(target)
    sizes = np.zeros(target.shape[0], dtype=np.int64)
    parts = np.empty(n_groups, dtype=np.int64)
    for step, group in enumerate(rng.permutation(n_groups)):
        empty = [p for p in positive if sizes[p] == 0]
        options = empty if n_groups - step <= len(empty) else positive
        before = np.abs(filled[options] - target[options]).sum(axis=1)
        after = np.abs(filled[options] + counts[group] - target[options]).sum(
            axis=1
        )
        part = options[int(np.argmin(after - before))]
        parts[group] = part
        filled[part] += counts[group]
        sizes[part] += 1
    return parts


def _deviation(
    counts: np.ndarray, target: np.ndarray, parts: np.ndarray
) -> float:
    """Sum of squared differences of class counts from the target."""
    filled = np.zeros_like(target)
    np.add.at(filled, parts, counts)
    return float(((filled - target) ** 2).sum())


def group_split(
    ids: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    ratios: Sequence[float],
    seed: int = 1234,
) -> List[List[str]]:
    """Splits ids into train / valid / test with no group in two parts.

    Whole groups are assigned to the parts, as close to stratified as the
    groups allow: :data:`GROUP_SPLIT_CANDIDATES` seeded greedy assignments
    are drawn (groups in a random order, each to the part whose class
    counts it brings closest to ``ratio x`` the class totals) and the one
    with the smallest squared deviation of the class counts from those
    targets is kept (the first drawn among equals). Different seeds give
    different splits even when every group has its own class mix
    (scikit-learn's ``StratifiedGroupKFold`` shuffle only reorders groups
    before a stable sort by that mix, so its seed often changes nothing).
    Sizes follow ``ratios`` only approximately: whole groups move.

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
    labels = [str(lab) for lab in labels]
    groups = [str(g) for g in groups]
    group_names = sorted(set(groups))
    classes = sorted(set(labels))
    group_index = {g: i for i, g in enumerate(group_names)}
    class_index = {c: i for i, c in enumerate(classes)}
    group_of = np.array([group_index[g] for g in groups], dtype=np.int64)
    class_of = np.array([class_index[c] for c in labels], dtype=np.int64)
    counts = np.zeros((len(group_names), len(classes)))
    np.add.at(counts, (group_of, class_of), 1.0)
    shares = np.array([r / total for r in ratios])
    target = np.outer(shares, counts.sum(axis=0))
    positive = [p for p in range(3) if ratios[p] > 0]
    if len(group_names) < len(positive):
        raise ValueError(
            f"Cannot split {len(group_names)} group(s) into "
            f"{len(positive)} parts: a group split needs a group per part"
        )
    rng = np.random.default_rng(seed)
    best, best_deviation = None, float("inf")
    for _ in range(GROUP_SPLIT_CANDIDATES):
        parts = _assign_groups(counts, target, positive, rng)
        deviation = _deviation(counts, target, parts)
        if deviation < best_deviation:
            best, best_deviation = parts, deviation
    item_parts = best[group_of]
    return [
        sorted(ids[i] for i in np.flatnonzero(item_parts == part))
        for part in range(3)
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
