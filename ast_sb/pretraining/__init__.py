"""Self-supervised pretraining of the Audio Spectrogram Transformer.

Masked spectrogram patch modelling after SSAST (Y. Gong, C.-I. J. Lai,
Y.-A. Chung, J. Glass, "SSAST: Self-Supervised Audio Spectrogram
Transformer", AAAI 2022): patches of the fbank are masked, the encoder sees
a mask embedding in their place, and two heads predict every masked patch,
one discriminatively (InfoNCE against the other masked patches of the same
clip) and one generatively (MSE reconstruction).

Modules: ``masking`` (random / cluster patch masks), ``losses`` (InfoNCE,
MSE), ``pretrainer`` (the lobe wrapping an
``AudioSpectrogramTransformerEncoder`` and the checkpoint format that
``ast_sb.weights.pretrained.load_pretrained`` reads), ``brain`` (the SpeechBrain
Brain), ``data`` (unlabelled audio with random crops, from manifests or
shards) and ``recipe`` (the shared steps of ``recipes/SelfSupervised``).

Authors
 * ast_sb developers 2026
"""

from ast_sb.pretraining.losses import masked_patch_infonce, masked_patch_mse
from ast_sb.pretraining.masking import cluster_mask, random_mask
from ast_sb.pretraining.pretrainer import (
    AudioSpectrogramTransformerPretrainer,
    export_pretrained_encoder,
)

__all__ = [
    "AudioSpectrogramTransformerPretrainer",
    "cluster_mask",
    "export_pretrained_encoder",
    "masked_patch_infonce",
    "masked_patch_mse",
    "random_mask",
]
