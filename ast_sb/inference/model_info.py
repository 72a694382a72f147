"""A loaded model's size, parameter counts and set-up (``ast-sb info``).

Authors
 * ast_sb developers 2026
"""

import os
from typing import Any, Dict

from ast_sb.lobes.model import count_parameters, forward_flops

__all__ = ["model_info", "inference_info"]


def inference_info(model: Any) -> Dict[str, Any]:
    """The inference path: asked, the rule's candidate, what ran, the CPU.

    Arguments
    ---------
    model : AudioSpectrogramTransformerInterface
        Loaded model.

    Returns
    -------
    dict
        ``fast_path`` (asked), ``candidate`` (run, or probed by "auto", for
        new input shapes), ``ran`` (paths chosen so far), ``cpu``
        (:func:`ast_sb.inference.cpu_features.describe_cpu`).
    """
    from ast_sb.inference.cpu_features import describe_cpu

    info: Dict[str, Any] = {"fast_path": getattr(model, "fast_path", None)}
    try:
        path = model.pipeline.inference_path
    except (
        AttributeError,
        TypeError,
    ):  # exported before ast_sb.inference.pipeline
        path = None
    if path is not None:
        described = path.describe()
        info["candidate"] = described["candidate"]
        info["ran"] = described["ran"]
    info["cpu"] = describe_cpu()
    return info


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

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from ast_sb.export.folder import export_inference_folder
    >>> from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", target_length=128, depth=1
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(192, 2)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["cat", "dog"])
    >>> out = str(getfixture("tmpdir") / "model")
    >>> _ = export_inference_folder(
    ...     out, enc, head, labels, {"target_length": 128}
    ... )
    >>> info = model_info(AudioSpectrogramTransformerInterface.from_folder(out))
    >>> info["n_classes"], info["encoder"]["size"], info["encoder"]["n_patches"]
    (2, 'tiny224', 144)
    """
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
    info["inference"] = inference_info(model)
    folder = info["folder"]
    if folder:
        info["files_mb"] = {
            f: round(os.path.getsize(os.path.join(folder, f)) / 2**20, 2)
            for f in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, f))
        }
    return info
