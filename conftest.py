"""Test-session settings shared by ``tests/`` and the modules' doctests.

``AST_SB_NATIVE_BF16=0`` unless set: ``fast_path="auto"`` then follows the
same (exact, fp32) rule on every CPU, so tests and doctests that compare
the default path with fp32 give the same answer on an AMX Xeon and an AVX2
EPYC. The bf16 branch is tested by forcing it (tests/test_bf16_path.py);
run the suite with ``AST_SB_NATIVE_BF16=1`` to put every default through
bf16.
"""

import os

os.environ.setdefault("AST_SB_NATIVE_BF16", "0")
