"""Romanization of Indic scripts: colloquial (as people type) and formal (ITRANS, IAST, HK, SLP1).

Colloquial schemes are rule-based and ours. They read a word as a sequence of
*aksharas* (a consonant cluster plus one vowel) and spell each the way people
type on a phone keyboard: no diacritics, digraphs for aspirates, lowercase.

* Hindi (and the other Devanagari languages, Marathi and Nepali): an inherent
  ``a`` is dropped where Hindi speakers do not pronounce it (schwa deletion):
  at the end of a word of more than one akshara (भारत -> bharat), and inside
  a word in the context VC_CV, scanning right to left so that a deletion
  protects the akshara before it (समझना -> samajhna, कमरा -> kamra). A word that
  ends in a cluster closed by य/र/व keeps its final ``a`` (कार्य -> karya, मित्र ->
  mitra), as people type it. Spelling choices (``aa`` vs ``a`` for ा, ``ee`` vs
  ``i`` for ी, ``v`` vs ``w``...) were chosen by accuracy against human
  romanizations (docs/romanization_quality.md).
* Malayalam ("Manglish"): no schwa deletion (Malayalam pronounces the inherent
  vowel); chillus (ൻ ൽ ർ ൾ ൺ, and the older consonant+virama+ZWJ spelling) are
  bare consonants; a word-final consonant+virama is the half-rounded
  *samvruthokaram*, typed ``u`` (ഇത് -> ithu); geminates and the common clusters
  are spelled as people type them (ക്ക kk, റ്റ tt, ന്റ nt, ത്ത tth).

Formal schemes come from ``indic-transliteration`` (MIT), after we detect each
text's script and repair what its tables miss (precomposed and decomposed nukta
letters, Malayalam chillus, the candra vowels of English loans, and Tamil, whose
plain scheme there voices every stop). Digits stay ASCII digits and dandas
become full stops, so that the output is plain Latin text.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field

from scriptbridge.views.registry import Backend, register

ZWJ, ZWNJ = "\u200d", "\u200c"

# Unicode block start of each Brahmic script; inside every block the letters sit at the same
# offsets (an inheritance from ISCII), which lets one parser read them all
SCRIPT_BLOCKS: dict[str, int] = {
    "devanagari": 0x0900,
    "bengali": 0x0980,
    "gurmukhi": 0x0A00,
    "gujarati": 0x0A80,
    "oriya": 0x0B00,
    "tamil": 0x0B80,
    "telugu": 0x0C00,
    "kannada": 0x0C80,
    "malayalam": 0x0D00,
}
_BLOCK_OF = {base >> 7: name for name, base in SCRIPT_BLOCKS.items()}

# offsets inside a block
CANDRABINDU, ANUSVARA, VISARGA = 0x01, 0x02, 0x03
NUKTA, AVAGRAHA, VIRAMA = 0x3C, 0x3D, 0x4D
INDEP_VOWELS = range(0x04, 0x15)
CONSONANTS = range(0x15, 0x3A)
VOWEL_SIGNS = range(0x3E, 0x4D)
# the independent vowel with the same sound as each vowel sign (sign offset - 0x38, except ऋ/ॠ ...)
_SIGN_TO_VOWEL = {s: s - 0x38 for s in range(0x3E, 0x4D)}
_SIGN_TO_VOWEL.update({0x62: 0x0C, 0x63: 0x61, 0x57: 0x14, 0x4C: 0x14})
INHERENT = 0x05  # the vowel अ


def script_of(text: str) -> str | None:
    """The Brahmic script with the most letters in ``text`` (None when it has none)."""
    counts: dict[str, int] = {}
    for c in text:
        name = _BLOCK_OF.get(ord(c) >> 7)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


# --- parsing ----------------------------------------------------------------------------------


@dataclass
class Akshara:
    """One consonant cluster (possibly empty) with its vowel and vowel modifiers.

    ``cons`` holds consonant offsets, with 0x100 added for a nukta form (क़ = 0x115);
    ``vowel`` is the independent-vowel offset (0x05 the inherent a), or None after a
    word-final virama; ``chillu`` marks a Malayalam chillu (a consonant with no vowel).
    """

    cons: list[int] = field(default_factory=list)
    vowel: int | None = INHERENT
    inherent: bool = False  # the vowel is the consonant's inherent a (a schwa candidate)
    nasal: int = 0  # CANDRABINDU or ANUSVARA
    visarga: bool = False
    chillu: bool = False
    zwnj: bool = False  # virama followed by ZWNJ: a visible virama, no vowel, no samvruthokaram


# Malayalam chillus (atomic code points) -> the consonant they close on
_ML_CHILLU = {0x7A: 0x23, 0x7B: 0x28, 0x7C: 0x30, 0x7D: 0x32, 0x7E: 0x33, 0x7F: 0x15, 0x54: 0x2E, 0x55: 0x2F}
# precomposed nukta letters -> (base consonant offset) in Devanagari (0x58-0x5F) and Bengali/Oriya
_DEVA_NUKTA = {0x58: 0x15, 0x59: 0x16, 0x5A: 0x17, 0x5B: 0x1C, 0x5C: 0x21, 0x5D: 0x22, 0x5E: 0x2B, 0x5F: 0x2F}
_BENG_NUKTA = {0x5C: 0x21, 0x5D: 0x22, 0x5F: 0x2F}


def parse_word(word: str, base: int, script: str) -> list[Akshara]:
    """Split one word of one script into aksharas; characters of other scripts are ignored
    (the caller splits words by script)."""
    out: list[Akshara] = []
    pending: list[int] = []  # consonants joined by virama, waiting for their vowel
    i, n = 0, len(word)
    while i < n:
        o = ord(word[i]) - base
        if (
            o in CONSONANTS
            or (script == "devanagari" and o in _DEVA_NUKTA)
            or (script in ("bengali", "oriya") and o in _BENG_NUKTA)
        ):
            # a precomposed nukta letter is read as its base consonant + 0x100, like the decomposed one
            nukta_table = _DEVA_NUKTA if script == "devanagari" else _BENG_NUKTA
            c = o if o in CONSONANTS else nukta_table[o] + 0x100
            i += 1
            if i < n and ord(word[i]) - base == NUKTA:
                c = (c & 0xFF) + 0x100
                i += 1
            if i < n and ord(word[i]) - base == VIRAMA:
                i += 1
                if i < n and word[i] == ZWJ:  # Malayalam old-style chillu; elsewhere a half form
                    i += 1
                    if script == "malayalam":
                        out.append(Akshara(cons=[*pending, c], vowel=None, chillu=True))
                        pending = []
                        continue
                if i < n and word[i] == ZWNJ:  # explicit virama: the cluster ends here
                    i += 1
                    out.append(Akshara(cons=[*pending, c], vowel=None, zwnj=True))
                    pending = []
                    continue
                pending.append(c)
                continue
            ak = Akshara(cons=[*pending, c])
            pending = []
            if i < n and (ord(word[i]) - base) in _SIGN_TO_VOWEL:
                ak.vowel = _SIGN_TO_VOWEL[ord(word[i]) - base]
                i += 1
                # Malayalam old spelling of the samvruthokaram: u sign + virama
                if i < n and ord(word[i]) - base == VIRAMA:
                    i += 1
            else:
                ak.inherent = True
            out.append(ak)
        elif o in INDEP_VOWELS or o in (0x60, 0x61):
            if pending:  # a dangling cluster before a vowel letter: close it
                out.append(Akshara(cons=pending, vowel=None))
                pending = []
            out.append(Akshara(vowel=o))
            i += 1
        elif o in (CANDRABINDU, ANUSVARA, VISARGA):
            if pending:
                out.append(Akshara(cons=pending, vowel=None))
                pending = []
            if not out:
                out.append(Akshara(vowel=None))
            if o == VISARGA:
                out[-1].visarga = True
            else:
                out[-1].nasal = max(out[-1].nasal, o)
            i += 1
        elif script == "malayalam" and o in _ML_CHILLU:
            out.append(Akshara(cons=[*pending, _ML_CHILLU[o]], vowel=None, chillu=True))
            pending = []
            i += 1
        elif script == "malayalam" and o == 0x4E:  # ൎ dot reph: an r joined to what follows
            pending.append(0x30)
            i += 1
        elif script == "bengali" and o == 0x4E:  # ৎ khanda ta: a t with no vowel
            out.append(Akshara(cons=[*pending, 0x24], vowel=None, chillu=True))
            pending = []
            i += 1
        elif o in _SIGN_TO_VOWEL and out:
            # a vowel sign with no consonant before it (stray mark): read it as the vowel
            out.append(Akshara(vowel=_SIGN_TO_VOWEL[o]))
            i += 1
        else:
            i += 1  # nukta, virama or joiner with nothing to attach to: drop it
    if pending:
        out.append(Akshara(cons=pending, vowel=None))
    return out


def _split_runs(text: str, base: int) -> list[tuple[bool, str]]:
    """Alternate runs of this script's letters (True) and of anything else (False).
    ZWJ/ZWNJ belong to the script run they sit in."""
    runs: list[tuple[bool, str]] = []
    for c in text:
        inside = (ord(c) >> 7) == (base >> 7) and not (0x64 <= ord(c) - base <= 0x6F)
        if c in (ZWJ, ZWNJ) and runs and runs[-1][0]:
            inside = True
        if runs and runs[-1][0] == inside:
            runs[-1] = (inside, runs[-1][1] + c)
        else:
            runs.append((inside, c))
    return runs


def _common(c: str, base: int) -> str:
    """Digits and dandas of any Indic block as ASCII; joiners vanish; the rest unchanged."""
    o = ord(c) - base
    if 0x66 <= o <= 0x6F and (ord(c) >> 7) == (base >> 7):
        return str(o - 0x66)
    if c in "\u0964\u0965":  # danda, double danda (shared by all scripts)
        return "."
    if c in (ZWJ, ZWNJ):
        return ""
    if unicodedata.category(c) in ("Mn", "Mc") and 0x0900 <= ord(c) <= 0x0DFF:
        return ""  # a stray Indic mark outside any word
    return c


# --- Hindi (Devanagari) colloquial ---------------------------------------------------------

_HI_CONS = {
    0x15: "k",
    0x16: "kh",
    0x17: "g",
    0x18: "gh",
    0x19: "n",
    0x1A: "ch",
    0x1B: "chh",
    0x1C: "j",
    0x1D: "jh",
    0x1E: "n",
    0x1F: "t",
    0x20: "th",
    0x21: "d",
    0x22: "dh",
    0x23: "n",
    0x24: "t",
    0x25: "th",
    0x26: "d",
    0x27: "dh",
    0x28: "n",
    0x29: "n",
    0x2A: "p",
    0x2B: "ph",
    0x2C: "b",
    0x2D: "bh",
    0x2E: "m",
    0x2F: "y",
    0x30: "r",
    0x31: "r",
    0x32: "l",
    0x33: "l",
    0x34: "l",
    0x35: "v",
    0x36: "sh",
    0x37: "sh",
    0x38: "s",
    0x39: "h",
    # nukta forms: Perso-Arabic sounds; q is typed k by most Hindi writers
    0x115: "k",
    0x116: "kh",
    0x117: "g",
    0x11C: "z",
    0x121: "d",
    0x122: "dh",
    0x12B: "f",
    0x12F: "y",
    0x128: "n",
    0x130: "r",
    0x133: "l",
}
_HI_VOWELS = {
    0x04: "a",
    0x05: "a",
    0x06: "aa",
    0x07: "i",
    0x08: "ee",
    0x09: "u",
    0x0A: "oo",
    0x0B: "ri",
    0x0C: "li",
    0x0D: "e",
    0x0E: "e",
    0x0F: "e",
    0x10: "ai",
    0x11: "o",
    0x12: "o",
    0x13: "o",
    0x14: "au",
    0x60: "ri",
    0x61: "li",
}
# the same vowels at the end of a word, where people write them short
_HI_FINAL_VOWELS = {0x06: "a", 0x08: "i", 0x0A: "u"}
_LABIALS = {0x2A, 0x2B, 0x2C, 0x2D, 0x2E}
_SEMIVOWELS = {0x2F, 0x30}  # य र: a final cluster closed by one keeps its a (rajya, kshetra)


@dataclass(frozen=True)
class HindiStyle:
    """Spelling choices of colloquial Hindi; the defaults were measured (see module docstring)."""

    long_aa: str = "a"  # ा
    long_ii: str = "i"  # ी
    long_uu: str = "u"  # ू
    mono_aa: str = "aa"  # ा in a one-syllable word (aaj, baat, naam)
    final_long: bool = False  # keep long vowels long at the end of a word too
    va: str = "v"
    cluster_va: str = "w"  # व after a consonant: dwara, swagat
    pha: str = "f"
    chha: str = "chh"
    initial_aa: str = "aa"  # a word that starts with आ (aaj, aadi)
    glide: bool = True  # y between a vowel and ए: gaye, liye, huye
    keep_final_after_semivowel_cluster: bool = True


HI_STYLE = HindiStyle()

# the consonant clusters that Hindi typists spell as a unit, not letter by letter
_HI_CLUSTERS = {(0x1C, 0x1E): "gy", (0x15, 0x37): "ksh"}


def _hi_cons(c: int, style: HindiStyle) -> str:
    if c == 0x35:
        return style.va
    if c == 0x2B:
        return style.pha
    if c == 0x1B:
        return style.chha
    return _HI_CONS.get(c, _HI_CONS.get(c & 0xFF, ""))


def _schwa_deletions(aks: list[Akshara], keep_final_after_semivowel: bool) -> set[int]:
    """Indices of aksharas whose inherent a is silent (the Hindi schwa deletion rule)."""
    dead: set[int] = set()
    n = len(aks)

    def deletable(k: int) -> bool:
        a = aks[k]
        return a.inherent and not a.nasal and not a.visarga

    # word-final schwa: silent unless the word is one akshara long (न na, व va)
    last = n - 1
    if n > 1 and deletable(last):
        cl = aks[last].cons
        keep = keep_final_after_semivowel and len(cl) > 1 and (cl[-1] & 0xFF) in _SEMIVOWELS
        # -iya: भारतीय bhartiya, प्रिय priya (the y glides off the i and keeps its vowel)
        keep = keep or (cl == [0x2F] and aks[last - 1].vowel in (0x07, 0x08))
        if not keep:
            dead.add(last)
    # medial: V C [a] C V, scanned right to left (a deletion makes a cluster that protects its left)
    for k in range(n - 2, 0, -1):
        if not deletable(k) or len(aks[k].cons) != 1:
            continue
        nxt = aks[k + 1]
        prev = aks[k - 1]
        if (k + 1) in dead or len(nxt.cons) != 1 or nxt.vowel is None:
            continue
        if (k - 1) in dead or prev.vowel is None or prev.chillu:
            continue
        dead.add(k)
    return dead


def hindi_word(aks: list[Akshara], style: HindiStyle = HI_STYLE) -> str:
    dead = _schwa_deletions(aks, style.keep_final_after_semivowel_cluster)
    out: list[str] = []
    n = len(aks)
    syllables = sum(1 for k, a in enumerate(aks) if a.vowel is not None and k not in dead)
    for k, a in enumerate(aks):
        cons = list(a.cons)
        if style.glide and not cons and a.vowel in (0x0F, 0x10) and k > 0 and aks[k - 1].vowel is not None:
            out.append("y")
        j = 0
        while j < len(cons):
            pair = tuple(c & 0xFF for c in cons[j : j + 2])
            if len(pair) == 2 and pair in _HI_CLUSTERS:
                out.append(_HI_CLUSTERS[pair])  # type: ignore[index]
                j += 2
                continue
            c = cons[j]
            w = c == 0x35 and j > 0 and cons[j - 1] != 0x30  # not after r: पूर्व purv
            out.append(style.cluster_va if w else _hi_cons(c, style))
            j += 1
        if a.vowel is not None and k not in dead:
            final = k == n - 1
            v = a.vowel
            if final and not style.final_long and v in _HI_FINAL_VOWELS:
                out.append(_HI_FINAL_VOWELS[v])
            elif v == 0x06 and k == 0 and not cons:
                out.append(style.initial_aa)
            elif v == 0x06:
                out.append(style.mono_aa if syllables == 1 and not final else style.long_aa)
            elif v == 0x08:
                out.append(style.long_ii)
            elif v == 0x0A:
                out.append(style.long_uu)
            else:
                out.append(_HI_VOWELS.get(v, ""))
        if a.nasal:
            nxt = aks[k + 1].cons[0] & 0xFF if k + 1 < n and aks[k + 1].cons else None
            if nxt in (0x28, 0x2E):
                pass  # nasal vowel before n/m: typed once (उन्होंने unhone)
            elif a.nasal == ANUSVARA and (nxt in _LABIALS or (k == n - 1 and a.inherent)):
                out.append("m")  # labial assimilation, and Sanskrit final -am (एवं evam, स्वयं svayam)
            else:
                out.append("n")
        if a.visarga:
            out.append("h")
    return "".join(out)


# a few very frequent words whose typed spelling no letter rule gives
_HI_WORDS = {
    "नहीं": "nahi",
    "मैं": "main",
    "सिंह": "singh",
}


def _romanize_with(text: str, base: int, script: str, word_fn) -> str:
    out: list[str] = []
    for inside, run in _split_runs(text, base):
        if inside:
            out.append(word_fn(run))
        else:
            out.append("".join(_common(c, base) for c in run))
    return "".join(out)


# --- Malayalam colloquial ("Manglish") ------------------------------------------------------

_ML_CONS = {
    0x15: "k",
    0x16: "kh",
    0x17: "g",
    0x18: "gh",
    0x19: "ng",
    0x1A: "ch",
    0x1B: "chh",
    0x1C: "j",
    0x1D: "jh",
    0x1E: "nj",
    0x1F: "d",
    0x20: "d",
    0x21: "d",
    0x22: "dh",
    0x23: "n",  # ട is voiced between vowels: typed d
    0x24: "th",
    0x25: "th",
    0x26: "d",
    0x27: "dh",
    0x28: "n",
    0x29: "n",
    0x2A: "p",
    0x2B: "ph",
    0x2C: "b",
    0x2D: "bh",
    0x2E: "m",
    0x2F: "y",
    0x30: "r",
    0x31: "r",
    0x32: "l",
    0x33: "l",
    0x34: "zh",
    0x35: "v",
    0x36: "sh",
    0x37: "sh",
    0x38: "s",
    0x39: "h",
    0x3A: "tt",
}
_ML_VOWELS = {
    0x05: "a",
    0x06: "aa",
    0x07: "i",
    0x08: "ee",
    0x09: "u",
    0x0A: "oo",
    0x0B: "ru",
    0x0C: "lu",
    0x0D: "e",
    0x0E: "e",
    0x0F: "e",
    0x10: "ai",
    0x11: "o",
    0x12: "o",
    0x13: "o",
    0x14: "ou",
    0x60: "ru",
    0x61: "lu",
}
# clusters typed as a unit; a geminate of a one-letter consonant is doubled by default (ക്ക kk)
_ML_CLUSTERS = {
    (0x31, 0x31): "tt",  # റ്റ
    (0x28, 0x31): "nt",  # ന്റ
    (0x19, 0x19): "ng",  # ങ്ങ
    (0x19, 0x15): "nk",  # ങ്ക
    (0x1E, 0x1E): "nj",  # ഞ്ഞ
    (0x1E, 0x1A): "nch",  # ഞ്ച
    (0x1A, 0x1A): "ch",  # ച്ച
    (0x24, 0x24): "th",  # ത്ത
    (0x1F, 0x1F): "tt",  # ട്ട
    (0x26, 0x26): "dh",  # ദ്ദ
    (0x26, 0x27): "dh",  # ദ്ധ
    (0x28, 0x24): "nth",  # ന്ത
    (0x23, 0x1F): "nd",  # ണ്ട
    (0x2E, 0x2A): "mb",  # മ്പ
    (0x15, 0x37): "ksh",  # ക്ഷ
    (0x1C, 0x1E): "nj",  # ജ്ഞ
}


# the final consonants after which a bare virama is heard (and typed) as u: native endings such as
# -nu, -ndu, -ttu, -chu. After the others (സ ക ഗ ഷ ഫ...) the word is usually an English loan
# typed the English way: ബസ് bus, ഗ്രാഫിക് grafik. Measured on Dakshina's lexicon.
_ML_U_AFTER = {0x23, 0x28, 0x24, 0x1F, 0x1A, 0x1E, 0x26}


@dataclass(frozen=True)
class ManglishStyle:
    """Spelling choices of Manglish; the defaults were measured (see module docstring)."""

    long_aa: str = "aa"
    final_aa: str = "aa"
    long_ii: str = "ee"
    long_uu: str = "oo"
    long_ee: str = "e"  # ഏ / േ
    samvruthokaram: str = "u"
    anusvara_velar: str = "n"  # ം before k/g: ഇംഗ്ലീഷ് ingleesh
    clusters: tuple[tuple[tuple[int, int], str], ...] = tuple(_ML_CLUSTERS.items())
    tha: str = "th"
    pha: str = "f"


ML_STYLE = ManglishStyle()


def _ml_cons_seq(cons: list[int], style: ManglishStyle, table: dict[tuple[int, int], str]) -> str:
    out: list[str] = []
    j = 0
    cons = [c & 0xFF for c in cons]
    while j < len(cons):
        pair = tuple(cons[j : j + 2])
        if len(pair) == 2 and pair in table:
            # റ്റ after another consonant (സ്റ്റ in English loans) is a plain t: "st", not "stt"
            out.append("t" if pair == (0x31, 0x31) and j > 0 else table[pair])  # type: ignore[index]
            j += 2
            continue
        c = cons[j]
        rom = style.tha if c == 0x24 else style.pha if c == 0x2B else _ML_CONS.get(c, "")
        if j + 1 < len(cons) and cons[j + 1] == c and len(rom) == 1:
            out.append(rom * 2)  # a plain geminate: ക്ക kk, പ്പ pp, ല്ല ll
            j += 2
            continue
        out.append(rom)
        j += 1
    return "".join(out)


def malayalam_word(aks: list[Akshara], style: ManglishStyle = ML_STYLE) -> str:
    table = dict(style.clusters)
    out: list[str] = []
    n = len(aks)
    for k, a in enumerate(aks):
        out.append(_ml_cons_seq(a.cons, style, table))
        v = a.vowel
        if v is None:
            # a word-final consonant with a bare virama is the samvruthokaram (ഇത് ithu); a chillu or
            # a virama made visible with ZWNJ is a consonant with no vowel
            if k == n - 1 and a.cons and not a.chillu and not a.zwnj and (a.cons[-1] & 0xFF) in _ML_U_AFTER:
                out.append(style.samvruthokaram)
        elif v == 0x06:
            out.append(style.final_aa if k == n - 1 else style.long_aa)
        elif v == 0x08:
            out.append(style.long_ii)
        elif v == 0x0A:
            out.append(style.long_uu)
        elif v == 0x0F:
            out.append(style.long_ee)
        else:
            out.append(_ML_VOWELS.get(v, ""))
        if a.nasal:
            nxt = aks[k + 1].cons[0] & 0xFF if k + 1 < n and aks[k + 1].cons else None
            out.append(style.anusvara_velar if nxt in (0x15, 0x16, 0x17, 0x18) else "m")
        if a.visarga:
            out.append("h")
    return "".join(out)


# --- formal schemes (indic-transliteration) -----------------------------------------------

FORMAL_SCHEMES = ("itrans", "iast", "hk", "slp1", "iso")

# our script name -> indic-transliteration's; Tamil's plain scheme there voices every stop
# (த -> dh), its "superscripted" scheme reads unmarked letters as the voiceless stops we want
_SANSCRIPT_NAME = {name: name for name in SCRIPT_BLOCKS} | {"tamil": "tamil_superscripted"}


@functools.lru_cache(maxsize=16)
def _nukta_composites(base: int) -> dict[str, str]:
    """consonant + nukta -> the precomposed letter, for scripts whose tables know only the latter
    (NFC decomposes these letters; indic-transliteration's Bengali, Gurmukhi and Oriya tables miss
    the decomposed form)."""
    out = {}
    for cp in range(base, base + 0x80):
        dec = unicodedata.decomposition(chr(cp)).split()
        if len(dec) == 2 and int(dec[1], 16) == base + NUKTA:
            out[chr(int(dec[0], 16)) + chr(base + NUKTA)] = chr(cp)
    return out


def _bengali_as_devanagari(run: str) -> str:
    """Bengali letters moved to the same offsets in Devanagari. indic-transliteration reads ব as
    "va" (its Sanskrit value); modern Bengali and Assamese say "ba", which is where the letter sits in
    the block (ब). Letters with no Devanagari twin are spelled out first."""
    run = run.replace("\u09ce", "\u09a4\u09cd")  # ৎ khanda ta: t with a virama
    run = run.replace("\u09f0", "\u09b0").replace("\u09f1", "\u09ac")  # Assamese ra, wa
    return "".join(chr(ord(c) - 0x80) if 0x0981 <= ord(c) <= 0x09EF else c for c in run)


def _prepare_formal(run: str, script: str) -> tuple[str, str]:
    """The run repaired for indic-transliteration, and the script to read it as."""
    run = run.replace("\u0964", ".").replace("\u0965", ".")
    if script == "bengali":
        run, script = _bengali_as_devanagari(run), "devanagari"
    base = SCRIPT_BLOCKS[script]
    if script == "malayalam":
        # chillu = consonant with no vowel: spell it consonant + virama, as ISO 15919 does
        for o, c in _ML_CHILLU.items():
            run = run.replace(chr(base + o), chr(base + c) + chr(base + VIRAMA))
        run = run.replace(chr(base + 0x4E), chr(base + 0x30) + chr(base + VIRAMA))  # dot reph
    if script == "devanagari":
        # the candra vowels of English loans (ऑफिस, डॉक्टर) are not in these schemes: nearest vowel
        run = run.translate({0x0911: 0x0913, 0x0949: 0x094B, 0x090D: 0x090F, 0x0945: 0x0947})
        # precomposed nukta letters are missing from the tables; the decomposed form works
        run = unicodedata.normalize("NFD", run)
    else:
        for pair, composite in _nukta_composites(base).items():
            run = run.replace(pair, composite)
    return run.replace(ZWJ, "").replace(ZWNJ, ""), script


def _script_runs(text: str) -> list[tuple[str | None, str]]:
    """Split text into runs of one Brahmic script (joiners join the run they sit in) and others."""
    runs: list[tuple[str | None, str]] = []
    for c in text:
        name = _BLOCK_OF.get(ord(c) >> 7)
        if c in (ZWJ, ZWNJ, "\u0964", "\u0965") and runs and runs[-1][0] is not None:
            name = runs[-1][0]
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + c)
        else:
            runs.append((name, c))
    return runs


def formal(text: str, scheme: str) -> str:
    """``text`` in ``scheme`` (itrans, iast, hk, slp1, iso), every Brahmic script in it converted
    from its own script; anything else is left as it is."""
    from indic_transliteration import sanscript

    out = []
    for script, run in _script_runs(text):
        if script is None:
            out.append(run)
        else:
            prepared, read_as = _prepare_formal(run, script)
            out.append(sanscript.transliterate(prepared, _SANSCRIPT_NAME[read_as], scheme))
    return "".join(out)


# ISO 15919 letters -> keyboard spelling, for Brahmic text met inside a colloquial romanization of
# another script (a Malayalam name in a Hindi sentence): readable, though without the
# language-specific rules of the colloquial schemes
_ISO_PLAIN = str.maketrans(
    {
        "ā": "a",
        "ī": "i",
        "ū": "u",
        "ṛ": "r",
        "ḷ": "l",
        "ē": "e",
        "ō": "o",
        "ṅ": "n",
        "ñ": "n",
        "ṭ": "t",
        "ḍ": "d",
        "ṇ": "n",
        "ś": "sh",
        "ṣ": "sh",
        "ṃ": "n",
        "ḥ": "h",
        "ṁ": "m",
        "ḻ": "zh",
        "ṟ": "r",
        "ṉ": "n",
        "'": "",
    }
)


def _plain(text: str) -> str:
    s = formal(text, "iso").replace("r̥", "ri").translate(_ISO_PLAIN)
    s = s.replace("c", "ch").replace("chh", "chh")
    # drop whatever combining marks the tables left (the macron-below of q k͟h and the like)
    return "".join(ch for ch in unicodedata.normalize("NFD", s) if not unicodedata.combining(ch))


def _colloquial_text(text: str, script: str, word_fn) -> str:
    """Romanize the runs of ``script`` with ``word_fn``, other Brahmic runs plainly, and keep the rest."""
    base = SCRIPT_BLOCKS[script]
    out = []
    for name, run in _script_runs(text):
        if name == script:
            out.append(_romanize_with(run, base, script, word_fn))
        elif name is not None:
            out.append(_plain(run))
        else:
            out.append(run)
    return "".join(out).lower()


def hindi(text: str, style: HindiStyle = HI_STYLE) -> str:
    """Colloquial (Hinglish) romanization of a Devanagari text."""
    base = SCRIPT_BLOCKS["devanagari"]

    def word(w: str) -> str:
        return _HI_WORDS.get(w) or hindi_word(parse_word(w, base, "devanagari"), style)

    return _colloquial_text(text, "devanagari", word)


def manglish(text: str, style: ManglishStyle = ML_STYLE) -> str:
    """Colloquial (Manglish) romanization of a Malayalam text."""
    base = SCRIPT_BLOCKS["malayalam"]
    return _colloquial_text(
        text, "malayalam", lambda w: malayalam_word(parse_word(w, base, "malayalam"), style)
    )


# --- registration --------------------------------------------------------------------------

INDIC_LANGS = frozenset(
    {
        "hi",
        "mr",
        "ne",
        "sa",
        "bn",
        "as",
        "gu",
        "pa",
        "or",
        "ta",
        "te",
        "kn",
        "ml",
        "kok",
        "mai",
        "bho",
        "awa",
        "doi",
        "sd",
    }
)


def _per_text(fn):
    def load():
        return lambda texts, lang: [fn(t) for t in texts]

    return load


register(
    Backend(
        kind="romanize",
        name="hinglish",
        schemes=("colloquial",),
        languages=frozenset({"hi", "mr", "ne"}),
        load=_per_text(hindi),
        license="Apache-2.0",
        description="colloquial Devanagari romanization as typed (schwa deletion, no diacritics)",
    ),
    default_for=("hi", "mr", "ne"),
)
register(
    Backend(
        kind="romanize",
        name="manglish",
        schemes=("colloquial",),
        languages=frozenset({"ml"}),
        load=_per_text(manglish),
        license="Apache-2.0",
        description="colloquial Malayalam romanization as typed (Manglish)",
    ),
    default_for=("ml",),
)
for _scheme in FORMAL_SCHEMES:
    register(
        Backend(
            kind="romanize",
            name=f"sanscript-{_scheme}",
            schemes=(_scheme,),
            languages=INDIC_LANGS,
            load=_per_text(functools.partial(formal, scheme=_scheme)),
            license="MIT",
            description=f"{_scheme.upper()} for any Brahmic script (indic-transliteration)",
            modules=("indic_transliteration",),
        )
    )
