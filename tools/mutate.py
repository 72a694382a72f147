"""Mutation testing of the ast_sb core: do the tests catch plausible bugs?

For each core file the script makes single-point mutants (one operator,
constant, argument order or statement changed), runs the tests that cover
that file on a private copy of the repository (``pytest -x`` with a
per-mutant timeout) and reports how many mutants the tests kill. A mutant
that survives is either a gap in the tests or equivalent to the original
(``docs/TESTING.md`` lists the known ones).

Mutants are generated from the syntax tree (``ast``), so they are always
valid Python:

* arithmetic operator swaps (``+``/``-``, ``*``/``/``, ``//``/``/``, ...);
* comparison swaps (``<``/``<=``, ``==``/``!=``, ``in``/``not in``, ...),
  ``and``/``or``, a dropped ``not`` or unary minus;
* constant changes (integers +1, floats x2 or 0 -> 1, ``True``/``False``);
* swapped positional arguments of a call, swapped elements of a tuple or
  list, swapped values of two entries of a dict literal;
* a deleted statement (assignment, augmented assignment, call).

Docstrings, error messages (``raise``), logging and warnings are not
mutated. ``REGRESSION_MUTANTS`` adds hand-written mutants for bugs that once
slipped through (issue 12); they are always run.

The repository is copied (tracked and untracked, not ignored files) to a
temporary folder, so the working tree is never touched and an interrupted
run leaves nothing behind.

Usage (not part of CI; about 1-2 minutes per mutant on 2 busy cores)::

    OMP_NUM_THREADS=1 python tools/mutate.py                  # ~20 per file
    OMP_NUM_THREADS=1 python tools/mutate.py --files metrics  # one file
    OMP_NUM_THREADS=1 python tools/mutate.py --all            # every mutant
    python tools/mutate.py --list --files augment             # show mutants

Authors
 * ast_sb developers 2026
"""

import argparse
import ast
import copy
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS: Dict[str, Dict] = {
    "features": {
        "path": "ast_sb/lobes/features.py",
        "tests": [
            "tests/test_features.py",
            "tests/test_hf_parity.py::test_end_to_end_with_feature_extractor",
        ],
    },
    "model": {
        "path": "ast_sb/lobes/model.py",
        "tests": [
            "tests/test_model.py",
            "tests/test_hf_parity.py",
            "tests/test_pretrained.py",
            "tests/test_encoder_features.py",
            "tests/test_prefix_block.py",
            "tests/test_speechbrain_call_pattern.py",
            "tests/test_bad_inputs.py::test_bad_lengths_into_the_masked_encoder",
        ],
    },
    "clip_frames": {
        # each clip's own frames under SpeechBrain's call pattern
        "path": "ast_sb/lobes/clip_frames.py",
        "tests": ["tests/test_speechbrain_call_pattern.py"],
    },
    "prefix_block": {
        "path": "ast_sb/lobes/prefix_block.py",
        "tests": [
            "tests/test_prefix_block.py",
            "tests/test_encoder_features.py",
            "tests/test_hf_parity.py",
        ],
    },
    "tagging": {
        "path": "ast_sb/inference/timeline.py",
        # the event timeline shared by offline and streaming tagging
        "functions": ["update", "_close", "finish", "open"],
        "tests": ["tests/test_tagging.py"],
    },
    "position_embedding": {
        "path": "ast_sb/lobes/position_embedding.py",
        "tests": [
            "tests/test_pretrained.py",
            "tests/test_model.py",
            "tests/test_speechbrain_call_pattern.py",
        ],
    },
    "pretrained": {
        "path": "ast_sb/weights/pretrained.py",
        "tests": [
            "tests/test_pretrained.py",
            "tests/test_original_checkpoint.py",
            "tests/test_hf_parity.py",
        ],
    },
    "formats": {
        # checkpoint reading and key / tensor conversion (split from
        # pretrained.py)
        "path": "ast_sb/weights/formats.py",
        "tests": [
            "tests/test_pretrained.py",
            "tests/test_original_checkpoint.py",
            "tests/test_hf_parity.py",
        ],
    },
    "augment": {
        "path": "ast_sb/lobes/augment.py",
        "tests": ["tests/test_augment.py", "tests/test_brain_objectives.py"],
    },
    "metrics": {
        "path": "ast_sb/evaluation/metrics.py",
        "tests": ["tests/test_metrics.py"],
    },
    "brain": {
        "path": "ast_sb/training/brain.py",
        # only the loss / mixup / augmentation path of the Brain
        "functions": ["compute_objectives", "_augment", "_forward_waveforms"],
        "tests": [
            "tests/test_brain_objectives.py",
            "tests/test_brain.py::test_single_label_learns_and_evaluates",
            "tests/test_brain.py::test_multi_label_map",
        ],
    },
}
"""Mutated file and the tests that must catch its bugs, by short name.

The file's own doctests run too. The slow full-size parity test is
deselected (``DESELECT``): the small-model parity tests cover the same
code."""

DESELECT = ["tests/test_hf_parity.py::test_base_config_parity"]

REGRESSION_MUTANTS: List[Tuple[str, str, str, str]] = [
    (
        "pretrained",
        "HF layernorm_before/layernorm_after swapped",
        '"layernorm_before": "norm1",\n    "layernorm_after": "norm2",',
        '"layernorm_before": "norm2",\n    "layernorm_after": "norm1",',
    ),
    (
        "pretrained",
        "transformers v5 q_proj/k_proj swapped",
        '"q": ("attention.q_proj", "attention.attention.query"),\n'
        '    "k": ("attention.k_proj", "attention.attention.key"),',
        '"q": ("attention.k_proj", "attention.attention.query"),\n'
        '    "k": ("attention.q_proj", "attention.attention.key"),',
    ),
    (
        "pretrained",
        "q/k swapped in the qkv fusion",
        '[parts["q"], parts["k"], parts["v"]]',
        '[parts["k"], parts["q"], parts["v"]]',
    ),
    (
        "brain",
        # single- and multi-label share one soft-target path (_soft_targets)
        "targets mixed with 1 - lambda",
        "soft = Mixup.mix_targets(soft, *mix)",
        "soft = Mixup.mix_targets(soft, 1 - mix[0], mix[1])",
    ),
]
"""(target, description, original text, mutated text): bugs that once
survived the tests (issue 12). The DDP one (rank 1 with 6x the learning
rate) needs the 2-process test and is checked by hand, see TESTING.md."""

_BINOP_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
}
_CMP_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_QUIET_CALLS = {"warn", "info", "debug", "warning", "error", "exception"}


@dataclass
class Mutant:
    """One mutant of a target file."""

    target: str
    line: int
    description: str
    source: str = field(repr=False)
    status: str = ""
    seconds: float = 0.0


def _is_docstring(node: ast.AST, parent: Optional[ast.AST]) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _quiet(node: ast.AST) -> bool:
    """Statements whose mutation only changes messages."""
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        name = getattr(func, "attr", getattr(func, "id", ""))
        return name in _QUIET_CALLS
    return False


def _walk(
    node: ast.AST, in_scope: bool, functions: Optional[Sequence[str]]
) -> Iterator[Tuple[ast.AST, ast.AST]]:
    """Yields (node, parent) for mutable nodes, skipping quiet code.

    Skipped: docstrings, ``raise`` statements, logging / warning calls,
    imports, function signatures (defaults, annotations) and annotations.
    """
    for child in ast.iter_child_nodes(node):
        if _is_docstring(child, node) or _quiet(child):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom, ast.arguments)):
            continue
        if child is getattr(node, "annotation", None) or child is getattr(
            node, "returns", None
        ):
            continue
        scope = in_scope
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = in_scope or child.name in (functions or ())
        if scope:
            yield child, node
        yield from _walk(child, scope, functions)


def _mutations(node: ast.AST, parent: ast.AST) -> List[Tuple[str, object]]:
    """(description, action) pairs for one node; action mutates a copy."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        new = _BINOP_SWAPS[type(node.op)]
        out.append(
            (
                f"{type(node.op).__name__} -> {new.__name__}",
                lambda n, new=new: setattr(n, "op", new()),
            )
        )
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAPS:
        new = _BINOP_SWAPS[type(node.op)]
        out.append(
            (
                f"{type(node.op).__name__}= -> {new.__name__}=",
                lambda n, new=new: setattr(n, "op", new()),
            )
        )
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _CMP_SWAPS:
                new = _CMP_SWAPS[type(op)]

                def act(n, i=i, new=new):
                    n.ops[i] = new()

                out.append((f"{type(op).__name__} -> {new.__name__}", act))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(
            (
                f"{type(node.op).__name__} -> {new.__name__}",
                lambda n, new=new: setattr(n, "op", new()),
            )
        )
    elif isinstance(node, ast.UnaryOp) and isinstance(
        node.op, (ast.Not, ast.USub)
    ):
        out.append((f"drop {type(node.op).__name__}", "replace_with_operand"))
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str):
        value = node.value
        if isinstance(value, bool):
            out.append(
                (
                    f"{value} -> {not value}",
                    lambda n: setattr(n, "value", not n.value),
                )
            )
        elif isinstance(value, int):
            out.append(
                (
                    f"{value} -> {value + 1}",
                    lambda n: setattr(n, "value", n.value + 1),
                )
            )
        elif isinstance(value, float):
            new = 1.0 if value == 0 else value * 2
            out.append(
                (
                    f"{value} -> {new}",
                    lambda n, new=new: setattr(n, "value", new),
                )
            )
    elif isinstance(node, ast.Call) and len(node.args) >= 2:
        if not any(isinstance(a, ast.Starred) for a in node.args[:2]):

            def swap_args(n):
                n.args[0], n.args[1] = n.args[1], n.args[0]

            out.append(("swap first two arguments", swap_args))
    elif isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) >= 2:
        if not isinstance(parent, (ast.Assign, ast.For, ast.comprehension)) or (
            node is not getattr(parent, "target", None)
            and node not in getattr(parent, "targets", [])
        ):
            if not any(isinstance(e, ast.Starred) for e in node.elts[:2]):

                def swap_elts(n):
                    n.elts[0], n.elts[1] = n.elts[1], n.elts[0]

                out.append(("swap first two elements", swap_elts))
    elif isinstance(node, ast.Dict) and len(node.values) >= 2:
        for i in range(len(node.values) - 1):

            def swap_values(n, i=i):
                n.values[i], n.values[i + 1] = n.values[i + 1], n.values[i]

            out.append((f"swap dict values {i} and {i + 1}", swap_values))
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
    ):
        out.append(("delete statement", "delete"))
    return out


class _Apply(ast.NodeTransformer):
    """Applies one mutation to the ``index``-th visited candidate node."""

    def __init__(self, target_id: int, action):
        self.target_id = target_id
        self.action = action

    def generic_visit(self, node):
        if getattr(node, "_mut_id", None) == self.target_id:
            if self.action == "delete":
                return ast.copy_location(ast.Pass(), node)
            if self.action == "replace_with_operand":
                return node.operand
            self.action(node)
            return node
        return super().generic_visit(node)


def make_mutants(
    target: str,
    sample: Optional[int] = None,
    rng: Optional[random.Random] = None,
) -> Tuple[int, List[Mutant]]:
    """Single-point mutants of a target file (AST-level).

    Arguments
    ---------
    target : str
        Key of ``TARGETS``.
    sample : int, optional
        Draw this many mutation points (with ``rng``) instead of all.
    rng : random.Random, optional
        Sampling generator.

    Returns
    -------
    n_points : int
        Number of mutation points in the file.
    mutants : list of Mutant
        The (sampled) mutants whose source differs from the original's.
    """
    spec = TARGETS[target]
    with open(os.path.join(ROOT, spec["path"]), encoding="utf-8") as fin:
        text = fin.read()
    tree = ast.parse(text)
    functions = spec.get("functions")
    candidates = list(_walk(tree, functions is None, functions))
    points = []
    for i, (node, parent) in enumerate(candidates):
        node._mut_id = i
        for description, action in _mutations(node, parent):
            points.append((i, node.lineno, description, action))
    chosen = points
    if sample is not None and sample < len(points):
        chosen = (rng or random.Random(0)).sample(points, sample)
    original = ast.unparse(tree)
    mutants, seen = [], set()
    for i, line, description, action in sorted(chosen, key=lambda p: p[:2]):
        mutated = _Apply(i, action).visit(copy.deepcopy(tree))
        ast.fix_missing_locations(mutated)
        try:
            source = ast.unparse(mutated)
            compile(source, spec["path"], "exec")
        except (SyntaxError, ValueError):
            continue
        if source == original or source in seen:
            continue
        seen.add(source)
        mutants.append(Mutant(target, line, description, source))
    return len(points), mutants


def regression_mutants(targets: Sequence[str]) -> List[Mutant]:
    """The hand-written ``REGRESSION_MUTANTS`` of the selected targets."""
    out = []
    for target, description, old, new in REGRESSION_MUTANTS:
        if target not in targets:
            continue
        path = os.path.join(ROOT, TARGETS[target]["path"])
        with open(path, encoding="utf-8") as fin:
            text = fin.read()
        if text.count(old) != 1:
            print(f"WARNING: regression mutant not applicable: {description}")
            continue
        line = text[: text.index(old)].count("\n") + 1
        out.append(
            Mutant(
                target,
                line,
                f"[regression] {description}",
                text.replace(old, new),
            )
        )
    return out


def copy_repo(dest: str) -> None:
    """Copies tracked and untracked (not ignored) files to ``dest``."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))


def run_tests(
    workdir: str, target: str, timeout: float
) -> Tuple[str, float, str]:
    """Runs the target's tests in ``workdir``: (status, seconds, output)."""
    spec = TARGETS[target]
    tests = [
        t
        for t in spec["tests"]
        if os.path.exists(os.path.join(workdir, t.split("::")[0]))
    ]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        *[f"--deselect={d}" for d in DESELECT],
        spec["path"],  # its doctests
        *tests,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": workdir,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "HF_HUB_OFFLINE": "1",
    }
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    seconds = time.monotonic() - start
    status = "survived" if proc.returncode == 0 else "killed"
    if proc.returncode not in (0, 1):  # collection error, crash
        status = "killed"
    return status, seconds, proc.stdout[-2000:]


def _diff_line(original: str, mutated: str) -> str:
    """The first differing line of the sources (unparsed, for AST mutants)."""
    a = original.splitlines()
    if len(a) != len(mutated.splitlines()) or mutated.count("\n") != (
        original.count("\n")
    ):
        a = ast.unparse(ast.parse(original)).splitlines()
    b = mutated.splitlines()
    for x, y in zip(a, b):
        if x != y:
            return f"{x.strip()}  ==>  {y.strip()}"
    return "(line deleted)" if len(b) < len(a) else ""


def _write_json(path: str, mutants: Sequence[Mutant]) -> None:
    """Writes the results so far (the run can be stopped at any time)."""
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(
            [
                {
                    "target": m.target,
                    "line": m.line,
                    "description": m.description,
                    "status": m.status,
                    "seconds": round(m.seconds, 1),
                }
                for m in mutants
            ],
            fout,
            indent=1,
        )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns 0 when every baseline passes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--files",
        nargs="+",
        default=sorted(TARGETS),
        choices=sorted(TARGETS),
        help="targets to mutate (default: all)",
    )
    parser.add_argument(
        "--per-file", type=int, default=20, help="mutants sampled per file"
    )
    parser.add_argument("--all", action="store_true", help="every mutant")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per mutant"
    )
    parser.add_argument("--list", action="store_true", help="only list")
    parser.add_argument(
        "--jobs", type=int, default=1, help="mutants run in parallel"
    )
    parser.add_argument(
        "--skip-baseline",
        action="store_true",
        help="do not first run the tests on the unmutated code",
    )
    parser.add_argument(
        "--no-regression",
        action="store_true",
        help="skip the hand-written regression mutants",
    )
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    mutants: List[Mutant] = []
    for target in args.files:
        n_points, chosen = make_mutants(
            target, None if args.all else args.per_file, rng
        )
        print(f"{target}: {n_points} mutants, running {len(chosen)}")
        mutants.extend(chosen)
    if not args.no_regression:
        mutants.extend(regression_mutants(args.files))
    if args.list:
        for m in mutants:
            original = open(
                os.path.join(ROOT, TARGETS[m.target]["path"]), encoding="utf-8"
            ).read()
            print(
                f"{m.target}:{m.line}: {m.description}: "
                f"{_diff_line(original, m.source)}"
            )
        return 0

    with tempfile.TemporaryDirectory(prefix="ast_sb_mutate_") as tmp:
        workdirs = [os.path.join(tmp, f"w{j}") for j in range(args.jobs)]
        for workdir in workdirs:
            copy_repo(workdir)
        if not args.skip_baseline:
            for target in args.files:
                status, seconds, out = run_tests(
                    workdirs[0], target, args.timeout
                )
                print(f"baseline {target}: {status} ({seconds:.0f} s)")
                if status != "survived":
                    print(out)
                    print(f"The tests of {target} fail without mutation.")
                    return 2
        free = queue.Queue()
        for workdir in workdirs:
            free.put(workdir)
        done = [0]
        lock = threading.Lock()

        def run_one(m: Mutant) -> None:
            workdir = free.get()
            path = os.path.join(workdir, TARGETS[m.target]["path"])
            with open(path, encoding="utf-8") as fin:
                original = fin.read()
            with open(path, "w", encoding="utf-8") as fout:
                fout.write(m.source)
            try:
                m.status, m.seconds, _ = run_tests(
                    workdir, m.target, args.timeout
                )
            finally:
                with open(path, "w", encoding="utf-8") as fout:
                    fout.write(original)
                free.put(workdir)
            with lock:
                done[0] += 1
                if args.json:
                    _write_json(args.json, [x for x in mutants if x.status])
                print(
                    f"[{done[0]}/{len(mutants)}] {m.status:8s} "
                    f"{m.seconds:5.0f} s {m.target}:{m.line} "
                    f"{m.description}: {_diff_line(original, m.source)}",
                    flush=True,
                )

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run_one, mutants))

    print("\nKill rate per file (timeouts count as killed):")
    for target in args.files:
        mine = [m for m in mutants if m.target == target]
        killed = sum(m.status != "survived" for m in mine)
        print(f"  {target:20s} {killed}/{len(mine)}")
    killed = sum(m.status != "survived" for m in mutants)
    rate = killed / max(len(mutants), 1)
    print(f"TOTAL killed {killed}/{len(mutants)} = {100 * rate:.1f}%")
    survivors = [m for m in mutants if m.status == "survived"]
    if survivors:
        print("Survivors:")
        for m in survivors:
            original = open(
                os.path.join(ROOT, TARGETS[m.target]["path"]), encoding="utf-8"
            ).read()
            print(
                f"  {m.target}:{m.line} {m.description}: "
                f"{_diff_line(original, m.source)}"
            )
    if args.json:
        _write_json(args.json, mutants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
