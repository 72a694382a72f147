"""Each clip's own frame count from relative lengths (padding convention).

SpeechBrain's recipes and ``EncoderClassifier.encode_batch`` call
``compute_features(wavs)`` without lengths, then ``mean_var_norm(feats,
lens)`` and ``embedding_model(feats, lens)`` with lengths relative to the
padded batch's **samples**. A clip's frame count cannot be recovered from
``lens`` and the batch's frame count ``T`` alone: ``T = 1 + (N - 400) //
160`` holds for 160 values of the batch's sample count ``N``, and a clip's
``frame_count(round(lens * N))`` can differ by one frame across them (28,365
samples next to 55,977: ``T = 348``, ``N`` in [55,920, 56,079], the clip in
[28,336, 28,417] samples, 175 or 176 frames). So
:class:`~ast_sb.lobes.features.KaldiFbank` called without lengths tells the
encoder the batch's sample count and frame geometry: a :class:`SampleGrid`
attached to the features (attribute ``ast_sb_sample_grid``), which
:class:`~ast_sb.lobes.features.AudioSpectrogramNormalizer` carries to its output.
:func:`clip_frame_counts` then gives each clip exactly ``frame_count(
round(lens * N))`` frames. Features without it (ast_sb's own paths, which
pass frame-relative lengths, or a front end that is not ``KaldiFbank``)
keep ``round(lens * T)``.

Authors
 * ast_sb developers 2026
"""

from dataclasses import dataclass
from typing import Optional

import torch

from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "SAMPLE_GRID_ATTRIBUTE",
    "ClipTooShortError",
    "SampleGrid",
    "attach_sample_grid",
    "carry_sample_grid",
    "clip_frame_counts",
    "sample_grid",
]


class ClipTooShortError(AudioSpectrogramTransformerError, ValueError):
    """A clip of a batch is shorter than one frame.

    Example
    -------
    >>> issubclass(ClipTooShortError, ValueError)
    True
    """


#: Name of the tensor attribute that holds a :class:`SampleGrid`.
SAMPLE_GRID_ATTRIBUTE = "ast_sb_sample_grid"


@dataclass(frozen=True)
class SampleGrid:
    """Samples and frame geometry of a padded batch's features.

    Arguments
    ---------
    num_samples : int
        Samples ``N`` of the padded batch waveform.
    frame_length : int
        Frame length in samples.
    frame_shift : int
        Frame shift in samples.
    center : bool
        Frames centred on ``k * frame_shift`` with zero padding (``torch.stft``
        with ``center=True``, SpeechBrain's ``STFT``): ``1 + n //
        frame_shift`` frames. False: Kaldi's ``snip_edges``.

    Example
    -------
    >>> grid = SampleGrid(55977, 400, 160)
    >>> grid.frames(torch.tensor([1.0, 28365 / 55977])).tolist()
    [348, 175]
    >>> SampleGrid(55977, 1024, 186, center=True).frames(torch.ones(1)).tolist()
    [301]
    """

    num_samples: int
    frame_length: int
    frame_shift: int
    center: bool = False

    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        """Each clip's frame count, long ``[B]``, of ``n = round(lengths *
        num_samples)`` samples: ``1 + (n - frame_length) // frame_shift``
        (may be < 1 for clips under one frame), or ``1 + n // frame_shift``
        with ``center``."""
        samples = torch.round(lengths.detach().double() * self.num_samples)
        samples = samples.long()
        if self.center:
            return 1 + torch.div(
                samples, self.frame_shift, rounding_mode="floor"
            )
        return 1 + torch.div(
            samples - self.frame_length,
            self.frame_shift,
            rounding_mode="floor",
        )


def attach_sample_grid(feats: torch.Tensor, grid: SampleGrid) -> torch.Tensor:
    """Attaches ``grid`` to ``feats`` (in place) and returns ``feats``.

    Arguments
    ---------
    feats : torch.Tensor
        Features ``[B, T, F]``.
    grid : SampleGrid
        Samples and frame geometry the features were computed from.

    Returns
    -------
    torch.Tensor
        ``feats``.

    Example
    -------
    >>> feats = attach_sample_grid(torch.zeros(1, 3, 2), SampleGrid(720, 400, 160))
    >>> sample_grid(feats).num_samples
    720
    """
    setattr(feats, SAMPLE_GRID_ATTRIBUTE, grid)
    return feats


def sample_grid(feats: torch.Tensor) -> Optional[SampleGrid]:
    """The :class:`SampleGrid` attached to ``feats``, or None.

    Arguments
    ---------
    feats : torch.Tensor
        Features.

    Returns
    -------
    SampleGrid or None
        What :func:`attach_sample_grid` attached.

    Example
    -------
    >>> sample_grid(torch.zeros(1, 3, 2)) is None
    True
    """
    grid = getattr(feats, SAMPLE_GRID_ATTRIBUTE, None)
    return grid if isinstance(grid, SampleGrid) else None


def carry_sample_grid(
    source: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Attaches ``source``'s :class:`SampleGrid` (if any) to ``target``
    (for modules that map features to features of the same frames, such
    as a normaliser).

    Arguments
    ---------
    source : torch.Tensor
        Input features.
    target : torch.Tensor
        Output features (same batch and frames).

    Returns
    -------
    torch.Tensor
        ``target``.

    Example
    -------
    >>> feats = attach_sample_grid(torch.zeros(1, 3, 2), SampleGrid(720, 400, 160))
    >>> sample_grid(carry_sample_grid(feats, feats + 1)).num_samples
    720
    """
    grid = sample_grid(source)
    if grid is not None and target is not source:
        attach_sample_grid(target, grid)
    return target


def clip_frame_counts(
    lengths: torch.Tensor, feats: torch.Tensor
) -> torch.Tensor:
    """Each clip's own number of frames in a padded batch of features.

    With a :class:`SampleGrid` on ``feats`` (``KaldiFbank`` called without
    lengths), ``lengths`` are relative to the batch's samples and a clip
    has ``frame_count(round(lengths * N))`` frames, the count it has alone;
    a clip under one frame raises. Without one, ``lengths`` are relative
    to the ``T`` frames: ``round(lengths * T)``. Either way at least 1 and
    at most ``T`` (the front end's ``target_length`` cuts longer clips).

    Arguments
    ---------
    lengths : torch.Tensor
        Relative lengths ``[B]`` in (0, 1].
    feats : torch.Tensor
        Features ``[B, T, F]`` (``T`` before any padding to one patch).

    Returns
    -------
    torch.Tensor
        Long ``[B]`` frame counts, on ``lengths``' device.

    Raises
    ------
    ClipTooShortError
        A clip is shorter than one frame (names the clip and its samples).

    Example
    -------
    >>> feats = torch.zeros(2, 348, 4)
    >>> lens = torch.tensor([1.0, 28365 / 55977])
    >>> clip_frame_counts(lens, feats).tolist()  # frame-relative: 176 is wrong
    [348, 176]
    >>> grid = SampleGrid(55977, 400, 160)
    >>> clip_frame_counts(lens, attach_sample_grid(feats, grid)).tolist()
    [348, 175]
    """
    n_frames = feats.shape[1]
    grid = sample_grid(feats)
    if grid is None:
        frames = torch.round(lengths.float() * n_frames).long()
        return frames.clamp(min=1, max=n_frames)
    frames = grid.frames(lengths)
    short = (frames < 1).nonzero().flatten()
    if short.numel():
        item = int(short[0])
        samples = int(round(float(lengths[item]) * grid.num_samples))
        raise ClipTooShortError(
            f"Clip {item} of the batch has {samples} samples, shorter than "
            f"one frame ({grid.frame_length} samples); every clip needs at "
            "least one frame."
        )
    return frames.clamp(max=n_frames)
