"""Japanese to IPA: readings in context from fugashi + unidic-lite, then a kana -> IPA table.

unidic gives every morpheme its pronunciation (``pron``, katakana with ``ー`` for long vowels and
the particles は/へ/を already read ワ/エ/オ), chosen for the morpheme in its sentence: 今日 キョー,
日本 ニッポン. We analyze the joined sentence once and hand each token the kana of the characters
it covers; a morpheme that crosses a token boundary has its reading split by aligning its kana
with the surface (okurigana anchor the split), else in proportion to characters.

The kana -> IPA step is a table written here (broad transcription, epitran's jpn-Hira symbol
conventions): ɯ for う, ɕ/t͡ɕ/d͡ʑ for the palatal sibilants, ç and ɸ for ひ and ふ, ɾ for the r
series, Cʲ for palatalized moras (きょ kʲo), ː for long vowels. Context that crosses moras (and
token boundaries) is done on the whole sentence: the sokuon っ doubles the next consonant (がっこう
ɡakkoː), the moraic nasal ん takes the place of the next consonant (m before p/b/m, n before
t/d/n/ɾ, ɲ before palatals, ŋ before k/ɡ, ɴ before vowels, fricatives and at the end). No vowel
devoicing and no pitch accent. Non-Japanese runs (Latin, digits, punctuation, emoji) pass through.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import regex

log = logging.getLogger(__name__)

# one katakana mora -> IPA
_MORA = {
    "ア": "a",
    "イ": "i",
    "ウ": "ɯ",
    "エ": "e",
    "オ": "o",
    "カ": "ka",
    "キ": "ki",
    "ク": "kɯ",
    "ケ": "ke",
    "コ": "ko",
    "ガ": "ɡa",
    "ギ": "ɡi",
    "グ": "ɡɯ",
    "ゲ": "ɡe",
    "ゴ": "ɡo",
    "サ": "sa",
    "シ": "ɕi",
    "ス": "sɯ",
    "セ": "se",
    "ソ": "so",
    "ザ": "za",
    "ジ": "d͡ʑi",
    "ズ": "zɯ",
    "ゼ": "ze",
    "ゾ": "zo",
    "タ": "ta",
    "チ": "t͡ɕi",
    "ツ": "t͡sɯ",
    "テ": "te",
    "ト": "to",
    "ダ": "da",
    "ヂ": "d͡ʑi",
    "ヅ": "zɯ",
    "デ": "de",
    "ド": "do",
    "ナ": "na",
    "ニ": "ɲi",
    "ヌ": "nɯ",
    "ネ": "ne",
    "ノ": "no",
    "ハ": "ha",
    "ヒ": "çi",
    "フ": "ɸɯ",
    "ヘ": "he",
    "ホ": "ho",
    "バ": "ba",
    "ビ": "bi",
    "ブ": "bɯ",
    "ベ": "be",
    "ボ": "bo",
    "パ": "pa",
    "ピ": "pi",
    "プ": "pɯ",
    "ペ": "pe",
    "ポ": "po",
    "マ": "ma",
    "ミ": "mi",
    "ム": "mɯ",
    "メ": "me",
    "モ": "mo",
    "ヤ": "ja",
    "ユ": "jɯ",
    "ヨ": "jo",
    "ラ": "ɾa",
    "リ": "ɾi",
    "ル": "ɾɯ",
    "レ": "ɾe",
    "ロ": "ɾo",
    "ワ": "wa",
    "ヰ": "i",
    "ヱ": "e",
    "ヲ": "o",
    "ヴ": "vɯ",
    # small vowels and the small wa standing alone (no mora before them to modify)
    "ァ": "a",
    "ィ": "i",
    "ゥ": "ɯ",
    "ェ": "e",
    "ォ": "o",
    "ヮ": "wa",
    "ヵ": "ka",
    "ヶ": "ke",
    "ャ": "ja",
    "ュ": "jɯ",
    "ョ": "jo",
}
_SMALL_Y = {"ャ": "a", "ュ": "ɯ", "ョ": "o", "ェ": "e"}  # after an i-mora: palatalized mora
_SMALL_V = {"ァ": "a", "ィ": "i", "ゥ": "ɯ", "ェ": "e", "ォ": "o"}  # replace the vowel (ティ, ファ)
_PALATAL = ("ɕ", "t͡ɕ", "d͡ʑ", "ɲ", "ç")  # already palatal: シャ is ɕa, not ɕʲa
_VOWELS = set("aiɯeo")
_SOKUON, _N, _LONG = "ッ", "ン", "ー"

_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}ー]")
_KANA_RUN = regex.compile(r"[\p{Hiragana}\p{Katakana}ー]+")


def to_katakana(s: str) -> str:
    # the hiragana block is the katakana block shifted by 0x60
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in s)


def _moras(kana: str) -> list[str]:
    """Split katakana into units: a mora (with its small kana), ッ, ン, ー, or any other char."""
    out: list[str] = []
    for c in kana:
        if out and (c in _SMALL_Y or c in _SMALL_V) and out[-1] in _MORA and out[-1] not in _SMALL_V:
            out[-1] += c
        else:
            out.append(c)
    return out


@functools.lru_cache(maxsize=512)
def _mora_ipa(m: str) -> str | None:
    """IPA of a plain mora (no ッ/ン/ー); None for a character that is not kana."""
    if m in _MORA:
        return _MORA[m]
    if len(m) != 2 or m[0] not in _MORA:
        return None
    head, small = _MORA[m[0]], m[1]
    if small in _SMALL_Y and head.endswith("i") and m[0] not in "イィ":
        cons = head[:-1]
        glide = "" if cons.endswith(_PALATAL) else "ʲ"
        return cons + glide + _SMALL_Y[small]
    if m[0] in "ウゥ":  # ウィ ウェ ウォ: w + vowel
        return "w" + _SMALL_V.get(small, "")
    if m[0] == "イ" and small == "ェ":  # イェ
        return "je"
    if small in _SMALL_V:  # ティ ti, ファ ɸa, ツァ t͡sa, デュ handled above
        return head[:-1] + _SMALL_V[small]
    return head + _MORA.get(small, "")


def _first_consonant(ipa: str) -> str:
    for c in ("t͡ɕ", "t͡s", "d͡ʑ", "d͡z"):
        if ipa.startswith(c):
            return c[0]  # geminate affricates hold the stop: [tt͡ɕ]
    return ipa[0] if ipa and ipa[0] not in _VOWELS else ""


def _nasal_before(ipa: str) -> str:
    if not ipa or ipa[0] in _VOWELS or ipa[0] in "sɕzhçɸjwv":
        return "ɴ"
    if ipa[0] in "pbm":
        return "m"
    if ipa[0] in "kɡ":
        return "ŋ"
    if ipa.startswith(("t͡ɕ", "d͡ʑ", "ɲ")):
        return "ɲ"
    return "n"  # t d n ɾ t͡s


def units_to_ipa(units: Sequence[str]) -> list[str]:
    """IPA for each kana unit of a sequence, with sokuon / moraic-n / long-vowel context.

    A unit that is not kana (punctuation, Latin) comes back unchanged and breaks the context.
    """
    base = [_mora_ipa(u) if u not in (_SOKUON, _N, _LONG) else None for u in units]
    out: list[str] = []
    for i, u in enumerate(units):
        nxt = base[i + 1] if i + 1 < len(units) and base[i + 1] is not None else ""
        if u == _SOKUON:
            out.append(_first_consonant(nxt) or "ʔ")
        elif u == _N:
            out.append(_nasal_before(nxt))
        elif u == _LONG:
            prev = "".join(out)[-1:] if out else ""
            out.append("ː" if prev in _VOWELS else "")
        elif base[i] is not None:
            out.append(base[i])
        else:
            out.append(u)
    return out


@dataclass
class _Piece:
    start: int  # character offset in the sentence
    reading: str  # katakana, or the surface itself when it has no reading
    is_kana: bool


@functools.lru_cache(maxsize=1)
def _tagger():
    import fugashi  # unidic-lite is found by fugashi on its own

    return fugashi.Tagger()


def _reading(word) -> str | None:
    """Katakana pronunciation of a fugashi word; None when unidic has none (unknown word)."""
    surface = word.surface
    pron = None if word.is_unk else getattr(word.feature, "pron", None)
    if pron and pron != "*":
        return pron
    if _KANA_RUN.fullmatch(surface):
        return to_katakana(surface)
    return None


def _split_reading(surface: str, reading: str) -> list[str]:
    """Split a morpheme's katakana reading over its surface characters.

    Kana in the surface (okurigana) anchor the split; each kanji run gets what lies between the
    anchors, shared out over its characters in proportion to length. Falls back to a
    proportional split of the whole reading when the anchors do not match (e.g. は read ワ).
    """
    runs = [
        (m.group(), bool(_KANA.match(m.group())))
        for m in regex.finditer(r"[\p{Hiragana}\p{Katakana}ー]+|[^\p{Hiragana}\p{Katakana}ー]+", surface)
    ]
    pattern = "".join(regex.escape(to_katakana(r)) if k else "(.+?)" for r, k in runs)
    m = regex.fullmatch(pattern, reading)
    if m is None:
        return _proportional(reading, len(surface))
    per_char: list[str] = []
    g = 1
    for r, k in runs:
        if k:
            per_char.extend(to_katakana(r))
        else:
            per_char.extend(_proportional(m.group(g), len(r)))
            g += 1
    return per_char


def _proportional(reading: str, n: int) -> list[str]:
    units = _moras(reading)
    out = []
    for i in range(n):
        a, b = round(i * len(units) / n), round((i + 1) * len(units) / n)
        out.append("".join(units[a:b]))
    return out


def _pieces(sentence: str, boundaries: set[int]) -> list[_Piece]:
    """Analyze ``sentence``; split morphemes at token ``boundaries`` (character offsets)."""
    pieces: list[_Piece] = []
    pos = 0
    for w in _tagger()(sentence):
        surface = w.surface
        start = sentence.find(surface, pos)
        if start < 0:  # cannot happen with MeCab, which keeps the characters; be safe anyway
            continue
        # characters MeCab skipped (whitespace) pass through
        if start > pos:
            pieces.append(_Piece(pos, sentence[pos:start], False))
        pos = start + len(surface)
        reading = _reading(w)
        if reading is None:
            pieces.append(_Piece(start, surface, False))
        elif not any(start < b < pos for b in boundaries):
            pieces.append(_Piece(start, reading, True))
        else:
            for i, r in enumerate(_split_reading(surface, reading)):
                pieces.append(_Piece(start + i, r, True))
    if pos < len(sentence):
        pieces.append(_Piece(pos, sentence[pos:], False))
    return pieces


def _token_ipa(tokens: Sequence[str]) -> list[str]:
    sentence = "".join(tokens)
    starts, acc = [], 0
    for t in tokens:
        starts.append(acc)
        acc += len(t)
    boundaries = set(starts)
    # every unit of the sentence, with the token it belongs to
    groups: list[tuple[int, str, bool]] = []  # (token, reading, is_kana)
    tok = 0
    for p in _pieces(sentence, boundaries):
        # tokens can be empty: the piece belongs to the last token starting at or before it
        while tok + 1 < len(tokens) and starts[tok + 1] <= p.start:
            tok += 1
        # rejoin the kana of one token that a split morpheme left in pieces, so that a small
        # kana stays with its mora (ちゃ)
        if groups and groups[-1][0] == tok and groups[-1][2] and p.is_kana:
            groups[-1] = (tok, groups[-1][1] + p.reading, True)
        else:
            groups.append((tok, p.reading, p.is_kana))
    units: list[str] = []
    owner: list[int] = []
    for tok, reading, is_kana in groups:
        us = _moras(reading) if is_kana else [reading]
        units.extend(us)
        owner.extend([tok] * len(us))
    out = [""] * len(tokens)
    for o, ipa in zip(owner, units_to_ipa(units), strict=True):
        out[o] += ipa
    return [o.strip() for o in out]


def convert_tokens(sentences: Sequence[Sequence[str]], lang: str) -> list[list[str]]:
    return [_token_ipa(list(s)) if any(s) else ["" for _ in s] for s in sentences]


def convert_texts(texts: Sequence[str], lang: str) -> list[str]:
    """Whole texts: one IPA word per morpheme, separated by spaces (unidic's short units)."""
    res = []
    for text in texts:
        morphs = [w.surface for w in _tagger()(text)]
        ipa = _token_ipa(morphs) if morphs else []
        res.append(" ".join(i for i in ipa if i))
    return res
