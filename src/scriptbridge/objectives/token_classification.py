"""Word-level tagging (NER, POS): pool subword states into word vectors, then a linear head, optionally
with a CRF on top.

Labels live on words, the encoder works on subwords. ``word_ids`` (HF's ``encoding.word_ids()``, with
``None`` -> -1) maps each subword to its word; :func:`pool_words` turns ``[batch, subwords, hidden]``
into ``[batch, words, hidden]`` so the head, the loss and the metrics all count words, never subwords.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from scriptbridge.objectives.crf import CRF, iob2_allowed_transitions, looks_like_iob2

IGNORE_INDEX = -100  # the label id that marks a word to skip in the loss (as in nn.CrossEntropyLoss)


def word_ids_tensor(batch_word_ids: Sequence[Sequence[int | None]], seq_len: int) -> torch.Tensor:
    """``[batch, seq_len]`` long tensor from ``[tokenizer_output.word_ids(i) for i in ...]`` lists:
    ``None`` (special tokens, padding) becomes -1 and short rows are padded with -1."""
    out = torch.full((len(batch_word_ids), seq_len), -1, dtype=torch.long)
    for row, word_ids in enumerate(batch_word_ids):
        if len(word_ids) > seq_len:
            # Silently cutting would misalign words and subwords; the caller's seq_len is wrong.
            raise ValueError(f"row {row} has {len(word_ids)} subwords, more than seq_len={seq_len}")
        if word_ids:
            out[row, : len(word_ids)] = torch.tensor([-1 if w is None else w for w in word_ids])
    return out


def words_present(word_ids: torch.Tensor, n_words: int) -> torch.Tensor:
    """``[batch, n_words]`` bool: which words have at least one subword (truncation drops the tail)."""
    valid = (word_ids >= 0) & (word_ids < n_words)
    present = torch.zeros(word_ids.shape[0], n_words + 1, dtype=torch.bool, device=word_ids.device)
    # Invalid ids are sent to a spare column n_words, which is then dropped.
    present.scatter_(1, torch.where(valid, word_ids, n_words), True)
    return present[:, :n_words]


def pool_words(
    hidden: torch.Tensor, word_ids: torch.Tensor, n_words: int, mode: str = "first"
) -> torch.Tensor:
    """Word vectors ``[batch, n_words, hidden]`` from subword vectors ``[batch, seq, hidden]``.

    ``word_ids[b, s]`` is the word that subword ``s`` belongs to, or -1 (special tokens, padding); ids
    ``>= n_words`` are ignored too. ``mode="first"`` takes each word's first subword (the usual choice
    for BERT-style NER), ``"mean"`` averages its subwords. A word with no subword gets zeros.
    """
    if mode not in ("first", "mean"):
        raise ValueError(f"mode must be 'first' or 'mean', got {mode!r}")
    if hidden.dim() != 3 or word_ids.shape != hidden.shape[:2]:
        raise ValueError(
            f"hidden must be [batch, seq, hidden] and word_ids [batch, seq]; got {tuple(hidden.shape)} "
            f"and {tuple(word_ids.shape)}"
        )
    batch, seq_len, size = hidden.shape
    word_ids = word_ids.to(hidden.device).long()
    valid = ((word_ids >= 0) & (word_ids < n_words)).reshape(-1)
    # Each (sentence, word) pair gets one row of a flat [batch * n_words] table.
    rows = (torch.arange(batch, device=hidden.device)[:, None] * n_words + word_ids).reshape(-1)[valid]
    flat_hidden = hidden.reshape(batch * seq_len, size)

    if mode == "mean":
        # Sum in float32 at least: bf16 accumulation over many subwords loses precision.
        wide = torch.promote_types(hidden.dtype, torch.float32)
        sums = hidden.new_zeros(batch * n_words, size, dtype=wide)
        sums.index_add_(0, rows, flat_hidden[valid].to(wide))
        counts = hidden.new_zeros(batch * n_words, dtype=wide)
        counts.index_add_(0, rows, torch.ones_like(rows, dtype=wide))
        pooled = sums / counts.clamp(min=1)[:, None]
        return pooled.to(hidden.dtype).reshape(batch, n_words, size)

    # "first": the smallest flat subword position of each word; words never seen keep the sentinel.
    sentinel = batch * seq_len
    positions = torch.arange(batch * seq_len, device=hidden.device)[valid]
    first = torch.full((batch * n_words,), sentinel, dtype=torch.long, device=hidden.device)
    first.scatter_reduce_(0, rows, positions, reduce="amin")
    # One extra zero row at index `sentinel` gives the missing words their zeros without a branch.
    padded = torch.cat([flat_hidden, flat_hidden.new_zeros(1, size)])
    return padded.index_select(0, first).reshape(batch, n_words, size)


class TokenClassificationHead(nn.Module):
    """Dropout + a linear layer from word vectors to per-word label scores, optionally with a CRF.

    | input | shape |
    |---|---|
    | word_states | ``[batch, words, hidden]`` (from :func:`pool_words`) |
    | labels | ``[batch, words]`` label ids, -100 to ignore a word |
    | mask | ``[batch, words]`` bool, True for real words (left-aligned for the CRF) |

    With ``crf=True`` the linear outputs are the CRF's emissions; when ``labels`` are IOB2 names and
    ``constrain_iob2`` is on, the CRF forbids ``O -> I-X`` and friends (see
    :func:`~scriptbridge.objectives.crf.iob2_allowed_transitions`), so decoded spans are always
    well-formed. Save it with ``state_dict()`` plus :meth:`config`, restore with :meth:`from_config`.

    >>> head = TokenClassificationHead(384, 5, crf=True, labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    >>> loss = head.loss(word_states, labels, mask)
    >>> paths = head.decode(word_states, mask)
    """

    def __init__(
        self,
        hidden_size: int,
        num_labels: int,
        *,
        dropout: float = 0.1,
        crf: bool = False,
        labels: Sequence[str] | None = None,
        constrain_iob2: bool = True,
    ) -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"a tagger needs at least 2 labels, got {num_labels}")
        if labels is not None and len(labels) != num_labels:
            raise ValueError(f"got {len(labels)} label names for num_labels={num_labels}")
        self.hidden_size = hidden_size
        self.num_labels = num_labels
        self.dropout_p = float(dropout)
        self.labels = list(labels) if labels is not None else None
        self.constrain_iob2 = constrain_iob2
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_labels)
        self.crf: CRF | None = None
        if crf:
            constrained = constrain_iob2 and self.labels is not None and looks_like_iob2(self.labels)
            allowed = iob2_allowed_transitions(self.labels) if constrained else None
            self.crf = CRF(num_labels, allowed=allowed)

    def forward(self, word_states: torch.Tensor) -> torch.Tensor:
        """Per-word label scores ``[batch, words, num_labels]`` (the CRF's emissions when it has one)."""
        return self.linear(self.dropout(word_states))

    def loss(
        self, word_states: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Linear: mean cross-entropy over the words in ``mask`` whose label is not -100.
        CRF: mean negative log-likelihood per sentence (``mask`` defaults to ``labels != -100``)."""
        labels = labels.to(word_states.device).long()
        if mask is None:
            mask = labels != IGNORE_INDEX
        mask = mask.to(device=word_states.device, dtype=torch.bool)
        logits = self(word_states)
        if self.crf is not None:
            if bool((labels[mask] == IGNORE_INDEX).any()):
                # A CRF scores whole paths; a hole inside one has no meaning without marginalising it.
                raise ValueError("the CRF needs a label for every word in the mask (found -100 inside it)")
            return self.crf(logits, labels, mask, reduction="mean")
        counted = mask & (labels != IGNORE_INDEX)
        if not bool(counted.any()):
            # No word to learn from (e.g. all truncated): a zero that keeps the graph, not a NaN.
            return logits.sum() * 0.0
        return nn.functional.cross_entropy(logits[counted].float(), labels[counted])

    @torch.no_grad()
    def decode(self, word_states: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Predicted label ids per sentence, ``mask.sum()`` of them each: argmax, or Viterbi with a CRF.
        Call ``eval()`` first, as for any module with dropout."""
        logits = self(word_states)
        mask = mask.to(device=logits.device, dtype=torch.bool)
        if self.crf is not None:
            return self.crf.decode(logits, mask)
        lengths = mask.sum(dim=1).tolist()
        return [row[:n] for row, n in zip(logits.argmax(dim=-1).tolist(), lengths, strict=True)]

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-able dict (the weights go through ``state_dict``)."""
        return {
            "hidden_size": self.hidden_size,
            "num_labels": self.num_labels,
            "crf": self.crf is not None,
            "labels": self.labels,
            "dropout": self.dropout_p,
            "constrain_iob2": self.constrain_iob2,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TokenClassificationHead:
        return cls(
            int(cfg["hidden_size"]),
            int(cfg["num_labels"]),
            dropout=float(cfg.get("dropout", 0.1)),
            crf=bool(cfg.get("crf", False)),
            labels=cfg.get("labels"),
            constrain_iob2=bool(cfg.get("constrain_iob2", True)),
        )


class TokenClassificationLoss(nn.Module):
    """The tagging loss of a :class:`TokenClassificationHead`, sentence-transformers style.

    ``features`` holds ``"word_states"`` ``[batch, words, hidden]`` and ``"word_mask"`` ``[batch, words]``
    (a missing mask means ``labels != -100``); ``labels`` is ``[batch, words]``.

    >>> loss = TokenClassificationLoss(TokenClassificationHead(384, 17))
    >>> loss({"word_states": states, "word_mask": mask}, labels)
    """

    def __init__(self, head: TokenClassificationHead) -> None:
        super().__init__()
        self.head = head

    def compute_loss_from_embeddings(
        self, word_states: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head.loss(word_states, labels, mask)

    def forward(self, features: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return self.compute_loss_from_embeddings(features["word_states"], labels, features.get("word_mask"))
