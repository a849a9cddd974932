"""A linear-chain conditional random field over per-word emission scores (for NER / POS tagging).

The score of a tag path ``y`` of length ``n`` is

    s(y) = start[y_0] + sum_t emissions[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t] + end[y_{n-1}]

and ``p(y | x) = exp(s(y)) / Z`` with ``log Z`` computed by the forward algorithm. Training minimises
``log Z - s(gold)``; prediction is the Viterbi path. Everything is vectorised over the batch; the only
Python loop is over time steps.

Masks are left-aligned: sequence ``b`` occupies positions ``0 .. n_b - 1``. A sequence of length 0 has
score 0, ``log Z`` 0 (the empty path is the only path) and decodes to ``[]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import nn

# The score given to a forbidden transition in the forward algorithm. Finite on purpose: with -inf, a
# gold path that crosses a forbidden transition (noisy data) would give an infinite loss and NaN
# gradients. exp(-1e4) underflows to 0, so forbidden paths carry no probability mass either way.
FORBIDDEN_SCORE = -1e4


def parse_iob2(label: str) -> tuple[str, str]:
    """``"B-PER" -> ("B", "PER")``, ``"I-PER" -> ("I", "PER")``, anything else -> ``("O", "")``."""
    if len(label) > 2 and label[1] == "-" and label[0] in "BI":
        return label[0], label[2:]
    return "O", ""


def looks_like_iob2(labels: Sequence[str]) -> bool:
    """True when every label is ``O`` or ``B-X`` / ``I-X`` and at least one ``B-X`` exists
    (POS tags such as ``NOUN`` or ``PROPN`` are not IOB2 and get no constraints)."""
    if not labels:
        return False
    prefixes = [parse_iob2(label)[0] for label in labels]
    all_iob = all(prefix != "O" or label == "O" for prefix, label in zip(prefixes, labels, strict=True))
    return all_iob and "B" in prefixes


def iob2_allowed_transitions(labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The transitions IOB2 allows, as bool masks ``(start [C], transitions [C, C] from -> to, end [C])``.

    ``I-X`` continues an entity of type ``X``: it may only follow ``B-X`` or ``I-X`` and may not start a
    sequence. Every other transition, and ending on any tag, is allowed.
    """
    parsed = [parse_iob2(label) for label in labels]
    num_tags = len(parsed)
    start = torch.ones(num_tags, dtype=torch.bool)
    transitions = torch.ones(num_tags, num_tags, dtype=torch.bool)
    end = torch.ones(num_tags, dtype=torch.bool)
    for to, (to_prefix, to_type) in enumerate(parsed):
        if to_prefix != "I":
            continue
        start[to] = False
        for frm, (frm_prefix, frm_type) in enumerate(parsed):
            transitions[frm, to] = frm_prefix in ("B", "I") and frm_type == to_type
    return start, transitions, end


def _allowed_masks(
    allowed: torch.Tensor | Sequence[torch.Tensor] | None, num_tags: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise the accepted ``allowed`` forms to ``(start [C], transitions [C, C], end [C])`` bool masks.

    Accepted: ``None`` (everything allowed); a ``(start, transitions, end)`` triple as returned by
    :func:`iob2_allowed_transitions`; a ``[C, C]`` transition mask; or a ``[C+2, C+2]`` mask whose row
    ``C`` is a virtual START tag and column ``C+1`` a virtual END tag.
    """
    everything = torch.ones(num_tags, dtype=torch.bool)
    if allowed is None:
        return everything, torch.ones(num_tags, num_tags, dtype=torch.bool), everything.clone()
    if isinstance(allowed, torch.Tensor):
        allowed = allowed.bool()
        if allowed.shape == (num_tags, num_tags):
            return everything, allowed.clone(), everything.clone()
        if allowed.shape == (num_tags + 2, num_tags + 2):
            return (
                allowed[num_tags, :num_tags].clone(),
                allowed[:num_tags, :num_tags].clone(),
                allowed[:num_tags, num_tags + 1].clone(),
            )
        raise ValueError(
            f"allowed must be [{num_tags}, {num_tags}] or [{num_tags + 2}, {num_tags + 2}], "
            f"got {tuple(allowed.shape)}"
        )
    if len(allowed) != 3:
        raise ValueError("allowed must be a tensor or a (start, transitions, end) triple of masks")
    start, transitions, end = (torch.as_tensor(mask).bool() for mask in allowed)
    if start.shape != (num_tags,) or end.shape != (num_tags,) or transitions.shape != (num_tags, num_tags):
        raise ValueError(
            f"allowed masks must be [{num_tags}], [{num_tags}, {num_tags}], [{num_tags}]; got "
            f"{tuple(start.shape)}, {tuple(transitions.shape)}, {tuple(end.shape)}"
        )
    return start.clone(), transitions.clone(), end.clone()


class CRF(nn.Module):
    """Linear-chain CRF with learned start, transition (``from -> to``) and end scores.

    | input | shape |
    |---|---|
    | emissions | ``[batch, time, num_tags]`` unnormalised per-position tag scores |
    | tags | ``[batch, time]`` gold tag ids (values outside the mask are ignored, -100 included) |
    | mask | ``[batch, time]`` bool, left-aligned: True for the first ``n_b`` positions |

    ``allowed`` constrains the paths (see :func:`iob2_allowed_transitions`): forbidden moves score
    :data:`FORBIDDEN_SCORE` in the likelihood and are excluded outright by :meth:`decode`. The masks are
    persistent buffers, so a state_dict carries the constraints with it.

    The maths runs in float32 (float64 when the inputs or parameters are float64), also under bf16/fp16
    autocast: logsumexp over long chains in bf16 loses the likelihood's small differences.

    >>> crf = CRF(3, allowed=iob2_allowed_transitions(["O", "B-PER", "I-PER"]))
    >>> nll = crf(emissions, tags, mask)  # mean negative log-likelihood over the batch
    >>> paths = crf.decode(emissions, mask)  # list of tag-id lists, one per sequence
    """

    def __init__(
        self, num_tags: int, *, allowed: torch.Tensor | Sequence[torch.Tensor] | None = None
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"a CRF needs at least one tag, got {num_tags}")
        self.num_tags = num_tags
        # Small random scores: large ones would make the untrained model confidently wrong, while
        # exact zeros would make every path tie in early Viterbi decoding.
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        start, transitions, end = _allowed_masks(allowed, num_tags)
        self.register_buffer("allowed_start", start)
        self.register_buffer("allowed_transitions", transitions)
        self.register_buffer("allowed_end", end)

    def extra_repr(self) -> str:
        constrained = not bool(
            self.allowed_start.all() and self.allowed_transitions.all() and self.allowed_end.all()
        )
        return f"num_tags={self.num_tags}, constrained={constrained}"

    # -- helpers -----------------------------------------------------------------------------------

    def _prepare(
        self, emissions: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Check shapes, cast to the working dtype; return ``(emissions, mask, lengths)``."""
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(
                f"emissions must be [batch, time, {self.num_tags}], got {tuple(emissions.shape)}"
            )
        batch, time = emissions.shape[:2]
        if mask is None:
            mask = torch.ones(batch, time, dtype=torch.bool, device=emissions.device)
        mask = mask.to(device=emissions.device, dtype=torch.bool)
        if mask.shape != (batch, time):
            raise ValueError(f"mask must be [{batch}, {time}], got {tuple(mask.shape)}")
        lengths = mask.sum(dim=1)
        # The recursions carry the last real position's scores through the padding, which is only
        # right when the padding comes after the sequence.
        positions = torch.arange(time, device=mask.device)
        if not torch.equal(mask, positions[None, :] < lengths[:, None]):
            raise ValueError("mask must be left-aligned: True for the first n positions of each row only")
        wide = torch.float64 if torch.float64 in (emissions.dtype, self.transitions.dtype) else torch.float32
        # Zero the padding: whatever a caller pads with (even -inf) then never reaches a logsumexp, whose
        # backward would turn it into NaN gradients although the padded steps are discarded.
        emissions = emissions.to(wide).masked_fill(~mask[:, :, None], 0.0)
        return emissions, mask, lengths

    def _scores(
        self, dtype: torch.dtype, forbidden: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start, transition and end scores with the forbidden moves replaced by ``forbidden``."""

        def constrain(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
            return torch.where(allowed, scores.to(dtype), torch.full_like(scores, forbidden, dtype=dtype))

        return (
            constrain(self.start_transitions, self.allowed_start),
            constrain(self.transitions, self.allowed_transitions),
            constrain(self.end_transitions, self.allowed_end),
        )

    @staticmethod
    def _no_autocast(device: torch.device) -> contextlib.AbstractContextManager:
        try:
            return torch.autocast(device_type=device.type, enabled=False)
        except RuntimeError:  # a device type autocast does not know: nothing to switch off
            return contextlib.nullcontext()

    # -- likelihood --------------------------------------------------------------------------------

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``log Z`` per sequence, ``[batch]``, by the forward algorithm."""
        with self._no_autocast(emissions.device):
            emissions, mask, lengths = self._prepare(emissions, mask)
            start, transitions, end = self._scores(emissions.dtype, FORBIDDEN_SCORE)
            batch, time = mask.shape
            if time == 0:
                return emissions.new_zeros(batch)
            # alpha[b, j]: log-sum of the scores of all paths over positions 0..t that end in tag j.
            alpha = start + emissions[:, 0]
            for t in range(1, time):
                # [B, C_from, 1] + [C_from, C_to] + [B, 1, C_to], summed out over C_from
                stepped = torch.logsumexp(alpha[:, :, None] + transitions + emissions[:, t, None, :], dim=1)
                alpha = torch.where(mask[:, t, None], stepped, alpha)
            log_z = torch.logsumexp(alpha + end, dim=1)
            return torch.where(lengths > 0, log_z, torch.zeros_like(log_z))

    def score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The unnormalised score ``s(tags)`` of each sequence's given path, ``[batch]``."""
        with self._no_autocast(emissions.device):
            emissions, mask, lengths = self._prepare(emissions, mask)
            if tags.shape != mask.shape:
                raise ValueError(f"tags must be {tuple(mask.shape)}, got {tuple(tags.shape)}")
            start, transitions, end = self._scores(emissions.dtype, FORBIDDEN_SCORE)
            batch, time = mask.shape
            if time == 0:
                return emissions.new_zeros(batch)
            # Padding may hold -100 or any junk: point it at tag 0 so indexing is safe, then mask it out.
            tags = tags.to(emissions.device).long().masked_fill(~mask, 0)
            if bool(((tags < 0) | (tags >= self.num_tags)).any()):
                raise ValueError(f"tags inside the mask must lie in [0, {self.num_tags})")
            emitted = emissions.gather(2, tags[:, :, None]).squeeze(2).sum(dim=1)  # padding is zeroed
            moved = transitions[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0).sum(dim=1)
            nonempty = (lengths > 0).to(emissions.dtype)
            last_tags = tags.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)
            return emitted + moved + (start[tags[:, 0]] + end[last_tags]) * nonempty

    def forward(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """Negative log-likelihood ``log Z - s(tags)``: ``"mean"`` over the batch, ``"sum"`` or ``"none"``
        (``[batch]``). Empty sequences contribute 0 (and still count in the mean's denominator)."""
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        nll = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)
        if reduction == "none":
            return nll
        return nll.sum() if reduction == "sum" else nll.mean()

    # -- decoding ----------------------------------------------------------------------------------

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """The Viterbi (highest-scoring) path of each sequence, as a list of its ``n_b`` tag ids."""
        with self._no_autocast(emissions.device):
            emissions, mask, lengths = self._prepare(emissions, mask)
            # -inf rather than FORBIDDEN_SCORE: here no gradient is needed, and -inf guarantees that a
            # forbidden move never wins, however large the emissions are.
            start, transitions, end = self._scores(emissions.dtype, float("-inf"))
            batch, time = mask.shape
            if time == 0:
                return [[] for _ in range(batch)]
            identity = torch.arange(self.num_tags, device=emissions.device).expand(batch, -1)
            best = start + emissions[:, 0]
            backpointers = []
            for t in range(1, time):
                stepped, came_from = (best[:, :, None] + transitions + emissions[:, t, None, :]).max(dim=1)
                best = torch.where(mask[:, t, None], stepped, best)
                # On padding each tag points at itself, so backtracking from the last column passes
                # unchanged through the padding to the sequence's true last position.
                backpointers.append(torch.where(mask[:, t, None], came_from, identity))
            path = torch.empty(batch, time, dtype=torch.long, device=emissions.device)
            path[:, -1] = (best + end).argmax(dim=1)
            for t in range(time - 1, 0, -1):
                path[:, t - 1] = backpointers[t - 1].gather(1, path[:, t, None]).squeeze(1)
            return [row[:n] for row, n in zip(path.tolist(), lengths.tolist(), strict=True)]
