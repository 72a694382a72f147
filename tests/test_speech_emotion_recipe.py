"""End-to-end tests of the speech emotion recipe (recipes/SpeechEmotion).

A tiny AST is trained from scratch through ``train.py`` on a generated data
set in the published RAVDESS layout (``Actor_XX/03-01-EE-II-SS-RR-AA.wav``)
whose variable-length clips carry clearly separable synthetic "emotions",
with length-bucketed dynamic batches and the encoder's padding mask. The
tests check the results file, that the exported folder loads with
SpeechBrain's ``EncoderClassifier`` and classifies, that dynamic batches
pad far less than padding to the longest clip, and the dataset switch of
``train.py`` (IEMOCAP leave-one-session-out through the same code).

Authors
 * ast_sb developers 2026
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_recipe
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataloader import make_dataloader
from speechbrain.dataio.dataset import DynamicItemDataset

from ast_sb.dataio.audio import save_audio
from ast_sb.training.recipe import build_datasets, dataloader_options

ROOT = Path(__file__).resolve().parents[1]
RECIPE_DIR = ROOT / "recipes" / "SpeechEmotion"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_emotion_prepare import _make_iemocap  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "speech_emotion_train", RECIPE_DIR / "train.py"
)
emotion_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emotion_train)

SAMPLE_RATE = 16000
#: RAVDESS emotion code -> label, the 4 emotions of the fake data set.
EMOTIONS = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry"}
TRAIN_ACTORS, VALID_ACTORS, TEST_ACTORS = [1, 2, 3, 4], [5], [6]
CLIPS_PER_EMOTION = 3
CROP_SECONDS = 1.25  # eval/train crop of ast_demo.yaml


def synthesize_emotion(
    label: str, seconds: float, rng: np.random.Generator
) -> np.ndarray:
    """A clip of a synthetic "emotion": steady mid tone (neutral), rising
    chirp (happy), low hum (sad) or loud noise bursts (angry)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    jitter = rng.uniform(0.9, 1.1)
    if label == "neutral":
        wav = 0.3 * np.sin(2 * np.pi * 400 * jitter * t)
    elif label == "happy":
        phase = 2 * np.pi * jitter * (1000 * t + 1500 * t**2)
        wav = 0.3 * np.sin(phase)
    elif label == "sad":
        base = 2 * np.pi * 110 * jitter * t
        wav = 0.2 * np.sin(base) + 0.1 * np.sin(2 * base)
    else:
        bursts = (np.sin(2 * np.pi * 6 * t) > 0).astype(float)
        wav = 0.5 * rng.standard_normal(t.shape) * bursts
    wav = wav + 0.005 * rng.standard_normal(t.shape)
    return wav.astype(np.float32)


def make_ravdess_tree(root: Path, seed: int = 0) -> Path:
    """Fake RAVDESS audio-only speech tree, clips of 0.3 to 1.8 s."""
    rng = np.random.default_rng(seed)
    speech = root / "Audio_Speech_Actors_01-24"
    for actor in TRAIN_ACTORS + VALID_ACTORS + TEST_ACTORS:
        for code, label in EMOTIONS.items():
            for i in range(CLIPS_PER_EMOTION):
                intensity, statement = 1 + i % 2, 1 + i // 2
                name = f"03-01-{code}-0{intensity}-0{statement}-01-{actor:02d}"
                seconds = float(rng.uniform(0.3, 1.8))
                wav = synthesize_emotion(label, seconds, rng)
                path = speech / f"Actor_{actor:02d}" / f"{name}.wav"
                save_audio(str(path), wav, SAMPLE_RATE)
    return root


def _split_overrides():
    return [
        "--train_actors",
        json.dumps(TRAIN_ACTORS),
        "--valid_actors",
        json.dumps(VALID_ACTORS),
        "--test_actors",
        json.dumps(TEST_ACTORS),
        "--n_classes",
        str(len(EMOTIONS)),
    ]


@pytest.fixture(scope="module")
def ravdess_tree(tmp_path_factory):
    return make_ravdess_tree(tmp_path_factory.mktemp("ravdess"))


@pytest.fixture(scope="module")
def trained_recipe(ravdess_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("emotion_recipe") / "out"
    args = ["--data_folder", str(ravdess_tree), "--output_folder", str(out)]
    run_recipe("SpeechEmotion", "ast_demo.yaml", [*args, *_split_overrides()])
    return out


def test_recipe_trains_with_dynamic_batches(trained_recipe):
    out = trained_recipe
    with open(out / "test_results.json") as fin:
        results = json.load(fin)
    assert results["dataset"] == "ravdess"
    assert results["test_actors"] == TEST_ACTORS
    assert results["n_examples"] == len(EMOTIONS) * CLIPS_PER_EMOTION
    assert results["accuracy"] + results["error"] == pytest.approx(1.0)
    # 4 separable classes: well above chance (0.25)
    assert results["accuracy"] >= 0.5, results
    test = json.loads((out / "save" / "test.json").read_text())
    assert {e["actor"] for e in test.values()} == set(TEST_ACTORS)
    hparams = (out / "hyperparams.yaml").read_text().lower()
    assert "train_sampler: dynamic" in hparams
    assert "use_padding_mask: true" in hparams


def test_exported_model_classifies(trained_recipe, tmp_path):
    from speechbrain.inference.classifiers import EncoderClassifier

    model = EncoderClassifier.from_hparams(
        source=str(trained_recipe / "inference"),
        savedir=str(tmp_path / "pretrained"),
    )
    assert sorted(model.hparams.label_encoder.lab2ind) == sorted(
        EMOTIONS.values()
    )
    assert model.mods.embedding_model.encoder.use_padding_mask
    rng = np.random.default_rng(123)
    correct = 0
    for label in EMOTIONS.values():
        path = tmp_path / f"{label}.wav"
        save_audio(str(path), synthesize_emotion(label, 1.1, rng), SAMPLE_RATE)
        out_prob, _, _, text_lab = model.classify_file(str(path))
        assert out_prob.shape == (1, len(EMOTIONS))
        assert torch.allclose(
            out_prob.exp().sum(), torch.tensor(1.0), atol=1e-4
        )
        correct += int(text_lab[0] == label)
    assert correct >= 2
    # longer than the 1.25 s grid: sliding windows, no error (issue 10.3)
    path = tmp_path / "long.wav"
    save_audio(str(path), synthesize_emotion("angry", 3.0, rng), SAMPLE_RATE)
    out_prob = model.classify_file(str(path))[0]
    assert torch.allclose(out_prob.exp().sum(), torch.tensor(1.0), atol=1e-4)


def _padding(batches, lengths):
    """Seconds of padding when each batch is padded to its longest clip."""
    return sum(
        len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b)
        for b in batches
    )


def check_dynamic_batches(batches, lengths, max_length):
    """Checks the batches of one epoch; returns their padding relative to
    padding every clip to the longest one."""
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= max_length for b in batches)
    to_longest = len(lengths) * max(lengths) - sum(lengths)
    return _padding(batches, lengths) / to_longest


def test_dynamic_batches_are_length_sorted(ravdess_tree, tmp_path):
    hparams_file = RECIPE_DIR / "hparams" / "ast_demo.yaml"
    overrides = {
        "data_folder": str(ravdess_tree),
        "output_folder": str(tmp_path / "out"),
        "train_actors": TRAIN_ACTORS,
        "valid_actors": VALID_ACTORS,
        "test_actors": TEST_ACTORS,
        "n_classes": len(EMOTIONS),
    }
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    prepare, kwargs, _ = emotion_train.prepare_kwargs(hparams)
    datasets = build_datasets(hparams, prepare(**kwargs))
    options = dataloader_options(hparams, datasets)
    for split in ("train", "test"):
        dataset = datasets[split]
        lengths = [
            min(dataset.data[key]["duration"], CROP_SECONDS)
            for key in dataset.data_ids
        ]
        batches = list(options[split]["batch_sampler"])
        ratio = check_dynamic_batches(
            batches, lengths, hparams["max_batch_length"]
        )
        assert ratio < 0.25, split
    longest = [max(lengths[i] for i in b) for b in batches]
    assert longest == sorted(longest, reverse=True)  # test: descending

    # the waveforms of a batch are padded to its own longest clip only
    loader = make_dataloader(datasets["train"], **options["train"])
    widths = []
    for batch in loader:
        wavs, rel = batch.sig
        assert float(rel.max()) == 1.0
        widths.append(wavs.shape[1])
    assert max(widths) <= round(CROP_SECONDS * SAMPLE_RATE)
    assert min(widths) < 0.5 * max(widths)


def test_dataset_switch_iemocap(tmp_path):
    root = _make_iemocap(tmp_path / "data")
    hparams = {
        "dataset": "iemocap",
        "data_folder": str(root.parent),
        "save_folder": str(tmp_path / "save"),
        "test_session": 2,
        "valid_speaker": "Ses04M",
    }
    prepare, kwargs, meta = emotion_train.prepare_kwargs(hparams)
    assert meta == {
        "dataset": "iemocap",
        "test_session": 2,
        "valid_speaker": "Ses04M",
    }
    manifests = prepare(**kwargs)
    test = json.loads(Path(manifests["test"]).read_text())
    valid = json.loads(Path(manifests["valid"]).read_text())
    assert {e["session"] for e in test.values()} == {2}
    assert {e["speaker"] for e in valid.values()} == {"Ses04M"}
    with pytest.raises(ValueError, match="'iemocap4'"):
        emotion_train.prepare_kwargs({**hparams, "dataset": "iemocap4"})


@pytest.mark.parametrize(
    "name, n_classes, target_length, crop, test_key",
    [
        ("ast_iemocap.yaml", 4, 1024, 10.0, "test_session"),
        ("ast_ravdess.yaml", 8, 512, 5.0, "test_actors"),
    ],
)
def test_real_hparams(name, n_classes, target_length, crop, test_key, tmp_path):
    with open(RECIPE_DIR / "hparams" / name) as fin:
        hp = load_hyperpyyaml(
            fin,
            {
                "data_folder": str(tmp_path),
                "output_folder": str(tmp_path / "o"),
            },
        )
    assert hp["dataset"] in emotion_train.DATASETS and test_key in hp
    encoder = hp["embedding_model"]
    assert encoder.constructor_args["size"] == "base384"
    assert encoder.constructor_args["use_padding_mask"] is True
    assert encoder.constructor_args["target_length"] == target_length
    assert (
        encoder.constructor_args["fstride"],
        encoder.constructor_args["tstride"],
    ) == (10, 10)
    assert hp["classifier"].constructor_args["n_classes"] == n_classes
    # the features keep each batch's length; the grid covers the crop
    assert hp["compute_features"].target_length is None
    assert hp["train_crop_seconds"] == crop
    # whole clips in valid/test (windows of the grid), as the export
    assert hp["eval_crop_seconds"] is None and hp["eval_window_seconds"] is None
    assert 1 + (crop * 16000 - 400) // 160 <= target_length
    assert hp["train_sampler"] == "dynamic" and hp["dynamic_batching"]
    # realistic lengths: far less padding than padding to the longest clip
    lengths = np.random.default_rng(0).uniform(0.5, crop, 2000).tolist()
    data = DynamicItemDataset(
        {f"u{i}": {"duration": x} for i, x in enumerate(lengths)}
    )
    options = dataloader_options(hp, {"train": data, "test": data})
    for split in ("train", "test"):
        batches = list(options[split]["batch_sampler"])
        ratio = check_dynamic_batches(batches, lengths, hp["max_batch_length"])
        assert ratio < 0.15, (split, ratio)
    assert 1e-5 <= hp["lr"] <= 5e-5
    assert hp["lr_scheduler"].warmup_steps > 0
    assert hp["mixup"].mixup_prob == 0.0  # no mixup
    assert hp["spec_augment"].freq_mask > 0 and hp["spec_augment"].time_mask > 0
    text = (RECIPE_DIR / "hparams" / name).read_text()
    for line in text.splitlines():
        value = line.split("#")[0].rstrip()
        assert not value.endswith((": true", ": false")), line
