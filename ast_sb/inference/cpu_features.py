"""What the CPU can do natively, as the inference paths need to know it.

:func:`native_bf16` says whether the CPU has bfloat16 arithmetic in
hardware (Intel AMX-BF16 or AVX512-BF16, AMD Zen 4 AVX512-BF16). Without
it, PyTorch and oneDNN still run bfloat16, but by converting to float32
around every instruction, which is several times slower than float32.
The answer comes from the kernel's CPU flags (``/proc/cpuinfo``); PyTorch
has no public query for it (``torch.ops.mkldnn._is_mkldnn_bf16_supported``
is also True on plain AVX-512 CPUs, where oneDNN emulates bf16).

The environment variable ``AST_SB_NATIVE_BF16`` forces the answer ("1" or
"0"), so tests and users can exercise each branch on any CPU.

Authors
 * ast_sb developers 2026
"""

import functools
import os
from typing import FrozenSet, Optional

NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags that mean native bfloat16 arithmetic."""

NATIVE_BF16_ENV = "AST_SB_NATIVE_BF16"
"""Environment variable forcing :func:`native_bf16` ("1"/"0")."""


@functools.cache
def cpu_flags(path: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The CPU's feature flags, as the Linux kernel lists them.

    Arguments
    ---------
    path : str
        The cpuinfo file (empty set where it is missing: not Linux).

    Returns
    -------
    frozenset of str
        Flags of the first processor (e.g. "avx2", "amx_bf16").

    Example
    -------
    >>> isinstance(cpu_flags(), frozenset)
    True
    >>> cpu_flags("/nonexistent")
    frozenset()
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as fin:
            for line in fin:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def _forced(name: str) -> Optional[bool]:
    """The value of a "1"/"0" environment override, or None."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    if value:
        raise ValueError(f"{name} must be 1 or 0, got {value!r}.")
    return None


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16).

    ``AST_SB_NATIVE_BF16=1`` / ``=0`` forces the answer.

    Returns
    -------
    bool
        True when the CPU lists ``amx_bf16`` or ``avx512_bf16`` (or the
        variable says 1).

    Example
    -------
    >>> import os
    >>> os.environ[NATIVE_BF16_ENV] = "0"
    >>> native_bf16()
    False
    >>> os.environ[NATIVE_BF16_ENV] = "1"
    >>> native_bf16()
    True
    >>> del os.environ[NATIVE_BF16_ENV]
    """
    forced = _forced(NATIVE_BF16_ENV)
    if forced is not None:
        return forced
    if not onednn_isa_allows_bf16():
        return False
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def onednn_isa_allows_bf16() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` (if set) leaves oneDNN its bf16 kernels.

    ``ONEDNN_MAX_CPU_ISA=AVX2`` (or ``AVX512_CORE``, ...) limits oneDNN to an
    instruction set without bf16 arithmetic, as on a CPU without it (the
    AVX2 emulation of ``tools/run_tests_all_isa.py`` and the benchmarks);
    :func:`native_bf16` then says False whatever the CPU's flags.

    Returns
    -------
    bool
        True when the variable is unset, ``ALL``/``DEFAULT``, or names a
        level with bf16 (``AVX512_CORE_BF16``, ``AVX512_CORE_AMX``, ...).

    Example
    -------
    >>> import os
    >>> old = os.environ.pop("ONEDNN_MAX_CPU_ISA", None)
    >>> os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    >>> onednn_isa_allows_bf16()
    False
    >>> os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE_AMX"
    >>> onednn_isa_allows_bf16()
    True
    >>> del os.environ["ONEDNN_MAX_CPU_ISA"]
    >>> if old is not None:
    ...     os.environ["ONEDNN_MAX_CPU_ISA"] = old
    """
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if isa in ("", "ALL", "DEFAULT"):
        return True
    return any(tag in isa for tag in ("BF16", "AMX", "FP16", "AVX10"))


def describe_cpu() -> dict:
    """The CPU facts a benchmark or ``ast-sb info`` reports.

    Returns
    -------
    dict
        ``capability`` (PyTorch's kernel level), ``native_bf16`` and the
        relevant flags present.

    Example
    -------
    >>> sorted(describe_cpu())
    ['capability', 'flags', 'native_bf16']
    """
    import torch

    wanted = (
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
    )
    return {
        "capability": str(torch.backends.cpu.get_cpu_capability()),
        "native_bf16": native_bf16(),
        "flags": [f for f in wanted if f in cpu_flags()],
    }
