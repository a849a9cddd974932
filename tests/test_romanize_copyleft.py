"""The optional copyleft backends: reached only by name, helpful error when not installed.

The conversions themselves are tested only where the package is installed
(``pip install 'scriptbridge[copyleft]'``); the default suite passes without them.
"""

from __future__ import annotations

import pytest

from scriptbridge.views import ViewError, list_backends, resolve, romanize

_COPYLEFT = (
    "aksharamukha",
    "aksharamukha-readable",
    "aksharamukha-colloquial",
    "pykakasi",
    "korean-romanizer",
)


def _backend(name):
    return next(b for b in list_backends("romanize") if b.name == name)


@pytest.mark.parametrize("name", _COPYLEFT)
def test_registered_behind_the_extra(name):
    b = _backend(name)
    assert b.extra == "copyleft"
    assert "GPL" in b.license
    assert b.modules


@pytest.mark.parametrize(
    ("lang", "scheme"),
    [("ja", None), ("ja", "hepburn"), ("ko", None), ("ko", "rr"), ("hi", None), ("ur", None)],
)
def test_never_chosen_unless_named(lang, scheme):
    assert resolve("romanize", lang, scheme).extra is None


@pytest.mark.parametrize(
    ("name", "lang", "text"),
    [("aksharamukha", "hi", "नमस्ते"), ("pykakasi", "ja", "今日"), ("korean-romanizer", "ko", "한국")],
)
def test_missing_package_gives_install_hint(monkeypatch, name, lang, text):
    b = _backend(name)
    monkeypatch.setattr(b, "modules", ("scriptbridge_no_such_module",))
    monkeypatch.setattr(b, "_fn", None)  # forget a converter loaded by an earlier test
    with pytest.raises(ViewError, match=r"pip install 'scriptbridge\[copyleft\]'"):
        romanize(text, lang, name)


def test_missing_package_hint_when_available_is_false(monkeypatch):
    b = _backend("pykakasi")
    monkeypatch.setattr(type(b), "available", lambda self: False)
    monkeypatch.setattr(b, "_fn", None)
    with pytest.raises(ViewError, match="copyleft"):
        b.converter()


def test_aksharamukha():
    pytest.importorskip("aksharamukha")
    assert romanize("नमस्ते दुनिया", "hi", "aksharamukha") == "namastē duniyā"
    assert romanize("नमस्ते दुनिया", "hi", "aksharamukha-readable") == "namaste duniyaa"
    assert romanize("नमस्ते दुनिया", "hi", "aksharamukha-colloquial") == "namaste duniya"
    assert romanize("മലയാളം", "ml", "aksharamukha-colloquial") == "malayalam"
    assert romanize(["தமிழ்", ""], "ta", "aksharamukha") == ["tamiḻ", ""]
    assert romanize("नमस्ते 😀 abc 123", "hi", "aksharamukha-colloquial") == "namaste 😀 abc 123"


def test_pykakasi():
    pytest.importorskip("pykakasi")
    out = romanize("東京に行きました", "ja", "pykakasi")
    assert out.startswith("toukyou ni iki")
    # other text survives (pykakasi alone garbles emoji)
    assert romanize("東京 ABC 😀", "ja", "pykakasi") == "toukyou ABC 😀"


def test_korean_romanizer():
    pytest.importorskip("korean_romanizer")
    assert romanize("한국", "ko", "korean-romanizer") == "hanguk"
    assert romanize("서울 😀", "ko", "korean-romanizer") == "seoul 😀"


def test_aksharamukha_urdu_leaves_no_arabic_letters():
    pytest.importorskip("aksharamukha")
    out = romanize("میرا نام رضا ہے", "ur", "aksharamukha-colloquial")
    assert out.isascii(), out
