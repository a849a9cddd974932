"""PhoneXL's word-level encoder: each word's IPA transcription is embedded beside its spelling.

Nguyen et al. (2023), "Enhancing Cross-lingual Transfer via Phonemic Transcription Integration",
sections 4.1 and 5.2.  The transformer runs over *word* positions ``[CLS] w1 .. wM [SEP]``; the input
vector of word ``m`` is

    orth_m + phon_m + lang_m        (+ position + segment, added by the model's own embedding layer)

* ``orth_m``: the mean of the model's word-embedding rows of the word's subwords (the orthographic
  embedding, OE).  Footnote 3 of the paper: mean pooling is what makes the length-variable orthographic
  and phonemic tokenizations line up word by word.
* ``phon_m``: the mean of the *phonemic table*'s rows of the subwords of the word's IPA (the phonemic
  embedding, PE).  The IPA is tokenized alone, per word, by the encoder's tokenizer extended with the
  IPA symbols it lacks (the paper's vocabulary extension, Table 6), into its own embedding table
  initialised from the model's rows.  ``[CLS]`` / ``[SEP]`` have no IPA: their ``phon`` is zero.
* ``lang_m``: a language embedding per position (code-switched sentences mix languages word by word;
  ``[CLS]`` / ``[SEP]`` take the sentence's main language), initialised to zero so that an untrained
  model equals the plain encoder run on word-pooled inputs.

The model is called with ``inputs_embeds=`` so that its embedding layer adds the position and segment
embeddings, the LayerNorm and the dropout exactly as for token ids (BertModel and XLMRobertaModel alike;
RoBERTa numbers the positions from ``padding_idx + 1`` for ``inputs_embeds``, which is what it does for
the unpadded tokens of right-padded ``input_ids``).

>>> pe = build_phonemic_encoder(load_encoder("embedded"), all_ipa_strings, ["zh", "vi"])
>>> batch = pe.build_batch([["同樣", "，"]], [["tʰʊŋ˧˥ jɑŋ˥˩", "，"]], ["zh"])
>>> out = pe(batch)        # out["word_states"]: [1, 2, 384]
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

__all__ = [
    "MaskedWordTargets",
    "PhonemicEncoder",
    "WordBatch",
    "build_phonemic_encoder",
    "build_word_batch",
    "extend_tokenizer",
    "missing_ipa_symbols",
    "phonemic_vocabulary",
    "resize_word_embeddings",
    "split_ipa_symbols",
]

# ---------------------------------------------------------------------- IPA symbols

# Tie bars join two base letters into one phoneme: t͡ʃ, d͡ʒ, t͜s.
_TIE_BARS = frozenset("\u0361\u035c")


def _is_tone_letter(ch: str) -> bool:
    """Chao tone letters ˥˦˧˨˩ and the other modifier tone letters (U+A708-U+A716)."""
    return "\u02e5" <= ch <= "\u02e9" or "\ua708" <= ch <= "\ua716"


def split_ipa_symbols(ipa: str) -> list[str]:
    """The IPA symbols of ``ipa`` (NFC), in order; whitespace separates and is dropped.

    A symbol is a base character with the combining marks that follow it (``ɤ̆``, ``n̩``); a tie bar
    also pulls in the next base (``t͡ʃ``, ``d͡ʒ``); and a run of tone letters is one symbol, the tone
    contour (``˧˥`` rising, ``˥˩`` falling, ``˧˩˧`` dipping).  Spacing modifier letters (``ʰ``, ``ʲ``,
    ``ː``) are symbols of their own, as in the IPA chart, so aspiration is one shared symbol rather
    than one per consonant.

    Contours and affricates are kept whole because a word's phonemic vector is the *mean* of its
    pieces: a bag without order, in which ``˧˥`` and ``˥˧`` (rising vs falling) would be identical if
    each tone letter were a piece of its own.
    """
    symbols: list[str] = []
    attach = False  # may the next character join symbols[-1]? (not at the start nor after a space)
    tied = False  # symbols[-1] ends with a tie bar: the next base joins it
    for ch in unicodedata.normalize("NFC", ipa):
        if ch.isspace():
            attach = tied = False
            continue
        joins = attach and (
            tied
            or unicodedata.category(ch).startswith("M")
            or (_is_tone_letter(ch) and _is_tone_letter(symbols[-1][-1]))
        )
        if joins:
            symbols[-1] += ch
        else:
            symbols.append(ch)
        attach = True
        tied = ch in _TIE_BARS
    return symbols


def _is_ipa_symbol(symbol: str) -> bool:
    """Is ``symbol`` made of IPA material (Latin/Greek letters, modifier letters, tone letters)?

    PhoneXL's IPA columns pass through what the transcriber could not convert (CJK characters,
    Cyrillic, arrows, emoji); those are left to the tokenizer as they are, not added as IPA symbols.
    """
    base = symbol[0]
    name = unicodedata.name(base, "")
    return _is_tone_letter(base) or name.startswith(("LATIN ", "GREEK ", "MODIFIER LETTER ", "COMBINING "))


def _normalize(tokenizer: Any, text: str) -> str:
    """``text`` as the tokenizer's normalizer writes it (NFC/NFKC, lowercasing, accent stripping...)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    normalizer = getattr(backend, "normalizer", None)
    return normalizer.normalize_str(text) if normalizer is not None else text


def _ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens, in ONE call to the fast tokenizer."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and backend.truncation is None and backend.padding is None:
        # The Rust tokenizer directly: the same ids as tokenizer(...) (which calls this very method)
        # without building a BatchEncoding, ~4x faster for the hundreds of short words of a batch.
        # Only while no truncation/padding is left switched on by an earlier padded call.
        return [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=False)]
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def _probe_letter(tokenizer: Any) -> str | None:
    """A letter the tokenizer knows at the start of a word *and* inside one (WordPiece ``##a``)."""
    unk = tokenizer.unk_token_id
    for letter in "aeiontms":
        if all(unk not in row and row for row in _ids(tokenizer, [letter, letter + letter])):
            return letter
    return None


def missing_ipa_symbols(tokenizer: Any, ipa_strings: Iterable[str], *, ipa_only: bool = True) -> list[str]:
    """The IPA symbols of ``ipa_strings`` that ``tokenizer`` maps to its unknown token; sorted.

    Symbols are those of :func:`split_ipa_symbols` (base + combining marks, tie-bar affricates, whole
    tone contours), written as the tokenizer's normalizer writes them (symbols it folds onto known
    letters, as NFKC folds ``ʰ`` onto ``h``, are therefore not missing).  For every tone contour the
    single tone letters the tokenizer lacks are returned too, so that a contour absent from these
    strings still splits into known pieces (added tokens match longest first: ``˧˥`` wins over ``˧``).

    A symbol is missing when it gives an unknown token alone *or* after a letter the tokenizer knows:
    WordPiece turns a whole word into ``[UNK]`` when one character lacks its ``##`` continuation
    piece, even where the character alone is known.  ``ipa_only``: consider only IPA material (see
    :func:`_is_ipa_symbol`), not the foreign text transcribers pass through.  Tokenizers without an
    unknown token (byte-level BPE) miss nothing.
    """
    unk = tokenizer.unk_token_id
    if unk is None:
        return []
    symbols: set[str] = set()
    for text in set(ipa_strings):
        symbols.update(split_ipa_symbols(text))
    if ipa_only:
        symbols = {s for s in symbols if _is_ipa_symbol(s)}
    candidates = set(symbols)
    for s in symbols:
        if len(s) > 1 and all(_is_tone_letter(ch) for ch in s):
            candidates.update(s)
    normalized = sorted({n for n in (_normalize(tokenizer, s) for s in candidates) if n.strip()})
    if not normalized:
        return []
    alone = _ids(tokenizer, normalized)
    probe = _probe_letter(tokenizer)
    inside = _ids(tokenizer, [probe + s for s in normalized]) if probe else [[] for _ in normalized]
    return [s for s, a, b in zip(normalized, alone, inside, strict=True) if unk in a or unk in b]


def extend_tokenizer(tokenizer: Any, symbols: Iterable[str]) -> int:
    """Add ``symbols`` to ``tokenizer`` as ordinary (non-special) tokens; returns how many were added.

    The caller must then initialise the new tokens' rows of the model's word embeddings
    (``resize_word_embeddings(model, len(tokenizer), first_new_row=<length before>)``;
    :func:`build_phonemic_encoder` does both).  Symbols already in the vocabulary are skipped: making
    an existing piece an added token would split it out of every word.  The tokens are matched on the
    normalized text, their content normalized the same way; the longest added token wins (``˧˩˧``
    before ``˧``).  Added tokens are split out of orthographic text too, but only symbols that gave
    the unknown token (in WordPiece possibly only inside a word) are ever added.
    """
    from tokenizers import AddedToken

    unk = tokenizer.unk_token_id
    new = []
    for s in dict.fromkeys(symbols):
        if s and (unk is None or tokenizer.convert_tokens_to_ids(s) in (None, unk)):
            new.append(AddedToken(s, normalized=True, single_word=False, lstrip=False, rstrip=False))
    if not new:
        return 0
    return int(tokenizer.add_tokens(new))


def resize_word_embeddings(model: Any, size: int, *, first_new_row: int | None = None) -> int:
    """Give the model's word embeddings ``size`` rows, rows ``first_new_row .. size - 1`` set to the mean
    of rows ``0 .. first_new_row - 1``; returns how many rows were set.

    ``first_new_row`` defaults to the current number of rows (only grown rows are set); pass the
    tokenizer's length *before* extending it, because a table may already hold spare rows beyond the
    vocabulary (e5's has 250,037 rows for 250,002 tokens) whose values are left-overs, not neutral
    starting points.  The table is never shrunk.  The mean is the neutral start of the paper's resized
    table; the transformers default (samples around the mean) would make runs depend on the random state.
    """
    emb = model.get_input_embeddings()
    old = int(emb.num_embeddings)
    first = old if first_new_row is None else int(first_new_row)
    if not 0 < first <= old:
        raise ValueError(f"first_new_row must be in [1, {old}], got {first}")
    if size <= first:
        return 0
    with torch.no_grad():
        mean = emb.weight[:first].float().mean(dim=0)
    if size > old:
        model.resize_token_embeddings(size, mean_resizing=False)
    new = model.get_input_embeddings()
    with torch.no_grad():
        new.weight[first:size] = mean.to(new.weight.dtype)
    return size - first


def phonemic_vocabulary(tokenizer: Any, ipa_strings: Iterable[str]) -> list[int]:
    """Sorted unique token ids of ``ipa_strings``, each tokenized alone as :func:`build_word_batch` does
    (an empty tokenization counts as the unknown token)."""
    strings = sorted(set(ipa_strings))
    ids: set[int] = set()
    unk = tokenizer.unk_token_id
    for row in _ids(tokenizer, strings):
        if row:
            ids.update(row)
        elif unk is not None:
            ids.add(unk)
    return sorted(ids)


# ---------------------------------------------------------------------- batches


@dataclass
class MaskedWordTargets:
    """The word-level MLM targets of a batch: ``token_ids[t]`` is to be predicted from the word vector
    ``word_states.reshape(-1, H)[word_index[t]]`` (``word_index = b * (L - 2) + m``, ``m`` 0-based).

    A masked word of ``k`` subwords gives ``k`` targets, all with the same ``word_index``: the word
    has one position, so all its subwords are predicted from it.  (Lining the subword labels up with
    subword positions that no longer exist is the label/position misalignment to avoid here.)
    """

    token_ids: torch.Tensor  # LongTensor[T]
    word_index: torch.Tensor  # LongTensor[T]

    def to(self, device: Any) -> MaskedWordTargets:
        return MaskedWordTargets(self.token_ids.to(device), self.word_index.to(device))

    def __len__(self) -> int:
        return int(self.token_ids.numel())


@dataclass
class WordBatch:
    """Everything a :class:`PhonemicEncoder` forward pass needs, as tensors (built on the CPU).

    Positions are ``[CLS] w1 .. wM [SEP]`` padded to ``L = max M + 2``; a *slot* is ``b * L + position``.

    | field | shape | meaning |
    |---|---|---|
    | orth_ids, orth_slot | ``[N_o]`` | subword ids (CLS/SEP included) and the slot each is pooled into |
    | phon_ids, phon_slot | ``[N_p]`` | IPA piece ids and their slots (words only) |
    | lang_ids | ``[B, L]`` | language id per position |
    | attention_mask | ``[B, L]`` | 1 for CLS, words, SEP |
    | word_mask | ``[B, L-2]`` bool | True for real words (positions 1..M) |
    | mlm_targets | | :class:`MaskedWordTargets`, or None when no words were masked on purpose |
    """

    orth_ids: torch.Tensor
    orth_slot: torch.Tensor
    phon_ids: torch.Tensor
    phon_slot: torch.Tensor
    lang_ids: torch.Tensor
    attention_mask: torch.Tensor
    word_mask: torch.Tensor
    n_words: list[int]
    mlm_targets: MaskedWordTargets | None = None
    #: words dropped by ``max_words`` (the first words of a sentence are kept)
    n_truncated_words: int = 0
    #: subwords / IPA pieces dropped by the per-word limits
    n_truncated_pieces: int = 0
    #: the tensor fields :meth:`to` moves
    TENSOR_FIELDS: ClassVar[tuple[str, ...]] = (
        "orth_ids",
        "orth_slot",
        "phon_ids",
        "phon_slot",
        "lang_ids",
        "attention_mask",
        "word_mask",
    )

    @property
    def batch_size(self) -> int:
        return int(self.attention_mask.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.attention_mask.shape[1])

    def to(self, device: Any) -> WordBatch:
        moved = {name: getattr(self, name).to(device) for name in self.TENSOR_FIELDS}
        targets = None if self.mlm_targets is None else self.mlm_targets.to(device)
        return replace(self, mlm_targets=targets, **moved)


def _main_language(langs: Sequence[int]) -> int:
    """The most frequent id (ties: the first seen; Counter keeps insertion order)."""
    return Counter(langs).most_common(1)[0][0]


def _without_marker(pieces: list[list[int]], tokenizer: Any) -> list[list[int]]:
    """Each word's pieces without SentencePiece's lone word-boundary piece "▁" when the word has
    others: XLM-R-style tokenizers split most CJK words (and IPA strings) as ["▁", "東京"], and a mean
    over the pieces would be half boundary marker, the same vector for every such word."""
    marker = tokenizer.convert_tokens_to_ids("\u2581")
    if marker is None or marker == tokenizer.unk_token_id:
        return pieces
    return [[i for i in p if i != marker] if len(p) > 1 and marker in p else p for p in pieces]


def build_word_batch(
    tokenizer: Any,
    words: Sequence[Sequence[str]],
    ipa: Sequence[Sequence[str]] | None,
    langs: Sequence[int] | Sequence[Sequence[int]],
    *,
    mask_words: Sequence[Sequence[bool]] | None = None,
    max_words: int = 126,
    max_subwords_per_word: int = 8,
    max_ipa_pieces_per_word: int = 32,
) -> WordBatch:
    """Tokenize a batch of word-split sentences into a :class:`WordBatch`.

    ``words[b]``: the words of sentence ``b``; ``ipa[b][m]``: the IPA of ``words[b][m]`` (or ``ipa``
    None: no phonemic input); ``langs[b]``: one language id for the sentence or one per word
    (code-switched input); CLS/SEP take the sentence's most frequent language.  All words of the
    batch are tokenized in one fast-tokenizer call, and all IPA strings in another; a word or IPA
    string with an empty tokenization gets the unknown token.

    ``mask_words[b][m]`` True masks word ``m`` (see :func:`~scriptbridge.objectives.word_mlm.choose_masked_words`):
    its orthographic input becomes the single mask token while its IPA stays visible (section 4.2:
    masked words are predicted from context *and* all phonemic transcriptions); its original
    subwords become :attr:`WordBatch.mlm_targets` (unknown-token subwords are not targets: predicting
    ``[UNK]`` teaches nothing).  Sentences keep their first ``max_words`` words (the count dropped is
    :attr:`WordBatch.n_truncated_words`); a word keeps its first ``max_subwords_per_word`` subwords
    (these are also its MLM targets) and its first ``max_ipa_pieces_per_word`` IPA pieces.
    """
    n_sent = len(words)
    if ipa is not None and len(ipa) != n_sent:
        raise ValueError(f"ipa has {len(ipa)} sentences, words has {n_sent}")
    if len(langs) != n_sent:
        raise ValueError(f"langs has {len(langs)} entries, words has {n_sent} sentences")
    if mask_words is not None and len(mask_words) != n_sent:
        raise ValueError(f"mask_words has {len(mask_words)} sentences, words has {n_sent}")
    if max_words < 1 or max_subwords_per_word < 1 or max_ipa_pieces_per_word < 1:
        raise ValueError("max_words, max_subwords_per_word and max_ipa_pieces_per_word must be >= 1")
    for b in range(n_sent):
        if ipa is not None and len(ipa[b]) != len(words[b]):
            raise ValueError(f"sentence {b}: {len(words[b])} words but {len(ipa[b])} IPA strings")
        if mask_words is not None and len(mask_words[b]) != len(words[b]):
            raise ValueError(f"sentence {b}: {len(words[b])} words but {len(mask_words[b])} mask flags")
        if not isinstance(langs[b], Integral) and len(langs[b]) != len(words[b]):
            raise ValueError(f"sentence {b}: {len(words[b])} words but {len(langs[b])} language ids")

    unk = tokenizer.unk_token_id
    empty = [] if unk is None else [unk]  # byte-level tokenizers (no unknown token): nothing to pool
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if cls_id is None or sep_id is None:
        raise ValueError("the tokenizer has neither CLS/SEP nor BOS/EOS tokens")
    mask_id = tokenizer.mask_token_id
    if mask_words is not None and mask_id is None:
        raise ValueError("the tokenizer has no mask token, so words cannot be masked")

    kept = [min(len(ws), max_words) for ws in words]
    n_truncated_words = sum(len(ws) - k for ws, k in zip(words, kept, strict=True))
    width = max(kept, default=0)  # words per row
    seq_len = width + 2
    orth_pieces = _without_marker(
        _ids(tokenizer, [w for ws, k in zip(words, kept, strict=True) for w in ws[:k]]), tokenizer
    )
    phon_pieces = (
        _without_marker(
            _ids(tokenizer, [p for ps, k in zip(ipa, kept, strict=True) for p in ps[:k]]), tokenizer
        )
        if ipa is not None
        else []
    )

    orth_ids: list[int] = []
    orth_slot: list[int] = []
    phon_ids: list[int] = []
    phon_slot: list[int] = []
    target_ids: list[int] = []
    target_word: list[int] = []
    lang_ids = torch.zeros((n_sent, seq_len), dtype=torch.long)
    n_truncated_pieces = 0
    flat = 0  # index of the current word in orth_pieces / phon_pieces
    for b, k in enumerate(kept):
        row = b * seq_len
        if isinstance(langs[b], Integral):
            main = int(langs[b])
            sentence_langs = [main] * k
        else:
            sentence_langs = [int(x) for x in langs[b][:k]]
            main = _main_language([int(x) for x in langs[b]]) if len(langs[b]) else 0
        lang_ids[b, :] = main  # CLS, SEP and padding
        if k:
            lang_ids[b, 1 : k + 1] = torch.tensor(sentence_langs, dtype=torch.long)
        orth_ids.append(cls_id)
        orth_slot.append(row)
        for m in range(k):
            slot = row + m + 1
            pieces = orth_pieces[flat] or empty
            n_truncated_pieces += max(0, len(pieces) - max_subwords_per_word)
            pieces = pieces[:max_subwords_per_word]
            if mask_words is not None and mask_words[b][m]:
                orth_ids.append(mask_id)
                orth_slot.append(slot)
                real = [p for p in pieces if p != unk]
                target_ids.extend(real)
                target_word.extend([b * width + m] * len(real))
            else:
                orth_ids.extend(pieces)
                orth_slot.extend([slot] * len(pieces))
            if ipa is not None:
                pieces = phon_pieces[flat] or empty
                n_truncated_pieces += max(0, len(pieces) - max_ipa_pieces_per_word)
                pieces = pieces[:max_ipa_pieces_per_word]
                phon_ids.extend(pieces)
                phon_slot.extend([slot] * len(pieces))
            flat += 1
        orth_ids.append(sep_id)
        orth_slot.append(row + k + 1)

    positions = torch.arange(seq_len)
    n_words = torch.tensor(kept, dtype=torch.long)
    attention_mask = (positions[None, :] < (n_words[:, None] + 2)).long()
    word_mask = torch.arange(width)[None, :] < n_words[:, None]
    targets = None
    if mask_words is not None:
        targets = MaskedWordTargets(
            torch.tensor(target_ids, dtype=torch.long), torch.tensor(target_word, dtype=torch.long)
        )
    return WordBatch(
        orth_ids=torch.tensor(orth_ids, dtype=torch.long),
        orth_slot=torch.tensor(orth_slot, dtype=torch.long),
        phon_ids=torch.tensor(phon_ids, dtype=torch.long),
        phon_slot=torch.tensor(phon_slot, dtype=torch.long),
        lang_ids=lang_ids,
        attention_mask=attention_mask,
        word_mask=word_mask,
        n_words=kept,
        mlm_targets=targets,
        n_truncated_words=n_truncated_words,
        n_truncated_pieces=n_truncated_pieces,
    )


# ---------------------------------------------------------------------- the encoder


def _mean_pool(vectors: torch.Tensor, slot: torch.Tensor, n_slots: int) -> torch.Tensor:
    """``out[s] = mean(vectors[slot == s])`` (zero for slots without vectors): ``[n_slots, H]``."""
    sums = vectors.new_zeros(n_slots, vectors.shape[-1]).index_add(0, slot, vectors)
    counts = torch.bincount(slot, minlength=n_slots).clamp(min=1).to(vectors.dtype)
    return sums / counts[:, None]


class PhonemicEncoder(nn.Module):
    """A transformers encoder run over word positions with PhoneXL's phonemic and language embeddings.

    ``phonemic_vocab``: the tokenizer ids IPA strings use (:func:`phonemic_vocabulary`).  The phonemic
    table is compact -- one row per id of that vocabulary, plus row 0 for pieces outside it -- because a
    copy of e5's 250k x 384 table would add ~100M trainable parameters of which IPA uses a few hundred.
    Its rows start as the model's word-embedding rows of those ids (row 0: the unknown token's row),
    as the paper initialises its PE from the pretrained model.  None: every tokenizer id (not compact).

    ``phonemic=False`` leaves the phonemic vector out of the input ("baseline on word inputs" ablation);
    ``language_embedding=False`` likewise leaves out the language vector (Table 6, "w/o Lang Embedding").
    ``forward`` returns a dict:

    | key | shape | |
    |---|---|---|
    | word_states | ``[B, L-2, H]`` | the last hidden state at word positions |
    | word_mask | ``[B, L-2]`` bool | real words |
    | orth, phon | ``[B, L-2, H]`` | the word-pooled orthographic / phonemic input embeddings |
    | last_hidden_state | ``[B, L, H]`` | all positions, CLS and SEP included |
    | attention_mask | ``[B, L]`` | |
    """

    CONFIG_NAME = "phonemic_encoder.json"
    WEIGHTS_NAME = "phonemic_encoder.safetensors"
    FORMAT = "scriptbridge-phonemic-encoder"

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        languages: Sequence[str],
        phonemic: bool = True,
        language_embedding: bool = True,
        phonemic_vocab: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not languages:
            raise ValueError("languages must name at least one language")
        if len(set(languages)) != len(languages):
            raise ValueError(f"languages must be distinct, got {list(languages)}")
        self.model = model
        self.tokenizer = tokenizer
        self.languages = [str(x) for x in languages]
        self.phonemic = bool(phonemic)
        self.language_embedding = bool(language_embedding)
        #: the IPA symbols build_phonemic_encoder added to the tokenizer (informational)
        self.added_ipa_symbols: list[str] = []
        word_embeddings = model.get_input_embeddings()
        n_rows = int(word_embeddings.num_embeddings)
        if len(tokenizer) > n_rows:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model's word embeddings only {n_rows} "
                "rows: call resize_word_embeddings(model, len(tokenizer), first_new_row=<length before>) "
                "after extending the tokenizer"
            )
        vocab = sorted(
            {int(i) for i in (range(len(tokenizer)) if phonemic_vocab is None else phonemic_vocab)}
        )
        if vocab and not 0 <= vocab[0] <= vocab[-1] < n_rows:
            raise ValueError(f"phonemic_vocab ids must lie in [0, {n_rows}), got {vocab[0]}..{vocab[-1]}")
        self.phonemic_vocab = vocab
        weight = word_embeddings.weight.detach()
        unk = tokenizer.unk_token_id
        unknown_row = weight[unk] if unk is not None else weight.mean(dim=0)
        table = torch.cat(
            [unknown_row[None], weight[torch.tensor(vocab, dtype=torch.long, device=weight.device)]]
        )
        self.phonemic_embeddings = nn.Embedding.from_pretrained(table.clone(), freeze=False)
        row_of_id = torch.zeros(n_rows, dtype=torch.long, device=weight.device)
        row_of_id[torch.tensor(vocab, dtype=torch.long, device=weight.device)] = torch.arange(
            1, len(vocab) + 1, device=weight.device
        )
        # tokenizer id -> phonemic table row; rebuilt from phonemic_vocab, so not in the state dict
        self.register_buffer("phonemic_row", row_of_id, persistent=False)
        self.language_embeddings = nn.Embedding(len(self.languages), weight.shape[1]).to(
            weight.device, weight.dtype
        )
        with torch.no_grad():
            self.language_embeddings.weight.zero_()

    # ------------------------------------------------------------------ batches

    def language_id(self, language: str | int) -> int:
        """The id of ``language`` (a name from :attr:`languages`, or an id, checked)."""
        if isinstance(language, Integral):
            if not 0 <= language < len(self.languages):
                raise ValueError(f"language id {language} out of range for {self.languages}")
            return int(language)
        try:
            return self.languages.index(language)
        except ValueError:
            raise ValueError(f"unknown language {language!r}; this encoder knows {self.languages}") from None

    def build_batch(
        self,
        words: Sequence[Sequence[str]],
        ipa: Sequence[Sequence[str]] | None,
        langs: Sequence[str | int] | Sequence[Sequence[str | int]],
        **kwargs: Any,
    ) -> WordBatch:
        """:func:`build_word_batch` with this encoder's tokenizer; languages by name or id."""
        ids = [
            self.language_id(x) if isinstance(x, (str, Integral)) else [self.language_id(y) for y in x]
            for x in langs
        ]
        return build_word_batch(self.tokenizer, words, ipa, ids, **kwargs)

    # ------------------------------------------------------------------ forward

    @property
    def device(self) -> torch.device:
        return self.phonemic_embeddings.weight.device

    def _phonemic_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Phonemic table rows of tokenizer ids; ids beyond the table (a tokenizer extended later) -> 0,
        without a device sync."""
        n = self.phonemic_row.shape[0]
        rows = self.phonemic_row[ids.clamp(max=n - 1)]
        return torch.where(ids < n, rows, torch.zeros_like(rows))

    def input_embeddings(self, batch: WordBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The word-pooled orthographic and phonemic input embeddings, ``[B, L, H]`` each, before they
        are summed (CLS/SEP: their token rows / zero; padding: zero)."""
        batch = batch.to(self.device)
        n_sent, seq_len = batch.attention_mask.shape
        n_slots = n_sent * seq_len
        word_embeddings = self.model.get_input_embeddings()
        hidden = word_embeddings.embedding_dim
        orth = _mean_pool(word_embeddings(batch.orth_ids), batch.orth_slot, n_slots)
        phon = _mean_pool(
            self.phonemic_embeddings(self._phonemic_rows(batch.phon_ids)), batch.phon_slot, n_slots
        )
        return orth.view(n_sent, seq_len, hidden), phon.view(n_sent, seq_len, hidden)

    def _max_positions(self) -> int | None:
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None)
        if limit is None:
            return None
        if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            limit -= int(config.pad_token_id or 0) + 1  # RoBERTa's positions start after padding_idx
        return int(limit)

    def forward(self, batch: WordBatch) -> dict[str, torch.Tensor]:
        if batch.lang_ids.device.type == "cpu" and batch.lang_ids.numel():
            top = int(batch.lang_ids.max())
            if top >= len(self.languages) or int(batch.lang_ids.min()) < 0:
                raise ValueError(f"language id {top} out of range for {self.languages}")
        limit = self._max_positions()
        if limit is not None and batch.seq_len > limit:
            raise ValueError(
                f"{batch.seq_len} positions (words + CLS + SEP) but the model takes at most {limit}: "
                "build the batch with a smaller max_words"
            )
        batch = batch.to(self.device)
        orth, phon = self.input_embeddings(batch)
        inputs = orth
        if self.phonemic:
            inputs = inputs + phon
        if self.language_embedding:
            inputs = inputs + self.language_embeddings(batch.lang_ids)
        kwargs = {}
        if getattr(self.model.config, "type_vocab_size", 0):
            kwargs["token_type_ids"] = torch.zeros_like(batch.attention_mask)  # segment A everywhere
        hidden = self.model(
            inputs_embeds=inputs, attention_mask=batch.attention_mask, **kwargs
        ).last_hidden_state
        return {
            "word_states": hidden[:, 1:-1],
            "word_mask": batch.word_mask,
            "orth": orth[:, 1:-1],
            "phon": phon[:, 1:-1],
            "last_hidden_state": hidden,
            "attention_mask": batch.attention_mask,
        }

    # ------------------------------------------------------------------ saving

    def save(self, folder: str | Path) -> None:
        """Write the phonemic and language tables (safetensors) and the settings (JSON) to ``folder``.

        The transformer and its (resized) word embeddings are the model's: save them with
        ``model.save_pretrained(folder)`` and the extended tokenizer with ``tokenizer.save_pretrained``.
        """
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            "phonemic_embeddings.weight": self.phonemic_embeddings.weight.detach().cpu().contiguous(),
            "language_embeddings.weight": self.language_embeddings.weight.detach().cpu().contiguous(),
        }
        save_file(tensors, str(folder / self.WEIGHTS_NAME), metadata={"format": self.FORMAT})
        config = {
            "format": self.FORMAT,
            "version": 1,
            "languages": self.languages,
            "phonemic": self.phonemic,
            "language_embedding": self.language_embedding,
            "tokenizer_size": len(self.tokenizer),
            "hidden_size": int(self.phonemic_embeddings.embedding_dim),
            "phonemic_vocab": self.phonemic_vocab,
            "added_ipa_symbols": self.added_ipa_symbols,
        }
        (folder / self.CONFIG_NAME).write_text(
            json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: str | Path, model: nn.Module, tokenizer: Any) -> PhonemicEncoder:
        """The encoder :meth:`save` wrote, on ``model`` / ``tokenizer`` (the extended tokenizer and the
        resized model saved beside it)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config = json.loads((folder / cls.CONFIG_NAME).read_text(encoding="utf-8"))
        if config.get("format") != cls.FORMAT:
            raise ValueError(f"{folder} does not hold a phonemic encoder ({cls.CONFIG_NAME} format)")
        if len(tokenizer) != config["tokenizer_size"]:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the phonemic encoder was saved with "
                f"{config['tokenizer_size']}: load the extended tokenizer saved with it"
            )
        module = cls(
            model,
            tokenizer,
            languages=config["languages"],
            phonemic=config["phonemic"],
            language_embedding=config["language_embedding"],
            phonemic_vocab=config["phonemic_vocab"],
        )
        module.added_ipa_symbols = list(config.get("added_ipa_symbols", []))
        tensors = load_file(str(folder / cls.WEIGHTS_NAME))
        for name, table in (
            ("phonemic_embeddings.weight", module.phonemic_embeddings),
            ("language_embeddings.weight", module.language_embeddings),
        ):
            saved = tensors[name]
            if saved.shape != table.weight.shape:
                raise ValueError(
                    f"{name}: saved shape {tuple(saved.shape)}, expected {tuple(table.weight.shape)}"
                )
            with torch.no_grad():
                table.weight.copy_(saved)
        return module


def build_phonemic_encoder(
    encoder: Any,
    ipa_strings: Iterable[str],
    languages: Sequence[str],
    *,
    extend_vocabulary: bool = True,
    phonemic: bool = True,
    language_embedding: bool = True,
) -> PhonemicEncoder:
    """A :class:`PhonemicEncoder` on ``encoder.model`` / ``encoder.tokenizer`` (a scriptbridge
    :class:`~scriptbridge.models.loading.Encoder`), changed in place.

    With ``extend_vocabulary`` the tokenizer gets the IPA symbols of ``ipa_strings`` it lacks
    (:func:`missing_ipa_symbols`) and the model's word embeddings grow to match, the new tokens' rows =
    the mean row (section 5.2; Table 6 "w/o extension" is ``extend_vocabulary=False``).  The phonemic table
    covers the ids the (extended) tokenizer gives ``ipa_strings``: pass every IPA string the encoder
    will see (training and evaluation data); pieces outside it share the table's unknown row.
    """
    ipa_strings = list(ipa_strings)
    model, tokenizer = encoder.model, encoder.tokenizer
    added: list[str] = []
    if extend_vocabulary:
        missing = missing_ipa_symbols(tokenizer, ipa_strings)
        n_tokens = len(tokenizer)
        if extend_tokenizer(tokenizer, missing):
            added = missing
            resize_word_embeddings(model, len(tokenizer), first_new_row=n_tokens)
    module = PhonemicEncoder(
        model,
        tokenizer,
        languages=languages,
        phonemic=phonemic,
        language_embedding=language_embedding,
        phonemic_vocab=phonemic_vocabulary(tokenizer, ipa_strings),
    )
    module.added_ipa_symbols = added
    return module
