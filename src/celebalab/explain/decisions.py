"""The decision being explained, as a module giving one score per image.

(a) an attribute classifier's logit for one attribute; (b) an embedding model's decision on a
pair: the cosine similarity of the pair's two embeddings, explained for the first image (the
second image's embedding is fixed and passed along per image). Any ``nn.Module`` mapping images
to vectors works for (b), so identity runs and tiny test networks are treated alike.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: The ``decision`` column's value for pair rows (attribute rows hold the attribute's name).
PAIR_DECISION = "pair"


class AttributeDecision(nn.Module):
    """Score = logit ``index`` of ``network`` (``B×3×H×W`` → ``B``)."""

    def __init__(self, network: nn.Module, index: int) -> None:
        super().__init__()
        self.network = network
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)[:, self.index]


class PairDecision(nn.Module):
    """Score = cos(embed(x), other) per image (``x``: ``B×3×H×W``, ``other``: ``B×D``)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(self.network(x).flatten(1), other.flatten(1), dim=1)

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``B×D`` of ``x`` (the pair's second images)."""
        return self.network(x).flatten(1)


class PenultimateFeatures(nn.Module):
    """A classifier's penultimate features (the input of its final linear layer), with gradients.

    Makes any run an embedding model for pair decisions: the features of an identity run, or
    those of an attribute classifier (what ``extract_features`` returns, but differentiable).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        from celebalab.models.architectures import classifier_head

        self.network = network
        self.head = classifier_head(network)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []
        hook = self.head.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
        try:
            self.network(x)
        finally:
            hook.remove()
        return captured[0]
