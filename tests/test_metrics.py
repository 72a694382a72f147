"""Tests for ast_sb.evaluation.metrics against hand-computed values and references.

Authors
 * ast_sb developers 2026
"""

import io
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from ast_sb.evaluation.metrics import (
    AccuracyStats,
    MultiLabelStats,
    average_precision,
    d_prime,
    mean_average_precision,
    roc_auc,
)


def reference_ap(scores, targets):
    """Straightforward AP: sum over distinct thresholds of dR * P."""
    scores = np.asarray(scores, dtype=float)
    targets = np.asarray(targets) > 0.5
    n_pos = targets.sum()
    if n_pos == 0:
        return float("nan")
    ap, prev_recall = 0.0, 0.0
    for threshold in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= threshold
        tp = (predicted & targets).sum()
        precision = tp / predicted.sum()
        recall = tp / n_pos
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


def reference_auc(scores, targets):
    """Pairwise AUC: P(s_pos > s_neg) + 0.5 P(s_pos == s_neg)."""
    scores = np.asarray(scores, dtype=float)
    targets = np.asarray(targets) > 0.5
    pos, neg = scores[targets], scores[~targets]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_hand_computed_values():
    # scikit-learn documentation example
    assert average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])[
        0
    ] == pytest.approx(0.8333333333)
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])[0] == pytest.approx(
        0.75
    )
    # ties: thresholds 0.9 (P=0, R=0), 0.8 (P=1/3, R=1/2), 0.1 (P=1/2, R=1)
    scores, targets = [0.9, 0.8, 0.8, 0.1], [0, 1, 0, 1]
    assert average_precision(scores, targets)[0] == pytest.approx(
        0.5 * (1 / 3) + 0.5 * 0.5
    )
    # pairs: (0.8, 0.9)=0, (0.8, 0.8)=1/2, (0.1, *)=0 -> 0.5 / 4
    assert roc_auc(scores, targets)[0] == pytest.approx(0.125)
    # all scores tied: a single threshold, precision = prevalence
    assert average_precision([0.5] * 4, [1, 0, 1, 0])[0] == pytest.approx(0.5)
    assert roc_auc([0.5] * 4, [1, 0, 1, 0])[0] == pytest.approx(0.5)
    # perfect ranking
    assert average_precision([3, 2, 1], [1, 1, 0])[0] == pytest.approx(1.0)
    assert roc_auc([3, 2, 1], [1, 1, 0])[0] == pytest.approx(1.0)


@pytest.mark.parametrize("levels", [None, 5])
def test_against_reference_random(levels):
    rng = np.random.default_rng(0)
    n, c = 60, 7
    scores = rng.normal(size=(n, c))
    if levels is not None:  # many ties
        scores = np.round(scores * levels / 3) / levels
    targets = (rng.random((n, c)) < 0.3).astype(float)
    targets[:, 3] = 0  # a class without positives
    targets[:, 4] = 1  # a class without negatives
    ap = average_precision(torch.tensor(scores), torch.tensor(targets))
    auc = roc_auc(scores, targets)
    for k in range(c):
        ref_ap = reference_ap(scores[:, k], targets[:, k])
        ref_auc = reference_auc(scores[:, k], targets[:, k])
        if math.isnan(ref_ap):
            assert math.isnan(ap[k])
        else:
            assert ap[k] == pytest.approx(ref_ap, abs=1e-12)
        if math.isnan(ref_auc):
            assert math.isnan(auc[k])
        else:
            assert auc[k] == pytest.approx(ref_auc, abs=1e-12)
    expected_map = np.mean(
        [reference_ap(scores[:, k], targets[:, k]) for k in range(c) if k != 3]
    )
    assert mean_average_precision(scores, targets) == pytest.approx(
        expected_map
    )


def test_against_sklearn():
    """The original AST computes AP / AUC with scikit-learn."""
    from sklearn import metrics

    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=(80, 5)), 1)
    targets = (rng.random((80, 5)) < 0.4).astype(int)
    ap = average_precision(scores, targets)
    auc = roc_auc(scores, targets)
    for k in range(5):
        assert ap[k] == pytest.approx(
            metrics.average_precision_score(targets[:, k], scores[:, k])
        )
        assert auc[k] == pytest.approx(
            metrics.roc_auc_score(targets[:, k], scores[:, k])
        )


def test_d_prime():
    assert d_prime(0.5) == pytest.approx(0.0)
    assert d_prime(0.75) == pytest.approx(math.sqrt(2) * norm.ppf(0.75))
    assert d_prime(0.75) == pytest.approx(0.953873, abs=1e-5)
    np.testing.assert_allclose(
        d_prime(np.array([0.5, 0.9])), [0.0, math.sqrt(2) * norm.ppf(0.9)]
    )


def test_multilabel_stats_accumulates_and_dedupes():
    rng = np.random.default_rng(2)
    scores = torch.tensor(rng.normal(size=(10, 3)), dtype=torch.float32)
    targets = torch.tensor(rng.random((10, 3)) < 0.5, dtype=torch.float32)
    targets[0] = 1.0
    targets[1] = 0.0
    ids = [f"id{i}" for i in range(10)]
    stats = MultiLabelStats()
    stats.append(ids[:4], scores[:4].unsqueeze(1), targets[:4])  # [B,1,C]
    stats.append(ids[4:], scores[4:], targets[4:])
    stats.append(ids[:2], scores[:2] + 5.0, targets[:2])  # duplicates: ignored
    summary = stats.summarize()
    exp_ap = average_precision(scores, targets)
    exp_auc = roc_auc(scores, targets)
    assert summary["mAP"] == pytest.approx(np.nanmean(exp_ap))
    assert summary["AUC"] == pytest.approx(np.nanmean(exp_auc))
    assert summary["mAUC"] == summary["AUC"]
    assert summary["d_prime"] == pytest.approx(
        math.sqrt(2) * norm.ppf(np.nanmean(exp_auc))
    )
    assert stats.summarize("mAP") == summary["mAP"]
    assert stats.n_examples == 10
    out = io.StringIO()
    stats.write_stats(out, labels=["a", "b", "c"])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("mAP:")
    assert len(lines) == 2 + 3 and lines[2].split("\t")[1] == "a"
    stats.clear()
    assert math.isnan(stats.summarize("mAP"))


def test_accuracy_stats():
    stats = AccuracyStats()
    log_probs = torch.log_softmax(
        torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 3.0, 0], [0, 0, 3.0]]), -1
    )
    stats.append(
        ["a", "b"], log_probs[:2].unsqueeze(1), torch.tensor([[0], [1]])
    )
    stats.append(["c", "d"], log_probs[2:], torch.tensor([2, 2]))
    summary = stats.summarize()
    assert summary == {"accuracy": 0.75, "error": 0.25, "n_examples": 4}
    np.testing.assert_allclose(stats.class_accuracy, [1.0, 1.0, 0.5])
    out = io.StringIO()
    stats.write_stats(out)
    assert "accuracy: 0.750000" in out.getvalue()


def test_auc_and_ap_with_a_single_positive_or_negative():
    """One positive (or one negative) is enough for a defined AUC / AP."""
    from sklearn import metrics

    scores = np.array([[0.9, 0.2], [0.3, 0.8], [0.6, 0.7], [0.1, 0.4]])
    targets = np.array([[0, 1], [1, 1], [0, 1], [0, 0]])  # 1 pos; 1 neg
    auc = roc_auc(scores, targets)
    ap = average_precision(scores, targets)
    for k in range(2):
        assert auc[k] == pytest.approx(
            metrics.roc_auc_score(targets[:, k], scores[:, k])
        )
        assert ap[k] == pytest.approx(
            metrics.average_precision_score(targets[:, k], scores[:, k])
        )
    assert auc.tolist() == pytest.approx([1 / 3, 2 / 3])


def test_stats_accept_bf16_scores_that_require_grad():
    """Training-time outputs (autocast bf16, with autograd) are accepted."""
    rng = np.random.default_rng(3)
    scores = torch.tensor(rng.normal(size=(6, 3)), dtype=torch.float32)
    targets = torch.tensor(rng.random((6, 3)) < 0.5, dtype=torch.float32)
    targets[0], targets[1] = 1.0, 0.0
    ids = [f"id{i}" for i in range(6)]
    plain = MultiLabelStats()
    plain.append(ids, scores.bfloat16().float(), targets)
    stats = MultiLabelStats()
    stats.append(ids, scores.bfloat16().requires_grad_(), targets)
    assert stats.summarize() == plain.summarize()
    # stored as float32 without the autograd graph (no memory held)
    kept = MultiLabelStats._flatten_scores(scores.bfloat16().requires_grad_())
    assert kept.dtype == torch.float32 and not kept.requires_grad
    accuracy = AccuracyStats()
    accuracy.append(
        ids, scores.bfloat16().requires_grad_(), torch.arange(6) % 3
    )
    assert accuracy.summarize()["n_examples"] == 6
