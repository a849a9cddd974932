"""Colloquial and formal romanization of Indic scripts, Urdu and Arabic; CER/WER metrics.

Expectations are written by hand: they are how the words are commonly typed (colloquial) or
what the formal scheme prescribes.
"""

from __future__ import annotations

import pytest

from scriptbridge.evaluate.text_metrics import (
    ErrorCounts,
    _dp_levenshtein,
    cer,
    char_errors,
    closest_reference,
    corpus_cer,
    corpus_wer,
    levenshtein,
    normalize,
    wer,
)
from scriptbridge.views import default_scheme, list_backends, romanize

# --- Hindi colloquial -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("native", "typed"),
    [
        ("संदर्भ", "sandarbh"),  # final schwa deleted after a cluster
        ("कमरा", "kamra"),  # medial VC_CV deletion
        ("समझना", "samajhna"),  # right-to-left: the deletion of jh's a protects m's
        ("नमस्ते", "namaste"),
        ("भारत", "bharat"),
        ("हिंदी", "hindi"),  # anusvara before a dental, final long i short
        ("संबंध", "sambandh"),  # anusvara before a labial
        ("एवं", "evam"),  # Sanskrit final -am
        ("कार्य", "karya"),  # final cluster closed by y keeps its a
        ("राष्ट्रीय", "rashtriya"),
        ("ज्ञान", "gyaan"),
        ("क्षेत्र", "kshetra"),
        ("ज़िला", "zila"),  # nukta forms
        ("फ़िल्म", "film"),
        ("क़ानून", "kanun"),
        ("लड़का", "ladka"),
        ("लिए", "liye"),  # y glide before e
        ("न", "na"),  # a one-akshara word keeps its vowel
        ("दुःख", "duhkh"),
        ("उन्होंने", "unhone"),
    ],
)
def test_hindi_colloquial(native, typed):
    assert romanize(native, "hi", "colloquial") == typed


def test_hindi_sentence_and_default():
    assert default_scheme("romanize", "hi") == "colloquial"
    assert romanize("यह मेरा घर है। १२३", "hi") == "yah mera ghar hai. 123"
    # Marathi and Nepali share the script and the rules
    assert romanize("मराठी भाषा", "mr") == "marathi bhasha"


# --- Malayalam colloquial -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("native", "typed"),
    [
        ("അവൻ", "avan"),  # atomic chillu
        ("അവന്\u200d", "avan"),  # old-style chillu: consonant + virama + ZWJ
        ("അവള്\u200d", "aval"),
        ("കാൽ", "kaal"),
        ("അവർ", "avar"),
        ("ഇത്", "ithu"),  # samvruthokaram
        ("കണ്ണ്", "kannu"),
        ("ബസ്", "bas"),  # English loan: no u after s
        ("പ്രീസ്റ്റ്\u200cലി", "preestli"),  # ZWNJ: a visible virama, no vowel
        ("ഏറ്റവും", "ettavum"),  # റ്റ -> tt
        ("എന്റെ", "ente"),  # ന്റ -> nt
        ("പഴം", "pazham"),  # ഴ -> zh
        ("വെള്ളം", "vellam"),  # ള -> l
        ("പക്ഷി", "pakshi"),
        ("കോളേജിൽ ജോലി ചെയ്യുന്നു.", "kolejil joli cheyyunnu."),
    ],
)
def test_manglish(native, typed):
    assert romanize(native, "ml", "colloquial") == typed


def test_malayalam_default_is_colloquial():
    assert default_scheme("romanize", "ml") == "colloquial"


# --- formal schemes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "scheme", "expected"),
    [
        ("संदर्भ", "hi", "itrans", "saMdarbha"),
        ("संदर्भ", "hi", "iast", "saṃdarbha"),
        ("ज्ञान", "hi", "itrans", "j~nAna"),
        ("ज्ञान", "hi", "iast", "jñāna"),
        ("क्षेत्र", "hi", "hk", "kSetra"),
        ("भारत", "hi", "slp1", "BArata"),
        ("ऑफ़िस", "hi", "iast", "ofisa"),  # candra o read as o; decomposed nukta
        ("അവൻ", "ml", "iso", "avan"),  # chillu as consonant + virama
        ("മലയാളം", "ml", "iso", "malayāḷaṁ"),
        ("বাংলা", "bn", "iast", "bāṃlā"),  # ব is b in Bengali
        ("தமிழ் நாடு", "ta", "iast", "tamil̤ nāṭu"),  # Tamil stops stay voiceless
        ("ਪੰਜਾਬੀ ਭਾਸ਼ਾ", "pa", "iast", "paṃjābī bhāśā"),  # decomposed nukta recomposed
        ("ગુજરાતી", "gu", "itrans", "gujarAtI"),
        ("ಕನ್ನಡ", "kn", "iast", "kannaḍa"),
    ],
)
def test_formal_schemes(text, lang, scheme, expected):
    assert romanize(text, lang, scheme) == expected


def test_formal_detects_each_run_script():
    from scriptbridge.views.backends.indic import script_of

    # a Hindi text quoting a Malayalam word: each run converted from its own script
    assert romanize("भारत കേരളം", "hi", "iso") == "bhārata kēraḷaṁ"
    assert script_of("abc भारत") == "devanagari"
    assert script_of("hello") is None


# --- Urdu and Arabic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("native", "typed"),
    [
        ("میں نے کیا کہا؟", "mein ne kiya kaha?"),  # lexicon words, Urdu question mark
        ("بھی نہیں", "bhi nahi"),
        ("خانہ", "khana"),  # final h after a consonant is a
        ("پاکستان ۱۲۳", "pakistan 123"),  # Extended Arabic-Indic digits
        ("اِدارہ", "idara"),  # a written zer is used
        ("کتاب", "katab"),  # unwritten vowel guessed a (honestly wrong: kitab)
    ],
)
def test_roman_urdu(native, typed):
    assert romanize(native, "ur", "colloquial") == typed


@pytest.mark.parametrize(
    ("native", "arabizi", "plain"),
    [
        ("الرحلة", "arra7la", "arrahla"),  # sun-letter assimilation, 7 for haa
        ("عربي", "3arbi", "arbi"),
        ("أحمد", "a7mad", "ahmad"),
        ("سؤال", "sa2al", "saual"),
        ("الكتاب", "alkatab", "alkatab"),  # moon letter: al
        ("كِتَابٌ", "kitaabun", "kitaabun"),  # written vowels used
        ("قمر ١٢٣", "qamar 123", "qamar 123"),
    ],
)
def test_arabic(native, arabizi, plain):
    assert romanize(native, "ar", "arabizi") == arabizi
    assert romanize(native, "ar", "colloquial") == plain


def test_urdu_arabic_defaults():
    assert default_scheme("romanize", "ur") == "colloquial"
    assert default_scheme("romanize", "ar") == "arabizi"


# --- robustness: no input raises ------------------------------------------------------------

ODD_INPUTS = [
    "",
    "   ",
    "hello world",
    "123 ४५६ ൧൨",
    "\u093f\u094d",  # stray combining marks with no base
    "\u0d4d\u200d",
    "क\u200dष क\u200cष",  # ZWJ / ZWNJ inside a word
    "\u200c\u200d",
    "नमस्ते hello മലയാളം اردو 你好",  # mixed scripts
    "line one\n\nलाइन दो",
    "\ud800 broken surrogate",
    "ـــ",  # tatweel only
]


@pytest.mark.parametrize("text", ODD_INPUTS)
@pytest.mark.parametrize(
    ("lang", "scheme"),
    [
        ("hi", "colloquial"),
        ("ml", "colloquial"),
        ("hi", "itrans"),
        ("ml", "iast"),
        ("ta", "iso"),
        ("ur", "colloquial"),
        ("ar", "arabizi"),
        ("ar", "colloquial"),
    ],
)
def test_never_raises(text, lang, scheme):
    out = romanize(text, lang, scheme)
    assert isinstance(out, str)
    assert out.count("\n") == text.count("\n")


def test_latin_passes_through_and_batches():
    assert romanize(["hello", "", "भारत"], "hi") == ["hello", "", "bharat"]
    assert romanize("Email me at a.b@c.com", "ml") == "email me at a.b@c.com"


def test_registry_lists_the_schemes():
    schemes = {s for b in list_backends("romanize", "hi") for s in b.schemes}
    assert {"uroman", "colloquial", "itrans", "iast", "hk", "slp1", "iso"} <= schemes
    assert {"colloquial", "arabizi"} <= {s for b in list_backends("romanize", "ar") for s in b.schemes}


# --- metrics --------------------------------------------------------------------------------


def test_levenshtein_known_values():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein(["a", "b"], ["a", "c", "b"]) == 1
    for a, b in [("sandarbh", "sandarbha"), ("", ""), ("abc", "cba"), ("kamra", "kamara")]:
        assert levenshtein(a, b) == _dp_levenshtein(a, b)


def test_cer_wer_known_values():
    assert cer("sandarbh", "sandarbha") == pytest.approx(1 / 9)
    assert cer("Hai.", "hai") == 0.0  # lowercased, punctuation removed
    assert cer("Hai.", "hai", lowercase=False, strip_punct=False) == pytest.approx(2 / 3)
    assert wer("mera naam ravi hai", "mera nam ravi hai") == pytest.approx(1 / 4)
    assert wer("word,word", "word word") == 0.0
    assert cer("", "") == 0.0 and cer("x", "") == 1.0


def test_corpus_level_aggregation():
    hyps, refs = ["ab", "abcdefghij"], ["ax", "abcdefghij"]
    # sum of edits over sum of lengths (1/12), not the mean of per-sentence rates (0.25)
    assert corpus_cer(hyps, refs) == pytest.approx(1 / 12)
    assert corpus_wer(["a b", "c"], ["a x", "c"]) == pytest.approx(1 / 3)
    assert (ErrorCounts(1, 4) + ErrorCounts(1, 6)).rate == pytest.approx(0.2)
    with pytest.raises(ValueError):
        corpus_cer(["a"], [])


def test_normalize_and_closest_reference():
    assert normalize("  Kya   HAAL hai?! ") == "kya haal hai"
    assert closest_reference("sandarbh", ["sandarbha", "sandarbh", "sndrbh"]) == "sandarbh"
    assert char_errors("samjhna", "samajhna").edits == 1
