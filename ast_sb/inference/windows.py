"""Sliding windows over padded waveform batches and their score average.

One implementation for every path that classifies a clip longer than the
model's grid: the recipe's validation / test
(:meth:`ast_sb.training.brain.AudioSpectrogramTransformerBrain._windowed_forward`)
and the exported inference modules (:mod:`ast_sb.inference.pipeline`, used by
SpeechBrain's ``EncoderClassifier``, the interface and ``ast-sb classify``).

A clip of ``n`` samples gets ``1 + ceil(max(0, n - window) / hop)`` windows
starting at ``0, hop, 2 hop, ...`` (the last one ends at or after the clip's
end; :func:`window_bounds` lists them, and :func:`ast_sb.inference.tagging.iter_windows`
and :class:`ast_sb.inference.streaming.StreamingTagger` follow the same schedule).
Here every window
is a ``window``-sample waveform, zero-padded past the clip's end, with its
own real length, so the front end pads it by the project's padding
convention. The clip's score is the mean of its window probabilities
(softmax, or sigmoid for multi-label models); a clip with a single window
keeps that window's raw output.

Authors
 * ast_sb developers 2026
"""

from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = [
    "combine_window_scores",
    "run_by_length",
    "cut_windows",
    "grid_samples",
    "window_bounds",
    "window_count",
    "window_samples",
]

#: Floor of averaged probabilities before the log (as the recipe's test).
PROB_EPS = 1e-7


def window_count(num_samples: torch.Tensor, window: int, hop: int):
    """Number of windows of each clip.

    Arguments
    ---------
    num_samples : torch.Tensor
        Long ``[B]`` clip lengths in samples.
    window : int
        Window length in samples.
    hop : int
        Hop in samples.

    Returns
    -------
    torch.Tensor
        Long ``[B]``, at least 1.

    Example
    -------
    >>> window_count(torch.tensor([10, 100, 101, 250]), 100, 50)
    tensor([1, 1, 2, 4])
    """
    extra = (num_samples.long() - window).clamp(min=0)
    return 1 + torch.div(extra + hop - 1, hop, rounding_mode="floor")


def window_bounds(
    num_samples: int, window: int, hop: int
) -> List[Tuple[int, int]]:
    """The windows of a signal as ``(start, end)`` sample indices.

    Windows start at ``0, hop, 2 hop, ...``; there are
    :func:`window_count` of them and the last one ends at the signal's end
    (it may be shorter than ``window``; every other one is ``window`` long).

    Arguments
    ---------
    num_samples : int
        Samples of the signal (at least 1).
    window : int
        Window length in samples.
    hop : int
        Hop in samples.

    Returns
    -------
    list of tuple
        ``(start, end)`` of each window, ``end`` exclusive.

    Example
    -------
    >>> window_bounds(250, 100, 50)
    [(0, 100), (50, 150), (100, 200), (150, 250)]
    >>> window_bounds(260, 100, 100)
    [(0, 100), (100, 200), (200, 260)]
    >>> window_bounds(30, 100, 50)
    [(0, 30)]
    """
    if window < 1 or hop < 1:
        raise ValueError(
            f"window ({window}) and hop ({hop}) must be at least one sample"
        )
    count = int(window_count(torch.tensor([int(num_samples)]), window, hop))
    return [
        (k * hop, min(k * hop + window, int(num_samples))) for k in range(count)
    ]


def grid_samples(
    compute_features: torch.nn.Module, encoder: torch.nn.Module
) -> Optional[int]:
    """Longest clip (samples) whose frames all fit the model's time grid.

    The grid is the front end's ``target_length`` or else the encoder's;
    the frame geometry comes from the front end (``frame_length`` /
    ``frame_shift`` in samples, as :class:`~ast_sb.lobes.features.KaldiFbank`).

    Arguments
    ---------
    compute_features : torch.nn.Module
        The front end.
    encoder : torch.nn.Module
        The encoder.

    Returns
    -------
    int or None
        ``frame_length + (frames - 1) * frame_shift``, or None when the
        modules have no fixed grid (e.g. SpeechBrain's ``Fbank`` + ECAPA).

    Example
    -------
    >>> from ast_sb.lobes.features import KaldiFbank
    >>> grid_samples(KaldiFbank(target_length=100), torch.nn.Identity())
    16240
    """
    length = getattr(compute_features, "frame_length", None)
    shift = getattr(compute_features, "frame_shift", None)
    if not isinstance(length, int) or not isinstance(shift, int):
        return None
    frames = getattr(compute_features, "target_length", None)
    if not frames:
        frames = getattr(encoder, "target_length", None)
    if not isinstance(frames, int) or frames < 1:
        return None
    return length + (frames - 1) * shift


def window_samples(
    sample_rate: int,
    window_seconds: Optional[float],
    hop_seconds: Optional[float],
    grid: Optional[int],
) -> Tuple[Optional[int], Optional[int]]:
    """Window and hop in samples from the settings and the model's grid.

    Arguments
    ---------
    sample_rate : int
        Sampling rate in Hz.
    window_seconds : float, optional
        Window length; None: the model's grid.
    hop_seconds : float, optional
        Hop; None: the window.
    grid : int, optional
        :func:`grid_samples` of the model (None: no grid).

    Returns
    -------
    tuple
        ``(window, hop)`` in samples, or ``(None, None)`` without a window
        (no setting and no grid).

    Example
    -------
    >>> window_samples(16000, 5.0, 2.5, 82160)
    (80000, 40000)
    >>> window_samples(16000, None, None, 82160)
    (82160, 82160)
    """
    if window_seconds is None:
        if grid is None:
            return None, None
        window = int(grid)
    else:
        if not window_seconds > 0:
            raise ValueError(
                f"eval_window_seconds must be > 0, got {window_seconds}"
            )
        window = int(round(float(window_seconds) * sample_rate))
    if grid is not None and window > grid:
        raise ValueError(
            f"eval_window_seconds={window_seconds} ({window} samples) is "
            f"longer than the model's grid ({grid} samples = "
            f"{grid / sample_rate:.3f} s); the model would not see the end "
            "of each window. Use a shorter eval_window_seconds."
        )
    if hop_seconds is None:
        hop = window
    else:
        if not hop_seconds > 0:
            raise ValueError(f"eval_hop_seconds must be > 0, got {hop_seconds}")
        hop = int(round(float(hop_seconds) * sample_rate))
    if window < 1 or hop < 1:
        raise ValueError(
            f"window ({window}) and hop ({hop}) must be at least one sample"
        )
    return window, hop


def cut_windows(
    wavs: torch.Tensor, num_samples: torch.Tensor, window: int, hop: int
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cuts each clip of a padded batch into its windows (vectorised).

    Arguments
    ---------
    wavs : torch.Tensor
        Padded waveforms ``[B, N]``.
    num_samples : torch.Tensor
        Long ``[B]``: each clip's real number of samples.
    window : int
        Window length in samples.
    hop : int
        Hop in samples.

    Returns
    -------
    chunks : torch.Tensor
        ``[K, window]`` windows of all clips, clip by clip, zero past each
        clip's end.
    chunk_lengths : torch.Tensor
        ``[K]`` real samples of each window relative to ``window``.
    clip_index : torch.Tensor
        Long ``[K]``: the clip of each window.
    n_windows : torch.Tensor
        Long ``[B]``: windows per clip.

    Example
    -------
    >>> wavs = torch.arange(1.0, 11.0).repeat(2, 1)
    >>> chunks, lens, clip, n = cut_windows(wavs, torch.tensor([10, 3]), 4, 3)
    >>> chunks.tolist()
    [[1.0, 2.0, 3.0, 4.0], [4.0, 5.0, 6.0, 7.0], [7.0, 8.0, 9.0, 10.0], [1.0, 2.0, 3.0, 0.0]]
    >>> lens.tolist(), clip.tolist(), n.tolist()
    ([1.0, 1.0, 1.0, 0.75], [0, 0, 0, 1], [3, 1])
    """
    num_samples = num_samples.to(wavs.device).long()
    n_windows = window_count(num_samples, window, hop)
    max_windows = int(n_windows.max())
    total = wavs.shape[-1]
    padded = max(total, (max_windows - 1) * hop + window)
    if padded > total:
        wavs = F.pad(wavs, (0, padded - total))
    index = torch.arange(padded, device=wavs.device)
    # zero what lies past each clip's end (the padding of the batch is
    # zero already; this also holds for a batch padded with other values)
    wavs = wavs * (index[None, :] < num_samples[:, None])
    frames = wavs.unfold(-1, window, hop)[:, :max_windows]  # [B, W, L]
    starts = torch.arange(max_windows, device=wavs.device) * hop
    valid = starts[None, :] < (n_windows * hop)[:, None]  # [B, W]
    clip_index = torch.arange(wavs.shape[0], device=wavs.device)
    clip_index = clip_index[:, None].expand_as(valid)[valid]
    chunks = frames[valid]
    real = num_samples[clip_index] - starts.expand_as(valid)[valid]
    chunk_lengths = real.clamp(min=1, max=window).double() / window
    return chunks, chunk_lengths.float(), clip_index, n_windows


def combine_window_scores(
    outputs: torch.Tensor,
    clip_index: torch.Tensor,
    n_windows: torch.Tensor,
    multi_label: bool,
) -> torch.Tensor:
    """Clip scores from window outputs: mean of the window probabilities.

    Arguments
    ---------
    outputs : torch.Tensor
        ``[K, C]`` (or ``[K, 1, C]``) raw head outputs of the windows
        (log-probabilities or logits).
    clip_index : torch.Tensor
        Long ``[K]``: the clip of each window (clip by clip).
    n_windows : torch.Tensor
        Long ``[B]``: windows per clip.
    multi_label : bool
        Sigmoid probabilities (returned as logits of the mean) instead of
        softmax ones (returned as log of the mean).

    Returns
    -------
    torch.Tensor
        ``[B, C]``: the raw output of single-window clips, else
        ``log(mean p)`` (single-label) or ``logit(mean p)`` (multi-label).

    Example
    -------
    >>> out = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]))
    >>> combine_window_scores(
    ...     out, torch.tensor([0, 1, 1]), torch.tensor([1, 2]), False
    ... ).exp()
    tensor([[0.5000, 0.5000],
            [0.5500, 0.4500]])
    """
    scores = outputs.reshape(outputs.shape[0], -1).float()
    n_windows = n_windows.to(scores.device)
    clip_index = clip_index.to(scores.device)
    if multi_label:
        probs = torch.sigmoid(scores)
    else:
        probs = torch.softmax(scores, dim=-1)
    summed = torch.zeros(
        n_windows.shape[0], scores.shape[-1], device=scores.device
    ).index_add_(0, clip_index, probs)
    mean = summed / n_windows[:, None].to(probs.dtype)
    if multi_label:
        mean = mean.clamp(PROB_EPS, 1.0 - PROB_EPS)
        combined = torch.log(mean) - torch.log1p(-mean)
    else:
        combined = torch.log(mean.clamp(min=PROB_EPS))
    first = torch.cumsum(n_windows, 0) - n_windows
    single = scores[first.clamp(max=scores.shape[0] - 1)]
    return torch.where((n_windows == 1)[:, None], single, combined)


def run_by_length(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    wavs: torch.Tensor,
    num_samples: torch.Tensor,
    exact_padding: bool,
) -> torch.Tensor:
    """Runs ``fn(wavs, relative_lengths)`` so that each clip is exact.

    With a front end that applies the padding convention
    (``exact_padding``, e.g. :class:`~ast_sb.lobes.features.KaldiFbank`) the
    padded batch runs at once. Otherwise (e.g. SpeechBrain's ``Fbank``,
    which ignores lengths) clips of equal length run together at their own
    length, so each clip gets the output it gets alone.

    Arguments
    ---------
    fn : callable
        ``(wavs [b, n], lengths [b]) -> outputs [b, ...]``.
    wavs : torch.Tensor
        Padded waveforms ``[B, N]``.
    num_samples : torch.Tensor
        Long ``[B]``: real samples of each clip.
    exact_padding : bool
        Whether ``fn`` handles padding exactly.

    Returns
    -------
    torch.Tensor
        ``[B, ...]`` outputs, in batch order.

    Example
    -------
    >>> fn = lambda w, lens: w.sum(dim=1, keepdim=True) + w.shape[1]
    >>> wavs = torch.ones(2, 4)
    >>> run_by_length(fn, wavs, torch.tensor([4, 2]), False).tolist()
    [[8.0], [4.0]]
    """
    num_samples = num_samples.to(wavs.device).long()
    if exact_padding:
        lengths = num_samples.double() / wavs.shape[-1]
        return fn(wavs, lengths.float())
    outputs = None
    for n in torch.unique(num_samples).tolist():
        index = (num_samples == n).nonzero().flatten()
        ones = torch.ones(len(index), device=wavs.device)
        part = fn(wavs[index, : max(1, int(n))], ones)
        if outputs is None:
            outputs = part.new_zeros((wavs.shape[0],) + tuple(part.shape[1:]))
        outputs[index] = part
    return outputs
