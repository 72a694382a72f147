"""The AST classification head: LayerNorm and a linear (or cosine) layer.

It maps the encoder's [B, 1, D] embedding to class scores, as the
``classifier`` of a SpeechBrain classification recipe (re-exported by
:mod:`ast_sb.lobes.model`).

Authors
 * ast_sb developers 2026
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AudioSpectrogramTransformerClassifier",
]


class AudioSpectrogramTransformerClassifier(nn.Module):
    """AST classification head: LayerNorm + Linear on the pooled embedding.

    Arguments
    ---------
    input_size : int
        Embedding dimension D of the encoder.
    n_classes : int
        Number of output classes.
    output : str
        "log_softmax" for single-label classification (log-probabilities, as
        SpeechBrain's ``nll_loss`` and ``EncoderClassifier`` expect),
        "logits" for multi-label classification (BCE with logits, sigmoid at
        inference), or "cosine": cosine similarities in [-1, 1] between the
        normalised embedding and normalised class weights (no bias), the
        scores SpeechBrain's ``AdditiveAngularMargin`` loss expects (as
        SpeechBrain's ECAPA ``Classifier`` outputs).
    layer_norm_eps : float
        Epsilon of the LayerNorm (1e-5 in the original AST head).

    Example
    -------
    >>> head = AudioSpectrogramTransformerClassifier(192, 10)
    >>> out = head(torch.randn(4, 1, 192))
    >>> out.shape
    torch.Size([4, 1, 10])
    >>> bool(torch.allclose(out.exp().sum(-1), torch.ones(4, 1)))
    True
    >>> cosine = AudioSpectrogramTransformerClassifier(192, 10, output="cosine")
    >>> scores = cosine(torch.randn(4, 1, 192))
    >>> bool(scores.abs().max() <= 1.0)
    True
    """

    OUTPUTS = ("log_softmax", "logits", "cosine")

    def __init__(
        self,
        input_size: int,
        n_classes: int,
        output: str = "log_softmax",
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        if output not in self.OUTPUTS:
            raise ValueError(
                f"output must be one of {self.OUTPUTS}, got {output!r}."
            )
        if n_classes < 1:
            raise ValueError(f"n_classes must be positive, got {n_classes}.")
        self.constructor_args = {
            "input_size": input_size,
            "n_classes": n_classes,
            "output": output,
            "layer_norm_eps": layer_norm_eps,
        }
        self.output = output
        self.norm = nn.LayerNorm(input_size, eps=layer_norm_eps)
        self.linear = nn.Linear(input_size, n_classes, bias=output != "cosine")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialises the head (truncated normal 0.02, zero bias)."""
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        nn.init.trunc_normal_(self.linear.weight, std=0.02)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)

    @property
    def n_classes(self) -> int:
        """Number of output classes."""
        return self.linear.out_features

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Classifies embeddings [B, 1, D] (or [B, D]) into [B, 1, C].

        Arguments
        ---------
        embeddings : torch.Tensor
            Output of the encoder.

        Returns
        -------
        torch.Tensor
            Log-probabilities, logits or cosine scores, [B, 1, C].
        """
        if embeddings.dim() == 2:
            embeddings = embeddings.unsqueeze(1)
        if self.output == "cosine":
            return F.linear(
                F.normalize(self.norm(embeddings), dim=-1),
                F.normalize(self.linear.weight, dim=-1),
            )
        logits = self.linear(self.norm(embeddings))
        if self.output == "log_softmax":
            return torch.log_softmax(logits, dim=-1)
        return logits
