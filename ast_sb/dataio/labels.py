"""Label checks of the data preparations and label-balanced weights.

:func:`check_label` validates a label against a label set
(:class:`UnknownLabelError` names the label and where it was found);
:func:`balanced_sample_weights` gives the AudioSet-style sampling weights
that balance the classes.

Authors
 * ast_sb developers 2026
"""

from collections import Counter
from typing import Iterable, List, Optional, Sequence

from ast_sb.errors import DataPreparationError

__all__ = ["UnknownLabelError", "balanced_sample_weights", "check_label"]


class UnknownLabelError(DataPreparationError):
    """A label is not in the allowed label set; names label and source.

    Arguments
    ---------
    label : str
        The unknown label.
    source : str
        Where it was found (file, CSV row, ...).
    allowed : Iterable[str], optional
        The allowed labels, listed in the message (first 20).

    Example
    -------
    >>> print(UnknownLabelError("bird", "meta.csv line 3", ["cat", "dog"]))
    Unknown label 'bird' in meta.csv line 3 (allowed: 'cat', 'dog')
    """

    def __init__(
        self, label: str, source: str, allowed: Optional[Iterable[str]] = None
    ):
        self.label = label
        self.source = source
        msg = f"Unknown label {label!r} in {source}"
        if allowed is not None:
            allowed = sorted(allowed)
            shown = ", ".join(repr(a) for a in allowed[:20])
            more = f", ... ({len(allowed)} in all)" if len(allowed) > 20 else ""
            msg += f" (allowed: {shown}{more})"
        super().__init__(msg)


def check_label(
    label: str, allowed: Optional[Iterable[str]], source: str
) -> str:
    """Checks that a label is non-empty and (optionally) in an allowed set.

    Arguments
    ---------
    label : str
        Label to check (surrounding white space is stripped).
    allowed : Iterable[str], optional
        Allowed labels; ``None`` accepts any non-empty label.
    source : str
        Where the label comes from (named in the error message).

    Returns
    -------
    str
        The stripped label.

    Example
    -------
    >>> check_label(" dog ", {"dog", "cat"}, "a.csv line 2")
    'dog'
    >>> check_label("cow", {"dog", "cat"}, "a.csv line 3")
    Traceback (most recent call last):
    ...
    ast_sb.dataio.labels.UnknownLabelError: Unknown label 'cow' in a.csv line 3 (allowed: 'cat', 'dog')
    """
    label = label.strip()
    if not label:
        raise DataPreparationError(f"Empty label in {source}")
    if allowed is not None:
        allowed = set(allowed)
        if label not in allowed:
            raise UnknownLabelError(label, source, allowed)
    return label


def balanced_sample_weights(
    label_lists: Sequence[Sequence[str]],
    numerator: float = 1000.0,
    smoothing: float = 0.01,
) -> List[float]:
    """Per-sample weights for class-balanced sampling (original AST).

    As in AST's ``gen_weight_file.py``: each label gets the weight
    ``numerator / (count + smoothing)`` (``count`` = number of samples with
    the label) and a sample's weight is the sum of its labels' weights.
    Use them with ``torch.utils.data.WeightedRandomSampler`` (or
    SpeechBrain's ``ReproducibleWeightedRandomSampler``).

    Arguments
    ---------
    label_lists : Sequence[Sequence[str]]
        Labels of each sample (a single-label sample is a 1-item list).
        Repeated labels within a sample count once.
    numerator : float
        Numerator of the label weight.
    smoothing : float
        Added to the label count.

    Returns
    -------
    List[float]
        One weight per sample.

    Example
    -------
    >>> w = balanced_sample_weights([["a"], ["a", "b"], ["a"]])
    >>> [round(x, 3) for x in w]
    [332.226, 1322.325, 332.226]
    """
    counts = Counter(label for labels in label_lists for label in set(labels))
    label_weight = {k: numerator / (c + smoothing) for k, c in counts.items()}
    return [
        float(sum(label_weight[label] for label in sorted(set(labels))))
        for labels in label_lists
    ]
