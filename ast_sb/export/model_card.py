"""README.md model card of an exported inference folder.

A recipe's exported ``EncoderClassifier`` folder (``export_folder``) is
self-contained; :func:`write_model_card` adds a ``README.md`` saying what the
model does and how it was made: the task and classes, the training data and
how it was split, the test metrics (and the MFCC baseline's, if run), the
input geometry, the normalisation statistics and how to load the folder.
Everything comes from the recipe's hparams and test results.

Authors
 * ast_sb developers 2026
"""

import os
from typing import Any, Dict, List, Mapping, Optional

from ast_sb.lobes.model import PATCH_SIZE

__all__ = ["model_card_text", "write_model_card"]

CARD_NAME = "README.md"

_METRIC_KEYS = ("accuracy", "error", "mAP", "mAUC", "d_prime", "n_examples")


def _class_names(label_encoder) -> List[str]:
    ind2lab = getattr(label_encoder, "ind2lab", None) or {}
    return [str(ind2lab[i]) for i in sorted(ind2lab)]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _patch_shape(config: Mapping[str, Any]) -> str:
    """``"<mel bins> x <frames>"`` of the encoder's patches.

    Example
    -------
    >>> _patch_shape({"patch_shape": [128, 4]}), _patch_shape({})
    ('128 x 4 (mel bins x frames)', '16 x 16 (mel bins x frames)')
    """
    shape = config.get("patch_shape") or (PATCH_SIZE, PATCH_SIZE)
    return f"{int(shape[0])} x {int(shape[1])} (mel bins x frames)"


def _tested(results: Mapping[str, Any]) -> str:
    """The tested (and exported) weights in words.

    Example
    -------
    >>> _tested({"eval_checkpoint": "best", "eval_epoch": 114})
    'best checkpoint (epoch 114)'
    >>> _tested({"eval_checkpoint": "average of epochs 131-150"})
    'average of epochs 131-150'
    """
    tested = str(results["eval_checkpoint"])
    if tested in ("best", "last"):
        tested += " checkpoint"
        if results.get("eval_epoch") is not None:
            tested += f" (epoch {results['eval_epoch']})"
    return tested


def _data_lines(hparams: Mapping[str, Any], sizes: Mapping[str, int]) -> list:
    lines = []
    for key in ("manifest", "data_folder"):
        if hparams.get(key):
            lines.append(f"- {key}: `{hparams[key]}`")
    if sizes:
        parts = ", ".join(f"{name} {n}" for name, n in sizes.items())
        lines.append(f"- clips: {parts}")
    if hparams.get("group_column"):
        lines.append(
            f"- split: by `{hparams['group_column']}` (no group in two of "
            f"train / valid / test), ratios {hparams.get('split_ratio')}, "
            f"seed {hparams.get('seed')}"
        )
    elif hparams.get("split_ratio") is not None:
        lines.append(
            f"- split: random, stratified by class, ratios "
            f"{hparams.get('split_ratio')}, seed {hparams.get('seed')} "
            f"(unless the data gave its own split)"
        )
    if hparams.get("pretrained_path"):
        lines.append(f"- initialised from: `{hparams['pretrained_path']}`")
    else:
        lines.append("- initialised: randomly (trained from scratch)")
    lines.append(f"- epochs: {hparams.get('number_of_epochs')}")
    return lines or ["- (not recorded)"]


def model_card_text(
    hparams: Mapping[str, Any],
    results: Optional[Mapping[str, Any]] = None,
    split_sizes: Optional[Mapping[str, int]] = None,
    title: Optional[str] = None,
) -> str:
    """The Markdown model card of a recipe's exported model.

    Arguments
    ---------
    hparams : Mapping
        The recipe's loaded hyperparameters (``embedding_model``,
        ``label_encoder``, ``mean_var_norm``, ``compute_features``,
        ``multi_label``, ``sample_rate``, data and training keys).
    results : Mapping, optional
        The test results (``test_results_file`` contents).
    split_sizes : Mapping, optional
        Split name -> number of clips.
    title : str, optional
        Heading (default from the task).

    Returns
    -------
    str
        Markdown text.

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> encoder = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=100, fstride=8, tstride=8, depth=2
    ... )
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["no", "yes"])
    >>> hparams = {"embedding_model": encoder, "label_encoder": labels,
    ...            "mean_var_norm": AudioSpectrogramNormalizer(-8.9, 4.5),
    ...            "norm_stats": "auto", "compute_features": KaldiFbank(),
    ...            "group_column": "speaker", "split_ratio": [0.6, 0.2, 0.2]}
    >>> text = model_card_text(hparams, {"accuracy": 0.9, "error": 0.1})
    >>> "| accuracy | 0.9 |" in text, "depth 2" in text
    (True, True)
    >>> "mean -8.9, std 4.5 (this training set)" in text
    True
    """
    results = dict(results or {})
    multi = bool(hparams.get("multi_label", False))
    classes = _class_names(hparams.get("label_encoder"))
    task = (
        f"multi-label audio tagging ({len(classes)} labels; logits, "
        f"a sigmoid per label)"
        if multi
        else f"single-label audio classification ({len(classes)} classes; "
        f"log-probabilities)"
    )
    lines = [f"# {title or 'Audio Spectrogram Transformer: ' + task}", ""]
    lines += [
        "Exported by an ast_sb recipe: the Audio Spectrogram Transformer "
        "(AST, Gong et al. 2021) in SpeechBrain.",
        "",
        "## Task",
        "",
        f"{task[0].upper()}{task[1:]}.",
        "",
        "Classes (output index order): "
        + ", ".join(f"`{name}`" for name in classes),
        "",
        "## Training data and split",
        "",
        *_data_lines(hparams, split_sizes or {}),
        "",
        "## Test metrics",
        "",
    ]
    metrics = [(k, results[k]) for k in _METRIC_KEYS if k in results]
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in metrics]
        if "eval_checkpoint" in results:
            lines += ["", f"Weights tested and exported: {_tested(results)}."]
    else:
        lines.append("(no test results recorded)")
    baseline = results.get("baseline")
    if isinstance(baseline, Mapping) and "accuracy" in baseline:
        fitted_on = baseline.get("fitted_on", "train+valid")
        lines += [
            "",
            f"Baseline on the same split (MFCC mean/std + logistic "
            f"regression) fitted on {fitted_on}"
            + (" (as the AST)" if fitted_on == "train" else "")
            + f": accuracy {_fmt(baseline['accuracy'])}"
            + (
                f"; fitted on train+valid: accuracy "
                f"{_fmt(baseline['train_valid']['accuracy'])}."
                if isinstance(baseline.get("train_valid"), Mapping)
                else "."
            ),
        ]
    lines += ["", "## Input geometry", ""]
    config = dict(
        getattr(hparams.get("embedding_model"), "constructor_args", {}) or {}
    )
    sample_rate = hparams.get("sample_rate", 16000)
    if config:
        lines += [
            f"- model: AST {config.get('size')} (width {config.get('embed_dim')}, "
            f"depth {config.get('depth')}, {config.get('num_heads')} heads)",
            f"- input: {sample_rate} Hz mono -> Kaldi fbank, "
            f"{config.get('n_mels')} mel bins, 10 ms hop, "
            f"{config.get('target_length')} frames "
            f"({config.get('target_length', 0) / 100:.2f} s) per window",
            f"- patches: {_patch_shape(config)}, fstride "
            f"{config.get('fstride')}, tstride {config.get('tstride')}",
        ]
    window = hparams.get("eval_window_seconds")
    if window:
        lines.append(
            f"- recipe evaluation: mean over {window} s windows every "
            f"{hparams.get('eval_hop_seconds') or window} s"
        )
    norm = hparams.get("mean_var_norm")
    if norm is not None and hasattr(norm, "mean"):
        recorded = results.get("norm_stats")
        if isinstance(recorded, Mapping) and str(
            recorded.get("source", "")
        ).startswith("pretrained encoder"):
            source = f"those of the {recorded['source']}"
        elif hparams.get("norm_stats") == "auto":
            source = "this training set"
        else:
            source = "fixed in the recipe YAML"
        lines += [
            "",
            "## Normalisation",
            "",
            f"`(fbank - mean) / (2 * std)` with mean {_fmt(norm.mean)}, "
            f"std {_fmt(norm.std)} ({source}).",
        ]
    lines += [
        "",
        "## How to load",
        "",
        "```python",
        "from speechbrain.inference.classifiers import EncoderClassifier",
        "",
        'model = EncoderClassifier.from_hparams(source="THIS_FOLDER", '
        'savedir="tmp")',
        'out_prob, score, index, label = model.classify_file("clip.wav")',
        "```",
        "",
        "or `ast-sb classify clip.wav --model THIS_FOLDER` (needs `ast_sb`).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    folder: str,
    hparams: Mapping[str, Any],
    results: Optional[Mapping[str, Any]] = None,
    split_sizes: Optional[Dict[str, int]] = None,
) -> str:
    """Writes ``folder/README.md`` (see :func:`model_card_text`).

    Arguments
    ---------
    folder : str
        The exported inference folder.
    hparams : Mapping
        The recipe's loaded hyperparameters.
    results : Mapping, optional
        The test results.
    split_sizes : dict, optional
        Split name -> number of clips.

    Returns
    -------
    str
        Path of the written card.
    """
    path = os.path.join(folder, CARD_NAME)
    with open(path, "w", encoding="utf-8") as fout:
        fout.write(model_card_text(hparams, results, split_sizes))
    return path
