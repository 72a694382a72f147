"""Exporting a trained AST as a SpeechBrain ``EncoderClassifier`` folder.

:func:`export_inference_folder` writes::

    hyperparams.yaml        rebuilds the trained front end, normaliser,
                            encoder and head, the EncoderClassifier
                            modules of ast_sb.inference.pipeline around them
                            (exact clip lengths, sliding windows),
                            label_encoder and pretrainer
    embedding_model.ckpt    WaveformEncoder state dict (front end,
                            normaliser, encoder)
    classifier.ckpt         WindowedClassifier state dict (head)
    label_encoder.txt       CategoricalEncoder (also as label_encoder.ckpt,
                            the name the Pretrainer fetches)
    config.json             {"speechbrain_interface": "EncoderClassifier"}

so that, offline::

    from speechbrain.inference.classifiers import EncoderClassifier
    clf = EncoderClassifier.from_hparams(source=DIR)  # read in place
    out_prob, score, index, text_lab = clf.classify_file("clip.wav")

The Pretrainer fetches every file as ``<source>/<name>.ckpt``, so the folder
can be moved or uploaded to the HF hub as is. The constructor arguments of the
``ast_sb`` modules are taken from their ``constructor_args`` dict (every
ast_sb lobe keeps one) and checked by rebuilding the module; other modules (SpeechBrain lobes, ...) are written as the
recipe's YAML defines them (:func:`export_from_hparams`).
Because SpeechBrain's Pretrainer loads weights with ``strict=False``,
:func:`load_encoder_classifier` loads a folder and checks that every weight
was really loaded.

Authors
 * ast_sb developers 2026
"""

import inspect
import json
import logging
import os
import shutil
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.export.atomic_folder import atomic_folder
from ast_sb.export.description_checks import check_extra
from ast_sb.export.safe_folder import (
    DESCRIPTION_FILE,
    describable,
    write_description,
)
from ast_sb.inference.pipeline import (
    WaveformEncoder,
    WaveformPassThrough,
    WindowedClassifier,
)
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank

__all__ = [
    "ExportError",
    "export_from_hparams",
    "export_inference_folder",
    "inference_modules",
    "label_encoder_with_len",
    "load_encoder_classifier",
    "module_config",
    "recipe_yaml_nodes",
    "verify_loaded_weights",
]

logger = logging.getLogger(__name__)

INTERFACE_CONFIG = {"speechbrain_interface": "EncoderClassifier"}
CKPT_FILES = {
    "embedding_model": "embedding_model.ckpt",
    "classifier": "classifier.ckpt",
}


class ExportError(AudioSpectrogramTransformerError, ValueError):
    """Raised when a module cannot be exported or a folder loads wrongly."""


def label_encoder_with_len(n_classes: int) -> CategoricalEncoder:
    """Creates an empty ``CategoricalEncoder`` that expects ``n_classes``.

    Used by exported YAML files: loading a label file with another number of
    classes then fails, and no "expect_len was never called" warning is
    logged.

    Arguments
    ---------
    n_classes : int
        Expected number of classes.

    Returns
    -------
    CategoricalEncoder
        Empty encoder with ``expect_len(n_classes)`` set.

    Example
    -------
    >>> enc = label_encoder_with_len(2)
    >>> enc.update_from_iterable(["a", "b"])
    >>> enc.decode_ndim(1)
    'b'
    """
    encoder = CategoricalEncoder()
    encoder.expect_len(int(n_classes))
    return encoder


def _class_path(module: Any) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def _scalar(value: Any) -> bool:
    if isinstance(value, (list, tuple)):  # e.g. the encoder's patch_shape
        return all(_scalar(v) and not isinstance(v, list) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def module_config(module: torch.nn.Module) -> Dict[str, Any]:
    """Returns the constructor arguments that rebuild ``module``.

    ``ast_sb`` lobes keep them in their ``constructor_args`` dict (the one
    convention of the package); an ``ast_sb`` module without one raises. For
    a module of another package (SpeechBrain's ``Fbank``, ...) the
    attributes named like the constructor's arguments (or
    ``<name>_type``) are read. The result is checked by building a new
    module and comparing all buffers and parameters shapes.

    Arguments
    ---------
    module : torch.nn.Module
        Module to describe.

    Returns
    -------
    dict
        Keyword arguments (scalars only).

    Example
    -------
    >>> cfg = module_config(KaldiFbank(n_mels=64, low_freq=50.0))
    >>> cfg["n_mels"], cfg["low_freq"], cfg["window"]
    (64, 50.0, 'hanning')
    >>> module_config(AudioSpectrogramNormalizer(-6.6268077, 5.358466))
    {'mean': -6.6268077, 'std': 5.358466}
    """
    config = getattr(module, "constructor_args", None)
    if isinstance(config, Mapping):
        kwargs = dict(config)
    elif _is_own(module):
        raise ExportError(
            f"{_class_path(module)} keeps no constructor_args dict; every "
            "ast_sb lobe must (see docs/DESIGN.md)."
        )
    else:
        kwargs = _attribute_arguments(module)
    bad = {k: v for k, v in kwargs.items() if not _scalar(v)}
    if bad:
        raise ExportError(
            f"Cannot write constructor arguments {sorted(bad)} of "
            f"{_class_path(module)} to YAML (not scalars)."
        )
    _check_rebuild(module, kwargs)
    return kwargs


def _attribute_arguments(module: torch.nn.Module) -> Dict[str, Any]:
    """Constructor arguments of a foreign module read from its attributes."""
    params = inspect.signature(type(module).__init__).parameters
    kwargs = {}
    for name in list(params)[1:]:
        if params[name].kind in (
            params[name].VAR_POSITIONAL,
            params[name].VAR_KEYWORD,
        ):
            continue
        for attr in (name, name + "_type"):
            value = getattr(module, attr, inspect.Parameter.empty)
            if value is not inspect.Parameter.empty and _scalar(value):
                kwargs[name] = value
                break
    return kwargs


def _check_rebuild(module: torch.nn.Module, kwargs: Dict[str, Any]) -> None:
    """Rebuilds ``module`` from ``kwargs`` and compares structure/buffers."""
    try:
        rebuilt = type(module)(**kwargs)
    except Exception as err:
        raise ExportError(
            f"{_class_path(module)}(**{kwargs}) failed: {err}. Pass the "
            f"module's constructor arguments explicitly."
        ) from err
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    new_shapes = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if shapes != new_shapes:
        raise ExportError(
            f"{_class_path(module)} rebuilt from {kwargs} has other "
            f"parameters than the module to export; pass its constructor "
            f"arguments explicitly."
        )
    # Non-persistent buffers (e.g. fbank mel matrix / window) are not saved:
    # they must come out identical from the constructor arguments.
    persistent = set(module.state_dict())
    new_buffers = dict(rebuilt.named_buffers())
    for name, buf in module.named_buffers():
        if name in persistent:
            continue
        other = new_buffers.get(name)
        if (
            other is None
            or other.shape != buf.shape
            or not torch.equal(other.cpu(), buf.cpu())
        ):
            raise ExportError(
                f"{_class_path(module)} rebuilt from {kwargs} differs in "
                f"buffer {name!r}; pass its constructor arguments explicitly."
            )
    for name in ("mean", "std"):  # plain float state, e.g. the normaliser
        if hasattr(module, name) and _scalar(getattr(module, name)):
            if getattr(module, name) != getattr(rebuilt, name, None):
                raise ExportError(
                    f"{_class_path(module)} rebuilt from {kwargs} has another "
                    f"{name}; pass its constructor arguments explicitly."
                )


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value))


def _yaml_object(key: str, class_path: str, kwargs: Mapping[str, Any]) -> str:
    lines = [f"{key}: !new:{class_path}"]
    lines += [f"    {k}: {_yaml_scalar(v)}" for k, v in kwargs.items()]
    return "\n".join(lines)


def _resolve_module(
    value: Union[torch.nn.Module, Mapping[str, Any], None],
    default_cls: type,
) -> torch.nn.Module:
    if value is None:
        return default_cls()
    if isinstance(value, Mapping):
        return default_cls(**value)
    return value


def _is_own(module: Any) -> bool:
    """Whether ``module`` is an ``ast_sb`` class (described by arguments)."""
    return type(module).__module__.split(".")[0] == "ast_sb"


def recipe_yaml_nodes(yaml_file: str, keys: Sequence[str]) -> Dict[str, Any]:
    """The (resolved) YAML definitions of ``keys`` in a recipe's hparams.

    Arguments
    ---------
    yaml_file : str
        A recipe's YAML; ``!ref`` / ``!include`` are resolved first (the
        ``hyperparams.yaml`` SpeechBrain writes into the output folder is
        already resolved).
    keys : list of str
        Top-level keys to take.

    Returns
    -------
    dict
        key -> ruamel node for the keys the file defines.

    Example
    -------
    >>> path = getfixture("tmpdir") / "hp.yaml"
    >>> lines = [
    ...     "n: 3",
    ...     "lin: !new:torch.nn.Linear",
    ...     "    in_features: !ref <n>",
    ...     "    out_features: 2",
    ... ]
    >>> _ = path.write(chr(10).join(lines))
    >>> dict(recipe_yaml_nodes(str(path), ["lin", "other"])["lin"])
    {'in_features': 3, 'out_features': 2}
    """
    import ruamel.yaml
    from hyperpyyaml import resolve_references

    with open(yaml_file, encoding="utf-8") as fin:
        text = resolve_references(fin).getvalue()
    data = ruamel.yaml.YAML(typ="rt").load(text) or {}
    return {k: data[k] for k in keys if k in data}


def _dump_nodes(nodes: Mapping[str, Any]) -> str:
    """YAML text of top-level ``key: node`` entries (shared anchors kept)."""
    import io

    import ruamel.yaml

    out = ruamel.yaml.comments.CommentedMap()
    for key, node in nodes.items():
        out[key] = node
    yaml = ruamel.yaml.YAML(typ="rt")
    yaml.indent(mapping=4, sequence=4, offset=0)
    buf = io.StringIO()
    yaml.dump(out, buf)
    return buf.getvalue().rstrip("\n")


def inference_modules(
    encoder: torch.nn.Module,
    classifier: torch.nn.Module,
    compute_features: torch.nn.Module,
    mean_var_norm: torch.nn.Module,
    multi_label: bool = False,
    sample_rate: int = 16000,
    eval_window_seconds: Optional[float] = None,
    eval_hop_seconds: Optional[float] = None,
) -> Dict[str, torch.nn.Module]:
    """The four ``EncoderClassifier`` modules an exported folder builds.

    See :mod:`ast_sb.inference.pipeline`: the waveform passes through
    ``compute_features`` / ``mean_var_norm``; ``embedding_model`` owns the
    trained front end, normaliser and encoder (exact lengths, sliding
    windows); ``classifier`` averages the head over windows.

    Arguments
    ---------
    encoder : torch.nn.Module
        Trained embedding model.
    classifier : torch.nn.Module
        Trained head.
    compute_features : torch.nn.Module
        Trained front end.
    mean_var_norm : torch.nn.Module
        Trained normaliser.
    multi_label : bool
        Sigmoid (True) or softmax window averages.
    sample_rate : int
        Input sampling rate.
    eval_window_seconds : float, optional
        Window (default: the model's grid).
    eval_hop_seconds : float, optional
        Hop (default: the window).

    Returns
    -------
    dict
        ``compute_features``, ``mean_var_norm``, ``embedding_model``,
        ``classifier``.
    """
    return {
        "compute_features": WaveformPassThrough(),
        "mean_var_norm": WaveformPassThrough(),
        "embedding_model": WaveformEncoder(
            compute_features,
            mean_var_norm,
            encoder,
            sample_rate=sample_rate,
            window_seconds=eval_window_seconds,
            hop_seconds=eval_hop_seconds,
        ),
        "classifier": WindowedClassifier(classifier, multi_label),
    }


def export_inference_folder(
    out_dir: str,
    encoder: torch.nn.Module,
    classifier: torch.nn.Module,
    label_encoder: CategoricalEncoder,
    compute_features: Union[torch.nn.Module, Mapping[str, Any], None] = None,
    mean_var_norm: Union[torch.nn.Module, Mapping[str, Any], None] = None,
    multi_label: bool = False,
    sample_rate: Optional[int] = None,
    extra_hparams: Optional[Mapping[str, Any]] = None,
    eval_window_seconds: Optional[float] = None,
    eval_hop_seconds: Optional[float] = None,
    yaml_nodes: Optional[Mapping[str, Any]] = None,
    overwrite: bool = False,
    verify: Optional[Callable[[str], Any]] = None,
) -> str:
    """Writes an inference folder loadable by ``EncoderClassifier``.

    The folder's modules are those of :func:`inference_modules`: plain
    ``EncoderClassifier.from_hparams`` then classifies each clip of a
    padded batch as ``classify_file`` does, and clips longer than the
    model's grid with the sliding windows of the recipe's test.

    The folder is written to a temporary sibling and renamed into place
    (:func:`ast_sb.export.atomic_folder.atomic_folder`): an error or interruption
    never leaves a half-written or mixed folder. Besides the SpeechBrain
    files it holds ``ast_sb_model.json`` and ``model.safetensors``
    (:mod:`ast_sb.export.safe_folder`), which describe the same modules and load
    without executing anything (only when every trained module is an
    ``ast_sb`` class of the allow-list).

    Arguments
    ---------
    out_dir : str
        Output folder (created). A non-empty folder is refused unless
        ``overwrite``; it is then replaced as a whole.
    encoder : torch.nn.Module
        Trained ``AudioSpectrogramTransformerEncoder`` (the
        ``embedding_model``) or any embedding model.
    classifier : torch.nn.Module
        Trained ``AudioSpectrogramTransformerClassifier`` or any head.
    label_encoder : CategoricalEncoder
        Encoder of the class labels (one class per classifier output).
    compute_features : torch.nn.Module or dict, optional
        The front end used in training, or ``KaldiFbank`` constructor
        arguments (default ``KaldiFbank()``).
    mean_var_norm : torch.nn.Module or dict, optional
        The normaliser used in training, or ``AudioSpectrogramNormalizer``
        constructor arguments.
    multi_label : bool
        Recorded in the YAML. Multi-label heads output logits, so
        ``classify_batch`` then returns logits (apply a sigmoid for
        probabilities) and the top class.
    sample_rate : int, optional
        Sampling rate the model expects (default: that of the features);
        ``classify_file`` resamples to it.
    extra_hparams : dict, optional
        Additional scalar entries written at the top of the YAML.
    eval_window_seconds : float, optional
        Sliding window for long clips (the recipe's); default: the grid.
    eval_hop_seconds : float, optional
        Hop between windows; default: the window.
    yaml_nodes : dict, optional
        Slot ("compute_features", "mean_var_norm", "embedding_model",
        "classifier") -> YAML node (:func:`recipe_yaml_nodes`) that builds
        a module not from ``ast_sb`` (e.g. SpeechBrain's ``Fbank`` or
        ``ECAPA_TDNN``); without one, such a module's arguments are read
        from its attributes (:func:`module_config`).
    overwrite : bool
        Replace an existing non-empty ``out_dir``.
    verify : callable, optional
        Called with the finished temporary folder before it moves into
        place (e.g. a reload check); an error it raises leaves ``out_dir``
        as it was.

    Returns
    -------
    str
        ``out_dir``.

    Example
    -------
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=100, depth=1, fstride=16, tstride=16
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["cat", "dog"])
    >>> out = str(getfixture("tmpdir") / "export")
    >>> _ = export_inference_folder(
    ...     out, enc, head, labels, {"target_length": 100}, {"mean": -6.6, "std": 5.4}
    ... )
    >>> sorted(os.listdir(out))  # doctest: +NORMALIZE_WHITESPACE
    ['ast_sb_model.json', 'classifier.ckpt', 'config.json',
     'embedding_model.ckpt', 'hyperparams.yaml', 'label_encoder.ckpt',
     'label_encoder.txt', 'model.safetensors']
    """
    compute_features = _resolve_module(compute_features, KaldiFbank)
    mean_var_norm = _resolve_module(mean_var_norm, AudioSpectrogramNormalizer)
    n_classes = len(label_encoder)
    head_classes = getattr(classifier, "n_classes", None)
    if head_classes is not None and head_classes != n_classes:
        raise ExportError(
            f"The classifier has {head_classes} outputs but the label encoder "
            f"{n_classes} classes."
        )
    trained = {
        "compute_features": ("features", compute_features),
        "mean_var_norm": ("normalizer", mean_var_norm),
        "embedding_model": ("encoder", encoder),
        "classifier": ("head", classifier),
    }
    parts = {
        "compute_features": "embedding_model.compute_features",
        "mean_var_norm": "embedding_model.mean_var_norm",
        "embedding_model": "embedding_model.encoder",
        "classifier": "classifier.head",
    }
    own_text: List[str] = []
    foreign: Dict[str, Any] = {}
    part_configs: Dict[str, Dict[str, Any]] = {}
    for slot, (key, module) in trained.items():
        node = (yaml_nodes or {}).get(slot)
        if node is not None and not _is_own(module):
            foreign[key] = node
            continue
        try:
            cfg = module_config(module)
        except ExportError as err:
            raise ExportError(
                f"Cannot export {slot} ({_class_path(module)}): {err} Export "
                "from the recipe (export_from_hparams) so that its YAML "
                "definition is copied, or pass yaml_nodes."
            ) from err
        part_configs[parts[slot]] = cfg
        own_text += ["", _yaml_object(key, _class_path(module), cfg)]
    if sample_rate is None:
        sample_rate = int(getattr(compute_features, "sample_rate", 16000))
    for key, value in (extra_hparams or {}).items():
        if not _scalar(value):
            raise ExportError(f"extra_hparams[{key!r}] must be a scalar")
    reserved = check_extra(extra_hparams or {})
    if reserved is not None:
        raise ExportError(f"extra_hparams: {reserved}")
    modules = inference_modules(
        encoder,
        classifier,
        compute_features,
        mean_var_norm,
        multi_label,
        int(sample_rate),
        eval_window_seconds,
        eval_hop_seconds,
    )
    with atomic_folder(out_dir, overwrite) as tmp_dir:
        _write_folder(
            tmp_dir,
            modules,
            part_configs,
            label_encoder,
            bool(multi_label),
            int(sample_rate),
            dict(extra_hparams or {}),
            (eval_window_seconds, eval_hop_seconds),
            own_text,
            foreign,
        )
        if verify is not None:
            verify(tmp_dir)
    return out_dir


def _write_folder(
    out_dir: str,
    modules: Mapping[str, torch.nn.Module],
    part_configs: Mapping[str, Mapping[str, Any]],
    label_encoder: CategoricalEncoder,
    multi_label: bool,
    sample_rate: int,
    extra_hparams: Mapping[str, Any],
    windows: Tuple[Optional[float], Optional[float]],
    own_text: Sequence[str],
    foreign: Mapping[str, Any],
) -> None:
    """Writes the files of :func:`export_inference_folder` to ``out_dir``."""
    eval_window_seconds, eval_hop_seconds = windows
    n_classes = len(label_encoder)
    labels = [label_encoder.ind2lab[i] for i in range(n_classes)]
    if (
        not foreign
        and describable(modules)
        and all(isinstance(x, (str, int)) for x in labels)
    ):
        write_description(
            out_dir,
            modules,
            part_configs,
            labels,
            sample_rate,
            multi_label,
            extra_hparams,
        )
    else:
        logger.warning(
            "The exported folder gets no %s: its modules or labels cannot "
            "be described without code, so it loads only through its YAML "
            "(trust_yaml=True).",
            DESCRIPTION_FILE,
        )
    for slot, filename in CKPT_FILES.items():
        torch.save(
            {
                k: v.detach().cpu()
                for k, v in modules[slot].state_dict().items()
            },
            os.path.join(out_dir, filename),
        )
    label_file = os.path.join(out_dir, "label_encoder.txt")
    label_encoder.save(label_file)
    shutil.copyfile(label_file, os.path.join(out_dir, "label_encoder.ckpt"))
    with open(os.path.join(out_dir, "config.json"), "w") as fout:
        json.dump(INTERFACE_CONFIG, fout)
        fout.write("\n")

    header = [
        "# ############################################################",
        "# Audio Spectrogram Transformer inference model (ast_sb export).",
        "# Load with:",
        "#   from speechbrain.inference.classifiers import EncoderClassifier",
        "#   clf = EncoderClassifier.from_hparams(source=<this folder>)",
        "#   (a savedir, if any, must hold no other model's files)",
        "#   out_prob, score, index, text_lab = clf.classify_file('clip.wav')",
        "# The waveform passes through compute_features / mean_var_norm;",
        "# embedding_model runs the trained front end (exact clip lengths),",
        "# normaliser and encoder on sliding windows, and classifier averages",
        "# the window probabilities (see ast_sb/inference/pipeline.py).",
        "# ############################################################",
        "",
        f"sample_rate: {int(sample_rate)}",
        f"n_classes: {n_classes}",
        f"multi_label: {_yaml_scalar(bool(multi_label))}",
        "# sliding windows for clips longer than the model's grid",
        "# (null window: the grid; null hop: the window)",
        f"eval_window_seconds: {_yaml_scalar(eval_window_seconds)}",
        f"eval_hop_seconds: {_yaml_scalar(eval_hop_seconds)}",
        "# encoder inference path (ast_sb.inference.fast): auto = the fastest path",
        "# within 1e-4 of fp32 on the machine that runs it; or fp32, onednn,",
        "# int8 (onnxruntime dynamic int8), bf16, openvino",
        "fast_path: auto",
    ]
    for key, value in extra_hparams.items():
        header.append(f"{key}: {_yaml_scalar(value)}")
    body = [
        "",
        "# the trained modules",
        *own_text,
    ]
    if foreign:
        body += ["", _dump_nodes(foreign)]
    body += [
        "",
        "compute_features: !new:ast_sb.inference.pipeline.WaveformPassThrough",
        "mean_var_norm: !new:ast_sb.inference.pipeline.WaveformPassThrough",
        "",
        "embedding_model: !new:ast_sb.inference.pipeline.WaveformEncoder",
        "    compute_features: !ref <features>",
        "    mean_var_norm: !ref <normalizer>",
        "    encoder: !ref <encoder>",
        "    sample_rate: !ref <sample_rate>",
        "    window_seconds: !ref <eval_window_seconds>",
        "    hop_seconds: !ref <eval_hop_seconds>",
        "    fast_path: !ref <fast_path>",
        "",
        "classifier: !new:ast_sb.inference.pipeline.WindowedClassifier",
        "    head: !ref <head>",
        "    multi_label: !ref <multi_label>",
        "",
        "label_encoder: !apply:ast_sb.export.folder.label_encoder_with_len",
        "    n_classes: !ref <n_classes>",
        "",
        "audio_normalizer: !new:speechbrain.dataio.preprocess.AudioNormalizer",
        "    sample_rate: !ref <sample_rate>",
        "",
        "modules:",
        "    compute_features: !ref <compute_features>",
        "    mean_var_norm: !ref <mean_var_norm>",
        "    embedding_model: !ref <embedding_model>",
        "    classifier: !ref <classifier>",
        "",
        "# Files are fetched as <source>/<key>.ckpt (source: from_hparams).",
        "pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
        "    loadables:",
        "        embedding_model: !ref <embedding_model>",
        "        classifier: !ref <classifier>",
        "        label_encoder: !ref <label_encoder>",
        "",
    ]
    with open(os.path.join(out_dir, "hyperparams.yaml"), "w") as fout:
        fout.write("\n".join(header + body))


def export_from_hparams(
    hparams: Mapping[str, Any],
    out_dir: Optional[str] = None,
    yaml_file: Optional[str] = None,
) -> str:
    """Exports the model of a recipe's loaded hparams (see
    :func:`export_inference_folder`).

    Reads ``embedding_model``, ``classifier``, ``label_encoder``,
    ``compute_features``, ``mean_var_norm`` and optionally ``multi_label``,
    ``sample_rate``, ``eval_window_seconds``, ``eval_hop_seconds`` and
    ``export_folder`` (the default ``out_dir``). Modules that are not
    ``ast_sb`` classes (SpeechBrain lobes, ...) are written as the recipe's
    YAML defines them.

    Arguments
    ---------
    hparams : dict
        Loaded recipe hyperparameters (with ``label_encoder`` set).
    out_dir : str, optional
        Output folder (default ``hparams["export_folder"]``).
    yaml_file : str, optional
        The recipe's YAML (default: ``hyperparams.yaml`` in
        ``hparams["output_folder"]``, written resolved by SpeechBrain).

    Returns
    -------
    str
        The output folder.
    """
    out_dir = out_dir or hparams["export_folder"]
    if yaml_file is None and hparams.get("output_folder"):
        yaml_file = os.path.join(hparams["output_folder"], "hyperparams.yaml")
    nodes = {}
    if yaml_file and os.path.isfile(yaml_file):
        nodes = recipe_yaml_nodes(
            yaml_file,
            [
                "compute_features",
                "mean_var_norm",
                "embedding_model",
                "classifier",
            ],
        )
    return export_inference_folder(
        out_dir,
        encoder=hparams["embedding_model"],
        classifier=hparams["classifier"],
        label_encoder=hparams["label_encoder"],
        compute_features=hparams.get("compute_features"),
        mean_var_norm=hparams.get("mean_var_norm"),
        multi_label=bool(hparams.get("multi_label", False)),
        sample_rate=hparams.get("sample_rate"),
        eval_window_seconds=hparams.get("eval_window_seconds"),
        eval_hop_seconds=hparams.get("eval_hop_seconds"),
        yaml_nodes=nodes,
        overwrite=True,  # the recipe's own export folder (re-runs replace it)
    )


def verify_loaded_weights(
    modules: Mapping[str, torch.nn.Module], folder: str
) -> None:
    """Checks that modules hold exactly the weights of an exported folder.

    Arguments
    ---------
    modules : dict
        ``{"embedding_model": ..., "classifier": ...}`` (e.g. the
        ``mods`` of a loaded ``EncoderClassifier``).
    folder : str
        Folder with ``embedding_model.ckpt`` and ``classifier.ckpt``.

    Raises
    ------
    ExportError
        Listing missing, unexpected or different tensors.
    """
    problems = []
    for key, filename in CKPT_FILES.items():
        state = torch.load(
            os.path.join(folder, filename),
            map_location="cpu",
            weights_only=True,
        )
        loaded = {
            k: v.detach().cpu() for k, v in modules[key].state_dict().items()
        }
        missing = sorted(set(loaded) - set(state))
        unexpected = sorted(set(state) - set(loaded))
        different = sorted(
            k
            for k in set(state) & set(loaded)
            if state[k].shape != loaded[k].shape
            or not torch.equal(state[k], loaded[k])
        )
        for what, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("different", different),
        ):
            if names:
                problems.append(f"{key}: {what} {names[:10]}")
    if problems:
        raise ExportError(
            f"Weights loaded from {folder} do not match the checkpoints: "
            + "; ".join(problems)
        )


def load_encoder_classifier(
    source: str,
    savedir: Optional[str] = None,
    run_opts: Optional[Dict[str, Any]] = None,
):
    """Loads an exported folder with ``EncoderClassifier`` and checks it.

    Same as ``EncoderClassifier.from_hparams(source, savedir=savedir)`` but
    raises if any weight was not loaded exactly (the Pretrainer itself only
    warns, as it loads with ``strict=False``).

    Arguments
    ---------
    source : str
        Exported folder.
    savedir : str, optional
        Where SpeechBrain links the fetched files (default: none, the folder
        is read in place). A savedir holding another model's files raises
        :class:`ast_sb.export.savedir.StaleSavedirError`.
    run_opts : dict, optional
        E.g. ``{"device": "cpu"}``.

    Returns
    -------
    speechbrain.inference.classifiers.EncoderClassifier
        The loaded, checked model (in eval mode).

    Example
    -------
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=100, depth=1, fstride=16, tstride=16
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 2)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["cat", "dog"])
    >>> tmp = getfixture("tmpdir")
    >>> out = export_inference_folder(
    ...     str(tmp / "export"), enc, head, labels, {"target_length": 100}
    ... )
    >>> clf = load_encoder_classifier(out, str(tmp / "loaded"))
    >>> out_prob, score, index, text_lab = clf.classify_batch(torch.randn(1, 16000))
    >>> out_prob.shape, text_lab[0] in ("cat", "dog")
    (torch.Size([1, 2]), True)
    """
    from speechbrain.inference.classifiers import EncoderClassifier

    from ast_sb.export.savedir import check_savedir

    check_savedir(source, savedir)
    model = EncoderClassifier.from_hparams(
        source=source, savedir=savedir, run_opts=run_opts or {"device": "cpu"}
    )
    verify_loaded_weights(model.mods, source)
    return model
