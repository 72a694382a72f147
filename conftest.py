"""Collection rules of the whole suite.

The sound event detection metrics (``ast_sb/evaluation/sed_evaluation.py``) need the
``sed`` extra (``sed_eval``, ``sed_scores_eval``, ``setuptools<81``); in an
environment where ``sed_eval`` does not import, the module's doctests are
not collected (its tests skip with the reason).
"""

import importlib
import warnings


def _importable(name: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(name)
    except ImportError:
        return False
    return True


collect_ignore = []
if not (_importable("sed_eval") and _importable("sed_scores_eval")):
    collect_ignore.append("ast_sb/evaluation/sed_evaluation.py")
