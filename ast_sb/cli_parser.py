"""The ``ast-sb`` argument parser: subcommands, options and their types.

:mod:`ast_sb.cli` runs the commands; this module only declares them (no
torch import, so ``ast-sb --help`` stays fast).

Authors
 * ast_sb developers 2026
"""

import argparse

__all__ = ["FAST_PATHS", "TOKEN_BUDGET_AXES", "build_parser"]

#: ``ast_sb.inference.fast.INFERENCE_PATHS``, spelled out: importing torch to build
#: the parser would slow down ``--help``
FAST_PATHS = ("auto", "fp32", "onednn", "int8", "bf16", "openvino")

#: ``ast_sb.lobes.token_budget.TOKEN_BUDGET_AXES``, spelled out for the same reason
TOKEN_BUDGET_AXES = ("both", "time", "frequency")


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


def _token_budget(text: str) -> float:
    from ast_sb.lobes.token_budget import check_token_budget

    try:
        return check_token_budget(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``ast-sb`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the classify, tag, stream, info, convert and export
        commands.

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
            help="encoder inference path (default: the folder's; auto = "
            "bf16 weights where the CPU has native bf16 and a first-use "
            "probe agrees with fp32, else the fastest path within 1e-4 of "
            "fp32; fp32 = bit-exact; int8 = the blocks in int8 through "
            "onnxruntime (dynamic quantisation, needs ast_sb[onnx]); "
            "bf16 = bfloat16 weights; openvino = the encoder compiled by "
            "OpenVINO, needs ast_sb[openvino])",
        )

    def budget_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--token-budget",
            type=_token_budget,
            default=None,
            help="fraction of patch tokens the encoder keeps, in (0, 1]: "
            "fewer tokens, less compute (default: the model folder's, 1.0 "
            "unless exported with one)",
        )
        p.add_argument(
            "--token-budget-axes",
            choices=TOKEN_BUDGET_AXES,
            default=None,
            help="where the budget drops patches: frequency rows and time "
            "columns (both), columns (time) or rows (frequency); default: "
            "the model folder's (both)",
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
    budget_args(p)
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
    p.add_argument(
        "--frame-level",
        action="store_true",
        help="--model is a frame-level detector folder (recipes/"
        "SoundEventDetection: <output_folder>/detector): events at frame "
        "resolution (its post-processing; --threshold, --low-threshold, "
        "--median-window override it)",
    )
    p.add_argument(
        "--low-threshold",
        type=float,
        default=None,
        help="with --frame-level: hysteresis low threshold",
    )
    p.add_argument(
        "--median-window",
        type=_positive_int,
        default=None,
        help="with --frame-level: median filter in frames",
    )
    budget_args(p)
    progress_args(p)

    p = sub.add_parser(
        "stream",
        help="real-time tagging of a stream: JSON lines of events",
        description="Tags audio as it arrives and writes one JSON line per "
        "event when it ends ({type: event, start, end, label, score}, the "
        "events of `ast-sb tag` on the same audio), then an end line. "
        "Sources: raw PCM or WAV on stdin (default), a file (--follow: one "
        "that is still being written), or a microphone (--mic, needs "
        "sounddevice).",
    )
    p.add_argument(
        "source", nargs="?", default="-", help="'-' (stdin, default) or a file"
    )
    model_args(p)
    budget_args(p)
    p.add_argument(
        "--format",
        choices=["s16le", "f32le", "wav"],
        default=None,
        help="stdin / raw file sample format: s16le (default on stdin) or "
        "f32le, little-endian interleaved, or a WAV stream",
    )
    p.add_argument(
        "--rate",
        type=_positive_int,
        default=None,
        help="rate of raw PCM in Hz (default: the model's); other rates "
        "are resampled",
    )
    p.add_argument("--channels", type=_positive_int, default=1)
    p.add_argument(
        "--follow",
        action="store_true",
        help="follow a file that is still being written",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=5.0,
        help="with --follow: stop after this many s without new data",
    )
    p.add_argument("--mic", action="store_true", help="read the microphone")
    p.add_argument("--mic-device", default=None, help="sounddevice input")
    p.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        help="--mic: stop after s",
    )
    p.add_argument(
        "--window",
        type=_positive_float,
        default=None,
        help="window length in s (default: the model's clip length, <= 10)",
    )
    p.add_argument("--hop", type=_positive_float, default=None, help="hop in s")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--merge-gap", type=float, default=0.0)
    p.add_argument("--min-duration", type=float, default=0.0)
    p.add_argument(
        "--windows", action="store_true", help="also one line per window"
    )
    p.add_argument(
        "--frame-level",
        action="store_true",
        help="--model is a frame-level detector folder: events at frame "
        "resolution as they end ({type: event, start, end, label})",
    )
    p.add_argument("--low-threshold", type=float, default=None)
    p.add_argument("--median-window", type=_positive_int, default=None)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads (default: 1 for models under 10 GFLOP per "
        "window, which keeps latency when other processes share the "
        "cores; else one per core)",
    )

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
        help="sigmoid outputs (default: what the checkpoint says, HF "
        "problem_type or the published dataset; else 527 classes)",
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
        choices=("torchscript", "onnx", "onnx_int8", "openvino"),
        default=None,
        help="default: torchscript onnx (a frame-level detector folder: "
        "onnx, its only format); "
        "onnx_int8: the ONNX export with dynamic int8 MatMuls "
        "(onnxruntime.quantization); openvino: the ONNX export converted "
        "to OpenVINO IR (model.xml + model.bin, needs ast_sb[openvino])",
    )
    p.add_argument(
        "--input",
        choices=("features", "waveform"),
        default=None,
        help="graph input: normalised fbank [B,T,F] or waveform [B,N] "
        "(default: features; a detector folder: waveform)",
    )
    p.add_argument("--atol", type=float, default=None)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty output folder (as a whole)",
    )
    p.add_argument("--json", action="store_true", help="JSON output")
    return parser
