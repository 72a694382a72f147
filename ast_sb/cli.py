"""Command line interface ``ast-sb`` for Audio Spectrogram Transformer models.

Usage::

    ast-sb classify a.wav b.flac --model MODEL_DIR [--top-k 5] [--json]
    ast-sb tag long.wav --model MODEL_DIR [--window 10 --hop 5] [--plot t.png]
    ast-sb tag long.wav --model DETECTOR_DIR --frame-level [--median-window 7]
    ast-sb stream rec.wav --model DETECTOR_DIR --frame-level
    arecord -f S16_LE -r 16000 -c 1 | ast-sb stream --model MODEL_DIR --hop 1
    ast-sb info --model MODEL_DIR [--json]
    ast-sb convert hf_folder_or_ast.pth MODEL_DIR [--labels labels.csv]
    ast-sb export --model MODEL_DIR --out EXPORT_DIR [--format onnx]

``MODEL_DIR`` is an ast_sb inference folder (written by
``ast_sb.export.folder.export_inference_folder``, a recipe, or ``ast-sb convert``),
loaded offline with SpeechBrain's ``EncoderClassifier`` machinery.

Exit status: 0 on success, 1 when a file or an export failed (the other
files are still processed and reported), 2 on usage errors, 141
(128 + SIGPIPE, what a shell reports for ``yes | head``) when the reader
of stdout went away (``ast-sb stream ... | head -c 50``): the command
stops quietly, without a traceback.

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
from typing import Any, Dict, List, Optional, Sequence

from ast_sb.cli_parser import FAST_PATHS, TOKEN_BUDGET_AXES, build_parser
from ast_sb.disk_space import DiskFullError
from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "FAST_PATHS",
    "TOKEN_BUDGET_AXES",
    "build_parser",
    "main",
    "read_labels",
]

logger = logging.getLogger(__name__)


class CLIError(AudioSpectrogramTransformerError):
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


def _emit(data: Any, as_json: bool, text: str, output: Optional[str]) -> None:
    if output:
        from ast_sb.disk_space import write_file_atomic

        # whole or not at all: a full disk leaves no 0-byte file
        write_file_atomic(
            output, json.dumps(data, indent=2, allow_nan=False) + "\n"
        )
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
    from ast_sb.export.safe_folder import UntrustedModelError
    from ast_sb.inference.frame_detection import is_detector_folder
    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    try:
        return AudioSpectrogramTransformerInterface.from_folder(
            args.model,
            device=args.device,
            trust_yaml=args.trust_yaml,
            token_budget=getattr(args, "token_budget", None),
            token_budget_axes=getattr(args, "token_budget_axes", None),
            fast_path=getattr(args, "fast_path", None),
        )
    except (FileNotFoundError, UntrustedModelError) as err:
        raise CLIError(str(err)) from err
    except ValueError as err:  # e.g. a detector folder on a GPU device
        if not is_detector_folder(args.model):
            raise
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
    from ast_sb.inference.model_info import inference_info

    data = {
        "model": args.model,
        "multi_label": model.multi_label,
        "inference": inference_info(model),
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
    from ast_sb.dataio.audio import AudioLoadError
    from ast_sb.inference.tagging import SlidingWindowTagger

    if args.frame_level:
        return _tag_frame_level(args)
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
        from ast_sb.evaluation.plots import plot_tagging

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


def _stream_threads(model: Any, threads: Optional[int]) -> int:
    """Applies the small-model thread policy (:mod:`ast_sb.inference.threads`)."""
    from ast_sb.inference.threads import apply_thread_policy
    from ast_sb.lobes.model import forward_flops

    try:
        gflop = forward_flops(model.encoder, model.max_frames) / 1e9
    except (AttributeError, KeyError, ValueError, TypeError):
        gflop = float("inf")  # unknown size: keep one thread per core
    n = apply_thread_policy(gflop, threads)
    logging.getLogger(__name__).info(
        "stream: %d intra-op thread(s) (%.2f GFLOP per window)", n, gflop
    )
    return n


def _tag_frame_level(args: argparse.Namespace) -> int:
    """``ast-sb tag --frame-level``: :mod:`ast_sb.inference.frame_detection`."""
    from ast_sb.dataio.audio import AudioLoadError
    from ast_sb.inference.frame_detection import load_detector

    try:
        detector = load_detector(args.model, **_detector_overrides(args))
        events, scores = detector.detect_file(args.file)
    except (AudioLoadError, ValueError, FileNotFoundError) as err:
        raise CLIError(str(err)) from err
    data = {
        "file": args.file,
        "frame_hop": detector.frame_hop,
        "frames": len(scores),
        "labels": detector.labels,
        "events": [{"start": a, "end": b, "label": c} for a, b, c in events],
    }
    lines = [f"{args.file}: {len(scores)} frames of {detector.frame_hop:g} s"]
    lines += [f"{a:9.2f}\t{b:9.2f}\t{c}" for a, b, c in events]
    if not events:
        lines.append("(no events)")
    _emit(data, args.json, "\n".join(lines), args.output)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    """Runs ``ast-sb stream`` (:mod:`ast_sb.inference.streaming`, :mod:`ast_sb.inference.stream_sources`)."""
    from ast_sb.dataio.audio import AudioLoadError
    from ast_sb.inference.streaming import StreamingTagger, stream_jsonl

    if args.frame_level:
        return _stream_frame_level(args)
    model = _load(args)
    _stream_threads(model, getattr(args, "threads", None))
    try:
        rate, chunks = _open_stream_source(args)
        tagger = StreamingTagger(
            model,
            window=args.window,
            hop=args.hop,
            threshold=args.threshold,
            top_k=args.top_k,
            merge_gap=args.merge_gap,
            min_duration=args.min_duration,
            input_rate=rate,
        )

        def write(line: str) -> None:
            sys.stdout.write(line)
            sys.stdout.flush()

        stream_jsonl(tagger, chunks, write, windows=args.windows)
    except (AudioLoadError, ValueError, RuntimeError) as err:
        raise CLIError(str(err)) from err
    return 0


def _detector_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """Post-processing / window options given on the command line.

    Options that only a classifier folder has (token budget, inference
    path, its YAML) are refused, not ignored."""
    for option, value in (
        ("--token-budget", getattr(args, "token_budget", None)),
        ("--token-budget-axes", getattr(args, "token_budget_axes", None)),
        ("--fast-path", getattr(args, "fast_path", None)),
        ("--trust-yaml", getattr(args, "trust_yaml", False) or None),
    ):
        if value is not None:
            raise CLIError(
                f"{option} applies to classifier folders; with "
                f"--frame-level, {args.model} is read as a frame-level "
                "detector folder, which runs its encoder in fp32 on all "
                "its tokens"
            )
    pairs = (
        ("threshold", args.threshold),
        ("low_threshold", args.low_threshold),
        ("median_window", args.median_window),
        ("window_seconds", args.window),
        ("batch_size", getattr(args, "batch_size", None)),
    )
    return {key: value for key, value in pairs if value is not None}


def _open_stream_source(args: argparse.Namespace):
    """``(sample_rate, chunks)`` of the source ``ast-sb stream`` reads."""
    from ast_sb.inference.stream_sources import open_source

    return open_source(
        args.source,
        args.format,
        args.rate,
        args.channels,
        follow=args.follow,
        idle_timeout=args.idle_timeout,
        mic=args.mic,
        mic_device=args.mic_device,
        duration=args.duration,
    )


def _stream_frame_level(args: argparse.Namespace) -> int:
    """``ast-sb stream --frame-level``: :mod:`ast_sb.inference.frame_streaming`."""
    from ast_sb.dataio.audio import AudioLoadError
    from ast_sb.inference.frame_detection import load_detector
    from ast_sb.inference.frame_streaming import FrameLevelStream

    def write(record: Dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(record, allow_nan=False) + "\n")
        sys.stdout.flush()

    try:
        detector = load_detector(args.model, **_detector_overrides(args))
        rate, chunks = _open_stream_source(args)
        stream = FrameLevelStream(detector, input_rate=rate)
        n_events = 0
        try:
            for chunk in chunks:
                for a, b, c in stream.push(chunk):
                    write({"type": "event", "start": a, "end": b, "label": c})
                    n_events += 1
        except KeyboardInterrupt:
            pass
        for a, b, c in stream.finish():
            write({"type": "event", "start": a, "end": b, "label": c})
            n_events += 1
        write({"type": "end", "n_events": n_events})
    except (AudioLoadError, ValueError, RuntimeError, FileNotFoundError) as err:
        raise CLIError(str(err)) from err
    return 0


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
    inference = info.get("inference")
    if inference:
        cpu = inference["cpu"]
        lines.append(
            f"inference path: {inference['fast_path']} (candidate here: "
            f"{inference.get('candidate', '-')}; CPU {cpu['capability']}, "
            f"native bf16: {cpu['native_bf16']}, flags "
            f"{' '.join(cpu['flags']) or '-'})"
        )
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    """Runs ``ast-sb info``."""
    from ast_sb.inference.model_info import model_info

    info = model_info(_load(args))
    _emit(info, args.json, _info_text(info), None)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Runs ``ast-sb convert``."""
    from ast_sb.export.convert import ConversionError, convert_to_folder

    labels = read_labels(args.labels) if args.labels else None
    try:
        summary = convert_to_folder(
            args.source,
            args.out,
            fmt=args.format,
            labels=labels,
            multi_label=args.multi_label,
            dataset=args.dataset,
            mean=args.mean,
            std=args.std,
            size=args.size,
            n_mels=args.n_mels,
            target_length=args.target_length,
            fstride=args.fstride,
            tstride=args.tstride,
            revision=args.revision,
            sha256=args.sha256,
            check=args.check,
            overwrite=args.overwrite,
        )
    except ConversionError as err:
        raise CLIError(str(err)) from err
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
    from ast_sb.export.model_export import export_model
    from ast_sb.inference.frame_detection import FrameLevelDetector

    model = _load(args)
    detector = isinstance(model, FrameLevelDetector)
    if args.format is None:
        args.format = ["onnx"] if detector else ["torchscript", "onnx"]
    if args.input is None:
        args.input = "waveform" if detector else "features"
    try:
        if detector:
            from ast_sb.export.detector_export import export_detector

            if args.atol is not None:
                raise CLIError(
                    "--atol applies to classifier folders; a detector's "
                    "ONNX check allows 1e-3 x max|PyTorch| of its frame "
                    "probabilities"
                )

            report = export_detector(
                model,
                args.out,
                formats=args.format,
                input_type=args.input,
                raise_on_error=False,
                overwrite=args.overwrite,
            )
        else:
            report = export_model(
                model,
                args.out,
                formats=args.format,
                input_type=args.input,
                atol=args.atol,
                raise_on_error=False,
                overwrite=args.overwrite,
            )
    except (FileExistsError, NotADirectoryError, ValueError) as err:
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


#: Exit status when stdout's reader went away: 128 + SIGPIPE, as a shell
#: reports for a Unix tool killed by SIGPIPE.
EXIT_BROKEN_PIPE = 141


def _stdout_closed() -> int:
    """Ends quietly after the reader of stdout went away (``| head``).

    Python's documented pattern: stdout is pointed at ``os.devnull`` so
    that flushing it at exit raises nothing more.

    Returns
    -------
    int
        :data:`EXIT_BROKEN_PIPE`.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file descriptor (tests, embedding)
    return EXIT_BROKEN_PIPE


COMMANDS = {
    "classify": cmd_classify,
    "tag": cmd_tag,
    "stream": cmd_stream,
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
        Exit status (0 ok, 1 failure, 2 usage error, 141 stdout closed).
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
    except BrokenPipeError:
        return _stdout_closed()
    except (CLIError, DiskFullError) as err:
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
