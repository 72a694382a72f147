"""fp16 training: float16 autocast with a GradScaler, also on the CPU.

Authors
 * ast_sb developers 2026
"""

import os
import sys

import torch

from ast_sb.training.brain import AudioSpectrogramTransformerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402
from helpers import make_brain  # noqa: E402

LOADER_KW = {
    "train_loader_kwargs": {"batch_size": 8, "shuffle": True},
    "valid_loader_kwargs": {"batch_size": 8},
}


class RecordingBrain(AudioSpectrogramTransformerBrain):
    """Records the dtype of the classifier outputs in training."""

    dtypes = ()

    def compute_forward(self, batch, stage):
        out = super().compute_forward(batch, stage)
        self.dtypes = (*self.dtypes, (stage.name, out[0].dtype))
        return out


def _brain(ckpt_dir, epochs, run_opts=None, **hparams):
    torch.set_num_threads(1)
    return make_brain(
        ckpt_dir,
        epochs,
        brain_class=RecordingBrain,
        run_opts=run_opts,
        **hparams,
    )


def test_fp16_trains_with_a_grad_scaler_and_resumes_exactly(tmp_path):
    train = ddp_worker.make_dataset(32, seed=1, prefix="tr")
    valid = ddp_worker.make_dataset(16, seed=2, prefix="va")
    # from the hparams, like a recipe YAML's "precision: fp16"
    reference, counter = _brain(tmp_path / "ref", 3, precision="fp16")
    assert reference.scaler.is_enabled()
    reference.fit(counter, train, valid, **LOADER_KW)
    assert ("TRAIN", torch.float16) in reference.dtypes
    assert ("VALID", torch.float32) in reference.dtypes  # eval: fp32
    assert reference.valid_stats["accuracy"] > 0.5  # chance 0.25
    # 3 epochs x 4 batches: 12 scaled steps, all with finite gradients
    assert reference.scaler.state_dict()["_growth_tracker"] == 12
    assert "scaler" in reference.checkpointer.recoverables

    first, counter = _brain(tmp_path / "run", 2, {"precision": "fp16"})
    first.fit(counter, train, valid, **LOADER_KW)
    resumed, counter = _brain(tmp_path / "run", 3, {"precision": "fp16"})
    resumed.fit(counter, train, valid, **LOADER_KW)
    assert resumed.scaler.state_dict() == reference.scaler.state_dict()
    for key, value in reference.modules.state_dict().items():
        assert torch.equal(value, resumed.modules.state_dict()[key]), key


def test_fp16_evaluation_precision(tmp_path):
    brain, counter = _brain(tmp_path, 1, {"eval_precision": "fp16"})
    assert not brain.scaler.is_enabled()  # training stays fp32
    data = ddp_worker.make_dataset(16, seed=1)
    brain.fit(counter, data, data, **LOADER_KW)
    assert ("TRAIN", torch.float32) in brain.dtypes
    assert ("VALID", torch.float16) in brain.dtypes
