"""``tools/run_tests_all_isa.py``: which instruction levels a CPU offers and
the settings each level runs with.

Authors
 * ast_sb developers 2026
"""

import doctest
import importlib.util
import os

from helpers import ROOT


def _tool():
    path = os.path.join(ROOT, "tools", "run_tests_all_isa.py")
    spec = importlib.util.spec_from_file_location("run_tests_all_isa", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_doctests():
    result = doctest.testmod(_tool())
    assert result.attempted >= 5 and result.failed == 0


def test_every_lower_level_sets_all_three_libraries():
    tool = _tool()
    for level in ("avx512", "avx2"):
        env = tool.level_env(level, {})
        assert set(env) == {
            "ATEN_CPU_CAPABILITY",
            "ONEDNN_MAX_CPU_ISA",
            "MKL_ENABLE_INSTRUCTIONS",
        }
    # an AVX-512 CPU without AVX2 flags is not offered avx2 (and vice versa)
    assert tool.available_levels({"avx512f"}) == ["default"]
