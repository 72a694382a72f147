"""An exported folder and the results tell what ran.

Issue 23 B: list arguments load through the safe path (5), the model card
names the real patches (6), averaged weights are reported as such (7),
the baseline is compared on equal terms (8), seeds change group splits
(9), pretraining keeps its normalisation (10) and the SpecAugment widths
follow the clip length (11).

Authors
 * ast_sb developers 2026
"""

import json
import os

import pytest
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.audio import save_audio
from ast_sb.cli import main
from ast_sb.export import export_inference_folder
from ast_sb.inference import AudioSpectrogramTransformerInterface
from ast_sb.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.safe_folder import (
    DESCRIPTION_FILE,
    MAX_LIST_LENGTH,
    UntrustedModelError,
)

LABELS = ["cat", "dog"]


def _frame_patch_folder(path, patch_shape):
    """An exported folder of an encoder with frame-based patches."""
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224",
        depth=1,
        target_length=64,
        fstride=128,
        tstride=2,
        patch_shape=patch_shape,
    )
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, len(LABELS))
    labels = CategoricalEncoder()
    labels.update_from_iterable(LABELS)
    return export_inference_folder(
        str(path), enc.eval(), head.eval(), labels, {"target_length": 64}
    )


# ---------------------------------------------------------------------------
# 5. list arguments (patch_shape) load through the safe path
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("patch_shape", [[128, 4], (128, 4)])
def test_list_argument_loads_through_the_safe_path(
    patch_shape, tmp_path, capsys
):
    folder = _frame_patch_folder(tmp_path / "m", patch_shape)
    with open(os.path.join(folder, DESCRIPTION_FILE), encoding="utf-8") as f:
        parts = json.load(f)["modules"]["embedding_model"]["parts"]
    assert parts["encoder"]["config"]["patch_shape"] == [128, 4]
    safe = AudioSpectrogramTransformerInterface.from_folder(folder)
    assert safe.mods.embedding_model.encoder.patch_embed.patch_shape == (
        128,
        4,
    )
    yaml = AudioSpectrogramTransformerInterface.from_folder(
        folder, trust_yaml=True
    )
    wav = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(
        safe.classify_batch(wav * 0.1)[0], yaml.classify_batch(wav * 0.1)[0]
    )
    clip = tmp_path / "clip.wav"
    save_audio(clip, wav[0] * 0.1, 16000)
    capsys.readouterr()
    code = main(["classify", str(clip), "--model", folder, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)["results"][0]
    assert result["status"] == "ok"
    assert result["predictions"][0]["label"] in LABELS


@pytest.mark.parametrize(
    "value, message",
    [
        ([[128, 4]], "patch_shape is a nested list"),
        (list(range(MAX_LIST_LENGTH + 1)), "patch_shape is a list of 9 items"),
        ([{"a": 1}], "patch_shape is a nested list"),
        ({"a": 1}, "patch_shape is not a scalar or a flat list"),
    ],
)
def test_long_or_nested_lists_are_refused(value, message, tmp_path):
    folder = _frame_patch_folder(tmp_path / "m", [128, 4])
    path = os.path.join(folder, DESCRIPTION_FILE)
    with open(path, encoding="utf-8") as fin:
        data = json.load(fin)
    data["modules"]["embedding_model"]["parts"]["encoder"]["config"][
        "patch_shape"
    ] = value
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout)
    with pytest.raises(UntrustedModelError, match=message) as err:
        AudioSpectrogramTransformerInterface.from_folder(folder)
    assert DESCRIPTION_FILE in str(err.value)
