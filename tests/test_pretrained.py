"""Loading timm, original-AST and ast_sb checkpoints; clear errors.

Every parameter of the source models is random (``randomize_parameters``),
so a tensor loaded into the wrong place changes the comparisons below.
"""

import pytest
import timm
import torch
import torch.nn.functional as F
from helpers import randomize_parameters

from ast_sb.lobes.features import AudioSpectrogramNormalizer
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.lobes.position_embedding import resize_position_grid
from ast_sb.weights.pretrained import (
    CheckpointError,
    build_from_hf,
    export_original,
    load_pretrained,
    save_hf_folder,
)


def encoder(target_length=256, depth=2, **kwargs):
    return AudioSpectrogramTransformerEncoder(
        "tiny224", target_length=target_length, depth=depth, **kwargs
    ).eval()


def timm_checkpoint(tmp_path, name, wrap=False):
    model = timm.create_model(name, pretrained=False, depth=2)
    state = randomize_parameters(model, seed=5).state_dict()
    path = tmp_path / f"{name}.pth"
    torch.save({"model": state} if wrap else state, path)
    return state, str(path)


def test_timm_deit_conv_summed_and_pos_embed_adapted(tmp_path):
    state, path = timm_checkpoint(
        tmp_path, "deit_tiny_distilled_patch16_224", wrap=True
    )
    enc = encoder(target_length=1024)  # grid 12 x 101 from 14 x 14
    report = load_pretrained(enc, path)
    assert report["format"] == "timm"
    assert torch.equal(
        enc.patch_embed.proj.weight,
        state["patch_embed.proj.weight"].sum(1, keepdim=True),
    )
    grid = state["pos_embed"][:, 2:].reshape(1, 14, 14, 192).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(14, 101), mode="bilinear")[:, :, 1:13]
    expected = grid.flatten(2).transpose(1, 2)
    assert torch.allclose(enc.pos_embed[:, 2:], expected)
    assert torch.equal(enc.pos_embed[:, :2], state["pos_embed"][:, :2])
    assert torch.equal(enc.dist_token, state["dist_token"])
    ours = enc.state_dict()
    for name, value in state.items():  # blocks and final norm: unchanged
        if name.startswith(("blocks.", "norm.")):
            assert torch.equal(ours[name], value), name
    assert torch.equal(
        ours["patch_embed.proj.bias"], state["patch_embed.proj.bias"]
    )


def test_timm_vit_without_distillation_token(tmp_path):
    state, path = timm_checkpoint(tmp_path, "vit_tiny_patch16_224")
    enc = encoder(target_length=128)  # time grid 12 < 14: centre cut
    load_pretrained(enc, path)
    assert torch.equal(enc.dist_token, state["cls_token"])
    grid = state["pos_embed"][:, 1:].reshape(1, 14, 14, 192)
    expected = grid[:, 1:13, 1:13].reshape(1, -1, 192)
    assert torch.equal(enc.pos_embed[:, 2:], expected)


def test_original_layout_round_trip_same_length(tmp_path):
    source = randomize_parameters(encoder(), seed=6)
    head = randomize_parameters(
        AudioSpectrogramTransformerClassifier(192, 5), seed=7
    )
    path = tmp_path / "audioset_like.pth"
    torch.save(export_original(source, head), path)
    assert all(k.startswith("module.") for k in torch.load(path))

    target, target_head = (
        encoder(),
        AudioSpectrogramTransformerClassifier(192, 5),
    )
    report = load_pretrained(target, str(path), target_head)
    assert report == {
        "format": "original",
        "head_loaded": True,
        "source": str(path),
    }
    for name, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name
    feats = torch.randn(2, 256, 128)
    with torch.no_grad():
        assert torch.equal(head(source(feats)), target_head(target(feats)))


def test_original_checkpoint_at_another_length_cuts_time_centre(tmp_path):
    """A 1024-frame AudioSet checkpoint into a 512-frame model (ESC-50)."""
    source = randomize_parameters(encoder(target_length=1024, depth=1))
    path = tmp_path / "as.pth"
    torch.save(export_original(source), path)
    target = encoder(target_length=512, depth=1)
    load_pretrained(target, str(path))
    grid = source.pos_embed[:, 2:].reshape(1, 12, 101, 192)
    expected = grid[:, :, 50 - 25 : 50 - 25 + 50].reshape(1, -1, 192)
    assert torch.equal(target.pos_embed[:, 2:], expected)
    # Longer than the checkpoint: bilinear interpolation along time.
    longer = encoder(target_length=2048, depth=1)
    load_pretrained(longer, str(path))
    assert longer.grid_size == (12, 204)


def test_head_with_other_classes_is_reinitialised_with_warning(tmp_path):
    source = encoder(depth=1)
    path = tmp_path / "ckpt.pth"
    torch.save(
        export_original(
            source, AudioSpectrogramTransformerClassifier(192, 527)
        ),
        path,
    )
    head = AudioSpectrogramTransformerClassifier(192, 50)
    with pytest.warns(UserWarning, match="527 classes"):
        report = load_pretrained(encoder(depth=1), str(path), head)
    assert report["head_loaded"] is False


def test_errors_name_the_file_and_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_pretrained(encoder(), str(tmp_path / "nowhere.pth"))

    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt.pth"):
        load_pretrained(encoder(), str(corrupt))

    unknown = tmp_path / "unknown.pth"
    torch.save({"foo.weight": torch.zeros(1)}, unknown)
    with pytest.raises(CheckpointError, match="Unknown checkpoint format"):
        load_pretrained(encoder(), str(unknown))

    # Deeper checkpoint than the model: unexpected keys are listed.
    deep = tmp_path / "deep.pth"
    torch.save(export_original(encoder(depth=3)), deep)
    with pytest.raises(CheckpointError, match=r"unexpected keys: \['blocks\.2"):
        load_pretrained(encoder(depth=2), str(deep))

    # Another width: shape mismatches are listed.
    wide = tmp_path / "wide.pth"
    torch.save(
        export_original(
            AudioSpectrogramTransformerEncoder(
                "small224", target_length=256, depth=2
            )
        ),
        wide,
    )
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_pretrained(encoder(), str(wide))

    # Missing tensors are listed.
    state = export_original(encoder())
    del state["module.v.norm.weight"]
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    with pytest.raises(
        CheckpointError, match=r"missing keys: \['norm.weight'\]"
    ):
        load_pretrained(encoder(), str(partial))

    empty_dir = tmp_path / "hf_empty"
    empty_dir.mkdir()
    with pytest.raises(CheckpointError, match="No weights in folder"):
        load_pretrained(encoder(), str(empty_dir))


class Payload:
    """An arbitrary Python object, refused by torch.load(weights_only=True)."""


def test_pickled_objects_are_refused(tmp_path):
    """weights_only=True: a checkpoint with arbitrary objects is not loaded."""
    path = tmp_path / "pickle.pth"
    torch.save({"obj": Payload()}, path)
    with pytest.raises(CheckpointError, match="pickle.pth"):
        load_pretrained(encoder(), str(path))


def released_checkpoint(tmp_path):
    """A 12x101 original AST checkpoint as released (plain dict, no
    metadata), and its patch position grid [1, D, 12, 101]."""
    torch.manual_seed(0)
    source = encoder(target_length=1024, depth=1)
    path = tmp_path / "audioset_like.pth"
    torch.save(dict(export_original(source)), path)
    grid = source.pos_embed[:, 2:].reshape(1, 12, 101, 192).permute(0, 3, 1, 2)
    return str(path), grid


@pytest.mark.parametrize(
    "geometry",
    [
        {"n_mels": 128, "fstride": 20, "tstride": 10},  # 6 x 101
        {"n_mels": 96, "fstride": 16, "tstride": 10},  # 6 x 101
        {"n_mels": 96, "fstride": 16, "tstride": 5},  # 6 x 202 = 1212
    ],
)
def test_released_checkpoint_keeps_its_12x101_grid(tmp_path, geometry):
    """Frequency patch counts that divide 1212 must not re-read the grid."""
    path, grid = released_checkpoint(tmp_path)
    target = encoder(target_length=1024, depth=1, **geometry)
    assert target.f_dim == 6
    load_pretrained(target, path)
    expected = resize_position_grid(grid, *target.grid_size)
    got = target.pos_embed[:, 2:].reshape(1, *target.grid_size, 192)
    assert torch.equal(got.permute(0, 3, 1, 2), expected)
    # Frequency rows are cut around the centre: rows 3..8 of 12.
    assert torch.equal(got[0, :, 0], grid[0, :, 3:9, 0].T)


def test_saved_checkpoint_records_its_grid(tmp_path):
    """A 6x202 checkpoint ast_sb writes has as many positions as 12x101."""
    torch.manual_seed(0)
    source = encoder(
        target_length=1024, depth=1, n_mels=96, fstride=16, tstride=5
    )
    assert source.grid_size == (6, 202)
    path = tmp_path / "own.pth"
    torch.save(export_original(source), path)
    target = encoder(target_length=1024, depth=1)  # 12 x 101
    load_pretrained(target, str(path))
    grid = source.pos_embed[:, 2:].reshape(1, 6, 202, 192).permute(0, 3, 1, 2)
    expected = resize_position_grid(grid, 12, 101)
    got = target.pos_embed[:, 2:].reshape(1, 12, 101, 192).permute(0, 3, 1, 2)
    assert torch.equal(got, expected)
    # The encoder's own state dict (SpeechBrain checkpoints) records it too.
    own = tmp_path / "embedding_model.ckpt"
    torch.save(source.state_dict(), own)
    again = encoder(target_length=1024, depth=1)
    load_pretrained(again, str(own))
    assert torch.equal(again.pos_embed, target.pos_embed)


def test_unknown_grid_without_metadata_raises(tmp_path):
    source = encoder(target_length=512, depth=1, fstride=20)  # 6 x 50
    path = tmp_path / "unknown_grid.pth"
    torch.save(dict(export_original(source)), path)
    with pytest.raises(CheckpointError, match=r"300 position.*source_grid"):
        load_pretrained(encoder(target_length=300, depth=1), str(path))
    # The caller can say what it is.
    target = encoder(target_length=300, depth=1)
    load_pretrained(target, str(path), source_grid=(6, 50))
    assert target.grid_size == (12, 29)


def test_paths_may_be_pathlib_objects(tmp_path):
    source = randomize_parameters(encoder(depth=1), seed=8)
    path = tmp_path / "ckpt.pth"  # a pathlib.Path, not a str
    torch.save(export_original(source), path)
    target = encoder(depth=1)
    assert load_pretrained(target, path)["format"] == "original"
    assert torch.equal(target.pos_embed, source.pos_embed)


@pytest.mark.parametrize("size", ["tiny224", "small224"])
def test_build_from_hf_records_the_size_of_its_width(tmp_path, size):
    enc = AudioSpectrogramTransformerEncoder(size, target_length=128, depth=1)
    head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 3)
    folder = save_hf_folder(
        str(tmp_path / "hf"), enc, head, normalizer=AudioSpectrogramNormalizer()
    )
    built, _, _ = build_from_hf(folder)
    assert built.constructor_args["size"] == size
    assert built.constructor_args == enc.constructor_args
