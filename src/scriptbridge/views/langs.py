"""Language codes: users write ``hi``, ``hin``, ``hin_Deva`` or ``Hindi``; backends see one code.

The canonical code is ISO 639-1 where one exists (``hi``, ``ur``, ``zh``), else ISO 639-3.
A FLORES-style suffix (``arb_Latn``) is accepted and its script is kept apart, so
``lang_script("arb_Latn") == ("ar", "Latn")``.
"""

from __future__ import annotations

# canonical code -> (ISO 639-3 code, English name, usual native script ISO 15924)
LANGUAGES: dict[str, tuple[str, str, str]] = {
    "en": ("eng", "English", "Latn"),
    "hi": ("hin", "Hindi", "Deva"),
    "mr": ("mar", "Marathi", "Deva"),
    "ne": ("nep", "Nepali", "Deva"),
    "sa": ("san", "Sanskrit", "Deva"),
    "bn": ("ben", "Bengali", "Beng"),
    "gu": ("guj", "Gujarati", "Gujr"),
    "pa": ("pan", "Punjabi", "Guru"),
    "or": ("ori", "Odia", "Orya"),
    "ta": ("tam", "Tamil", "Taml"),
    "te": ("tel", "Telugu", "Telu"),
    "kn": ("kan", "Kannada", "Knda"),
    "ml": ("mal", "Malayalam", "Mlym"),
    "si": ("sin", "Sinhala", "Sinh"),
    "ur": ("urd", "Urdu", "Arab"),
    "ar": ("ara", "Arabic", "Arab"),
    "fa": ("fas", "Persian", "Arab"),
    "ps": ("pus", "Pashto", "Arab"),
    "he": ("heb", "Hebrew", "Hebr"),
    "zh": ("zho", "Chinese", "Hans"),
    "ja": ("jpn", "Japanese", "Jpan"),
    "ko": ("kor", "Korean", "Hang"),
    "vi": ("vie", "Vietnamese", "Latn"),
    "th": ("tha", "Thai", "Thai"),
    "uk": ("ukr", "Ukrainian", "Cyrl"),
    "ru": ("rus", "Russian", "Cyrl"),
    "be": ("bel", "Belarusian", "Cyrl"),
    "bg": ("bul", "Bulgarian", "Cyrl"),
    "sr": ("srp", "Serbian", "Cyrl"),
    "kk": ("kaz", "Kazakh", "Cyrl"),
    "pl": ("pol", "Polish", "Latn"),
    "de": ("deu", "German", "Latn"),
    "fr": ("fra", "French", "Latn"),
    "es": ("spa", "Spanish", "Latn"),
    "it": ("ita", "Italian", "Latn"),
    "pt": ("por", "Portuguese", "Latn"),
    "tr": ("tur", "Turkish", "Latn"),
    "el": ("ell", "Greek", "Grek"),
    "ka": ("kat", "Georgian", "Geor"),
    "hy": ("hye", "Armenian", "Armn"),
    "am": ("amh", "Amharic", "Ethi"),
}

# ISO 639-3 macro-language members and other aliases that should map to a canonical code
_ALIASES: dict[str, str] = {
    "arb": "ar",
    "ary": "ar",
    "arz": "ar",
    "apc": "ar",
    "acm": "ar",
    "cmn": "zh",
    "zho": "zh",
    "chi": "zh",
    "yue": "yue",
    "pes": "fa",
    "per": "fa",
    "npi": "ne",
    "pnb": "pa",
    "ory": "or",
    "hindi": "hi",
    "malayalam": "ml",
    "urdu": "ur",
    "arabic": "ar",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "vietnamese": "vi",
    "ukrainian": "uk",
    "english": "en",
    "polish": "pl",
    "russian": "ru",
}
_FROM_639_3 = {v[0]: k for k, v in LANGUAGES.items()}


class UnknownLanguageError(ValueError):
    pass


def lang_script(code: str) -> tuple[str, str | None]:
    """Split and canonicalize ``code`` into (language, script or None)."""
    raw = code.strip()
    if not raw:
        raise UnknownLanguageError("empty language code")
    script: str | None = None
    if "_" in raw or "-" in raw:
        head, _, tail = raw.replace("-", "_").partition("_")
        if len(tail) == 4 and tail.isalpha():
            script = tail.capitalize()
        raw = head
    low = raw.lower()
    if low in LANGUAGES:
        return low, script
    if low in _FROM_639_3:
        return _FROM_639_3[low], script
    if low in _ALIASES:
        return _ALIASES[low], script
    if len(low) in (2, 3) and low.isalpha():
        # unknown to our table but well-formed: pass it through (uroman handles many more)
        return low, script
    raise UnknownLanguageError(
        f"unknown language {code!r}: use an ISO 639-1/639-3 code such as 'hi', 'hin' or 'hin_Deva'"
    )


def canonical(code: str) -> str:
    return lang_script(code)[0]


def iso639_3(code: str) -> str:
    """The ISO 639-3 code for ``code`` (what uroman's ``lcode`` expects)."""
    lang = canonical(code)
    if lang in LANGUAGES:
        return LANGUAGES[lang][0]
    return lang
