"""Translation language modelling (TLM, Lample & Conneau 2019): masked language modelling on the two
texts of a pair concatenated into one input, so a masked token can be predicted from the other text
(its translation, or its transliteration in another script).

TLM adds no loss module of its own: build the inputs with :func:`concat_pair` (order drawn by
:func:`tlm_swap_flags`), corrupt them with :func:`~scriptbridge.objectives.mlm.mask_tokens` (pass
``special`` so separators are never masked) and score with
:class:`~scriptbridge.objectives.mlm.MaskedLMLoss`.
"""

from __future__ import annotations

from typing import Any

import torch

# One item of a pair template: ("A", None, type_id) / ("B", None, type_id) are the slots of the first
# and second texts, ("S", token_id, type_id) a special token.
_Template = list[tuple[str, int | None, int]]

_probe_tokenizer: Any = None


def _probe_encoding() -> Any:
    """A one-token :class:`tokenizers.Encoding` from a throwaway tokenizer: fed to the real tokenizer's
    post-processor, it shows where that post-processor puts each text, without encoding any text with
    the real tokenizer (whose backend may hold truncation or padding left by an earlier call)."""
    global _probe_tokenizer
    if _probe_tokenizer is None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        _probe_tokenizer = Tokenizer(models.WordLevel({"x": 0}, unk_token="x"))
        _probe_tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _probe_tokenizer.encode("x", add_special_tokens=False)


def _template_from_backend(backend: Any, *, single: bool = False) -> _Template:
    first, second = _probe_encoding(), (None if single else _probe_encoding())
    processor = backend.post_processor
    if processor is None:  # tokenizers' default: no special tokens, type ids 0 then 1
        out = _probe_tokenizer.post_process(first, second, add_special_tokens=True)
    else:
        out = processor.process(first, second, add_special_tokens=True)
    template: _Template = []
    for token_id, type_id, seq in zip(out.ids, out.type_ids, out.sequence_ids, strict=True):
        if seq is None:
            template.append(("S", int(token_id), int(type_id)))
        else:
            template.append(("AB"[seq], None, int(type_id)))
    return template


# Sentinels standing for the two texts when probing a Python tokenizer's methods (never real ids).
_SENTINEL_A, _SENTINEL_B = -1, -2


def _template_from_methods(tokenizer: Any) -> _Template:
    first, second = [_SENTINEL_A], [_SENTINEL_B]
    ids = list(tokenizer.build_inputs_with_special_tokens(first, second))
    special = list(tokenizer.get_special_tokens_mask(first, second, already_has_special_tokens=False))
    types = list(tokenizer.create_token_type_ids_from_sequences(first, second))
    if not len(ids) == len(special) == len(types):
        raise ValueError("the tokenizer's pair layout methods disagree on the length")
    template: _Template = []
    for token_id, is_special, type_id in zip(ids, special, types, strict=True):
        if token_id in (_SENTINEL_A, _SENTINEL_B):
            template.append(("A" if token_id == _SENTINEL_A else "B", None, int(type_id)))
        elif is_special:
            template.append(("S", int(token_id), int(type_id)))
        else:
            raise ValueError("the tokenizer's special-token mask marks a non-text token as ordinary")
    return template


_TEMPLATES: dict[tuple[int, bool], tuple[Any, _Template]] = {}


def _cached(tokenizer: Any, single: bool, build: Any) -> _Template:
    """Templates are read once per tokenizer (the entry holds the tokenizer, so its id stays unique)."""
    key = (id(tokenizer), single)
    found = _TEMPLATES.get(key)
    if found is None or found[0] is not tokenizer:
        found = _TEMPLATES[key] = (tokenizer, build())
    return found[1]


def single_template(tokenizer: Any) -> _Template:
    """How ``tokenizer`` lays out one text (``[CLS] A [SEP]``, ``<s> A </s>``), as :func:`pair_template`."""
    from tokenizers import Tokenizer

    def build() -> _Template:
        backend = (
            tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
        )
        if isinstance(backend, Tokenizer):
            template = _template_from_backend(backend, single=True)
        elif hasattr(tokenizer, "build_inputs_with_special_tokens"):
            ids = list(tokenizer.build_inputs_with_special_tokens([_SENTINEL_A]))
            special = list(tokenizer.get_special_tokens_mask([_SENTINEL_A], already_has_special_tokens=False))
            template = [
                ("A", None, 0) if i == _SENTINEL_A else ("S", int(i), 0)
                for i, sp in zip(ids, special, strict=True)
            ]
        else:
            raise TypeError(f"cannot find how {type(tokenizer).__name__} lays out a text")
        if [kind for kind, _, _ in template if kind != "S"] != ["A"]:
            raise ValueError(f"expected one slot for the text, got {template}")
        return template

    return _cached(tokenizer, True, build)


def single_sequence(ids: list[int], tokenizer: Any) -> tuple[list[int], list[bool]]:
    """One text's ids with the tokenizer's special tokens around them, and where those are."""
    out: list[int] = []
    special: list[bool] = []
    for kind, token_id, _ in single_template(tokenizer):
        if kind == "S":
            out.append(int(token_id))  # type: ignore[arg-type]
            special.append(True)
        else:
            out.extend(int(i) for i in ids)
            special.extend([False] * len(ids))
    return out, special


def pair_template(tokenizer: Any) -> _Template:
    """How ``tokenizer`` lays out a pair: a list of ``("A" | "B", None, type_id)`` text slots and
    ``("S", token_id, type_id)`` special tokens, in order.

    A fast tokenizer (or a bare :class:`tokenizers.Tokenizer`) is read from its backend's
    post-processor: that is what ``tokenizer(text_a, text_b)`` itself applies, and transformers >= 5
    fast tokenizers no longer have ``build_inputs_with_special_tokens``.  Other tokenizers are read from
    ``build_inputs_with_special_tokens``, ``get_special_tokens_mask`` and
    ``create_token_type_ids_from_sequences``.
    """
    from tokenizers import Tokenizer

    def build() -> _Template:
        backend = (
            tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
        )
        if isinstance(backend, Tokenizer):
            template = _template_from_backend(backend)
        elif hasattr(tokenizer, "build_inputs_with_special_tokens"):
            template = _template_from_methods(tokenizer)
        else:
            raise TypeError(f"cannot find how {type(tokenizer).__name__} lays out a pair of texts")
        if [kind for kind, _, _ in template if kind != "S"] != ["A", "B"]:
            raise ValueError(f"expected one slot for each text, first then second, got {template}")
        return template

    return _cached(tokenizer, False, build)


def _truncate_longest_first(n_first: int, n_second: int, budget: int) -> tuple[int, int]:
    """Lengths after ``longest_first`` truncation to ``budget`` tokens, by the rule of the fast tokenizers
    (tokenizers' ``TruncationStrategy::LongestFirst``): only the longer text is cut while the shorter
    fits in half the budget; otherwise the shorter keeps ``budget // 2`` and the longer the rest (on a
    tie, the second text counts as the longer)."""
    if n_first + n_second <= budget:
        return n_first, n_second
    swap = n_first > n_second
    short, long = (n_second, n_first) if swap else (n_first, n_second)
    long = short if short > budget else max(short, budget - short)
    if short + long > budget:
        short, long = budget // 2, budget // 2 + budget % 2
    return (long, short) if swap else (short, long)


def concat_pair(
    ids_a: list[int],
    ids_b: list[int],
    tokenizer: Any,
    *,
    swap: bool,
    restart_positions: bool,
    position_offset: int = 0,
    max_length: int | None = None,
) -> dict[str, list]:
    """One TLM input: the two texts of a pair in one sequence, with the tokenizer's special tokens.

    | key | value (length n) |
    |---|---|
    | input_ids | ``[CLS] A [SEP] B [SEP]`` (BERT), ``<s> A </s></s> B </s>`` (XLM-R), ... |
    | token_type_ids | the tokenizer's segment ids (BERT: 0 then 1; XLM-R: all 0) |
    | position_ids | ``position_offset + 0 .. n-1``, or restarting for the second text (below) |
    | special | True at the special tokens (never mask them) |

    ``ids_a`` and ``ids_b`` are token ids without special tokens.  With ``swap``, ``ids_b`` comes first.
    The layout comes from :func:`pair_template`, so any tokenizer's own pair format comes out as
    ``tokenizer(text_a, text_b)`` would build it.

    ``position_offset`` is added to every position: RoBERTa and XLM-R count positions from
    ``padding_idx + 1`` (2), BERT from 0; the caller knows its model.  With ``restart_positions``
    (XLM's TLM) the second text's positions start again at ``position_offset``.  The second segment
    begins at the second text's first token: every special token placed before it (BERT's ``[SEP]``,
    XLM-R's ``</s></s>`` pair) closes the first segment and continues its count, and the specials after
    it (the final separator) belong to the second.  An empty second text restarts at the index where
    its tokens would have been.

    ``max_length`` bounds the whole sequence, special tokens included: the texts are truncated (from
    their ends) longest first beforehand, as a fast tokenizer's ``truncation="longest_first"`` does.
    """
    first, second = (ids_b, ids_a) if swap else (ids_a, ids_b)
    first, second = [int(i) for i in first], [int(i) for i in second]
    template = pair_template(tokenizer)
    if max_length is not None:
        budget = max_length - sum(kind == "S" for kind, _, _ in template)
        if budget < 0:
            raise ValueError(f"max_length {max_length} is shorter than the pair's special tokens")
        n_first, n_second = _truncate_longest_first(len(first), len(second), budget)
        first, second = first[:n_first], second[:n_second]

    input_ids: list[int] = []
    token_type_ids: list[int] = []
    special: list[bool] = []
    second_start = 0
    for kind, token_id, type_id in template:
        if kind == "S":
            input_ids.append(int(token_id))  # type: ignore[arg-type]
            token_type_ids.append(type_id)
            special.append(True)
            continue
        text = first if kind == "A" else second
        if kind == "B":
            second_start = len(input_ids)
        input_ids.extend(text)
        token_type_ids.extend([type_id] * len(text))
        special.extend([False] * len(text))

    n = len(input_ids)
    positions = list(range(n))
    if restart_positions:
        positions[second_start:] = range(n - second_start)
    return {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "position_ids": [p + position_offset for p in positions],
        "special": special,
    }


def tlm_swap_flags(n: int, generator: torch.Generator | None) -> list[bool]:
    """Whether to swap each of ``n`` pairs (put its second text first), each True with probability 1/2,
    so neither language is always the left context."""
    device = generator.device if generator is not None else "cpu"
    return (torch.rand(n, generator=generator, device=device) < 0.5).tolist()
