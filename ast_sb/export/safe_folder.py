"""A model folder description that loads without executing anything.

A SpeechBrain model folder's ``hyperparams.yaml`` is code: hyperpyyaml
tags such as ``!new:`` and ``!apply:`` import and call any Python function
when the file is loaded (``!apply:os.system [...]`` runs a shell command).
So loading a folder through its YAML is only safe for folders you trust.

Exported ast_sb folders therefore also carry a declarative description:

* ``ast_sb_model.json``: format and version, sample rate, labels,
  single/multi-label, and the folder's four ``EncoderClassifier`` modules
  (the exported layout of :mod:`ast_sb.inference.pipeline`): for each its class
  name, its constructor arguments (JSON scalars, or flat lists of at
  most :data:`MAX_LIST_LENGTH` scalars such as the encoder's
  ``patch_shape``) and its trained parts (``WaveformEncoder``: front
  end, normaliser, encoder; ``WindowedClassifier``: head), each again a
  class name from a fixed allow-list of ast_sb classes with such
  arguments;
* ``model.safetensors``: all weights (``<module>.<parameter>``, the keys
  of the folder's ``.ckpt`` files); safetensors holds raw tensors only,
  nothing is unpickled.

:func:`load_described_modules` rebuilds the modules from these two files
without reading the YAML or any pickle. The inference interface and
``ast-sb`` use it by default; the YAML is used only with
``trust_yaml=True`` / ``--trust-yaml``.

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

import torch
from safetensors.torch import load_file, save_file
from speechbrain.dataio.encoder import CategoricalEncoder

import ast_sb.export.description_checks as checks
from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.inference.pipeline import (
    WaveformEncoder,
    WaveformPassThrough,
    WindowedClassifier,
)
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

__all__ = [
    "DESCRIPTION_FILE",
    "WEIGHTS_FILE",
    "UntrustedModelError",
    "check_special_files",
    "describable",
    "has_description",
    "load_described_modules",
    "write_description",
]

DESCRIPTION_FILE = "ast_sb_model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "ast_sb.model"
VERSION = 1
#: The longest list a constructor argument may be (``patch_shape`` has 2).
MAX_LIST_LENGTH = 8

#: The only classes a description may name, by module slot.
MODULE_CLASSES: Dict[str, Dict[str, Type[torch.nn.Module]]] = {
    "compute_features": {"WaveformPassThrough": WaveformPassThrough},
    "mean_var_norm": {"WaveformPassThrough": WaveformPassThrough},
    "embedding_model": {"WaveformEncoder": WaveformEncoder},
    "classifier": {"WindowedClassifier": WindowedClassifier},
}

#: The trained parts of each module (constructor argument -> classes).
PART_CLASSES: Dict[str, Dict[str, Dict[str, Type[torch.nn.Module]]]] = {
    "compute_features": {},
    "mean_var_norm": {},
    "embedding_model": {
        "compute_features": {"KaldiFbank": KaldiFbank},
        "mean_var_norm": {
            "AudioSpectrogramNormalizer": AudioSpectrogramNormalizer
        },
        "encoder": {
            "AudioSpectrogramTransformerEncoder": (
                AudioSpectrogramTransformerEncoder
            )
        },
    },
    "classifier": {
        "head": {
            "AudioSpectrogramTransformerClassifier": (
                AudioSpectrogramTransformerClassifier
            )
        }
    },
}


def _module_config(slot: str, module: torch.nn.Module) -> Dict[str, Any]:
    """Scalar constructor arguments of a pipeline module (not its parts)."""
    if slot == "embedding_model":
        return {
            "sample_rate": int(module.sample_rate),
            "window_seconds": module.window_seconds,
            "hop_seconds": module.hop_seconds,
            "fast_path": module.fast_path,
        }
    if slot == "classifier":
        return {"multi_label": bool(module.multi_label)}
    return {}


class UntrustedModelError(AudioSpectrogramTransformerError, ValueError):
    """A model folder cannot be loaded without executing its YAML, or its
    description is invalid."""


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int, str))


def _config_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a valid constructor argument, or None.

    Scalars and flat lists of at most :data:`MAX_LIST_LENGTH` scalars are
    data; nested or longer lists are refused.

    Example
    -------
    >>> _config_problem([128, 4]) is None
    True
    >>> _config_problem([[128, 4]])
    'is a nested list (only scalars or flat lists of scalars)'
    """
    if _is_scalar(value):
        return None
    if isinstance(value, list):
        if len(value) > MAX_LIST_LENGTH:
            return (
                f"is a list of {len(value)} items (at most {MAX_LIST_LENGTH})"
            )
        if any(isinstance(v, (list, dict)) for v in value):
            return "is a nested list (only scalars or flat lists of scalars)"
        if all(_is_scalar(v) for v in value):
            return None
    return "is not a scalar or a flat list of scalars"


def describable(modules: Mapping[str, torch.nn.Module]) -> bool:
    """Whether every module and trained part is of a class a description
    may name (:data:`MODULE_CLASSES`, :data:`PART_CLASSES`).

    Arguments
    ---------
    modules : dict
        Slot name -> module, for the four slots of :data:`MODULE_CLASSES`
        (``ast_sb.export.folder.inference_modules``).

    Returns
    -------
    bool
        True when :func:`write_description` can describe them.

    Example
    -------
    >>> describable({"compute_features": KaldiFbank()})
    False
    """
    if set(modules) != set(MODULE_CLASSES):
        return False
    for slot, module in modules.items():
        if MODULE_CLASSES[slot].get(type(module).__name__) is not type(module):
            return False
        for name, allowed in PART_CLASSES[slot].items():
            part = getattr(module, name, None)
            if allowed.get(type(part).__name__) is not type(part):
                return False
    return True


def write_description(
    folder: str,
    modules: Mapping[str, torch.nn.Module],
    configs: Mapping[str, Mapping[str, Any]],
    labels: List[Any],
    sample_rate: int,
    multi_label: bool,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Writes ``ast_sb_model.json`` and ``model.safetensors`` to ``folder``.

    Arguments
    ---------
    folder : str
        Existing folder.
    modules : dict
        The four modules (see :data:`MODULE_CLASSES`).
    configs : dict
        ``"<slot>.<part>"`` (e.g. ``"embedding_model.encoder"``) ->
        constructor arguments of that trained part
        (``ast_sb.export.folder.module_config``).
    labels : list
        Class names by index.
    sample_rate : int
        Sampling rate the model expects.
    multi_label : bool
        Sigmoid (True) or softmax outputs.
    extra : dict, optional
        Further scalar entries (e.g. ``converted_from``).
    """
    if not describable(modules):
        raise UntrustedModelError(
            "Only the ast_sb classes "
            f"{sorted(n for c in MODULE_CLASSES.values() for n in c)} can "
            "be described without code."
        )
    description: Dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "sample_rate": int(sample_rate),
        "multi_label": bool(multi_label),
        "labels": list(labels),
        "modules": {
            slot: {
                "class": type(modules[slot]).__name__,
                "config": _module_config(slot, modules[slot]),
                "parts": {
                    name: {
                        "class": type(getattr(modules[slot], name)).__name__,
                        "config": dict(configs[f"{slot}.{name}"]),
                    }
                    for name in PART_CLASSES[slot]
                },
            }
            for slot in MODULE_CLASSES
        },
        "weights": WEIGHTS_FILE,
        "extra": dict(extra or {}),
    }
    tensors = {
        f"{slot}.{key}": value.detach().cpu().contiguous().clone()
        for slot in MODULE_CLASSES
        for key, value in modules[slot].state_dict().items()
    }
    save_file(tensors, os.path.join(folder, WEIGHTS_FILE))
    with open(
        os.path.join(folder, DESCRIPTION_FILE), "w", encoding="utf-8"
    ) as fout:
        json.dump(description, fout, indent=2, allow_nan=False)
        fout.write("\n")


def has_description(folder: str) -> bool:
    """Whether ``folder`` carries a description and safetensors weights.

    Arguments
    ---------
    folder : str
        Model folder.

    Returns
    -------
    bool
        Both files exist.

    Example
    -------
    >>> has_description(str(getfixture("tmpdir")))
    False
    """
    return os.path.isfile(
        os.path.join(folder, DESCRIPTION_FILE)
    ) and os.path.isfile(os.path.join(folder, WEIGHTS_FILE))


def check_special_files(folder: str) -> None:
    """Refuses a description or weights file that is not a regular file.

    A FIFO would block the loader forever and a device such as
    ``/dev/zero`` would be read without end; either (also behind a
    symbolic link) is named in an :class:`UntrustedModelError`.

    Arguments
    ---------
    folder : str
        Model folder.

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> os.symlink("/dev/zero", folder / WEIGHTS_FILE)
    >>> check_special_files(str(folder))
    Traceback (most recent call last):
    ...
    ast_sb.export.safe_folder.UntrustedModelError: .../model.safetensors is a symbolic link to /dev/zero, a character device, not a regular file: refusing to read it.
    """
    for name in (DESCRIPTION_FILE, WEIGHTS_FILE):
        path = os.path.join(folder, name)
        kind = checks.check_regular_file(path)
        if kind is not None:
            raise UntrustedModelError(
                f"{path} is {kind}, not a regular file: refusing to read it."
            )


def _check_entry(
    entry: Any,
    where: str,
    allowed: Mapping[str, Type[torch.nn.Module]],
    bad: Callable[[str], UntrustedModelError],
) -> None:
    """Checks one ``{"class", "config"}`` entry of a description."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise bad(f"{where} needs 'class' and a 'config' object")
    if entry.get("class") not in allowed:
        raise bad(
            f"{where}.class {entry.get('class')!r} is not one of "
            f"{sorted(allowed)}"
        )
    for key, value in entry["config"].items():
        problem = _config_problem(value)
        if problem is not None:
            raise bad(f"{where}.config.{key} {problem}")
    checks.check_config(entry["class"], entry["config"], where, bad)


def _build(
    cls: Type[torch.nn.Module],
    kwargs: Mapping[str, Any],
    what: str,
) -> torch.nn.Module:
    """``cls(**kwargs)`` with a clear error."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, AssertionError) as err:
        raise UntrustedModelError(
            f"{what}: {cls.__name__}(**{dict(kwargs)}) failed: {err}"
        ) from err


def _read_description(folder: str) -> Dict[str, Any]:
    path = os.path.join(folder, DESCRIPTION_FILE)

    def bad(what: str) -> UntrustedModelError:
        return UntrustedModelError(f"Invalid model description {path}: {what}")

    check_special_files(folder)
    try:
        if os.path.getsize(path) > checks.MAX_DESCRIPTION_BYTES:
            raise bad(f"larger than {checks.MAX_DESCRIPTION_BYTES >> 20} MiB")
        with open(path, encoding="utf-8") as fin:
            data = json.load(fin)
    except RecursionError as err:
        raise bad("nested too deeply") from err
    except (OSError, ValueError) as err:
        raise UntrustedModelError(f"Cannot read {path}: {err}") from err

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad(f"format must be {FORMAT!r}")
    if data.get("version") != VERSION:
        raise bad(f"unsupported version {data.get('version')!r}")
    if not isinstance(data.get("modules"), dict) or set(data["modules"]) != set(
        MODULE_CLASSES
    ):
        raise bad(f"modules must be exactly {sorted(MODULE_CLASSES)}")
    for slot, entry in data["modules"].items():
        _check_entry(entry, f"modules.{slot}", MODULE_CLASSES[slot], bad)
        parts = entry.get("parts")
        if not isinstance(parts, dict) or set(parts) != set(PART_CLASSES[slot]):
            raise bad(
                f"modules.{slot}.parts must be exactly "
                f"{sorted(PART_CLASSES[slot])}"
            )
        for name, part in parts.items():
            _check_entry(
                part,
                f"modules.{slot}.parts.{name}",
                PART_CLASSES[slot][name],
                bad,
            )
    labels = data.get("labels")
    if not isinstance(labels, list) or not labels:
        raise bad("labels must be a non-empty list")
    if not all(isinstance(x, (str, int)) for x in labels):
        raise bad("labels must be strings or integers")
    if len(set(labels)) != len(labels):
        raise bad("labels must be unique")
    if len(labels) > checks.MAX_CLASSES:
        raise bad(f"more than {checks.MAX_CLASSES} labels")
    problem = checks.LIMITS["WaveformEncoder"]["sample_rate"].problem(
        data.get("sample_rate")
    )
    if problem is not None:
        raise bad(f"sample_rate = {data.get('sample_rate')!r} {problem}")
    pipeline_rate = data["modules"]["embedding_model"]["config"].get(
        "sample_rate", 16000
    )
    if pipeline_rate != data["sample_rate"]:
        raise bad(
            f"sample_rate = {data['sample_rate']} differs from "
            f"modules.embedding_model.config.sample_rate = {pipeline_rate}"
        )
    if not isinstance(data.get("multi_label"), bool):
        raise bad("multi_label must be true or false")
    if data.get("weights") != WEIGHTS_FILE:
        raise bad(f"weights must be {WEIGHTS_FILE!r}")
    extra = data.get("extra", {})
    if not isinstance(extra, dict) or not all(
        _is_scalar(v) for v in extra.values()
    ):
        raise bad("extra must hold scalars only")
    problem = checks.check_extra(extra)
    if problem is not None:
        raise bad(problem)
    return data


#: Parts whose size the description sets: built on the meta device and
#: compared with the weights' header before they are built for real.
_SIZED_PARTS = (
    "AudioSpectrogramTransformerEncoder",
    "AudioSpectrogramTransformerClassifier",
)


def _check_sizes(
    folder: str,
    data: Mapping[str, Any],
    header: Mapping[str, Tuple[Tuple[int, ...], str]],
) -> None:
    """Compares the large parts of a description (built on the meta device,
    without memory) with the weights' header, before anything is built."""
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    for slot, entry in data["modules"].items():
        for name, part in entry["parts"].items():
            if part["class"] not in _SIZED_PARTS:
                continue
            where = (
                f"{DESCRIPTION_FILE} of {folder}, modules.{slot}.parts.{name}"
            )
            cls = PART_CLASSES[slot][name][part["class"]]
            try:
                expected = checks.meta_state(cls, part["config"])
            except (TypeError, ValueError, AssertionError, RuntimeError) as err:
                raise UntrustedModelError(
                    f"{where}: {cls.__name__}(**{part['config']}) failed: {err}"
                ) from err
            if "pos_embed" in expected:
                tokens = expected["pos_embed"][0][1]
                if tokens > checks.MAX_PATCH_TOKENS + 2:
                    raise UntrustedModelError(
                        f"{where}: the patch grid has {tokens} tokens (at "
                        f"most {checks.MAX_PATCH_TOKENS})"
                    )
            problem = checks.compare_with_header(
                expected, header, f"{slot}.{name}."
            )
            if problem is not None:
                raise UntrustedModelError(
                    f"{weights_path} does not match {where}: {problem}"
                )


def load_described_modules(
    folder: str,
) -> Tuple[Dict[str, torch.nn.Module], Dict[str, Any]]:
    """Builds the modules and hparams of a folder from its description.

    Nothing in the folder is executed or unpickled: classes come from a
    fixed allow-list, arguments are JSON scalars or short flat lists of
    them (:data:`MAX_LIST_LENGTH`) and the weights are read
    from safetensors (every tensor must match, strictly).

    Arguments
    ---------
    folder : str
        Model folder with ``ast_sb_model.json`` and ``model.safetensors``.

    Returns
    -------
    modules : dict
        ``compute_features``, ``mean_var_norm`` (``WaveformPassThrough``),
        ``embedding_model`` (``WaveformEncoder``), ``classifier``
        (``WindowedClassifier``): the modules the folder's YAML builds
        (CPU, eval mode).
    hparams : dict
        ``label_encoder``, ``sample_rate``, ``n_classes``, ``multi_label``,
        ``eval_window_seconds``, ``eval_hop_seconds`` and the ``extra``
        entries.

    Example
    -------
    >>> from ast_sb.export.folder import export_inference_folder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", depth=1, target_length=100
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["cat", "dog"])
    >>> out = str(getfixture("tmpdir") / "m")
    >>> _ = export_inference_folder(out, enc, head, labels, {"target_length": 100})
    >>> modules, hparams = load_described_modules(out)
    >>> hparams["label_encoder"].decode_ndim(1), hparams["n_classes"]
    ('dog', 2)
    >>> all(
    ...     torch.equal(a, b)
    ...     for a, b in zip(
    ...         enc.state_dict().values(),
    ...         modules["embedding_model"].encoder.state_dict().values(),
    ...     )
    ... )
    True
    """
    folder = os.fspath(folder)
    check_special_files(folder)
    if not has_description(folder):
        raise UntrustedModelError(
            f"{folder} has no {DESCRIPTION_FILE} and {WEIGHTS_FILE}."
        )
    data = _read_description(folder)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    try:
        header = checks.read_header(weights_path)
    except Exception as err:  # safetensors raises its own error types
        raise UntrustedModelError(
            f"Cannot read weights {weights_path}: {err}"
        ) from err
    _check_sizes(folder, data, header)
    modules: Dict[str, torch.nn.Module] = {}
    for slot, entry in data["modules"].items():
        what = f"{DESCRIPTION_FILE} of {folder}, modules.{slot}"
        parts = {
            name: _build(
                PART_CLASSES[slot][name][part["class"]],
                part["config"],
                f"{what}.parts.{name}",
            )
            for name, part in entry["parts"].items()
        }
        module = _build(
            MODULE_CLASSES[slot][entry["class"]],
            {**entry["config"], **parts},
            what,
        )
        prefix = slot + "."
        expected = {
            k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()
        }
        problem = checks.compare_with_header(expected, header, prefix)
        if problem is not None:
            raise UntrustedModelError(
                f"{weights_path} does not match {slot} of {DESCRIPTION_FILE}: "
                f"{problem}"
            )
        modules[slot] = module
    try:
        tensors = load_file(weights_path, device="cpu")
    except Exception as err:  # safetensors raises its own error types
        raise UntrustedModelError(
            f"Cannot read weights {weights_path}: {err}"
        ) from err
    for slot, module in modules.items():
        prefix = slot + "."
        state = {
            k[len(prefix) :]: v
            for k, v in tensors.items()
            if k.startswith(prefix)
        }
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise UntrustedModelError(
                f"{weights_path} does not match {slot} of {DESCRIPTION_FILE}: "
                f"{err}"
            ) from err
        modules[slot] = module.eval()
    labels = data["labels"]
    head = getattr(modules["classifier"], "head", modules["classifier"])
    n_classes = getattr(head, "n_classes", len(labels))
    if n_classes != len(labels):
        raise UntrustedModelError(
            f"{DESCRIPTION_FILE} of {folder} lists {len(labels)} labels for "
            f"a classifier with {n_classes} outputs"
        )
    label_encoder = CategoricalEncoder()
    label_encoder.update_from_iterable(labels)
    label_encoder.expect_len(len(labels))
    hparams: Dict[str, Any] = dict(data["extra"])
    pipeline = modules["embedding_model"]
    hparams.update(
        eval_window_seconds=pipeline.window_seconds,
        eval_hop_seconds=pipeline.hop_seconds,
        label_encoder=label_encoder,
        sample_rate=data["sample_rate"],
        n_classes=len(labels),
        multi_label=data["multi_label"],
    )
    return modules, hparams
