"""Limits and checks of a model description before anything is built.

``ast_sb_model.json`` (:mod:`ast_sb.export.safe_folder`) comes with a model
folder that may come from anywhere, so everything in it is checked before
a module is built from it:

* the files: ``ast_sb_model.json`` and ``model.safetensors`` must be
  regular files (a FIFO, a device such as ``/dev/zero``, a socket or a
  folder, also behind a symbolic link, is refused and named:
  :func:`check_regular_file`); the description is at most
  :data:`MAX_DESCRIPTION_BYTES` and nested at most as deep as JSON's
  parser allows;
* every constructor argument: its type and a range (:data:`LIMITS`), e.g.
  ``depth`` in [1, 64], ``embed_dim`` in [1, 8192], ``sample_rate`` in
  [1000, 384000] Hz, ``target_length`` in [1, 65536] frames
  (:func:`check_config`); an argument a class does not take is refused;
* ``extra`` may not hold a key that SpeechBrain's ``Pretrained`` or the
  interface read as an option (``compile``, ``jit``, ``device``,
  ``precision``, ``audio_normalizer``, ...: :data:`RESERVED_EXTRA`): a
  description must not switch on code paths;
* the weights: the header of ``model.safetensors`` (names, shapes, dtypes;
  no tensor data) must match the modules the description builds, which
  are first built on PyTorch's ``meta`` device (no memory:
  :func:`meta_state`, :func:`compare_with_header`), so a description
  whose sizes do not match its weights is refused before any large
  allocation; a tensor whose dtype does not fit (an int64 tensor where a
  float weight is expected) is refused by name instead of being cast.

The limits are generous for AST models (the largest published AST, ViT
base at 384 px, has depth 12, width 768, 1212 patch tokens) and bound what
one description can make ``ast-sb info`` or a classification allocate.

Authors
 * ast_sb developers 2026
"""

import dataclasses
import math
import os
import stat
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

__all__ = [
    "LIMITS",
    "MAX_DESCRIPTION_BYTES",
    "MAX_PATCH_TOKENS",
    "RESERVED_EXTRA",
    "check_config",
    "check_extra",
    "check_regular_file",
    "compare_with_header",
    "meta_state",
    "read_header",
]

MAX_DESCRIPTION_BYTES = 16 << 20
"""Largest ``ast_sb_model.json`` read (16 MiB)."""

MAX_PATCH_TOKENS = 8192
"""Most patch tokens of an encoder's grid (AST base at 1024 frames: 1212)."""

MAX_FRAME_SAMPLES = 1 << 16
"""Most samples of one fbank frame (frame length x sample rate)."""

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384_000
"""Range of a description's sampling rates (Hz)."""

MAX_CLASSES = 100_000
"""Most classes (labels) of a description."""


@dataclasses.dataclass(frozen=True)
class Bound:
    """The type and range of one constructor argument.

    Arguments
    ---------
    kind : type
        ``int``, ``float`` (ints accepted), ``bool`` or ``str``.
    low, high : float, optional
        Inclusive range (``low_open``: ``low`` excluded).
    low_open : bool
        Exclude ``low``.
    nullable : bool
        Accept ``null``.

    Example
    -------
    >>> Bound(int, 1, 64).problem(-3)
    'must be an integer in [1, 64]'
    >>> Bound(int, 1, 64).problem(True)
    'must be an integer in [1, 64]'
    >>> Bound(float, 0, 1, low_open=True).problem(0.5) is None
    True
    >>> Bound(int, 1, 1024, items=2).problem([128, 4]) is None
    True
    >>> Bound(int, 1, 1024, items=2).problem([128, 0])
    'has items that must be an integer in [1, 1024]'
    """

    kind: type
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    nullable: bool = False
    items: Optional[int] = None

    def problem(self, value: Any) -> Optional[str]:
        """What is wrong with ``value`` (None: nothing)."""
        if value is None and self.nullable:
            return None
        if self.items is not None:
            if not isinstance(value, (list, tuple)) or len(value) != self.items:
                return f"must be a list of {self.items} items"
            scalar = dataclasses.replace(self, items=None, nullable=False)
            for item in value:
                problem = scalar.problem(item)
                if problem is not None:
                    return f"has items that {problem}"
            return None
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind is str:
            return None if isinstance(value, str) else "must be a string"
        if self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            what = "an integer"
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            what = "a finite number"
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value <= self.high
        if ok:
            return None
        low = "(" if self.low_open else "["
        text = f"must be {what} in {low}{_fmt(self.low)}, {_fmt(self.high)}]"
        return text + (" or null" if self.nullable else "")


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "inf"
    return str(int(x)) if float(x).is_integer() else str(x)


_RATE = Bound(int, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
_MELS = Bound(int, 1, 1024)
_FRAMES = Bound(int, 1, 65536)
_EPS = Bound(float, 0, 1, low_open=True)
_PROB = Bound(float, 0, 1)
_WIDTH = Bound(int, 1, 8192)

#: Class name -> argument -> :class:`Bound`: the arguments a description
#: may give each class of :data:`ast_sb.export.safe_folder.MODULE_CLASSES` /
#: ``PART_CLASSES``.
LIMITS: Dict[str, Dict[str, Bound]] = {
    "WaveformPassThrough": {},
    "WaveformEncoder": {
        "sample_rate": _RATE,
        "window_seconds": Bound(float, 0, 600, low_open=True, nullable=True),
        "hop_seconds": Bound(float, 0, 600, low_open=True, nullable=True),
        "fast_path": Bound(str),
    },
    "WindowedClassifier": {"multi_label": Bound(bool)},
    "KaldiFbank": {
        "sample_rate": _RATE,
        "n_mels": _MELS,
        "frame_length_ms": Bound(float, 0, 1000, low_open=True),
        "frame_shift_ms": Bound(float, 0, 1000, low_open=True),
        "window": Bound(str),
        "target_length": Bound(int, 1, 65536, nullable=True),
        "low_freq": Bound(float, 0, MAX_SAMPLE_RATE / 2),
        "high_freq": Bound(float, -MAX_SAMPLE_RATE / 2, MAX_SAMPLE_RATE / 2),
        "preemphasis": _PROB,
        "remove_dc_offset": Bound(bool),
    },
    "AudioSpectrogramNormalizer": {
        "mean": Bound(float, -1e4, 1e4),
        "std": Bound(float, 0, 1e4, low_open=True),
    },
    "AudioSpectrogramTransformerEncoder": {
        "size": Bound(str),
        "n_mels": _MELS,
        "target_length": _FRAMES,
        "fstride": Bound(int, 1, 1024),
        "tstride": Bound(int, 1, 1024),
        "patch_shape": Bound(int, 1, 1024, items=2),
        "embed_dim": Bound(int, 1, 8192, nullable=True),
        "depth": Bound(int, 1, 64, nullable=True),
        "num_heads": Bound(int, 1, 256, nullable=True),
        "mlp_ratio": Bound(float, 0, 16, low_open=True),
        "layer_norm_eps": _EPS,
        "drop_rate": _PROB,
        "attn_drop_rate": _PROB,
        "drop_path_rate": _PROB,
        "use_padding_mask": Bound(bool),
        "patchout": Bound(str, nullable=True),
        "patchout_time": _PROB,
        "patchout_freq": _PROB,
        "long_inputs": Bound(str),
        "grad_checkpointing": Bound(bool),
        "token_budget": Bound(float, 0, 1, low_open=True),
        "token_budget_axes": Bound(str),
    },
    "AudioSpectrogramTransformerClassifier": {
        "input_size": _WIDTH,
        "n_classes": Bound(int, 1, MAX_CLASSES),
        "output": Bound(str),
        "layer_norm_eps": _EPS,
    },
}

#: ``extra`` keys a description may not set: the options SpeechBrain's
#: ``Pretrained`` reads from its hparams (``RunOptions``: ``compile``,
#: ``jit``, ``device``, ``precision``, ...) and the entries the interface
#: reads or the loader sets.
RESERVED_EXTRA = frozenset(
    {
        "audio_normalizer",
        "auto_mix_prec",
        "bfloat16_mix_prec",
        "compile",
        "compile_mode",
        "compile_module_keys",
        "compile_using_dynamic_shape_tracing",
        "compile_using_fullgraph",
        "data_parallel_backend",
        "data_parallel_count",
        "device",
        "distributed_backend",
        "distributed_launch",
        "eval_hop_seconds",
        "eval_precision",
        "eval_window_seconds",
        "jit",
        "jit_module_keys",
        "label_encoder",
        "modules",
        "multi_label",
        "n_classes",
        "precision",
        "pretrainer",
        "sample_rate",
    }
)


def _speechbrain_options() -> frozenset:
    try:
        from speechbrain.core import RunOptions
    except ImportError:  # SpeechBrain < 1.1: its fixed list above
        return frozenset()
    return frozenset(RunOptions().as_dict())


def check_extra(extra: Mapping[str, Any]) -> Optional[str]:
    """The first key of ``extra`` that would switch on an option.

    Arguments
    ---------
    extra : dict
        A description's (or an export's) extra entries.

    Returns
    -------
    str or None
        An explanation naming the key, or None.

    Example
    -------
    >>> check_extra({"converted_from": "x.pth"}) is None
    True
    >>> check_extra({"compile": True})
    "extra.compile is an option of SpeechBrain's Pretrained or of the interface; a description may not set it"
    """
    reserved = RESERVED_EXTRA | _speechbrain_options()
    for key in extra:
        if key in reserved:
            return (
                f"extra.{key} is an option of SpeechBrain's Pretrained or "
                "of the interface; a description may not set it"
            )
    return None


def check_config(
    class_name: str,
    config: Mapping[str, Any],
    where: str,
    bad: Callable[[str], Exception],
) -> None:
    """Checks the constructor arguments of one description entry.

    Arguments
    ---------
    class_name : str
        A class of :data:`LIMITS` (already checked against the allow-list).
    config : dict
        Its arguments.
    where : str
        The entry's place in the description (for the message).
    bad : callable
        Message -> the exception to raise.

    Example
    -------
    >>> check_config("AudioSpectrogramTransformerEncoder", {"depth": -3},
    ...              "modules.embedding_model.parts.encoder", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: modules.embedding_model.parts.encoder.config.depth = -3 must be an integer in [1, 64] or null
    """
    limits = LIMITS[class_name]
    for key, value in config.items():
        if key not in limits:
            raise bad(
                f"{where}.config.{key} is not an argument of {class_name} "
                f"(it takes {sorted(limits)})"
            )
        problem = limits[key].problem(value)
        if problem is not None:
            raise bad(f"{where}.config.{key} = {value!r} {problem}")
    if class_name == "KaldiFbank":
        rate = config.get("sample_rate", 16000)
        for key, default in (("frame_length_ms", 25.0), ("frame_shift_ms", 10)):
            samples = config.get(key, default) * rate / 1000
            if samples > MAX_FRAME_SAMPLES:
                raise bad(
                    f"{where}.config.{key} makes frames of {samples:.0f} "
                    f"samples at {rate} Hz (at most {MAX_FRAME_SAMPLES})"
                )
    dim, heads = config.get("embed_dim"), config.get("num_heads")
    if dim is not None and heads is not None and dim % heads:
        raise bad(
            f"{where}.config.embed_dim = {dim} is not a multiple of "
            f"num_heads = {heads}"
        )


def check_regular_file(path: str) -> Optional[str]:
    """What ``path`` is when it exists but is not a regular file.

    Arguments
    ---------
    path : str
        A file of a model folder.

    Returns
    -------
    str or None
        E.g. "a FIFO (named pipe)" or "a symbolic link to /dev/zero, a
        character device"; None for a regular file (also behind a link) or
        a missing path.

    Example
    -------
    >>> check_regular_file("/dev/null")
    'a character device'
    >>> check_regular_file(__file__) is None
    True
    """
    if not os.path.lexists(path):
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return f"a symbolic link to {os.readlink(path)}, which does not exist"
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    kind = next((text for test, text in kinds if test(mode)), "not a file")
    if os.path.islink(path):
        return f"a symbolic link to {os.path.realpath(path)}, {kind}"
    return kind


_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_header(path: str) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """Names, shapes and dtypes of a safetensors file (no tensor data).

    Arguments
    ---------
    path : str
        A ``.safetensors`` file.

    Returns
    -------
    dict
        Name -> (shape, safetensors dtype such as "F32" or "I64").

    Example
    -------
    >>> from safetensors.torch import save_file
    >>> path = str(getfixture("tmpdir") / "w.safetensors")
    >>> save_file({"w": torch.zeros(2, 3, dtype=torch.int64)}, path)
    >>> read_header(path)
    {'w': ((2, 3), 'I64')}
    """
    from safetensors import safe_open

    header = {}
    with safe_open(path, framework="pt", device="cpu") as fin:
        for key in fin.keys():
            piece = fin.get_slice(key)
            header[key] = (tuple(piece.get_shape()), piece.get_dtype())
    return header


class _MetaDevice(TorchFunctionMode):
    """Tensor factories make ``meta`` tensors (shape and dtype, no memory);
    ``torch.linspace`` stays on the CPU (constructors call ``.tolist()`` on
    it, e.g. for drop-path rates)."""

    _factories = _device_constructors()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if (
            func in self._factories
            and func is not torch.linspace
            and kwargs.get("device") is None
        ):
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def meta_state(
    cls: type, kwargs: Mapping[str, Any]
) -> Dict[str, Tuple[Tuple[int, ...], torch.dtype]]:
    """Shapes and dtypes of ``cls(**kwargs).state_dict()``, built on the
    ``meta`` device (no parameter memory).

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> state = meta_state(AudioSpectrogramTransformerEncoder,
    ...                    {"size": "base384", "depth": 64, "embed_dim": 4096,
    ...                     "num_heads": 32})
    >>> state["blocks.63.mlp.fc1.weight"]
    ((16384, 4096), torch.float32)
    """
    with _MetaDevice():
        module = cls(**kwargs)
    return {
        key: (tuple(value.shape), value.dtype)
        for key, value in module.state_dict().items()
    }


def compare_with_header(
    expected: Mapping[str, Tuple[Tuple[int, ...], torch.dtype]],
    header: Mapping[str, Tuple[Tuple[int, ...], str]],
    prefix: str,
) -> Optional[str]:
    """The first difference between a module's tensors and a file's.

    Arguments
    ---------
    expected : dict
        Name -> (shape, dtype) of the module (:func:`meta_state`).
    header : dict
        Name -> (shape, safetensors dtype) of the file (:func:`read_header`).
    prefix : str
        The module's prefix in the file (e.g. ``"embedding_model.encoder."``);
        only the file's names under it are compared.

    Returns
    -------
    str or None
        What differs, naming the tensor; None when all match. A floating
        tensor may be stored in any floating dtype; any other dtype must
        match exactly.

    Example
    -------
    >>> compare_with_header({"w": ((2,), torch.float32)},
    ...                     {"m.w": ((2,), "I64")}, "m.")
    'tensor m.w is int64 in the file, the model expects a floating tensor (torch.float32)'
    """
    names = {k[len(prefix) :] for k in header if k.startswith(prefix)}
    missing = sorted(set(expected) - names)
    unexpected = sorted(names - set(expected))
    if missing or unexpected:
        return (
            f"the file lacks {[prefix + k for k in missing[:5]]} and has "
            f"unexpected {[prefix + k for k in unexpected[:5]]}"
        )
    for key, (shape, dtype) in expected.items():
        file_shape, file_dtype = header[prefix + key]
        stored = _DTYPES.get(file_dtype)
        if tuple(file_shape) != tuple(shape):
            return (
                f"tensor {prefix}{key} has shape {list(file_shape)} in the "
                f"file, the description builds {list(shape)}"
            )
        if dtype.is_floating_point:
            if stored is None or not stored.is_floating_point:
                name = (
                    str(stored).replace("torch.", "") if stored else file_dtype
                )
                return (
                    f"tensor {prefix}{key} is {name} in the file, the model "
                    f"expects a floating tensor ({dtype})"
                )
        elif stored != dtype:
            return (
                f"tensor {prefix}{key} is {file_dtype} in the file, the model "
                f"expects {dtype}"
            )
    return None
