"""Token-level masked language modelling (BERT's MLM), on packed or padded token states.

:func:`mask_tokens` corrupts a batch of ids and returns the labels; :class:`MaskedLMLoss` scores the
encoder's states at the chosen positions with :class:`~scriptbridge.objectives.word_mlm.WordMLMHead`
(BERT's prediction head, decoder tied to the input embeddings).  TLM (:mod:`scriptbridge.objectives.tlm`)
is this same loss on two texts of a pair concatenated.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scriptbridge.objectives.word_mlm import WordMLMHead

IGNORE_INDEX = -100  # cross_entropy's default ignore_index, and the HF convention for "not a target"


def mask_tokens(
    input_ids: torch.Tensor,
    special: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator | None,
    ratio: float = 0.15,
    replace: tuple[float, float, float] = (0.8, 0.1, 0.1),
    random_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: ``(masked_ids, labels)``, both shaped like ``input_ids``.

    | argument | shape |
    |---|---|
    | input_ids | any shape, int64 |
    | special | same shape, bool: True = never chosen (special tokens and padding) |
    | random_ids | optional ``[P]`` pool that random replacements are drawn from |

    Each non-special token is chosen independently with probability ``ratio`` (Bernoulli, as in BERT and
    HF's data collator): there is no forced minimum, so a short text may get no target in a batch, and
    the loss then simply has fewer targets (a batch without any gives 0, see :class:`MaskedLMLoss`).
    A chosen token becomes ``mask_token_id`` with probability ``replace[0]``, a random id with
    ``replace[1]``, and stays itself with ``replace[2]``.  Random ids are drawn uniformly from
    ``random_ids`` when given (pass the ids of the ordinary vocabulary to keep special and unused ids
    out of the inputs), else uniformly from ``[0, vocab_size)`` (HF's choice).  ``labels`` hold the
    original id at chosen positions and ``-100`` everywhere else.

    All random numbers are drawn for every position (not only the chosen ones), so the result depends
    on ``generator``'s state and the shape only: the same seed gives the same masking.  They are drawn
    on the generator's device (CPU for a default ``torch.Generator()``) and moved to ``input_ids``'s.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    if len(replace) != 3 or any(p < 0 for p in replace) or not math.isclose(sum(replace), 1.0, abs_tol=1e-6):
        raise ValueError(f"replace must be three non-negative probabilities summing to 1, got {replace}")
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    if special.shape != input_ids.shape:
        raise ValueError(
            f"special must have input_ids's shape {tuple(input_ids.shape)}, got {tuple(special.shape)}"
        )
    if random_ids is not None:
        random_ids = random_ids.reshape(-1).long()
        if random_ids.numel() == 0:
            raise ValueError("random_ids is empty")
        if int(random_ids.min()) < 0 or int(random_ids.max()) >= vocab_size:
            raise ValueError(f"random_ids must lie in [0, {vocab_size})")

    device = input_ids.device
    draw_device = generator.device if generator is not None else device
    shape = input_ids.shape
    chosen_u = torch.rand(shape, generator=generator, device=draw_device).to(device)
    action_u = torch.rand(shape, generator=generator, device=draw_device).to(device)
    if random_ids is None:
        replacement = torch.randint(vocab_size, shape, generator=generator, device=draw_device)
    else:
        pool = random_ids.to(draw_device)
        replacement = pool[torch.randint(pool.numel(), shape, generator=generator, device=draw_device)]
    replacement = replacement.to(device=device, dtype=input_ids.dtype)

    chosen = (chosen_u < ratio) & ~special.to(device=device, dtype=torch.bool)
    to_mask = chosen & (action_u < replace[0])
    to_random = chosen & (action_u >= replace[0]) & (action_u < replace[0] + replace[1])

    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, replacement, masked)
    return masked, labels


class MaskedLMLoss(nn.Module):
    """Mean cross-entropy of the original token at every chosen position.

    | input | shape |
    |---|---|
    | features["token_states"] | ``[T, H]`` packed token states, or ``[B, L, H]`` |
    | labels | ``[T]`` or ``[B, L]``: the original id at targets, ``-100`` elsewhere |

    Logits are computed only at the target rows (about 15% of the tokens), never for every position:
    the vocabulary may have 250k entries.  They are cast to float32 before the softmax (a bf16 softmax
    over 250k entries loses the target's probability).  Every target weighs the same, whichever text it
    is in.  A batch without targets gives ``0`` connected to the graph, so ``backward()`` still runs.

    >>> loss = MaskedLMLoss(WordMLMHead(model.get_input_embeddings()))
    >>> loss({"token_states": states}, labels)
    """

    def __init__(self, head: WordMLMHead) -> None:
        super().__init__()
        self.head = head

    def compute_loss_from_states(self, states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        flat = states.reshape(-1, states.shape[-1])
        targets = labels.reshape(-1).to(flat.device)
        if targets.shape[0] != flat.shape[0]:
            raise ValueError(
                f"labels {tuple(labels.shape)} do not match the states' leading shape {tuple(states.shape[:-1])}"
            )
        rows = (targets != IGNORE_INDEX).nonzero().squeeze(1)
        if rows.numel() == 0:
            return flat.sum() * 0.0
        logits = self.head(flat.index_select(0, rows))
        return nn.functional.cross_entropy(logits.float(), targets.index_select(0, rows))

    def forward(self, features: dict[str, torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise ValueError("no MLM labels: build them with mask_tokens(...)")
        return self.compute_loss_from_states(features["token_states"], labels)
