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
``audioset-10-10-0.4593`` (:func:`ast_sb.weights.hub.resolve_weights` downloads it
once into a cache; local paths are read as they are). Files are read with
``torch.load(weights_only=True)`` or safetensors.

Authors
 * ast_sb developers 2026
"""

import logging
import os
import warnings
from typing import Dict, List, Optional, Tuple

import torch

from ast_sb.lobes.model import (
    NUM_PREFIX_TOKENS,
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.pretraining.pretrainer import pretraining_norm_stats
from ast_sb.weights.format_export import (
    export_hf as export_hf,
    export_original as export_original,
    hf_feature_extractor_config as hf_feature_extractor_config,
    save_hf_folder as save_hf_folder,
)
from ast_sb.weights.formats import (
    HF_PREFIX as HF_PREFIX,
    HF_WEIGHT_FILES as HF_WEIGHT_FILES,
    IMAGENET_CLASSES as IMAGENET_CLASSES,
    RELEASED_GRIDS as RELEASED_GRIDS,
    SIZE_OF_WIDTH as SIZE_OF_WIDTH,
    CheckpointError,
    StateDict,
    convert_checkpoint,
    convert_hf as convert_hf,
    convert_original,
    convert_timm as convert_timm,
    detect_format as detect_format,
    read_state_dict,
    saved_position_grid as saved_position_grid,
    size_of_width,
)
from ast_sb.weights.hub import find_published, resolve_weights

logger = logging.getLogger(__name__)


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
        Face id, URL, timm name, alias; see :func:`ast_sb.weights.hub.resolve_weights`).
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
    arguments, by default the published checkpoint's (:mod:`ast_sb.weights.hub`) or
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
