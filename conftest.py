"""Test-session settings shared by ``tests/`` and the modules' doctests.

- ``AST_SB_NATIVE_BF16=0`` unless set: ``fast_path="auto"`` then follows
  the same (exact, fp32) rule on every CPU, so tests and doctests that
  compare the default path with fp32 give the same answer on an AMX Xeon
  and an AVX2 EPYC. The bf16 branch is tested by forcing it
  (tests/test_bf16_path.py); run the suite with ``AST_SB_NATIVE_BF16=1``
  to put every default through bf16.
- The sound event detection metrics
  (``ast_sb/evaluation/sed_evaluation.py``) need the ``sed`` extra
  (``sed_eval``, ``sed_scores_eval``, ``setuptools<81``); in an
  environment where ``sed_eval`` does not import, the module's doctests
  are not collected (its tests skip with the reason).
"""

import importlib
import os
import warnings

os.environ.setdefault("AST_SB_NATIVE_BF16", "0")


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
