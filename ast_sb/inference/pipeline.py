"""Exact waveform-to-scores modules for exported ``EncoderClassifier`` folders.

SpeechBrain's ``EncoderClassifier.encode_batch`` calls
``compute_features(wavs)`` without lengths, then
``mean_var_norm(feats, wav_lens)`` and ``embedding_model(feats, wav_lens)``
with relative lengths, then ``classifier(embeddings)``. Relative lengths
alone do not give each clip's exact frame count from features, so an
exported folder puts the whole front end where the lengths arrive:

* ``compute_features`` and ``mean_var_norm`` are :class:`WaveformPassThrough`
  (the waveform goes through unchanged);
* ``embedding_model`` is a :class:`WaveformEncoder`: it turns the relative
  lengths into exact sample counts (``round(wav_lens * N)``), cuts every
  clip into the sliding windows of the recipe's test
  (:mod:`ast_sb.inference.windows`), runs the trained front end with those lengths
  (padding convention: frames past a clip's end are 0 before
  normalisation), the normaliser and the encoder, and returns one
  embedding ``[B, 1, D]`` per clip (the mean of its window embeddings);
  the window embeddings travel with it as tensor attributes;
* ``classifier`` is a :class:`WindowedClassifier`: the trained head on each
  window, then the mean of the window probabilities
  (:func:`ast_sb.inference.windows.combine_window_scores`).

So ``classify_batch(wavs, wav_lens)`` gives each clip the scores of
``classify_file`` and of the recipe's test. Models without a time grid
(e.g. SpeechBrain's ``Fbank`` + ECAPA) have no windows unless the recipe set
``eval_window_seconds``; with a front end that ignores lengths (SpeechBrain's
``Fbank``), clips (windows) run in groups of equal length, each at its own
length (:func:`ast_sb.inference.windows.run_by_length`), as in the recipe's test.

Authors
 * ast_sb developers 2026
"""

import inspect
from typing import Optional

import torch
from torch import nn

from ast_sb.dataio.audio import AudioLoadError
from ast_sb.dataio.validation import check_relative_lengths, check_waveforms
from ast_sb.inference.fast import INFERENCE_PATHS, InferencePath
from ast_sb.inference.windows import (
    combine_window_scores,
    cut_windows,
    grid_samples,
    run_by_length,
    window_samples,
)
from ast_sb.lobes.features import sample_counts
from ast_sb.lobes.patches import PATCH_SIZE

__all__ = [
    "accepts_lengths",
    "WaveformEncoder",
    "WaveformPassThrough",
    "WindowedClassifier",
]


def accepts_lengths(module: nn.Module) -> bool:
    """Whether ``module(x, lengths)`` is a valid call.

    Arguments
    ---------
    module : torch.nn.Module
        Any module.

    Returns
    -------
    bool
        True when ``forward`` takes a second positional argument.

    Example
    -------
    >>> accepts_lengths(torch.nn.Identity()), accepts_lengths(WaveformPassThrough())
    (False, True)
    """
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 or any(
        p.kind == p.VAR_POSITIONAL for p in params
    )


class WaveformPassThrough(nn.Module):
    """``compute_features`` / ``mean_var_norm`` slot that keeps the waveform.

    Example
    -------
    >>> wavs = torch.randn(2, 100)
    >>> torch.equal(WaveformPassThrough()(wavs, torch.ones(2)), wavs)
    True
    """

    def forward(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Returns ``wavs`` unchanged.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]``.
        lengths : torch.Tensor, optional
            Ignored.

        Returns
        -------
        torch.Tensor
            ``wavs``.
        """
        return wavs


def _reset_after_load(module: "WaveformEncoder", _keys) -> None:
    """``load_state_dict`` post-hook: new weights, new inference path."""
    module.reset_fast_path()


class WaveformEncoder(nn.Module):
    """Front end + normaliser + encoder, exact per clip, with windows.

    Arguments
    ---------
    compute_features : torch.nn.Module
        The trained front end, ``(wavs, lengths) -> feats`` (e.g.
        :class:`~ast_sb.lobes.features.KaldiFbank`).
    mean_var_norm : torch.nn.Module
        The normaliser, ``(feats, lengths) -> feats``.
    encoder : torch.nn.Module
        The embedding model, ``(feats, lengths) -> [B, 1, D]``.
    sample_rate : int
        Sampling rate of the input (Hz).
    window_seconds : float, optional
        Sliding-window length (the recipe's ``eval_window_seconds``);
        default: the model's grid (no windows without a grid).
    hop_seconds : float, optional
        Hop between windows (``eval_hop_seconds``); default: the window.
    fast_path : str
        Inference path of the encoder (:class:`ast_sb.inference.fast.InferencePath`):
        "auto" (default: the fastest path within 1e-4 of fp32 on this
        machine), "fp32", "onednn", "int8" or "bf16". Used in eval mode
        without gradients; training runs the encoder as it is.

    Example
    -------
    >>> from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", depth=1, target_length=64
    ... )
    >>> model = WaveformEncoder(
    ...     KaldiFbank(target_length=64), AudioSpectrogramNormalizer(), enc
    ... ).eval()
    >>> model.window, model.hop
    (10480, 10480)
    >>> wavs = torch.randn(2, 16000) * 0.1
    >>> emb = model(wavs, torch.tensor([1.0, 0.5]))
    >>> emb.shape, emb.window_counts.tolist()
    (torch.Size([2, 1, 192]), [2, 1])
    >>> alone = model(wavs[1:, :8000])
    >>> bool((alone - emb[1:]).abs().max() < 1e-5)
    True
    """

    def __init__(
        self,
        compute_features: nn.Module,
        mean_var_norm: nn.Module,
        encoder: nn.Module,
        sample_rate: int = 16000,
        window_seconds: Optional[float] = None,
        hop_seconds: Optional[float] = None,
        fast_path: str = "auto",
    ):
        super().__init__()
        if fast_path not in INFERENCE_PATHS:
            raise ValueError(
                f"fast_path must be one of {INFERENCE_PATHS}, got "
                f"{fast_path!r}."
            )
        self.compute_features = compute_features
        self.mean_var_norm = mean_var_norm
        self.encoder = encoder
        self.sample_rate = int(sample_rate)
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.grid = grid_samples(compute_features, encoder)
        self.window, self.hop = window_samples(
            self.sample_rate, window_seconds, hop_seconds, self.grid
        )
        self._fast: Optional[InferencePath] = None
        self._fast_path = fast_path
        self._probe_scorer: Optional[nn.Module] = None
        # a quantised copy must follow new weights
        self.register_load_state_dict_post_hook(_reset_after_load)

    @property
    def fast_path(self) -> str:
        """The encoder's inference path ("auto", "fp32", "int8", ...)."""
        return self._fast_path

    @fast_path.setter
    def fast_path(self, path: str) -> None:
        if path not in INFERENCE_PATHS:
            raise ValueError(
                f"fast_path must be one of {INFERENCE_PATHS}, got {path!r}."
            )
        self._fast_path = path
        self._fast = None

    def reset_fast_path(self) -> None:
        """Forgets the path's cached choices and quantised copies."""
        self._fast = None

    def set_probe_scorer(self, head: Optional[nn.Module]) -> None:
        """The classifier head the bf16 probe checks top-1 classes with.

        Kept outside the module tree (not a submodule: no state_dict keys).

        Arguments
        ---------
        head : torch.nn.Module, optional
            ``[B, 1, D] -> [B, 1, C]`` scores, or None.
        """
        object.__setattr__(self, "_probe_scorer", head)
        self._fast = None

    @property
    def inference_path(self) -> InferencePath:
        """The :class:`~ast_sb.inference.fast.InferencePath` of the encoder."""
        if self._fast is None or self._fast.module is not self.encoder:
            self._fast = InferencePath(
                self.encoder, self._fast_path, scorer=self._probe_scorer
            )
        return self._fast

    @property
    def min_samples(self) -> int:
        """Shortest clip (samples) the model classifies: one frame when the
        front end pads to ``target_length``, else one patch (16 frames);
        the rule of every path (``classify_file`` / ``classify_batch``,
        the interface, ``ast-sb``)."""
        length = int(getattr(self.compute_features, "frame_length", 400))
        shift = int(getattr(self.compute_features, "frame_shift", 160))
        if getattr(self.compute_features, "target_length", None):
            return length
        return length + (PATCH_SIZE - 1) * shift

    def check_samples(self, num_samples: torch.Tensor) -> None:
        """Raises for a clip shorter than :attr:`min_samples`.

        Arguments
        ---------
        num_samples : torch.Tensor
            Long ``[B]``: each clip's sample count.

        Raises
        ------
        AudioLoadError
            Naming the clip, its length and the minimum.
        """
        short = (num_samples < self.min_samples).nonzero().flatten()
        if short.numel():
            item = int(short[0])
            n = int(num_samples[item])
            rate = self.sample_rate
            raise AudioLoadError(
                f"Audio too short: clip {item} of the batch has {n} samples "
                f"({n / rate:.3f} s); the model needs at least "
                f"{self.min_samples} samples ({self.min_samples / rate:.3f} s "
                f"at {rate} Hz)."
            )

    def _encode(self, feats: torch.Tensor, lengths) -> torch.Tensor:
        if self.training or torch.is_grad_enabled():
            return self._call(self.encoder, feats, lengths)
        if accepts_lengths(self.encoder):
            return self.inference_path(feats, lengths)
        return self.inference_path(feats)

    def _call(self, module: nn.Module, x: torch.Tensor, lengths):
        if accepts_lengths(module):
            return module(x, lengths)
        return module(x)

    def encode_clips(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Embeddings ``[B, 1, D]`` of clips (no windows), as in the recipe.

        Arguments
        ---------
        wavs : torch.Tensor
            Padded waveforms ``[B, N]``.
        lengths : torch.Tensor
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Encoder outputs.
        """
        feats = self._call(self.compute_features, wavs, lengths)
        frame_lengths = lengths
        convert = getattr(self.compute_features, "relative_frame_lengths", None)
        if convert is not None:
            frame_lengths = convert(lengths, wavs.shape[-1])
        return self.encode_features(feats, frame_lengths)

    def encode_features(
        self, feats: torch.Tensor, frame_lengths: torch.Tensor
    ) -> torch.Tensor:
        """Embeddings ``[B, 1, D]`` of front-end features (normaliser and
        encoder; :class:`ast_sb.inference.streaming.StreamingTagger` computes the
        features itself, frame by frame).

        Arguments
        ---------
        feats : torch.Tensor
            Unnormalised features ``[B, T, F]`` of the front end.
        frame_lengths : torch.Tensor
            Relative numbers of valid frames ``[B]``.

        Returns
        -------
        torch.Tensor
            Encoder outputs.
        """
        feats = self._call(self.mean_var_norm, feats, frame_lengths)
        return self._encode(feats, frame_lengths)

    def forward(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Clip embeddings of a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` (or ``[N]``).
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` (SpeechBrain convention).

        Returns
        -------
        torch.Tensor
            ``[B, 1, D]``: each clip's embedding (mean over its windows),
            with attributes ``window_embeddings`` ``[K, 1, D]``,
            ``window_clips`` ``[K]`` and ``window_counts`` ``[B]`` read by
            :class:`WindowedClassifier`.
        """
        wavs = check_waveforms(wavs).float()
        lengths = check_relative_lengths(lengths, wavs.shape[0])
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        num_samples = sample_counts(lengths, wavs.shape[-1]).to(wavs.device)
        self.check_samples(num_samples)
        exact = hasattr(self.compute_features, "valid_frames")
        if self.window is None:
            clips = torch.arange(wavs.shape[0], device=wavs.device)
            counts = torch.ones_like(clips)
            windows = run_by_length(self.encode_clips, wavs, num_samples, exact)
        else:
            chunks, chunk_lengths, clips, counts = cut_windows(
                wavs, num_samples, self.window, self.hop
            )
            chunk_samples = sample_counts(chunk_lengths, self.window)
            windows = run_by_length(
                self.encode_clips, chunks, chunk_samples, exact
            )
        summed = torch.zeros(
            (wavs.shape[0],) + tuple(windows.shape[1:]),
            dtype=windows.dtype,
            device=windows.device,
        ).index_add_(0, clips, windows)
        shape = (-1,) + (1,) * (windows.dim() - 1)
        embeddings = summed / counts.reshape(shape).to(windows.dtype)
        embeddings.window_embeddings = windows
        embeddings.window_clips = clips
        embeddings.window_counts = counts
        return embeddings

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return (
            f"sample_rate={self.sample_rate}, window={self.window}, "
            f"hop={self.hop}, fast_path={self.fast_path!r}"
        )


class WindowedClassifier(nn.Module):
    """The trained head, averaged over the windows of each clip.

    Arguments
    ---------
    head : torch.nn.Module
        The classifier, ``[B, 1, D] -> [B, 1, C]``.
    multi_label : bool
        Average sigmoid (True) or softmax (False) probabilities.

    Example
    -------
    >>> head = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 3), torch.nn.LogSoftmax(dim=-1)
    ... )
    >>> clf = WindowedClassifier(head)
    >>> clf(torch.randn(2, 1, 4)).shape
    torch.Size([2, 1, 3])
    """

    def __init__(self, head: nn.Module, multi_label: bool = False):
        super().__init__()
        self.head = head
        self.multi_label = bool(multi_label)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Clip scores ``[B, 1, C]``.

        Arguments
        ---------
        embeddings : torch.Tensor
            Output of :class:`WaveformEncoder` (window scores are averaged)
            or any ``[B, 1, D]`` (the head alone).

        Returns
        -------
        torch.Tensor
            The head's output for single-window clips, the log (logit) of
            the mean window probability otherwise.
        """
        windows = getattr(embeddings, "window_embeddings", None)
        if windows is None:
            return self.head(embeddings)
        outputs = self.head(windows)
        scores = combine_window_scores(
            outputs,
            embeddings.window_clips,
            embeddings.window_counts,
            self.multi_label,
        )
        return scores.unsqueeze(1).to(outputs.dtype)
