"""Contrastive alignment of paired texts: TCM of "How Transliterations Improve Crosslingual Alignment"
(Liu et al. 2024; a text and its transliteration) and likewise a sentence and its translation.

A SimCLR / NT-Xent loss over the ``2B`` pooled vectors of a batch of ``B`` pairs, with duplicate texts
kept out of the negatives, and negatives gathered from every rank under torch.distributed.
"""

from __future__ import annotations

import torch
from torch import nn

from scriptbridge.utils import distributed as dist_utils

_SIMILARITIES = ("cosine", "dot")


class ContrastiveAlignmentLoss(nn.Module):
    """NT-Xent over the pairs of a batch: each text should pick out its partner among all texts.

    | input | shape |
    |---|---|
    | features["a"] | ``[B, H]`` pooled vector of each pair's first text |
    | features["b"] | ``[B, H]`` pooled vector of its partner (row ``i`` of a and b is a pair) |
    | features["a_ids"], features["b_ids"] | optional ``[B]`` int64 text identities (equal id = same text) |

    The ``2B`` vectors ``z = cat(a, b)`` are all anchors.  An anchor's positive is its partner; its
    candidates are the other ``2B - 1`` vectors (itself excluded), i.e. its positive and ``2B - 2``
    negatives.  ``logits = sim(anchor, candidate) / temperature`` with ``sim`` the cosine (dot product
    of L2-normalised vectors) or the plain dot product; the loss is the cross-entropy of the positive,
    averaged over all anchors (both directions, a -> b and b -> a, weigh the same).

    Duplicates: with ids, a candidate other than the positive whose text id equals the anchor's or the
    anchor's partner's is removed from that anchor's softmax: the same text appearing twice in a batch
    (common with short sentences, names, or a transliteration identical to its source) is not a
    negative, and pushing it away would fight the positive.  ``a_ids`` and ``b_ids`` share one id space
    (e.g. a hash of the text), so a first text equal to some second text is caught too.

    Under torch.distributed (:func:`~scriptbridge.utils.distributed.is_distributed`) the candidates are
    every rank's vectors, gathered with :func:`~scriptbridge.utils.distributed.gather_with_grad` (ids
    with ``gather_no_grad``); the anchors are this rank's ``2B`` vectors, at offset ``rank * B`` in the
    gathered halves, and the loss is their mean.  Every rank must pass the same ``B``.  Why this matches
    one process on the whole batch of ``N = world * B`` pairs: that loss is ``L = mean_r L_r`` (each
    ``L_r`` averages ``2B`` of the ``2N`` anchors, the same logits).  The differentiable gather returns
    to rank ``r``'s vectors the gradient of ``sum_s L_s`` (every rank's loss, through the gathered
    candidates, summed in the gather's backward), so rank ``r``'s parameter gradient is
    ``d(sum_s L_s)/dθ`` through its own encoder pass; averaging those over ranks
    (:func:`~scriptbridge.utils.distributed.average_gradients`) gives ``sum_r d(sum_s L_s)/dθ|_r / world
    = d(mean_s L_s)/dθ = dL/dθ``.  (A plain ``all_gather`` would drop the candidates' part.)

    >>> loss = ContrastiveAlignmentLoss(similarity="cosine", temperature=0.05)
    >>> loss({"a": pooled_a, "b": pooled_b, "a_ids": ids_a, "b_ids": ids_b})
    """

    def __init__(self, similarity: str = "cosine", temperature: float = 0.05) -> None:
        super().__init__()
        if similarity not in _SIMILARITIES:
            raise ValueError(f"similarity must be one of {_SIMILARITIES}, got {similarity!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.similarity = similarity
        self.temperature = float(temperature)

    def compute_loss_from_embeddings(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        a_ids: torch.Tensor | None = None,
        b_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if a.dim() != 2 or a.shape != b.shape:
            raise ValueError(f"a and b must both be [B, H], got {tuple(a.shape)} and {tuple(b.shape)}")
        if (a_ids is None) != (b_ids is None):
            raise ValueError("give both a_ids and b_ids, or neither")
        n_local = a.shape[0]
        # float32 for the similarities and the softmax: bf16 logits / 0.05 lose the small differences
        # between candidates that the loss is about
        a, b = a.float(), b.float()
        if self.similarity == "cosine":
            a = nn.functional.normalize(a, p=2.0, dim=-1, eps=1e-8)
            b = nn.functional.normalize(b, p=2.0, dim=-1, eps=1e-8)
        # the anchors are the local tensors; the candidates every rank's (this rank's included, through
        # the gather, whose backward routes those gradients back here too)
        all_a, all_b = dist_utils.gather_with_grad(a), dist_utils.gather_with_grad(b)
        n_all = all_a.shape[0]
        offset = dist_utils.rank() * n_local if dist_utils.is_distributed() else 0
        anchors = torch.cat([a, b], dim=0)  # [2B, H]
        candidates = torch.cat([all_a, all_b], dim=0)  # [2N, H]: all first texts, then all second texts
        logits = anchors @ candidates.T / self.temperature  # [2B, 2N]

        local = torch.arange(n_local, device=a.device)
        self_index = torch.cat([offset + local, n_all + offset + local])  # each anchor's own column
        positive = torch.cat([n_all + offset + local, offset + local])  # its partner's column
        rows = torch.arange(2 * n_local, device=a.device)
        drop = torch.zeros_like(logits, dtype=torch.bool)
        drop[rows, self_index] = True
        if a_ids is not None and b_ids is not None:
            a_ids = a_ids.to(device=a.device, dtype=torch.long).reshape(-1)
            b_ids = b_ids.to(device=a.device, dtype=torch.long).reshape(-1)
            if a_ids.shape[0] != n_local or b_ids.shape[0] != n_local:
                raise ValueError(f"a_ids and b_ids must be [{n_local}]")
            candidate_ids = torch.cat([dist_utils.gather_no_grad(a_ids), dist_utils.gather_no_grad(b_ids)])
            anchor_ids = torch.cat([a_ids, b_ids])
            partner_ids = torch.cat([b_ids, a_ids])
            same_text = (candidate_ids[None, :] == anchor_ids[:, None]) | (
                candidate_ids[None, :] == partner_ids[:, None]
            )
            drop |= same_text
        drop[rows, positive] = False  # the true positive always stays, whatever the ids say
        # -inf is safe: the positive is never dropped, so every row keeps a finite logit and the softmax
        # gives the dropped columns exactly 0 probability and 0 gradient
        logits = logits.masked_fill(drop, float("-inf"))
        return nn.functional.cross_entropy(logits, positive)

    def forward(self, features: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> torch.Tensor:
        """``labels`` is unused (the targets are the partners) and kept for the common signature."""
        return self.compute_loss_from_embeddings(
            features["a"], features["b"], features.get("a_ids"), features.get("b_ids")
        )
