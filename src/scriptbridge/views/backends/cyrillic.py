"""Romanizations of Ukrainian and Russian (tables implemented here; no dependency).

* Ukrainian ``national`` (also ``colloquial``; default for ``uk``): the official Ukrainian
  national transliteration, Resolution of the Cabinet of Ministers of Ukraine no. 55 of
  27 January 2010, used in passports and on road signs (Згорани Zghorany, Юрій Yurii).
* Russian ``bgn`` (also ``colloquial``; default for ``ru``): BGN/PCGN 1947 in plain ASCII, the
  spelling English texts use (Ельцин Yeltsin, Достоевский Dostoyevskiy): its diacritics and
  the soft/hard sign marks are dropped, ё is written yo (o after ж ч ш щ).

Letter case is kept, including all-caps words (ЩУКА SHCHUKA, Щука Shchuka). Anything that is
not Cyrillic passes through unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from scriptbridge.views.registry import Backend, register

# the apostrophe of Ukrainian spelling, in its usual encodings
_APOSTROPHES = frozenset("'\u2019\u02bc\u02b9`")

_UK_PLAIN = tuple("a b v h g d e zh z y i k l m n o p r s t u f kh ts ch sh shch".split())
# Ukrainian, KMU 55 (2010): letter -> (word-initial spelling, spelling elsewhere)
_UK: dict[str, tuple[str, str]] = {
    **{c: (r, r) for c, r in zip("абвгґдежзиіклмнопрстуфхцчшщ", _UK_PLAIN, strict=True)},
    "є": ("ye", "ie"),
    "ї": ("yi", "i"),
    "й": ("y", "i"),
    "ю": ("yu", "iu"),
    "я": ("ya", "ia"),
    "ь": ("", ""),
    # Russian letters met in Ukrainian text (quotes, names): closest Ukrainian-style spelling
    "ы": ("y", "y"),
    "э": ("e", "e"),
    "ё": ("yo", "io"),
    "ъ": ("", ""),
}

_RU_PLAIN = tuple("a b v g d z i k l m n o p r s t u f kh ts ch sh shch y e yu ya".split())
# Russian, BGN/PCGN without diacritics: letter -> spelling after a consonant
_RU: dict[str, str] = {
    **dict(zip("абвгдзиклмнопрстуфхцчшщыэюя", _RU_PLAIN, strict=True)),
    "е": "e",
    "ё": "yo",
    "ж": "zh",
    "й": "y",
    "ъ": "",
    "ь": "",
    # Ukrainian and Belarusian letters met in Russian text
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ў": "w",
}
_RU_VOWELS = frozenset("аеёиоуыэюяйъь")  # after these (and word-initially) е is ye, ё is yo
_RU_HUSHING = frozenset("жчшщ")  # after these ё is o: жёлтый zholtyy


def _is_cyr(c: str) -> bool:
    return "\u0400" <= c <= "\u052f"


def _cased(out: str, src: str, word_upper: bool) -> str:
    """Give ``out`` (the romanization of letter ``src``) the case of ``src``."""
    if not out or not src.isupper():
        return out
    return out.upper() if word_upper else out[0].upper() + out[1:]


def _transliterate(text: str, spell: Callable[[str, str, str, str], str]) -> str:
    """Letter-by-letter transliteration of Cyrillic in ``text``.

    ``spell(letter, prev, nxt, prev_char)`` gives the lower-case spelling of a lower-case letter
    from its neighbouring Cyrillic letters in the same word (``""`` at a word edge) and from the
    character right before it. Apostrophes between two Cyrillic letters are dropped (Знам'янка
    Znamianka) and do not end the word.
    """
    n = len(text)
    out: list[str] = []
    for k, c in enumerate(text):
        if c in _APOSTROPHES and 0 < k < n - 1 and _is_cyr(text[k - 1]) and _is_cyr(text[k + 1]):
            continue
        if not _is_cyr(c):
            out.append(c)
            continue
        # neighbours within the word: skip an in-word apostrophe
        j = k - 1
        if j >= 1 and text[j] in _APOSTROPHES and _is_cyr(text[j - 1]):
            j -= 1
        prev = text[j] if j >= 0 and _is_cyr(text[j]) else ""
        j = k + 1
        if j < n - 1 and text[j] in _APOSTROPHES and _is_cyr(text[j + 1]):
            j += 1
        nxt = text[j] if j < n and _is_cyr(text[j]) else ""
        low = c.lower()
        roman = spell(low, prev.lower(), nxt.lower(), text[k - 1] if k else "")
        # an upper-case letter in an all-caps word (a neighbour is upper-case too) stays all-caps
        neighbour = nxt or prev
        word_upper = bool(neighbour) and neighbour.isupper()
        out.append(_cased(roman, c, word_upper))
    return "".join(out)


def _spell_uk(c: str, prev: str, nxt: str, before: str) -> str:
    pair = _UK.get(c)
    if pair is None:
        return c  # other Cyrillic (Kazakh, Serbian letters...): leave for the reader
    if c == "г" and prev == "з":  # зг -> zgh, so it is not read as "zh" (Згорани Zghorany)
        return "gh"
    # "word-initial" counts an in-word apostrophe as inside the word (Знам'янка), so it is the
    # start of text or a non-letter before, as in a hyphenated compound's second part
    return pair[0] if not prev else pair[1]


def _spell_ru(c: str, prev: str, nxt: str, before: str) -> str:
    if c in ("е", "ё"):
        if not prev or prev in _RU_VOWELS:
            return "y" + ("e" if c == "е" else "o")
        if c == "ё" and prev in _RU_HUSHING:
            return "o"
    return _RU.get(c, c)


# a Cyrillic word, in-word apostrophes included (Знам'янка)
_WORD = re.compile("[\u0400-\u052f]+(?:[" + "".join(sorted(_APOSTROPHES)) + "][\u0400-\u052f]+)*")


def _loader(spell: Callable[[str, str, str, str], str]):
    def load():
        # A word's spelling depends only on its own letters, so words are cached: running text
        # repeats its words far more often than its lines.
        word = functools.lru_cache(maxsize=1 << 17)(lambda w: _transliterate(w, spell))

        def convert(texts: Sequence[str], lang: str) -> list[str]:
            return [_WORD.sub(lambda m: word(m.group()), t) for t in texts]

        return convert

    return load


register(
    Backend(
        kind="romanize",
        name="ukrainian-national",
        schemes=("national", "colloquial"),
        languages=frozenset({"uk"}),
        load=_loader(_spell_uk),
        license="Apache-2.0 (scriptbridge's own implementation of a public standard)",
        description="Ukrainian national transliteration (KMU resolution 55, 2010): Zghorany, Yurii",
    ),
    default_for=("uk",),
)
register(
    Backend(
        kind="romanize",
        name="russian-bgn",
        schemes=("bgn", "colloquial"),
        languages=frozenset({"ru"}),
        load=_loader(_spell_ru),
        license="Apache-2.0 (scriptbridge's own implementation of a public standard)",
        description="Russian BGN/PCGN in plain ASCII, as English text spells names: Yeltsin, Dostoyevskiy",
    ),
    default_for=("ru",),
)
