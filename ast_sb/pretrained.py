"""Loading pretrained AST / ViT weights from local files.

These formats are understood, told apart by their key names:

* ``timm``: ImageNet ViT / DeiT checkpoints (``patch_embed.proj``, ``blocks.*``,
  optional ``dist_token``). The RGB patch convolution is summed over its input
  channels and the position embedding is cut/interpolated to the audio grid.
  The classification head is not part of these checkpoints.
* ``original``: the original AST (YuanGongND/ast) checkpoints, a DataParallel
  state dict with ``module.v.*`` and ``module.mlp_head.*`` keys, e.g.
  ``audioset_10_10_0.4593.pth``; any target length.
* ``hf``: HF ``ASTForAudioClassification`` folders (``config.json`` and
  ``model.safetensors`` / ``pytorch_model.bin``) or state dicts, with both the
  transformers v4 (on-disk) and v5 (in-memory) key names.
* ``ast_sb_pretraining``: self-supervised (SSAST) checkpoints of
  ``ast_sb.pretraining`` (``encoder.*`` plus a ``patch_grid`` marker); the
  patch shape must match the encoder's, strides and grid may differ.

Every loader also takes a published source instead of a local path: a
Hugging Face model id, a release URL, a timm model name or an alias such as
``audioset-10-10-0.4593`` (:func:`ast_sb.hub.resolve_weights` downloads it
once into a cache; local paths are read as they are). Files are read with
``torch.load(weights_only=True)`` or safetensors.

Authors
 * ast_sb developers 2026
"""

import json
import logging
import math
import os
import re
import warnings
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch

from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.hub import find_published, resolve_weights
from ast_sb.model import (
    NUM_PREFIX_TOKENS,
    POSITION_GRID_METADATA,
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.position_embedding import adapt_position_embedding
from ast_sb.pretraining.pretrainer import (
    is_pretraining_state,
    pretraining_encoder_state,
    pretraining_norm_stats,
)

logger = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HF_PREFIX = "audio_spectrogram_transformer."

# HF layer names (v5 in memory, v4 on disk) -> timm block names.
_HF_LAYER_NAMES = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.o_proj": "attn.proj",
    "attention.output.dense": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "intermediate.dense": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    "output.dense": "mlp.fc2",
}
_HF_QKV_NAMES = {
    "q": ("attention.q_proj", "attention.attention.query"),
    "k": ("attention.k_proj", "attention.attention.key"),
    "v": ("attention.v_proj", "attention.attention.value"),
}
_HF_EMBEDDINGS = {
    "embeddings.cls_token": "cls_token",
    "embeddings.distillation_token": "dist_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HEAD_KEYS = {
    "norm.weight": ("mlp_head.0.weight", "classifier.layernorm.weight"),
    "norm.bias": ("mlp_head.0.bias", "classifier.layernorm.bias"),
    "linear.weight": ("mlp_head.1.weight", "classifier.dense.weight"),
    "linear.bias": ("mlp_head.1.bias", "classifier.dense.bias"),
}


RELEASED_GRIDS: Dict[int, Tuple[int, int]] = {
    12 * 101: (12, 101),  # AudioSet, 1024 frames
    12 * 50: (12, 50),  # ESC-50, 512 frames
    12 * 12: (12, 12),  # Speech Commands, 128 frames
}
"""Position grids of the released original AST checkpoints (128 mels,
fstride = tstride = 10), by number of patch positions."""


IMAGENET_CLASSES = 1000
"""Classes of the unused ImageNet heads (``v.head``, ``v.head_dist``) that
the original AST checkpoints carry from their timm DeiT backbone."""


class CheckpointError(AudioSpectrogramTransformerError, ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


SIZE_OF_WIDTH: Dict[int, str] = {
    192: "tiny224",
    384: "small224",
    768: "base384",
}
"""The DeiT size AST uses for each transformer width (768: ``base384``, the
size of every released AST checkpoint)."""


def size_of_width(embed_dim: int) -> Optional[str]:
    """The DeiT size name (:data:`ast_sb.model.MODEL_SIZES`) of a width.

    Arguments
    ---------
    embed_dim : int
        Transformer width of a checkpoint.

    Returns
    -------
    str or None
        ``tiny224``, ``small224`` or ``base384``; None for another width.

    Example
    -------
    >>> size_of_width(384), size_of_width(256)
    ('small224', None)
    """
    return SIZE_OF_WIDTH.get(int(embed_dim))


def saved_position_grid(state: StateDict) -> Optional[Tuple[int, int]]:
    """The position grid an ast_sb encoder wrote into a state dict's metadata.

    Arguments
    ---------
    state : dict
        A state dict, as saved (its ``_metadata`` is read).

    Returns
    -------
    tuple of int or None
        (f_dim, t_dim), or None when the checkpoint does not record it.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", n_mels=96, fstride=16, depth=1
    ... )
    >>> saved_position_grid(enc.state_dict())
    (6, 101)
    >>> saved_position_grid({"pos_embed": torch.zeros(1)}) is None
    True
    """
    metadata = getattr(state, "_metadata", None) or {}
    grids = {
        tuple(int(x) for x in entry[POSITION_GRID_METADATA])
        for entry in metadata.values()
        if isinstance(entry, Mapping) and POSITION_GRID_METADATA in entry
    }
    if len(grids) > 1:
        raise CheckpointError(
            f"The checkpoint records several position grids {sorted(grids)}."
        )
    return next(iter(grids), None)


def read_state_dict(path: str) -> Tuple[StateDict, Optional[dict]]:
    """Reads a state dict (and an HF config, if any) from a local path.

    Arguments
    ---------
    path : str
        A ``.pth``/``.pt``/``.bin``/``.ckpt`` file, a ``.safetensors`` file or
        an HF model folder.

    Returns
    -------
    state_dict : dict
        Name -> tensor.
    config : dict or None
        The folder's ``config.json``, when there is one.

    Example
    -------
    >>> path = getfixture("tmpdir") / "w.pt"
    >>> torch.save({"model": {"a": torch.ones(1)}}, path)
    >>> read_state_dict(str(path))
    ({'a': tensor([1.])}, None)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        path = resolve_weights(path)
    config = None
    if os.path.isdir(path):
        config_path = os.path.join(path, "config.json")
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as fin:
                config = json.load(fin)
        files = [
            os.path.join(path, f)
            for f in HF_WEIGHT_FILES
            if os.path.isfile(os.path.join(path, f))
        ]
        if not files:
            raise CheckpointError(
                f"No weights in folder {path}: expected one of "
                f"{', '.join(HF_WEIGHT_FILES)}."
            )
        path = files[0]
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"Cannot read checkpoint {path}: {error}"
        ) from error
    for wrapper in ("model", "state_dict", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise CheckpointError(
            f"Checkpoint {path} does not hold a state dict of tensors."
        )
    return state, config


def detect_format(state: StateDict) -> str:
    """Tells the checkpoint format from its key names.

    Arguments
    ---------
    state : dict
        A state dict.

    Returns
    -------
    str
        "original", "hf", "timm", "ast_sb" or "ast_sb_pretraining".

    Example
    -------
    >>> detect_format({"module.v.cls_token": torch.zeros(1)})
    'original'
    >>> detect_format({"blocks.0.attn.qkv.weight": torch.zeros(1)})
    'timm'
    """
    keys = list(state)
    if is_pretraining_state(state):
        return "ast_sb_pretraining"
    if any(k.startswith(("module.v.", "v.")) for k in keys):
        return "original"
    if any(
        k.startswith((HF_PREFIX, "embeddings.")) or ".attention." in k
        for k in keys
    ):
        return "hf"
    if any(k.startswith("blocks.") for k in keys):
        if any(k.startswith("embedding_model.") for k in keys):
            return "ast_sb"
        return "timm"
    if any(k.startswith("embedding_model.") for k in keys):
        return "ast_sb"
    raise CheckpointError(
        "Unknown checkpoint format: expected timm ViT/DeiT keys "
        "(blocks.*), original AST keys (module.v.*) or HF AST keys "
        f"(audio_spectrogram_transformer.*); first keys: {keys[:5]}"
    )


def _split_head(
    state: StateDict, names: Iterable[str]
) -> Tuple[StateDict, StateDict]:
    """Pulls the classification head out of ``state`` (ast_sb names)."""
    head = {}
    for ours, theirs in _HEAD_KEYS.items():
        for name in theirs:
            if name in state:
                head[ours] = state.pop(name)
    return state, head


def convert_original(state: StateDict) -> Tuple[StateDict, StateDict]:
    """Converts an original AST state dict into ast_sb encoder/head dicts.

    Arguments
    ---------
    state : dict
        Keys ``module.v.*`` and ``module.mlp_head.*`` (``module.`` optional).

    Returns
    -------
    encoder_state : dict
        Keys of ``AudioSpectrogramTransformerEncoder``.
    head_state : dict
        Keys of ``AudioSpectrogramTransformerClassifier`` (may be empty).

    Example
    -------
    >>> enc, head = convert_original(
    ...     {
    ...         "module.v.cls_token": torch.zeros(1, 1, 4),
    ...         "module.mlp_head.1.bias": torch.zeros(3),
    ...     }
    ... )
    >>> list(enc), list(head)
    (['cls_token'], ['linear.bias'])
    """
    state = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    state, head = _split_head(state, _HEAD_KEYS)
    encoder = {}
    for key, value in state.items():
        if not key.startswith("v."):
            raise CheckpointError(f"Unexpected key in AST checkpoint: {key}")
        key = key[2:]
        if key.startswith(("head.", "head_dist.")):
            continue  # ImageNet heads of the DeiT backbone, unused.
        encoder[key] = value
    return encoder, head


def convert_hf(state: StateDict) -> Tuple[StateDict, StateDict]:
    """Converts an HF ASTForAudioClassification state dict (v4 or v5 names).

    Arguments
    ---------
    state : dict
        HF state dict, with or without the ``audio_spectrogram_transformer.``
        prefix.

    Returns
    -------
    encoder_state : dict
        Keys of ``AudioSpectrogramTransformerEncoder``; q/k/v are fused into
        ``attn.qkv``.
    head_state : dict
        Keys of ``AudioSpectrogramTransformerClassifier`` (may be empty).

    Example
    -------
    >>> enc, head = convert_hf(
    ...     {"audio_spectrogram_transformer.layernorm.bias": torch.zeros(2)}
    ... )
    >>> list(enc)
    ['norm.bias']
    """
    state, head = _split_head(dict(state), _HEAD_KEYS)
    state = {
        (k[len(HF_PREFIX) :] if k.startswith(HF_PREFIX) else k): v
        for k, v in state.items()
    }
    encoder, qkv, unknown = {}, {}, []
    layer_re = re.compile(
        r"^(?:encoder\.layer|layers)\.(\d+)\.(.+)\.(weight|bias)$"
    )
    for key, value in state.items():
        if key in _HF_EMBEDDINGS:
            encoder[_HF_EMBEDDINGS[key]] = value
            continue
        match = layer_re.match(key)
        if match is None:
            unknown.append(key)
            continue
        layer, name, kind = match.groups()
        if name in _HF_LAYER_NAMES:
            encoder[f"blocks.{layer}.{_HF_LAYER_NAMES[name]}.{kind}"] = value
            continue
        part = next(
            (p for p, names in _HF_QKV_NAMES.items() if name in names), None
        )
        if part is None:
            unknown.append(key)
            continue
        qkv.setdefault((layer, kind), {})[part] = value
    if unknown:
        raise CheckpointError(
            f"Unexpected keys in HF AST checkpoint: {unknown}"
        )
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise CheckpointError(
                f"Layer {layer} {kind}: q/k/v incomplete, found {sorted(parts)}"
            )
        encoder[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat(
            [parts["q"], parts["k"], parts["v"]], dim=0
        )
    return encoder, head


def convert_timm(state: StateDict) -> StateDict:
    """Converts a timm ImageNet ViT/DeiT state dict for a 1-channel input.

    The patch convolution is summed over its RGB input channels; a ViT
    without a distillation token gets the cls token (and its position
    embedding) as distillation token. ImageNet heads are dropped.

    Arguments
    ---------
    state : dict
        timm ``VisionTransformer``/``VisionTransformerDistilled`` state dict.

    Returns
    -------
    dict
        Encoder state with ``pos_embed`` still on the ImageNet grid.

    Example
    -------
    >>> out = convert_timm(
    ...     {
    ...         "patch_embed.proj.weight": torch.ones(4, 3, 16, 16),
    ...         "cls_token": torch.zeros(1, 1, 4),
    ...         "pos_embed": torch.zeros(1, 1 + 4, 4),
    ...     }
    ... )
    >>> out["patch_embed.proj.weight"].shape, out["pos_embed"].shape
    (torch.Size([4, 1, 16, 16]), torch.Size([1, 6, 4]))
    """
    encoder = {
        k: v
        for k, v in state.items()
        if not k.startswith(("head.", "head_dist."))
    }
    weight = encoder.get("patch_embed.proj.weight")
    if weight is not None and weight.shape[1] != 1:
        encoder["patch_embed.proj.weight"] = weight.sum(dim=1, keepdim=True)
    if "dist_token" not in encoder and "cls_token" in encoder:
        encoder["dist_token"] = encoder["cls_token"].clone()
        pos = encoder["pos_embed"]
        encoder["pos_embed"] = torch.cat(
            [pos[:, :1], pos[:, :1], pos[:, 1:]], 1
        )
    return encoder


def _source_grid(
    n_patches: int,
    fmt: str,
    config: Optional[dict],
    encoder: AudioSpectrogramTransformerEncoder,
    source_grid: Optional[Tuple[int, int]],
    saved_grid: Optional[Tuple[int, int]] = None,
) -> Tuple[int, int]:
    """The (f, t) grid a checkpoint's position embedding was trained on.

    In order: ``source_grid`` given by the caller; the grid an ast_sb
    encoder wrote into the checkpoint's metadata; the HF ``config.json``; the
    square grid of a timm checkpoint; the released layout of an original AST
    checkpoint (:data:`RELEASED_GRIDS`); the encoder's own grid when the
    checkpoint has exactly its number of positions. Anything else is
    ambiguous (e.g. 1212 positions are 12x101 or 6x202) and raises.
    """
    if source_grid is not None:
        grid = tuple(source_grid)
    elif saved_grid is not None:
        grid = tuple(saved_grid)
    elif fmt == "hf" and config is not None:
        patch = config.get("patch_size", 16)
        grid = (
            (config.get("num_mel_bins", 128) - patch)
            // config.get("frequency_stride", 10)
            + 1,
            (config.get("max_length", 1024) - patch)
            // config.get("time_stride", 10)
            + 1,
        )
    elif fmt == "timm":
        side = math.isqrt(n_patches)
        grid = (side, side)
    elif fmt == "original" and n_patches in RELEASED_GRIDS:
        grid = RELEASED_GRIDS[n_patches]
    elif n_patches == encoder.f_dim * encoder.t_dim:
        grid = encoder.grid_size
    else:
        released = ", ".join(f"{f}x{t}" for f, t in RELEASED_GRIDS.values())
        raise CheckpointError(
            f"Cannot tell the patch grid of {n_patches} position embeddings: "
            "the checkpoint records no grid (checkpoints ast_sb saves do), "
            f"it is not a released AST layout ({released}) and the encoder's "
            f"grid {encoder.f_dim}x{encoder.t_dim} has another size; pass "
            "source_grid=(f_dim, t_dim)."
        )
    if grid[0] * grid[1] != n_patches:
        raise CheckpointError(
            f"Position embedding has {n_patches} patches, which is not the "
            f"grid {grid[0]}x{grid[1]}."
        )
    return grid


def convert_checkpoint(
    state: StateDict,
    encoder: AudioSpectrogramTransformerEncoder,
    config: Optional[dict] = None,
    source_grid: Optional[Tuple[int, int]] = None,
) -> Tuple[StateDict, StateDict, str]:
    """Converts any supported state dict into ast_sb names for ``encoder``.

    The position embedding is adapted (cut / bilinear interpolation) from the
    checkpoint's grid to the encoder's grid.

    Arguments
    ---------
    state : dict
        A timm, original-AST or HF state dict.
    encoder : AudioSpectrogramTransformerEncoder
        The target encoder (gives the target grid).
    config : dict, optional
        HF ``config.json`` content (gives the HF source grid).
    source_grid : tuple of int, optional
        (f_dim, t_dim) of the checkpoint, when it cannot be inferred.

    Returns
    -------
    encoder_state : dict
    head_state : dict
    fmt : str
        The detected format.
    """
    saved_grid = saved_position_grid(state)
    fmt = detect_format(state)
    if fmt == "original":
        enc, head = convert_original(state)
    elif fmt == "hf":
        enc, head = convert_hf(state)
    elif fmt == "timm":
        enc, head = convert_timm(state), {}
    elif fmt == "ast_sb_pretraining":
        enc, grid = pretraining_encoder_state(state)
        head = {}
        source_grid = source_grid or grid
        _check_patch_shape(enc, encoder)
    else:
        enc = {
            k[len("embedding_model.") :]: v
            for k, v in state.items()
            if k.startswith("embedding_model.")
        }
        head = {
            k[len("classifier.") :]: v
            for k, v in state.items()
            if k.startswith("classifier.")
        }
    pos = enc.get("pos_embed")
    if pos is not None:
        n_patches = pos.shape[1] - NUM_PREFIX_TOKENS
        grid = _source_grid(
            n_patches, fmt, config, encoder, source_grid, saved_grid
        )
        if grid != encoder.grid_size:
            enc["pos_embed"] = adapt_position_embedding(
                pos, grid, encoder.grid_size, NUM_PREFIX_TOKENS
            )
    return enc, head, fmt


def _check_patch_shape(
    state: StateDict, encoder: AudioSpectrogramTransformerEncoder
) -> None:
    """Raises a clear error when a checkpoint has another patch shape."""
    weight = state.get("patch_embed.proj.weight")
    if weight is None:
        return
    theirs = tuple(weight.shape[2:])
    ours = tuple(encoder.patch_embed.patch_shape)
    if theirs != ours:
        raise CheckpointError(
            f"The checkpoint was trained with {theirs[0]}x{theirs[1]} "
            f"patches but the encoder has {ours[0]}x{ours[1]} patches; "
            f"build the encoder with patch_shape=[{theirs[0]}, {theirs[1]}] "
            "(strides may differ)."
        )


def _check_and_load(
    module: torch.nn.Module, state: StateDict, what: str, path: str
) -> None:
    """Strictly loads ``state`` and raises a listing error on any mismatch."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        lines = [f"Checkpoint {path} does not fit the {what}:"]
        if missing:
            lines.append(f"  missing keys: {missing}")
        if unexpected:
            lines.append(f"  unexpected keys: {unexpected}")
        if mismatched:
            lines.append(f"  shape mismatches: {mismatched}")
        raise CheckpointError("\n".join(lines))
    module.load_state_dict(state, strict=True)


def load_pretrained(
    encoder: AudioSpectrogramTransformerEncoder,
    path: str,
    classifier: Optional[AudioSpectrogramTransformerClassifier] = None,
    source_grid: Optional[Tuple[int, int]] = None,
    revision: Optional[str] = None,
    sha256: Optional[str] = None,
) -> Dict[str, object]:
    """Loads pretrained weights into ``encoder``/``classifier``.

    A checkpoint head with another number of classes than ``classifier`` is
    skipped with a warning (the head keeps its fresh initialisation); any
    other mismatch raises a ``CheckpointError`` that lists the keys.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformerEncoder
        The encoder to fill.
    path : str
        Local checkpoint file or HF folder, or a published source (Hugging
        Face id, URL, timm name, alias; see :func:`ast_sb.hub.resolve_weights`).
    classifier : AudioSpectrogramTransformerClassifier, optional
        The head to fill, if the checkpoint has one.
    source_grid : tuple of int, optional
        (f_dim, t_dim) of the checkpoint's position embedding, when it cannot
        be inferred.
    revision : str, optional
        Hugging Face branch, tag or commit of a hub id.
    sha256 : str, optional
        Expected SHA-256 of a downloaded file.

    Returns
    -------
    dict
        ``format``, ``head_loaded`` (bool) and ``source`` (``path`` as
        given); for an exported pretrained (SSAST) encoder also
        ``norm_stats`` (``{"mean", "std"}`` it was pretrained with) when
        the file stores them.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> path = str(getfixture("tmpdir") / "enc.pt")
    >>> torch.save(export_original(enc), path)
    >>> load_pretrained(enc, path)["format"]
    'original'
    """
    source = path
    path = resolve_weights(path, revision=revision, sha256=sha256)
    state, config = read_state_dict(path)
    enc_state, head_state, fmt = convert_checkpoint(
        state, encoder, config, source_grid
    )
    _check_and_load(encoder, enc_state, "encoder", path)
    head_loaded = False
    if classifier is not None:
        if not head_state:
            warnings.warn(
                f"{path} has no classification head; the classifier keeps "
                "its random initialisation.",
                stacklevel=2,
            )
        elif head_state["linear.weight"].shape[0] != classifier.n_classes:
            warnings.warn(
                f"{path} has a head with {head_state['linear.weight'].shape[0]}"
                f" classes but the classifier has {classifier.n_classes}; the "
                "head is re-initialised.",
                stacklevel=2,
            )
            classifier.reset_parameters()
        else:
            _check_and_load(classifier, head_state, "classifier", path)
            head_loaded = True
    logger.info("Loaded %s weights from %s (%s)", fmt, source, path)
    info: Dict[str, object] = {
        "format": fmt,
        "head_loaded": head_loaded,
        "source": source,
    }
    stats = (
        pretraining_norm_stats(state) if fmt == "ast_sb_pretraining" else None
    )
    if stats is not None:
        info["norm_stats"] = {"mean": stats[0], "std": stats[1]}
    return info


def build_from_hf(
    path: str, output: str = "logits", revision: Optional[str] = None
) -> Tuple[
    AudioSpectrogramTransformerEncoder,
    AudioSpectrogramTransformerClassifier,
    List[str],
]:
    """Builds and loads an encoder + head from an HF AST model folder.

    The architecture (width, depth, heads, strides, max_length, LayerNorm
    epsilon) comes from ``config.json``, so predictions equal the HF model's.

    Arguments
    ---------
    path : str
        HF folder with ``config.json`` and weights, or a Hugging Face model
        id (``MIT/ast-finetuned-audioset-10-10-0.4593``) or alias.
    output : str
        "logits" (multi-label, as HF returns) or "log_softmax".
    revision : str, optional
        Hugging Face branch, tag or commit of a hub id.

    Returns
    -------
    encoder : AudioSpectrogramTransformerEncoder
    classifier : AudioSpectrogramTransformerClassifier
    labels : list of str
        Class names from ``id2label`` (``"LABEL_i"`` when absent).
    """
    published = None if os.path.exists(path) else find_published(path)
    if published is not None and published.hub_id is not None:
        path = published.hub_id  # the HF copy of a release (config.json)
    path = resolve_weights(path, revision=revision)
    state, config = read_state_dict(path)
    if config is None:
        raise CheckpointError(f"{path} has no config.json: not an HF folder.")
    hidden = config.get("hidden_size", 768)
    eps = config.get("layer_norm_eps", 1e-12)
    encoder = AudioSpectrogramTransformerEncoder(
        # another width keeps the base384 name; its dimensions are explicit
        size=size_of_width(hidden) or "base384",
        n_mels=config.get("num_mel_bins", 128),
        target_length=config.get("max_length", 1024),
        fstride=config.get("frequency_stride", 10),
        tstride=config.get("time_stride", 10),
        embed_dim=hidden,
        depth=config.get("num_hidden_layers", 12),
        num_heads=config.get("num_attention_heads", 12),
        mlp_ratio=config.get("intermediate_size", 4 * hidden) / hidden,
        layer_norm_eps=eps,
    )
    _, head_state, _ = convert_checkpoint(state, encoder, config)
    n_classes = head_state["linear.weight"].shape[0] if head_state else 527
    classifier = AudioSpectrogramTransformerClassifier(
        hidden, n_classes, output=output, layer_norm_eps=eps
    )
    load_pretrained(encoder, path, classifier)
    id2label = config.get("id2label") or {}
    labels = [id2label.get(str(i), f"LABEL_{i}") for i in range(n_classes)]
    return encoder, classifier, labels


def build_from_original(
    path: str,
    size: Optional[str] = None,
    n_mels: int = 128,
    target_length: Optional[int] = None,
    fstride: Optional[int] = None,
    tstride: Optional[int] = None,
    output: str = "logits",
    revision: Optional[str] = None,
    sha256: Optional[str] = None,
) -> Tuple[
    AudioSpectrogramTransformerEncoder, AudioSpectrogramTransformerClassifier
]:
    """Builds and loads an encoder + head from an original AST checkpoint.

    Width, depth and number of classes come from the weights (the head is
    found by :func:`convert_original`); the patch geometry from the
    arguments, by default the published checkpoint's (:mod:`ast_sb.hub`) or
    AudioSet's (1024 frames, strides 10), and it must give the
    checkpoint's position-embedding grid.

    Arguments
    ---------
    path : str
        Original AST ``.pth`` (``module.v.*``, ``module.mlp_head.*``), or a
        published source (alias, release URL).
    size : str, optional
        DeiT size name; default: the size of the weights' width
        (:func:`size_of_width`).
    n_mels : int
        Mel bins of the input.
    target_length : int, optional
        Input frames (default: the published checkpoint's, else 1024).
    fstride : int, optional
        Frequency stride (default: the published checkpoint's, else 10).
    tstride : int, optional
        Time stride (default: the published checkpoint's, else 10).
    output : str
        Head output: "logits" or "log_softmax".
    revision : str, optional
        Hugging Face branch, tag or commit of a hub id.
    sha256 : str, optional
        Expected SHA-256 of a downloaded file.

    Returns
    -------
    encoder : AudioSpectrogramTransformerEncoder
    classifier : AudioSpectrogramTransformerClassifier

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=128, depth=1
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(192, 3, "logits")
    >>> path = str(getfixture("tmpdir") / "ast.pth")
    >>> torch.save(export_original(enc, head), path)
    >>> enc2, head2 = build_from_original(path, target_length=128)
    >>> enc2.constructor_args["size"], enc2.constructor_args["depth"]
    ('tiny224', 1)
    >>> head2.n_classes
    3
    """
    published = None if os.path.exists(path) else find_published(path)
    geometry = {"target_length": 1024, "fstride": 10, "tstride": 10}
    given = {"target_length": target_length, "fstride": fstride}
    given["tstride"] = tstride
    for name, default in geometry.items():
        value = given[name]
        if value is None:
            value = getattr(published, name, default)
        geometry[name] = int(value)
    local = resolve_weights(path, revision=revision, sha256=sha256)
    state, _ = read_state_dict(local)
    enc_state, head_state = convert_original(state)
    del state
    if "cls_token" not in enc_state or "pos_embed" not in enc_state:
        raise CheckpointError(
            f"{local} is not an original AST checkpoint (no v.cls_token)."
        )
    if "linear.weight" not in head_state:
        raise CheckpointError(
            f"{local} has no classification head (mlp_head.*)."
        )
    embed_dim = int(enc_state["cls_token"].shape[-1])
    depth = 1 + max(
        int(k.split(".")[1]) for k in enc_state if k.startswith("blocks.")
    )
    if size is None:
        size = size_of_width(embed_dim)
        if size is None:
            raise CheckpointError(
                f"Unknown AST width {embed_dim} in {local}; pass --size."
            )
    encoder = AudioSpectrogramTransformerEncoder(
        size=size, n_mels=n_mels, embed_dim=embed_dim, depth=depth, **geometry
    )
    n_patches = enc_state["pos_embed"].shape[1] - NUM_PREFIX_TOKENS
    f_dim, t_dim = encoder.grid_size
    if n_patches != f_dim * t_dim:
        raise CheckpointError(
            f"The checkpoint has {n_patches} patch positions but "
            f"--n-mels {n_mels} --target-length {geometry['target_length']} "
            f"--fstride {geometry['fstride']} --tstride {geometry['tstride']}"
            f" give {f_dim}x{t_dim} = {f_dim * t_dim}; pass the geometry the "
            "model was trained with (e.g. --target-length 512 for ESC-50 AST)."
        )
    classifier = AudioSpectrogramTransformerClassifier(
        embed_dim, int(head_state["linear.weight"].shape[0]), output=output
    )
    load_pretrained(encoder, local, classifier)
    return encoder, classifier


def export_original(
    encoder: AudioSpectrogramTransformerEncoder,
    classifier: Optional[AudioSpectrogramTransformerClassifier] = None,
) -> StateDict:
    """State dict in the original AST layout (``module.v.*``, ``module.mlp_head.*``).

    The keys are those of the released checkpoints (e.g.
    ``audioset_10_10_0.4593.pth``), including the timm DeiT backbone's
    ImageNet heads ``module.v.head`` and ``module.v.head_dist``, which AST
    never uses: they are written as zeros so that the original code's strict
    ``load_state_dict`` accepts the file.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformerEncoder
        The encoder.
    classifier : AudioSpectrogramTransformerClassifier, optional
        The head.

    Returns
    -------
    dict
        A state dict loadable by the original AST code (DataParallel names).
        Its ``_metadata`` (invisible to ``load_state_dict``) records the
        position grid, so :func:`load_pretrained` reads any geometry back.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> sorted(export_original(enc))[0]
    'module.v.blocks.0.attn.proj.bias'
    >>> saved_position_grid(export_original(enc))
    (12, 101)
    """
    encoder_state = encoder.state_dict()
    state = OrderedDict((f"module.v.{k}", v) for k, v in encoder_state.items())
    state._metadata = OrderedDict(
        ("module.v" + (f".{k}" if k else ""), v)
        for k, v in encoder_state._metadata.items()
    )
    for head in ("head", "head_dist"):
        state[f"module.v.{head}.weight"] = torch.zeros(
            IMAGENET_CLASSES, encoder.embed_dim
        )
        state[f"module.v.{head}.bias"] = torch.zeros(IMAGENET_CLASSES)
    if classifier is not None:
        for ours, (original, _) in _HEAD_KEYS.items():
            state[f"module.{original}"] = classifier.state_dict()[ours]
    return state


def export_hf(
    encoder: AudioSpectrogramTransformerEncoder,
    classifier: Optional[AudioSpectrogramTransformerClassifier] = None,
) -> StateDict:
    """State dict with HF transformers v4 (on-disk) AST key names.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformerEncoder
        The encoder.
    classifier : AudioSpectrogramTransformerClassifier, optional
        The head.

    Returns
    -------
    dict
        A state dict that ``ASTForAudioClassification`` loads.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> state = export_hf(enc)
    >>> state["audio_spectrogram_transformer.encoder.layer.0.attention.attention.query.weight"].shape
    torch.Size([192, 192])
    """
    inverse_embeddings = {v: k for k, v in _HF_EMBEDDINGS.items()}
    v4_layer = {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
    }
    state = {}
    block_re = re.compile(r"^blocks\.(\d+)\.(.+)\.(weight|bias)$")
    for key, value in encoder.state_dict().items():
        if key in inverse_embeddings:
            state[HF_PREFIX + inverse_embeddings[key]] = value
            continue
        layer, name, kind = block_re.match(key).groups()
        prefix = f"{HF_PREFIX}encoder.layer.{layer}."
        if name == "attn.qkv":
            for part, chunk in zip("qkv", value.chunk(3, dim=0)):
                state[prefix + _HF_QKV_NAMES[part][1] + "." + kind] = chunk
        else:
            state[prefix + v4_layer[name] + "." + kind] = value
    if classifier is not None:
        for ours, (_, hf_name) in _HEAD_KEYS.items():
            state[hf_name] = classifier.state_dict()[ours]
    return state


def hf_feature_extractor_config(
    n_mels: int,
    max_length: int,
    mean: float,
    std: float,
    sample_rate: int = 16000,
) -> Dict[str, object]:
    """``preprocessor_config.json`` of an HF ``ASTFeatureExtractor``.

    Arguments
    ---------
    n_mels : int
        Mel bins (``num_mel_bins``).
    max_length : int
        Frames the fbank is padded / cut to (``max_length``).
    mean : float
        Normalisation mean of the model.
    std : float
        Normalisation standard deviation of the model.
    sample_rate : int
        Sampling rate (``sampling_rate``).

    Returns
    -------
    dict
        The JSON content.

    Example
    -------
    >>> cfg = hf_feature_extractor_config(128, 512, -6.6268077, 5.358466)
    >>> cfg["feature_extractor_type"], cfg["mean"], cfg["max_length"]
    ('ASTFeatureExtractor', -6.6268077, 512)
    """
    return {
        "feature_extractor_type": "ASTFeatureExtractor",
        "feature_size": 1,
        "sampling_rate": int(sample_rate),
        "num_mel_bins": int(n_mels),
        "max_length": int(max_length),
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
        "do_normalize": True,
        "mean": float(mean),
        "std": float(std),
    }


def save_hf_folder(
    out_dir: str,
    encoder: AudioSpectrogramTransformerEncoder,
    classifier: AudioSpectrogramTransformerClassifier,
    labels: Optional[List[str]] = None,
    normalizer: Optional[torch.nn.Module] = None,
    sample_rate: int = 16000,
) -> str:
    """Writes an HF ``ASTForAudioClassification`` folder: ``config.json``,
    ``model.safetensors`` and ``preprocessor_config.json`` (the
    ``ASTFeatureExtractor`` with the model's normalisation statistics), so
    ``transformers.pipeline("audio-classification", out_dir)`` loads it and
    ``ast-sb convert`` reads the statistics back.

    Arguments
    ---------
    out_dir : str
        Folder to write into.
    encoder : AudioSpectrogramTransformerEncoder
        The encoder.
    classifier : AudioSpectrogramTransformerClassifier
        The head ("log_softmax": single-label, "logits": multi-label, which
        the pipeline scores with a sigmoid). A "cosine" head has no HF
        equivalent and raises.
    labels : list of str, optional
        Class names for ``id2label``.
    normalizer : AudioSpectrogramNormalizer, optional
        The model's normalisation (``mean``/``std``); default: the AudioSet
        statistics (a warning says so).
    sample_rate : int
        Sampling rate of the model's input.

    Returns
    -------
    str
        ``out_dir``.

    Example
    -------
    >>> from ast_sb.features import AudioSpectrogramNormalizer
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> head = AudioSpectrogramTransformerClassifier(192, 3)
    >>> norm = AudioSpectrogramNormalizer.from_dataset("esc50")
    >>> out = save_hf_folder(
    ...     str(getfixture("tmpdir") / "hf"), enc, head, normalizer=norm
    ... )
    >>> build_from_hf(out)[0].constructor_args["depth"]
    1
    >>> sorted(os.listdir(out))
    ['config.json', 'model.safetensors', 'preprocessor_config.json']
    """
    from safetensors.torch import save_file

    from ast_sb.features import DATASET_STATS

    if getattr(classifier, "output", None) == "cosine":
        raise ValueError(
            "A cosine-score head has no Hugging Face AST equivalent; train "
            "with output='log_softmax' or 'logits' to export to HF."
        )
    if normalizer is None:
        mean, std = DATASET_STATS["audioset"]
        warnings.warn(
            "save_hf_folder: no normalizer given; preprocessor_config.json "
            "gets the AudioSet statistics.",
            stacklevel=2,
        )
    else:
        mean, std = float(normalizer.mean), float(normalizer.std)
    cfg = encoder.constructor_args
    n_classes = classifier.n_classes
    labels = labels or [f"LABEL_{i}" for i in range(n_classes)]
    if len(labels) != n_classes:
        raise ValueError(
            f"{len(labels)} labels given for a head with {n_classes} classes."
        )
    config = {
        "architectures": ["ASTForAudioClassification"],
        "model_type": "audio-spectrogram-transformer",
        "hidden_size": cfg["embed_dim"],
        "num_hidden_layers": cfg["depth"],
        "num_attention_heads": cfg["num_heads"],
        "intermediate_size": int(cfg["embed_dim"] * cfg["mlp_ratio"]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "layer_norm_eps": cfg["layer_norm_eps"],
        "patch_size": 16,
        "qkv_bias": True,
        "frequency_stride": cfg["fstride"],
        "time_stride": cfg["tstride"],
        "max_length": cfg["target_length"],
        "num_mel_bins": cfg["n_mels"],
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
        "problem_type": (
            "multi_label_classification"
            if classifier.output == "logits"
            else "single_label_classification"
        ),
    }
    preprocessor = hf_feature_extractor_config(
        cfg["n_mels"], cfg["target_length"], mean, std, sample_rate
    )
    os.makedirs(out_dir, exist_ok=True)
    for name, content in (
        ("config.json", config),
        ("preprocessor_config.json", preprocessor),
    ):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as fout:
            json.dump(content, fout, indent=2)
    state = {
        k: v.contiguous() for k, v in export_hf(encoder, classifier).items()
    }
    save_file(state, os.path.join(out_dir, "model.safetensors"))
    return out_dir
