"""Mandarin Chinese (Simplified and Traditional) to IPA: pypinyin, then a pinyin -> IPA table.

Why not epitran's ``cmn-Hans``: it needs CC-CEDICT, a download at run time. pypinyin (MIT) ships
its character and phrase dictionaries, and reads polyphones in context (银行 yínháng, 行走
xíngzǒu) by segmenting the whole sentence into dictionary phrases, so we run it over the joined
sentence and map its syllables back to the tokens by character offset.

Conventions follow the PhoneXL CJKV data (the later phonemic-transcription method is trained on
it): Chao tone letters after each syllable (1 ˥, 2 ˧˥, 3 ˧˩˧, 4 ˥˩, neutral tone: none; citation
tones, no tone sandhi), one space between the syllables of a token, glides written j/w/ɥ, and
anything that is not a Han character (digits, Latin, punctuation) passed through unchanged. Two
deliberate differences: 有 is ``joʊ˧˩˧`` and 用 ``jʊŋ˥˩`` (the data writes ``y``, which is the
IPA front rounded vowel, a converter slip), and a bare 哦 is ``ɔ``.

Traditional characters are read through OpenCC's t2s table (opencc-python-reimplemented,
Apache-2.0) when it is installed: pypinyin's phrase dictionary is mostly Simplified, so 銀行
alone would be read as yínxíng. Without OpenCC, Traditional text still converts, per character.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Sequence

import regex

log = logging.getLogger(__name__)

TONES = {"1": "˥", "2": "˧˥", "3": "˧˩˧", "4": "˥˩", "5": "", "": ""}

INITIALS = {
    "b": "p",
    "p": "pʰ",
    "m": "m",
    "f": "f",
    "d": "t",
    "t": "tʰ",
    "n": "n",
    "l": "l",
    "g": "k",
    "k": "kʰ",
    "h": "x",
    "j": "tɕ",
    "q": "tɕʰ",
    "x": "ɕ",
    "zh": "ʈʂ",
    "ch": "ʈʂʰ",
    "sh": "ʂ",
    "r": "ʐ",
    "z": "ts",
    "c": "tsʰ",
    "s": "s",
}
# finals in their full (post-initial) spelling; "v" is pypinyin's ASCII spelling of ü
FINALS = {
    "a": "a",
    "ai": "aɪ",
    "ao": "ɑʊ",
    "an": "an",
    "ang": "ɑŋ",
    "o": "ɔ",
    "ou": "oʊ",
    "ong": "ʊŋ",
    "e": "ɤ",
    "ei": "eɪ",
    "en": "ən",
    "eng": "ɤŋ",
    "er": "ɑɻ",
    "ê": "ɛ",
    "i": "i",
    "ia": "ja",
    "ie": "jɛ",
    "iao": "jɑʊ",
    "iu": "joʊ",
    "iou": "joʊ",
    "ian": "jɛn",
    "in": "in",
    "iang": "jɑŋ",
    "ing": "iŋ",
    "iong": "jʊŋ",
    "io": "jɔ",
    "u": "u",
    "ua": "wa",
    "uo": "wɔ",
    "uai": "waɪ",
    "ui": "weɪ",
    "uei": "weɪ",
    "uan": "wan",
    "un": "wən",
    "uen": "wən",
    "uang": "wɑŋ",
    "ueng": "wɤŋ",
    "ü": "y",
    "üe": "ɥœ",
    "üan": "ɥœn",
    "ün": "yn",
}
# y-/w- spellings of the zero-initial syllables -> their final
_ZERO_INITIAL = {
    "yi": "i",
    "ya": "ia",
    "ye": "ie",
    "yao": "iao",
    "you": "iou",
    "yan": "ian",
    "yin": "in",
    "yang": "iang",
    "ying": "ing",
    "yong": "iong",
    "yo": "io",
    "yu": "ü",
    "yue": "üe",
    "yuan": "üan",
    "yun": "ün",
    "wu": "u",
    "wa": "ua",
    "wo": "uo",
    "wai": "uai",
    "wei": "uei",
    "wan": "uan",
    "wen": "uen",
    "wang": "uang",
    "weng": "ueng",
}
# syllabic nasals and interjections
_SPECIAL = {"m": "m", "n": "n", "ng": "ŋ", "hm": "xm", "hng": "xŋ", "r": "ɻ"}

_HAN = regex.compile(r"\p{Han}")


@functools.lru_cache(maxsize=4096)
def pinyin_to_ipa(syllable: str) -> str:
    """``"zhong1"`` -> ``"ʈʂʊŋ˥"``; unparseable input comes back unchanged."""
    s = syllable.lower().replace("u:", "ü").replace("v", "ü")
    tone = s[-1] if s and s[-1] in "12345" else ""
    base = s[:-1] if tone else s
    if base in _SPECIAL:
        return _SPECIAL[base] + TONES[tone]
    initial, final = "", base
    if base in _ZERO_INITIAL:
        final = _ZERO_INITIAL[base]
    else:
        for ini in ("zh", "ch", "sh", *INITIALS):
            if base.startswith(ini) and base != ini:
                initial, final = ini, base[len(ini) :]
                break
        if initial in ("j", "q", "x") and final.startswith("u"):
            final = "ü" + final[1:]  # ju, que, xuan are spelled without the umlaut
    if final not in FINALS:
        return syllable
    if final == "i" and initial in ("zh", "ch", "sh", "r"):
        vowel = "ɨ"  # the apical vowel after retroflexes (zhi, shi)
    elif final == "i" and initial in ("z", "c", "s"):
        vowel = "ɯ"  # and after dental sibilants (zi, si), as the PhoneXL data writes it
    elif final == "o" and initial in ("b", "p", "m", "f"):
        vowel = "wɔ"  # bo, po, mo, fo are [pwɔ]...
    else:
        vowel = FINALS[final]
    return INITIALS.get(initial, "") + vowel + TONES[tone]


@functools.lru_cache(maxsize=1)
def _t2s():
    """OpenCC's Traditional -> Simplified converter, or None when it is not installed."""
    try:
        from opencc import OpenCC
    except ImportError:
        log.info("opencc not installed: Traditional Chinese is read character by character")
        return None
    return OpenCC("t2s")


def _simplify(text: str) -> str:
    conv = _t2s()
    if conv is None:
        return text
    out = conv.convert(text)
    # offsets must survive: per-character fallback when a phrase rule changed the length
    if len(out) != len(text):
        out = "".join(c if len(cc := conv.convert(c)) != 1 else cc for c in text)
    return out


def char_syllables(text: str) -> list[str | None]:
    """One pinyin syllable (``TONE3`` style) per character of ``text``; None for non-Han characters.

    pypinyin sees the whole text, so phrases and polyphones are read in context.
    """
    from pypinyin import Style, pinyin

    simple = _simplify(text)
    # errors=list: every non-Han character comes back as its own item, so items align 1:1
    items = pinyin(simple, style=Style.TONE3, heteronym=False, errors=lambda s: list(s))
    out: list[str | None] = []
    for ch, item in zip(text, items, strict=False):
        out.append(item[0] if _HAN.match(ch) and item and item[0] != ch else None)
    out.extend([None] * (len(text) - len(out)))
    return out


def _render(chars: str, sylls: Sequence[str | None], sep_all: bool) -> str:
    """IPA for a run of characters: Han syllables space-separated; other characters kept.

    ``sep_all`` (text level) also puts spaces between syllables and non-Han runs and collapses
    whitespace; at token level a non-Han run is glued to its neighbours, as in PhoneXL (2012年 ->
    2012njɛn˧˥).
    """
    pieces: list[tuple[bool, str]] = []  # (is_syllable, text)
    for ch, syl in zip(chars, sylls, strict=True):
        if syl is not None:
            pieces.append((True, pinyin_to_ipa(syl)))
        elif pieces and not pieces[-1][0]:
            pieces[-1] = (False, pieces[-1][1] + ch)
        else:
            pieces.append((False, ch))
    if sep_all:
        return " ".join(p.strip() for _, p in pieces if p.strip())
    out = ""
    for i, (is_syl, p) in enumerate(pieces):
        if i and is_syl and pieces[i - 1][0]:
            out += " "
        out += p
    return out


def convert_texts(texts: Sequence[str], lang: str) -> list[str]:
    return [_render(t, char_syllables(t), sep_all=True) for t in texts]


def convert_tokens(sentences: Sequence[Sequence[str]], lang: str) -> list[list[str]]:
    res = []
    for toks in sentences:
        joined = "".join(toks)
        sylls = char_syllables(joined) if joined else []
        out, pos = [], 0
        for t in toks:
            out.append(_render(t, sylls[pos : pos + len(t)], sep_all=False))
            pos += len(t)
        res.append(out)
    return res


def is_han(ch: str) -> bool:
    return bool(_HAN.match(unicodedata.normalize("NFC", ch)))
