import pytest

from scriptbridge.views import detect, looks_romanized, scripts_of
from scriptbridge.views.langs import UnknownLanguageError, canonical, iso639_3, lang_script


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("नमस्ते दुनिया", "Deva"),
        ("سلام دنیا", "Arab"),
        ("ഇന്ന് കാലാവസ്ഥ", "Mlym"),
        ("今天天气很好", "Hani"),
        ("今日はとても良い天気です", "Jpan"),
        ("오늘 날씨", "Hang"),
        ("Сьогодні дуже", "Cyrl"),
        ("Hôm nay thời tiết", "Latn"),
        ("שלום", "Hebr"),
        ("สวัสดี", "Thai"),
    ],
)
def test_majority_script(text, script):
    assert detect(text).script == script


def test_digits_punctuation_and_marks_do_not_vote():
    assert scripts_of("123, !? ...") == {}
    assert detect("").script is None
    r = detect("नमस्ते 123 hello")
    assert r.scripts["Deva"] > r.scripts["Latn"] and r.mixed


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("mera naam Ravi hai aur main Delhi se hoon", "hi"),
        ("njan ninne kaanan vannu, nee evide aanu", "ml"),
        ("ana mesh 3aref leh enta keda", "ar"),
    ],
)
def test_romanized_guess(text, lang):
    r = detect(text)
    assert r.romanized in ({"hi", "ur"} if lang == "hi" else {lang})
    assert looks_romanized(text, lang)


@pytest.mark.parametrize("text", ["The cat sat on the mat.", "I have been to the market with my friends."])
def test_english_is_not_called_romanized(text):
    assert detect(text).romanized is None
    assert not looks_romanized(text, "hi")


def test_native_script_is_not_romanized():
    assert not looks_romanized("मेरा नाम रवि है", "hi")


def test_language_codes():
    assert canonical("hin") == "hi" and canonical("hin_Deva") == "hi" and canonical("Hindi") == "hi"
    assert lang_script("arb_Latn") == ("ar", "Latn")
    assert iso639_3("hi") == "hin" and iso639_3("zho_Hans") == "zho"
    with pytest.raises(UnknownLanguageError):
        canonical("not a language")
