"""Colloquial romanization of Urdu (Roman Urdu) and Arabic (Arabizi), as people type them.

The Arabic script leaves most short vowels unwritten, so a letter-by-letter
romanizer cannot know that كتاب is "kitab" and not "ktab". We do three things:

1. A short hand-written lexicon of the most frequent Urdu function words
   spelled the way they are usually typed (میں "mein", ہے "hai", نہیں "nahi",
   کیا "kiya"). These few words are a large share of running text.
2. Letter rules: و and ی are consonants (w, y) at the start of a word or next
   to a vowel letter, and long vowels (o/u, i/e) between consonants; final ہ/ة
   after a consonant is the vowel "a" (خانہ khana); ھ marks aspiration (بھی bhi).
   Written diacritics (zabar, zer, pesh, shadda, tanwin), when present, are used.
3. An "a" is inserted between the first two consonants of a word when nothing
   is written between them (کتاب "katab"): wrong as often as right, but on
   human romanizations it lowers the character error rate (see
   docs/romanization_quality.md) because most unwritten vowels are short a.

Expect word accuracy around one word in two on running Urdu text, far below
the Indic schemes: the missing vowels are genuinely unknowable without a
dictionary. Formal, reversible romanization of Arabic-script text is ``uroman``.

Arabic has two schemes. ``arabizi`` is chat Arabic with the digits that are
used across the whole Arab world for sounds with no Latin letter: 2 = ء
(hamza), 3 = ع, 7 = ح. Regional digits (5 for خ, 9 for ق or ص, 6 for ط) are
not universal, so خ is "kh" and ق "q". ``colloquial`` is the same without
digits (ع and ء dropped, ح as h), for readers and models that never saw
Arabizi. The article assimilates to a following sun letter: الرحلة -> "arra7la".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from scriptbridge.views.registry import Backend, register

# consonants shared by Urdu and Arabic (Arabic-specific values are overridden below)
_CONS = {
    "ب": "b",
    "پ": "p",
    "ت": "t",
    "ٹ": "t",
    "ث": "s",
    "ج": "j",
    "چ": "ch",
    "ح": "h",
    "خ": "kh",
    "د": "d",
    "ڈ": "d",
    "ذ": "z",
    "ر": "r",
    "ڑ": "r",
    "ز": "z",
    "ژ": "zh",
    "س": "s",
    "ش": "sh",
    "ص": "s",
    "ض": "z",
    "ط": "t",
    "ظ": "z",
    "ع": "",
    "غ": "gh",
    "ف": "f",
    "ق": "q",
    "ک": "k",
    "ك": "k",
    "گ": "g",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ں": "n",
    "ہ": "h",
    "ه": "h",
    "ھ": "h",
    "ء": "",
    "ئ": "",
    "ؤ": "o",
    "ۃ": "a",
    "ة": "a",
    "ڻ": "n",
}
_AR_CONS = _CONS | {
    "ث": "th",
    "ذ": "dh",
    "ض": "d",
    "ظ": "z",
    "ح": "7",
    "ع": "3",
    "ء": "2",
    "ئ": "2",
    "ؤ": "2",
    "ك": "k",
    "ة": "a",
    "ه": "h",
}
_AR_PLAIN = _AR_CONS | {"ح": "h", "ع": "", "ء": "", "ئ": "", "ؤ": "u"}
_ALEFS = {"ا": "a", "أ": "a", "إ": "i", "آ": "aa", "ٱ": "a", "ى": "a"}
_YEHS = {"ی", "ي", "ې", "ۍ"}
_WAW = "و"
_BARI_YE = "ے"
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}
_PUNCT = {"،": ",", "؛": ";", "؟": "?", "۔": ".", "٪": "%", "٫": ".", "٬": ","}
# diacritics: fatha, damma, kasra, tanwin, shadda, sukun, superscript alef
_HARAKAT = {
    "\u064e": "a",
    "\u064f": "u",
    "\u0650": "i",
    "\u064b": "an",
    "\u064c": "un",
    "\u064d": "in",
    "\u0670": "a",
}
_SHADDA, _SUKUN = "\u0651", "\u0652"
_SUN = set("تثدذرزسشصضطظلن")
MEDIAL_H = "eh"

# frequent Urdu words as they are usually typed (written by us; spellings checked for agreement
# with common usage, not taken from any data set)
UR_WORDS = {
    "میں": "mein",
    "ہے": "hai",
    "ہیں": "hain",
    "کے": "ke",
    "کی": "ki",
    "کا": "ka",
    "اور": "aur",
    "سے": "se",
    "کو": "ko",
    "نے": "ne",
    "یہ": "ye",
    "وہ": "wo",
    "تھا": "tha",
    "تھی": "thi",
    "تھے": "the",
    "کیا": "kiya",
    "پر": "par",
    "نہیں": "nahi",
    "ایک": "aik",
    "بھی": "bhi",
    "ہو": "ho",
    "کر": "kar",
    "اس": "is",
    "ان": "un",
    "جو": "jo",
    "تو": "to",
    "گیا": "gaya",
    "گئی": "gayi",
    "گئے": "gaye",
    "کہ": "ke",
    "لیے": "liye",
    "لئے": "liye",
    "ہوئے": "huye",
    "ہوا": "hua",
    "ہوئی": "hui",
    "ہوتا": "hota",
    "ہوتی": "hoti",
    "ہوتے": "hote",
    "جاتا": "jata",
    "جاتی": "jati",
    "جاتے": "jate",
    "اپنی": "apni",
    "اپنے": "apne",
    "اپنا": "apna",
    "کرتے": "karte",
    "کرنے": "karne",
    "کرتا": "karta",
    "کرتی": "karti",
    "بعد": "baad",
    "ساتھ": "saath",
    "دیا": "diya",
    "لیا": "liya",
    "رہا": "raha",
    "رہی": "rahi",
    "رہے": "rahe",
    "سکتا": "sakta",
    "سکتی": "sakti",
    "سکتے": "sakte",
    "طور": "taur",
    "بہت": "bohat",
    "کچھ": "kuch",
    "کسی": "kisi",
    "جس": "jis",
    "جب": "jab",
    "تک": "tak",
    "پہلے": "pehle",
    "ہم": "hum",
    "آپ": "aap",
    "تم": "tum",
    "ہر": "har",
    "یا": "ya",
    "اگر": "agar",
    "لیکن": "lekin",
    "مگر": "magar",
    "کیونکہ": "kyunke",
    "وقت": "waqt",
    "دن": "din",
    "کام": "kaam",
    "نام": "naam",
    "بات": "baat",
    "لوگ": "log",
    "لوگوں": "logon",
    "دنیا": "dunya",
    "اسے": "use",
    "انہوں": "unhon",
    "انہیں": "unhen",
    "جن": "jin",
    "کئی": "kai",
    "سب": "sab",
    "اب": "ab",
    "پھر": "phir",
    "یہاں": "yahan",
    "وہاں": "wahan",
    "کیے": "kiye",
    "کئے": "kiye",
    "گا": "ga",
    "گی": "gi",
    "گے": "ge",
    "ہوں": "hoon",
    "دی": "di",
    "دے": "de",
    "علاوہ": "ilawa",
    "صرف": "sirf",
    "بڑا": "bara",
    "بڑی": "bari",
    "بڑے": "bare",
    "کم": "kam",
    "زیادہ": "zyada",
    "کہا": "kaha",
    "چاہیے": "chahiye",
    "دوران": "dauran",
    "شامل": "shamil",
    "استعمال": "istemal",
    "حاصل": "hasil",
    "مطابق": "mutabiq",
    "حصہ": "hissa",
    "پیدا": "paida",
    "شروع": "shuru",
    "عام": "aam",
    "اسی": "isi",
    "انہی": "unhi",
    "جاتا۔": "jata",
    "ہوگا": "hoga",
    "ہوگی": "hogi",
    "تھیں": "thin",
    "والے": "wale",
    "والا": "wala",
    "والی": "wali",
    "ذریعے": "zariye",
    "دوسرے": "dusre",
    "بھارت": "bharat",
    "پاکستان": "pakistan",
    "اللہ": "allah",
    "سال": "saal",
    "دو": "do",
    "تین": "teen",
    "کوئی": "koi",
    "یعنی": "yani",
    "کہتے": "kehte",
    "جیسے": "jaise",
    "ایسے": "aise",
    "ایسا": "aisa",
    "ایسی": "aisi",
    "کیسے": "kaise",
    "بارے": "bare",
    "اندر": "andar",
    "باہر": "bahar",
    "نہ": "na",
    "ہی": "hi",
    "جا": "ja",
    "آ": "aa",
    "لگا": "laga",
    "رکھا": "rakha",
    "ملک": "mulk",
    "و": "wa",
    "بن": "bin",
    "محمد": "muhammad",
    "علی": "ali",
    "اردو": "urdu",
    "زندگی": "zindagi",
    "فلم": "film",
    "ضلع": "zila",
    "امام": "imam",
    "حکومت": "hukumat",
    "دور": "daur",
    "وجہ": "wajah",
    "شہر": "shehar",
    "فہرست": "fehrist",
    "سو": "sau",
    "ہوگئے": "hogaye",
    "اسلام": "islam",
}


def _is_letter(c: str) -> bool:
    return c in _CONS or c in _ALEFS or c in _YEHS or c in (_WAW, _BARI_YE)


def _is_vowel_letter(c: str | None) -> bool:
    return c is not None and (c in _ALEFS or c in _YEHS or c in (_WAW, _BARI_YE))


def romanize_word(word: str, lang: str, digits: bool = True, insert_a: bool = True) -> str:
    """One Arabic-script word (letters and diacritics only) in Latin letters."""
    if lang == "ur" and word in UR_WORDS:
        return UR_WORDS[word]
    table = _CONS if lang != "ar" else (_AR_CONS if digits else _AR_PLAIN)
    out: list[str] = []
    vowel_after: dict[int, bool] = {}  # letter index -> a written vowel (harakat) follows it
    # pair each letter with the diacritics after it
    units: list[tuple[str, str]] = []
    for c in word:
        if _is_letter(c):
            units.append((c, ""))
        elif units and (c in _HARAKAT or c in (_SHADDA, _SUKUN)):
            units[-1] = (units[-1][0], units[-1][1] + c)
    for i, (_c, marks) in enumerate(units):
        vowel_after[i] = any(m in _HARAKAT for m in marks)
    n = len(units)
    start = 0
    if lang == "ar" and n > 2 and units[0][0] == "ا" and units[1][0] == "ل":
        # the article: assimilated before a sun letter (الشمس ashshams), "al" otherwise
        if units[2][0] in _SUN:
            out.append("a")
            start = 2
            units[2] = (units[2][0], units[2][1] + _SHADDA)
        else:
            out.append("al")
            start = 2
    for i in range(start, n):
        c, marks = units[i]
        prev = units[i - 1][0] if i > start else None
        nxt = units[i + 1][0] if i + 1 < n else None
        first, last = i == start, i == n - 1
        if c in _ALEFS:
            if vowel_after.get(i) and c in ("ا", "أ", "إ"):
                pass  # a seat for a written vowel: the vowel mark alone is spoken
            elif c == "ا" and first and nxt == _WAW and i + 1 < n - 1:
                out.append("o")  # اوڑھنا odhna: initial alef + waw is a vowel, not "aw"
                units[i + 1] = ("\u0640", "")  # consumed: the tatweel maps to nothing
            elif c == "ا" and first and nxt in _YEHS and i + 1 < n - 1:
                out.append("e")  # ایک ek
                units[i + 1] = ("\u0640", "")
            else:
                out.append(_ALEFS[c] if c != "ا" or lang == "ar" or first or last else "a")
        elif c == _WAW:
            if first or _is_vowel_letter(nxt) and not last:
                out.append("w")
            elif prev is not None and prev in _ALEFS:
                out.append("w" if not last else "o")
            else:
                out.append("o" if lang == "ur" else "u")
        elif c in _YEHS:
            if first or (not last and (_is_vowel_letter(nxt) or prev in _ALEFS)):
                out.append("y")  # a consonant next to a vowel letter: بیان bayan, گاؤں

            elif last:
                out.append("i")
            else:
                out.append("e" if lang == "ur" else "i")
        elif c == _BARI_YE:
            out.append("e")
        elif c == "\u0640":
            continue
        elif c == "ئ" and lang == "ur":
            # hamza seat between vowels: a glide before e (کئے kiye), the vowel i otherwise (طوائف tawaif)
            out.append("y" if nxt in (_BARI_YE, *_YEHS) else "i")
        elif (
            c == "ہ"
            and lang == "ur"
            and not last
            and prev is not None
            and not _is_vowel_letter(prev)
            and nxt is not None
            and not _is_vowel_letter(nxt)
            and i > start
        ):
            out.append(MEDIAL_H)  # پہلے pehle, کہتے kehte: the h colours an unwritten e
        elif c in ("ہ", "ه", "ة", "ۃ") and last and i > start and c not in ("ھ",):
            # a final h after a consonant is the vowel a (خانہ khana, مدرسة madrasa)
            out.append("a" if not _is_vowel_letter(prev) or c in ("ة", "ۃ") else "h")
        else:
            rom = table.get(c, "")
            if _SHADDA in marks and rom:
                rom = rom[0] + rom if len(rom) > 1 and rom[0] not in "0123456789" else rom * 2
            out.append(rom)
            # an unwritten short vowel, guessed "a": after the first consonant of the word, and
            # between the last two (کتاب katab, برآمد baraamad)
            at_edge = i == start or i == n - 2
            if (
                insert_a
                and at_edge
                and nxt is not None
                and not _is_vowel_letter(nxt)
                and not vowel_after.get(i)
                and c not in ("ھ", "\u0640")
                and nxt not in ("ھ", "ہ", "ه", "ة", "ۃ")
                and _SUKUN not in marks
                and nxt != "ں"
            ):
                out.append("a")
        for m in marks:
            if m in _HARAKAT and not (c in _ALEFS and m == "\u064e"):
                out.append(_HARAKAT[m])
    return "".join(out)


def romanize_text(text: str, lang: str, digits: bool = True) -> str:
    out: list[str] = []
    word: list[str] = []

    def flush():
        if word:
            out.append(romanize_word("".join(word), lang, digits))
            word.clear()

    for c in text:
        if _is_letter(c) or c in _HARAKAT or c in (_SHADDA, _SUKUN):
            word.append(c)
        elif c == "\u0640":  # tatweel: a stretching stroke, no sound
            continue
        elif unicodedata.category(c) == "Mn" and 0x0600 <= ord(c) <= 0x06FF:
            continue  # other Arabic marks (Quranic annotation): no sound of their own
        elif c in ("\u200c", "\u200d"):  # joiners inside a word keep it one word
            continue
        else:
            flush()
            out.append(_DIGITS.get(c) or _PUNCT.get(c) or c)
    flush()
    return "".join(out).lower()


def _load(digits: bool):
    def load():
        def convert(texts: Sequence[str], lang: str) -> list[str]:
            return [romanize_text(t, lang, digits) for t in texts]

        return convert

    return load


register(
    Backend(
        kind="romanize",
        name="roman-urdu",
        schemes=("colloquial",),
        languages=frozenset({"ur"}),
        load=_load(True),
        license="Apache-2.0",
        description="Roman Urdu as typed: frequent-word lexicon plus letter rules (vowels guessed)",
    ),
    default_for=("ur",),
)
register(
    Backend(
        kind="romanize",
        name="arabizi",
        schemes=("arabizi",),
        languages=frozenset({"ar"}),
        load=_load(True),
        license="Apache-2.0",
        description="chat Arabic (Arabizi): 2 = hamza, 3 = ain, 7 = haa; short vowels guessed",
    ),
    default_for=("ar",),
)
register(
    Backend(
        kind="romanize",
        name="arabic-colloquial",
        schemes=("colloquial",),
        languages=frozenset({"ar"}),
        load=_load(False),
        license="Apache-2.0",
        description="Arabic in plain Latin letters, no digits (ain and hamza dropped)",
    ),
)
