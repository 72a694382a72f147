"""Audio Spectrogram Transformer (AST) encoder (and, re-exported, its head).

Implements the model of

    Y. Gong, Y.-A. Chung, J. Glass, "AST: Audio Spectrogram Transformer",
    Interspeech 2021.

A log-mel spectrogram [B, T, F] is cut into overlapping 16x16 patches
(strides ``fstride``/``tstride``), embedded, prefixed with a cls and a
distillation token (DeiT), given learned position embeddings and run through
a ViT encoder built from ``timm`` blocks (SDPA attention). The output is the
mean of the cls and distillation tokens after the final LayerNorm, shaped
[B, 1, D] like other SpeechBrain embedding models, so the encoder can replace
the ``embedding_model`` of a SpeechBrain classification recipe. The patch
grid and embedding live in :mod:`ast_sb.lobes.patches`, the classification
head in :mod:`ast_sb.lobes.classifier`; both are importable from here too.

Authors
 * ast_sb developers 2026
"""

from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn.functional as F
from timm.models import checkpoint
from timm.models._features import feature_take_indices
from timm.models.vision_transformer import Block
from torch import nn

from ast_sb.dataio.validation import check_relative_lengths
from ast_sb.lobes.classifier import (
    AudioSpectrogramTransformerClassifier as AudioSpectrogramTransformerClassifier,
)
from ast_sb.lobes.clip_frames import clip_frame_counts
from ast_sb.lobes.patches import (
    NUM_PREFIX_TOKENS,
    PATCH_SIZE,
    POSITION_GRID_METADATA as POSITION_GRID_METADATA,
    PatchEmbedding,
    patch_grid_size,
    record_position_grid,
)
from ast_sb.lobes.position_embedding import clip_time_grids, tokens_to_grid
from ast_sb.lobes.prefix_block import prefix_block_forward
from ast_sb.lobes.token_budget import (
    check_token_budget,
    check_token_budget_axes,
    select_budget_tokens,
)

MODEL_SIZES: Dict[str, Dict[str, int]] = {
    "tiny224": {"embed_dim": 192, "depth": 12, "num_heads": 3},
    "small224": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "base224": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "base384": {"embed_dim": 768, "depth": 12, "num_heads": 12},
}
"""Transformer dimensions of the DeiT sizes AST supports (timm names)."""


class AudioSpectrogramTransformerEncoder(nn.Module):
    """AST encoder: spectrogram [B, T, F] -> utterance embedding [B, 1, D].

    Arguments
    ---------
    size : str
        One of ``MODEL_SIZES`` (tiny224, small224, base224, base384); sets the
        width, depth and heads unless given explicitly.
    n_mels : int
        Number of mel bins of the input.
    target_length : int
        Number of frames of the position-embedding time grid. Shorter inputs
        use the prefix of that grid; longer inputs are handled as
        ``long_inputs`` says. Inputs shorter than one patch (16 frames) are
        padded with zeros at the end.
    fstride : int
        Patch stride along frequency.
    tstride : int
        Patch stride along time.
    patch_shape : tuple of int
        (frequency, time) size of a patch: 16x16 (AST, SSAST patch-based)
        or e.g. 128x2 (SSAST frame-based, with ``n_mels=128`` and
        ``fstride=128``). Pretrained weights only load into an encoder with
        the same patch shape.
    embed_dim : int, optional
        Overrides the width of ``size``.
    depth : int, optional
        Overrides the number of blocks of ``size``.
    num_heads : int, optional
        Overrides the number of attention heads of ``size``.
    mlp_ratio : float
        Hidden size of the MLP relative to ``embed_dim``.
    layer_norm_eps : float
        LayerNorm epsilon of the blocks and the final norm (1e-6 in the
        original AST; the HF port uses 1e-12).
    drop_rate : float
        Dropout after the attention projection and the MLP.
    attn_drop_rate : float
        Dropout on the attention weights.
    drop_path_rate : float
        Stochastic depth, linearly increasing over the blocks.
    use_padding_mask : bool
        If True, ``lengths`` passed to forward mask padded time patches out
        of attention, and time-patch columns that are padding in every clip of
        the batch are not computed at all. A clip inside a padded batch then
        gives the same output as that clip alone at its own length.
    patchout : str, optional
        PaSST-style patchout during training only: "structured" drops whole
        time columns and frequency rows, "unstructured" drops random patches.
        Evaluation always sees every patch.
    patchout_time : float
        Fraction of time columns ("structured") or of patches
        ("unstructured") dropped in training.
    patchout_freq : float
        Fraction of frequency rows dropped in training ("structured").
    long_inputs : str
        What an input with more than ``target_length`` frames gets:
        "interpolate" (default) stretches the time grid of the position
        embedding bilinearly to the input's patch columns (as the original
        AST adapts a checkpoint to another length), so SpeechBrain front ends
        that do not cut (e.g. 5 s ESC-50 clips) work at any length; "error"
        raises a ``ValueError`` naming ``target_length``.
    grad_checkpointing : bool
        Recompute each block's activations in the backward pass instead of
        keeping them (see :meth:`set_grad_checkpointing`); saves memory in
        training (base384 at 1024 frames on small GPUs), same gradients.
    token_budget : float
        Fraction of patch tokens kept at inference (eval mode only), in
        (0, 1]: whole frequency rows and time columns, evenly spaced and
        deterministic (:mod:`ast_sb.lobes.token_budget`), for less compute on a
        model trained with structured patchout. 1.0 (default): every patch.
    token_budget_axes : str
        Where the budget drops patches: "both" (rows and columns, default),
        "time" (columns) or "frequency" (rows).

    The forward is split as in timm's ViT: :meth:`forward_features`
    (all tokens after the final LayerNorm), :meth:`forward_head` (mean of
    the cls and distillation tokens) and :meth:`forward_intermediates`
    (block outputs, for probing). :meth:`no_weight_decay` and
    :meth:`group_matcher` tell an optimizer which parameters get no weight
    decay and which layer each parameter belongs to (layer-wise lr decay).

    The constructor arguments are kept in ``constructor_args`` (a dict) for
    export. The encoder deliberately has no ``config`` attribute: SpeechBrain
    recipes (ESC-50) take any ``embedding_model`` with a ``config`` for a
    Hugging Face model.

    Example
    -------
    >>> encoder = AudioSpectrogramTransformerEncoder(
    ...     size="tiny224", target_length=128, depth=2
    ... )
    >>> feats = torch.randn(3, 128, 128)
    >>> encoder(feats).shape
    torch.Size([3, 1, 192])
    >>> encoder(feats[:, :64]).shape
    torch.Size([3, 1, 192])
    >>> encoder(torch.randn(1, 300, 128)).shape  # longer than target_length
    torch.Size([1, 1, 192])
    >>> encoder(torch.randn(1, 5, 128)).shape  # shorter than one patch
    torch.Size([1, 1, 192])
    """

    LONG_INPUTS = ("interpolate", "error")

    def __init__(
        self,
        size: str = "base384",
        n_mels: int = 128,
        target_length: int = 1024,
        fstride: int = 10,
        tstride: int = 10,
        patch_shape: Tuple[int, int] = (PATCH_SIZE, PATCH_SIZE),
        embed_dim: Optional[int] = None,
        depth: Optional[int] = None,
        num_heads: Optional[int] = None,
        mlp_ratio: float = 4.0,
        layer_norm_eps: float = 1e-6,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        use_padding_mask: bool = False,
        patchout: Optional[str] = None,
        patchout_time: float = 0.0,
        patchout_freq: float = 0.0,
        long_inputs: str = "interpolate",
        grad_checkpointing: bool = False,
        token_budget: float = 1.0,
        token_budget_axes: str = "both",
    ):
        super().__init__()
        self.token_budget = check_token_budget(token_budget)
        self.token_budget_axes = check_token_budget_axes(token_budget_axes)
        if long_inputs not in self.LONG_INPUTS:
            raise ValueError(
                f"long_inputs must be one of {self.LONG_INPUTS}, got "
                f"{long_inputs!r}."
            )
        if size not in MODEL_SIZES:
            raise ValueError(
                f"Unknown AST size {size!r}; choose one of {sorted(MODEL_SIZES)}."
            )
        if patchout not in (None, "structured", "unstructured"):
            raise ValueError(
                f"patchout must be None, 'structured' or 'unstructured', "
                f"got {patchout!r}."
            )
        for name, value in (
            ("patchout_time", patchout_time),
            ("patchout_freq", patchout_freq),
        ):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}.")
        dims = dict(MODEL_SIZES[size])
        embed_dim = embed_dim or dims["embed_dim"]
        depth = depth or dims["depth"]
        num_heads = num_heads or dims["num_heads"]
        self.constructor_args = {
            "size": size,
            "n_mels": n_mels,
            "target_length": target_length,
            "fstride": fstride,
            "tstride": tstride,
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": num_heads,
            "mlp_ratio": mlp_ratio,
            "layer_norm_eps": layer_norm_eps,
            "use_padding_mask": use_padding_mask,
            "long_inputs": long_inputs,
        }
        self.long_inputs = long_inputs
        if tuple(patch_shape) != (PATCH_SIZE, PATCH_SIZE):
            self.constructor_args["patch_shape"] = [int(v) for v in patch_shape]
        if self.token_budget != 1.0:
            self.constructor_args["token_budget"] = self.token_budget
        if self.token_budget_axes != "both":
            self.constructor_args["token_budget_axes"] = token_budget_axes
        self.n_mels = n_mels
        self.target_length = target_length
        self.embed_dim = embed_dim
        self.use_padding_mask = use_padding_mask
        self.patchout = patchout
        self.patchout_time = patchout_time
        self.patchout_freq = patchout_freq
        self.f_dim, self.t_dim = patch_grid_size(
            n_mels, target_length, fstride, tstride, tuple(patch_shape)
        )

        self.patch_embed = PatchEmbedding(
            embed_dim, fstride, tstride, tuple(patch_shape)
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(
            torch.zeros(
                1, NUM_PREFIX_TOKENS + self.f_dim * self.t_dim, embed_dim
            )
        )
        self.pos_drop = nn.Dropout(drop_rate)
        drop_paths = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=True,
                proj_drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=drop_paths[i],
                norm_layer=partial(nn.LayerNorm, eps=layer_norm_eps),
            )
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps)
        self.grad_checkpointing = False
        self.set_grad_checkpointing(grad_checkpointing)
        self.register_state_dict_post_hook(record_position_grid)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random initialisation as in timm's ViT (truncated normal 0.02)."""
        for param in (self.cls_token, self.dist_token, self.pos_embed):
            nn.init.trunc_normal_(param, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> Set[str]:
        """Parameters that get no weight decay (as timm's ViT): the
        position embedding and the cls and distillation tokens (1-d
        parameters are left out of weight decay by the optimizer setup
        anyway, see :mod:`ast_sb.training.param_groups`).

        Returns
        -------
        set of str
            Parameter names.

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
        >>> sorted(enc.no_weight_decay())
        ['cls_token', 'dist_token', 'pos_embed']
        """
        return {"pos_embed", "cls_token", "dist_token"}

    def group_matcher(self, coarse: bool = False) -> Dict[str, object]:
        """Regular expressions grouping the parameters by layer, in timm's
        format (``timm.models.group_parameters``): the embedding (patch
        embedding, position embedding, cls and distillation tokens) is the
        first layer, then one layer per block; the final LayerNorm joins
        the last block's layer (timm's ``MATCH_PREV_GROUP``).

        Arguments
        ---------
        coarse : bool
            Unused (kept for timm's interface: the blocks are always
            grouped one by one).

        Returns
        -------
        dict
            ``{"stem": regex, "blocks": [(regex, suffix), ...]}``.

        Example
        -------
        >>> from timm.models import group_parameters
        >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=2)
        >>> layers = group_parameters(enc, enc.group_matcher(), reverse=True)
        >>> [layers[n] for n in ("pos_embed", "blocks.1.mlp.fc1.weight", "norm.bias")]
        [0, 2, 2]
        """
        return {
            "stem": r"^cls_token|^dist_token|^pos_embed|^patch_embed",
            "blocks": [(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        }

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Turns gradient checkpointing of the blocks on or off.

        With it, a block's activations are not kept for the backward pass
        but recomputed there (``torch.utils.checkpoint``, non-reentrant,
        with the RNG state of the forward, so dropout and drop path draw the
        same): less memory, the same gradients, about one more forward of
        the blocks per step. Only forwards that need gradients are affected.

        Arguments
        ---------
        enable : bool
            True to checkpoint.

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
        >>> enc.set_grad_checkpointing()
        >>> enc.grad_checkpointing
        True
        """
        self.grad_checkpointing = bool(enable)

    @property
    def grid_size(self) -> Tuple[int, int]:
        """(f_dim, t_dim) of the position-embedding grid."""
        return self.f_dim, self.t_dim

    def valid_time_patches(
        self, lengths: torch.Tensor, n_frames: int
    ) -> torch.Tensor:
        """Number of time-patch columns fully inside each clip's frames.

        Arguments
        ---------
        lengths : torch.Tensor
            Relative lengths [B] (1.0 = ``n_frames``).
        n_frames : int
            Number of frames of the padded batch.

        Returns
        -------
        torch.Tensor
            Long tensor [B] of valid time columns (at least 1).

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
        >>> enc.valid_time_patches(torch.tensor([1.0, 0.5]), 1024).tolist()
        [101, 50]
        """
        frames = torch.round(lengths.float() * n_frames).long()
        return self.time_patches_of_frames(frames)

    def time_patches_of_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Number of time-patch columns fully inside each clip's frames.

        Arguments
        ---------
        frames : torch.Tensor
            Long ``[B]``: each clip's own number of frames.

        Returns
        -------
        torch.Tensor
            Long tensor [B] of valid time columns (at least 1: a clip
            shorter than one patch is zero-padded to one patch).

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
        >>> enc.time_patches_of_frames(torch.tensor([175, 176, 5])).tolist()
        [16, 17, 1]
        """
        stride = self.patch_embed.tstride
        width = self.patch_embed.patch_shape[1]
        columns = torch.div(frames - width, stride, rounding_mode="floor")
        return (columns + 1).clamp(min=1)

    def _patch_position_embedding(
        self, t_dim: int, columns: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Patch position embeddings of ``t_dim`` time columns: the first
        ``t_dim`` columns of the grid, or, for an input longer than
        ``target_length``, the grid linearly stretched along time to the
        clip's own ``columns`` (each clip gets the grid it gets alone, so a
        long clip in the batch does not stretch the others': ``[B, D, f,
        t_dim]``; without ``columns`` every clip has ``t_dim``)."""
        grid = tokens_to_grid(
            self.pos_embed[:, NUM_PREFIX_TOKENS:], self.f_dim, self.t_dim
        )
        if t_dim <= self.t_dim:
            return grid[:, :, :, :t_dim]
        if columns is None or bool((columns == t_dim).all()):
            columns = torch.full((1,), t_dim, device=grid.device)
        return clip_time_grids(grid, columns, t_dim)

    def _pad_short_input(self, feats: torch.Tensor) -> torch.Tensor:
        """Zero-pads inputs shorter than one patch (16 frames, or the
        patch width of a frame-based encoder) to one patch."""
        n_frames = feats.shape[1]
        width = self.patch_embed.patch_shape[1]
        if n_frames >= width:
            return feats
        return F.pad(feats, (0, 0, 0, width - n_frames))

    def embed(
        self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Tokens [B, N, D] and the key padding mask [B, N] (or None).

        Arguments
        ---------
        feats : torch.Tensor
            Spectrogram [B, T, F].
        lengths : torch.Tensor, optional
            Relative lengths [B]; used only with ``use_padding_mask``.

        Returns
        -------
        tokens : torch.Tensor
            cls, distillation and patch tokens with position embeddings.
        key_mask : torch.Tensor or None
            Boolean [B, N], True where a token may be attended to; None when
            every token is valid.
        """
        if feats.dim() != 3 or feats.shape[-1] != self.n_mels:
            raise ValueError(
                f"AST expects features [batch, time, {self.n_mels}], "
                f"got shape {tuple(feats.shape)}."
            )
        if feats.shape[1] == 0:
            raise ValueError("AST got an input with 0 frames.")
        lengths = check_relative_lengths(lengths, feats.shape[0])
        frames = None
        if self.use_padding_mask and lengths is not None:
            # each clip's own frames (ast_sb.lobes.clip_frames: from its samples
            # when the front end tells the batch's sample count)
            frames = clip_frame_counts(lengths, feats).to(feats.device)
        feats = self._pad_short_input(feats)
        n_frames = feats.shape[1]
        width = self.patch_embed.patch_shape[1]
        if n_frames > self.target_length and self.long_inputs == "error":
            raise ValueError(
                f"Input has {n_frames} frames but the encoder was built for "
                f"target_length={self.target_length} with "
                "long_inputs='error'; set the encoder's target_length (YAML "
                f"key target_length) to at least {n_frames}, cut the "
                "features, or use long_inputs='interpolate'."
            )
        valid_columns = None
        # torch.export knows no values: the graph keeps every column and
        # masks always (the same tokens, without data-dependent branches)
        exporting = torch.compiler.is_exporting()
        if frames is not None:
            valid_columns = self.time_patches_of_frames(frames)
            # Columns that are padding in every clip are never computed.
            if not exporting:
                keep = int(valid_columns.max())
                end = (keep - 1) * self.patch_embed.tstride + width
                feats = feats[:, :end]
            if exporting or bool((frames < width).any()):
                # A clip under one patch reads zeros past its frames, as
                # alone (where the input is zero-padded to one patch).
                index = torch.arange(feats.shape[1], device=feats.device)
                padding = index[None, :] >= frames[:, None]
                feats = feats.masked_fill(padding[:, :, None], 0.0)

        patches = self.patch_embed(feats)  # [B, D, f, t]
        batch, _, f_dim, t_dim = patches.shape
        patches = patches + self._patch_position_embedding(t_dim, valid_columns)
        key_mask = None
        if valid_columns is not None and (
            exporting or bool((valid_columns < t_dim).any())
        ):
            column_ok = (
                torch.arange(t_dim, device=feats.device)
                < valid_columns[:, None]
            )
            key_mask = column_ok[:, None, :].expand(batch, f_dim, t_dim)
        if self.training and self.patchout == "structured":
            patches, key_mask = self._structured_patchout(patches, key_mask)
        tokens = patches.flatten(2).transpose(1, 2)
        if key_mask is not None:
            key_mask = key_mask.flatten(1)
        if self.training and self.patchout == "unstructured":
            tokens, key_mask = self._unstructured_patchout(tokens, key_mask)
        if not self.training and self.token_budget < 1.0:
            tokens, key_mask = select_budget_tokens(
                tokens,
                (f_dim, t_dim),
                valid_columns,
                self.token_budget,
                self.token_budget_axes,
            )

        prefix = (
            torch.cat([self.cls_token, self.dist_token], dim=1)
            + self.pos_embed[:, :NUM_PREFIX_TOKENS]
        )
        tokens = torch.cat([prefix.expand(batch, -1, -1), tokens], dim=1)
        if key_mask is not None:
            prefix_ok = key_mask.new_ones(batch, NUM_PREFIX_TOKENS)
            key_mask = torch.cat([prefix_ok, key_mask], dim=1)
        return self.pos_drop(tokens), key_mask

    def _structured_patchout(
        self, patches: torch.Tensor, key_mask: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Drops random whole time columns and frequency rows (same for the
        batch), keeping their order."""
        _, _, f_dim, t_dim = patches.shape
        keep_t = max(1, t_dim - int(t_dim * self.patchout_time))
        keep_f = max(1, f_dim - int(f_dim * self.patchout_freq))
        device = patches.device
        t_idx = torch.randperm(t_dim, device=device)[:keep_t].sort().values
        f_idx = torch.randperm(f_dim, device=device)[:keep_f].sort().values
        patches = patches[:, :, f_idx][:, :, :, t_idx]
        if key_mask is not None:
            key_mask = key_mask[:, f_idx][:, :, t_idx]
        return patches, key_mask

    def _unstructured_patchout(
        self, tokens: torch.Tensor, key_mask: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Keeps a random subset of patches per clip (same count for all)."""
        batch, n_patches, dim = tokens.shape
        keep = max(1, n_patches - int(n_patches * self.patchout_time))
        scores = torch.rand(batch, n_patches, device=tokens.device)
        if key_mask is not None:
            # Padding patches are dropped first.
            scores = scores + key_mask.float()
        idx = scores.topk(keep, dim=1).indices.sort(dim=1).values
        tokens = tokens.gather(1, idx[:, :, None].expand(-1, -1, dim))
        if key_mask is not None:
            key_mask = key_mask.gather(1, idx)
        return tokens, key_mask

    def _run_blocks(
        self,
        tokens: torch.Tensor,
        key_mask: Optional[torch.Tensor],
        take: Sequence[int] = (),
        n_blocks: Optional[int] = None,
        prefix_only: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Runs the first ``n_blocks`` blocks (default all); returns the
        last output and the outputs of the blocks in ``take``. With
        ``prefix_only`` the last block computes the cls and distillation
        outputs only (:mod:`ast_sb.lobes.prefix_block`), so the last output is
        [B, 2, D]."""
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        recompute = self.grad_checkpointing and torch.is_grad_enabled()
        blocks = self.blocks[:n_blocks]
        taken = []
        for i, block in enumerate(blocks):
            run = block
            if prefix_only and i == len(blocks) - 1:
                run = partial(prefix_block_forward, block)
            if recompute:
                tokens = checkpoint(
                    run, tokens, attn_mask=attn_mask, use_reentrant=False
                )
            else:
                tokens = run(tokens, attn_mask=attn_mask)
            if i in take:
                taken.append(tokens)
        return tokens, taken

    def _encode(
        self,
        feats: torch.Tensor,
        lengths: Optional[torch.Tensor],
        prefix_only: bool = False,
    ) -> torch.Tensor:
        """Tokens [B, N, D] after the last block (before the final norm);
        with ``prefix_only`` the cls and distillation tokens [B, 2, D]."""
        tokens, key_mask = self.embed(feats, lengths)
        tokens, _ = self._run_blocks(tokens, key_mask, prefix_only=prefix_only)
        return tokens

    def forward_features(
        self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """All tokens after the blocks and the final LayerNorm.

        Arguments
        ---------
        feats : torch.Tensor
            Normalised fbank features [B, T, F].
        lengths : torch.Tensor, optional
            Relative lengths [B] (used with ``use_padding_mask``).

        Returns
        -------
        torch.Tensor
            [B, 2 + P, D]: the cls and distillation tokens, then the P patch
            tokens in (frequency, time) order. With the padding mask the
            tokens of padded time columns are included (they attended to
            the clip but nothing attended to them).

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder(
        ...     "tiny224", target_length=64, depth=1
        ... )
        >>> enc.forward_features(torch.randn(2, 64, 128)).shape
        torch.Size([2, 62, 192])
        """
        return self.norm(self._encode(feats, lengths))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Pools :meth:`forward_features` into the utterance embedding.

        Arguments
        ---------
        features : torch.Tensor
            [B, N, D] output of :meth:`forward_features`.

        Returns
        -------
        torch.Tensor
            Mean of the cls and distillation tokens, [B, 1, D] (the
            classifier is a separate module,
            :class:`AudioSpectrogramTransformerClassifier`).
        """
        return features[:, :NUM_PREFIX_TOKENS].mean(dim=1, keepdim=True)

    def forward_intermediates(
        self,
        feats: torch.Tensor,
        lengths: Optional[torch.Tensor] = None,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Outputs of chosen blocks, e.g. for linear probing (the
        arguments follow timm's ViT ``forward_intermediates``).

        Arguments
        ---------
        feats : torch.Tensor
            Normalised fbank features [B, T, F].
        lengths : torch.Tensor, optional
            Relative lengths [B] (used with ``use_padding_mask``).
        indices : int or list of int, optional
            The last n blocks (int), the blocks listed (negative counts from
            the end), or every block (None).
        norm : bool
            Apply the final LayerNorm to each intermediate output.
        stop_early : bool
            Do not run the blocks after the last one taken.
        intermediates_only : bool
            Return only the list of intermediate outputs.

        Returns
        -------
        features : torch.Tensor
            :meth:`forward_features` (not with ``intermediates_only``).
        intermediates : list of torch.Tensor
            [B, 2 + P, D] token sequences (prefix tokens first), in block
            order.

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder(
        ...     "tiny224", target_length=64, depth=3
        ... )
        >>> out = enc.forward_intermediates(
        ...     torch.randn(1, 64, 128), indices=2, intermediates_only=True
        ... )
        >>> [tuple(t.shape) for t in out]
        [(1, 62, 192), (1, 62, 192)]
        """
        take, last = feature_take_indices(len(self.blocks), indices)
        tokens, key_mask = self.embed(feats, lengths)
        n_blocks = last + 1 if stop_early else None
        tokens, taken = self._run_blocks(tokens, key_mask, take, n_blocks)
        if norm:
            taken = [self.norm(t) for t in taken]
        if intermediates_only:
            return taken
        return self.norm(tokens), taken

    def forward(
        self, feats: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Encodes a batch of spectrograms.

        Arguments
        ---------
        feats : torch.Tensor
            Normalised fbank features [B, T, F] (any T >= 1, see
            ``long_inputs``).
        lengths : torch.Tensor, optional
            Relative lengths [B] of the clips (SpeechBrain convention). Used
            only when the encoder was built with ``use_padding_mask=True``.

        Returns
        -------
        torch.Tensor
            Mean of the cls and distillation outputs, [B, 1, D].
        """
        # ``forward_head(forward_features(...))``, with the last block and
        # the final norm computed for the pooled tokens only: the patch
        # tokens' outputs of the last block are read by nothing (they are
        # still its keys and values). Same values up to rounding in the
        # last bits, same gradients, ~7 % fewer FLOPs for base384.
        return self.forward_tokens(*self.embed(feats, lengths))

    def forward_tokens(
        self, tokens: torch.Tensor, key_mask: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """The pooled embedding of tokens from :meth:`embed`.

        ``forward(feats, lengths)`` is ``forward_tokens(*embed(feats,
        lengths))``; the split lets the blocks run elsewhere (e.g. int8 in
        onnxruntime, :mod:`ast_sb.inference.onnxruntime_int8`) while the
        token embedding stays here.

        Arguments
        ---------
        tokens : torch.Tensor
            [B, N, D] prefix and patch tokens with position embeddings.
        key_mask : torch.Tensor, optional
            Boolean [B, N], True where a token may be attended to, or an
            additive float bias [B, N] (0 or ``-inf``).

        Returns
        -------
        torch.Tensor
            Mean of the cls and distillation outputs, [B, 1, D].

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder(
        ...     "tiny224", target_length=64, depth=1
        ... ).eval()
        >>> x = torch.randn(2, 64, 128)
        >>> torch.equal(enc.forward_tokens(*enc.embed(x)), enc(x))
        True
        """
        tokens, _ = self._run_blocks(tokens, key_mask, prefix_only=True)
        return self.forward_head(self.norm(tokens))


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of a module.

    Arguments
    ---------
    module : torch.nn.Module
        Any module.

    Returns
    -------
    int
        Total number of parameter elements.

    Example
    -------
    >>> count_parameters(torch.nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in module.parameters())


def forward_flops(
    encoder: AudioSpectrogramTransformerEncoder, n_frames: int
) -> float:
    """Forward FLOPs (2 per multiply-add) of the encoder at ``n_frames``.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on a forward
    pass with meta tensors (no computation, no copy of the weights): the
    patch convolution, the QKV/projection/MLP matmuls and the two attention
    matmuls (the last block's for the cls and distillation tokens only, as
    :meth:`AudioSpectrogramTransformerEncoder.forward` computes them), in
    eval mode (no patchout; fused attention is switched off
    during the count so that its matmuls are seen); norms and softmax are
    not counted.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformerEncoder
        The encoder.
    n_frames : int
        Number of input frames.

    Returns
    -------
    float
        Number of floating point operations.

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder("base384", depth=12)
    >>> round(forward_flops(enc, 1024) / 1e9)
    244
    """
    from torch.func import functional_call
    from torch.utils.flop_counter import FlopCounterMode

    state = dict(encoder.named_parameters())
    state.update(encoder.named_buffers())
    state = {k: torch.empty_like(v, device="meta") for k, v in state.items()}
    feats = torch.empty(1, n_frames, encoder.constructor_args["n_mels"])
    fused = [block.attn.fused_attn for block in encoder.blocks]
    training = encoder.training
    try:
        encoder.eval()  # no patchout
        for block in encoder.blocks:
            block.attn.fused_attn = False
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            functional_call(encoder, state, (feats.to("meta"),))
    finally:
        encoder.train(training)
        for block, value in zip(encoder.blocks, fused):
            block.attn.fused_attn = value
    return float(counter.get_total_flops())


def set_token_budget(
    module: nn.Module, budget: Any, axes: Optional[str] = None
) -> float:
    """Sets the inference token budget of every AST encoder in ``module``.

    Also records it in the encoders' ``constructor_args``, so a folder
    exported afterwards keeps it (1.0 removes the key).

    Arguments
    ---------
    module : torch.nn.Module
        An encoder, a pipeline, or any module holding AST encoders.
    budget : float
        Fraction of patch tokens kept, in (0, 1].
    axes : str, optional
        "both", "time" or "frequency" (:func:`kept_grid`); default: keep
        the encoders' own.

    Returns
    -------
    float
        The validated budget.

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=1)
    >>> set_token_budget(torch.nn.Sequential(enc), 0.5)
    0.5
    >>> enc.token_budget, enc.constructor_args["token_budget"]
    (0.5, 0.5)
    """
    budget = check_token_budget(budget)
    if axes is not None:
        axes = check_token_budget_axes(axes)
    encoders = [
        m
        for m in module.modules()
        if isinstance(m, AudioSpectrogramTransformerEncoder)
    ]
    if not encoders:
        raise ValueError(
            f"token_budget={budget}: {type(module).__name__} holds no "
            "AudioSpectrogramTransformerEncoder."
        )
    for encoder in encoders:
        encoder.token_budget = budget
        if budget == 1.0:
            encoder.constructor_args.pop("token_budget", None)
        else:
            encoder.constructor_args["token_budget"] = budget
        if axes is not None:
            encoder.token_budget_axes = axes
            encoder.constructor_args.pop("token_budget_axes", None)
            if axes != "both":
                encoder.constructor_args["token_budget_axes"] = axes
    for m in module.modules():
        # inference copies (int8, oneDNN) were made with the old budget
        reset = getattr(m, "reset_fast_path", None)
        if callable(reset):
            reset()
    return budget
