"""Helpers shared by the tests: recipe runs and tiny exported models.

Authors
 * ast_sb developers 2026
"""

import os
import subprocess
import sys
from typing import Any, Dict, Optional, Sequence

import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.export import export_inference_folder
from ast_sb.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join(ROOT, "recipes")


def recipe_env() -> Dict[str, str]:
    """Environment of a recipe subprocess: the repo importable, offline."""
    # (each train.py puts its own folder on sys.path for its prepare script)
    paths = [ROOT, os.environ.get("PYTHONPATH")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "HF_HUB_OFFLINE": "1",
        # tiny models: one thread is as fast, and robust on a busy machine
        "OMP_NUM_THREADS": "1",
    }


def run_recipe(
    recipe: str,
    hparams_file: str,
    args: Sequence[str] = (),
    options: Optional[Dict[str, Any]] = None,
) -> subprocess.CompletedProcess:
    """Runs ``recipes/<recipe>/train.py`` on CPU in a subprocess.

    Arguments
    ---------
    recipe : str
        Recipe folder name under ``recipes/`` (e.g. "ESC50").
    hparams_file : str
        YAML file name in the recipe's ``hparams/``.
    args : Sequence[str]
        Extra command-line arguments, as they are.
    options : dict, optional
        Override name -> value (``--name value``).

    Returns
    -------
    subprocess.CompletedProcess
        The finished run (the test fails with its log if it failed).
    """
    recipe_dir = os.path.join(RECIPES, recipe)
    cmd = [
        sys.executable,
        os.path.join(recipe_dir, "train.py"),
        os.path.join(recipe_dir, "hparams", hparams_file),
        "--device",
        "cpu",
        "--noprogressbar",
        *args,
    ]
    for name, value in (options or {}).items():
        cmd.extend([f"--{name}", str(value)])
    proc = subprocess.run(cmd, env=recipe_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def make_model_folder(
    path,
    labels,
    multi_label: bool = False,
    target_length: int = 128,
    feature_length: int = 128,
    seed: int = 0,
    normalizer: Optional[Dict[str, float]] = None,
) -> str:
    """Writes a tiny (depth 1) exported AST inference folder.

    Arguments
    ---------
    path : str or os.PathLike
        Output folder.
    labels : list of str
        Class names.
    multi_label : bool
        Logits head (multi-label) instead of log-probabilities.
    target_length : int
        Encoder time grid (frames).
    feature_length : int
        ``target_length`` of the exported fbank front end.
    seed : int
        Seed of the random weights.
    normalizer : dict, optional
        ``mean`` / ``std`` of the exported normaliser (default: AST's).

    Returns
    -------
    str
        The folder.
    """
    torch.manual_seed(seed)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=target_length
    )
    head = AudioSpectrogramTransformerClassifier(
        enc.embed_dim,
        len(labels),
        output="logits" if multi_label else "log_softmax",
    )
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(labels)
    return export_inference_folder(
        str(path),
        enc.eval(),
        head.eval(),
        encoder,
        {"target_length": feature_length},
        normalizer,
        multi_label=multi_label,
    )
