"""The published AST checkpoints and their aliases.

:data:`PUBLISHED_CHECKPOINTS` lists the original AST release checkpoints
(release URL, Hugging Face copy, the geometry each was trained with) under
aliases such as ``audioset-10-10-0.4593``; :data:`IMAGENET_TIMM_NAMES` maps
``imagenet-<size>`` to the timm names of the ImageNet DeiT weights the
original AST starts from. :func:`find_published` finds the checkpoint a
source names (alias, release file name, URL or hub id). No checksum is
published for the release files, so the table stores none. Downloading
them: :func:`ast_sb.weights.hub.resolve_weights`; :mod:`ast_sb.weights.hub`
re-exports these names.

Authors
 * ast_sb developers 2026
"""

import dataclasses
import os
import urllib.parse
from typing import Dict, Optional

__all__ = [
    "IMAGENET_TIMM_NAMES",
    "PUBLISHED_CHECKPOINTS",
    "PublishedCheckpoint",
    "find_published",
]


@dataclasses.dataclass(frozen=True)
class PublishedCheckpoint:
    """A published AST checkpoint and the geometry it was trained with.

    Arguments
    ---------
    name : str
        Alias, e.g. ``audioset-10-10-0.4593``.
    description : str
        What it is (data, strides, score).
    url : str
        The original release URL (YuanGongND/ast README).
    hub_id : str, optional
        The Hugging Face copy (converted by transformers' script).
    sha256 : str, optional
        SHA-256 of the release file; None: none is published.
    fstride, tstride, target_length, n_classes : int
        Patch strides, input frames and classes of the checkpoint.
    dataset : str
        Key of its normalisation stats in ``ast_sb.lobes.features.DATASET_STATS``.
    """

    name: str
    description: str
    url: str
    hub_id: Optional[str] = None
    sha256: Optional[str] = None
    fstride: int = 10
    tstride: int = 10
    target_length: int = 1024
    n_classes: int = 527
    dataset: str = "audioset"

    @property
    def filename(self) -> str:
        """The release file name, e.g. ``audioset_10_10_0.4593.pth``."""
        return os.path.basename(urllib.parse.urlparse(self.url).path)


def _release(name, description, key, hub_suffix, stride=10, **kwargs):
    url = f"https://www.dropbox.com/s/{key}/{name.replace('-', '_')}.pth?dl=1"
    return PublishedCheckpoint(
        name=name,
        description=description,
        url=url,
        hub_id=f"MIT/ast-finetuned-{hub_suffix}",
        fstride=stride,
        tstride=stride,
        **kwargs,
    )


# The original release (YuanGongND/ast README, "Pretrained Models") and the
# Hugging Face copies made by transformers' conversion script. No SHA-256 is
# published for any of them. No ESC-50 checkpoint was released.
PUBLISHED_CHECKPOINTS: Dict[str, PublishedCheckpoint] = {
    c.name: c
    for c in (
        _release(
            "audioset-10-10-0.4593",
            "full AudioSet, stride 10, weight averaging, 0.459 mAP",
            "ca0b1v2nlxzyeb4",
            "audioset-10-10-0.4593",
        ),
        _release(
            "audioset-10-10-0.4495",
            "full AudioSet, stride 10, model 1, 0.450 mAP",
            "1tv0hovue1bxupk",
            "audioset-10-10-0.450",
        ),
        _release(
            "audioset-10-10-0.4483",
            "full AudioSet, stride 10, model 2, 0.448 mAP",
            "6u5sikl4b9wo4u5",
            "audioset-10-10-0.448",
        ),
        _release(
            "audioset-10-10-0.4475",
            "full AudioSet, stride 10, model 3, 0.448 mAP",
            "kt6i0v9fvfm1mbq",
            "audioset-10-10-0.448-v2",
        ),
        _release(
            "audioset-12-12-0.4467",
            "full AudioSet, stride 12, 0.447 mAP",
            "snfhx3tizr4nuc8",
            "audioset-12-12-0.447",
            stride=12,
        ),
        _release(
            "audioset-14-14-0.4431",
            "full AudioSet, stride 14, 0.443 mAP",
            "z18s6pemtnxm4k7",
            "audioset-14-14-0.443",
            stride=14,
        ),
        _release(
            "audioset-16-16-0.4422",
            "full AudioSet, stride 16, 0.442 mAP",
            "mdsa4t1xmcimia6",
            "audioset-16-16-0.442",
            stride=16,
        ),
        _release(
            "speechcommands-10-10-0.9812",
            "Speech Commands V2-35, stride 10, 98.12% accuracy",
            "q0tbqpwv44pquwy",
            "speech-commands-v2",
            target_length=128,
            n_classes=35,
            dataset="speechcommands",
        ),
    )
}

# ImageNet DeiT weights of the original AST, per model size (timm names).
IMAGENET_TIMM_NAMES = {
    "imagenet-tiny224": "deit_tiny_distilled_patch16_224",
    "imagenet-small224": "deit_small_distilled_patch16_224",
    "imagenet-base224": "deit_base_distilled_patch16_224",
    "imagenet-base384": "deit_base_distilled_patch16_384",
}


def _alias_key(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    return key[: -len(".pth")] if key.endswith(".pth") else key


def find_published(source: str) -> Optional[PublishedCheckpoint]:
    """The published checkpoint a source names (alias, file name, hub id).

    Arguments
    ---------
    source : str
        An alias (``audioset-10-10-0.4593``), a release file name
        (``audioset_10_10_0.4593.pth``), its URL or its Hugging Face id.

    Returns
    -------
    PublishedCheckpoint or None
        None when the source is none of the published checkpoints.

    Example
    -------
    >>> find_published("audioset_10_10_0.4593.pth").hub_id
    'MIT/ast-finetuned-audioset-10-10-0.4593'
    >>> find_published("MIT/ast-finetuned-speech-commands-v2").target_length
    128
    >>> find_published("my_model.pth") is None
    True
    """
    source = str(source).strip()
    key = _alias_key(os.path.basename(source.split("?")[0]))
    for checkpoint in PUBLISHED_CHECKPOINTS.values():
        names = (checkpoint.name, checkpoint.url, checkpoint.hub_id)
        if key == checkpoint.name or source in names:
            return checkpoint
    return None
