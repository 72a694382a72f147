"""The released original AST checkpoint layout, pinned by a fixture.

``tests/fixtures/original_ast_audioset_keys.json`` lists the key names and
shapes of ``audioset_10_10_0.4593.pth`` (YuanGongND/ast: base384, fstride =
tstride = 10, 1024 frames, 527 classes), written from the model definition
(see the fixture's ``description``). A random checkpoint with exactly those
keys must load completely, and the exporter must write exactly those keys.

Authors
 * ast_sb developers 2026
"""

import json
import math
import os

import pytest
import torch

from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
    count_parameters,
)
from ast_sb.weights.pretrained import (
    IMAGENET_CLASSES,
    convert_original,
    export_original,
    load_pretrained,
)

FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "fixtures",
    "original_ast_audioset_keys.json",
)
IMAGENET_HEADS = ("module.v.head.", "module.v.head_dist.")


@pytest.fixture(scope="module")
def released():
    with open(FIXTURE, encoding="utf-8") as fin:
        return json.load(fin)


def _audioset_model():
    encoder = AudioSpectrogramTransformerEncoder(
        "base384", n_mels=128, target_length=1024, fstride=10, tstride=10
    ).eval()
    head = AudioSpectrogramTransformerClassifier(768, 527, output="logits")
    return encoder, head


def test_fixture_is_consistent(released):
    keys = released["keys"]
    assert len(keys) == released["n_tensors"] == 159
    assert sum(math.prod(s) for s in keys.values()) == released["n_parameters"]
    assert keys["module.v.pos_embed"] == [1, 2 + 12 * 101, 768]
    assert keys["module.v.patch_embed.proj.weight"] == [768, 1, 16, 16]
    assert keys["module.mlp_head.1.weight"] == [527, 768]
    blocks = {k.split(".")[3] for k in keys if k.startswith("module.v.blocks.")}
    assert blocks == {str(i) for i in range(12)}


def test_random_released_checkpoint_loads_every_tensor(released, tmp_path):
    gen = torch.Generator().manual_seed(0)
    state = {
        key: torch.randn(shape, generator=gen)
        for key, shape in released["keys"].items()
    }
    # the converter uses every tensor but the unused ImageNet heads
    enc_state, head_state = convert_original(dict(state))
    encoder, head = _audioset_model()
    assert set(enc_state) == set(encoder.state_dict())
    assert set(head_state) == set(head.state_dict())
    n_heads = 2 * (IMAGENET_CLASSES * 768 + IMAGENET_CLASSES)
    assert (
        count_parameters(encoder) + count_parameters(head) + n_heads
        == released["n_parameters"]
    )

    path = tmp_path / released["checkpoint"]
    torch.save(state, path)
    report = load_pretrained(encoder, str(path), head)
    assert report["format"] == "original" and report["head_loaded"]
    # every tensor arrived unchanged where the exporter puts it back
    exported = export_original(encoder, head)
    for key, value in state.items():
        if key.startswith(IMAGENET_HEADS):
            continue
        assert torch.equal(exported[key], value), key


def test_exporter_writes_exactly_the_released_keys(released):
    encoder, head = _audioset_model()
    exported = export_original(encoder, head)
    shapes = {key: list(value.shape) for key, value in exported.items()}
    assert shapes == released["keys"]
    for key, value in exported.items():
        if key.startswith(IMAGENET_HEADS):
            assert not value.any(), key  # unused by AST: zeros
