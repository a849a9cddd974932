"""Word-level masked language modelling: PhoneXL's ``L_MLM`` (section 4.2, Eq. 7) and ``L_XMLM``
(section 4.3, Eq. 8, the same loss on code-switched sentences).

A masked word's orthographic input is the single mask token while its IPA stays visible; the encoder's
state at that word's position predicts each of the word's original subwords.  Build the batch with
``build_word_batch(..., mask_words=choose_masked_words(...))``; its ``mlm_targets`` are the labels here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
from torch import nn

from scriptbridge.models.phonemic import MaskedWordTargets


def choose_masked_words(n_words: Sequence[int], ratio: float, rng: random.Random) -> list[list[bool]]:
    """Which words to mask: per sentence, ``ratio * n`` words rounded half up, at least one when
    ``ratio > 0`` and the sentence has words (so short sentences still train), chosen by ``rng``.

    (Half up rather than Python's ``round``, which rounds 2.5 to 2 and 0.5 to 0.)
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    masks = []
    for n in n_words:
        k = 0 if ratio == 0 or n <= 0 else min(n, max(1, math.floor(ratio * n + 0.5)))
        chosen = set(rng.sample(range(n), k)) if k else set()
        masks.append([m in chosen for m in range(max(n, 0))])
    return masks


class WordMLMHead(nn.Module):
    """BERT's prediction head on word vectors: dense + GELU + LayerNorm, then a decoder whose weight is
    the model's input word-embedding matrix (tied) plus a bias of its own.

    The embedding is held by reference, not registered as a submodule, so ``head.parameters()`` lists
    only the head's own tensors and an optimizer over ``model.parameters()`` and ``head.parameters()``
    sees the tied matrix once.  Build the head after the vocabulary is final
    (:func:`~scriptbridge.models.phonemic.build_phonemic_encoder`): resizing may replace the table.
    """

    def __init__(
        self, word_embeddings: nn.Embedding, *, layer_norm_eps: float = 1e-12, initializer_range: float = 0.02
    ) -> None:
        super().__init__()
        weight = word_embeddings.weight
        hidden = int(word_embeddings.embedding_dim)
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.GELU()
        self.layer_norm = nn.LayerNorm(hidden, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(word_embeddings.num_embeddings))
        nn.init.normal_(self.dense.weight, std=initializer_range)
        nn.init.zeros_(self.dense.bias)
        self.to(device=weight.device, dtype=weight.dtype)
        self._tied = (word_embeddings,)  # a tuple hides the module from nn.Module's registration

    @property
    def decoder_weight(self) -> torch.Tensor:
        return self._tied[0].weight

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Logits ``[..., vocab]`` of word vectors ``[..., hidden]``."""
        weight = self.decoder_weight
        if weight.shape[0] != self.bias.shape[0]:
            raise ValueError(
                f"the tied word embeddings have {weight.shape[0]} rows but the head's bias {self.bias.shape[0]}: "
                "build the head after the vocabulary is extended"
            )
        h = self.layer_norm(self.activation(self.dense(states)))
        return nn.functional.linear(h, weight, self.bias)


class WordMaskedLMLoss(nn.Module):
    """Mean cross-entropy over all target subwords of the masked words of a batch.

    | input | shape |
    |---|---|
    | features["word_states"] | ``[B, W, H]`` the encoder's states at word positions |
    | labels | :class:`~scriptbridge.models.phonemic.MaskedWordTargets` (``batch.mlm_targets``) |

    Logits are computed only at the target rows (one per target subword, gathered from its word's
    state), never for every position: e5's vocabulary has 250k entries.  A masked word of ``k``
    subwords weighs ``k`` targets.  A batch without targets gives 0 (connected to the graph).

    >>> loss = WordMaskedLMLoss(WordMLMHead(encoder.model.get_input_embeddings()))
    >>> loss(pe(batch), batch.mlm_targets)
    """

    def __init__(self, head: WordMLMHead) -> None:
        super().__init__()
        self.head = head

    def compute_loss_from_states(self, word_states: torch.Tensor, targets: MaskedWordTargets) -> torch.Tensor:
        flat = word_states.reshape(-1, word_states.shape[-1])
        targets = targets.to(flat.device)
        if len(targets) == 0:
            return flat.sum() * 0.0
        logits = self.head(flat[targets.word_index])
        return nn.functional.cross_entropy(logits.float(), targets.token_ids)

    def forward(self, features: dict[str, torch.Tensor], labels: MaskedWordTargets | None) -> torch.Tensor:
        if labels is None:
            raise ValueError("no MLM targets: build the batch with mask_words=choose_masked_words(...)")
        return self.compute_loss_from_states(features["word_states"], labels)
