"""Background-noise augmentation from a few long noise recordings.

Speech Commands ships ``_background_noise_/`` (six recordings of about a
minute: running tap, exercise bike, pink and white noise, ...), meant to be
mixed into the 1 s keyword clips in training. :class:`BackgroundNoise`
holds those recordings in memory and, for each clip of a batch with
probability ``prob``, adds a random excerpt of a random recording at a
random SNR between ``snr_low`` and ``snr_high`` dB (SpeechBrain's
``compute_amplitude`` / ``dB_to_amplitude``, RMS over the clip's own
samples).

Why not SpeechBrain's ``AddNoise(csv_file=...)``: it draws the noise from a
shuffling ``DataLoader`` whose iterator position is not part of a
checkpoint, so a resumed run would mix different noise than the
uninterrupted one. Here every draw comes from ``torch``'s global generator,
which ``AudioSpectrogramTransformerBrain`` reseeds per training batch, so
resuming stays bit-identical.

Authors
 * ast_sb developers 2026
"""

import csv
from typing import List, Sequence, Union

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.processing.signal_processing import (
    compute_amplitude,
    dB_to_amplitude,
)

from ast_sb.dataio.audio import load_audio

__all__ = ["BackgroundNoise", "read_noise_list"]


def read_noise_list(path: str) -> List[str]:
    r"""Audio paths of a noise CSV (a ``wav`` column) or a text list.

    Arguments
    ---------
    path : str
        ``.csv`` with a ``wav`` column (SpeechBrain's noise CSV layout) or a
        text file of one path per line.

    Returns
    -------
    list of str
        The paths.

    Example
    -------
    >>> path = getfixture("tmpdir") / "noise.csv"
    >>> _ = path.write_text("ID,duration,wav\nn1,60.0,/x/n1.wav\n", "utf-8")
    >>> read_noise_list(str(path))
    ['/x/n1.wav']
    """
    with open(path, encoding="utf-8", newline="") as fin:
        if str(path).lower().endswith(".csv"):
            rows = list(csv.DictReader(fin))
            if rows and "wav" not in rows[0]:
                raise ValueError(f"Noise CSV {path} has no 'wav' column")
            return [row["wav"] for row in rows]
        return [line.strip() for line in fin if line.strip()]


class BackgroundNoise(torch.nn.Module):
    """Adds random excerpts of noise recordings at a random SNR.

    Arguments
    ---------
    noise_files : str or sequence of str
        A noise CSV / list file (see :func:`read_noise_list`) or the paths;
        read when the module is first used.
    sample_rate : int
        Rate of the clips (the noise is resampled to it once).
    snr_low : float
        Lowest SNR in dB.
    snr_high : float
        Highest SNR in dB.
    prob : float
        Probability that a clip gets noise.

    Example
    -------
    >>> from ast_sb.dataio.audio import save_audio
    >>> path = str(getfixture("tmpdir") / "hum.wav")
    >>> save_audio(path, 0.1 * torch.sin(torch.arange(32000) * 0.05), 16000)
    >>> noise = BackgroundNoise([path], snr_low=0.0, snr_high=0.0, prob=1.0)
    >>> clean = torch.zeros(2, 8000)
    >>> noisy = noise(clean, torch.tensor([1.0, 0.5]))
    >>> noisy.shape, bool(noisy[1, 4000:].abs().max() == 0)
    (torch.Size([2, 8000]), True)
    """

    def __init__(
        self,
        noise_files: Union[str, Sequence[str]],
        sample_rate: int = 16000,
        snr_low: float = 0.0,
        snr_high: float = 15.0,
        prob: float = 0.8,
    ):
        super().__init__()
        if not 0.0 <= prob <= 1.0 or snr_high < snr_low:
            raise ValueError(
                f"Need 0 <= prob <= 1 and snr_low <= snr_high, got prob={prob}, "
                f"snr=[{snr_low}, {snr_high}]"
            )
        self.noise_files = noise_files
        self.sample_rate = int(sample_rate)
        self.noises: List[torch.Tensor] = []
        self.snr_low, self.snr_high, self.prob = snr_low, snr_high, prob

    def _load(self) -> None:
        """Reads the noise recordings (on first use: a recipe writes the
        noise list in its data preparation, after the hparams are loaded)."""
        files = self.noise_files
        if isinstance(files, str):
            files = read_noise_list(files)
        if not files:
            raise ValueError(
                f"BackgroundNoise: no noise file in {self.noise_files!r}"
            )
        self.noises = [load_audio(path, self.sample_rate) for path in files]

    def _excerpt(self, n_samples: int) -> torch.Tensor:
        """A random excerpt of ``n_samples`` of a random recording."""
        noise = self.noises[int(torch.randint(len(self.noises), ()))]
        if noise.shape[0] < n_samples:  # short noise: repeat it
            noise = noise.repeat(n_samples // noise.shape[0] + 1)
        start = int(torch.randint(noise.shape[0] - n_samples + 1, ()))
        return noise[start : start + n_samples]

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Mixes noise into each clip's own samples.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]``.
        lengths : torch.Tensor
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            The noisy waveforms ``[B, N]`` (padding stays zero).
        """
        if not self.noises:
            self._load()
        batch, n_samples = wavs.shape
        samples = torch.round(lengths * n_samples).long()
        mask = length_to_mask(
            samples, n_samples, dtype=wavs.dtype, device=wavs.device
        )
        noise = torch.stack([self._excerpt(n_samples) for _ in range(batch)])
        noise = noise.to(wavs.device) * mask
        snr = (
            torch.rand(batch, 1) * (self.snr_high - self.snr_low) + self.snr_low
        )
        use = (torch.rand(batch, 1) < self.prob).to(wavs.dtype)
        clean_amp = compute_amplitude(wavs, samples[:, None], amp_type="rms")
        noise_amp = compute_amplitude(noise, samples[:, None], amp_type="rms")
        scale = clean_amp / (
            dB_to_amplitude(snr.to(wavs.device)) * noise_amp + 1e-14
        )
        return wavs + use.to(wavs.device) * scale * noise
