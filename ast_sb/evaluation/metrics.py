"""Classification metrics for AST training: mAP, ROC AUC, d-prime, accuracy.

SpeechBrain has no average-precision metric, so this module provides:

* ``average_precision`` and ``roc_auc``: scikit-learn's
  ``average_precision_score`` / ``roc_auc_score`` per class, with NaN for
  the classes where they are undefined (no positive; for the AUC also no
  negative), so that means can skip them.
* ``d_prime``: ``sqrt(2) * Phi^-1(AUC)``, as reported by AST.
* ``MultiLabelStats`` and ``AccuracyStats``: SpeechBrain ``MetricStats``-style
  accumulators (``append`` / ``summarize`` / ``write_stats`` / ``clear``).
  Their ``summarize`` gathers the accumulated examples of every process when
  ``torch.distributed`` is initialised and drops duplicated ids, so all ranks
  report the same numbers whether the evaluation data is sharded or not.

Authors
 * ast_sb developers 2026
"""

import math
from typing import Dict, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np
import torch
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def _as_2d_float64(x: ArrayLike) -> np.ndarray:
    """Converts scores or targets to a [N, C] float64 numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"Expected [N] or [N, C] arrays, got {x.shape}.")
    return x


def _binarised(scores: ArrayLike, targets: ArrayLike):
    """Scores [N, C] float64 and targets [N, C] binarised with ``> 0.5``."""
    s = _as_2d_float64(scores)
    y = _as_2d_float64(targets) > 0.5
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and targets {y.shape} differ.")
    return s, y


def _per_class(metric, s: np.ndarray, y: np.ndarray, defined) -> np.ndarray:
    """``metric`` of every column where ``defined``, NaN elsewhere."""
    out = np.full(s.shape[1], np.nan)
    for c in np.flatnonzero(defined):
        out[c] = metric(y[:, c], s[:, c])
    return out


def average_precision(scores: ArrayLike, targets: ArrayLike) -> np.ndarray:
    """Average precision of every class (column).

    scikit-learn's ``average_precision_score`` per class:
    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds in
    decreasing order (examples with equal scores enter together). Targets
    are binarised with ``> 0.5``. Classes without any positive example get
    NaN (scikit-learn would return 0 with a warning).

    Arguments
    ---------
    scores : torch.Tensor or numpy.ndarray
        [N, C] (or [N]) scores; any monotone transform (logits,
        probabilities) gives the same result.
    targets : torch.Tensor or numpy.ndarray
        [N, C] (or [N]) binary targets.

    Returns
    -------
    numpy.ndarray
        [C] average precisions (NaN for classes without positives).

    Example
    -------
    >>> ap = average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> print(f"{ap[0]:.4f}")
    0.8333
    """
    s, y = _binarised(scores, targets)
    return _per_class(average_precision_score, s, y, y.any(axis=0))


def roc_auc(scores: ArrayLike, targets: ArrayLike) -> np.ndarray:
    """Area under the ROC curve of every class (column).

    scikit-learn's ``roc_auc_score`` per class (a tie between a positive and
    a negative counts 1/2). Targets are binarised with ``> 0.5``. Classes
    with no positive or no negative example get NaN (scikit-learn raises).

    Arguments
    ---------
    scores : torch.Tensor or numpy.ndarray
        [N, C] (or [N]) scores.
    targets : torch.Tensor or numpy.ndarray
        [N, C] (or [N]) binary targets.

    Returns
    -------
    numpy.ndarray
        [C] AUCs.

    Example
    -------
    >>> auc = roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> print(f"{auc[0]:.2f}")
    0.75
    """
    s, y = _binarised(scores, targets)
    defined = y.any(axis=0) & ~y.all(axis=0)
    return _per_class(roc_auc_score, s, y, defined)


def d_prime(auc: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
    """Sensitivity index ``d' = sqrt(2) * Phi^-1(AUC)``.

    Arguments
    ---------
    auc : float or numpy.ndarray
        Area(s) under the ROC curve.

    Returns
    -------
    float or numpy.ndarray
        d-prime value(s) (inf for AUC = 1).

    Example
    -------
    >>> print(f"{d_prime(0.5):.1f} {d_prime(0.9):.4f}")
    0.0 1.8124
    """
    value = math.sqrt(2.0) * norm.ppf(auc)
    if np.ndim(value) == 0:
        return float(value)
    return value


def mean_average_precision(scores: ArrayLike, targets: ArrayLike) -> float:
    """Mean of the per-class AP over classes with at least one positive.

    Arguments
    ---------
    scores : torch.Tensor or numpy.ndarray
        [N, C] scores.
    targets : torch.Tensor or numpy.ndarray
        [N, C] binary targets.

    Returns
    -------
    float
        mAP (NaN when no class has a positive).

    Example
    -------
    >>> scores = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.3]]
    >>> targets = [[1, 0], [0, 1], [0, 0]]
    >>> mean_average_precision(scores, targets)
    1.0
    """
    ap = average_precision(scores, targets)
    if np.all(np.isnan(ap)):
        return float("nan")
    return float(np.nanmean(ap))


def _gather_objects(obj):
    """Returns the list of ``obj`` of every process (``[obj]`` if not DDP)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        gathered = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, obj)
        return gathered
    return [obj]


class _IdStats:
    """Base accumulator keyed by example ids, DDP-gathered on summarize.

    Arguments
    ---------
    ddp_gather : bool
        Gather the examples of all processes in ``summarize`` when
        ``torch.distributed`` is initialised (a collective call: every rank
        must call ``summarize``).
    """

    def __init__(self, ddp_gather: bool = True):
        self.ddp_gather = ddp_gather
        self.clear()

    def clear(self):
        """Removes all accumulated examples."""
        self.ids: List[str] = []
        self._scores: List[torch.Tensor] = []
        self._targets: List[torch.Tensor] = []
        self.summary: Dict[str, float] = {}

    @staticmethod
    def _flatten_scores(scores: torch.Tensor) -> torch.Tensor:
        """[B, 1, C] or [B, C] -> float32 CPU [B, C]."""
        scores = scores.detach().float().cpu()
        if scores.dim() == 3:
            scores = scores.squeeze(1)
        if scores.dim() == 1:
            scores = scores[:, None]
        return scores

    def append(
        self,
        ids: Sequence[str],
        scores: torch.Tensor,
        targets: torch.Tensor,
    ):
        """Adds a batch of examples.

        Arguments
        ---------
        ids : list
            Example ids (used to drop duplicates across DDP ranks).
        scores : torch.Tensor
            [B, C] or [B, 1, C] class scores (logits, probabilities or
            log-probabilities).
        targets : torch.Tensor
            Multi-hot [B, C] (``MultiLabelStats``) or class indices [B] /
            [B, 1] (``AccuracyStats``).
        """
        scores = self._flatten_scores(scores)
        self.ids.extend(ids)
        self._scores.append(scores)
        self._targets.append(self._format_targets(targets, scores))

    @staticmethod
    def _format_targets(targets: torch.Tensor, scores: torch.Tensor):
        """Targets of a batch as stored (defined by the subclasses)."""
        raise NotImplementedError

    def collect(self) -> Tuple[List[str], torch.Tensor, torch.Tensor]:
        """Concatenates (and across processes gathers) the examples.

        Returns
        -------
        ids : list
            Unique example ids (first occurrence kept).
        scores : torch.Tensor
            [N, C] scores.
        targets : torch.Tensor
            Matching targets.
        """
        if self._scores:
            scores = torch.cat(self._scores)
            targets = torch.cat(self._targets)
        else:
            scores = torch.zeros(0, 0)
            targets = torch.zeros(0)
        local = (list(self.ids), scores, targets)
        parts = _gather_objects(local) if self.ddp_gather else [local]
        ids: List[str] = []
        keep_scores, keep_targets = [], []
        seen = set()
        for part_ids, part_scores, part_targets in parts:
            if len(part_ids) == 0:
                continue
            keep = []
            for i, utt_id in enumerate(part_ids):
                if utt_id not in seen:
                    seen.add(utt_id)
                    ids.append(utt_id)
                    keep.append(i)
            keep_t = torch.tensor(keep, dtype=torch.long)
            keep_scores.append(part_scores[keep_t])
            keep_targets.append(part_targets[keep_t])
        if not ids:
            return [], torch.zeros(0, 0), torch.zeros(0)
        return ids, torch.cat(keep_scores), torch.cat(keep_targets)

    def _select(self, field: Optional[str]):
        """Returns the summary or one field of it."""
        if field is None:
            return self.summary
        return self.summary[field]


class MultiLabelStats(_IdStats):
    """Accumulates multi-label scores and targets; reports mAP, AUC, d-prime.

    ``summarize`` returns ``{"mAP", "mAUC", "AUC", "d_prime"}`` (``AUC`` is
    an alias of the mean AUC ``mAUC``). Means are over classes with at least
    one positive (and, for the AUC, one negative) example; d-prime is
    computed from the mean AUC, as in the AST code. Per-class values are kept
    in ``self.class_ap`` / ``self.class_auc`` after ``summarize``.

    Arguments
    ---------
    ddp_gather : bool
        Gather the examples of all processes in ``summarize`` when
        ``torch.distributed`` is initialised. Duplicate ids are dropped.

    Example
    -------
    >>> stats = MultiLabelStats()
    >>> stats.append(
    ...     ["a", "b"], torch.tensor([[2.0, -1.0], [-1.0, 0.5]]),
    ...     torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
    ... )
    >>> stats.append(
    ...     ["c"], torch.tensor([[0.3, 0.2]]), torch.tensor([[1.0, 1.0]])
    ... )
    >>> summary = stats.summarize()
    >>> print(f"{summary['mAP']:.4f} {summary['AUC']:.2f}")
    1.0000 1.00
    """

    @staticmethod
    def _format_targets(targets: torch.Tensor, scores: torch.Tensor):
        """[B, C] multi-hot targets as float32 CPU, shaped like the scores."""
        return targets.detach().float().cpu().reshape(scores.shape)

    def summarize(
        self, field: Optional[str] = None
    ) -> Union[Dict[str, float], float]:
        """Computes mAP, mean AUC and d-prime over all appended examples.

        Arguments
        ---------
        field : str, optional
            Return only this entry of the summary.

        Returns
        -------
        dict or float
            ``{"mAP", "mAUC", "AUC", "d_prime"}`` or one of them.
        """
        self.summary_ids, scores, targets = self.collect()
        self.n_examples = len(self.summary_ids)
        if self.n_examples == 0:
            nan = float("nan")
            self.class_ap = np.zeros(0)
            self.class_auc = np.zeros(0)
            self.summary = {"mAP": nan, "mAUC": nan, "AUC": nan, "d_prime": nan}
            return self._select(field)
        self.class_ap = average_precision(scores, targets)
        self.class_auc = roc_auc(scores, targets)
        self.class_pos = (targets > 0.5).sum(dim=0).numpy()
        m_ap = (
            float(np.nanmean(self.class_ap))
            if not np.all(np.isnan(self.class_ap))
            else float("nan")
        )
        m_auc = (
            float(np.nanmean(self.class_auc))
            if not np.all(np.isnan(self.class_auc))
            else float("nan")
        )
        self.summary = {
            "mAP": m_ap,
            "mAUC": m_auc,
            "AUC": m_auc,
            "d_prime": d_prime(m_auc),
        }
        return self._select(field)

    def write_stats(
        self, filestream: TextIO, labels: Optional[Sequence[str]] = None
    ):
        """Writes the summary and per-class AP / AUC / d-prime.

        Arguments
        ---------
        filestream : file-like
            Stream to write to.
        labels : list of str, optional
            Class names, by class index.
        """
        if not self.summary:
            self.summarize()
        filestream.write(
            f"mAP: {self.summary['mAP']:.6f}  mAUC: "
            f"{self.summary['mAUC']:.6f}  d_prime: "
            f"{self.summary['d_prime']:.6f}  examples: {self.n_examples}\n"
        )
        filestream.write("class\tlabel\tpositives\tAP\tAUC\td_prime\n")
        for c, (ap, auc) in enumerate(zip(self.class_ap, self.class_auc)):
            name = labels[c] if labels is not None else str(c)
            filestream.write(
                f"{c}\t{name}\t{int(self.class_pos[c])}\t{ap:.6f}\t"
                f"{auc:.6f}\t{d_prime(auc):.6f}\n"
            )


class AccuracyStats(_IdStats):
    """Accumulates single-label predictions; reports accuracy and error.

    ``summarize`` returns ``{"accuracy", "error", "n_examples"}``; per-class
    accuracies (recall) are in ``self.class_accuracy`` afterwards.

    Arguments
    ---------
    ddp_gather : bool
        Gather the examples of all processes in ``summarize`` when
        ``torch.distributed`` is initialised. Duplicate ids are dropped.

    Example
    -------
    >>> stats = AccuracyStats()
    >>> log_probs = torch.log_softmax(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), -1)
    >>> stats.append(["a", "b"], log_probs, torch.tensor([[0], [0]]))
    >>> stats.summarize()
    {'accuracy': 0.5, 'error': 0.5, 'n_examples': 2}
    """

    @staticmethod
    def _format_targets(targets: torch.Tensor, scores: torch.Tensor):
        """[B] or [B, 1] class indices as a long CPU vector [B]."""
        return targets.detach().long().cpu().reshape(-1)

    def summarize(
        self, field: Optional[str] = None
    ) -> Union[Dict[str, float], float]:
        """Computes accuracy and error rate over all appended examples.

        Arguments
        ---------
        field : str, optional
            Return only this entry of the summary.

        Returns
        -------
        dict or float
            ``{"accuracy", "error", "n_examples"}`` or one of them.
        """
        self.summary_ids, scores, targets = self.collect()
        n = len(self.summary_ids)
        if n == 0:
            self.class_accuracy = np.zeros(0)
            self.summary = {
                "accuracy": float("nan"),
                "error": float("nan"),
                "n_examples": 0,
            }
            return self._select(field)
        pred = scores.argmax(dim=-1)
        correct = (pred == targets).double()
        n_classes = max(scores.shape[1], int(targets.max()) + 1)
        counts = torch.bincount(targets, minlength=n_classes).double()
        hits = torch.bincount(targets, weights=correct, minlength=n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.class_accuracy = (hits / counts).numpy()
        self.class_count = counts.numpy()
        accuracy = float(correct.mean())
        self.summary = {
            "accuracy": accuracy,
            "error": 1.0 - accuracy,
            "n_examples": n,
        }
        return self._select(field)

    def write_stats(
        self, filestream: TextIO, labels: Optional[Sequence[str]] = None
    ):
        """Writes the summary and per-class accuracy.

        Arguments
        ---------
        filestream : file-like
            Stream to write to.
        labels : list of str, optional
            Class names, by class index.
        """
        if not self.summary:
            self.summarize()
        filestream.write(
            f"accuracy: {self.summary['accuracy']:.6f}  error: "
            f"{self.summary['error']:.6f}  examples: "
            f"{self.summary['n_examples']}\n"
        )
        filestream.write("class\tlabel\texamples\taccuracy\n")
        for c, acc in enumerate(self.class_accuracy):
            name = labels[c] if labels is not None else str(c)
            filestream.write(
                f"{c}\t{name}\t{int(self.class_count[c])}\t{acc:.6f}\n"
            )
