"""Cross-entropy of a linear head on pooled sentence vectors: the task loss ``J`` of the
teacher-student paper (Eq. 3 sums it over the source, translated and romanized views)."""

from __future__ import annotations

import torch
from torch import nn


class ClassificationHead(nn.Module):
    """Dropout + one linear layer from the pooled vector to the label logits (``p = softmax(Wh + b)``)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"a classifier needs at least 2 labels, got {num_labels}")
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(pooled))


class ClassificationLoss(nn.Module):
    """Mean cross-entropy of ``head(embeddings)`` against integer labels.

    | input | shape |
    |---|---|
    | embeddings | ``[batch, hidden]`` pooled sentence vectors of one view |
    | labels | ``[batch]`` label ids |

    Softmax cross-entropy covers binary tasks too (the paper's BCE is its two-class case).

    >>> head = ClassificationHead(384, 3)
    >>> loss = ClassificationLoss(head)
    >>> loss.compute_loss_from_embeddings(torch.randn(4, 384), torch.tensor([0, 2, 1, 0]))
    """

    def __init__(self, head: ClassificationHead) -> None:
        super().__init__()
        self.head = head

    def compute_loss_from_embeddings(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(self.head(embeddings), labels)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.compute_loss_from_embeddings(features, labels)
