"""Inference: the interface of exported models and the paths it runs.

* :mod:`~ast_sb.inference.interface`:
  ``AudioSpectrogramTransformerInterface`` (was ``ast_sb/inference.py``)
* :mod:`~ast_sb.inference.pipeline`: the exact waveform-to-scores modules of
  an exported folder
* :mod:`~ast_sb.inference.windows`: sliding windows and their average
* :mod:`~ast_sb.inference.fast`: per-machine encoder paths (oneDNN, int8,
  bf16)
* :mod:`~ast_sb.inference.tagging`: tagging long files
* :mod:`~ast_sb.inference.streaming`,
  :mod:`~ast_sb.inference.stream_sources`: real-time tagging
* :mod:`~ast_sb.inference.model_info`: size and set-up of a loaded model

The names of the old module ``ast_sb.inference`` (the interface) stay
reachable here: ``from ast_sb.inference import
AudioSpectrogramTransformerInterface`` (see :mod:`ast_sb._aliases`).

Authors
 * ast_sb developers 2026
"""

from ast_sb._aliases import forward_attribute


def __getattr__(name: str):
    return forward_attribute(__name__, name)
