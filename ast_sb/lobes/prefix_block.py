"""The last transformer block, computed for the pooled tokens only.

The AST embedding is the mean of the cls and distillation tokens after the
last block and the final LayerNorm. In that last block every patch token is
still needed as a key and a value, but nothing reads the patch tokens'
*outputs*: their queries, attention rows, output projection and MLP are dead
work. :func:`prefix_block_forward` runs timm's ``Block`` for the first
``n_prefix`` tokens only (keys and values from every token), which gives the
same prefix outputs as ``block(tokens)[:, :n_prefix]`` (the same operations
on the same rows; matrix products over fewer rows may round differently in
the last bits) and, for base384 at 1214 tokens, skips about 7 % of a
forward's FLOPs. Gradients of everything the pooled output depends on are
unchanged.

Only timm's own ``Block`` and ``Attention`` are taken apart (the attributes
read here are theirs); any other block, e.g. a subclass with its own
``forward``, runs whole and is sliced (:func:`supports_prefix_forward`).

Authors
 * ast_sb developers 2026
"""

from typing import Optional

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Attention, Block
from torch import nn


def supports_prefix_forward(block: nn.Module) -> bool:
    """Whether :func:`prefix_block_forward` can take ``block`` apart.

    Arguments
    ---------
    block : torch.nn.Module
        A transformer block.

    Returns
    -------
    bool
        True for timm's ``Block`` with timm's ``Attention`` (exact types:
        subclasses may compute something else).

    Example
    -------
    >>> supports_prefix_forward(Block(dim=8, num_heads=2))
    True
    >>> supports_prefix_forward(nn.Identity())
    False
    """
    return type(block) is Block and type(block.attn) is Attention


def _attention_rows(
    attn: Attention,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: Optional[torch.Tensor],
) -> torch.Tensor:
    """Attention of the queries ``q`` [B, H, P, d] over every key."""
    dropout_p = attn.attn_drop.p if attn.training else 0.0
    if attn.fused_attn:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=dropout_p
        )
    scores = (q * attn.scale) @ k.transpose(-2, -1)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return attn.attn_drop(scores.softmax(dim=-1)) @ v


def prefix_block_forward(
    block: nn.Module,
    tokens: torch.Tensor,
    attn_mask: Optional[torch.Tensor] = None,
    n_prefix: int = 2,
) -> torch.Tensor:
    """``block(tokens, attn_mask)[:, :n_prefix]``, without the dead work.

    Arguments
    ---------
    block : torch.nn.Module
        A timm ``Block`` (any other module runs whole and is sliced).
    tokens : torch.Tensor
        Block input [B, N, D].
    attn_mask : torch.Tensor, optional
        Attention mask broadcastable to [B, heads, N, N] along the key axis
        ([B, 1, 1, N] boolean, True where a key may be attended to).
    n_prefix : int
        Number of leading tokens whose outputs are wanted.

    Returns
    -------
    torch.Tensor
        [B, n_prefix, D].

    Example
    -------
    >>> block = Block(dim=16, num_heads=2).eval()
    >>> x = torch.randn(3, 10, 16)
    >>> out = prefix_block_forward(block, x, n_prefix=2)
    >>> out.shape
    torch.Size([3, 2, 16])
    >>> torch.allclose(out, block(x)[:, :2], atol=1e-6)
    True
    """
    if not supports_prefix_forward(block):
        return block(tokens, attn_mask=attn_mask)[:, :n_prefix]
    attn = block.attn
    batch, n_tokens, _ = tokens.shape
    heads, head_dim = attn.num_heads, attn.head_dim
    attn_dim = getattr(attn, "attn_dim", heads * head_dim)
    normed = block.norm1(tokens)
    qkv = attn.qkv(normed).reshape(batch, n_tokens, 3, heads, head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q[:, :, :n_prefix]), attn.k_norm(k)
    rows = _attention_rows(attn, q, k, v, attn_mask)
    rows = rows.transpose(1, 2).reshape(batch, n_prefix, attn_dim)
    rows = getattr(attn, "norm", nn.Identity())(rows)
    gate = getattr(attn, "gate", None)
    if gate is not None:
        rows = rows * gate(normed[:, :n_prefix]).sigmoid()
    rows = attn.proj_drop(attn.proj(rows))
    prefix = tokens[:, :n_prefix] + block.drop_path1(block.ls1(rows))
    mlp = block.mlp(block.norm2(prefix))
    return prefix + block.drop_path2(block.ls2(mlp))
