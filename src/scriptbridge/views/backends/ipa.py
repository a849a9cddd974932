"""IPA views: registers one ``kind="ipa"`` backend per language (see docs/ipa.md).

* zh (Simplified and Traditional): pypinyin (MIT) in sentence context -> our pinyin -> IPA table
  (:mod:`.ipa_zh`), Chao tone letters as in the PhoneXL data.
* ja: fugashi + unidic-lite (MIT / BSD) readings in context -> our kana -> IPA table
  (:mod:`.ipa_ja`), with sokuon, moraic-n assimilation and long vowels.
* everything else: epitran (MIT) word by word, for the languages whose epitran map works offline
  (not English, which needs Flite, nor Chinese, which needs CC-CEDICT), with the repairs in
  :mod:`.ipa_fixes` where epitran's map is thin (Urdu, Arabic, Hindi). Korean is epitran
  ``kor-Hang``, which already applies the sound changes (국민 kuŋmin, 신라 silla, 같이 kat͡ɕʰi).
  Vietnamese is epitran ``vie-Latn`` without tones (as PhoneXL writes it) under the default
  ``ipa`` scheme, and with Chao tone letters under ``ipa-tones``.

This module stays cheap to import: epitran, pypinyin and fugashi are imported on first use.
Word-level results are cached per language (an epitran word costs ~50 µs and text repeats).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

import regex

from scriptbridge.views.backends import ipa_fixes as fx
from scriptbridge.views.registry import Backend, Converter, register

EPITRAN_LICENSE = "MIT (epitran)"

# canonical language -> epitran code. Only languages whose epitran map needs no download.
EPITRAN_CODES: dict[str, str] = {
    # the list
    "hi": "hin-Deva",
    "ml": "mal-Mlym",
    "ur": "urd-Arab",
    "ar": "ara-Arab",
    "uk": "ukr-Cyrl",
    "ko": "kor-Hang",
    "vi": "vie-Latn",
    # languages in scriptbridge's table
    "mr": "mar-Deva",
    "ne": "npi-Deva",
    "bn": "ben-Beng",
    "pa": "pan-Guru",
    "or": "ori-Orya",
    "ta": "tam-Taml",
    "te": "tel-Telu",
    "kn": "kan-Knda",
    "si": "sin-Sinh",
    "fa": "fas-Arab",
    "ps": "pbu-Arab",
    "ru": "rus-Cyrl",
    "sr": "srp-Cyrl",
    "kk": "kaz-Cyrl",
    "pl": "pol-Latn",
    "de": "deu-Latn",
    "fr": "fra-Latn",
    "es": "spa-Latn",
    "it": "ita-Latn",
    "pt": "por-Latn",
    "tr": "tur-Latn",
    "am": "amh-Ethi",
    "ka": "kat-Geor",
    # more languages epitran covers offline (canonical codes pass 639-1 through unchanged)
    "id": "ind-Latn",
    "ms": "msa-Latn",
    "sw": "swa-Latn",
    "nl": "nld-Latn",
    "sv": "swe-Latn",
    "cs": "ces-Latn",
    "hu": "hun-Latn",
    "ro": "ron-Latn",
    "fi": "fin-Latn",
    "tl": "tgl-Latn",
    "hr": "hrv-Latn",
    "ca": "cat-Latn",
    "uz": "uzb-Latn",
    "az": "aze-Latn",
    "km": "khm-Khmr",
    "my": "mya-Mymr",
    "yo": "yor-Latn",
    "ha": "hau-Latn",
    "so": "som-Latn",
    "zu": "zul-Latn",
    "xh": "xho-Latn",
    "ti": "tir-Ethi",
    "ky": "kir-Cyrl",
    "tg": "tgk-Cyrl",
    "ug": "uig-Arab",
    "ckb": "ckb-Arab",
    "sl": "slv-Latn",
    "lt": "lit-Latn",
    "lv": "lav-Latn",
    "jv": "jav-Latn",
    "cy": "cym-Latn",
    "ga": "gle-Latn",
    "sq": "sqi-Latn",
    "mt": "mlt-Latn",
    "tk": "tuk-Latn",
    "et": "est-Latn",
    "af": "afr-Latn",
}
# codes a user may write that ``langs.canonical`` passes through as ISO 639-3 (not in its table)
_ALSO_639_3 = {
    "id": "ind",
    "ms": "msa",
    "sw": "swa",
    "nl": "nld",
    "sv": "swe",
    "cs": "ces",
    "hu": "hun",
    "ro": "ron",
    "fi": "fin",
    "tl": "tgl",
    "hr": "hrv",
    "ca": "cat",
    "uz": "uzb",
    "az": "aze",
    "km": "khm",
    "my": "mya",
    "yo": "yor",
    "ha": "hau",
    "so": "som",
    "zu": "zul",
    "xh": "xho",
    "ti": "tir",
    "ky": "kir",
    "tg": "tgk",
    "ug": "uig",
    "sl": "slv",
    "lt": "lit",
    "lv": "lav",
    "jv": "jav",
    "cy": "cym",
    "ga": "gle",
    "sq": "sqi",
    "mt": "mlt",
    "tk": "tuk",
    "et": "est",
    "af": "afr",
}
_CODE_OF = {**EPITRAN_CODES, **{v: EPITRAN_CODES[k] for k, v in _ALSO_639_3.items()}}

_PRE: dict[str, Callable[[str], str]] = {"ar": fx.pre_ar, "ur": fx.pre_ur}
_POST: dict[str, Callable[[str], str]] = {"hi": fx.post_hi, "vi": fx.post_vi}

# a word: letters and marks (Indic vowel signs are marks) and the joiners inside Indic words;
# everything else (spaces, digits, punctuation, emoji) passes through unchanged
_WORD = regex.compile(r"[\p{L}\p{M}\u200c\u200d]+")
_CASELESS_FOLD = {"tr": {"I": "ı", "İ": "i"}, "az": {"I": "ı", "İ": "i"}}


_BUILD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _feature_table():
    import panphon.featuretable

    return panphon.featuretable.FeatureTable()


@functools.cache
def _epitran(code: str):
    """One epitran object per language, built once.

    Every ``epitran.Epitran`` builds two panphon FeatureTables (~2 s each) that ``transliterate``
    never reads; we hand it one shared, read-only table instead, which makes the second and later
    languages load in well under a second.
    """
    import epitran
    import panphon
    import panphon.featuretable

    with _BUILD_LOCK:
        saved = panphon.FeatureTable, panphon.featuretable.FeatureTable
        shared = _feature_table()
        panphon.FeatureTable = panphon.featuretable.FeatureTable = lambda *a, **k: shared
        try:
            return epitran.Epitran(code)
        finally:
            panphon.FeatureTable, panphon.featuretable.FeatureTable = saved


def _lower(word: str, lang: str) -> str:
    fold = _CASELESS_FOLD.get(lang)
    if fold:
        word = "".join(fold.get(c, c) for c in word)
    return word.lower()


@functools.lru_cache(maxsize=1 << 18)
def _word_ipa(word: str, lang: str) -> str:
    """IPA of one word (context-free, hence cached)."""
    code = _CODE_OF[lang]
    w = _lower(word, lang)
    pre = _PRE.get(lang)
    if pre is not None:
        w = pre(w)
    ipa = _epitran(code).transliterate(w)
    post = _POST.get(lang)
    if post is not None:
        ipa = post(ipa)
    return fx.post_common(ipa)


def _convert_words(text: str, lang: str, tones: bool = False) -> str:
    def one(m: regex.Match) -> str:
        ipa = _word_ipa(m.group(), lang)
        return ipa + fx.vi_tone(m.group()) if tones else ipa

    return _WORD.sub(one, text)


def _load_epitran(lang: str, tones: bool = False) -> Callable[[], Converter]:
    def load() -> Converter:
        _epitran(_CODE_OF[lang])  # build the (slow) epitran object once, up front

        def convert(texts: Sequence[str], lang_: str) -> list[str]:
            return [_convert_words(t, lang_, tones) for t in texts]

        return convert

    return load


def _load_zh() -> Converter:
    from scriptbridge.views.backends import ipa_zh

    return ipa_zh.convert_texts


def _load_zh_tokens():
    from scriptbridge.views.backends import ipa_zh

    return ipa_zh.convert_tokens


def _load_ja() -> Converter:
    from scriptbridge.views.backends import ipa_ja

    ipa_ja._tagger()
    return ipa_ja.convert_texts


def _load_ja_tokens():
    from scriptbridge.views.backends import ipa_ja

    ipa_ja._tagger()
    return ipa_ja.convert_tokens


register(
    Backend(
        kind="ipa",
        name="pinyin-ipa",
        schemes=("ipa", "pinyin-ipa"),
        languages=frozenset({"zh"}),
        load=_load_zh,
        load_tokens=_load_zh_tokens,
        license="MIT (pypinyin); optional Apache-2.0 (opencc-python-reimplemented, Traditional)",
        description="Mandarin: pypinyin readings in context -> pinyin-to-IPA table, Chao tone letters",
        modules=("pypinyin",),
    ),
    default_for=["zh"],
)
register(
    Backend(
        kind="ipa",
        name="unidic-ipa",
        schemes=("ipa", "unidic-ipa"),
        languages=frozenset({"ja"}),
        load=_load_ja,
        load_tokens=_load_ja_tokens,
        license="MIT (fugashi); BSD-3-Clause (unidic-lite)",
        description="Japanese: unidic readings in context -> kana-to-IPA table (sokuon, moraic n, long vowels)",
        modules=("fugashi", "unidic_lite"),
    ),
    default_for=["ja"],
)
for _lang, _code in EPITRAN_CODES.items():
    _langs = {_lang} | ({_ALSO_639_3[_lang]} if _lang in _ALSO_639_3 else set())
    _name = f"epitran-{_lang}"
    register(
        Backend(
            kind="ipa",
            name=_name,
            schemes=("ipa", _name, "epitran"),
            languages=frozenset(_langs),
            load=_load_epitran(_lang),
            license=EPITRAN_LICENSE,
            description=f"epitran {_code}, word by word"
            + (" (with repairs, see ipa_fixes)" if _lang in _PRE or _lang in _POST else ""),
            modules=("epitran",),
        ),
        default_for=sorted(_langs),
    )
register(
    Backend(
        kind="ipa",
        name="epitran-vi-tones",
        schemes=("ipa-tones", "epitran-vi-tones"),
        languages=frozenset({"vi"}),
        load=_load_epitran("vi", tones=True),
        license=EPITRAN_LICENSE,
        description="Vietnamese: epitran vie-Latn segments + Chao tone letters from the tone marks",
        modules=("epitran",),
    )
)
