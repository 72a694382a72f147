"""AST in SpeechBrain's own classification recipes, their train.py unchanged.

Each test loads the YAML block of ``docs/speechbrain_recipes.md`` for one
recipe and calls the modules the way that recipe's ``train.py`` does
(``recipes/ESC50/classification``, ``recipes/IEMOCAP/emotion_recognition``,
``recipes/UrbanSound8k/SoundClassification``, ``recipes/Google-speech-commands``
of SpeechBrain): same call signatures, the same checks on the modules, the
same losses from ``speechbrain.nnet.losses``.
"""

import re
from pathlib import Path

import pytest
import speechbrain as sb
import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.nnet.losses import (
    AdditiveAngularMargin,
    LogSoftmaxWrapper,
    classification_error,
    nll_loss,
)
from speechbrain.processing.features import STFT

DOC = Path(__file__).resolve().parents[1] / "docs" / "speechbrain_recipes.md"

# Keys the blocks reference that the recipes' own YAML defines.
RECIPE_KEYS = "out_n_neurons: 4\nsample_rate: 16000\nn_fft: 1024\n"
TINY = {"ast_size": "tiny224", "ast_depth": 1, "ast_dim": 192}


def recipe_hparams(name, **overrides):
    """Loads the documented YAML block of one recipe (tiny AST)."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- recipe: {name} -->\n```yaml\n(.*?)```", text, re.DOTALL
    )
    assert match, f"no YAML block for {name} in {DOC}"
    torch.manual_seed(0)
    return load_hyperpyyaml(RECIPE_KEYS + match.group(1), {**TINY, **overrides})


def two_class_batch(n_samples, batch=4, seed=0):
    """Low tones (class 0) and high tones (class 1) with noise."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(n_samples) / 16000.0
    labels = torch.arange(batch) % 2
    freqs = torch.where(labels == 0, 300.0, 3000.0)
    wavs = 0.5 * torch.sin(2 * torch.pi * freqs[:, None] * t)
    wavs = wavs + 0.01 * torch.randn(batch, n_samples, generator=gen)
    return wavs, labels[:, None]


def train_steps(params, step, n_steps=10, lr=1e-3):
    """Runs a few Adam steps; returns (first loss, last loss)."""
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(n_steps):
        opt.zero_grad()
        loss = step()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


# ----------------------------------------------------------------------------
# ESC-50 (train.py: ESC50Brain.compute_forward / compute_objectives)
# ----------------------------------------------------------------------------
def esc50_compute_forward(hp, modules, wavs):
    """ESC50Brain.compute_forward, line by line (no augmentation)."""
    X_stft = modules["compute_stft"](wavs)
    net_input = sb.processing.features.spectral_magnitude(X_stft, power=0.5)
    if hp["use_melspectra"]:
        net_input = modules["compute_fbank"](net_input)
    if (not hp["use_melspectra"]) or hp["use_log1p_mel"]:
        net_input = torch.log1p(net_input)
    if hasattr(modules["embedding_model"], "config"):
        # The recipe's Hugging Face branch.
        config = modules["embedding_model"].config
        size = (config.image_size, config.image_size)
        raise AssertionError(f"AST taken for a Hugging Face model {size}")
    embeddings = modules["embedding_model"](net_input)
    if isinstance(embeddings, tuple):
        embeddings, _ = embeddings
    if embeddings.ndim == 4:
        embeddings = embeddings.mean((-1, -2))
    outputs = modules["classifier"](embeddings)
    if outputs.ndim == 2:
        outputs = outputs.unsqueeze(1)
    return outputs, net_input


def esc50_modules(hp):
    # compute_stft as in hparams/conv2d.yaml.
    return {
        "compute_stft": STFT(
            sample_rate=16000,
            n_fft=1024,
            hop_length=11.6099,
            win_length=23.2199,
        ),
        "compute_fbank": hp["compute_fbank"],
        "embedding_model": hp["embedding_model"],
        "classifier": hp["classifier"],
    }


def esc50_loss(hp, predictions, classid):
    """ESC50Brain.compute_objectives: log_softmax against one-hot targets."""
    target = F.one_hot(classid.squeeze(), num_classes=hp["out_n_neurons"])
    return -(F.log_softmax(predictions.squeeze(1), 1) * target).sum(1).mean()


def test_esc50_recipe_takes_ast_for_a_speechbrain_model():
    hp = recipe_hparams("esc50")
    assert not hasattr(hp["embedding_model"], "config")
    assert not hasattr(hp["classifier"], "config")
    assert hp["embedding_model"].constructor_args["n_mels"] == 128


def test_esc50_recipe_forward_on_5s_clips_longer_than_target_length():
    # 5 s at the recipe's 11.61 ms hop gives 431 frames; the encoder is built
    # for 128 (SpeechBrain's front ends never cut).
    hp = recipe_hparams("esc50", embedding_model={"target_length": 128})
    modules = esc50_modules(hp)
    torch.manual_seed(0)
    wavs, classid = two_class_batch(5 * 16000, batch=2)
    lens = torch.ones(2)
    outputs, net_input = esc50_compute_forward(hp, modules, wavs)
    assert net_input.shape == (2, 431, 128)
    assert outputs.shape == (2, 1, 4)
    loss = esc50_loss(hp, outputs, classid)
    assert torch.isfinite(loss)
    # The recipe's metrics on the same predictions.
    assert nll_loss(outputs, classid, lens, reduction="batch").shape == (2,)
    assert classification_error(outputs, classid, lens).numel() == 1


def test_esc50_recipe_learns():
    hp = recipe_hparams("esc50", embedding_model={"target_length": 64})
    modules = esc50_modules(hp)
    torch.manual_seed(0)
    wavs, classid = two_class_batch(16000)  # 1 s: 87 frames > 64

    def step():
        outputs, _ = esc50_compute_forward(hp, modules, wavs)
        return esc50_loss(hp, outputs, classid)

    params = [
        *hp["embedding_model"].parameters(),
        *hp["classifier"].parameters(),
    ]
    first, last = train_steps(params, step)
    assert last < 0.5 * first


# ----------------------------------------------------------------------------
# IEMOCAP and UrbanSound8k: additive angular margin on cosine scores
# ----------------------------------------------------------------------------
def aam_cost():
    """compute_cost of both recipes' YAML."""
    return LogSoftmaxWrapper(AdditiveAngularMargin(margin=0.2, scale=30))


def iemocap_compute_forward(hp, wavs, lens):
    """EmoIdBrain.compute_forward."""
    feats = hp["compute_features"](wavs)
    feats = hp["mean_var_norm"](feats, lens)
    embeddings = hp["embedding_model"](feats, lens)
    return hp["classifier"](embeddings)


def urbansound8k_compute_forward(hp, wavs, lens):
    """UrbanSound8kBrain.compute_forward (no augmentation)."""
    feats = hp["compute_features"](wavs)
    if hp["amp_to_db"]:
        raise AssertionError("the AST block keeps amp_to_db off")
    if hp["normalize"]:
        feats = hp["mean_var_norm"](feats, lens)
    embeddings = hp["embedding_model"](feats)
    return hp["classifier"](embeddings), lens


@pytest.mark.parametrize("recipe", ["iemocap", "urbansound8k"])
def test_aam_recipes_get_cosine_scores(recipe):
    hp = recipe_hparams(recipe)
    torch.manual_seed(0)
    wavs, emoid = two_class_batch(16000)
    wavs[1:3, 12000:] = 0.0  # padded clips
    lens = torch.tensor([1.0, 0.75, 0.75, 1.0])
    if recipe == "iemocap":
        predictions = iemocap_compute_forward(hp, wavs, lens)
    else:
        predictions, lens = urbansound8k_compute_forward(hp, wavs, lens)
    assert predictions.shape == (4, 1, 4)
    assert float(predictions.abs().max()) <= 1.0 + 1e-6
    loss = aam_cost()(predictions, emoid, lens)
    loss.backward()
    # Every class row of the head gets a gradient (with log-probabilities
    # the margin loss clips them and nothing does).
    grad = hp["classifier"].linear.weight.grad
    assert bool((grad.abs().sum(dim=1) > 0).all())
    assert hp["embedding_model"].patch_embed.proj.weight.grad.abs().sum() > 0


def test_iemocap_recipe_learns_with_aam_loss():
    hp = recipe_hparams("iemocap")
    torch.manual_seed(0)
    wavs, emoid = two_class_batch(16000)
    lens = torch.ones(4)
    cost = aam_cost()

    def step():
        return cost(iemocap_compute_forward(hp, wavs, lens), emoid, lens)

    params = [
        *hp["embedding_model"].parameters(),
        *hp["classifier"].parameters(),
    ]
    first, last = train_steps(params, step, lr=2e-4)
    assert last < 0.5 * first
    with torch.no_grad():
        scores = iemocap_compute_forward(hp, wavs, lens)
    assert torch.equal(scores.argmax(-1), emoid)


def test_padding_mask_makes_iemocap_batches_match_single_clips():
    """embedding_model(feats, lens) with the documented use_padding_mask."""
    hp = recipe_hparams("iemocap")
    enc = hp["embedding_model"].eval()
    torch.manual_seed(0)
    feats = torch.randn(2, 300, 128)
    lens = torch.tensor([1.0, 200 / 300])
    with torch.no_grad():
        batch = enc(feats, lens)
        alone = enc(feats[1:, :200], torch.ones(1))
    assert torch.allclose(batch[1], alone[0], atol=1e-5)


# ----------------------------------------------------------------------------
# Google Speech Commands (x-vector YAML): log-softmax head, nll_loss
# ----------------------------------------------------------------------------
def test_speech_commands_recipe_learns_with_nll_loss():
    hp = recipe_hparams("speech_commands")
    softmax = sb.nnet.activations.Softmax(apply_log=True)  # YAML's softmax
    torch.manual_seed(0)
    wavs, command = two_class_batch(16000)
    lens = torch.ones(4)

    def forward():
        feats = hp["compute_features"](wavs)
        feats = hp["mean_var_norm"](feats, lens)
        embeddings = hp["embedding_model"](feats)
        return softmax(hp["classifier"](embeddings))

    outputs = forward()
    assert outputs.shape == (4, 1, 4)
    # Log-softmax of log-probabilities changes nothing.
    assert torch.allclose(outputs.exp().sum(-1), torch.ones(4, 1))

    def step():
        return nll_loss(forward(), command, lens)

    params = [
        *hp["embedding_model"].parameters(),
        *hp["classifier"].parameters(),
    ]
    first, last = train_steps(params, step)
    assert last < 0.5 * first


def test_clips_shorter_than_one_patch_are_padded():
    hp = recipe_hparams("speech_commands")
    feats = hp["compute_features"](torch.randn(2, 1600))  # 0.1 s: 8 frames
    assert feats.shape[1] < 16
    lens = torch.ones(2)
    out = hp["embedding_model"](hp["mean_var_norm"](feats, lens))
    assert out.shape == (2, 1, 192)
    padded = F.pad(hp["mean_var_norm"](feats, lens), (0, 0, 0, 16 - 8))
    assert torch.equal(out, hp["embedding_model"](padded))


def test_recipe_checkpointer_saves_ast_modules(tmp_path):
    """The recipes' Checkpointer recoverables (normalizer included)."""
    hp = recipe_hparams("urbansound8k")
    recoverables = {
        "embedding_model": hp["embedding_model"],
        "classifier": hp["classifier"],
        "normalizer": hp["mean_var_norm"],
    }
    ckpt = sb.utils.checkpoints.Checkpointer(tmp_path, recoverables)
    ckpt.save_checkpoint()
    fresh = recipe_hparams("urbansound8k")
    for param in fresh["classifier"].parameters():
        torch.nn.init.zeros_(param)
    sb.utils.checkpoints.Checkpointer(
        tmp_path,
        {
            "embedding_model": fresh["embedding_model"],
            "classifier": fresh["classifier"],
            "normalizer": fresh["mean_var_norm"],
        },
    ).recover_if_possible()
    assert torch.equal(
        fresh["classifier"].linear.weight, hp["classifier"].linear.weight
    )
