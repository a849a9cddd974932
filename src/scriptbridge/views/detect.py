"""Which script(s) a text is written in, and whether Latin text looks like a romanized language.

Script detection reads Unicode Script properties (through the ``regex`` module),
counting letters and a script's own marks (Devanagari vowel signs count as
Devanagari): digits, punctuation and shared combining marks (Common and
Inherited) do not vote. Han characters next to kana count as Japanese (``Jpan``).

Romanized-language detection is a deliberately simple, honest heuristic, not a
classifier: for each language we keep a short hand-written list of very frequent
words as people type them in Latin letters (Hinglish ``hai``, ``nahi``, ``kya``;
Manglish ``njan``, ``alle``; Arabizi ``3ala``, ``7abibi``...). The score of a
language is the fraction of a text's words found in its list (for Arabizi, words
mixing letters with the digits 2, 3, 5, 7, 9 also count), and the text "looks
romanized" in that language when the score is at least ``threshold`` and beats
the same score computed with English function words. It works on sentences of
a few words or more, and cannot tell Hindi from Urdu (they share these words).
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import regex

# ISO 15924 code -> Unicode script name (as the regex module spells it)
_SCRIPTS: dict[str, str] = {
    "Latn": "Latin",
    "Deva": "Devanagari",
    "Beng": "Bengali",
    "Guru": "Gurmukhi",
    "Gujr": "Gujarati",
    "Orya": "Oriya",
    "Taml": "Tamil",
    "Telu": "Telugu",
    "Knda": "Kannada",
    "Mlym": "Malayalam",
    "Sinh": "Sinhala",
    "Arab": "Arabic",
    "Hebr": "Hebrew",
    "Syrc": "Syriac",
    "Thaa": "Thaana",
    "Cyrl": "Cyrillic",
    "Grek": "Greek",
    "Armn": "Armenian",
    "Geor": "Georgian",
    "Ethi": "Ethiopic",
    "Hani": "Han",
    "Hira": "Hiragana",
    "Kana": "Katakana",
    "Hang": "Hangul",
    "Thai": "Thai",
    "Laoo": "Lao",
    "Khmr": "Khmer",
    "Mymr": "Myanmar",
    "Tibt": "Tibetan",
    "Mong": "Mongolian",
    "Tfng": "Tifinagh",
    "Cher": "Cherokee",
    "Bopo": "Bopomofo",
    "Olck": "Ol_Chiki",
}
_PATTERNS = [(code, regex.compile(rf"\p{{Script={name}}}")) for code, name in _SCRIPTS.items()]

# languages usually written in a script, most common first
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Deva": ("hi", "mr", "ne", "sa"),
    "Arab": ("ar", "ur", "fa", "ps"),
    "Mlym": ("ml",),
    "Beng": ("bn",),
    "Taml": ("ta",),
    "Telu": ("te",),
    "Knda": ("kn",),
    "Gujr": ("gu",),
    "Guru": ("pa",),
    "Orya": ("or",),
    "Cyrl": ("ru", "uk", "bg", "sr", "be", "kk"),
    "Hani": ("zh", "ja"),
    "Jpan": ("ja",),
    "Hang": ("ko",),
    "Kore": ("ko",),
    "Thai": ("th",),
    "Hebr": ("he",),
    "Grek": ("el",),
    "Geor": ("ka",),
    "Armn": ("hy",),
    "Ethi": ("am",),
    "Sinh": ("si",),
}


@functools.lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """ISO 15924 code of a letter's (or a script-specific mark's) script; None for digits,
    punctuation, spaces and marks shared by all scripts (Inherited, e.g. combining accents)."""
    cat = unicodedata.category(ch)
    if cat[0] not in "LM":
        return None
    for code, pat in _PATTERNS:
        if pat.match(ch):
            return code
    return "Zyyy" if cat[0] == "L" else None  # a letter of a script we do not list


def scripts_of(text: str) -> Counter[str]:
    """Letter counts per script. Han with any kana is reported as ``Jpan``, Hangul as ``Hang``."""
    counts: Counter[str] = Counter()
    for ch in text:
        s = char_script(ch)
        if s is not None:
            counts[s] += 1
    if counts.get("Hira") or counts.get("Kana"):
        jp = counts.pop("Hira", 0) + counts.pop("Kana", 0) + counts.pop("Hani", 0)
        counts["Jpan"] += jp
    return counts


# --- romanized-language heuristics ---------------------------------------------------------
_HI_UR = (
    "hai hain hy hei tha thi ka ki ke ko se mein mai main nahi nahin nai nhi kya kyu kyun aur "
    "bhi ye yeh wo woh voh hum tum aap mera meri mere tera teri tere apna apni kuch kuchh bahut "
    "bohot bht bhai yaar yar jo jab tab ab kar karo karna kiya raha rahi rahe gaya gayi hoga hota hoti "
    "sab sabhi liye lie pe toh ek dil pyar acha accha achha theek thik sahi bilkul kaise kaisa "
    "kab kahan kaha abhi phir fir lekin magar agar ji haan nahi hoon hu hun diya dena lagta"
)
_ML = (
    "njan njn ente ende enne ninte nee ningal ningalude avan aval avar athu ithu aanu anu aano ano alle "
    "illa ila undu und undo ennu ennum enthu enth entha enthanu oru orupad orupaadu pinne ini "
    "ippol ippo appo evide avide ivide cheyyan cheythu cheyyum varum vannu poyi pokum kollam kollaam "
    "adipoli chetta chettan chechi mone mol mole ketto kettu parayan paranju sheri shari nalla valare "
    "kure kooduthal venam venda vendi pole polum aayi ayi aaya aakum"
)
_AR = (
    "ana ent enta enti inta inti howa hiya ehna e7na ya ila el al w wa fi fe 3ala 3la ma mesh mish msh "
    "la la2 aywa aiwa ah shukran habibi 7abibi habibti inshallah inshalla mashallah wallah wallahi "
    "yalla keda kda leh lesh eh shu shou kif kaif izzay ezay 3ashan 3shan bas kman kaman b2a 7aga 7ad"
)
_JA = (
    "desu desu masu mashita deshita watashi boku ore anata kore sore are kono sono ano no wa ga wo o ni "
    "de to mo ka ne yo arigatou arigato sugoi kawaii nani doko itsu dare naze hai iie sumimasen "
    "gomen gomennasai ohayou konnichiwa konbanwa sayonara daijoubu totemo chotto"
)
_ZH = (
    "de shi wo ni ta women nimen tamen le zai bu you hen ma ne ba zhe na shenme zenme weishenme "
    "keyi yao hui neng xiang juede zhidao xihuan meiyou haishi danshi yinwei suoyi ranhou xiexie "
    "nihao zaijian duibuqi mei hao dui"
)
_KO = (
    "annyeong annyeonghaseyo saranghae saranghaeyo gamsahamnida gomawo gomawoyo ne aniyo jeoneun naneun "
    "uri geureom geurigo hajiman geunde mwo mwoya wae eodi eonje nugu jinjja daebak oppa unni eonni hyung "
    "noona nuna chingu haseyo juseyo isseoyo eopseoyo imnida ieyo yeyo"
)
_UK = (
    "ya ty vin vona my vy vony tse shcho yak de koly chomu tak ni ne dyakuyu duzhe dobre pryvit "
    "buv bula buly maye mayut ye bude mozhna treba vzhe shche tilky abo ale i y ta z u v na do vid dlia "
    "dlya pro"
)
_VI = (
    "khong co cua va la nguoi duoc trong mot nhung cac cho voi nay de khi da se rat lam di den "
    "toi ban anh em chi ong ba minh chung ta ho gi sao nao cam on xin chao"
)
ROMANIZED_MARKERS: dict[str, frozenset[str]] = {
    "hi": frozenset(_HI_UR.split()),
    "ur": frozenset(_HI_UR.split()),
    "ml": frozenset(_ML.split()),
    "ar": frozenset(_AR.split()),
    "ja": frozenset(_JA.split()),
    "zh": frozenset(_ZH.split()),
    "ko": frozenset(_KO.split()),
    "uk": frozenset(_UK.split()),
    "vi": frozenset(_VI.split()),
}
_EN = frozenset(
    "the a an of to in and is are was were be been it this that for on with as at by from or not but "
    "have has had do does did i you he she we they my your his her our their what which who will would "
    "can could should there here so if about".split()
)
_ARABIZI_DIGIT = regex.compile(r"^(?=.*\p{L})(?=.*[235679])[\p{L}235679']+$")
_WORD = regex.compile(r"[\p{L}\p{N}']+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def romanized_scores(text: str) -> dict[str, float]:
    """For each language with a marker list, the fraction of the text's words that are markers."""
    words = _words(text)
    if not words:
        return {}
    scores = {}
    for lang, markers in ROMANIZED_MARKERS.items():
        hits = sum(1 for w in words if w in markers or (lang == "ar" and _ARABIZI_DIGIT.match(w)))
        scores[lang] = hits / len(words)
    return scores


def english_score(text: str) -> float:
    words = _words(text)
    return sum(w in _EN for w in words) / len(words) if words else 0.0


def looks_romanized(text: str, lang: str, threshold: float = 0.15) -> bool:
    """Whether ``text`` (mostly Latin letters) looks like ``lang`` typed in Latin script."""
    from scriptbridge.views.langs import canonical

    lang = canonical(lang)
    counts = scripts_of(text)
    total = sum(counts.values())
    if not total or counts.get("Latn", 0) / total < 0.8 or lang not in ROMANIZED_MARKERS:
        return False
    score = romanized_scores(text).get(lang, 0.0)
    return score >= threshold and score > english_score(text)


@dataclass
class DetectResult:
    text: str
    scripts: dict[str, float] = field(default_factory=dict)  # script -> fraction of letters
    script: str | None = None  # the majority script
    languages: tuple[str, ...] = ()  # languages usually written in that script
    romanized: str | None = None  # best romanized-language guess for Latin text
    romanized_scores: dict[str, float] = field(default_factory=dict)

    @property
    def mixed(self) -> bool:
        return sum(1 for f in self.scripts.values() if f >= 0.1) > 1

    def as_dict(self) -> dict:
        return {
            "scripts": self.scripts,
            "script": self.script,
            "mixed": self.mixed,
            "languages": list(self.languages),
            "romanized": self.romanized,
            "romanized_scores": self.romanized_scores,
        }


def detect(text: str, threshold: float = 0.15) -> DetectResult:
    """Scripts of ``text`` and, for Latin text, which romanized language it looks like (if any)."""
    counts = scripts_of(text)
    total = sum(counts.values())
    res = DetectResult(text=text)
    if not total:
        return res
    res.scripts = {s: round(n / total, 4) for s, n in counts.most_common()}
    res.script = counts.most_common(1)[0][0]
    res.languages = SCRIPT_LANGUAGES.get(res.script, ())
    if res.script == "Latn":
        scores = romanized_scores(text)
        en = english_score(text)
        res.romanized_scores = {
            k: round(v, 4) for k, v in sorted(scores.items(), key=lambda kv: -kv[1]) if v > 0
        }
        best = max(scores.items(), key=lambda kv: kv[1]) if scores else None
        if best and best[1] >= threshold and best[1] > en:
            res.romanized = best[0]
    return res
