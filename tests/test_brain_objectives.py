"""The Brain's training loss with mixup, computed by hand.

Features and targets must be mixed with the same weight ``lam`` (the weight
of the example itself) and the same partner. These tests recompute the mixed
features, the network outputs and the loss from the ``(lam, index)`` that the
Brain drew, with explicit formulas (not ``Mixup.mix``), for single-label
(soft-target cross-entropy) and multi-label (BCE) training.

Authors
 * ast_sb developers 2026
"""

import os
import sys

import pytest
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedData
from speechbrain.dataio.dataloader import make_dataloader

from ast_sb.lobes.augment import Mixup
from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402


def _brain(multi_label: bool, mixup):
    modules = ddp_worker.make_modules(multi_label=multi_label)
    # no dropout: the forward is a deterministic function of the features
    modules["embedding_model"] = ddp_worker.MeanPoolEncoder(dropout=0.0)
    with torch.no_grad():  # large enough logits that a wrong target shows
        modules["classifier"].lin.weight.mul_(20.0)
    return AudioSpectrogramTransformerBrain(
        modules=modules,
        opt_class=lambda groups: torch.optim.SGD(groups, lr=0.1),
        hparams={
            "multi_label": multi_label,
            "mixup": mixup,
            "spec_augment": None,
        },
        run_opts={"device": "cpu", "noprogressbar": True},
    )


def _batch(multi_label: bool):
    data = ddp_worker.make_dataset(8, multi_label=multi_label, seed=7)
    return next(iter(make_dataloader(data, batch_size=8)))


def _hand_outputs(brain, batch, lam, index):
    """Outputs from features mixed by hand with weight ``lam``."""
    wavs, lengths = batch.sig
    mods = brain.modules
    feats = mods.compute_features(wavs, lengths)
    w = lam[:, None, None]
    mixed = w * feats + (1 - w) * feats[index]
    feats = mods.mean_var_norm(mixed, lengths)
    return mods.classifier(mods.embedding_model(feats)).squeeze(1)


def _forward(brain, batch):
    torch.manual_seed(11)
    with torch.no_grad():
        outputs, _, mix = brain.compute_forward(batch, sb.Stage.TRAIN)
        loss = brain.compute_objectives(
            (outputs, None, mix), batch, sb.Stage.TRAIN
        )
    return outputs.squeeze(1), mix, loss


def test_single_label_mixed_loss_by_hand():
    brain = _brain(False, Mixup(mixup_prob=1.0))
    batch = _batch(False)
    outputs, mix, loss = _forward(brain, batch)
    lam, index = mix
    assert torch.all(lam < 1) and torch.all(index != torch.arange(8))
    assert (lam - 0.5).abs().max() > 0.05  # lam and 1 - lam differ
    with torch.no_grad():
        expected_out = _hand_outputs(brain, batch, lam, index)
    assert torch.allclose(outputs, expected_out, atol=1e-6)
    labels = batch.label_encoded.data.reshape(-1)
    log_probs = torch.log_softmax(expected_out, dim=-1)
    own = log_probs[torch.arange(8), labels]
    partner = log_probs[torch.arange(8), labels[index]]
    expected = -(lam * own + (1 - lam) * partner).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    # targets mixed with 1 - lam would give another loss
    wrong = -((1 - lam) * own + lam * partner).mean()
    assert abs(float(loss) - float(wrong)) > 1e-3  # the test can tell


def test_multi_label_mixed_bce_by_hand():
    brain = _brain(True, Mixup(mixup_prob=1.0))
    batch = _batch(True)
    outputs, mix, loss = _forward(brain, batch)
    lam, index = mix
    assert torch.all(lam < 1) and (lam - 0.5).abs().max() > 0.05
    with torch.no_grad():
        expected_out = _hand_outputs(brain, batch, lam, index)
    assert torch.allclose(outputs, expected_out, atol=1e-6)
    y = batch.label_encoded.data.float()
    soft = lam[:, None] * y + (1 - lam[:, None]) * y[index]
    p = torch.sigmoid(expected_out.double())
    bce = -(soft * p.log() + (1 - soft) * (1 - p).log()).mean()
    assert float(loss) == pytest.approx(float(bce), rel=1e-5)
    flipped = (1 - lam[:, None]) * y + lam[:, None] * y[index]
    wrong = -(flipped * p.log() + (1 - flipped) * (1 - p).log()).mean()
    assert abs(float(bce) - float(wrong)) > 1e-3


@pytest.mark.parametrize("multi_label", [False, True])
def test_unmixed_loss_by_hand(multi_label):
    brain = _brain(multi_label, None)
    batch = _batch(multi_label)
    outputs, mix, loss = _forward(brain, batch)
    assert mix is None
    with torch.no_grad():
        expected_out = _hand_outputs(
            brain, batch, torch.ones(8), torch.arange(8)
        )
    assert torch.allclose(outputs, expected_out, atol=1e-6)
    if multi_label:
        y = batch.label_encoded.data.float()
        p = torch.sigmoid(expected_out.double())
        expected = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    else:
        labels = batch.label_encoded.data.reshape(-1)
        log_probs = torch.log_softmax(expected_out, dim=-1)
        expected = -log_probs[torch.arange(8), labels].mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_valid_stage_does_not_mix():
    brain = _brain(False, Mixup(mixup_prob=1.0))
    brain.on_stage_start(sb.Stage.VALID)
    batch = _batch(False)
    with torch.no_grad():
        outputs, _, mix = brain.compute_forward(batch, sb.Stage.VALID)
        # the same forward without any mixup configured (validation runs
        # its sliding windows, so the reference is the Brain's own path)
        brain.hparams.mixup = None
        unmixed, _, _ = brain.compute_forward(batch, sb.Stage.VALID)
    assert mix is None
    assert torch.equal(outputs, unmixed)


def test_multi_label_targets_as_int_rows():
    """Multi-hot labels stored as integer [1, C] rows give the same loss."""
    brain = _brain(True, Mixup(mixup_prob=1.0))
    batch = _batch(True)
    _, _, loss = _forward(brain, batch)
    labels = batch.label_encoded
    batch.label_encoded = PaddedData(
        labels.data.long().unsqueeze(1), labels.lengths
    )
    _, _, loss_int = _forward(brain, batch)
    assert float(loss_int) == float(loss)
