"""Data: audio files, their checks, manifests, labels, splits, datasets.

* :mod:`~ast_sb.dataio.audio`: reading / writing audio (soundfile)
* :mod:`~ast_sb.dataio.audio_checks`: checking a preparation's audio files
* :mod:`~ast_sb.dataio.manifests`: manifests and lists of the preparations
* :mod:`~ast_sb.dataio.labels`: label checks, label-balanced weights
* :mod:`~ast_sb.dataio.splits`: group-independent splits
* :mod:`~ast_sb.dataio.datasets`: single- and multi-label datasets
* :mod:`~ast_sb.dataio.sharding`: WebDataset tar shards
* :mod:`~ast_sb.dataio.validation`: checks of the tensors every entry point
  receives
* :mod:`~ast_sb.dataio.seeding`: per-clip seeded random draws

Authors
 * ast_sb developers 2026
"""
