"""Evaluation: metrics (mAP, ROC AUC, d-prime, accuracy) and plots.

* :mod:`~ast_sb.evaluation.metrics`
* :mod:`~ast_sb.evaluation.plots`

Authors
 * ast_sb developers 2026
"""
