"""Lobes: the trainable AST modules and what they are made of.

* :mod:`~ast_sb.lobes.features`: Kaldi fbank front end, input normaliser
* :mod:`~ast_sb.lobes.model`: the encoder and the classification head
* :mod:`~ast_sb.lobes.position_embedding`: position grids and their resizing
* :mod:`~ast_sb.lobes.prefix_block`: the last block for the pooled tokens
* :mod:`~ast_sb.lobes.token_budget`: structured patch dropping at inference
* :mod:`~ast_sb.lobes.augment`: batch-level SpecAugment / mixup

Authors
 * ast_sb developers 2026
"""
