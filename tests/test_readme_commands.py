"""The README's main command installs what the README's commands need.

Authors
 * ast_sb developers 2026
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(marker):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fin:
        lines = fin.read().splitlines()
    start = lines.index(f"<!-- {marker} -->")
    assert lines[start + 1].startswith("```")
    return lines[start + 2]


def _extra(name):
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as fin:
        text = fin.read()
    found = re.search(rf"^{name} = \[(.*?)\]", text, flags=re.M | re.S)
    assert found, name
    return re.findall(r'"([A-Za-z0-9_.-]+)', found.group(1))


def test_main_command_installs_the_onnx_export_dependencies():
    # `ast-sb export --format onnx` (README) imports onnx and onnxruntime
    command = _command("main-command")
    installed = re.search(r"pip install[^&]* -e \"?\.(\[[^\]]*\])?", command)
    assert installed, command
    extras = (installed.group(1) or "[]").strip("[]").split(",")
    assert "onnx" in extras, command
    assert {"onnx", "onnxruntime"} <= set(_extra("onnx"))


def test_main_command_runs_the_demo_with_progress_bars():
    command = _command("main-command")
    assert "python -m ast_sb.demo" in command
    assert "--noprogressbar" not in command
