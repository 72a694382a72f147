"""Tests of self-supervised (SSAST) pretraining: masks, losses, lobe, loading.

Authors
 * ast_sb developers 2026
"""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
from ast_sb.pretraining import (
    AudioSpectrogramTransformerPretrainer,
    cluster_mask,
    export_pretrained_encoder,
    masked_patch_infonce,
    masked_patch_mse,
    random_mask,
)
from ast_sb.pretraining.brain import PretrainingStats
from ast_sb.weights.pretrained import CheckpointError, load_pretrained


def _tiny_encoder(**kwargs):
    options = dict(
        size="tiny224",
        target_length=64,
        fstride=16,
        tstride=16,
        depth=2,
        embed_dim=32,
        num_heads=2,
    )
    options.update(kwargs)
    return AudioSpectrogramTransformerEncoder(**options)


# ----------------------------------------------------------------------------
# masks
@pytest.mark.parametrize("masking", ["random", "cluster"])
def test_masks_have_exact_count_and_no_duplicates(masking):
    torch.manual_seed(0)
    for grid, count in [((8, 64), 400), ((1, 512), 400), ((3, 5), 14)]:
        if masking == "random":
            mask = random_mask(6, grid[0] * grid[1], count)
        else:
            mask = cluster_mask(6, grid, count)
        assert mask.shape == (6, count)
        assert mask.dtype == torch.long
        for row in mask.tolist():
            assert len(set(row)) == count  # no duplicates
            assert row == sorted(row)
            assert 0 <= min(row) and max(row) < grid[0] * grid[1]


def test_random_masks_differ_between_clips_and_cover_the_grid():
    torch.manual_seed(0)
    mask = random_mask(200, 48, 12)
    assert len({tuple(row) for row in mask.tolist()}) > 190
    counts = torch.bincount(mask.flatten(), minlength=48).float()
    # uniform: each patch masked 200 * 12 / 48 = 50 times on average
    assert counts.min() > 25 and counts.max() < 80


def test_bad_mask_counts_raise():
    with pytest.raises(ValueError, match="Cannot mask 49 of 48"):
        random_mask(1, 48, 49)
    with pytest.raises(ValueError, match="Cannot mask 0"):
        cluster_mask(1, (6, 8), 0)


def _components(mask_row, grid):
    cells = np.zeros(grid[0] * grid[1], dtype=bool)
    cells[mask_row] = True
    labels, n = ndimage.label(cells.reshape(grid))  # 4-connectivity
    return [int((labels == i).sum()) for i in range(1, n + 1)]


def test_cluster_masks_are_blocks_of_neighbours():
    torch.manual_seed(0)
    grid, count, low = (8, 64), 100, 3
    cluster = cluster_mask(20, grid, count, cluster_sizes=(low, 5))
    rand = random_mask(20, grid[0] * grid[1], count)
    for row in cluster.tolist():
        sizes = _components(row, grid)
        # every component is a union of >= 3x3 blocks, except the trimmed
        # part of the last block
        assert sum(size < low * low for size in sizes) <= 1
    n_cluster = np.mean([len(_components(r, grid)) for r in cluster.tolist()])
    n_random = np.mean([len(_components(r, grid)) for r in rand.tolist()])
    assert n_cluster < n_random / 3


def test_cluster_masks_on_frames_are_runs():
    torch.manual_seed(0)
    mask = cluster_mask(10, (1, 100), 40, cluster_sizes=(3, 5))
    for row in mask.tolist():
        sizes = _components(row, (1, 100))
        assert sum(size < 3 for size in sizes) <= 1


# ----------------------------------------------------------------------------
# losses
def test_infonce_matches_hand_computation():
    pred = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]],
            [[0.5, 0.0], [0.0, 0.0], [1.0, -1.0]],
        ]
    )
    target = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]],
            [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]],
        ]
    )
    loss, accuracy = masked_patch_infonce(pred, target)
    total, correct = 0.0, 0
    for b in range(2):
        for i in range(3):
            dots = [
                sum(
                    pred[b, i, k].item() * target[b, j, k].item()
                    for k in range(2)
                )
                for j in range(3)
            ]
            log_denominator = math.log(sum(math.exp(d) for d in dots))
            total += log_denominator - dots[i]
            best = max(range(3), key=lambda j: dots[j])
            correct += int(best == i and dots.count(dots[i]) == 1)
    assert loss.item() == pytest.approx(total / 6, abs=1e-6)
    assert accuracy.item() == pytest.approx(correct / 6)


def test_infonce_only_compares_patches_of_the_same_clip():
    # clip 1 would be a perfect match for clip 0's predictions: no effect
    pred = torch.randn(1, 4, 8)
    target = torch.randn(1, 4, 8)
    alone, _ = masked_patch_infonce(pred, target)
    both, _ = masked_patch_infonce(
        torch.cat([pred, pred]), torch.cat([target, pred * 100])
    )
    loss_1, _ = masked_patch_infonce(pred, pred * 100)
    assert both.item() == pytest.approx(
        (alone.item() + loss_1.item()) / 2, rel=1e-5
    )


def test_mse_matches_hand_computation():
    pred = torch.tensor([[[1.0, 2.0], [0.0, -1.0]]])
    target = torch.tensor([[[0.0, 2.0], [2.0, 1.0]]])
    # (1 + 0 + 4 + 4) / 4
    assert masked_patch_mse(pred, target).item() == pytest.approx(2.25)
    with pytest.raises(ValueError, match="same shape"):
        masked_patch_mse(pred, target[:, :1])


def test_stats_average_over_clips():
    stats = PretrainingStats()
    stats.append(1, discriminative=4.0, generative=1.0, accuracy=0.0)
    stats.append(3, discriminative=0.0, generative=2.0, accuracy=1.0)
    assert stats.summarize() == {
        "discriminative": 1.0,
        "generative": 1.75,
        "accuracy": 0.75,
    }


# ----------------------------------------------------------------------------
# the lobe
def test_targets_are_the_masked_fbank_patches():
    torch.manual_seed(0)
    model = AudioSpectrogramTransformerPretrainer(_tiny_encoder(), mask_count=5)
    feats = torch.randn(2, 64, 128)
    mask = torch.tensor([[0, 3, 7, 12, 31], [1, 2, 4, 8, 16]])
    out = model(feats, mask)
    t_dim = 4  # 64 frames / 16
    for b in range(2):
        for m, index in enumerate(mask[b].tolist()):
            f_idx, t_idx = divmod(index, t_dim)
            patch = feats[
                b, t_idx * 16 : (t_idx + 1) * 16, f_idx * 16 : (f_idx + 1) * 16
            ]
            # flattened frequency-major: [F, T] order
            assert torch.equal(out["targets"][b, m], patch.T.reshape(-1))


def test_masked_patches_are_hidden_from_the_encoder():
    torch.manual_seed(0)
    model = AudioSpectrogramTransformerPretrainer(_tiny_encoder(), mask_count=5)
    model.eval()
    feats = torch.randn(1, 64, 128)
    mask = torch.tensor([[0, 3, 7, 12, 31]])
    changed = feats.clone()
    changed[0, 0:16, 0:16] += 5.0  # inside masked patch 0 (f 0, t 0)
    out_a, out_b = model(feats, mask), model(changed, mask)
    assert torch.allclose(out_a["generative"], out_b["generative"], atol=1e-6)
    assert not torch.equal(out_a["targets"], out_b["targets"])
    visible = feats.clone()
    visible[0, 16:32, 0:16] += 5.0  # patch 1: visible
    assert not torch.allclose(
        model(visible, mask)["generative"], out_a["generative"], atol=1e-4
    )


def test_frame_based_patches():
    encoder = _tiny_encoder(patch_shape=(128, 2), fstride=128, tstride=2)
    model = AudioSpectrogramTransformerPretrainer(encoder, mask_count=20)
    feats = torch.randn(2, 64, 128)
    out = model(feats)
    assert out["targets"].shape == (2, 20, 256)
    index = int(out["mask"][0, 0])
    assert torch.equal(
        out["targets"][0, 0], feats[0, 2 * index : 2 * index + 2].T.reshape(-1)
    )


def test_overlapping_strides_are_refused():
    with pytest.raises(ValueError, match="non-overlapping"):
        AudioSpectrogramTransformerPretrainer(_tiny_encoder(fstride=10), 5)
    with pytest.raises(ValueError, match="mask_count=32"):
        AudioSpectrogramTransformerPretrainer(_tiny_encoder(), 32)


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = AudioSpectrogramTransformerPretrainer(
        _tiny_encoder(), mask_count=20, masking="cluster", cluster_sizes=(2, 3)
    )
    # structured input: smooth spectro-temporal patterns
    t = torch.linspace(0, 1, 64)[:, None]
    f = torch.linspace(0, 1, 128)[None, :]
    feats = torch.stack(
        [torch.sin(2 * math.pi * (k + 1) * (t + 2 * f)) for k in range(4)]
    )
    mask = model.draw_mask(4, (8, 4), feats.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn():
        out = model(feats, mask)
        loss_d, _ = masked_patch_infonce(out["discriminative"], out["targets"])
        loss_g = masked_patch_mse(out["generative"], out["targets"])
        return loss_d, loss_g

    first_d, first_g = (x.item() for x in loss_fn())
    for _ in range(20):
        loss_d, loss_g = loss_fn()
        optimizer.zero_grad()
        (loss_d + 10 * loss_g).backward()
        optimizer.step()
    last_d, last_g = (x.item() for x in loss_fn())
    # measured: InfoNCE 3.01 -> 2.17, MSE 0.50 -> 0.40 after 20 steps
    assert last_d < 0.8 * first_d
    assert last_g < 0.9 * first_g


# ----------------------------------------------------------------------------
# loading into fine-tuning encoders
def test_pretrained_encoder_loads_with_adapted_position_embedding(tmp_path):
    torch.manual_seed(0)
    source = _tiny_encoder(target_length=128)  # grid 8 x 8
    model = AudioSpectrogramTransformerPretrainer(source, mask_count=10)
    path = export_pretrained_encoder(model, str(tmp_path / "encoder.ckpt"))
    # fine-tuning grid: overlapping strides, shorter input: 12 x 5
    target = _tiny_encoder(target_length=64, fstride=10, tstride=10)
    info = load_pretrained(target, path)
    assert info["format"] == "ast_sb_pretraining"
    assert torch.equal(
        target.blocks[1].mlp.fc2.weight, source.blocks[1].mlp.fc2.weight
    )
    assert torch.equal(
        target.patch_embed.proj.weight, source.patch_embed.proj.weight
    )
    grid = source.pos_embed[:, 2:].transpose(1, 2).reshape(1, 32, 8, 8)
    # time 8 -> 5 (centre cut from 8 // 2 - 5 // 2 = 2), frequency 8 -> 12
    # (bilinear)
    expected = torch.nn.functional.interpolate(
        grid[:, :, :, 2:7], size=(12, 5), mode="bilinear"
    )
    assert torch.allclose(
        target.pos_embed[:, 2:], expected.flatten(2).transpose(1, 2), atol=1e-6
    )
    # the SpeechBrain checkpoint of the whole lobe loads the same way
    torch.save(model.state_dict(), tmp_path / "pretrainer.ckpt")
    again = _tiny_encoder(target_length=64, fstride=10, tstride=10)
    load_pretrained(again, str(tmp_path / "pretrainer.ckpt"))
    assert torch.equal(again.pos_embed, target.pos_embed)


def test_patch_shape_mismatch_is_a_clear_error(tmp_path):
    encoder = _tiny_encoder(patch_shape=(128, 2), fstride=128, tstride=2)
    model = AudioSpectrogramTransformerPretrainer(encoder, mask_count=10)
    path = export_pretrained_encoder(model, str(tmp_path / "frames.ckpt"))
    with pytest.raises(CheckpointError, match=r"128x2 patches .* 16x16"):
        load_pretrained(_tiny_encoder(), path)
    # same patch shape, time stride 1 at fine-tuning: 1 x 32 -> 1 x 63
    target = _tiny_encoder(patch_shape=(128, 2), fstride=128, tstride=1)
    load_pretrained(target, path)
    assert target.pos_embed.shape == (1, 2 + 63, 32)


def test_recipe_shards_follow_on_corrupt(tmp_path, caplog):
    """The self-supervised recipe's shards obey ``on_corrupt``: a corrupt
    or 1-sample clip is an error naming it, or skipped with a warning
    (issue 24, 7 and 11)."""
    import io
    import tarfile

    import soundfile as sf

    from ast_sb.dataio.datasets import DatasetError
    from ast_sb.dataio.sharding import write_shards
    from ast_sb.pretraining.recipe import build_pretraining_datasets

    entries = {}
    for name, n in [("ok0", 8000), ("ok1", 8000), ("one", 1)]:
        path = str(tmp_path / f"{name}.wav")
        sf.write(path, np.full(n, 0.1, "float32"), 16000)
        entries[name] = {"wav": path}
    shards = write_shards(entries, tmp_path / "s", shuffle=False)
    corrupt = str(tmp_path / "corrupt.tar")
    with tarfile.open(corrupt, "w") as tar:
        info = tarfile.TarInfo("bad.wav")
        info.size = 7
        tar.addfile(info, io.BytesIO(b"garbage"))
    hparams = {"shards": shards + [corrupt], "crop_seconds": 0.25}
    for on_corrupt in (None, "raise"):
        data = build_pretraining_datasets(
            {**hparams, "on_corrupt": on_corrupt}, {}
        )["train"]
        with pytest.raises(Exception, match="bad|one"):
            list(data)
    data = build_pretraining_datasets({**hparams, "on_corrupt": "skip"}, {})
    with caplog.at_level("WARNING", logger="ast_sb.dataio.sharding"):
        items = list(data["train"])
    assert sorted(item["id"] for item in items) == ["ok0", "ok1"]
    assert [len(item["sig"]) for item in items] == [4000, 4000]
    assert "corrupt.tar" in caplog.text and "min_duration" in caplog.text
    with pytest.raises(DatasetError, match="Sample one of"):
        list(
            build_pretraining_datasets(
                {"shards": shards, "on_corrupt": "raise"}, {}
            )["train"]
        )
