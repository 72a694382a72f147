"""Export: writing model folders and other deployable forms.

* :mod:`~ast_sb.export.folder`: SpeechBrain ``EncoderClassifier`` folders
  (``export_inference_folder``, ``export_from_hparams``; was
  ``ast_sb/export.py``)
* :mod:`~ast_sb.export.safe_folder`: the declarative description that loads
  without executing anything
* :mod:`~ast_sb.export.atomic_folder`: all-or-nothing folder writes
* :mod:`~ast_sb.export.savedir`: stale SpeechBrain savedirs
* :mod:`~ast_sb.export.model_card`: the folder's README.md
* :mod:`~ast_sb.export.model_export`: TorchScript / ONNX / int8 ONNX
* :mod:`~ast_sb.export.convert`: HF / original AST checkpoints -> folder

The names of the old module ``ast_sb.export`` stay reachable here (e.g.
``!apply:ast_sb.export.label_encoder_with_len`` in exported YAML; see
:mod:`ast_sb._aliases`).

Authors
 * ast_sb developers 2026
"""

from ast_sb._aliases import forward_attribute


def __getattr__(name: str):
    return forward_attribute(__name__, name)
