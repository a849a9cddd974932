"""PhoneXL's orthographic-phonemic alignment loss ``L_align`` (section 4.1, Eq. 4-6).

Within each sentence, the orthographic embedding (OE) of word ``m`` should be closer to the phonemic
embedding (PE) of the same word than to the PEs of the sentence's other words, and the other way round:
a CLIP-style contrastive loss in which a sentence plays the role of CLIP's batch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Fills the logits of padded (row or column) pairs: far below any real logit (|scaled cosine| <= 100)
# yet finite, so that rows of all-padding still give finite values and gradients that where() can drop
# (an -inf would turn into NaN gradients through logsumexp).
_MASKED_LOGIT = -1e9


class OrthoPhonemicAlignmentLoss(nn.Module):
    """``L_align = (L_OtoP + L_PtoO) / 2`` over the words of each sentence.

    | input | shape |
    |---|---|
    | orth | ``[B, W, H]`` orthographic word embeddings (the encoder's ``"orth"``) |
    | phon | ``[B, W, H]`` phonemic word embeddings (``"phon"``) |
    | word_mask | ``[B, W]`` bool, True for real words |

    Per sentence: every word vector is L2-normalised on its own (each vector, along the hidden axis --
    normalising along the word axis, across positions, is the published-code bug avoided here); the
    similarity matrix ``S[i, j] = scale * cos(orth_i, phon_j)`` over that sentence's words has padded
    rows and columns masked out; ``L_OtoP`` is the cross-entropy of each row against its diagonal,
    ``L_PtoO`` of each column.  Each direction is averaged over the words of a sentence, then over the
    sentences that have words (every sentence weighs the same, whatever its length).  A one-word
    sentence has a 1 x 1 matrix and contributes ``log(1) = 0``: it is counted, with nothing to contrast.

    The temperature is CLIP's: a learnable ``logit_scale`` initialised to ``log(1 / 0.07)``, used as
    ``scale = logit_scale.exp().clamp(max=100)`` (the paper's learnable tau).  Vectorised over the batch
    as masked ``[B, W, W]`` matrices, no loop over sentences.

    >>> loss = OrthoPhonemicAlignmentLoss()
    >>> loss(encoder_output)            # uses "orth", "phon", "word_mask"
    """

    def __init__(self, temperature: float = 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        if not temperature > 0 or not max_scale > 0:
            raise ValueError("temperature and max_scale must be positive")
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
        self.max_scale = float(max_scale)

    @property
    def scale(self) -> torch.Tensor:
        """The multiplier of the cosine similarities (``exp(logit_scale)`` capped at ``max_scale``)."""
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def terms(
        self, orth: torch.Tensor, phon: torch.Tensor, word_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``{"o2p": L_OtoP, "p2o": L_PtoO}`` (for logging)."""
        if orth.shape != phon.shape or orth.dim() != 3:
            raise ValueError(
                f"orth and phon must both be [B, W, H], got {tuple(orth.shape)} and {tuple(phon.shape)}"
            )
        mask = word_mask.to(device=orth.device, dtype=torch.bool)
        if mask.shape != orth.shape[:2]:
            raise ValueError(f"word_mask must be {tuple(orth.shape[:2])}, got {tuple(mask.shape)}")
        o = nn.functional.normalize(orth.float(), p=2.0, dim=-1, eps=1e-8)
        p = nn.functional.normalize(phon.float(), p=2.0, dim=-1, eps=1e-8)
        logits = self.scale.float() * torch.bmm(o, p.transpose(1, 2))  # [B, W, W]: rows orth, columns phon
        pair_ok = mask[:, :, None] & mask[:, None, :]
        logits = logits.masked_fill(~pair_ok, _MASKED_LOGIT)
        diagonal = logits.diagonal(dim1=1, dim2=2)
        o2p = logits.logsumexp(dim=2) - diagonal  # row i: which phonemic word is orth_i's?
        p2o = logits.logsumexp(dim=1) - diagonal  # column j: which orthographic word is phon_j's?
        counts = mask.sum(dim=1)
        n_sentences = (counts > 0).sum().clamp(min=1)  # sentences without words are left out
        zero = o2p.new_zeros(())

        def average(per_word: torch.Tensor) -> torch.Tensor:
            # no branch on the data (no device sync): a batch without words gives exactly 0, still
            # connected to the graph through the masked logits
            per_sentence = torch.where(mask, per_word, zero).sum(dim=1) / counts.clamp(min=1)
            return per_sentence.sum() / n_sentences

        return {"o2p": average(o2p), "p2o": average(p2o)}

    def compute_loss_from_embeddings(
        self, orth: torch.Tensor, phon: torch.Tensor, word_mask: torch.Tensor
    ) -> torch.Tensor:
        terms = self.terms(orth, phon, word_mask)
        return (terms["o2p"] + terms["p2o"]) / 2

    def forward(self, features: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> torch.Tensor:
        """``features``: ``{"orth", "phon", "word_mask"}`` (a :class:`PhonemicEncoder` output); ``labels``
        is unused (the targets are the diagonal) and kept for the common signature."""
        return self.compute_loss_from_embeddings(features["orth"], features["phon"], features["word_mask"])
