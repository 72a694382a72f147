#!/usr/bin/env python3
"""Runs pytest once at every instruction level this CPU offers.

Float32 results depend on the kernels the CPU runs (AVX2, AVX-512, AMX):
they sum in other orders and round differently. A tolerance that holds on
one machine can fail on another, so this runs the same tests at each
level the CPU can emulate:

- ``default``: what PyTorch, oneDNN and MKL pick (on an AVX-512/AMX Xeon:
  AVX-512 ATen kernels, oneDNN with AMX);
- ``avx512`` (CPUs with AVX-512 F/BW/VL/DQ): ``ATEN_CPU_CAPABILITY=avx512
  ONEDNN_MAX_CPU_ISA=AVX512_CORE MKL_ENABLE_INSTRUCTIONS=AVX512``, i.e.
  AVX-512 without VNNI, BF16 or AMX (Skylake-X class);
- ``avx2`` (CPUs with AVX2 and FMA): ``ATEN_CPU_CAPABILITY=avx2
  ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`` (AMD EPYC /
  older Intel class).

Levels come from ``/proc/cpuinfo`` (else from
``torch.backends.cpu.get_cpu_capability()``). Before each run a child
process prints the ATen capability and oneDNN ISA in effect, so a setting
that did not take is seen. Arguments this script does not know go to
pytest (after ``--`` everything does); without any, it runs
``-q tests ast_sb``. Exit status: 0 when every level passed, else the
first failing level's pytest status.

Usage::

    OMP_NUM_THREADS=1 python tools/run_tests_all_isa.py
    python tools/run_tests_all_isa.py --levels avx2 -- -q tests/test_features.py
    python tools/run_tests_all_isa.py --list

Authors
 * ast_sb developers 2026
"""

import argparse
import os
import subprocess
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: the variables each level sets (the default level removes them all)
LEVEL_ENV: Dict[str, Dict[str, str]] = {
    "default": {},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
    },
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
}
#: /proc/cpuinfo flags a level needs
LEVEL_FLAGS: Dict[str, Set[str]] = {
    "default": set(),
    "avx512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "avx2": {"avx2", "fma"},
}
#: the ATen capability each level must report
LEVEL_ATEN = {"avx512": "AVX512", "avx2": "AVX2"}

PROBE = """
import torch
print("ATen", torch.backends.cpu.get_cpu_capability(), flush=True)
if torch.backends.mkldnn.is_available():  # oneDNN prints its ISA (verbose)
    x, w = torch.randn(1, 8, 6, 6), torch.randn(8, 8, 3, 3)
    torch.mkldnn_convolution(x, w, None, [0, 0], [1, 1], [1, 1], 1)
"""


def cpu_flags(path: str = "/proc/cpuinfo") -> Optional[Set[str]]:
    """The CPU's feature flags (first ``flags`` line), None if unreadable."""
    try:
        with open(path) as fin:
            for line in fin:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def available_levels(flags: Optional[Iterable[str]] = None) -> List[str]:
    """Levels this CPU can run, highest first (``default`` always).

    Without ``flags`` (no ``/proc/cpuinfo``), PyTorch's own capability
    decides: ``AVX512`` offers both lower levels, ``AVX2`` offers avx2.

    >>> available_levels({"avx2", "fma", "avx512f", "avx512bw",
    ...                   "avx512vl", "avx512dq", "amx_tile"})
    ['default', 'avx512', 'avx2']
    >>> available_levels({"avx2", "fma"})
    ['default', 'avx2']
    >>> available_levels({"sse4_2"})
    ['default']
    """
    if flags is None:
        flags = cpu_flags()
    if flags is None:
        import torch

        cap = torch.backends.cpu.get_cpu_capability()
        order = ["AVX2", "AVX512"]
        rank = order.index(cap) + 1 if cap in order else 0
        have = {"avx2": rank >= 1, "avx512": rank >= 2}
        return ["default"] + [lvl for lvl in ("avx512", "avx2") if have[lvl]]
    flags = set(flags)
    return [lvl for lvl in LEVEL_ENV if LEVEL_FLAGS[lvl] <= flags]


def level_env(
    level: str, base: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """The environment of ``level``: ``base`` (default: ``os.environ``)
    without any inherited ISA setting, plus the level's variables.

    >>> env = level_env("avx2", {"ATEN_CPU_CAPABILITY": "avx512", "X": "1"})
    >>> env["ATEN_CPU_CAPABILITY"], env["ONEDNN_MAX_CPU_ISA"], env["X"]
    ('avx2', 'AVX2', '1')
    >>> "ATEN_CPU_CAPABILITY" in level_env("default", env)
    False
    """
    env = dict(os.environ if base is None else base)
    for name in LEVEL_ENV["avx2"]:
        env.pop(name, None)
    env.update(LEVEL_ENV[level])
    return env


def probe(level: str) -> str:
    """What the level really runs: ``ATen <cap>; oneDNN isa:<...>``."""
    env = level_env(level)
    env["ONEDNN_VERBOSE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    text = out.stdout + out.stderr
    aten = next(
        (ln.split()[1] for ln in text.splitlines() if ln.startswith("ATen ")),
        "?",
    )
    isa = next(
        (
            part
            for ln in text.splitlines()
            for part in ln.split(",")
            if part.startswith("isa:")
        ),
        "isa:?",
    )
    return f"ATen {aten}; oneDNN {isa}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        description="Run pytest at every instruction level of this CPU; "
        "other arguments go to pytest."
    )
    parser.add_argument(
        "--levels",
        help="comma-separated subset of default,avx512,avx2 "
        "(default: all this CPU offers)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the levels, their settings and what they run; no tests",
    )
    args, unknown = parser.parse_known_args(argv)
    pytest_args = unknown + passthrough
    cwd = None  # the caller's: its paths are relative to it
    if not pytest_args:
        pytest_args, cwd = ["-q", "tests", "ast_sb"], ROOT
    offered = available_levels()
    levels = offered
    if args.levels:
        levels = [lvl.strip() for lvl in args.levels.split(",") if lvl.strip()]
        bad = [lvl for lvl in levels if lvl not in offered]
        if bad:
            parser.error(
                f"levels {bad} not offered by this CPU (it offers {offered})"
            )
    status = 0
    results = []
    for level in levels:
        settings = " ".join(f"{k}={v}" for k, v in LEVEL_ENV[level].items())
        effect = probe(level)
        print(
            f"== {level}: {settings or '(no settings)'} -> {effect}", flush=True
        )
        want = LEVEL_ATEN.get(level)
        if want and f"ATen {want};" not in effect:
            print(f"== {level}: ATen did not take the setting", file=sys.stderr)
            results.append((level, "setting not applied"))
            status = status or 3
            continue
        if args.list:
            continue
        code = subprocess.call(
            [sys.executable, "-m", "pytest", *pytest_args],
            env=level_env(level),
            cwd=cwd,
        )
        results.append((level, "passed" if code == 0 else f"failed ({code})"))
        status = status or code
    for level, result in results:
        print(f"== {level}: {result}")
    return status


if __name__ == "__main__":
    sys.exit(main())
