"""Tests for ast_sb.dataio.audio: loading, downmix, resampling and errors.

Authors
 * ast_sb developers 2026
"""

import math

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from ast_sb.dataio.audio import AudioLoadError, load_audio, save_audio


def _tone(freq: float, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def test_load_same_rate_roundtrip(tmp_path):
    x = _tone(440, 16000, 0.5)
    path = tmp_path / "a.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    wav = load_audio(path)
    assert wav.dtype == torch.float32 and wav.shape == (8000,)
    assert torch.equal(wav, torch.from_numpy(x))
    # str path and sample_rate=None keep native data
    assert torch.equal(load_audio(str(path), sample_rate=None), wav)


def test_resample_44k_to_16k(tmp_path):
    x = _tone(1000, 44100, 1.0)
    path = tmp_path / "tone44k.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    wav = load_audio(path, sample_rate=16000)
    expected = torchaudio.functional.resample(torch.from_numpy(x), 44100, 16000)
    assert wav.shape == (16000,)
    assert torch.allclose(wav, expected, atol=1e-6)
    spec = torch.fft.rfft(wav).abs()
    assert spec.argmax().item() == 1000  # 1 Hz bins for 1 s at 16 kHz


def test_stereo_downmix(tmp_path):
    left = _tone(300, 16000, 0.25)
    right = _tone(700, 16000, 0.25) * 0.5
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wav = load_audio(path)
    expected = torch.from_numpy((left + right) / 2)
    assert wav.shape == (4000,)
    assert torch.allclose(wav, expected, atol=1e-7)


def test_save_audio_channels_first(tmp_path):
    x = torch.from_numpy(np.stack([_tone(300, 8000, 0.1)] * 2))
    path = tmp_path / "nested" / "dir" / "c.flac"
    save_audio(path, x, 8000)
    info = sf.info(str(path))
    assert info.channels == 2 and info.samplerate == 8000
    wav = load_audio(path, sample_rate=8000)
    assert torch.allclose(wav, x[0], atol=1e-4)  # 16-bit quantisation
    with pytest.raises(ValueError):
        save_audio(tmp_path / "bad.wav", torch.zeros(1, 1, 10), 8000)


def test_missing_file(tmp_path):
    path = tmp_path / "missing.wav"
    with pytest.raises(AudioLoadError, match="missing.wav"):
        load_audio(path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00garbage" + bytes(range(256)) * 4)
    with pytest.raises(AudioLoadError, match="corrupt.wav"):
        load_audio(path)
    zero = tmp_path / "zero_bytes.wav"
    zero.write_bytes(b"")
    with pytest.raises(AudioLoadError, match="zero_bytes.wav"):
        load_audio(zero)


def test_empty_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0,), dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError, match="empty.wav"):
        load_audio(path)


def test_nan_samples(tmp_path):
    x = _tone(440, 16000, 0.1)
    x[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="nan.wav"):
        load_audio(path)
    assert issubclass(AudioLoadError, ValueError)
