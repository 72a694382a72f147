"""Writing an encoder's weights in the original AST and HF layouts.

The inverse of the conversions of :mod:`ast_sb.weights.formats`: a state
dict in the original AST layout, an HF ``ASTForAudioClassification`` state
dict, its feature-extractor config and a whole HF folder
(:mod:`ast_sb.weights.pretrained` re-exports these names).

Authors
 * ast_sb developers 2026
"""

import json
import os
import re
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional

import torch

from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.weights.formats import (
    _HEAD_KEYS,
    _HF_EMBEDDINGS,
    _HF_QKV_NAMES,
    HF_PREFIX,
    HF_WEIGHT_FILES as HF_WEIGHT_FILES,
    IMAGENET_CLASSES,
    RELEASED_GRIDS as RELEASED_GRIDS,
    SIZE_OF_WIDTH as SIZE_OF_WIDTH,
    StateDict,
    convert_hf as convert_hf,
    convert_timm as convert_timm,
    detect_format as detect_format,
    saved_position_grid as saved_position_grid,
)

__all__ = [
    "export_hf",
    "export_original",
    "hf_feature_extractor_config",
    "save_hf_folder",
]


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
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> head = AudioSpectrogramTransformerClassifier(192, 3)
    >>> norm = AudioSpectrogramNormalizer.from_dataset("esc50")
    >>> out = save_hf_folder(
    ...     str(getfixture("tmpdir") / "hf"), enc, head, normalizer=norm
    ... )
    >>> from ast_sb.weights.pretrained import build_from_hf
    >>> build_from_hf(out)[0].constructor_args["depth"]
    1
    >>> sorted(os.listdir(out))
    ['config.json', 'model.safetensors', 'preprocessor_config.json']
    """
    from safetensors.torch import save_file

    from ast_sb.lobes.features import DATASET_STATS

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
