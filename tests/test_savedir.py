"""A savedir shared by two models must never load the wrong one (issue 10.8)."""

import os
import re
from pathlib import Path

import pytest
import torch
from helpers import make_model_folder
from speechbrain.inference.classifiers import EncoderClassifier

from ast_sb.dataio.audio import save_audio
from ast_sb.export.folder import load_encoder_classifier
from ast_sb.export.savedir import StaleSavedirError
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

README = Path(__file__).resolve().parents[1] / "README.md"
LABELS = ["cat", "dog", "owl"]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return [
        make_model_folder(root / name, LABELS, seed=seed)
        for seed, name in enumerate(("model_a", "model_b"))
    ]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "dog.wav"
    wav = torch.randn(16000, generator=torch.Generator().manual_seed(0))
    save_audio(str(path), 0.1 * wav, 16000)
    return str(path)


def own_scores(folder, path):
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    return model.classify_file(path)[0]


def readme_snippet():
    """The README's EncoderClassifier example (Inference section)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    found = [b for b in blocks if "EncoderClassifier.from_hparams(" in b]
    assert len(found) == 1, "one EncoderClassifier example in the README"
    return found[0]


def test_readme_snippet_loads_each_model_not_the_previous_one(
    two_models, clip, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # relative savedirs land here, for both
    snippet = readme_snippet()
    assert '"results/.../inference"' in snippet and '"dog.wav"' in snippet
    for folder in two_models:
        code = snippet.replace('"results/.../inference"', repr(folder))
        code = code.replace('"dog.wav"', repr(clip))
        scope = {}
        exec(code, scope)
        expected = own_scores(folder, clip)
        assert torch.allclose(scope["out_prob"], expected, atol=1e-6), folder


def test_loaders_name_a_stale_savedir(two_models, tmp_path):
    model_a, model_b = two_models
    savedir = str(tmp_path / "tmp")
    EncoderClassifier.from_hparams(source=model_a, savedir=savedir)
    with pytest.raises(StaleSavedirError, match=re.escape(savedir)):
        load_encoder_classifier(model_b, savedir)
    with pytest.raises(StaleSavedirError, match="link to .*model_a"):
        AudioSpectrogramTransformerInterface.from_folder(
            model_b, savedir, trust_yaml=True
        )
    # The default (safe) path reads model_b's own files in place: the stale
    # savedir cannot change what it loads.
    safe = AudioSpectrogramTransformerInterface.from_folder(model_b, savedir)
    own = AudioSpectrogramTransformerInterface.from_folder(model_b)
    wav = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(
        safe.classify_batch(wav * 0.1)[0], own.classify_batch(wav * 0.1)[0]
    )
    # Its own savedir (and the same one again) is fine.
    load_encoder_classifier(model_a, savedir)


def test_copied_files_of_another_model_are_stale(two_models, tmp_path):
    from speechbrain.utils.fetching import LocalStrategy

    model_a, model_b = two_models
    savedir = str(tmp_path / "copies")
    EncoderClassifier.from_hparams(
        source=model_a, savedir=savedir, local_strategy=LocalStrategy.COPY
    )
    assert not os.path.islink(os.path.join(savedir, "hyperparams.yaml"))
    with pytest.raises(StaleSavedirError, match="other content"):
        load_encoder_classifier(model_b, savedir)
