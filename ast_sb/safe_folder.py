"""A model folder description that loads without executing anything.

A SpeechBrain model folder's ``hyperparams.yaml`` is code: hyperpyyaml
tags such as ``!new:`` and ``!apply:`` import and call any Python function
when the file is loaded (``!apply:os.system [...]`` runs a shell command).
So loading a folder through its YAML is only safe for folders you trust.

Exported ast_sb folders therefore also carry a declarative description:

* ``ast_sb_model.json``: format and version, sample rate, labels,
  single/multi-label, and for each of the four modules its class name
  (from a fixed allow-list of ast_sb classes) and its constructor
  arguments (JSON scalars only);
* ``model.safetensors``: all weights (``<module>.<parameter>``);
  safetensors holds raw tensors only, nothing is unpickled.

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
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

import torch
from safetensors.torch import load_file, save_file
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

__all__ = [
    "DESCRIPTION_FILE",
    "WEIGHTS_FILE",
    "UntrustedModelError",
    "describable",
    "has_description",
    "load_described_modules",
    "write_description",
]

DESCRIPTION_FILE = "ast_sb_model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "ast_sb.model"
VERSION = 1

#: The only classes a description may name, by module slot.
MODULE_CLASSES: Dict[str, Dict[str, Type[torch.nn.Module]]] = {
    "compute_features": {"KaldiFbank": KaldiFbank},
    "mean_var_norm": {"AudioSpectrogramNormalizer": AudioSpectrogramNormalizer},
    "embedding_model": {
        "AudioSpectrogramTransformerEncoder": (
            AudioSpectrogramTransformerEncoder
        )
    },
    "classifier": {
        "AudioSpectrogramTransformerClassifier": (
            AudioSpectrogramTransformerClassifier
        )
    },
}


class UntrustedModelError(ValueError):
    """A model folder cannot be loaded without executing its YAML, or its
    description is invalid."""


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int, str))


def describable(modules: Mapping[str, torch.nn.Module]) -> bool:
    """Whether every module is of a class a description may name.

    Arguments
    ---------
    modules : dict
        Slot name -> module, for the four slots of :data:`MODULE_CLASSES`.

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
    return all(
        MODULE_CLASSES[slot].get(type(module).__name__) is type(module)
        for slot, module in modules.items()
    )


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
        Slot -> constructor arguments (``ast_sb.export.module_config``).
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
                "config": dict(configs[slot]),
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


def _read_description(folder: str) -> Dict[str, Any]:
    path = os.path.join(folder, DESCRIPTION_FILE)
    try:
        with open(path, encoding="utf-8") as fin:
            data = json.load(fin)
    except (OSError, ValueError) as err:
        raise UntrustedModelError(f"Cannot read {path}: {err}") from err

    def bad(what: str) -> UntrustedModelError:
        return UntrustedModelError(f"Invalid model description {path}: {what}")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad(f"format must be {FORMAT!r}")
    if data.get("version") != VERSION:
        raise bad(f"unsupported version {data.get('version')!r}")
    if not isinstance(data.get("modules"), dict) or set(data["modules"]) != set(
        MODULE_CLASSES
    ):
        raise bad(f"modules must be exactly {sorted(MODULE_CLASSES)}")
    for slot, entry in data["modules"].items():
        if not isinstance(entry, dict) or not isinstance(
            entry.get("config"), dict
        ):
            raise bad(f"modules.{slot} needs 'class' and a 'config' object")
        if entry.get("class") not in MODULE_CLASSES[slot]:
            raise bad(
                f"modules.{slot}.class {entry.get('class')!r} is not one of "
                f"{sorted(MODULE_CLASSES[slot])}"
            )
        for key, value in entry["config"].items():
            if not _is_scalar(value):
                raise bad(f"modules.{slot}.config.{key} is not a scalar")
    labels = data.get("labels")
    if not isinstance(labels, list) or not labels:
        raise bad("labels must be a non-empty list")
    if not all(isinstance(x, (str, int)) for x in labels):
        raise bad("labels must be strings or integers")
    if len(set(labels)) != len(labels):
        raise bad("labels must be unique")
    if not isinstance(data.get("sample_rate"), int) or data["sample_rate"] < 1:
        raise bad("sample_rate must be a positive integer")
    if not isinstance(data.get("multi_label"), bool):
        raise bad("multi_label must be true or false")
    if data.get("weights") != WEIGHTS_FILE:
        raise bad(f"weights must be {WEIGHTS_FILE!r}")
    extra = data.get("extra", {})
    if not isinstance(extra, dict) or not all(
        _is_scalar(v) for v in extra.values()
    ):
        raise bad("extra must hold scalars only")
    return data


def load_described_modules(
    folder: str,
) -> Tuple[Dict[str, torch.nn.Module], Dict[str, Any]]:
    """Builds the modules and hparams of a folder from its description.

    Nothing in the folder is executed or unpickled: classes come from a
    fixed allow-list, arguments are JSON scalars and the weights are read
    from safetensors (every tensor must match, strictly).

    Arguments
    ---------
    folder : str
        Model folder with ``ast_sb_model.json`` and ``model.safetensors``.

    Returns
    -------
    modules : dict
        ``compute_features``, ``mean_var_norm``, ``embedding_model``,
        ``classifier`` (CPU, eval mode).
    hparams : dict
        ``label_encoder``, ``sample_rate``, ``n_classes``, ``multi_label``
        and the ``extra`` entries.

    Example
    -------
    >>> from ast_sb.export import export_inference_folder
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
    ...         modules["embedding_model"].state_dict().values(),
    ...     )
    ... )
    True
    """
    folder = os.fspath(folder)
    if not has_description(folder):
        raise UntrustedModelError(
            f"{folder} has no {DESCRIPTION_FILE} and {WEIGHTS_FILE}."
        )
    data = _read_description(folder)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    try:
        tensors = load_file(weights_path, device="cpu")
    except Exception as err:  # safetensors raises its own error types
        raise UntrustedModelError(
            f"Cannot read weights {weights_path}: {err}"
        ) from err
    modules: Dict[str, torch.nn.Module] = {}
    for slot, entry in data["modules"].items():
        cls = MODULE_CLASSES[slot][entry["class"]]
        try:
            module = cls(**entry["config"])
        except (TypeError, ValueError) as err:
            raise UntrustedModelError(
                f"{DESCRIPTION_FILE} of {folder}: {entry['class']}"
                f"(**{entry['config']}) failed: {err}"
            ) from err
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
    n_classes = getattr(modules["classifier"], "n_classes", len(labels))
    if n_classes != len(labels):
        raise UntrustedModelError(
            f"{DESCRIPTION_FILE} of {folder} lists {len(labels)} labels for "
            f"a classifier with {n_classes} outputs"
        )
    label_encoder = CategoricalEncoder()
    label_encoder.update_from_iterable(labels)
    label_encoder.expect_len(len(labels))
    hparams: Dict[str, Any] = dict(data["extra"])
    hparams.update(
        label_encoder=label_encoder,
        sample_rate=data["sample_rate"],
        n_classes=len(labels),
        multi_label=data["multi_label"],
    )
    return modules, hparams
