"""Runs the docstring examples of the recipe scripts.

pytest's ``--doctest-modules`` covers the package only (the recipes have
several modules named ``train``), so each recipe script with examples is
loaded here under a unique name and its doctests are run.
"""

import doctest
import glob
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(
    path
    for path in glob.glob(os.path.join(ROOT, "recipes", "*", "*.py"))
    if ">>>" in open(path, encoding="utf-8").read()
)


def test_recipes_have_examples():
    assert SCRIPTS, "no recipe script with docstring examples found"


@pytest.mark.parametrize(
    "path", SCRIPTS, ids=[os.path.relpath(p, ROOT) for p in SCRIPTS]
)
def test_recipe_doctests(path, tmpdir):
    folder = os.path.dirname(path)
    name = "recipe_" + os.path.relpath(path, ROOT)[:-3].replace(os.sep, "_")
    sys.path.insert(0, folder)  # the script imports its prepare module
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    tests = finder.find(module, name, globs={"getfixture": lambda _: tmpdir})
    for test in tests:
        test.globs.update(vars(module))
        test.globs["getfixture"] = lambda _: tmpdir
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {path}"
