"""ast_sb: the Audio Spectrogram Transformer (AST) for SpeechBrain.

Lobes (Kaldi-compatible fbank front end, AST encoder on timm blocks,
classification head), pretrained-weight loading (timm ImageNet DeiT/ViT,
original AST and HF checkpoints, from local files or, online, from hub ids,
release URLs and aliases), training and recipes.

Example
-------
>>> import torch
>>> from ast_sb import (
...     AudioSpectrogramNormalizer,
...     AudioSpectrogramTransformerClassifier,
...     AudioSpectrogramTransformerEncoder,
...     KaldiFbank,
... )
>>> fbank, norm = KaldiFbank(target_length=128), AudioSpectrogramNormalizer()
>>> encoder = AudioSpectrogramTransformerEncoder(
...     "tiny224", target_length=128, depth=1
... )
>>> head = AudioSpectrogramTransformerClassifier(encoder.embed_dim, 10)
>>> wavs = torch.randn(2, 16000)
>>> head(encoder(norm(fbank(wavs)))).shape
torch.Size([2, 1, 10])

Authors
 * ast_sb developers 2026
"""

from ast_sb._aliases import install as install_module_aliases
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    MODEL_SIZES,
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.weights.pretrained import build_from_hf, load_pretrained
from ast_sb.weights.safe_load import install_weights_only_hooks

# Old flat-layout paths (ast_sb.model, ast_sb.pipeline, ...) import the moved
# modules themselves: exported folders and users' YAML name them (see
# ast_sb/_aliases.py).
install_module_aliases()

# SpeechBrain's checkpoint recovery and Pretrainer load state dicts with
# weights_only=True once ast_sb is imported (see ast_sb/weights/safe_load.py).
install_weights_only_hooks()

__version__ = "0.1.0"

__all__ = [
    "MODEL_SIZES",
    "AudioSpectrogramNormalizer",
    "AudioSpectrogramTransformerClassifier",
    "AudioSpectrogramTransformerEncoder",
    "KaldiFbank",
    "build_from_hf",
    "load_pretrained",
]
