"""Translation pair prediction (TPP, Mishra & Haghighi 2021): is ``(s, t)`` a translation pair?

``P(pair) = sigmoid(f(s) . f(t))`` on pooled vectors, trained with binary cross-entropy on the batch's
true pairs and, for each, one random mismatched pair from the same batch (a balanced binary data set).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class TranslationPairLoss(nn.Module):
    """Binary cross-entropy of ``sigmoid(f(a_i) . f(b_j))``: label 1 for the ``B`` true pairs ``(i, i)``,
    label 0 for one random pair ``(i, j)`` per ``i``.

    | input | shape |
    |---|---|
    | features["a"], features["b"] | ``[B, H]`` pooled vectors; row ``i`` of each is a true pair |
    | features["a_ids"], features["b_ids"] | optional ``[B]`` int64 text identities (equal id = same text) |
    | features["generator"] | optional :class:`torch.Generator` for drawing the negatives |

    ``f`` is the identity, or with ``projection=True`` one ``Linear(hidden, hidden)`` shared by both sides
    (the paper scores the raw [CLS] vectors).  The logits are the dot products, and the loss is
    :func:`~torch.nn.functional.binary_cross_entropy_with_logits` (no sigmoid-then-log underflow).

    Negatives (:meth:`sample_negatives`): for each ``i`` a ``j`` drawn uniformly among those for which
    ``(a_i, b_j)`` is not a known pair: no ``k`` in the batch with ``a_ids[k] == a_ids[i]`` and
    ``b_ids[k] == b_ids[j]``.  That covers ``j == i``, a duplicate of the partner
    (``b_ids[j] == b_ids[i]``, ``k = i``), a duplicate of the anchor (``a_ids[j] == a_ids[i]``,
    ``k = j``), and a text that appears with several translations.  Without ids only ``j == i`` is
    excluded.  When no such ``j`` exists (``B == 1``, or every text of the batch is the same) the
    negative of ``i`` is dropped and its positive still counts.

    The loss is the plain mean over all kept examples; with every negative kept it equals
    ``(mean positive loss + mean negative loss) / 2``, the paper's balanced set.

    Negatives come from this rank's batch only: this loss does not gather across torch.distributed
    ranks (one negative per pair needs no more than the local batch).
    """

    def __init__(self, hidden_size: int | None = None, projection: bool = False) -> None:
        super().__init__()
        if projection and hidden_size is None:
            raise ValueError("projection=True needs hidden_size")
        self.projection = nn.Linear(hidden_size, hidden_size) if projection else None  # type: ignore[arg-type]

    @staticmethod
    def sample_negatives(
        n: int,
        a_ids: torch.Tensor | None = None,
        b_ids: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``[n]`` int64: the partner index ``j`` of each ``i``'s negative pair, ``-1`` where none exists.

        ``j`` is the argmax of iid uniform scores over the allowed columns, i.e. uniform among them.
        The scores are drawn on the generator's device (CPU by default) for all ``n * n`` entries, so the
        draw depends on the generator and ``n`` only.
        """
        if (a_ids is None) != (b_ids is None):
            raise ValueError("give both a_ids and b_ids, or neither")
        device = generator.device if generator is not None else torch.device("cpu")
        if a_ids is None or b_ids is None:
            known = torch.eye(n, dtype=torch.bool, device=device)
        else:
            a_ids = a_ids.to(device=device, dtype=torch.long).reshape(-1)
            b_ids = b_ids.to(device=device, dtype=torch.long).reshape(-1)
            if a_ids.shape[0] != n or b_ids.shape[0] != n:
                raise ValueError(f"a_ids and b_ids must be [{n}]")
            same_a = (a_ids[:, None] == a_ids[None, :]).float()  # [i, k]
            same_b = (b_ids[:, None] == b_ids[None, :]).float()  # [k, j]
            known = (same_a @ same_b) > 0  # [i, j]: some pair k has a_i's text and b_j's text
        scores = torch.rand((n, n), generator=generator, device=device).masked_fill(known, -1.0)
        best, index = scores.max(dim=1)
        return torch.where(best >= 0, index, torch.full_like(index, -1))

    def compute_loss_from_embeddings(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        a_ids: torch.Tensor | None = None,
        b_ids: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        if a.dim() != 2 or a.shape != b.shape:
            raise ValueError(f"a and b must both be [B, H], got {tuple(a.shape)} and {tuple(b.shape)}")
        if self.projection is not None:
            a, b = self.projection(a), self.projection(b)
        a, b = a.float(), b.float()
        positive = (a * b).sum(dim=-1)  # [B]
        partner = self.sample_negatives(a.shape[0], a_ids, b_ids, generator).to(a.device)
        kept = (partner >= 0).nonzero().squeeze(1)
        negative = (a.index_select(0, kept) * b.index_select(0, partner.index_select(0, kept))).sum(dim=-1)
        logits = torch.cat([positive, negative])
        targets = torch.cat([torch.ones_like(positive), torch.zeros_like(negative)])
        return nn.functional.binary_cross_entropy_with_logits(logits, targets)

    def forward(self, features: dict[str, Any], labels: torch.Tensor | None = None) -> torch.Tensor:
        """``labels`` is unused (the targets are built from the batch) and kept for the common signature."""
        return self.compute_loss_from_embeddings(
            features["a"],
            features["b"],
            features.get("a_ids"),
            features.get("b_ids"),
            generator=features.get("generator"),
        )
