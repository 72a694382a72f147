"""Weight averaging over the last epochs (``average_last_n_epochs``).

Authors
 * ast_sb developers 2026
"""

import os
import sys

import pytest
import torch

from ast_sb.training.averaging import end_of_epoch_checkpoints

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_worker  # noqa: E402
from helpers import make_brain  # noqa: E402

LOADER_KW = {
    "train_loader_kwargs": {"batch_size": 8, "shuffle": True},
    "valid_loader_kwargs": {"batch_size": 8},
}


def _brain(ckpt_dir, epochs, **hparams):
    torch.set_num_threads(1)
    return make_brain(ckpt_dir, epochs, **hparams)


@pytest.mark.parametrize("with_valid", [True, False])
def test_average_of_the_last_epochs_is_tested(tmp_path, with_valid):
    train = ddp_worker.make_dataset(32, seed=1, prefix="tr")
    valid = ddp_worker.make_dataset(16, seed=2, prefix="va")
    brain, counter = _brain(tmp_path, 4, average_last_n_epochs=3)
    brain.fit(counter, train, valid if with_valid else None, **LOADER_KW)
    kept = end_of_epoch_checkpoints(brain.checkpointer)
    assert [c.meta["epoch"] for c in kept][-3:] == [2, 3, 4]
    expected = {}
    for name in ("embedding_model", "classifier"):
        states = [
            torch.load(c.paramfiles[name], weights_only=True) for c in kept[-3:]
        ]
        expected[name] = {k: sum(s[k] for s in states) / 3 for k in states[0]}
        # the three epochs differ: the average is none of them
        key = next(k for k in states[0] if k.endswith("weight"))
        assert not torch.allclose(expected[name][key], states[-1][key])
    brain.evaluate(valid, test_loader_kwargs={"batch_size": 8})
    assert brain.averaged_epochs == [2, 3, 4]
    for name, state in expected.items():
        got = brain.modules[name].state_dict()
        for key, value in state.items():
            torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6)
