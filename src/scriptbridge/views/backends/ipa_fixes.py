"""Per-language repairs around epitran's word-level output (pure functions, no heavy imports).

epitran's maps for some languages are thin: its Urdu map lacks keheh (ک), Farsi yeh (ی), heh
goal (ہ) and do-chashmi he (ھ), so ordinary Urdu text came out half untransliterated; its Arabic
map ignores the short-vowel marks, ta marbuta and the sun-letter assimilation of the article; its
Hindi map writes an independent अ as [a] instead of [ə]; its Vietnamese tones come out wrong
on precomposed (NFC) input. Each ``pre_*`` rewrites a word before epitran, each ``post_*`` after.
"""

from __future__ import annotations

import unicodedata

import regex

# --- Arabic -------------------------------------------------------------------------------------

_AR_VOWEL = {
    "\u064e": "a",
    "\u0650": "i",
    "\u064f": "u",
    "\u064b": "an",
    "\u064d": "in",
    "\u064c": "un",
    "\u0670": "aː",
    "\u0652": "",
}
_SHADDA = "\u0651"
_AR_MARKS = set(_AR_VOWEL) | {_SHADDA}
_SUN = set("تثدذرزسشصضطظلن")
_AR_LONG = {"ا": "a", "ي": "i", "و": "u", "ى": "a"}  # long-vowel letter -> the short vowel it lengthens


def pre_ar(word: str) -> str:
    """Vocalize what the text marks, so epitran (consonants only) sees Latin short vowels."""
    w = word.replace("\u0640", "")  # tatweel: a typographic stretch
    w = w.replace("ٱ", "ا")
    # the article before a sun letter: الشمس -> اشّمس ([aʃːams])
    if len(w) > 3 and w.startswith("ال") and w[2] in _SUN:
        w = "ا" + w[2] + _SHADDA + w[3:]
    # split into (letter, marks) clusters; NFC puts fatha before shadda, we need shadda first
    clusters = [(m.group(1), m.group(2)) for m in regex.finditer(r"(.)([\u064b-\u0652\u0670]*)", w)]
    out: list[str] = []
    last_vowel = ""
    for i, (ch, marks) in enumerate(clusters):
        vowel = "".join(_AR_VOWEL[m] for m in marks if m in _AR_VOWEL)
        # epitran's own shadda entry carries a stray direction mark and never matches: write ː
        shadda = "ː" if _SHADDA in marks else ""
        final = i == len(clusters) - 1
        if ch in "وي" and (i == 0 or vowel.rstrip("n") or shadda or (last_vowel == "a" and not marks)):
            ch = "w" if ch == "و" else "j"  # consonantal waw / ya
        elif ch in _AR_LONG and last_vowel and last_vowel == _AR_LONG[ch] and out:
            out[-1] = out[-1][: -len(last_vowel)]  # fatha + alif is one long [aː], not [a.aː]
        if ch == "ة":
            # pausal form [a] when unvocalized or final (one [a] after a fatha); [t] before a vowel
            ch = "t" if vowel else ("" if last_vowel == "a" else "a")
        elif ch == "ى":
            ch = "aː"
        elif ch in "ءؤئ":
            ch = "ʔ"
        if final and vowel in ("an", "in", "un") and ch == "ا":
            vowel = ""
        out.append(ch + shadda + vowel)
        # only a plain short vowel can merge with a following long-vowel letter
        last_vowel = vowel if vowel in ("a", "i", "u") else ""
    return "".join(out)


# --- Urdu ---------------------------------------------------------------------------------------

# Urdu letters epitran's urd-Arab map does not know -> the letter it knows for the same sound
_UR_NORM = str.maketrans(
    {
        "ک": "ك",
        "ی": "ي",
        "ۍ": "ي",
        "ې": "ي",
        "ہ": "ه",
        "ۃ": "ه",
        "ۂ": "ه",
        "ة": "ه",
        "ئ": "ء",
        "ؤ": "ء",
        "آ": "ا",
        "أ": "ا",
        "إ": "ا",
        "ٱ": "ا",
        "\u0640": None,
    }
)
_UR_VOICELESS = set("پتٹكچقک")
_UR_MARK = {
    "\u064e": "ə",
    "\u0650": "ɪ",
    "\u064f": "ʊ",
    "\u0652": "",
    "\u0651": "ː",
    "\u064b": "ən",
    "\u0670": "ɑː",
}


def pre_ur(word: str) -> str:
    w = word
    out: list[str] = []
    for i, ch in enumerate(w):
        if ch == "ھ":
            prev = out[-1] if out else ""
            if prev and prev not in "اويےه":
                # do-chashmi he after a consonant writes aspiration (breathy after voiced)
                out.append("ʰ" if prev in _UR_VOICELESS else "ʱ")
            else:
                out.append("ه")
        elif ch in _UR_MARK:
            out.append(_UR_MARK[ch])
        elif i == 0 and ch == "و" and len(w) > 1:
            out.append("ʋ")
        elif i == 0 and ch in "یي" and len(w) > 1:
            out.append("j")
        elif i == 0 and ch == "ا" and len(w) > 1 and w[1] not in "وےیيآ":
            out.append("ə")  # a word-initial alif before a consonant carries a short vowel
        else:
            out.append(ch)
    return "".join(out).translate(_UR_NORM)


# --- Hindi --------------------------------------------------------------------------------------

_BARE_A = regex.compile(r"a(?!ː)")


def post_hi(ipa: str) -> str:
    # epitran writes independent अ as [a]; it is the same schwa as the inherent vowel
    return _BARE_A.sub("ə", ipa)


# --- Vietnamese ---------------------------------------------------------------------------------


def post_vi(ipa: str) -> str:
    # epitran writes the glottal onset of vowel-initial syllables (ở [ʔɤ]); it is predictable and
    # carries no contrast, and the PhoneXL data leaves it out, so we do too
    return ipa[1:] if ipa.startswith("ʔ") and len(ipa) > 1 else ipa


# --- Vietnamese tones ---------------------------------------------------------------------------

# tone diacritic (NFD) -> Chao letters (Northern / Hanoi values, as usually cited)
_VI_TONE = {"\u0300": "˨˩", "\u0301": "˧˥", "\u0309": "˧˩˧", "\u0303": "˧ˀ˥", "\u0323": "˨˩ˀ"}
_VI_LETTERS = regex.compile(r"[\p{Latin}\p{M}]+")


def vi_tone(word: str) -> str:
    """Chao tone letters of one Vietnamese syllable (level tone ˧ when unmarked)."""
    if not _VI_LETTERS.fullmatch(word):
        return ""
    for c in unicodedata.normalize("NFD", word):
        if c in _VI_TONE:
            return _VI_TONE[c]
    return "˧"


# --- every language -------------------------------------------------------------------------------

_JUNK = str.maketrans({"\u25cc": None, "\u200c": None, "\u200d": None})


def post_common(ipa: str) -> str:
    # epitran writes some combining marks on a dotted circle (Urdu ں -> ◌̃); joiners carry no sound
    return unicodedata.normalize("NFC", ipa.translate(_JUNK))
