"""Command line interface ``ast-sb`` for Audio Spectrogram Transformer models.

Usage::

    ast-sb classify a.wav b.flac --model MODEL_DIR [--top-k 5] [--json]
    ast-sb tag long.wav --model MODEL_DIR [--window 10 --hop 5] [--plot t.png]
    ast-sb info --model MODEL_DIR [--json]
    ast-sb convert hf_folder_or_ast.pth MODEL_DIR [--labels labels.csv]
    ast-sb export --model MODEL_DIR --out EXPORT_DIR [--format onnx]

``MODEL_DIR`` is an ast_sb inference folder (written by
``ast_sb.export.export_inference_folder``, a recipe, or ``ast-sb convert``),
loaded offline with SpeechBrain's ``EncoderClassifier`` machinery.

Exit status: 0 on success, 1 when a file or an export failed (the other
files are still processed and reported), 2 on usage errors.

Authors
 * ast_sb developers 2026
"""

import argparse
import csv
import json
import logging
import os
import pickle
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["build_parser", "main", "read_labels"]

logger = logging.getLogger(__name__)


#: ``ast_sb.fast.INFERENCE_PATHS``, spelled out: importing torch to build
#: the parser would slow down ``--help``
FAST_PATHS = ("auto", "fp32", "onednn", "int8", "bf16")


class CLIError(Exception):
    """An error reported as ``ast-sb: error: ...`` with exit status 1."""


def read_labels(path: str) -> List[str]:
    """Reads class names from a CSV or a plain text file.

    A CSV with a header (AudioSet's ``class_labels_indices.csv``: ``index,
    mid, display_name``) gives the ``display_name`` (or ``label`` / ``name``)
    column ordered by ``index``; any other file gives one label per
    non-empty line.

    Arguments
    ---------
    path : str
        Labels file.

    Returns
    -------
    list of str
        Class names by index.

    Example
    -------
    >>> path = getfixture("tmpdir") / "class_labels_indices.csv"
    >>> _ = path.write_text(
    ...     'index,mid,display_name\\n1,/m/b,"Dog, bark"\\n0,/m/a,Speech\\n',
    ...     encoding="utf-8",
    ... )
    >>> read_labels(str(path))
    ['Speech', 'Dog, bark']
    """
    with open(path, encoding="utf-8", newline="") as fin:
        text = fin.read()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CLIError(f"Labels file {path} is empty.")
    if path.lower().endswith(".csv") or "," in lines[0]:
        rows = list(csv.DictReader(lines))
        fields = {
            f.strip().lower(): f for f in (rows[0].keys() if rows else [])
        }
        name_col = next(
            (
                fields[k]
                for k in ("display_name", "label", "name")
                if k in fields
            ),
            None,
        )
        if name_col is not None:
            if "index" in fields:
                rows.sort(key=lambda r: int(r[fields["index"]]))
            return [r[name_col].strip() for r in rows]
    return [line.strip() for line in lines]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``ast-sb`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the classify, tag, info, convert and export commands.

    Example
    -------
    >>> args = build_parser().parse_args(["info", "--model", "m"])
    >>> args.command, args.model
    ('info', 'm')
    """
    parser = argparse.ArgumentParser(
        prog="ast-sb",
        description="Audio Spectrogram Transformer (AST) models for "
        "SpeechBrain: classify, tag, inspect, convert and export.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model", required=True, help="ast_sb inference model folder"
        )
        p.add_argument("--device", default="cpu", help="torch device")
        p.add_argument(
            "--trust-yaml",
            action="store_true",
            help="load the model through its hyperparams.yaml, which runs "
            "code: only for folders you trust (default: the declarative "
            "ast_sb_model.json + model.safetensors, nothing executed)",
        )
        p.add_argument(
            "--fast-path",
            choices=FAST_PATHS,
            default=None,
            help="encoder inference path (default: the folder's, auto = "
            "the fastest path within 1e-4 of fp32 on this machine; int8 = "
            "dynamic int8 Linear layers, bf16 = bfloat16 autocast)",
        )

    def progress_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--no-progress",
            dest="progress",
            action="store_false",
            default=None,
            help="no progress bar (default: shown on a terminal)",
        )

    p = sub.add_parser("classify", help="classify audio files")
    p.add_argument("files", nargs="+", help="audio files")
    model_args(p)
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="classes per file (default 1 single-label, 5 multi-label; "
        "0 = all)",
    )
    p.add_argument(
        "--threshold", type=float, default=None, help="minimum probability"
    )
    p.add_argument("--batch-size", type=_positive_int, default=8)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--output", help="also write the JSON result to a file")
    progress_args(p)

    p = sub.add_parser("tag", help="timeline of events of a (long) file")
    p.add_argument("file", help="audio file of any length")
    model_args(p)
    p.add_argument(
        "--window",
        type=_positive_float,
        default=None,
        help="window length in s (default: the model's clip length, <= 10)",
    )
    p.add_argument("--hop", type=_positive_float, default=None, help="hop in s")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="event threshold (default 0.5 multi-label, 0 single-label)",
    )
    p.add_argument(
        "--top-k", type=int, default=None, help="max simultaneous events"
    )
    p.add_argument("--merge-gap", type=float, default=0.0)
    p.add_argument("--min-duration", type=float, default=0.0)
    p.add_argument("--batch-size", type=_positive_int, default=8)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument(
        "--windows",
        action="store_true",
        help="with --json: also list every window's top classes",
    )
    p.add_argument("--output", help="also write the JSON result to a file")
    p.add_argument("--plot", help="write a spectrogram + timeline PNG")
    progress_args(p)

    p = sub.add_parser("info", help="model size, parameters and set-up")
    model_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")

    p = sub.add_parser(
        "convert",
        help="HF / original AST checkpoint -> ast_sb inference folder",
    )
    p.add_argument(
        "source",
        help="HF AST folder (config.json) or original AST .pth, or a "
        "Hugging Face id (MIT/ast-finetuned-audioset-10-10-0.4593), a "
        "release URL or an alias (audioset-10-10-0.4593)",
    )
    p.add_argument("out", help="output ast_sb model folder")
    p.add_argument(
        "--format", choices=("auto", "hf", "original"), default="auto"
    )
    p.add_argument("--revision", help="Hugging Face branch, tag or commit")
    p.add_argument("--sha256", help="expected SHA-256 of a downloaded file")
    p.add_argument(
        "--labels",
        help="class names: class_labels_indices.csv or one per line",
    )
    p.add_argument(
        "--size",
        default=None,
        help="original AST: DeiT size (tiny224, small224, base224, "
        "base384; default: from the weights' width)",
    )
    p.add_argument(
        "--target-length",
        type=_positive_int,
        help="original AST: input frames (default: the published "
        "checkpoint's, else 1024)",
    )
    p.add_argument("--fstride", type=_positive_int, help="default 10")
    p.add_argument("--tstride", type=_positive_int, help="default 10")
    p.add_argument("--n-mels", type=_positive_int, default=128)
    p.add_argument(
        "--dataset",
        help="normalisation stats of audioset, esc50 or speechcommands",
    )
    p.add_argument("--mean", type=float, help="fbank mean (with --std)")
    p.add_argument("--std", type=float, help="fbank std (with --mean)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--multi-label",
        dest="multi_label",
        action="store_true",
        default=None,
        help="sigmoid outputs (default when there are 527 classes)",
    )
    group.add_argument(
        "--single-label", dest="multi_label", action="store_false"
    )
    p.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip reloading the folder and comparing outputs",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty output folder (as a whole)",
    )

    p = sub.add_parser(
        "export", help="TorchScript / ONNX export with an equality check"
    )
    model_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format",
        nargs="+",
        choices=("torchscript", "onnx", "onnx_int8"),
        default=["torchscript", "onnx"],
        help="onnx_int8: the ONNX export with dynamic int8 MatMuls "
        "(onnxruntime.quantization)",
    )
    p.add_argument(
        "--input",
        choices=("features", "waveform"),
        default="features",
        help="graph input: normalised fbank [B,T,F] or waveform [B,N]",
    )
    p.add_argument("--atol", type=float, default=None)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty output folder (as a whole)",
    )
    p.add_argument("--json", action="store_true", help="JSON output")
    return parser


def _emit(data: Any, as_json: bool, text: str, output: Optional[str]) -> None:
    if output:
        parent = os.path.dirname(output)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fout:
            json.dump(data, fout, indent=2, allow_nan=False)
            fout.write("\n")
    if as_json:
        # allow_nan=False: never print NaN / Infinity (invalid JSON)
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(text)


def _progress(args: argparse.Namespace) -> bool:
    if args.progress is None:
        return sys.stderr.isatty()
    return bool(args.progress)


def _load(args: argparse.Namespace):
    from ast_sb.inference import AudioSpectrogramTransformerInterface
    from ast_sb.safe_folder import UntrustedModelError

    try:
        return AudioSpectrogramTransformerInterface.from_folder(
            args.model,
            device=args.device,
            trust_yaml=args.trust_yaml,
            fast_path=getattr(args, "fast_path", None),
        )
    except (FileNotFoundError, UntrustedModelError) as err:
        raise CLIError(str(err)) from err
    except pickle.UnpicklingError as err:  # weights_only=True refused it
        raise CLIError(
            f"Refusing to load {args.model}: a checkpoint holds more than "
            f"weights ({err})"
        ) from err


def cmd_classify(args: argparse.Namespace) -> int:
    """Runs ``ast-sb classify``."""
    model = _load(args)
    results = model.classify_files(
        args.files,
        batch_size=args.batch_size,
        top_k=args.top_k,
        threshold=args.threshold,
        progress=_progress(args),
    )
    data = {
        "model": args.model,
        "multi_label": model.multi_label,
        "results": results,
    }
    lines = []
    for res in results:
        if res["status"] == "ok":
            preds = ", ".join(
                f"{p['label']} ({p['score']:.3f})" for p in res["predictions"]
            )
            lines.append(f"{res['file']}\t{preds or '-'}")
        else:
            lines.append(f"{res['file']}\tERROR: {res['error']}")
    _emit(data, args.json, "\n".join(lines), args.output)
    failed = [r for r in results if r["status"] != "ok"]
    for res in failed:
        print(f"ast-sb: {res['error']}", file=sys.stderr)
    return 1 if failed else 0


def cmd_tag(args: argparse.Namespace) -> int:
    """Runs ``ast-sb tag``."""
    from ast_sb.audio import AudioLoadError
    from ast_sb.tagging import SlidingWindowTagger

    model = _load(args)
    try:
        tagger = SlidingWindowTagger(
            model,
            window=args.window,
            hop=args.hop,
            batch_size=args.batch_size,
            threshold=args.threshold,
            top_k=args.top_k,
            merge_gap=args.merge_gap,
            min_duration=args.min_duration,
        )
        result = tagger.tag_file(args.file, progress=_progress(args))
    except AudioLoadError as err:
        raise CLIError(str(err)) from err
    except ValueError as err:
        raise CLIError(str(err)) from err
    data = result.to_dict(windows=args.windows)
    if args.plot:
        from ast_sb.plots import plot_tagging

        data["plot"] = plot_tagging(result, args.plot)
    lines = [
        f"{result.file}: {result.duration:.2f} s, {len(result.window_starts)} "
        f"windows of {result.window:g} s (hop {result.hop:g} s)"
    ]
    for event in result.events:
        lines.append(
            f"{event.start:9.2f}\t{event.end:9.2f}\t{event.label}\t"
            f"{event.score:.3f}"
        )
    if not result.events:
        lines.append("(no events)")
    _emit(data, args.json, "\n".join(lines), args.output)
    return 0


def model_info(model: Any) -> Dict[str, Any]:
    """Size, parameter counts per component and set-up of a loaded model.

    Arguments
    ---------
    model : AudioSpectrogramTransformerInterface
        Loaded model.

    Returns
    -------
    dict
        JSON-friendly description.
    """
    from ast_sb.model import count_parameters, forward_flops

    mods = model.mods
    components = {
        "compute_features": model.features,
        "mean_var_norm": model.normalizer,
        "embedding_model": model.encoder,
        "classifier": model.head,
    }
    params: Dict[str, Any] = {}
    total = 0
    for name, module in components.items():
        n = count_parameters(module)
        total += n
        entry: Dict[str, Any] = {"total": n}
        if name == "embedding_model":
            parts: Dict[str, int] = {}
            for child, sub in module.named_children():
                parts[child] = count_parameters(sub)
            own = sum(p.numel() for p in module.parameters(recurse=False))
            if own:
                parts["tokens_and_pos_embed"] = own
            entry["parts"] = {k: v for k, v in parts.items() if v}
        params[name] = entry
    n_bytes = sum(
        t.numel() * t.element_size()
        for m in mods.values()
        for t in list(m.parameters()) + list(m.buffers())
    )
    feats = model.features
    encoder = model.encoder
    enc_cfg = dict(getattr(encoder, "constructor_args", {}))
    info: Dict[str, Any] = {
        "folder": getattr(model, "folder", None),
        "n_classes": model.n_classes,
        "multi_label": model.multi_label,
        "head_output": getattr(model.head, "output", None),
        "labels_preview": model.labels[:10],
        "sample_rate": model.sample_rate,
        "features": {
            "type": type(feats).__name__,
            "n_mels": getattr(feats, "n_mels", None),
            "frame_length": getattr(feats, "frame_length", None),
            "frame_shift": getattr(feats, "frame_shift", None),
            "target_length": getattr(feats, "target_length", None),
        },
        "normalization": {
            "mean": getattr(model.normalizer, "mean", None),
            "std": getattr(model.normalizer, "std", None),
        },
        "max_clip_seconds": round(model.max_duration, 3),
        "windows": model.window_settings,
        "encoder": enc_cfg,
        "parameters": params,
        "total_parameters": total,
        "size_mb": round(n_bytes / 2**20, 2),
    }
    grid = getattr(encoder, "grid_size", None)
    if grid is not None:
        info["encoder"]["patch_grid"] = list(grid)
        info["encoder"]["n_patches"] = int(grid[0] * grid[1])
    if enc_cfg:
        try:
            info["gflops_per_clip"] = round(
                forward_flops(encoder, model.max_frames) / 1e9, 2
            )
        except (KeyError, ValueError):
            pass
    folder = info["folder"]
    if folder:
        info["files_mb"] = {
            f: round(os.path.getsize(os.path.join(folder, f)) / 2**20, 2)
            for f in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, f))
        }
    return info


def _windows_text(windows: Dict[str, Any]) -> str:
    if windows.get("window") is None:
        return "whole clip (no grid)"
    return (
        f"mean of sliding windows of {windows['window']:g} s every "
        f"{windows['hop']:g} s (eval_window_seconds "
        f"{windows['eval_window_seconds']}, eval_hop_seconds "
        f"{windows['eval_hop_seconds']})"
    )


def _info_text(info: Dict[str, Any]) -> str:
    feats = info["features"]
    enc = info["encoder"]
    norm = info["normalization"]
    kind = "multi-label (sigmoid)" if info["multi_label"] else "single-label"
    lines = [
        f"model folder:   {info['folder']}",
        f"classes:        {info['n_classes']} ({kind}); first: "
        + ", ".join(info["labels_preview"][:5]),
        f"audio:          {info['sample_rate']} Hz, grid "
        f"{info['max_clip_seconds']} s",
        "long clips:     " + _windows_text(info["windows"]),
        f"features:       {feats['type']} {feats['n_mels']} mels, frame "
        f"{feats['frame_length']} / shift {feats['frame_shift']} samples, "
        f"target_length {feats['target_length']}",
        f"normalisation:  mean {norm['mean']}, std {norm['std']}",
    ]
    if enc:
        lines.append(
            f"encoder:        {enc.get('size')} dim {enc.get('embed_dim')}, "
            f"depth {enc.get('depth')}, heads {enc.get('num_heads')}, "
            f"strides f{enc.get('fstride')}/t{enc.get('tstride')}, "
            f"grid {enc.get('patch_grid')} ({enc.get('n_patches')} patches)"
        )
    lines.append("parameters:")
    for name, entry in info["parameters"].items():
        lines.append(f"  {name:<22}{entry['total']:>14,}")
        for part, n in entry.get("parts", {}).items():
            lines.append(f"    {part:<20}{n:>14,}")
    lines.append(f"  {'total':<22}{info['total_parameters']:>14,}")
    lines.append(f"size:           {info['size_mb']} MB in memory")
    if "gflops_per_clip" in info:
        lines.append(
            f"compute:        {info['gflops_per_clip']} GFLOPs per clip"
        )
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    """Runs ``ast-sb info``."""
    info = model_info(_load(args))
    _emit(info, args.json, _info_text(info), None)
    return 0


def _hf_preprocessor_stats(source: str) -> Optional[Dict[str, float]]:
    """mean/std of an HF folder's ``preprocessor_config.json``, if any."""
    preproc = os.path.join(source, "preprocessor_config.json")
    if not source or not os.path.isfile(preproc):
        return None
    with open(preproc, encoding="utf-8") as fin:
        cfg = json.load(fin)
    if "mean" in cfg and "std" in cfg:
        return {"mean": float(cfg["mean"]), "std": float(cfg["std"])}
    return None


def _source_scores(
    source: str,
    fmt: str,
    encoder: Any,
    classifier: Any,
    stats: Dict[str, float],
    n_mels: int,
    target_length: int,
    wavs: Any,
) -> Tuple[Any, float]:
    """Scores of the source checkpoint, computed without the converted folder.

    HF folders run through ``transformers`` (``ASTFeatureExtractor`` with the
    folder's ``preprocessor_config.json``, ``ASTForAudioClassification``)
    when it is installed; otherwise, and for original ``.pth`` files, the
    weights loaded from the source run behind a fresh ``KaldiFbank`` and the
    source's statistics. Returns the scores in the folder's output space
    (log-probabilities or logits) and the tolerance of the comparison.
    """
    import torch

    if fmt == "hf":
        try:
            import transformers
        except ImportError:
            transformers = None
        if transformers is not None:
            extractor = transformers.ASTFeatureExtractor(
                num_mel_bins=n_mels, max_length=target_length, **stats
            )
            model = transformers.ASTForAudioClassification.from_pretrained(
                source
            ).eval()
            inputs = extractor(
                [w.numpy() for w in wavs],
                sampling_rate=16000,
                return_tensors="pt",
            )
            with torch.no_grad():
                logits = model(**inputs).logits
            if classifier.output == "log_softmax":
                logits = torch.log_softmax(logits, dim=-1)
            return logits, 1e-4
    from ast_sb.features import AudioSpectrogramNormalizer, KaldiFbank

    fbank = KaldiFbank(n_mels=n_mels, target_length=target_length)
    norm = AudioSpectrogramNormalizer(**stats)
    with torch.no_grad():
        scores = classifier(encoder(norm(fbank(wavs)))).squeeze(1)
    return scores, 1e-5


def _normalizer_stats(
    args: argparse.Namespace, n_classes: int, source: str
) -> Dict[str, float]:
    from ast_sb.features import DATASET_STATS, AudioSpectrogramNormalizer

    if (args.mean is None) != (args.std is None):
        raise CLIError("--mean and --std must be given together.")
    if args.mean is not None:
        return {"mean": args.mean, "std": args.std}
    if args.dataset:
        try:
            norm = AudioSpectrogramNormalizer.from_dataset(args.dataset)
        except ValueError as err:
            raise CLIError(str(err)) from err
        return {"mean": norm.mean, "std": norm.std}
    stats = _hf_preprocessor_stats(source)
    if stats is not None:
        return stats
    guess = {527: "audioset", 50: "esc50", 35: "speechcommands"}.get(
        n_classes, "audioset"
    )
    logger.warning(
        "No normalisation stats given: using the %s stats (set --dataset or "
        "--mean/--std).",
        guess,
    )
    mean, std = DATASET_STATS[guess]
    return {"mean": mean, "std": std}


def _geometry_defaults(args: argparse.Namespace, published) -> None:
    """Fills the unset geometry (and stats) of ``convert`` from a published
    checkpoint (``ast_sb.hub.PublishedCheckpoint``) or the AudioSet ones."""
    defaults = {"target_length": 1024, "fstride": 10, "tstride": 10}
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, getattr(published, name, value))
    no_stats = args.dataset is None and args.mean is None
    if published is not None and no_stats:
        args.dataset = published.dataset


def _original_encoder(state: Dict[str, Any], args: argparse.Namespace):
    """Builds the encoder of an original AST state dict.

    Width and depth come from the weights; the patch geometry from the
    arguments, and it must give the checkpoint's position-embedding grid.
    """
    from ast_sb.model import (
        MODEL_SIZES,
        NUM_PREFIX_TOKENS,
        AudioSpectrogramTransformerEncoder,
    )

    state = {k.replace("module.", "", 1): v for k, v in state.items()}
    if "v.cls_token" not in state or "v.pos_embed" not in state:
        raise CLIError("Not an original AST checkpoint (no v.cls_token).")
    embed_dim = int(state["v.cls_token"].shape[-1])
    depth = 1 + max(
        int(k.split(".")[2]) for k in state if k.startswith("v.blocks.")
    )
    size = args.size
    if size is None:
        size = next(
            (
                name
                for name in ("tiny224", "small224", "base384")
                if MODEL_SIZES[name]["embed_dim"] == embed_dim
            ),
            None,
        )
        if size is None:
            raise CLIError(f"Unknown AST width {embed_dim}; pass --size.")
    encoder = AudioSpectrogramTransformerEncoder(
        size=size,
        n_mels=args.n_mels,
        target_length=args.target_length,
        fstride=args.fstride,
        tstride=args.tstride,
        embed_dim=embed_dim,
        depth=depth,
    )
    n_patches = state["v.pos_embed"].shape[1] - NUM_PREFIX_TOKENS
    f_dim, t_dim = encoder.grid_size
    if n_patches != f_dim * t_dim:
        raise CLIError(
            f"The checkpoint has {n_patches} patch positions but "
            f"--n-mels {args.n_mels} --target-length {args.target_length} "
            f"--fstride {args.fstride} --tstride {args.tstride} give "
            f"{f_dim}x{t_dim} = {f_dim * t_dim}; pass the geometry the model "
            "was trained with (e.g. --target-length 512 for ESC-50 AST)."
        )
    return encoder


def convert_checkpoint_folder(args: argparse.Namespace) -> Dict[str, Any]:
    """Converts an HF / original AST checkpoint into an inference folder.

    Arguments
    ---------
    args : argparse.Namespace
        Parsed ``convert`` arguments.

    Returns
    -------
    dict
        Summary: ``out``, ``format``, ``n_classes``, ``multi_label``,
        ``max_abs_diff`` (reload check, or None).
    """
    import torch
    from speechbrain.dataio.encoder import CategoricalEncoder

    from ast_sb.atomic_folder import check_output_folder
    from ast_sb.export import export_inference_folder
    from ast_sb.hub import ChecksumError, find_published, resolve_weights
    from ast_sb.model import AudioSpectrogramTransformerClassifier
    from ast_sb.pretrained import (
        CheckpointError,
        build_from_hf,
        detect_format,
        load_pretrained,
        read_state_dict,
    )

    try:  # fail before any download or conversion work
        check_output_folder(args.out, args.overwrite)
    except (FileExistsError, NotADirectoryError) as err:
        raise CLIError(str(err)) from err
    try:
        source = resolve_weights(
            args.source, revision=args.revision, sha256=args.sha256
        )
    except (FileNotFoundError, ChecksumError, ValueError) as err:
        raise CLIError(str(err)) from err
    # a published checkpoint (alias, id, URL or release file name) brings
    # its geometry (strides, frames) and normalisation
    _geometry_defaults(args, find_published(args.source))
    try:
        state, config = read_state_dict(source)
        fmt = args.format if args.format != "auto" else detect_format(state)
    except CheckpointError as err:
        raise CLIError(str(err)) from err
    if fmt not in ("hf", "original"):
        raise CLIError(
            f"{source} is a {fmt!r} checkpoint; convert takes HF AST folders "
            "or original AST .pth files (with a classification head)."
        )
    labels: Optional[List[str]] = None
    try:
        if fmt == "hf":
            if config is None:
                raise CLIError(
                    f"{source} has no config.json: not an HF folder."
                )
            encoder, classifier, labels = build_from_hf(source, "logits")
            target_length = encoder.target_length
            n_mels = encoder.n_mels
        else:
            head = state.get("module.mlp_head.1.weight")
            if head is None:
                head = state.get("mlp_head.1.weight")
            if head is None:
                raise CLIError(
                    f"{source} has no classification head (mlp_head.*)."
                )
            encoder = _original_encoder(state, args)
            classifier = AudioSpectrogramTransformerClassifier(
                encoder.embed_dim, int(head.shape[0]), output="logits"
            )
            load_pretrained(encoder, source, classifier)
            target_length, n_mels = args.target_length, args.n_mels
    except (CheckpointError, ValueError) as err:
        raise CLIError(f"Cannot convert {source}: {err}") from err
    del state
    n_classes = classifier.n_classes
    if args.labels:
        labels = read_labels(args.labels)
    if labels is None:
        labels = [f"LABEL_{i}" for i in range(n_classes)]
        logger.warning("No --labels given: classes are named LABEL_<i>.")
    if len(labels) != n_classes:
        raise CLIError(
            f"{len(labels)} labels for a model with {n_classes} classes."
        )
    if len(set(labels)) != len(labels):
        raise CLIError("Class names must be unique.")
    multi_label = args.multi_label
    if multi_label is None:
        multi_label = n_classes == 527
    if not multi_label:
        classifier.output = "log_softmax"
        classifier.constructor_args["output"] = "log_softmax"
    encoder.eval()
    classifier.eval()
    label_encoder = CategoricalEncoder()
    label_encoder.update_from_iterable(labels)
    label_encoder.expect_len(n_classes)
    norm = _normalizer_stats(args, n_classes, source if fmt == "hf" else "")
    export_inference_folder(
        args.out,
        encoder,
        classifier,
        label_encoder,
        compute_features={"n_mels": n_mels, "target_length": target_length},
        mean_var_norm=norm,
        multi_label=multi_label,
        extra_hparams={
            "converted_from": os.path.abspath(source)
            if source == args.source
            else args.source
        },
        overwrite=args.overwrite,
    )
    summary = {
        "out": args.out,
        "format": fmt,
        "n_classes": n_classes,
        "multi_label": multi_label,
        "normalization": norm,
        "max_abs_diff": None,
    }
    if args.check:
        from ast_sb.inference import AudioSpectrogramTransformerInterface

        model = AudioSpectrogramTransformerInterface.from_folder(args.out)
        wavs = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
        wavs = wavs * 0.1
        source_stats = (
            _hf_preprocessor_stats(source) if fmt == "hf" else None
        ) or norm
        expected, tolerance = _source_scores(
            source,
            fmt,
            encoder,
            classifier,
            source_stats,
            n_mels,
            target_length,
            wavs,
        )
        got = model.classify_batch(wavs)[0]
        diff = float((got - expected).abs().max())
        summary["max_abs_diff"] = diff
        if not diff <= tolerance:
            stats_note = ""
            if source_stats != norm:
                stats_note = (
                    f" The source normalises with {source_stats}, the "
                    f"folder with {norm}."
                )
            raise CLIError(
                f"The converted folder gives other outputs than the source "
                f"{source} (max diff {diff:.3g}).{stats_note} Pass --no-check "
                "to keep it anyway."
            )
    return summary


def cmd_convert(args: argparse.Namespace) -> int:
    """Runs ``ast-sb convert``."""
    summary = convert_checkpoint_folder(args)
    text = (
        f"wrote {summary['out']} ({summary['format']} checkpoint, "
        f"{summary['n_classes']} classes, "
        f"{'multi' if summary['multi_label'] else 'single'}-label)"
    )
    if summary["max_abs_diff"] is not None:
        text += f"; reload check max diff {summary['max_abs_diff']:.2g}"
    print(text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Runs ``ast-sb export``."""
    from ast_sb.model_export import export_model

    model = _load(args)
    try:
        report = export_model(
            model,
            args.out,
            formats=args.format,
            input_type=args.input,
            atol=args.atol,
            raise_on_error=False,
            overwrite=args.overwrite,
        )
    except (FileExistsError, NotADirectoryError) as err:
        raise CLIError(str(err)) from err
    lines = [
        f"input {args.input} {report['input_shape']} -> "
        f"{report['output']} {report['output_shape']}"
    ]
    failed = False
    for fmt in args.format:
        entry = report[fmt]
        if entry["ok"]:
            lines.append(
                f"{fmt}: {entry['path']} (max abs diff vs PyTorch "
                f"{entry['max_abs_diff']:.2g})"
            )
        else:
            failed = True
            lines.append(f"{fmt}: FAILED: {entry['error']}")
    _emit(report, args.json, "\n".join(lines), None)
    if failed:
        for fmt in args.format:
            if not report[fmt]["ok"]:
                print(f"ast-sb: {fmt}: {report[fmt]['error']}", file=sys.stderr)
    return 1 if failed else 0


COMMANDS = {
    "classify": cmd_classify,
    "tag": cmd_tag,
    "info": cmd_info,
    "convert": cmd_convert,
    "export": cmd_export,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``ast-sb``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 ok, 1 failure, 2 usage error).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        return COMMANDS[args.command](args)
    except CLIError as err:
        if getattr(args, "json", False):
            # --json: stdout is always one valid JSON document
            failure: Dict[str, Any] = {"status": "error", "error": str(err)}
            if getattr(args, "file", None):
                failure["file"] = args.file
            print(json.dumps(failure, indent=2))
        print(f"ast-sb: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
