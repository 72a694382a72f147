"""Training: the Brain, the shared recipe steps and what they use.

* :mod:`~ast_sb.training.brain`: ``AudioSpectrogramTransformerBrain``
* :mod:`~ast_sb.training.recipe`: the steps every recipe's ``train.py`` runs
* :mod:`~ast_sb.training.param_groups`, :mod:`~ast_sb.training.schedulers`:
  optimiser groups and the learning-rate schedule
* :mod:`~ast_sb.training.checkpoints`, :mod:`~ast_sb.training.averaging`:
  crash-safe checkpoints, weight averaging
* :mod:`~ast_sb.training.waveform_mixup`,
  :mod:`~ast_sb.training.background_noise`: waveform augmentation
* :mod:`~ast_sb.training.norm_stats`: normalisation statistics
* :mod:`~ast_sb.training.cross_validation`: k-fold runs of a recipe
* :mod:`~ast_sb.training.baseline`: MFCC + logistic-regression baseline

Authors
 * ast_sb developers 2026
"""
