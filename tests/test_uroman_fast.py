"""The fast ``uroman`` scheme must give exactly the uroman package's output."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

uroman = pytest.importorskip("uroman")

from scriptbridge.views.fast_uroman import FastUroman  # noqa: E402
from scriptbridge.views.fast_uroman.tables import F_ONLY_END, Tables, _Builder, _slots, data_dir  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# (text, ISO 639-3 code) -- a little of every path: abugidas with viramas, nuktas and
# chillus, Arabic script, Cyrillic with language-specific rules, CJK (pinyin, numerals),
# kana (small tsu/ya, long vowel mark), Hangul, Thai and Tibetan (handed to uroman),
# numbers in several digit sets, punctuation runs, mixed scripts, odd spacing.
SAMPLES = [
    ("यह एक अच्छा अनुवाद है.", "hin"),
    ("नमस्ते दुनिया, क़िला ज़रूर फ़िल्म ड़ ढ़!", "hin"),
    ("संस्कृतम् भाषा", "san"),
    ("१२३ और १२,३४५.६ रुपये; 2019 में -5", "hin"),
    ("یہ ایک اچھا ترجمہ ہے۔", "urd"),
    ("پاکستان کا دارالحکومت اسلام آباد ہے", "urd"),
    ("കേരളം ഇന്ത്യയിലെ ഒരു സംസ്ഥാനമാണ്", "mal"),
    ("ألاسكا هي أكبر ولاية", "ara"),
    ("Зеленський Київ щастя", "ukr"),
    ("Игорь живёт в Москве", "rus"),
    ("Игорь", None),
    ("我们今天去北京。二〇二四年 三千五百 十一", "zho"),
    ("ちょっとまってください、コーヒー", "jpn"),
    ("서울 안녕하세요", "kor"),
    ("สวัสดีครับ ศักดิ์สิทธิ์", "tha"),
    ("བོད་ཡིག", "bod"),
    ("Μπανγκαλόρ Αθήνα", "ell"),
    ("Բարեւ ձեզ", "hye"),
    ("ਪੰਜਾਬੀ ਪੱਕਾ", "pan"),
    ("বাংলা ভাষা", "ben"),
    ("தமிழ் மொழி", "tam"),
    ("12,345.6 and 3.14.15 ½ 23½ ²", "eng"),
    ("THessalonike DON'T ſtop Straße Ærø", "eng"),
    ("", "hin"),
    ("   ", "hin"),
    ("a  b   c ,, ; . d", None),
    ("mixed हिंदी and English, اردو too", "hin"),
    ("\u200cज़\u200d क\u094d\u200dष", "hin"),
    ("ﻼ ﷲ ｆｕｌｌ ①", None),
    ("line one\nline two. three", "hin"),
]


@pytest.fixture(scope="session")
def real():
    """The uroman package with its cache on: the reference (loading it costs ~3 s, once)."""
    return uroman.Uroman(cache_size=65536)


@pytest.fixture(scope="session")
def fast(real, tmp_path_factory):
    # tables built from scratch into a private folder (the cold path; ~0.5 s), and the
    # session's uroman as the fallback: one uroman load per session, not two
    return FastUroman(tables=Tables(root=tmp_path_factory.mktemp("uroman-tables")), fallback=real)


@pytest.mark.parametrize("text,lcode", SAMPLES)
def test_identical_to_uroman(real, fast, text, lcode):
    text = unicodedata.normalize("NFC", text)
    assert fast.romanize(text, lcode) == real.romanize_string(text, lcode=lcode)


def test_each_piece_alone_and_repeated(real, fast):
    # the second call comes from the caches and must not differ
    for text, lcode in SAMPLES:
        for word in text.split():
            assert fast.romanize(word, lcode) == real.romanize_string(word, lcode=lcode)
            assert fast.romanize(word, lcode) == real.romanize_string(word, lcode=lcode)


def test_lcode_changes_output_and_cache_key(fast, real):
    # Devanagari keeps final schwas for Sanskrit only: the cache must keep languages apart
    assert fast.romanize("कमल", "hin") == real.romanize_string("कमल", lcode="hin")
    assert fast.romanize("कमल", "san") == real.romanize_string("कमल", lcode="san")
    assert fast.romanize("कमल", "hin") != fast.romanize("कमल", "san")


def test_unported_parts_go_to_uroman(real, fast):
    f = FastUroman(tables=fast.tables, fallback=real)
    assert f.romanize("สวัสดี", "tha") == real.romanize_string("สวัสดี", lcode="tha")
    assert f.n_fallback == 1
    assert f.romanize("नमस्ते", "hin") == real.romanize_string("नमस्ते", lcode="hin")
    assert f.n_simple == 1


def test_slot_parser_matches_uroman():
    line = "::s ड़ ::t dd ::t-alt r ::comment x ::s2 ::cost 0.3 ::name A ::name B\n"
    sl = _slots(line)
    for slot in ("s", "t", "t-alt", "comment", "s2", "cost", "name", "missing"):
        assert sl.get(slot) == uroman.uroman.slot_value_in_double_colon_del_list(line, slot)


def test_tables_match_uroman_for_sample_scripts(real, fast):
    # the rules of every key whose first character occurs in the samples
    t: Tables = fast.tables
    chars = {c for text, _ in SAMPLES for c in unicodedata.normalize("NFC", text)}
    t.ensure("".join(chars))
    for key, rules in real.rom_rules.items():
        if not key or not rules or key[0] not in chars:  # "" is never looked up
            continue
        want = [(r["t"], r["n-restr"] or 0, r["lcodes"] or None, r["t-at-end-of-syllable"]) for r in rules]
        got = [(r[0], r[1], r[2], r[4]) for r in t.rules[key]]
        assert got == want, key
        only_end = [bool(r["use-only-at-end-of-word"]) for r in rules]
        assert [bool(r[3] & F_ONLY_END) for r in t.rules[key]] == only_end, key
    for c in chars:
        info = t.chars.get(c)
        assert (info[0] if info else "") == real.chr_script_name(c), c


@pytest.mark.slow
def test_all_tables_match_uroman(real, tmp_path):
    """Every rule, script property and numeral of the full build equals uroman's own tables."""
    b = _Builder(data_dir())
    b.build(full=True)
    for key, rules in real.rom_rules.items():
        if key and rules:  # "" is never looked up
            assert [(r["t"], r["n-restr"] or 0, r["lcodes"] or None) for r in rules] == [
                (r[0], r[1], r[2]) for r in b.rules[key]
            ], key
    assert {k for k, v in b.rules.items() if k and v} == {k for k, v in real.rom_rules.items() if k and v}
    for (kind, c), v in real.dict_str.items():
        if kind == "script":
            assert b.script_of.get(c) == v, c
    assert set(b.minus) == set(real.minus_signs) and set(b.plus) == set(real.plus_signs)
    assert set(b.fraction_connectors) == set(real.fraction_connectors)
    assert {k: v for k, v in b.num_props.items()} == dict(real.num_props)


@pytest.mark.slow
def test_dakshina_hindi_dev_identical(real, fast):
    path = DATA / "dakshina" / "hi" / "hi.romanized.rejoined.dev.native.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    lines = [unicodedata.normalize("NFC", x) for x in path.read_text(encoding="utf-8").splitlines()]
    bad = [x for x in lines if fast.romanize(x, "hin") != real.romanize_string(x, lcode="hin")]
    assert not bad, bad[:5]


def test_forked_batch_matches_serial(monkeypatch, real):
    """Large batches are split with a forked worker; the output must not change."""
    from scriptbridge.views.backends import uroman_backend

    words = [unicodedata.normalize("NFC", s) for s, _ in SAMPLES if s.strip()]
    texts = [f"{w} {i}" for i in range(30) for w in words]  # distinct, none cached yet
    expected = [real.romanize_string(t, lcode="hin") for t in texts]
    assert uroman_backend._romanize_parallel(texts, "hin") == expected
    # and through the backend, with the threshold lowered so the fork path is taken where allowed
    monkeypatch.setattr(uroman_backend, "PARALLEL_MIN_TEXTS", 10)
    convert = uroman_backend._load()
    assert convert([t + "!" for t in texts], "hi") == [
        real.romanize_string(t + "!", lcode="hin") for t in texts
    ]
