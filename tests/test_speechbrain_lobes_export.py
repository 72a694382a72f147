"""The project's recipe with SpeechBrain lobes in the YAML (issue 10.5).

``speechbrain.lobes.features.Fbank`` + ``InputNormalization`` + ECAPA-TDNN +
the x-vector classifier replace the AST modules of the Custom recipe's YAML;
the run trains, tests and exports, and the folder loads in plain
``EncoderClassifier`` with batch scores equal to single-file scores.

Authors
 * ast_sb developers 2026
"""

import os
import subprocess
import sys

import numpy as np
import torch
from helpers import RECIPES, recipe_env
from speechbrain.inference.classifiers import EncoderClassifier

from ast_sb.dataio.audio import load_audio, save_audio
from ast_sb.demo import synthesize_clip
from ast_sb.export.folder import verify_loaded_weights

SOUNDS = {"bell": "pure_tone", "engine": "white_noise", "tap": "clicks"}

LOBES = """compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: 24

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: 24
    channels: [16, 16, 16, 16, 48]
    attention_channels: 8
    lin_neurons: 12

classifier: !new:speechbrain.lobes.models.Xvector.Classifier
    input_shape: [null, null, 12]
    lin_neurons: 12
    out_neurons: !ref <n_classes>
"""


def _lobes_yaml(path):
    """The Custom recipe's tiny YAML with the model section swapped."""
    src = os.path.join(RECIPES, "Custom", "hparams", "ast_demo.yaml")
    with open(src, encoding="utf-8") as fin:
        text = fin.read()
    start = text.index(
        "compute_features: !new:ast_sb.lobes.features.KaldiFbank"
    )
    end = text.index("spec_augment:")
    text = text[:start] + LOBES + "\n" + text[end:]
    start = text.index("# log_softmax for single-label")
    end = text.index("modules:")
    text = text[:start] + text[end:]
    path.write_text(text)
    return str(path)


def test_recipe_with_speechbrain_lobes_exports(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["wav,label,split"]
    seconds = {"train": [0.6, 0.8], "valid": [0.7], "test": [0.5, 0.9, 1.2]}
    (tmp_path / "clips").mkdir()
    test_files = []
    i = 0
    for split, lengths in seconds.items():
        for length in lengths:
            for label, sound in SOUNDS.items():
                wav = synthesize_clip(sound, rng, 16000, length)
                path = tmp_path / "clips" / f"{i}.wav"
                save_audio(str(path), wav, 16000)
                lines.append(f"clips/{i}.wav,{label},{split}")
                if split == "test":
                    test_files.append(str(path))
                i += 1
    (tmp_path / "meta.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        os.path.join(RECIPES, "Custom", "train.py"),
        _lobes_yaml(tmp_path / "lobes.yaml"),
        "--device=cpu",
        "--noprogressbar",
        "--n_classes=3",
        "--number_of_epochs=1",
        "--batch_size=4",
        "--plots=False",
        "--spec_augment=null",
        f"--manifest={tmp_path / 'meta.csv'}",
        f"--output_folder={out}",
    ]
    proc = subprocess.run(cmd, env=recipe_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    folder = str(out / "inference")
    text = open(os.path.join(folder, "hyperparams.yaml")).read()
    assert "!new:speechbrain.lobes.features.Fbank" in text
    assert "!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN" in text

    model = EncoderClassifier.from_hparams(
        source=folder,
        savedir=str(tmp_path / "plain"),
        run_opts={"device": "cpu"},
    )
    verify_loaded_weights(model.mods, folder)
    single = torch.cat([model.classify_file(f)[0] for f in test_files])
    wavs = [load_audio(f, 16000) for f in test_files]
    n_max = max(w.shape[0] for w in wavs)
    batch = torch.zeros(len(wavs), n_max)
    for row, w in enumerate(wavs):
        batch[row, : w.shape[0]] = w
    lens = torch.tensor([w.shape[0] / n_max for w in wavs])
    with torch.no_grad():
        out_prob = model.classify_batch(batch, lens)[0]
    assert out_prob.shape == (len(test_files), 3)
    torch.testing.assert_close(out_prob, single, atol=1e-5, rtol=0)
    # the trained modules, run clip by clip at each clip's own length
    encoder = model.mods.embedding_model
    with torch.no_grad():
        for row, w in enumerate(wavs):
            feats = encoder.compute_features(w[None])
            feats = encoder.mean_var_norm(feats, torch.ones(1))
            emb = encoder.encoder(feats, torch.ones(1))
            ref = model.mods.classifier.head(emb).squeeze(1)
            torch.testing.assert_close(
                out_prob[row : row + 1], ref, atol=1e-5, rtol=0
            )
