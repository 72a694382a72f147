"""Checkpoint formats: reading a state dict, telling its format apart and
converting its names and tensors to the encoder's.

The formats (timm ImageNet ViT / DeiT, original AST, HF, ``ast_sb``
pretraining) are described in :mod:`ast_sb.weights.pretrained`, which loads
the converted weights into an encoder (and re-exports these names).

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
import re
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch

from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    POSITION_GRID_METADATA,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.lobes.position_embedding import adapt_position_embedding
from ast_sb.pretraining.pretrainer import (
    is_pretraining_state,
    pretraining_encoder_state,
)
from ast_sb.weights.hub import cached_download_hint, resolve_weights

__all__ = [
    "HF_PREFIX",
    "HF_WEIGHT_FILES",
    "IMAGENET_CLASSES",
    "RELEASED_GRIDS",
    "SIZE_OF_WIDTH",
    "CheckpointError",
    "StateDict",
    "convert_checkpoint",
    "convert_hf",
    "convert_original",
    "convert_timm",
    "detect_format",
    "read_state_dict",
    "saved_position_grid",
    "size_of_width",
]


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
    """The DeiT size name (:data:`ast_sb.lobes.model.MODEL_SIZES`) of a width.

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
        hint = cached_download_hint(path)
        raise CheckpointError(
            f"Cannot read checkpoint {path}: {error}{hint}"
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
