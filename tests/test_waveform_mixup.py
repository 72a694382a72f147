"""Waveform mixup with whole-data-set partners (the original AST's mixup).

Authors
 * ast_sb developers 2026
"""

import math
import os
import sys

import pytest
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch

from ast_sb.lobes.augment import Mixup
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.training.brain import AudioSpectrogramTransformerBrain
from ast_sb.training.recipe import with_waveform_mixup
from ast_sb.training.waveform_mixup import WaveformMixupDataset, mix_waveforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402
from helpers import make_brain  # noqa: E402


def _signals():
    t = torch.arange(16000) / 16000
    tone = 0.5 * torch.sin(2 * math.pi * 440 * t)
    noise = 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(0))
    chirp = 0.3 * torch.sin(2 * math.pi * (200 + 3000 * t) * t)
    return tone, noise, chirp


def test_waveform_mixing_is_not_feature_mixing():
    """Why both exist: log-mel features of a waveform mixture differ from
    the mixture of the log-mel features (documented numbers)."""
    fbank, norm = KaldiFbank(), AudioSpectrogramNormalizer()

    def features(wav):
        return norm(fbank(wav[None]))

    tone, noise, chirp = _signals()
    for partner, expected in ((noise, 0.97), (chirp, 1.16)):
        wave_mix = features(mix_waveforms(tone, partner, 0.5))
        feat_mix = Mixup.mix(
            torch.cat([features(tone), features(partner - partner.mean())]),
            torch.tensor([0.5, 0.5]),
            torch.tensor([1, 0]),
        )[:1]
        diff = float((wave_mix - feat_mix).abs().max())
        assert diff == pytest.approx(expected, abs=0.01)


def test_partner_mixing_follows_the_original():
    base = [
        {"sig": torch.randn(800), "label_encoded": torch.tensor([i % 3])}
        for i in range(10)
    ]
    data = WaveformMixupDataset(base, mixup_prob=0.5, alpha=10.0, seed=7)
    data.set_epoch(2)
    n_mixed = 0
    for index in range(len(data)):
        item = data[index]
        mixed, partner, lam = data.draw(index)
        n_mixed += mixed
        if not mixed:
            assert lam == 1.0 and torch.equal(item["sig"], base[index]["sig"])
            continue
        assert 0.0 < lam < 1.0
        other = base[partner]["sig"]
        expected = lam * base[index]["sig"] + (1 - lam) * (other - other.mean())
        assert torch.allclose(item["sig"], expected)
        assert float(item["mixup_lam"]) == pytest.approx(lam)
        assert torch.equal(item["mixup_label"], base[partner]["label_encoded"])
    assert 0 < n_mixed < len(data)
    # a shorter partner is zero-padded, a longer one cut
    assert mix_waveforms(
        torch.ones(3), torch.tensor([2.0, 0.0]), 0.5
    ).tolist() == [1.0, 0.0, 0.5]
    assert mix_waveforms(
        torch.ones(1), torch.tensor([2.0, 0.0]), 0.5
    ).tolist() == [1.0]


def test_draws_depend_only_on_seed_epoch_index():
    base = [{"sig": torch.zeros(4), "label_encoded": torch.tensor([0])}] * 50
    a = WaveformMixupDataset(base, mixup_prob=0.5, seed=1)
    b = WaveformMixupDataset(base, mixup_prob=0.5, seed=1)
    a.set_epoch(3)
    b.set_epoch(3)
    forward = [a.draw(i) for i in range(50)]
    backward = [b.draw(i) for i in reversed(range(50))][::-1]
    assert forward == backward
    b.set_epoch(4)
    assert [b.draw(i) for i in range(50)] != forward
    c = WaveformMixupDataset(base, mixup_prob=0.5, seed=2)
    c.set_epoch(3)
    assert [c.draw(i) for i in range(50)] != forward


@pytest.mark.parametrize("multi_label", [False, True])
def test_brain_turns_partner_labels_into_soft_targets(multi_label):
    brain = AudioSpectrogramTransformerBrain(
        modules=ddp_worker.make_modules(multi_label=multi_label),
        hparams={"multi_label": multi_label},
        run_opts={"device": "cpu"},
    )
    if multi_label:
        own = [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])]
        partner = [torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0])]
    else:
        own = [torch.tensor([0]), torch.tensor([1])]
        partner = [torch.tensor([2]), torch.tensor([1])]
    batch = PaddedBatch(
        [
            {
                "id": f"u{i}",
                "label_encoded": own[i],
                "mixup_lam": torch.tensor([lam]),
                "mixup_label": partner[i],
            }
            for i, lam in enumerate((0.25, 0.6))
        ]
    )
    scores = torch.randn(2, 1, 3)
    loss = brain.compute_objectives((scores, None, None), batch, sb.Stage.TRAIN)
    dense = torch.tensor(
        [[0.25, 0.0, 0.75], [0.4, 0.6, 0.6]]
        if multi_label
        else [[0.25, 0.0, 0.75], [0.0, 1.0, 0.0]]
    )
    if multi_label:
        expected = torch.nn.functional.binary_cross_entropy_with_logits(
            scores[:, 0], dense
        )
    else:
        log_probs = torch.log_softmax(scores[:, 0], dim=-1)
        expected = -(dense * log_probs).sum(-1).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def _brain(ckpt_dir, epochs):
    torch.set_num_threads(1)
    return make_brain(ckpt_dir, epochs, mixup=None)


class EpochRecorder(WaveformMixupDataset):
    """Records the epochs it was set to."""

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.__dict__.setdefault("epochs", []).append(epoch)


def test_recipe_wrapping_trains_and_resumes_exactly(tmp_path):
    data = ddp_worker.make_dataset(32, seed=1, prefix="tr")
    valid = ddp_worker.make_dataset(16, seed=2, prefix="va")
    hparams = {"waveform_mixup": 0.6, "seed": 5}

    def train(folder, epochs):
        opts = {"train": {"batch_size": 8, "shuffle": True}}
        wrapped = with_waveform_mixup(hparams, {"train": data}, opts)["train"]
        recorder = EpochRecorder(wrapped.base, 0.6, seed=5)
        brain, counter = _brain(folder, epochs)
        brain.fit(
            counter,
            recorder,
            valid,
            train_loader_kwargs=opts["train"],
            valid_loader_kwargs={"batch_size": 8},
        )
        return brain, recorder

    reference, recorder = train(tmp_path / "ref", 3)
    assert recorder.epochs == [1, 2, 3]
    assert reference.valid_stats["accuracy"] > 0.5  # chance: 0.25
    train(tmp_path / "run", 2)
    resumed, recorder = train(tmp_path / "run", 3)
    assert recorder.epochs == [3]
    ref_state = reference.modules.state_dict()
    for key, value in resumed.modules.state_dict().items():
        assert torch.equal(value, ref_state[key]), key
