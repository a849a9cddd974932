"""IPA views: hand-written expectations per language, the token form, robustness, offline use."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys

import pytest

from scriptbridge.views.api import to_ipa, to_ipa_tokens, to_ipa_tokens_batch
from scriptbridge.views.registry import ipa_languages, resolve


def _mod(name: str):
    # imported lazily: importing scriptbridge.views.backends.* at collection time rebinds the
    # attribute ``scriptbridge.views.backends`` (the registry function) to the subpackage, which
    # breaks other test modules' ``from scriptbridge.views import backends``
    return importlib.import_module(f"scriptbridge.views.backends.{name}")


ISSUE_LANGS = ("zh", "vi", "ja", "ko", "hi", "ml", "ur", "uk", "ar")


# --- Chinese -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pinyin", "ipa_"),
    [
        ("zhong1", "ʈʂʊŋ˥"),
        ("zhi1", "ʈʂɨ˥"),
        ("si4", "sɯ˥˩"),
        ("lv4", "ly˥˩"),
        ("xue2", "ɕɥœ˧˥"),
        ("yuan2", "ɥœn˧˥"),
        ("de", "tɤ"),
        ("er2", "ɑɻ˧˥"),
        ("you3", "joʊ˧˩˧"),
        ("bo1", "pwɔ˥"),
        ("qu4", "tɕʰy˥˩"),
        ("gui4", "kweɪ˥˩"),
        ("liu2", "ljoʊ˧˥"),
        ("wen2", "wən˧˥"),
        ("ng2", "ŋ˧˥"),
    ],
)
def test_pinyin_table(pinyin, ipa_):
    assert _mod("ipa_zh").pinyin_to_ipa(pinyin) == ipa_


def test_zh_tokens_use_sentence_context():
    assert to_ipa_tokens(["我", "喜欢", "银行"], "zh") == ["wɔ˧˩˧", "ɕi˧˩˧ xwan˥", "in˧˥ xɑŋ˧˥"]
    # 行 is háng in 银行 and xíng in 行走, also when the word is split over two tokens
    assert to_ipa_tokens(["银", "行"], "zh")[1] == "xɑŋ˧˥"
    assert to_ipa_tokens(["行", "走"], "zh")[0] == "ɕiŋ˧˥"


def test_zh_non_han_passes_through():
    out = to_ipa_tokens(["2012年", "ABC", "，", "", "我们"], "zh")
    assert out == ["2012njɛn˧˥", "ABC", "，", "", "wɔ˧˩˧ mən"]
    assert to_ipa("我喜欢ABC。", "zh") == "wɔ˧˩˧ ɕi˧˩˧ xwan˥ ABC。"


@pytest.mark.skipif(importlib.util.find_spec("opencc") is None, reason="OpenCC reads Traditional phrases")
def test_zh_traditional_phrases():
    assert to_ipa_tokens(["銀行", "很", "重要"], "zh_Hant") == ["in˧˥ xɑŋ˧˥", "xən˧˩˧", "ʈʂʊŋ˥˩ jɑʊ˥˩"]


# --- Japanese ----------------------------------------------------------------------------------


def test_ja_readings_in_context():
    assert to_ipa_tokens(["今日", "は", "学校", "へ"], "ja") == ["kʲoː", "wa", "ɡakkoː", "e"]
    assert to_ipa_tokens(["日本"], "ja")[0] in ("ɲippoɴ", "ɲihoɴ")
    # the same kanji 日 split out of two words reads differently
    assert to_ipa_tokens(["今", "日"], "ja")[1] != to_ipa_tokens(["日", "本"], "ja")[0]


def test_ja_kana_rules():
    assert to_ipa("しんぶん", "ja") == "ɕimbɯɴ"  # ん before b is m, final ɴ
    ipa_ja = _mod("ipa_ja")
    assert ipa_ja.units_to_ipa(ipa_ja._moras("キャッチ")) == ["kʲa", "t", "t͡ɕi"]
    assert "".join(ipa_ja.units_to_ipa(ipa_ja._moras("ティーファン"))) == "tiːɸaɴ"
    # a morpheme split over tokens keeps its small kana with its mora
    assert to_ipa_tokens(["ちゃん", "と"], "ja") == ["t͡ɕan", "to"]


def test_ja_latin_digits_punct_pass_through():
    assert to_ipa_tokens(["ABC", "と", "2012", "年", "。", ""], "ja") == [
        "ABC",
        "to",
        "2012",
        "neɴ",
        "。",
        "",
    ]


# --- epitran languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ko", "국민", "kuŋmin"),  # nasalization
        ("ko", "신라", "silla"),  # lateralization
        ("ko", "같이", "kat͡ɕʰi"),  # palatalization
        ("ko", "한국어", "hankukʌ"),  # liaison
        ("vi", "Việt Nam", "viət nam"),
        ("vi", "người", "ŋɯəj"),
        ("vi", "ở", "ɤ"),  # no predictable glottal onset
        ("hi", "कमला", "kəmlaː"),  # medial schwa deletion
        ("hi", "अपना", "əpnaː"),  # independent a is schwa too
        ("ml", "മലയാളം", "malajaːɭam"),
        ("ur", "پاکستان", "pɑːkst̪ɑːn"),  # keheh read as k
        ("ur", "بھائی", "bʱɑːʔiː"),  # do-chashmi he: aspiration
        ("ar", "مَدْرَسَة", "madrasa"),  # short vowels from the marks, pausal ta marbuta
        ("ar", "الشَّمْس", "aʃːams"),  # sun-letter assimilation
        ("ar", "كتاب", "ktaːb"),  # unvocalized: consonants and long vowels only
        ("uk", "привіт", "prɪvit"),
    ],
)
def test_word_level_languages(lang, text, expected):
    assert to_ipa(text, lang) == expected


def test_vi_tones_scheme():
    assert to_ipa("mà má mả mã mạ ma", "vi", "ipa-tones") == "ma˨˩ ma˧˥ ma˧˩˧ ma˧ˀ˥ ma˨˩ˀ ma˧"


def test_registration():
    assert set(ISSUE_LANGS) <= ipa_languages()
    assert {"pl", "ru", "mr", "bn", "ta"} <= ipa_languages()
    assert resolve("ipa", "zh").name == "pinyin-ipa"
    assert resolve("ipa", "ja").name == "unidic-ipa"
    assert resolve("ipa", "hi").name == "epitran-hi"
    assert resolve("ipa", "hi", "epitran").name == "epitran-hi"
    assert all(b.kind == "ipa" and "ipa" in b.schemes for b in (resolve("ipa", lang) for lang in ISSUE_LANGS))


def test_import_is_cheap():
    code = (
        "import sys, scriptbridge.views.backends.ipa; "
        "print(sorted(m for m in ('epitran', 'pypinyin', 'fugashi', 'panphon') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the token form and robustness ---------------------------------------------------------------

WEIRD = [
    "",
    " ",
    "😀",
    "👩\u200d💻",
    "a\u0301\u0301",
    "\u200d",
    "\u0301",
    "x\ufe0f",
    "ABC",
    "，",
    "\ufffd",
    "\u202e",
]


@pytest.mark.parametrize("lang", ISSUE_LANGS)
def test_one_output_per_token_and_no_raise(lang):
    sample = {
        "zh": "银行",
        "ja": "今日",
        "ko": "국민",
        "vi": "Việt",
        "hi": "कमला",
        "ml": "മലയാളം",
        "ur": "اردو",
        "ar": "كتاب",
        "uk": "привіт",
    }[lang]
    tokens = [sample, *WEIRD, sample + "😀", "\u200d" + sample]
    out = to_ipa_tokens(tokens, lang)
    assert len(out) == len(tokens)
    assert all(isinstance(o, str) for o in out)
    assert out[1] == "" and out[2] == ""  # empty and blank tokens give empty strings
    assert all(isinstance(o, str) for o in to_ipa(tokens, lang))
    batch = to_ipa_tokens_batch([tokens, [], [""]], lang)
    assert [len(s) for s in batch] == [len(tokens), 0, 1]


def test_offline(monkeypatch):
    """No conversion may touch the network (epitran's Chinese/English backends would)."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # rebuild what is cached, so loading happens under the guard too
    ipa, ipa_ja = _mod("ipa"), _mod("ipa_ja")
    ipa._epitran.cache_clear()
    ipa._feature_table.cache_clear()
    ipa._word_ipa.cache_clear()
    ipa_ja._tagger.cache_clear()
    for lang in ISSUE_LANGS:
        assert to_ipa_tokens(["x"], lang)  # loads
    assert to_ipa("你好", "zh_Hant") == "ni˧˩˧ xɑʊ˧˩˧"
    assert to_ipa("привіт", "uk") == "prɪvit"
    assert to_ipa_tokens(["今日", "は"], "ja") == ["kʲoː", "wa"]
