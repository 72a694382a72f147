"""Helpers shared by the tests: recipe runs, tiny exported models and
Brains on the stand-in modules of ``ddp_worker.py``.

Authors
 * ast_sb developers 2026
"""

import os
import subprocess
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from ast_sb.export.folder import export_inference_folder
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.training.brain import AudioSpectrogramTransformerBrain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join(ROOT, "recipes")


def adam(groups) -> torch.optim.Optimizer:
    """The optimiser of the test Brains: Adam, learning rate 3e-3."""
    return torch.optim.Adam(groups, lr=3e-3)


def make_brain(
    ckpt_dir: Optional[str] = None,
    epochs: int = 3,
    multi_label: bool = False,
    brain_class: type = AudioSpectrogramTransformerBrain,
    run_opts: Optional[Dict[str, Any]] = None,
    **hparams: Any,
) -> Tuple[AudioSpectrogramTransformerBrain, EpochCounter]:
    """A Brain on the stand-in modules of ``ddp_worker.py`` (CPU).

    With ``ckpt_dir`` a Checkpointer keeps the embedding model, the
    classifier and the epoch counter there; ``hparams`` override
    ``ddp_worker.make_hparams`` and ``run_opts`` the CPU run options.
    Returns the Brain and its epoch counter.
    """
    import ddp_worker  # tests/ is on sys.path wherever helpers is imported

    modules = ddp_worker.make_modules(multi_label=multi_label)
    counter = EpochCounter(epochs)
    checkpointer = None
    if ckpt_dir is not None:
        checkpointer = Checkpointer(
            ckpt_dir,
            recoverables={
                "embedding_model": modules["embedding_model"],
                "classifier": modules["classifier"],
                "counter": counter,
            },
        )
    opts = {"device": "cpu", "noprogressbar": True}
    opts.update(run_opts or {})
    brain = brain_class(
        modules=modules,
        opt_class=adam,
        hparams=ddp_worker.make_hparams(
            multi_label, epoch_counter=counter, **hparams
        ),
        run_opts=opts,
        checkpointer=checkpointer,
    )
    return brain, counter


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


#: transformer blocks of the demo YAMLs' model in recipe tests
TEST_DEPTH = 6


def run_recipe(
    recipe: str,
    hparams_file: str,
    args: Sequence[str] = (),
    options: Optional[Dict[str, Any]] = None,
) -> subprocess.CompletedProcess:
    """Runs ``recipes/<recipe>/train.py`` on CPU in a subprocess.

    A demo YAML (``ast_demo.yaml``) runs with ``TEST_DEPTH`` blocks unless
    ``--depth`` is given.

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
    given = {a.split("=")[0] for a in cmd if a.startswith("--")}
    if hparams_file == "ast_demo.yaml" and "--depth" not in given:
        # the demo YAMLs' tiny224 has 12 blocks; TEST_DEPTH (6) learns the
        # tests' synthetic classes as well in less time (recipe tests 355 s
        # -> 288 s, suite budget); 4 fell below ESC-50's accuracy bound
        cmd.extend(["--depth", str(TEST_DEPTH)])
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


def randomize_parameters(
    module: torch.nn.Module, seed: int = 0, qk_gain: float = 2.0
) -> torch.nn.Module:
    """Gives every parameter of a ViT/AST-like module random values, in place.

    Default initialisations hide mapping mistakes: LayerNorms at 1 / 0, zero
    biases and near-uniform attention make swapped LayerNorms, biases or
    query/key weights give the same outputs. Here LayerNorm weights are
    ``1 + 0.3 n``, every bias ``0.2 n``, matrices ``n / sqrt(fan_in)``, other
    tensors (cls / distillation tokens, position embeddings) ``0.5 n`` with
    ``n ~ N(0, 1)``, and query/key weights are scaled by ``qk_gain`` so that
    attention is peaked (gain 2 puts about half of each row's weight on one
    token in a 64-wide, 4-head model, against 1/N for uniform attention).

    Arguments
    ---------
    module : torch.nn.Module
        An ast_sb encoder/head, a timm ViT or an HF AST model.
    seed : int
        Seed of the values.
    qk_gain : float
        Factor on the query and key weights (HF ``q_proj``/``k_proj``,
        ``query``/``key``; the first two thirds of a fused ``qkv``).

    Returns
    -------
    torch.nn.Module
        The module itself.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if name.endswith("bias"):
                param.copy_(0.2 * noise)
            elif param.dim() == 1:  # LayerNorm weight
                param.copy_(1.0 + 0.3 * noise)
            elif name.endswith("weight"):
                fan_in = param[0].numel()
                param.copy_(noise / fan_in**0.5)
            else:
                param.copy_(0.5 * noise)
            if not name.endswith("weight"):
                continue
            if any(k in name for k in ("q_proj", "k_proj", ".query", ".key")):
                param.mul_(qk_gain)
            elif name.endswith("qkv.weight"):
                param[: 2 * param.shape[0] // 3].mul_(qk_gain)
    return module


def assert_close_to_scale(
    actual: Any,
    expected: Any,
    rel: float,
    scale: Optional[float] = None,
    msg: str = "",
) -> float:
    """Asserts ``max|actual - expected| <= rel * max|expected|``.

    The tolerance follows the size of what is compared, so float32
    rounding of large values (gradients, logits of random models, fbank
    energies, summed scores) that differs between kernels (AVX2, AVX-512,
    AMX) passes, while a real error of a few per mille of the scale does
    not. Shapes must match and a NaN anywhere fails. With the environment
    variable ``AST_SB_TOLERANCE_LOG`` set to a file, each call appends the
    test, ``msg``, relative and absolute max difference and scale to it.

    Arguments
    ---------
    actual, expected : torch.Tensor or array-like
        The values compared; ``expected`` sets the scale.
    rel : float
        The allowed maximum difference as a fraction of the scale.
    scale : float, optional
        The scale to use instead of ``max|expected|`` (e.g. the largest
        gradient of a whole model).
    msg : str
        Prefix of the failure message (e.g. a parameter's name).

    Returns
    -------
    float
        The maximum difference relative to the scale (for reports).

    Example
    -------
    >>> a = torch.tensor([200.0, -3.0]); b = torch.tensor([200.0001, -3.0])
    >>> assert_close_to_scale(a, b, rel=1e-6) < 1e-6
    True
    """
    actual = torch.as_tensor(actual).double()
    expected = torch.as_tensor(expected).double()
    assert actual.shape == expected.shape, (
        f"{msg} shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}"
    )
    if scale is None:
        scale = float(expected.abs().max()) if expected.numel() else 0.0
    diff = float((actual - expected).abs().max()) if actual.numel() else 0.0
    ratio = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    log = os.environ.get("AST_SB_TOLERANCE_LOG")
    if log:  # measuring: one line per comparison (see docs/TESTING.md)
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(log, "a") as fout:
            fout.write(f"{test}\t{msg}\t{ratio:.3g}\t{diff:.3g}\t{scale:.3g}\n")
    assert ratio <= rel, (  # False for NaN
        f"{msg} max diff {diff:.3g} > {rel:g} x scale {scale:.3g} "
        f"(relative {ratio:.3g})"
    )
    return ratio


def scores_beside_fp32(
    model_dir: str, clips: Sequence[torch.Tensor], fast_path: str
) -> Tuple[torch.Tensor, torch.Tensor, Any]:
    """Scores of ``clips`` (a zero-padded batch with their real lengths)
    through the interface on ``fast_path`` and on ``"fp32"``: ``(scores,
    fp32_scores, interface)`` (the interface on ``fast_path``)."""
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    n = max(len(clip) for clip in clips)
    wavs = torch.zeros(len(clips), n)
    for i, clip in enumerate(clips):
        wavs[i, : len(clip)] = clip
    lens = torch.tensor([len(c) / n for c in clips])
    fp32 = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path="fp32"
    )
    other = AudioSpectrogramTransformerInterface.from_folder(
        model_dir, fast_path=fast_path
    )
    ref = fp32.classify_batch(wavs, lens)[0]
    return other.classify_batch(wavs, lens)[0], ref, other
