"""Checks of the tensors every entry point receives (one rule everywhere).

The front end (:class:`~ast_sb.lobes.features.KaldiFbank`), the encoder, the
inference interface and the Brain all validate their inputs with these
functions, so a bad value gets the same clear error, naming the value,
wherever it enters:

* waveforms (:func:`check_waveforms`) are float tensors ``[N]`` or
  ``[B, N]`` with ``B >= 1`` and ``N >= 1``; integer tensors are **rejected**
  (never cast silently: ``int16`` PCM cast to float is 32768 times too
  loud), with the scaling to apply in the message;
* relative lengths (:func:`check_relative_lengths`) are finite, in
  ``(0, 1]`` and of shape ``[B]`` matching the batch;
* features (:func:`check_finite_features`) and model scores
  (:func:`nonfinite_rows`) must be finite: a finite but huge waveform
  (e.g. amplitude 1e30) overflows float32 in the power spectrum, and the
  resulting NaN scores must never reach the output.

Authors
 * ast_sb developers 2026
"""

from typing import List, Optional, Sequence, Union

import torch

__all__ = [
    "check_finite_features",
    "check_relative_lengths",
    "check_waveforms",
    "nonfinite_rows",
]


def check_waveforms(wavs: torch.Tensor, name: str = "wavs") -> torch.Tensor:
    """Validates a waveform batch and returns it as ``[B, N]``.

    Arguments
    ---------
    wavs : torch.Tensor
        Waveforms ``[N]`` or ``[B, N]``, floating point, nominally in
        [-1, 1].
    name : str
        Name of the argument in error messages.

    Returns
    -------
    torch.Tensor
        The waveforms as ``[B, N]`` (a view, same dtype and device).

    Raises
    ------
    TypeError
        Not a tensor, or an integer / boolean / complex tensor.
    ValueError
        Wrong number of dimensions (e.g. ``[B, C, N]``), empty batch or
        zero samples.

    Example
    -------
    >>> check_waveforms(torch.zeros(16000)).shape
    torch.Size([1, 16000])
    >>> check_waveforms(torch.zeros(2, 3, 16000))
    Traceback (most recent call last):
    ...
    ValueError: wavs has shape (2, 3, 16000): expected mono waveforms [N] or [B, N]; a [batch, channels, time] tensor must be downmixed first (e.g. wavs.mean(dim=1))
    >>> check_waveforms(torch.zeros(2, 16000, dtype=torch.int16))
    Traceback (most recent call last):
    ...
    TypeError: wavs has integer dtype torch.int16: expected float waveforms in [-1, 1]; scale 16-bit PCM by 1/32768 (wavs.float() / 32768)
    """
    if not isinstance(wavs, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(wavs)}")
    if not wavs.is_floating_point():
        kind = "complex" if wavs.is_complex() else "integer"
        if wavs.dtype == torch.bool:
            kind = "boolean"
        hint = {
            torch.int16: "scale 16-bit PCM by 1/32768 (wavs.float() / 32768)",
            torch.int32: "scale 32-bit PCM by 1/2**31 (wavs.double() / 2**31)",
            torch.uint8: "scale 8-bit PCM as (wavs.float() - 128) / 128",
        }.get(wavs.dtype, "convert to float and scale to [-1, 1]")
        raise TypeError(
            f"{name} has {kind} dtype {wavs.dtype}: expected float waveforms "
            f"in [-1, 1]; {hint}"
        )
    if wavs.dim() == 1:
        wavs = wavs.unsqueeze(0)
    if wavs.dim() == 3:
        raise ValueError(
            f"{name} has shape {tuple(wavs.shape)}: expected mono waveforms "
            "[N] or [B, N]; a [batch, channels, time] tensor must be "
            f"downmixed first (e.g. {name}.mean(dim=1))"
        )
    if wavs.dim() != 2:
        raise ValueError(
            f"{name} has shape {tuple(wavs.shape)}: expected mono waveforms "
            "[N] or [B, N]"
        )
    if wavs.shape[0] == 0:
        raise ValueError(
            f"{name} is an empty batch (shape {tuple(wavs.shape)}): give at "
            "least one waveform"
        )
    if wavs.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 samples per clip (shape {tuple(wavs.shape)})"
        )
    return wavs


def check_relative_lengths(
    lengths: Optional[Union[torch.Tensor, Sequence[float]]],
    batch_size: int,
    name: str = "lengths",
) -> Optional[torch.Tensor]:
    """Validates SpeechBrain relative lengths of a batch.

    Each value is a clip's length divided by the padded batch length, so it
    must be finite and in ``(0, 1]``, one value per clip.

    Arguments
    ---------
    lengths : torch.Tensor or list of float, optional
        Relative lengths ``[B]``; ``None`` (all clips full length) is
        returned as is.
    batch_size : int
        Number of clips ``B`` of the batch the lengths belong to.
    name : str
        Name of the argument in error messages.

    Returns
    -------
    torch.Tensor or None
        The lengths as a float tensor ``[B]`` (same device as given; a
        floating-point tensor keeps its dtype, so float64 lengths stay exact
        to the sample).

    Raises
    ------
    ValueError
        Wrong shape, or a value that is NaN, inf, <= 0 or > 1 (the message
        names the index and the value).

    Example
    -------
    >>> check_relative_lengths(torch.tensor([1.0, 0.5]), 2)
    tensor([1.0000, 0.5000])
    >>> check_relative_lengths(torch.tensor([1.0, 0.5, 0.2]), 2)
    Traceback (most recent call last):
    ...
    ValueError: lengths has shape (3,) but the batch has 2 clips: give one relative length per clip
    >>> check_relative_lengths(torch.tensor([1.0, float("nan")]), 2)
    Traceback (most recent call last):
    ...
    ValueError: lengths[1] = nan is not finite: relative lengths are clip length / batch length, in (0, 1]
    >>> check_relative_lengths(torch.tensor([1.0, -0.5]), 2)
    Traceback (most recent call last):
    ...
    ValueError: lengths[1] = -0.5 is outside (0, 1]: relative lengths are clip length / batch length
    """
    if lengths is None:
        return None
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must be real numbers, got {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ValueError(
            f"{name} has shape {tuple(lengths.shape)} but the batch has "
            f"{batch_size} clips: give one relative length per clip"
        )
    if not lengths.is_floating_point():
        lengths = lengths.float()
    if torch.jit.is_tracing() or torch.compiler.is_exporting():
        return lengths  # values are unknown to an exporter's trace
    values = lengths.detach().cpu()
    bad = (~torch.isfinite(values)).nonzero().flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"{name}[{i}] = {float(values[i])} is not finite: relative "
            "lengths are clip length / batch length, in (0, 1]"
        )
    bad = ((values <= 0) | (values > 1)).nonzero().flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"{name}[{i}] = {float(values[i]):g} is outside (0, 1]: "
            "relative lengths are clip length / batch length"
        )
    return lengths


def nonfinite_rows(values: torch.Tensor) -> List[int]:
    """Indices of the rows (first dimension) holding a NaN or inf.

    Arguments
    ---------
    values : torch.Tensor
        Tensor ``[B, ...]`` (scores, embeddings, features).

    Returns
    -------
    list of int
        Batch items with at least one non-finite value.

    Example
    -------
    >>> nonfinite_rows(torch.tensor([[0.1, 0.9], [float("nan"), 0.0]]))
    [1]
    """
    if values.numel() == 0:
        return []
    finite = torch.isfinite(values.detach().reshape(values.shape[0], -1))
    return (~finite.all(dim=1)).nonzero().flatten().tolist()


def check_finite_features(feats: torch.Tensor, wavs: torch.Tensor) -> None:
    """Raises if features computed from finite waveforms are not finite.

    A finite waveform of huge amplitude (about 1e17 and more) overflows
    float32 in the power spectrum; the features are then inf and every
    score NaN.

    Arguments
    ---------
    feats : torch.Tensor
        Features ``[B, T, F]``.
    wavs : torch.Tensor
        The waveforms ``[B, N]`` they were computed from (for the message).

    Raises
    ------
    ValueError
        Naming the batch items and their peak amplitude.

    Example
    -------
    >>> wavs = torch.tensor([[0.5, -0.5], [1e30, 0.0]])
    >>> feats = torch.tensor([[[1.0]], [[float("inf")]]])
    >>> check_finite_features(feats, wavs)
    Traceback (most recent call last):
    ...
    ValueError: Features of batch items [1] are not finite (peak amplitude 1e+30): waveforms must be float in [-1, 1] (scale the audio down)
    """
    bad = nonfinite_rows(feats)
    if bad:
        peak = float(wavs[bad].detach().abs().max())
        raise ValueError(
            f"Features of batch items {bad} are not finite (peak amplitude "
            f"{peak:.3g}): waveforms must be float in [-1, 1] (scale the "
            "audio down)"
        )
