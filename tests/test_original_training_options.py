"""The original AST's training options through a real recipe run.

ESC-50 demo recipe (tiny AST, generated data) with waveform mixup in a
DataLoader worker and weight averaging of the last epochs, in one
subprocess run (fp16 is covered by tests/test_precision.py: float16 on the
CPU is slow).

Authors
 * ast_sb developers 2026
"""

import glob
import json
import os

import torch
import yaml
from helpers import run_recipe

from ast_sb.demo import generate_esc50_like_dataset


def test_esc50_recipe_with_original_training_options(tmp_path):
    data = str(tmp_path / "data")
    generate_esc50_like_dataset(data, clips_per_fold=2, seed=0)
    out = tmp_path / "out"
    args = ["--data_folder", data, "--output_folder", str(out)]
    options = {
        "target_length": 128,
        "train_crop_seconds": 1.3,
        "number_of_epochs": 3,
        "num_workers": 1,  # the mixup dataset runs in a worker
        "waveform_mixup": 0.6,
        "average_last_n_epochs": 2,
    }
    run_recipe("ESC50", "ast_demo.yaml", args, options)
    assert "Waveform mixup: p=0.6" in (out / "log.txt").read_text()
    results = json.loads((out / "test_results.json").read_text())
    assert results["averaged_epochs"] == [2, 3]
    # what was tested is said as such (issue 23.7): results, log, card
    assert results["eval_checkpoint"] == "average of epochs 2-3"
    assert (
        "Epoch loaded: average of epochs 2-3 - test"
        in (out / "train_log.txt").read_text()
    )
    card = (out / "inference" / "README.md").read_text()
    assert "Weights tested and exported: average of epochs 2-3." in card

    by_epoch = {}
    for folder in glob.glob(str(out / "save" / "CKPT*")):
        with open(os.path.join(folder, "CKPT.yaml"), encoding="utf-8") as f:
            by_epoch[yaml.safe_load(f)["epoch"]] = folder
    assert {2, 3} <= set(by_epoch)
    exported = torch.load(out / "inference" / "classifier.ckpt")
    states = [
        torch.load(os.path.join(by_epoch[e], "classifier.ckpt")) for e in (2, 3)
    ]
    # the exported classifier is a WindowedClassifier: its head's keys
    # carry the prefix "head."
    assert exported and all(k.startswith("head.") for k in exported)
    for key, value in exported.items():
        key = key[len("head.") :]
        mean = (states[0][key] + states[1][key]) / 2
        torch.testing.assert_close(value, mean, rtol=0, atol=1e-6)
        assert not torch.equal(states[0][key], states[1][key])
