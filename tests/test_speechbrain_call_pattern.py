"""A clip scores the same alone and in a padded batch under SpeechBrain's
call pattern (issue 23, part A).

SpeechBrain's recipes and ``EncoderClassifier.encode_batch`` call
``compute_features(wavs)`` without lengths, ``mean_var_norm(feats, lens)``
and ``embedding_model(feats, lens)`` with lengths relative to the batch's
samples. With ``use_padding_mask`` each clip must get its own frames
(``frame_count`` of its samples, not ``round(lens * T)``: 28,365 samples next
to 55,977 have 175 frames, not 176), the position grid it gets alone (a clip
longer than ``target_length`` stretches only its own grid) and, under one
patch, zeros past its frames (as alone, where it is zero-padded).
"""

import re

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.inference.classifiers import EncoderClassifier
from test_speechbrain_recipes import DOC, RECIPE_KEYS, TINY, recipe_hparams

from ast_sb.dataio.audio import AudioLoadError, save_audio
from ast_sb.export.folder import export_inference_folder
from ast_sb.lobes.clip_frames import ClipTooShortError
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)

#: samples: the issue's pair (176 vs 175 frames by round(lens * T)), a clip
#: of 60 frames and one of 4 frames (under one 16-frame patch)
SAMPLES = [55977, 28365, 9900, 1000]
TOL = 1e-5


def padded(wavs):
    """A padded batch and SpeechBrain's relative lengths (PaddedBatch)."""
    n = [w.shape[0] for w in wavs]
    batch = torch.zeros(len(wavs), max(n))
    for i, w in enumerate(wavs):
        batch[i, : w.shape[0]] = w
    return batch, torch.tensor([x / max(n) for x in n])


def clips(samples, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(n, generator=gen) for n in samples]


def speechbrain_embed(fbank, norm, enc, wavs, lens):
    """EncoderClassifier.encode_batch's calls."""
    with torch.no_grad():
        return enc(norm(fbank(wavs), lens), lens)


def assert_batch_equals_alone(embed, wavs):
    batch, lens = padded(wavs)
    out = embed(batch, lens)
    for i, wav in enumerate(wavs):
        alone = embed(wav[None], torch.ones(1))
        scale = float(alone.abs().max())
        diff = float((out[i] - alone[0]).abs().max())
        assert diff <= TOL * scale, (i, wav.shape[0], diff, scale)


def tiny_encoder(target_length):
    torch.manual_seed(0)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=target_length, use_padding_mask=True
    ).eval()
    # positions that matter as much as the patches
    torch.nn.init.normal_(enc.pos_embed, std=1.0)
    return enc


@pytest.mark.parametrize(
    "target_length, samples, fbank_length",
    [
        (1024, SAMPLES, None),  # every clip within the grid
        (64, SAMPLES + [17000], None),  # 55,977 / 28,365 / 17,000: longer
        # the front end pads / cuts to 400 frames: T = 400 for every batch,
        # the lengths still refer to the samples
        (400, SAMPLES, 400),
    ],
)
def test_padded_batch_equals_each_clip_alone(
    target_length, samples, fbank_length
):
    enc = tiny_encoder(target_length)
    fbank = KaldiFbank(target_length=fbank_length)
    norm = AudioSpectrogramNormalizer()

    def embed(wavs, lens):
        return speechbrain_embed(fbank, norm, enc, wavs, lens)

    assert_batch_equals_alone(embed, clips(samples))


def test_frames_follow_from_samples_not_from_frames():
    """The issue's pair: 176 frames by round(lens * T), 175 of its own."""
    fbank = KaldiFbank()
    wavs, lens = padded(clips([55977, 28365]))
    feats = AudioSpectrogramNormalizer()(fbank(wavs), lens)
    assert feats.shape[1] == 348
    assert round(float(lens[1]) * 348) == 176
    enc = tiny_encoder(1024)
    tokens, key_mask = enc.embed(feats, lens)
    # 175 frames: (175 - 16) // 10 + 1 = 16 columns of 12 patches
    assert key_mask[1, 2:].sum().item() == 16 * 12
    alone = fbank(wavs[1:, :28365])
    assert alone.shape[1] == 175


def test_clip_under_one_frame_in_a_batch_is_refused():
    fbank, norm = KaldiFbank(), AudioSpectrogramNormalizer()
    enc = tiny_encoder(1024)
    wavs, lens = padded(clips([16000, 300]))
    with pytest.raises(ClipTooShortError, match="300 samples"):
        speechbrain_embed(fbank, norm, enc, wavs, lens)
    with pytest.raises(ValueError, match="300 samples"):  # alone
        speechbrain_embed(fbank, norm, enc, wavs[1:, :300], torch.ones(1))


# ----------------------------------------------------------------------------
# EncoderClassifier on a folder configured as each docs recipe block
# ----------------------------------------------------------------------------
#: keys of the ESC-50 recipe's conv2d.yaml that its block references
ESC50_KEYS = """spec_mag_power: 0.5
compute_stft: !new:speechbrain.processing.features.STFT
    n_fft: !ref <n_fft>
    hop_length: 11.6099
    win_length: 23.2199
    sample_rate: !ref <sample_rate>
"""


def esc50_folder_hparams():
    """The ESC-50 block plus its EncoderClassifier block (tiny AST)."""
    text = DOC.read_text(encoding="utf-8")
    blocks = [
        re.search(rf"<!-- recipe: {name} -->\n```yaml\n(.*?)```", text, re.S)
        for name in ("esc50", "esc50_encoder_classifier")
    ]
    assert all(blocks), f"no ESC-50 blocks in {DOC}"
    torch.manual_seed(0)
    yaml = RECIPE_KEYS + ESC50_KEYS + "".join(b.group(1) for b in blocks)
    return load_hyperpyyaml(yaml, TINY)


def block_classifier(recipe):
    """EncoderClassifier with the modules of a docs/speechbrain_recipes.md
    block (as a folder's hyperparams.yaml would build them)."""
    if recipe == "esc50":
        hp = esc50_folder_hparams()
    else:
        hp = recipe_hparams(recipe)
    torch.nn.init.normal_(hp["embedding_model"].pos_embed, std=1.0)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b", "c", "d"])
    labels.expect_len(4)
    modules = {
        key: hp[key]
        for key in (
            "compute_features",
            "mean_var_norm",
            "embedding_model",
            "classifier",
        )
    }
    return EncoderClassifier(modules=modules, hparams={"label_encoder": labels})


@pytest.mark.parametrize(
    "recipe", ["esc50", "iemocap", "urbansound8k", "speech_commands"]
)
def test_encoder_classifier_batch_equals_file_for_each_block(recipe, tmp_path):
    model = block_classifier(recipe)
    assert model.mods.embedding_model.use_padding_mask
    # speech_commands (100 frames): 55,977 and 28,365 samples are longer;
    # esc50 (432 frames of 186 samples): 90,000 samples are
    samples = SAMPLES + ([90000] if recipe == "esc50" else [])
    wavs = clips(samples, seed=1)
    files = []
    for i, wav in enumerate(wavs):
        files.append(str(tmp_path / f"{i}.wav"))
        save_audio(files[-1], wav, 16000)
    with torch.no_grad():
        single = torch.cat([model.classify_file(f)[0] for f in files])
        batch, lens = padded(wavs)
        scores = model.classify_batch(batch, lens)[0]
        emb = model.encode_batch(batch, lens)
        alone = torch.cat([model.encode_batch(w[None]) for w in wavs])
    scale = max(1.0, float(single.abs().max()))
    assert float((scores - single).abs().max()) <= TOL * scale
    assert float((emb - alone).abs().max()) <= TOL * float(alone.abs().max())


def test_exported_folder_refuses_a_clip_under_one_frame(tmp_path):
    """classify_file on a 1-sample clip: the rule of ast-sb / the interface."""
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b"])
    labels.expect_len(2)
    enc = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=64
    )
    head = AudioSpectrogramTransformerClassifier(192, 2)
    folder = export_inference_folder(
        str(tmp_path / "folder"),
        enc,
        head,
        labels,
        compute_features=KaldiFbank(target_length=64),
    )
    model = EncoderClassifier.from_hparams(
        source=folder, savedir=str(tmp_path / "sd"), run_opts={"device": "cpu"}
    )
    save_audio(str(tmp_path / "one.wav"), torch.full((1,), 0.1), 16000)
    with pytest.raises(AudioLoadError, match="1 samples"):
        model.classify_file(str(tmp_path / "one.wav"))
    wavs, lens = padded(clips([8000, 399]))
    with pytest.raises(AudioLoadError, match="clip 1 of the batch has 399"):
        model.classify_batch(wavs, lens)
    assert model.classify_batch(*padded(clips([8000, 400])))[0].shape == (2, 2)
