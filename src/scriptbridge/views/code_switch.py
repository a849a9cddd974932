"""Code-switch source-language training words into the target language with a bilingual dictionary.

Both PhoneXL's cross-lingual masked LM (XMLM, Nguyen et al. 2023, section 4.3) and the CoSDA-ML baseline
(Qin et al. 2021) train on source sentences in which some words were replaced by a dictionary translation:
each word that the dictionary knows is switched with probability ``ratio`` (PhoneXL's ``r``, tuned over
0.1-0.4) to a uniformly chosen translation. CoSDA-ML draws the target language per word from several
dictionaries; with one target language, as here, the same :func:`code_switch` serves both.

A word always stays one word position, even when its translation is several words ("điện tử"), so
token labels (NER, POS) stay aligned with the switched sentence.

Dictionaries:

* MUSE (Conneau et al. 2017), ``source target`` per line: :func:`read_muse_dictionary`. MUSE only pairs
  English with other languages, so PhoneXL (section 5.2) builds zh-vi and ja-ko by bridging through
  English: :func:`bridge`, or ``load_dictionary("muse:zh-vi")``.
* The dictionaries released with PhoneXL (``zh-vi-dict.txt``, ``ja-ko-dict.txt``),
  ``src_word<TAB>src_ipa<TAB>tgt_word<TAB>tgt_ipa`` per line: :func:`read_phonexl_dictionary`. They come
  with IPA for both sides, which switched words then take.

    dictionary = load_dictionary("muse:zh-vi")              # zh-en + en-vi, bridged via English
    switched = code_switch_corpus(sentences, dictionary, ratio=0.4, seed=13,
                                  ipas=ipas, ipa_of=lambda words: to_ipa_tokens(words, "vi"))
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

__all__ = [
    "BilingualDictionary",
    "DictionaryError",
    "SwitchedSentence",
    "bridge",
    "code_switch",
    "code_switch_corpus",
    "load_dictionary",
    "read_muse_dictionary",
    "read_phonexl_dictionary",
]

PIVOT_LANG = "en"  # MUSE pairs every language with English only
DEFAULT_MUSE_RANGE = "0-5000"  # MUSE's training split; 5000-6500 is its test split
MUSE_RANGES = ("0-5000", "5000-6500")

# a word for coverage: it has a letter (punctuation and digits are never switched, so they would only
# dilute the numbers)
_HAS_LETTER = regex.compile(r"\p{L}")
# a language pair in a file name: zh-vi.txt, en-hi.0-5000.txt, zh-vi-dict.txt
_PAIR_IN_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})(?=[.\-_]|$)")
_PAIR = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_RANGE = re.compile(r"^\d+-\d+$")


class DictionaryError(ValueError):
    """A dictionary could not be read or built; the message names the file and line where relevant, and
    what to do."""


# ----------------------------------------------------------------------------------------------------------
# the dictionary


@dataclass
class BilingualDictionary:
    """Source word -> translations (file order kept, no duplicates), with IPA when the file gives it.

    ``lookup`` tries the word as written, then case-folded (MUSE is lowercase, training text is not).
    """

    src_lang: str
    tgt_lang: str
    entries: dict[str, list[str]]
    tgt_ipa: dict[str, str] = field(default_factory=dict)  # target word -> IPA (PhoneXL dictionaries)
    src_ipa: dict[str, str] = field(default_factory=dict)
    source: str = ""  # what this is, e.g. "MUSE zh-en 0-5000 -> MUSE en-vi 0-5000 (bridged via en)"
    # case-folded source word -> merged translations; built on the first folded lookup and rebuilt when
    # the number of entries changes
    _folded: dict[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False)
    _folded_size: int = field(default=-1, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def _folded_index(self) -> dict[str, list[str]]:
        if self._folded is None or self._folded_size != len(self.entries):
            folded: dict[str, list[str]] = {}
            for word, translations in self.entries.items():
                merged = folded.setdefault(word.casefold(), [])
                merged.extend(t for t in translations if t not in merged)
            self._folded, self._folded_size = folded, len(self.entries)
        return self._folded

    def lookup(self, word: str) -> list[str]:
        """The translations of ``word``: exact match first, then case-folded for cased scripts (Latin,
        Cyrillic ...); ``[]`` when the dictionary does not know it."""
        found = self.entries.get(word)
        if found:
            return list(found)
        # both sides folded: "Paris" finds "paris" and "paris" finds "Paris"
        return list(self._folded_index().get(word.casefold(), ()))

    def switchable(self, word: str) -> list[str]:
        """The translations that would actually change ``word``: a "translation" equal to the word itself
        (common in bridged and PhoneXL dictionaries: ``aaa -> aaa``) switches nothing."""
        folded = word.casefold()
        return [t for t in self.lookup(word) if t.casefold() != folded]

    def coverage(self, sentences: Sequence[Sequence[str]]) -> dict[str, Any]:
        """How much of ``sentences`` (lists of words) the dictionary can switch.

        Counted over words with a letter (punctuation and numbers are never switched). ``token_coverage``
        and ``type_coverage`` count words with a translation other than the word itself (what
        :func:`code_switch` can use); the ``*_found`` variants count any dictionary hit.
        """
        counts: dict[str, int] = {}
        token_total = token_found = token_switchable = 0
        for sentence in sentences:
            for word in sentence:
                if _HAS_LETTER.search(word):
                    token_total += 1
                    counts[word] = counts.get(word, 0) + 1
        types_found = types_switchable = 0
        for word, n in counts.items():
            if self.lookup(word):
                types_found += 1
                token_found += n
                if self.switchable(word):
                    types_switchable += 1
                    token_switchable += n

        def share(part: int, whole: int) -> float:
            return part / whole if whole else 0.0

        return {
            "tokens": token_total,
            "types": len(counts),
            "token_coverage": share(token_switchable, token_total),
            "type_coverage": share(types_switchable, len(counts)),
            "token_coverage_found": share(token_found, token_total),
            "type_coverage_found": share(types_found, len(counts)),
        }

    def inverted(self) -> BilingualDictionary:
        """The target -> source dictionary (translations in the order first met)."""
        entries: dict[str, list[str]] = {}
        for word, translations in self.entries.items():
            for translation in translations:
                sources = entries.setdefault(translation, [])
                if word not in sources:
                    sources.append(word)
        return BilingualDictionary(
            src_lang=self.tgt_lang,
            tgt_lang=self.src_lang,
            entries=entries,
            tgt_ipa=dict(self.src_ipa),
            src_ipa=dict(self.tgt_ipa),
            source=f"inverted {self.source}" if self.source else "inverted",
        )


def _add(entries: dict[str, list[str]], word: str, translation: str) -> None:
    translations = entries.setdefault(word, [])
    if translation not in translations:
        translations.append(translation)


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without the newline) for the non-blank lines of a UTF-8 file."""
    if not path.is_file():
        raise DictionaryError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig drops a BOM
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DictionaryError(f"{path}:{line}: not valid UTF-8; re-encode the dictionary as UTF-8") from e
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            yield lineno, raw


def read_muse_pairs(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """The (source, target) pairs of a MUSE file, in file order: a tab or spaces between the two,
    '#' lines skipped. The one MUSE line reader (``DictionaryTranslator`` in ``views/translate.py``
    uses it too); errors name the file and line."""
    path = Path(path)
    for lineno, raw in _read_lines(path):
        line = raw.strip()
        if line.startswith("#"):
            continue
        n_fields = line.count("\t") + 1
        if n_fields > 2:  # a PhoneXL dictionary read as MUSE would give garbage targets
            raise DictionaryError(
                f"{path}:{lineno}: {n_fields} tab-separated fields, expected 'source<TAB>target'; "
                "for a PhoneXL dictionary (word, IPA, translation, IPA) use the spec 'phonexl:PATH:src-tgt'"
            )
        if "\t" in line:
            src, _, tgt = line.partition("\t")
        else:
            parts = line.split(None, 1)
            src, tgt = (parts[0], parts[1]) if len(parts) == 2 else (line, "")
        src, tgt = src.strip(), tgt.strip()
        if not src or not tgt:
            raise DictionaryError(
                f"{path}:{lineno}: expected 'source<TAB>target' (or a space between), got {raw!r}; "
                "fix or delete that line"
            )
        yield src, tgt


def read_muse_dictionary(path: str | os.PathLike, src_lang: str, tgt_lang: str) -> BilingualDictionary:
    """A MUSE dictionary (``source target`` per line, several lines for a word with several
    translations)."""
    path = Path(path)
    entries: dict[str, list[str]] = {}
    for src, tgt in read_muse_pairs(path):
        _add(entries, src, tgt)
    if not entries:
        raise DictionaryError(f"{path}: the dictionary is empty")
    return BilingualDictionary(src_lang, tgt_lang, entries, source=f"MUSE file {path.name}")


def read_phonexl_dictionary(path: str | os.PathLike, src_lang: str, tgt_lang: str) -> BilingualDictionary:
    """A dictionary released with PhoneXL: ``src_word<TAB>src_ipa<TAB>tgt_word<TAB>tgt_ipa`` per line.

    Read as it is: about half the zh-vi entries translate a word to itself (mostly Latin words carried
    over from MUSE), which :meth:`BilingualDictionary.switchable` and :func:`code_switch` skip. When a
    word has two IPA strings, the first wins.
    """
    path = Path(path)
    entries: dict[str, list[str]] = {}
    src_ipa: dict[str, str] = {}
    tgt_ipa: dict[str, str] = {}
    for lineno, raw in _read_lines(path):
        fields = [f.strip() for f in raw.split("\t")]
        if len(fields) != 4 or not all(fields):
            raise DictionaryError(
                f"{path}:{lineno}: expected 4 non-empty tab-separated fields "
                f"'src_word<TAB>src_ipa<TAB>tgt_word<TAB>tgt_ipa', got {raw!r}; fix or delete that line "
                "(a two-column 'source target' file is a MUSE dictionary: use 'muse:' or the plain path)"
            )
        src, src_pron, tgt, tgt_pron = fields
        _add(entries, src, tgt)
        src_ipa.setdefault(src, src_pron)
        tgt_ipa.setdefault(tgt, tgt_pron)
    if not entries:
        raise DictionaryError(f"{path}: the dictionary is empty")
    return BilingualDictionary(
        src_lang, tgt_lang, entries, tgt_ipa=tgt_ipa, src_ipa=src_ipa, source=f"PhoneXL file {path.name}"
    )


def bridge(
    src_to_pivot: BilingualDictionary,
    pivot_to_tgt: BilingualDictionary,
    *,
    max_translations: int | None = 5,
    keep_pivot_copies: bool = True,
) -> BilingualDictionary:
    """Compose ``src -> pivot`` and ``pivot -> tgt`` (PhoneXL's zh -> en -> vi and ja -> en -> ko).

    A source word's targets are ranked by how many of its pivot translations lead to them (a target
    reached through "moon" and "month" is likelier right than one reached through one pivot only), ties
    broken round-robin over the pivots in their dictionary order, so the first translation of every pivot
    comes before the second of any; the first ``max_translations`` are kept (None keeps all). Without a
    cap, a frequent English pivot ("get", "make") would flood a word with dozens of loose translations.

    MUSE's en-vi maps many English words to themselves ("moon -> moon"), so a bridged zh-vi dictionary
    passes English words off as Vietnamese (over a third of the zh-vi pairs, see
    ``bench/phonexl_dictionaries.py``); PhoneXL's own dictionaries keep them, and so does the default.
    ``keep_pivot_copies=False`` drops a target equal to the pivot word it came through.
    """
    if src_to_pivot.tgt_lang != pivot_to_tgt.src_lang:
        raise DictionaryError(
            f"cannot bridge {src_to_pivot.src_lang}-{src_to_pivot.tgt_lang} with "
            f"{pivot_to_tgt.src_lang}-{pivot_to_tgt.tgt_lang}: the first dictionary's target language must "
            "be the second's source language"
        )
    if max_translations is not None and max_translations < 1:
        raise DictionaryError(
            f"max_translations must be at least 1 (or None for all), got {max_translations}"
        )
    entries: dict[str, list[str]] = {}
    for word, pivots in src_to_pivot.entries.items():
        target_lists = [pivot_to_tgt.lookup(p) for p in pivots]
        if not keep_pivot_copies:
            target_lists = [
                [t for t in targets if t.casefold() != p.casefold()]
                for p, targets in zip(pivots, target_lists, strict=True)
            ]
        paths: dict[str, int] = {}  # target -> number of pivots that reach it
        first_seen: dict[str, int] = {}  # target -> position in the round-robin order
        for depth in range(max((len(t) for t in target_lists), default=0)):
            for targets in target_lists:
                if depth < len(targets):
                    first_seen.setdefault(targets[depth], len(first_seen))
        for targets in target_lists:
            for target in set(targets):
                paths[target] = paths.get(target, 0) + 1
        ranked = sorted(first_seen, key=lambda t: (-paths[t], first_seen[t]))
        if ranked:
            entries[word] = ranked[:max_translations] if max_translations is not None else ranked
    kept = {t for translations in entries.values() for t in translations}
    return BilingualDictionary(
        src_lang=src_to_pivot.src_lang,
        tgt_lang=pivot_to_tgt.tgt_lang,
        entries=entries,
        tgt_ipa={t: ipa for t, ipa in pivot_to_tgt.tgt_ipa.items() if t in kept},
        src_ipa={w: ipa for w, ipa in src_to_pivot.src_ipa.items() if w in entries},
        source=(
            f"{src_to_pivot.source or 'dictionary'} -> {pivot_to_tgt.source or 'dictionary'} "
            f"(bridged via {src_to_pivot.tgt_lang})"
        ),
    )


# ----------------------------------------------------------------------------------------------------------
# dictionary specs


def _default_muse_dir() -> Path:
    from scriptbridge.train.recipe import SHARED_ENV, _shared_data_dir

    shared = _shared_data_dir()
    if shared is not None and (shared / "muse").is_dir():
        return shared / "muse"
    where = f"{shared / 'muse'} does not exist" if shared is not None else f"${SHARED_ENV} is not set"
    raise DictionaryError(
        f"no MUSE folder: {where}; pass muse_dir= (the folder holding files like zh-en.0-5000.txt) or set "
        f"{SHARED_ENV} to the shared data folder that holds muse/"
    )


def _parse_pair(text: str, spec: str) -> tuple[str, str]:
    m = _PAIR.match(text.strip().lower())
    if not m:
        raise DictionaryError(
            f"dictionary {spec!r}: {text!r} is no language pair; write it as src-tgt, e.g. zh-vi"
        )
    return m.group(1), m.group(2)


def _merged(parts: Sequence[BilingualDictionary], source: str) -> BilingualDictionary:
    entries: dict[str, list[str]] = {}
    for part in parts:
        for word, translations in part.entries.items():
            for translation in translations:
                _add(entries, word, translation)
    return BilingualDictionary(parts[0].src_lang, parts[0].tgt_lang, entries, source=source)


def _load_muse(pair: str, spec: str, muse_dir: str | os.PathLike | None) -> BilingualDictionary:
    pair, _, split = pair.partition("@")
    split = split.strip() or DEFAULT_MUSE_RANGE
    if split != "all" and not _RANGE.match(split):
        raise DictionaryError(
            f"dictionary {spec!r}: {split!r} is no MUSE range; use e.g. @0-5000, @5000-6500 or @all"
        )
    # "all": MUSE's splits together, the closest to the full MUSE dictionaries PhoneXL bridged
    splits = MUSE_RANGES if split == "all" else (split,)
    src, tgt = _parse_pair(pair, spec)
    folder = Path(muse_dir).expanduser() if muse_dir is not None else _default_muse_dir()

    def files(a: str, b: str) -> list[Path]:
        return [folder / f"{a}-{b}.{s}.txt" for s in splits]

    def present(a: str, b: str) -> bool:
        return all(f.is_file() for f in files(a, b))

    def read(a: str, b: str) -> BilingualDictionary:
        source = f"MUSE {a}-{b} {'+'.join(splits)}"
        return _merged([read_muse_dictionary(f, a, b) for f in files(a, b)], source)

    if present(src, tgt):
        return read(src, tgt)
    legs = [(src, PIVOT_LANG), (PIVOT_LANG, tgt)]
    if PIVOT_LANG in (src, tgt) or src == tgt:
        missing = [f.name for f in files(src, tgt) if not f.is_file()]
    else:
        missing = [f.name for a, b in legs for f in files(a, b) if not f.is_file()]
    if missing:
        have = sorted(p.name for p in folder.glob("*.txt")) if folder.is_dir() else []
        raise DictionaryError(
            f"dictionary {spec!r}: no {' and '.join(missing)} in {folder} "
            f"(files there: {', '.join(have) or 'none'}); pass muse_dir= pointing at the MUSE dictionaries"
        )
    return bridge(read(*legs[0]), read(*legs[1]))


def load_dictionary(spec: str, *, muse_dir: str | os.PathLike | None = None) -> BilingualDictionary:
    """A dictionary from a spec string:

    * ``muse:zh-vi`` -- MUSE's ``zh-vi.0-5000.txt`` if ``muse_dir`` has it, else bridged through English
      from ``zh-en.0-5000.txt`` and ``en-vi.0-5000.txt`` (``.source`` says which);
      ``muse:zh-vi@5000-6500`` picks MUSE's other split, ``muse:zh-vi@all`` merges both;
    * ``phonexl:PATH:zh-vi`` -- a PhoneXL dictionary (word, IPA, translation, IPA);
    * ``PATH`` -- a MUSE-format file whose name starts with the pair (``zh-vi.txt``,
      ``en-hi.0-5000.txt``), or ``PATH:zh-vi`` to name the pair.

    ``muse_dir`` defaults to ``muse/`` in the shared data folder (``../shared/data`` next to the
    repository, or ``$SCRIPTBRIDGE_SHARED_DATA``).
    """
    spec = spec.strip()
    kind, sep, rest = spec.partition(":")
    if sep and kind.lower() == "muse":
        return _load_muse(rest, spec, muse_dir)
    if sep and kind.lower() == "phonexl":
        path, sep, pair = rest.rpartition(":")
        if not sep or not path:
            raise DictionaryError(f"dictionary {spec!r}: write a PhoneXL dictionary as phonexl:PATH:src-tgt")
        src, tgt = _parse_pair(pair, spec)
        return read_phonexl_dictionary(Path(path).expanduser(), src, tgt)
    path, sep, pair = spec.rpartition(":")
    if sep and path and _PAIR.match(pair.strip().lower()):
        src, tgt = _parse_pair(pair, spec)
        return read_muse_dictionary(Path(path).expanduser(), src, tgt)
    path = Path(spec).expanduser()
    m = _PAIR_IN_NAME.match(path.name.lower())
    if not m:
        raise DictionaryError(
            f"dictionary {spec!r}: cannot tell the languages from the file name {path.name!r}; write "
            f"'{spec}:src-tgt' (e.g. '{spec}:zh-vi'), or name the file like zh-vi.txt"
        )
    return read_muse_dictionary(path, m.group(1), m.group(2))


# ----------------------------------------------------------------------------------------------------------
# code-switching


@dataclass
class SwitchedSentence:
    """A code-switched sentence: as many positions as the source sentence, so labels stay aligned."""

    tokens: list[str]
    switched: list[bool]
    langs: list[str]  # dictionary.tgt_lang where switched, else dictionary.src_lang
    ipa: list[str] | None  # per position when the source IPA was given; "" where none could be found


def _choose(
    tokens: Sequence[str], dictionary: BilingualDictionary, ratio: float, rng: random.Random
) -> list[str | None]:
    """The translation chosen for each position, or None where the word stays."""
    chosen: list[str | None] = []
    for word in tokens:
        candidates = dictionary.switchable(word)
        # the coin is only tossed for words that can switch, so a word's fate does not depend on
        # how many unknown words came before it
        if candidates and rng.random() < ratio:
            chosen.append(rng.choice(candidates))
        else:
            chosen.append(None)
    return chosen


def _check_ratio(ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"code-switching ratio must be between 0 and 1, got {ratio}")


def _switch_many(
    sentences: Sequence[Sequence[str]],
    dictionary: BilingualDictionary,
    ratio: float,
    rng: random.Random,
    ipas: Sequence[Sequence[str]] | None,
    ipa_of: Callable[[list[str]], list[str]] | None,
) -> list[SwitchedSentence]:
    _check_ratio(ratio)
    if ipas is None and ipa_of is not None:
        raise ValueError(
            "ipa_of converts switched words only; pass the source words' IPA too (ipa= / ipas=), or drop ipa_of"
        )
    if ipas is not None:
        if len(ipas) != len(sentences):
            raise ValueError(f"{len(ipas)} IPA lists for {len(sentences)} sentences; give one per sentence")
        for i, (tokens, ipa) in enumerate(zip(sentences, ipas, strict=True)):
            if len(ipa) != len(tokens):
                raise ValueError(
                    f"sentence {i}: {len(ipa)} IPA strings for {len(tokens)} words; give one per word"
                )
    choices = [_choose(tokens, dictionary, ratio, rng) for tokens in sentences]

    converted: dict[str, str] = {}
    if ipas is not None and ipa_of is not None:
        # one call for the whole corpus: IPA converters pay a large start-up cost per call
        needed = list(
            dict.fromkeys(t for row in choices for t in row if t is not None and t not in dictionary.tgt_ipa)
        )
        if needed:
            result = list(ipa_of(needed))
            if len(result) != len(needed):
                raise ValueError(f"ipa_of returned {len(result)} IPA strings for {len(needed)} words")
            converted = dict(zip(needed, result, strict=True))

    out: list[SwitchedSentence] = []
    for s, (tokens, row) in enumerate(zip(sentences, choices, strict=True)):
        ipa: list[str] | None = None
        if ipas is not None:
            ipa = [
                ipas[s][i] if t is None else dictionary.tgt_ipa.get(t, converted.get(t, ""))
                for i, t in enumerate(row)
            ]
        out.append(
            SwitchedSentence(
                tokens=[w if t is None else t for w, t in zip(tokens, row, strict=True)],
                switched=[t is not None for t in row],
                langs=[dictionary.src_lang if t is None else dictionary.tgt_lang for t in row],
                ipa=ipa,
            )
        )
    return out


def code_switch(
    tokens: list[str],
    dictionary: BilingualDictionary,
    ratio: float,
    rng: random.Random,
    *,
    ipa: list[str] | None = None,
    ipa_of: Callable[[list[str]], list[str]] | None = None,
) -> SwitchedSentence:
    """Switch each word the dictionary can translate, with probability ``ratio``, to a uniformly chosen
    translation (translations equal to the word itself are skipped).

    With ``ipa`` (the source IPA, one per word), unswitched words keep theirs and switched words take
    ``dictionary.tgt_ipa``, else ``ipa_of(words)`` (e.g. ``lambda ws: to_ipa_tokens(ws, "vi")``), else "".
    """
    return _switch_many([tokens], dictionary, ratio, rng, None if ipa is None else [ipa], ipa_of)[0]


def code_switch_corpus(
    sentences: Sequence[Sequence[str]],
    dictionary: BilingualDictionary,
    ratio: float,
    seed: int,
    *,
    ipas: Sequence[Sequence[str]] | None = None,
    ipa_of: Callable[[list[str]], list[str]] | None = None,
) -> list[SwitchedSentence]:
    """:func:`code_switch` over a corpus with ``random.Random(seed)``: the same as calling it sentence
    after sentence with that generator, except that ``ipa_of`` is called once, on the distinct switched
    words that the dictionary has no IPA for."""
    return _switch_many(sentences, dictionary, ratio, random.Random(seed), ipas, ipa_of)
