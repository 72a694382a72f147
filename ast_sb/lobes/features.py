"""Kaldi-compatible batched filterbank front end and AST input normalisation.

The Audio Spectrogram Transformer (AST) consumes 128-bin log-mel filterbank
features computed exactly like ``torchaudio.compliance.kaldi.fbank`` with a
``"hanning"`` window and no dithering, zero-padded (or cut) to a fixed number
of frames and then normalised with ``(x - mean) / (2 * std)``.

:class:`KaldiFbank` reproduces ``kaldi.fbank`` for a whole batch at once: it
performs the same float32 operations in the same order, so on CPU its output
is identical to the per-clip reference (and to HF ``ASTFeatureExtractor``
once padding and normalisation are added).

Authors
 * ast_sb developers 2026
"""

import math
from typing import Dict, Iterable, Optional, Tuple, Union

import torch
import torchaudio.compliance.kaldi as ta_kaldi
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.utils.autocast import fwd_default_precision

from ast_sb.dataio.validation import (
    check_finite_features,
    check_relative_lengths,
    check_waveforms,
)
from ast_sb.lobes.clip_frames import (
    SampleGrid,
    attach_sample_grid,
    carry_sample_grid,
)

__all__ = [
    "DATASET_STATS",
    "AudioSpectrogramNormalizer",
    "KaldiFbank",
    "compute_dataset_stats",
    "frame_count",
    "pad_or_cut",
    "sample_counts",
]

#: (mean, std) of the fbank features used by the published AST checkpoints.
DATASET_STATS: Dict[str, Tuple[float, float]] = {
    "audioset": (-4.2677393, 4.5689974),
    "esc50": (-6.6268077, 5.358466),
    "speechcommands": (-6.845978, 5.5654526),
}

_WINDOW_TYPES = ("hanning", "hamming", "povey", "rectangular", "blackman")


def frame_count(
    num_samples: Union[int, torch.Tensor],
    frame_length: int = 400,
    frame_shift: int = 160,
) -> Union[int, torch.Tensor]:
    """Number of frames Kaldi (``snip_edges=True``) produces for a signal.

    Arguments
    ---------
    num_samples : int or torch.Tensor
        Number of samples (a Python int or an integer tensor of any shape).
    frame_length : int
        Frame length in samples (400 = 25 ms at 16 kHz).
    frame_shift : int
        Frame shift in samples (160 = 10 ms at 16 kHz).

    Returns
    -------
    int or torch.Tensor
        ``1 + (num_samples - frame_length) // frame_shift`` where
        ``num_samples >= frame_length``, otherwise 0.

    Example
    -------
    >>> frame_count(16000)
    98
    >>> frame_count(399)
    0
    >>> frame_count(torch.tensor([160000, 400, 100]))
    tensor([998,   1,   0])
    """
    if isinstance(num_samples, torch.Tensor):
        n = num_samples.long()
        frames = 1 + torch.div(
            n - frame_length, frame_shift, rounding_mode="floor"
        )
        return torch.where(n >= frame_length, frames, torch.zeros_like(frames))
    num_samples = int(num_samples)
    if num_samples < frame_length:
        return 0
    return 1 + (num_samples - frame_length) // frame_shift


def sample_counts(lengths: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Exact sample counts of clips from SpeechBrain relative lengths.

    ``round(lengths * num_samples)`` computed in float64 (float32 relative
    lengths are exact to the sample for clips up to about 8 M samples).

    Arguments
    ---------
    lengths : torch.Tensor
        Relative lengths ``[B]`` in [0, 1].
    num_samples : int
        Samples of the padded batch waveform.

    Returns
    -------
    torch.Tensor
        Long ``[B]`` in ``[0, num_samples]``.

    Example
    -------
    >>> sample_counts(torch.tensor([1.0, 12345 / 16000]), 16000)
    tensor([16000, 12345])
    """
    samples = torch.round(lengths.detach().double() * int(num_samples))
    return samples.long().clamp(min=0, max=int(num_samples))


def pad_or_cut(feats: torch.Tensor, target_length: int) -> torch.Tensor:
    """Zero-pads at the end or cuts the time axis to exactly ``target_length``.

    This is what the original AST data loader and HF ``ASTFeatureExtractor``
    do to the fbank frames before normalisation.

    Arguments
    ---------
    feats : torch.Tensor
        Features ``[..., T, F]`` (time is the second-to-last dimension).
    target_length : int
        Number of frames of the output.

    Returns
    -------
    torch.Tensor
        Features ``[..., target_length, F]``.

    Example
    -------
    >>> feats = torch.ones(2, 998, 128)
    >>> out = pad_or_cut(feats, 1024)
    >>> out.shape
    torch.Size([2, 1024, 128])
    >>> out[:, 998:].abs().sum().item()
    0.0
    >>> pad_or_cut(feats, 512).shape
    torch.Size([2, 512, 128])
    """
    if target_length < 1:
        raise ValueError(f"target_length must be >= 1, got {target_length}")
    if feats.dim() < 2:
        raise ValueError(
            f"feats must have at least 2 dims [..., T, F], got shape "
            f"{tuple(feats.shape)}"
        )
    n_frames = feats.shape[-2]
    if n_frames > target_length:
        return feats[..., :target_length, :]
    if n_frames < target_length:
        return torch.nn.functional.pad(
            feats, (0, 0, 0, target_length - n_frames)
        )
    return feats


def _tracing() -> bool:
    """Whether the code runs under ``torch.jit.trace`` / ``torch.export``."""
    if torch.jit.is_tracing():
        return True
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())


def _make_window(window: str, size: int, blackman_coeff: float = 0.42):
    """Builds a Kaldi feature window exactly as ``kaldi.fbank`` does.

    Arguments
    ---------
    window : str
        One of "hanning", "hamming", "povey", "rectangular", "blackman".
    size : int
        Window length in samples.
    blackman_coeff : float
        Coefficient of the generalised Blackman window.

    Returns
    -------
    torch.Tensor
        The float32 window ``[size]``.
    """
    dtype = torch.float32
    if window == "hanning":
        return torch.hann_window(size, periodic=False, dtype=dtype)
    if window == "hamming":
        return torch.hamming_window(
            size, periodic=False, alpha=0.54, beta=0.46, dtype=dtype
        )
    if window == "povey":
        return torch.hann_window(size, periodic=False, dtype=dtype).pow(0.85)
    if window == "rectangular":
        return torch.ones(size, dtype=dtype)
    if window == "blackman":
        a = 2 * math.pi / (size - 1)
        n = torch.arange(size, dtype=dtype)
        return (
            blackman_coeff
            - 0.5 * torch.cos(a * n)
            + (0.5 - blackman_coeff) * torch.cos(2 * a * n)
        ).to(dtype)
    raise ValueError(
        f"Unknown window {window!r}; expected one of {_WINDOW_TYPES}"
    )


class KaldiFbank(torch.nn.Module):
    """Batched, vectorised Kaldi log-mel filterbank (AST front end).

    Computes the same features as ``torchaudio.compliance.kaldi.fbank(wav,
    sample_frequency=16000, window_type="hanning", num_mel_bins=128,
    dither=0.0)`` (``snip_edges=True``, power spectrum, no energy term) for
    every clip of a batch in one pass, with the same float32 operations in the
    same order. The computation is done in float32 with autocast disabled.

    Given the relative ``lengths`` of a padded batch, every frame at or past
    a clip's own frame count is 0 (log-mel, before normalisation: the
    original AST's padding), so each clip gets the features it gets alone.
    :meth:`relative_frame_lengths` gives the relative number of valid frames
    for an encoder's padding mask.

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the input waveforms in Hz.
    n_mels : int
        Number of mel bins.
    frame_length_ms : float
        Frame length in milliseconds.
    frame_shift_ms : float
        Frame shift in milliseconds.
    window : str
        Kaldi window type: "hanning" (AST), "hamming", "povey",
        "rectangular" or "blackman".
    target_length : int, optional
        If given, the output is zero-padded at the end or cut to exactly this
        many frames (before normalisation, like the original AST).
    low_freq : float
        Low cut-off frequency of the mel banks in Hz.
    high_freq : float
        High cut-off frequency in Hz (``<= 0`` means offset from Nyquist).
    preemphasis : float
        Pre-emphasis coefficient (0 disables it).
    remove_dc_offset : bool
        Whether to subtract each frame's mean.

    Like every ast_sb lobe, the module keeps its constructor arguments in
    ``constructor_args`` (a dict), which export writes to YAML.

    Example
    -------
    >>> fbank = KaldiFbank()
    >>> wavs = torch.randn(2, 16000) * 0.1
    >>> feats = fbank(wavs)
    >>> feats.shape
    torch.Size([2, 98, 128])
    >>> KaldiFbank(target_length=128)(wavs).shape
    torch.Size([2, 128, 128])
    >>> fbank(torch.randn(8000)).shape
    torch.Size([1, 48, 128])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 128,
        frame_length_ms: float = 25.0,
        frame_shift_ms: float = 10.0,
        window: str = "hanning",
        target_length: Optional[int] = None,
        low_freq: float = 20.0,
        high_freq: float = 0.0,
        preemphasis: float = 0.97,
        remove_dc_offset: bool = True,
    ):
        super().__init__()
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if n_mels < 1:
            raise ValueError(f"n_mels must be >= 1, got {n_mels}")
        if target_length is not None and target_length < 1:
            raise ValueError(
                f"target_length must be None or >= 1, got {target_length}"
            )
        if not 0.0 <= preemphasis <= 1.0:
            raise ValueError(
                f"preemphasis must be in [0, 1], got {preemphasis}"
            )
        self.constructor_args = {
            "sample_rate": sample_rate,
            "n_mels": n_mels,
            "frame_length_ms": frame_length_ms,
            "frame_shift_ms": frame_shift_ms,
            "window": window,
            "target_length": target_length,
            "low_freq": low_freq,
            "high_freq": high_freq,
            "preemphasis": preemphasis,
            "remove_dc_offset": remove_dc_offset,
        }
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.target_length = target_length
        self.preemphasis = float(preemphasis)
        self.remove_dc_offset = remove_dc_offset
        # frames (batch x time) processed at once on CPU (cache-sized)
        self.cpu_block_frames = 1024
        self.window_type = window
        # Same integer conversion as kaldi.fbank.
        self.frame_length = int(sample_rate * frame_length_ms * 0.001)
        self.frame_shift = int(sample_rate * frame_shift_ms * 0.001)
        if self.frame_length < 2 or self.frame_shift < 1:
            raise ValueError(
                f"frame length ({self.frame_length} samples) must be >= 2 "
                f"and frame shift ({self.frame_shift} samples) >= 1"
            )
        self.n_fft = 1 << (self.frame_length - 1).bit_length()

        mel, _ = ta_kaldi.get_mel_banks(
            n_mels,
            self.n_fft,
            float(sample_rate),
            float(low_freq),
            float(high_freq),
            100.0,
            -500.0,
            1.0,
        )
        # Zero weight on the Nyquist bin, as in kaldi.fbank: [n_fft//2+1, M]
        mel = torch.nn.functional.pad(mel.float(), (0, 1)).T.contiguous()
        self.register_buffer("mel_matrix", mel, persistent=False)
        self.register_buffer(
            "window", _make_window(window, self.frame_length), persistent=False
        )

    def num_frames(self, num_samples: int) -> int:
        """Number of output frames for a batch waveform of ``num_samples``.

        Arguments
        ---------
        num_samples : int
            Number of samples of the (padded) batch waveform.

        Returns
        -------
        int
            ``target_length`` if set, else the Kaldi frame count.

        Example
        -------
        >>> KaldiFbank().num_frames(160000)
        998
        >>> KaldiFbank(target_length=1024).num_frames(160000)
        1024
        """
        if self.target_length is not None:
            return self.target_length
        return frame_count(num_samples, self.frame_length, self.frame_shift)

    def relative_frame_lengths(
        self, lengths: Optional[torch.Tensor], num_samples: int
    ) -> torch.Tensor:
        """Relative number of valid frames per clip, for masking.

        A frame is valid when it lies entirely within the clip's valid
        samples (such frames equal those of the clip processed alone). The
        count is capped at the output length and at least 1 frame is kept so
        that no clip is fully masked.

        Arguments
        ---------
        lengths : torch.Tensor
            Relative waveform lengths ``[B]`` in [0, 1] (SpeechBrain
            convention). ``None`` means all clips are full length.
        num_samples : int
            Number of samples of the padded batch waveform.

        Returns
        -------
        torch.Tensor
            Valid frame counts divided by the output number of frames ``T``
            (float32, ``[B]``).

        Example
        -------
        >>> fbank = KaldiFbank(target_length=100)
        >>> fbank.relative_frame_lengths(torch.tensor([1.0, 0.5]), 16000)
        tensor([0.9800, 0.4800])
        """
        n_out = self.num_frames(num_samples)
        if n_out < 1:
            raise ValueError(
                f"Waveform of {num_samples} samples is shorter than one "
                f"frame ({self.frame_length} samples)"
            )
        if lengths is None:
            n_valid = min(
                frame_count(num_samples, self.frame_length, self.frame_shift),
                n_out,
            )
            return torch.tensor([n_valid / n_out])
        lengths = check_relative_lengths(lengths, lengths.numel())
        frames = self.valid_frames(lengths, num_samples).clamp(min=1)
        return frames.float() / n_out

    def _check_input(self, wavs: torch.Tensor) -> torch.Tensor:
        """Validates the waveform batch and returns it as ``[B, N]``.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[N]`` or ``[B, N]``.

        Returns
        -------
        torch.Tensor
            Waveforms ``[B, N]``.
        """
        wavs = check_waveforms(wavs)
        if wavs.shape[-1] < self.frame_length:
            raise ValueError(
                f"Waveform of {wavs.shape[-1]} samples is shorter than one "
                f"frame ({self.frame_length} samples = "
                f"{1000 * self.frame_length / self.sample_rate:g} ms at "
                f"{self.sample_rate} Hz)"
            )
        # a NaN / inf sample makes its row sum non-finite (cheap test); the
        # full element-wise test runs only then, to name the batch items
        if not bool(torch.isfinite(wavs.sum(dim=-1)).all()):
            bad = (~torch.isfinite(wavs)).any(dim=-1).nonzero().flatten()
            if bad.numel():
                raise ValueError(
                    f"Waveform contains NaN or inf samples (batch items "
                    f"{bad.tolist()})"
                )
        return wavs

    @fwd_default_precision(cast_inputs=torch.float32)
    def forward(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Computes log-mel filterbank features of a (padded) batch.

        With ``lengths``, every frame at or past a clip's own frame count
        (:func:`frame_count` of its ``round(lengths[b] * N)`` samples) is set
        to 0, the value the original AST pads its fbank with before
        normalisation. A clip then gives the same features alone as in any
        padded batch (see ``docs/DESIGN.md``, padding convention): bit for
        bit where the BLAS rounds a row alike whatever the number of rows
        (MKL at AVX-512), within a float32 step otherwise (MKL at AVX2).
        Without ``lengths`` (SpeechBrain's ``compute_features(wavs)``), the
        output carries the batch's sample count
        (:mod:`ast_sb.lobes.clip_frames`), so an encoder given lengths
        relative to the samples finds each clip's own frames.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` (or ``[N]``), float in [-1, 1].
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` (SpeechBrain convention: samples of the
            clip divided by ``N``). ``None``: every clip is ``N`` samples.

        Returns
        -------
        torch.Tensor
            Features ``[B, T, n_mels]``.

        Example
        -------
        >>> fbank = KaldiFbank(target_length=100)
        >>> clip = torch.randn(8000) * 0.1
        >>> batch = torch.zeros(2, 16000)
        >>> batch[0, :8000] = clip
        >>> feats = fbank(batch, torch.tensor([0.5, 1.0]))
        >>> alone = fbank(clip)[0]
        >>> bool((feats[0] - alone).abs().max() <= 3e-7 * alone.abs().max())
        True
        >>> feats[0, 48:].abs().max().item()
        0.0
        """
        wavs = self._check_input(wavs)
        check_relative_lengths(lengths, wavs.shape[0])
        n_frames = None
        if lengths is not None:
            n_frames = self.valid_frames(lengths, wavs.shape[-1])
        feats = self.log_mel(
            wavs, blocked=wavs.device.type == "cpu", n_frames=n_frames
        )
        check_finite_features(feats, wavs)
        if lengths is None:
            # SpeechBrain's call pattern: the lengths reach the encoder only
            # relative to the batch's samples, so tell it the samples
            # (ast_sb.lobes.clip_frames, docs/DESIGN.md padding convention)
            grid = SampleGrid(
                int(wavs.shape[-1]), self.frame_length, self.frame_shift
            )
            attach_sample_grid(feats, grid)
        return feats

    def valid_frames(
        self, lengths: torch.Tensor, num_samples: int
    ) -> torch.Tensor:
        """Each clip's own number of frames (capped at the output length).

        Arguments
        ---------
        lengths : torch.Tensor
            Relative lengths ``[B]`` (of ``num_samples``).
        num_samples : int
            Samples of the padded batch waveform.

        Returns
        -------
        torch.Tensor
            Long ``[B]``: :func:`frame_count` of ``round(lengths * N)``
            samples, at most :meth:`num_frames` ``(N)``.

        Example
        -------
        >>> KaldiFbank().valid_frames(torch.tensor([1.0, 0.5]), 16000)
        tensor([98, 48])
        """
        samples = sample_counts(lengths, num_samples)
        frames = frame_count(samples, self.frame_length, self.frame_shift)
        return frames.clamp(max=self.num_frames(num_samples))

    def log_mel(
        self,
        wavs: torch.Tensor,
        blocked: bool = False,
        n_frames: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The feature computation of :meth:`forward`, without input checks.

        Traceable (``torch.jit.trace``, ``torch.export``) with
        ``blocked=False``; :meth:`forward` validates the input first.

        Arguments
        ---------
        wavs : torch.Tensor
            Float waveforms ``[B, N]``, ``N >= frame_length``.
        blocked : bool
            Compute the power spectra in cache-sized frame blocks (faster on
            CPU, where the whole batch's ``B x T x n_fft`` intermediates are
            memory-bound). Frames are independent and the mel product runs
            on the whole batch at once, so the output is the same.
        n_frames : torch.Tensor, optional
            Long ``[B]``: each clip's own number of frames; frames at or past
            it are 0 (the padding value, before normalisation), and frames
            past the longest clip are not computed.

        Returns
        -------
        torch.Tensor
            Features ``[B, T, n_mels]``.

        Example
        -------
        >>> fbank = KaldiFbank(target_length=50)
        >>> wavs = torch.randn(2, 16000) * 0.1
        >>> torch.equal(fbank.log_mel(wavs), fbank.log_mel(wavs, True))
        True
        """
        wavs = wavs.to(self.window.dtype)
        # [B, T, L] view of the overlapping frames (no copy)
        frames = wavs.unfold(-1, self.frame_length, self.frame_shift)
        n_out = frames.shape[1]
        if self.target_length is not None:
            # frames past the target length would be cut: skip them
            frames = frames[:, : self.target_length]
            n_out = self.target_length
        if n_frames is not None and not _tracing():
            # frames past the longest clip are all padding: skip them
            frames = frames[:, : max(1, int(n_frames.max()))]
        if blocked:
            step = max(1, self.cpu_block_frames // frames.shape[0])
            blocks = [
                self._power_spectrum(frames[:, t : t + step])
                for t in range(0, frames.shape[1], step)
            ]
            spec = blocks[0] if len(blocks) == 1 else torch.cat(blocks, 1)
        else:
            spec = self._power_spectrum(frames)
        mel = torch.matmul(spec, self.mel_matrix)
        feats = mel.clamp_min(torch.finfo(mel.dtype).eps).log()
        if n_frames is not None:
            index = torch.arange(feats.shape[1], device=feats.device)
            padding = index[None, :] >= n_frames.to(feats.device)[:, None]
            feats = feats.masked_fill(padding[:, :, None], 0.0)
        if feats.shape[1] != n_out:
            feats = pad_or_cut(feats, n_out)
        return feats

    def _power_spectrum(self, frames: torch.Tensor) -> torch.Tensor:
        """Kaldi's per-frame processing up to the power spectrum.

        DC removal, pre-emphasis, window and ``|rfft|^2``:
        ``[B, T, L]`` -> ``[B, T, n_fft // 2 + 1]``; the first subtraction
        materialises the (strided) frames.
        """
        if self.remove_dc_offset:
            frames = frames - frames.mean(dim=-1, keepdim=True)
        if self.preemphasis != 0.0:
            prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = frames - self.preemphasis * prev
        frames = frames * self.window
        basis = getattr(self, "dft_basis", None)
        if basis is not None:  # the real DFT as one MatMul (export graphs)
            spec = frames @ basis
            bins = basis.shape[-1] // 2
            return spec[..., :bins].pow(2.0) + spec[..., bins:].pow(2.0)
        return torch.fft.rfft(frames, n=self.n_fft).abs().pow(2.0)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return (
            f"sample_rate={self.sample_rate}, n_mels={self.n_mels}, "
            f"frame_length={self.frame_length}, "
            f"frame_shift={self.frame_shift}, window={self.window_type!r}, "
            f"target_length={self.target_length}"
        )


def real_dft_basis(frame_length: int, n_fft: int) -> torch.Tensor:
    """The real DFT of ``frame_length`` samples zero-padded to ``n_fft``,
    as one matrix: ``frames @ basis`` = ``[Re | Im]`` of
    ``torch.fft.rfft(frames, n=n_fft)``.

    Used by export graphs (:class:`ast_sb.export.model_export.TraceableFbank`):
    a MatMul runs in every ONNX / OpenVINO runtime, while the ONNX ``DFT``
    op crashed OpenVINO's ``read_model`` (2026.4).

    Arguments
    ---------
    frame_length : int
        Samples per frame (rows).
    n_fft : int
        DFT size (``n_fft // 2 + 1`` bins).

    Returns
    -------
    torch.Tensor
        ``[frame_length, 2 * (n_fft // 2 + 1)]`` float32 (computed in
        float64).

    Example
    -------
    >>> frames = torch.randn(3, 400, dtype=torch.float64)
    >>> spec = frames @ real_dft_basis(400, 512).double()
    >>> ref = torch.fft.rfft(frames, n=512)
    >>> bool(torch.allclose(spec[:, :257], ref.real, atol=1e-5))
    True
    >>> bool(torch.allclose(spec[:, 257:], ref.imag, atol=1e-5))
    True
    """
    n = torch.arange(frame_length, dtype=torch.float64)[:, None]
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[None, :]
    angle = 2.0 * math.pi * ((n * k) % n_fft) / n_fft
    return torch.cat([angle.cos(), -angle.sin()], dim=1).float()


class AudioSpectrogramNormalizer(torch.nn.Module):
    """AST feature normalisation ``(feats - mean) / (2 * std)``.

    Its ``forward(feats, lengths)`` signature fits the ``mean_var_norm``
    slot of SpeechBrain's ``EncoderClassifier``. Padded frames are normalised
    too (as in the original AST, they end up at ``-mean / (2 * std)``).

    Arguments
    ---------
    mean : float
        Dataset mean of the fbank features (default: AudioSet).
    std : float
        Dataset standard deviation of the fbank features (default: AudioSet).

    Example
    -------
    >>> norm = AudioSpectrogramNormalizer()
    >>> feats = torch.zeros(2, 1024, 128)
    >>> out = norm(feats)
    >>> out.shape
    torch.Size([2, 1024, 128])
    >>> round(out[0, 0, 0].item(), 5)
    0.46703
    >>> AudioSpectrogramNormalizer.from_dataset("esc50").mean
    -6.6268077
    """

    def __init__(self, mean: float = -4.2677393, std: float = 4.5689974):
        super().__init__()
        self.set_statistics(mean, std)

    def set_statistics(self, mean: float, std: float) -> None:
        """Sets the statistics (and ``constructor_args``, so an export
        writes the new ones).

        Arguments
        ---------
        mean : float
            Dataset mean of the fbank features.
        std : float
            Dataset standard deviation of the fbank features (> 0).

        Example
        -------
        >>> norm = AudioSpectrogramNormalizer()
        >>> norm.set_statistics(-6.5, 5.25)
        >>> norm.constructor_args
        {'mean': -6.5, 'std': 5.25}
        """
        if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0:
            raise ValueError(
                f"mean must be finite and std finite and > 0, got "
                f"mean={mean}, std={std}"
            )
        self.mean = float(mean)
        self.std = float(std)
        self.constructor_args = {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dataset(cls, name: str) -> "AudioSpectrogramNormalizer":
        """Builds the normaliser of a published AST checkpoint.

        Arguments
        ---------
        name : str
            One of the keys of :data:`DATASET_STATS` ("audioset", "esc50",
            "speechcommands"); case, "-" and "_" are ignored.

        Returns
        -------
        AudioSpectrogramNormalizer
            The normaliser with the dataset's mean and std.

        Example
        -------
        >>> AudioSpectrogramNormalizer.from_dataset("Speech_Commands").std
        5.5654526
        """
        key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
        if key not in DATASET_STATS:
            raise ValueError(
                f"Unknown dataset {name!r} for AST normalisation stats; "
                f"known: {sorted(DATASET_STATS)}. For your own data use "
                f"compute_dataset_stats() and pass mean/std explicitly."
            )
        mean, std = DATASET_STATS[key]
        return cls(mean=mean, std=std)

    def forward(
        self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Normalises features.

        Arguments
        ---------
        feats : torch.Tensor
            Features ``[B, T, F]``.
        lengths : torch.Tensor, optional
            Relative lengths; ignored (accepted for SpeechBrain
            compatibility).

        Returns
        -------
        torch.Tensor
            ``(feats - mean) / (2 * std)``, with the batch's sample count
            of ``feats`` if it has one (:mod:`ast_sb.lobes.clip_frames`).
        """
        return carry_sample_grid(feats, (feats - self.mean) / (self.std * 2))

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return f"mean={self.mean}, std={self.std}"


def compute_dataset_stats(
    batches: Iterable[
        Union[torch.Tensor, Tuple[torch.Tensor, Optional[torch.Tensor]]]
    ],
) -> Tuple[float, float]:
    """Mean and standard deviation of fbank features over a dataset.

    Statistics are accumulated in float64 over every valid (frame, mel bin)
    value, so the result does not depend on how the data is batched. Compute
    them on unpadded, unnormalised features (``KaldiFbank`` with
    ``target_length=None``), or pass relative lengths to skip padding.

    Arguments
    ---------
    batches : iterable
        Items are feature tensors ``[B, T, F]`` (or ``[T, F]``) or tuples
        ``(feats, lengths)`` where ``lengths`` are relative valid lengths
        ``[B]`` along T (``None`` = all valid).

    Returns
    -------
    tuple of float
        ``(mean, std)`` ready for :class:`AudioSpectrogramNormalizer`.

    Example
    -------
    >>> feats = torch.randn(4, 100, 128) * 3.0 - 5.0
    >>> mean, std = compute_dataset_stats([feats[:2], feats[2:]])
    >>> round(mean), round(std)
    (-5, 3)
    """
    # Chan et al. parallel update of (count, mean, sum of squared deviations)
    count = 0
    mean = 0.0
    m2 = 0.0
    for item in batches:
        if isinstance(item, (tuple, list)):
            feats, lengths = item[0], (item[1] if len(item) > 1 else None)
        else:
            feats, lengths = item, None
        feats = feats.detach().double()
        if feats.dim() == 2:
            feats = feats.unsqueeze(0)
        if feats.dim() != 3:
            raise ValueError(
                f"Expected features [B, T, F] or [T, F], got shape "
                f"{tuple(feats.shape)}"
            )
        if lengths is not None:
            n_t = feats.shape[1]
            valid = torch.round(lengths.double().cpu() * n_t).long()
            mask = length_to_mask(valid, n_t, torch.bool, feats.device)
            feats = feats[mask]  # [n_valid_frames, F]
        if not bool(torch.isfinite(feats).all()):
            raise ValueError("Features contain NaN or inf values")
        n_b = feats.numel()
        if n_b == 0:
            continue
        mean_b = feats.mean().item()
        m2_b = (feats - mean_b).pow(2).sum().item()
        delta = mean_b - mean
        new_count = count + n_b
        mean += delta * n_b / new_count
        m2 += m2_b + delta * delta * count * n_b / new_count
        count = new_count
    if count < 2:
        raise ValueError(
            f"Need at least 2 feature values to compute stats, got {count}"
        )
    return mean, math.sqrt(m2 / (count - 1))
