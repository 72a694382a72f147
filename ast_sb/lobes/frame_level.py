"""Frame-level (sound event detection) head on the AST patch tokens.

The encoder's :meth:`forward_features` gives ``[B, 2 + P, D]`` tokens: the
cls and distillation tokens, then the ``P = f * t`` patch tokens in
(frequency, time) order. :class:`AudioSpectrogramTransformerFrameClassifier`
averages each time column over its ``f`` frequency rows, maps it to class
logits with one linear layer, and resamples the column logits (linear
interpolation between column centres) to a fixed frame rate
(``frame_hop`` seconds). A clip-level probability pools the frame
probabilities (linear-softmax, or attention pooling), so weak (clip) and
strong (onset / offset) labels train the same head.

Times: fbank frame ``i`` (Kaldi ``snip_edges``, 25 ms windows every 10 ms)
is centred at ``0.01 * i + 0.0125`` s; a time column ``j`` of a patch of
width ``w`` frames every ``tstride`` frames is centred at fbank frame
``j * tstride + (w - 1) / 2``; output frame ``k`` covers
``[k * frame_hop, (k + 1) * frame_hop)`` and is read at its centre.

Padding: a clip's output frames are those of its own duration
(:func:`output_frame_count`); its logits use its own valid columns only
(interpolation clamps at its last column) and its clip score pools its own
frames only, so with an encoder that masks padding
(``use_padding_mask=True``) a clip scores the same alone and in any padded
batch.

Authors
 * ast_sb developers 2026
"""

import math
from typing import Optional, Tuple

import torch
from torch import nn

from ast_sb.lobes.model import NUM_PREFIX_TOKENS

__all__ = [
    "AudioSpectrogramTransformerFrameClassifier",
    "output_frame_count",
    "FRAME_SHIFT",
    "FRAME_LENGTH",
]

FRAME_SHIFT = 0.01  # fbank frame shift in seconds (160 samples at 16 kHz)
FRAME_LENGTH = 0.025  # fbank window in seconds (400 samples at 16 kHz)
POOLINGS = ("linear_softmax", "attention")


def output_frame_count(
    n_fbank_frames: torch.Tensor, frame_hop: float
) -> torch.Tensor:
    """Output frames of clips with ``n_fbank_frames`` fbank frames each.

    A clip of ``n`` fbank frames spans ``(n - 1) * 0.01 + 0.025`` s; it gets
    ``ceil(span / frame_hop)`` output frames (at least 1). Frame targets
    (:mod:`ast_sb.dataio.strong_labels`) use the same count.

    Arguments
    ---------
    n_fbank_frames : torch.Tensor
        Integer tensor of fbank frame counts.
    frame_hop : float
        Output frame hop in seconds.

    Returns
    -------
    torch.Tensor
        Long tensor of the same shape.

    Example
    -------
    >>> output_frame_count(torch.tensor([998, 498, 1]), 0.04).tolist()
    [250, 125, 1]
    """
    n = n_fbank_frames.long().clamp(min=1)
    # in integer tenths of a millisecond, so no float rounding decides
    span = (n - 1) * round(FRAME_SHIFT * 1e4) + round(FRAME_LENGTH * 1e4)
    hop = round(frame_hop * 1e4)
    if hop <= 0 or abs(hop - frame_hop * 1e4) > 1e-6:
        raise ValueError(
            f"frame_hop must be a positive multiple of 0.1 ms, got {frame_hop}."
        )
    return torch.div(span + hop - 1, hop, rounding_mode="floor").clamp(min=1)


class AudioSpectrogramTransformerFrameClassifier(nn.Module):
    """Per-frame class logits and a pooled clip probability from AST tokens.

    Arguments
    ---------
    input_size : int
        Token width D of the encoder.
    n_classes : int
        Number of event classes C.
    f_dim : int
        Frequency rows of the encoder's patch grid (``encoder.f_dim``).
    tstride : int
        Time stride of the patches in fbank frames.
    patch_width : int
        Patch width in fbank frames (``patch_shape[1]``).
    frame_hop : float
        Output frame hop in seconds (e.g. 0.04; frame-based patches with
        ``tstride`` 2 give 20 ms columns).
    pooling : str
        Clip pooling of the frame probabilities: ``"linear_softmax"``
        (``sum p^2 / sum p``) or ``"attention"`` (softmax over frames of a
        second linear layer's per-class scores).

    Example
    -------
    >>> head = AudioSpectrogramTransformerFrameClassifier(
    ...     8, 3, f_dim=2, tstride=10, patch_width=16, frame_hop=0.05
    ... )
    >>> tokens = torch.randn(2, 2 + 2 * 5, 8)  # 5 time columns
    >>> lengths = torch.tensor([1.0, 0.6])  # of 56 fbank frames
    >>> frames, clip, mask = head(tokens, lengths, n_frames=56)
    >>> frames.shape, clip.shape, mask.sum(1).tolist()
    (torch.Size([2, 12, 3]), torch.Size([2, 3]), [12, 8])
    """

    def __init__(
        self,
        input_size: int,
        n_classes: int,
        f_dim: int,
        tstride: int,
        patch_width: int,
        frame_hop: float = 0.04,
        pooling: str = "linear_softmax",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(
                f"pooling must be one of {POOLINGS}, got {pooling!r}."
            )
        for name, value in (
            ("f_dim", f_dim),
            ("tstride", tstride),
            ("patch_width", patch_width),
            ("n_classes", n_classes),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}.")
        output_frame_count(torch.tensor([1]), frame_hop)  # checks frame_hop
        self.f_dim = int(f_dim)
        self.tstride = int(tstride)
        self.patch_width = int(patch_width)
        self.frame_hop = float(frame_hop)
        self.pooling = pooling
        self.n_classes = int(n_classes)
        self.norm = nn.LayerNorm(input_size)
        self.linear = nn.Linear(input_size, n_classes)
        self.attention = (
            nn.Linear(input_size, n_classes) if pooling == "attention" else None
        )
        self.constructor_args = {
            "input_size": int(input_size),
            "n_classes": self.n_classes,
            "f_dim": self.f_dim,
            "tstride": self.tstride,
            "patch_width": self.patch_width,
            "frame_hop": self.frame_hop,
            "pooling": pooling,
        }

    @classmethod
    def for_encoder(
        cls, encoder: nn.Module, n_classes: int, **kwargs
    ) -> "AudioSpectrogramTransformerFrameClassifier":
        """The head matching an AST encoder's width and patch geometry.

        Example
        -------
        >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
        >>> enc = AudioSpectrogramTransformerEncoder(
        ...     "tiny224", target_length=64, depth=1,
        ...     patch_shape=(128, 2), fstride=128, tstride=2,
        ... )
        >>> head = AudioSpectrogramTransformerFrameClassifier.for_encoder(
        ...     enc, 4, frame_hop=0.02
        ... )
        >>> head.f_dim, head.tstride, head.patch_width
        (1, 2, 2)
        """
        embed = encoder.patch_embed
        return cls(
            encoder.embed_dim,
            n_classes,
            f_dim=encoder.f_dim,
            tstride=embed.tstride,
            patch_width=embed.patch_shape[1],
            **kwargs,
        )

    def valid_columns(self, n_fbank: torch.Tensor) -> torch.Tensor:
        """Time columns inside each clip (as the encoder's padding mask)."""
        columns = torch.div(
            n_fbank - self.patch_width, self.tstride, rounding_mode="floor"
        )
        return (columns + 1).clamp(min=1)

    def _column_positions(
        self, n_out: int, device: torch.device
    ) -> torch.Tensor:
        """Output frame centres [n_out] in (fractional) column units."""
        centres = (
            torch.arange(n_out, device=device, dtype=torch.float64) + 0.5
        ) * self.frame_hop
        # column j centred at fbank frame j * tstride + (w - 1) / 2
        first = (self.patch_width - 1) / 2 * FRAME_SHIFT + FRAME_LENGTH / 2
        return (centres - first) / (self.tstride * FRAME_SHIFT)

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: Optional[torch.Tensor] = None,
        n_frames: Optional[int] = None,
        n_output_frames: Optional[int] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frame logits, clip probabilities and the frame mask.

        Arguments
        ---------
        tokens : torch.Tensor
            ``forward_features`` output [B, 2 + f * t, D].
        lengths : torch.Tensor, optional
            Relative lengths [B] of the clips in fbank frames (1.0 =
            ``n_frames``); None: every clip fills the batch.
        n_frames : int, optional
            Fbank frames of the padded batch; None: the frames the columns
            cover, ``(t - 1) * tstride + patch_width``.
        n_output_frames : int, optional
            Output frames K of the batch (at least the largest clip's);
            None: the largest clip's count (a data-dependent size, which the
            ONNX export fixes to its window's count).

        Returns
        -------
        frame_logits : torch.Tensor
            [B, K, C], K the largest clip's output frame count; frames past
            a clip's own count repeat its last frame (use the mask).
        clip_probs : torch.Tensor
            [B, C] pooled over each clip's own frames, in [0, 1].
        mask : torch.Tensor
            Bool [B, K], True on each clip's own frames.
        """
        if tokens.dim() != 3:
            raise ValueError(
                f"Expected tokens [B, 2 + P, D], got shape {tuple(tokens.shape)}."
            )
        batch, n_tokens, dim = tokens.shape
        n_patches = n_tokens - NUM_PREFIX_TOKENS
        if n_patches < 1 or n_patches % self.f_dim:
            raise ValueError(
                f"{n_patches} patch tokens are not {self.f_dim} whole "
                "frequency rows (patchout and token budgets drop tokens; "
                "the frame-level head needs the full grid)."
            )
        t_dim = n_patches // self.f_dim
        grid = tokens[:, NUM_PREFIX_TOKENS:].reshape(
            batch, self.f_dim, t_dim, dim
        )
        columns = self.norm(grid.mean(dim=1))  # [B, t, D]
        col_logits = self.linear(columns)  # [B, t, C]
        if n_frames is None:
            n_frames = (t_dim - 1) * self.tstride + self.patch_width
        if lengths is None:
            lengths = torch.ones(batch, device=tokens.device)
        n_fbank = torch.round(lengths.double() * n_frames).long().clamp(min=1)
        n_cols = self.valid_columns(n_fbank).clamp(max=t_dim)
        n_out = output_frame_count(n_fbank, self.frame_hop)
        k_max = int(n_out.max()) if n_output_frames is None else n_output_frames
        pos = self._column_positions(k_max, tokens.device)[None, :]
        pos = torch.minimum(pos.clamp(min=0), (n_cols - 1)[:, None].double())
        low = pos.floor().long()
        high = torch.minimum(low + 1, (n_cols - 1)[:, None])
        weight = (pos - low.double()).to(col_logits.dtype)[..., None]
        n_classes = col_logits.shape[-1]

        def take(index):
            return col_logits.gather(
                1, index[..., None].expand(-1, -1, n_classes)
            )

        frame_logits = take(low) * (1 - weight) + take(high) * weight
        mask = (
            torch.arange(k_max, device=tokens.device)[None, :] < n_out[:, None]
        )
        clip_probs = self._pool(frame_logits, columns, low, mask)
        return frame_logits, clip_probs, mask

    def _pool(
        self,
        frame_logits: torch.Tensor,
        columns: torch.Tensor,
        low: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Clip probabilities [B, C] from each clip's own frames."""
        probs = torch.sigmoid(frame_logits)
        weights = mask[..., None].to(probs.dtype)
        if self.attention is None:
            num = (probs * probs * weights).sum(dim=1)
            den = (probs * weights).sum(dim=1)
            return num / den.clamp(min=torch.finfo(probs.dtype).tiny)
        # attention scores of the nearest-below column of each frame
        scores = self.attention(columns)
        scores = scores.gather(
            1, low[..., None].expand(-1, -1, scores.shape[-1])
        )
        scores = scores.masked_fill(~mask[..., None], -math.inf)
        attn = torch.softmax(scores, dim=1)
        return (attn * probs).sum(dim=1)
