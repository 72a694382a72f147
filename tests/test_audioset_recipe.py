"""End-to-end tests of the AudioSet recipe (train.py, hparams, shards).

A fake AudioSet tree in the official layout (the four CSV files with their
comment headers and quoted label lists, downloaded clips named by YouTube id,
some clips missing) is generated with four synthetic, separable classes
(listed in a non-alphabetical official order; one class has no training
clip). A tiny AST is trained through ``recipes/AudioSet/train.py`` once from
the manifests and once from WebDataset shards with balanced sampling.

Authors
 * ast_sb developers 2026
"""

import json
import os
import sys

import numpy as np
import pytest
import torch
from helpers import run_recipe
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.encoder import CategoricalEncoder

from ast_sb.dataio.audio import save_audio
from ast_sb.dataio.sharding import sharded_classification_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_DIR = os.path.join(ROOT, "recipes", "AudioSet")
sys.path.insert(0, RECIPE_DIR)
import audioset_prepare  # noqa: E402
import make_shards  # noqa: E402

RATE = 16000
# official order (index, mid, display name); not alphabetical on purpose
CLASSES = [
    ("/m/09x0r", "Speech"),
    ("/m/04rlf", "Music"),
    ("/m/0bt9lr", "Dog"),
    ("/m/03kmc9", "Siren"),
]
TONE_HZ = {"Speech": 300.0, "Music": 1200.0, "Dog": 3000.0, "Siren": 6000.0}
# label sets of the clips; "Siren" has no clip in the balanced train set
TRAIN_SETS = [["Speech"], ["Music"], ["Dog"], ["Speech", "Music"]]
EVAL_SETS = [["Speech"], ["Music"], ["Dog"], ["Siren"], ["Dog", "Music"]]


def _clip(labels, rng):
    """1 s of noise plus one tone per label (each class is a tone)."""
    t = np.arange(RATE) / RATE
    wav = 0.01 * rng.standard_normal(RATE)
    for name in labels:
        freq = TONE_HZ[name] * (1 + 0.05 * rng.uniform(-1, 1))
        wav += 0.2 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.28))
    return torch.tensor(wav, dtype=torch.float32)


def _write_split(csv_path, audio_dir, prefix, label_sets, n, n_missing, rng):
    """Writes a segments CSV; all but the last n_missing clips exist."""
    mids = {name: mid for mid, name in CLASSES}
    rows = []
    for i in range(n):
        labels = label_sets[i % len(label_sets)]
        ytid = f"{prefix}{i:03d}-x_Y"  # YouTube ids contain - and _
        start = 10 * (i % 3)
        quoted = ",".join(mids[name] for name in labels)
        rows.append(f'{ytid}, {start}.000, {start + 10}.000, "{quoted}"')
        if i < n - n_missing:
            save_audio(audio_dir / f"{ytid}.wav", _clip(labels, rng), RATE)
    header = (
        "# Segments csv created Sun Mar  5 10:54:31 2017\n"
        f"# num_ytids={n}, num_segs={n}, num_unique_labels=4, "
        "num_positive_labels=0\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n"
    )
    csv_path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def audioset_tree(tmp_path_factory):
    """AudioSet root: 4 CSVs + audio/ (2 missing train, 1 missing eval)."""
    root = tmp_path_factory.mktemp("audioset")
    rng = np.random.default_rng(0)
    lines = ["index,mid,display_name"]
    lines += [f'{i},{mid},"{name}"' for i, (mid, name) in enumerate(CLASSES)]
    (root / "class_labels_indices.csv").write_text("\n".join(lines) + "\n")
    audio = root / "audio"
    _write_split(
        root / "balanced_train_segments.csv",
        audio / "balanced_train_segments",
        "b",
        TRAIN_SETS,
        n=26,
        n_missing=2,
        rng=rng,
    )
    _write_split(
        root / "unbalanced_train_segments.csv",
        audio / "unbalanced_train_segments" / "part00",
        "u",
        [["Siren"], ["Siren", "Speech"]],
        n=4,
        n_missing=1,
        rng=rng,
    )
    _write_split(
        root / "eval_segments.csv",
        audio / "eval_segments",
        "e",
        EVAL_SETS,
        n=11,
        n_missing=1,
        rng=rng,
    )
    return root


def _train(data_folder, output_folder, *overrides):
    """Runs train.py with ast_demo.yaml on CPU in a subprocess."""
    args = [f"--data_folder={data_folder}", f"--output_folder={output_folder}"]
    run_recipe("AudioSet", "ast_demo.yaml", [*args, *overrides])


def _results(output_folder):
    with open(os.path.join(output_folder, "test_results.json")) as fin:
        return json.load(fin)


@pytest.fixture(scope="module")
def manifest_run(audioset_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("audioset_run") / "out"
    _train(audioset_tree, out, "--plots=False")
    return out


def test_manifest_run_results_and_missing_clips(manifest_run):
    out = manifest_run
    save = out / "save"
    results = _results(out)
    for key in ("mAP", "mAUC", "d_prime", "eval_checkpoint"):
        assert key in results, results
    assert results["eval_checkpoint"] == "last"
    assert 0.0 <= results["mAP"] <= 1.0
    # missing clips are skipped and listed
    missing = (save / "missing_clips.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in missing) == [
        "b024-x_Y",
        "b025-x_Y",
        "e010-x_Y",
    ]
    train = json.loads((save / "train.json").read_text())
    assert len(train) == 24 and all(e["weight"] > 0 for e in train.values())
    # trained on these separable tones: clearly above random scores, whose
    # mAP is about the positive rate (< 0.35 here) and mAUC 0.5
    test = json.loads((save / "test.json").read_text())
    n_pos = sum(len(e["labels"]) for e in test.values())
    assert n_pos / (len(test) * len(CLASSES)) < 0.35
    assert results["mAP"] > 0.55 and results["mAUC"] > 0.7, results


def test_label_encoder_keeps_official_order(manifest_run):
    encoder = CategoricalEncoder()
    encoder.load(str(manifest_run / "save" / "label_encoder.txt"))
    # all 4 classes (Siren has no training clip), in the CSV's order
    assert encoder.lab2ind == {name: i for i, (_, name) in enumerate(CLASSES)}


def test_export_scores_every_class(manifest_run, tmp_path):
    from ast_sb.export.folder import load_encoder_classifier

    model = load_encoder_classifier(
        str(manifest_run / "inference"), str(tmp_path / "pretrained")
    )
    names = [name for _, name in CLASSES]
    assert model.hparams.label_encoder.lab2ind == {
        n: i for i, n in enumerate(names)
    }
    path = tmp_path / "music.wav"
    save_audio(path, _clip(["Music"], np.random.default_rng(5)), RATE)
    logits, _, _, _ = model.classify_file(str(path))
    assert logits.shape == (1, len(CLASSES))
    assert torch.isfinite(logits).all()


def test_sharded_full_set_run(audioset_tree, tmp_path):
    # prepare the full set (balanced + unbalanced) and write shards
    prepared = tmp_path / "prepared"
    manifests = audioset_prepare.prepare_audioset(
        str(audioset_tree / "audio"),
        str(audioset_tree),
        str(prepared),
        train_set="full",
        num_workers=1,
    )
    shards = make_shards.main(
        [
            manifests["train"],
            str(tmp_path / "shards"),
            "--max_samples_per_shard",
            "8",
        ]
    )
    assert len(shards) == 4  # 24 + 3 clips
    index = json.loads((tmp_path / "shards" / "shards.json").read_text())
    train = json.loads(open(manifests["train"]).read())
    assert index["num_samples"] == 27
    assert index["weight_sum"] == pytest.approx(
        sum(e["weight"] for e in train.values())
    )
    # balanced streaming: each label is drawn in proportion to the summed
    # weights of its clips (rare "Siren" far above its 3/27 clip share)
    encoder = CategoricalEncoder()
    encoder.update_from_iterable([name for _, name in CLASSES])
    stream = sharded_classification_dataset(
        tmp_path / "shards", encoder, weighted=True, epoch_length=1000
    )
    items = list(stream)
    assert len(items) == 1000 and set(items[0]) == {
        "id",
        "sig",
        "label_encoded",
    }
    observed = torch.stack([item["label_encoded"] for item in items]).mean(0)
    total = sum(e["weight"] for e in train.values())
    for i, (_, name) in enumerate(CLASSES):
        share = sum(e["weight"] for e in train.values() if name in e["labels"])
        assert abs(observed[i].item() - share / total) < 0.06, name
    assert observed[3] > 0.25
    # train from the shards only: no train manifest any more
    os.remove(manifests["train"])
    out = tmp_path / "out"
    _train(
        audioset_tree,
        out,
        "--train_set=full",
        f"--prepare_folder={prepared}",
        "--skip_prep=True",
        f"--train_shards={tmp_path / 'shards'}",
        "--train_sampler=weighted",
        "--shard_epoch_length=16",
        "--number_of_epochs=2",
        "--mixup_prob=0.5",
        "--plots=False",
    )
    results = _results(out)
    assert {"mAP", "mAUC", "d_prime"} <= set(results)
    log = (out / "train_log.txt").read_text().splitlines()
    assert [line.split(",")[0] for line in log[:2]] == ["epoch: 1", "epoch: 2"]
    assert os.path.isfile(out / "inference" / "classifier.ckpt")


def test_label_encoder_mismatch_is_reported(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("Speech\nMusic\n")
    encoder_file = str(tmp_path / "label_encoder.txt")
    assert audioset_prepare.write_label_encoder(str(labels), encoder_file) == 2
    # same classes: kept; other classes: clear error naming the file
    assert audioset_prepare.write_label_encoder(str(labels), encoder_file) == 2
    labels.write_text("Music\nSpeech\n")
    with pytest.raises(ValueError, match="label_encoder.txt"):
        audioset_prepare.write_label_encoder(str(labels), encoder_file)
    with pytest.raises(ValueError, match="not found"):
        audioset_prepare.write_label_encoder(
            str(tmp_path / "nope.txt"), encoder_file
        )


@pytest.mark.parametrize("name", ["ast_balanced.yaml", "ast_full.yaml"])
def test_paper_hparams(name, tmp_path):
    with open(os.path.join(RECIPE_DIR, "hparams", name)) as fin:
        hp = load_hyperpyyaml(
            fin,
            {
                "data_folder": str(tmp_path),
                "output_folder": str(tmp_path / "o"),
            },
        )
    full = name == "ast_full.yaml"
    config = hp["embedding_model"].constructor_args
    assert (config["size"], config["target_length"]) == ("base384", 1024)
    assert (config["fstride"], config["tstride"]) == (10, 10)
    assert hp["classifier"].constructor_args["n_classes"] == 527
    assert hp["classifier_output"] == "logits" and hp["multi_label"] is True
    assert hp["compute_features"].target_length == 1024
    assert hp["mean_var_norm"].mean == -4.2677393
    assert hp["mean_var_norm"].std == 4.5689974
    assert (hp["spec_augment"].freq_mask, hp["spec_augment"].time_mask) == (
        48,
        192,
    )
    assert hp["mixup"].mixup_prob == 0.5
    assert hp["batch_size"] == 12
    assert hp["lr"] == (1e-5 if full else 5e-5)
    assert hp["number_of_epochs"] == (5 if full else 25)
    assert hp["train_set"] == ("full" if full else "balanced")
    assert hp["train_sampler"] == ("weighted" if full else "shuffle")
    assert hp["eval_checkpoint"] == "last" and hp["valid_fraction"] == 0.0
    assert hp["train_shards"] is None
    sched = hp["lr_scheduler"]
    assert (sched.warmup_steps, sched.decay, sched.gamma) == (1000, "step", 0.5)
    expected = (2, 1) if full else (10, 5)
    assert (sched.decay_start, sched.step_epochs) == expected
    # lr factor of each epoch (1-based) after warmup, as torch MultiStepLR
    factors = [
        sched.get_factor(n_steps=10**6, n_epochs=e - 1)
        for e in range(1, hp["number_of_epochs"] + 1)
    ]
    if full:
        assert factors == [1, 1, 0.5, 0.25, 0.125]
    else:
        assert factors[:10] == [1] * 10 and factors[10:15] == [0.5] * 5
        assert factors[-1] == 0.125
    text = open(os.path.join(RECIPE_DIR, "hparams", name)).read()
    for line in text.splitlines():
        value = line.split("#")[0].rstrip()
        assert not value.endswith((": true", ": false")), line
