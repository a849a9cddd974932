"""Unicode hygiene shared by every view backend: no exception on any input, shapes preserved.

The hypothesis tests draw random Unicode (any category, surrogates excluded by
hypothesis, combining marks, joiners, newlines) and run it through every
available backend for a language it supports. A backend that raises is caught
by the API's guard, so the tests also record the guard's fallbacks and require
none: the backends themselves must be robust.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriptbridge.views import api, list_backends, romanize, to_ipa, to_ipa_tokens

# one representative language per backend that supports "any" language
_ANY_LANG = "hi"
_JOINERS = "\u200c\u200d\u00a0\u2581\ufeff\u0301\u094d\u0d4d"
_SAMPLES = "नमस्ते دنیا ഇന്ന് 今日天气 ありがとう 한국어 Україна Tiếng Việt ١٢٣ 123 😀 "

text_strategy = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)), st.sampled_from(_JOINERS + _SAMPLES + "\n")
    ),
    max_size=40,
)


def _cases(kind):
    out = []
    for b in list_backends(kind):
        if not b.available():
            continue
        langs = sorted(b.languages) if b.languages is not None else [_ANY_LANG]
        out.extend(pytest.param(b.name, lang, id=f"{b.name}-{lang}") for lang in langs[:3])
    return out


@pytest.fixture
def no_fallback(monkeypatch):
    calls = []
    real = api._fallback

    def spy(backend, text, lang, err):
        calls.append((backend.name, text, repr(err)))
        return real(backend, text, lang, err)

    monkeypatch.setattr(api, "_fallback", spy)
    return calls


@pytest.mark.parametrize(("name", "lang"), _cases("romanize"))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(text_strategy, max_size=4))
def test_romanize_never_raises_and_keeps_shape(name, lang, texts, no_fallback):
    out = romanize(texts, lang, name)
    assert len(out) == len(texts)
    for t, o in zip(texts, out, strict=True):
        assert isinstance(o, str)
        assert o.count("\n") == t.count("\n"), "line structure must survive"
        if not t.strip():
            assert o == api.nfc(t), "blank texts come back unchanged"
    assert no_fallback == [], f"backend {name} raised on input: {no_fallback[:1]}"


@pytest.mark.parametrize(("name", "lang"), _cases("ipa"))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(text_strategy, max_size=3), tokens=st.lists(text_strategy, max_size=5))
def test_ipa_never_raises_and_keeps_shape(name, lang, texts, tokens, no_fallback):
    out = to_ipa(texts, lang, name)
    assert len(out) == len(texts)
    assert all(o.count("\n") == t.count("\n") for t, o in zip(texts, out, strict=True))
    tok = to_ipa_tokens(tokens, lang, name)
    assert len(tok) == len(tokens)
    assert all(o == "" for t, o in zip(tokens, tok, strict=True) if not t.strip())
    assert no_fallback == [], f"backend {name} raised on input: {no_fallback[:1]}"


def test_nfc_and_joiners_are_kept():
    decomposed = "e\u0301"  # é decomposed
    assert api.nfc(decomposed) == "\u00e9"
    # ZWJ/ZWNJ survive normalization: in Malayalam and Devanagari they select another rendering
    assert "\u200d" in api.nfc("ന\u0d4d\u200d") and "\u200c" in api.nfc("क\u094d\u200cष")


def test_single_string_and_empty_inputs():
    assert romanize("", "hi", "uroman") == ""
    assert romanize([], "hi", "uroman") == []
    assert romanize(["", "  ", "\n"], "hi", "uroman") == ["", "  ", "\n"]
    assert isinstance(romanize("नमस्ते", "hi", "uroman"), str)


def test_unknown_scheme_lists_the_known_ones():
    from scriptbridge.views import ViewError

    with pytest.raises(ViewError, match="available for 'hi'"):
        romanize("नमस्ते", "hi", "no-such-scheme")
