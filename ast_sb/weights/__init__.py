"""Pretrained weights: loading them, finding them, reading them safely.

* :mod:`~ast_sb.weights.pretrained`: timm / original AST / HF / SSAST
  weights into an encoder (``load_pretrained``, ``build_from_hf``)
* :mod:`~ast_sb.weights.hub`: published ids, release URLs, aliases
* :mod:`~ast_sb.weights.safe_load`: ``weights_only`` loading everywhere

Authors
 * ast_sb developers 2026
"""
