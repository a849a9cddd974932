"""Translation providers for the teacher-student method: given translations, a word-by-word dictionary,
a Hugging Face seq2seq model (a tiny random BART built on the fly, offline), the on-disk cache and
recipe parsing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from scriptbridge.views.translate import (
    CachedTranslator,
    DictionaryTranslator,
    GivenTranslations,
    HFTranslator,
    TranslationError,
    Translator,
    build_translator,
)


def write_dict(tmp_path: Path, text: str = "the\tयह\nthe\tवह\ncat\tबिल्ली\nsat\tबैठी\non\tपर\n", name="d.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sbcache"
    monkeypatch.setenv("SCRIPTBRIDGE_CACHE", str(root))
    return root


# -------------------------------------------------------------------------------------------------------
# dictionary


def test_dictionary_first_translation_wins_and_punctuation_spacing(tmp_path: Path) -> None:
    d = DictionaryTranslator(write_dict(tmp_path))
    assert d.translate(["The cat sat on the mat."]) == ["यह बिल्ली बैठी पर यह mat."]
    assert d.translate(["(the cat) , sat!  on ; the: cat?"]) == ["(यह बिल्ली), बैठी! पर; यह: बिल्ली?"]
    assert isinstance(d, Translator)
    assert d.name == "dictionary:d.txt"


def test_dictionary_numbers_apostrophes_and_unknown(tmp_path: Path) -> None:
    d = DictionaryTranslator(write_dict(tmp_path, "don't\tमत\ncat\tबिल्ली\n"))
    assert d.translate(["Don't feed 3.5 cats, 1,000 times"]) == ["मत feed 3.5 cats, 1,000 times"]
    assert d.last_coverage == pytest.approx(1 / 4)  # numbers are not word tokens
    assert d.last_unknown == {"feed": 1, "cats": 1, "times": 1}
    drop = DictionaryTranslator(write_dict(tmp_path, "don't\tमत\ncat\tबिल्ली\n"), keep_unknown=False)
    assert drop.translate(["Don't feed the cat!", "zzz"]) == ["मत बिल्ली!", ""]
    assert drop.last_coverage == pytest.approx(2 / 5)


def test_dictionary_coverage_and_lowercase(tmp_path: Path) -> None:
    path = write_dict(tmp_path, "Cat\tबिल्ली\nsat\tबैठी\n")
    d = DictionaryTranslator(path)
    assert d.last_coverage is None
    assert d.translate(["CAT sat", "dog"]) == ["बिल्ली बैठी", "dog"]
    assert d.last_coverage == pytest.approx(2 / 3)
    assert d.translate(["..."]) == ["..."]
    assert d.last_coverage == 1.0  # no words at all: nothing missing
    exact = DictionaryTranslator(path, lowercase=False)
    assert exact.translate(["Cat cat sat"]) == ["बिल्ली cat बैठी"]
    assert exact.last_coverage == pytest.approx(2 / 3)


def test_dictionary_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_dict(tmp_path, "cat\tबिल्ली\n\nlonely\nsat\tबैठी\n")
    with pytest.raises(TranslationError, match=r"d\.txt:3: expected 'source<TAB>target'.*'lonely'"):
        DictionaryTranslator(path)
    with pytest.raises(TranslationError, match="no such file"):
        DictionaryTranslator(tmp_path / "missing.txt")


def test_dictionary_bom_and_space_separator(tmp_path: Path) -> None:
    p = tmp_path / "zh.txt"
    p.write_bytes("\ufeffcat 猫\ncat 貓\ndog  狗\n".encode())
    d = DictionaryTranslator(p)
    assert d.entries == {"cat": "猫", "dog": "狗"}
    assert d.translate(["cat dog"]) == ["猫 狗"]


def test_dictionary_unicode_words_keep_marks(tmp_path: Path) -> None:
    d = DictionaryTranslator(write_dict(tmp_path, "बिल्ली\tcat\nहिंदी\thindi\n"))
    assert d.translate(["हिंदी बिल्ली।"]) == ["hindi cat।"]
    assert d.last_coverage == 1.0


def test_dictionary_fingerprint_follows_the_file(tmp_path: Path) -> None:
    path = write_dict(tmp_path)
    d = DictionaryTranslator(path)
    fp = d.fingerprint()
    assert fp == DictionaryTranslator(path).fingerprint()
    assert fp != DictionaryTranslator(path, keep_unknown=False).fingerprint()
    path.write_text("cat\tमार्जार\n", encoding="utf-8")
    assert d.fingerprint() != fp
    assert d.translate(["cat"]) == ["मार्जार"]


# -------------------------------------------------------------------------------------------------------
# given


def test_given_list_by_order_and_count_mismatch() -> None:
    g = GivenTranslations(["एक", "दो"])
    assert g.translate(["one", "two"]) == ["एक", "दो"]
    with pytest.raises(TranslationError, match=r"3 texts to translate but 2 translations"):
        g.translate(["one", "two", "three"])
    assert isinstance(g, Translator)


def test_given_lookup_by_source_text() -> None:
    g = GivenTranslations(["एक", "दो"], source_texts=["one", "two"])
    assert g.translate(["two", "one", "two"]) == ["दो", "एक", "दो"]
    with pytest.raises(TranslationError, match=r"no translation for text 1 \('three'\)"):
        g.translate(["one", "three", "four"])
    with pytest.raises(TranslationError, match="1 source texts for 2 translations"):
        GivenTranslations(["एक", "दो"], source_texts=["one"])


def test_given_from_tsv_column_and_line_file(tmp_path: Path) -> None:
    tsv = tmp_path / "train.tsv"
    tsv.write_text("text\ttext_hi\nthe cat\tबिल्ली\na dog\tकुत्ता\n", encoding="utf-8")
    g = GivenTranslations(path=str(tsv), column="text_hi")
    assert g.translate(["x", "y"]) == ["बिल्ली", "कुत्ता"]
    assert g.name == "file:train.tsv[text_hi]"
    with pytest.raises(TranslationError, match="no column 'hi'"):
        GivenTranslations(path=str(tsv), column="hi")
    lines = tmp_path / "hi.txt"
    lines.write_text("बिल्ली\nकुत्ता\n", encoding="utf-8")
    g2 = GivenTranslations(path=str(lines))
    assert g2.name == "file:hi.txt"
    assert g2.translate(["the cat", "a dog"]) == ["बिल्ली", "कुत्ता"]
    with pytest.raises(TranslationError, match="2 translations"):
        g2.translate(["only one"])


# -------------------------------------------------------------------------------------------------------
# cache


class CountingFake:
    def __init__(self, version: str = "1") -> None:
        self.name = "fake"
        self.version = version
        self.calls: list[list[str]] = []

    def fingerprint(self) -> str:
        return f"fake:{self.version}"

    def translate(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [f"<{t}>{self.version}" for t in texts]


def test_cache_hits_and_only_misses_reach_inner(_isolated_cache: Path) -> None:
    fake = CountingFake()
    c = CachedTranslator(fake)
    assert c.translate(["a", "b", "a"]) == ["<a>1", "<b>1", "<a>1"]
    assert fake.calls == [["a", "b"]]  # deduplicated, order kept
    assert (c.hits, c.misses) == (0, 2)
    assert c.cache_path().parent == _isolated_cache / "translations"
    assert c.translate(["b", "c", "a", "c"]) == ["<b>1", "<c>1", "<a>1", "<c>1"]
    assert fake.calls[-1] == ["c"]
    assert (c.hits, c.misses) == (2, 1)
    # a fresh wrapper (a new run) reads the file
    fake2 = CountingFake()
    c2 = CachedTranslator(fake2)
    assert c2.translate(["a", "b", "c"]) == ["<a>1", "<b>1", "<c>1"]
    assert fake2.calls == []
    assert (c2.hits, c2.misses) == (3, 0)
    rows = [json.loads(line) for line in c2.cache_path().read_text(encoding="utf-8").splitlines()]
    assert rows == [{"src": "a", "tgt": "<a>1"}, {"src": "b", "tgt": "<b>1"}, {"src": "c", "tgt": "<c>1"}]


def test_cache_fingerprint_change_uses_a_new_file(tmp_path: Path) -> None:
    fake = CountingFake("1")
    c = CachedTranslator(fake, cache_root=tmp_path / "cr")
    c.translate(["a"])
    first = c.cache_path()
    assert first.parent == tmp_path / "cr" and first.exists()
    fake.version = "2"
    assert c.cache_path() != first
    assert c.translate(["a"]) == ["<a>2"]
    assert (c.hits, c.misses) == (0, 1)
    assert len(list((tmp_path / "cr").glob("*.jsonl"))) == 2


def test_cache_tolerates_truncated_last_line(tmp_path: Path) -> None:
    fake = CountingFake()
    c = CachedTranslator(fake, cache_root=tmp_path)
    c.translate(["a", "b"])
    path = c.cache_path()
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"src": "c", "tg')  # a crash mid-write
    fake2 = CountingFake()
    c2 = CachedTranslator(fake2, cache_root=tmp_path)
    assert c2.translate(["a", "c", "b"]) == ["<a>1", "<c>1", "<b>1"]
    assert fake2.calls == [["c"]]
    # the entry appended after the broken line is readable
    c3 = CachedTranslator(CountingFake(), cache_root=tmp_path)
    c3.translate(["a", "b", "c"])
    assert (c3.hits, c3.misses) == (3, 0)


def test_cache_unicode_and_wrong_count(tmp_path: Path) -> None:
    class Broken(CountingFake):
        def translate(self, texts: Sequence[str]) -> list[str]:
            return ["x"]

    with pytest.raises(TranslationError, match="returned 1 translations for 2 texts"):
        CachedTranslator(Broken(), cache_root=tmp_path).translate(["a", "b"])
    c = CachedTranslator(CountingFake(), cache_root=tmp_path)
    texts = ["नमस्ते\nदुनिया", 'quote " and \\ back']
    assert c.translate(texts) == [f"<{t}>1" for t in texts]
    c2 = CachedTranslator(CountingFake(), cache_root=tmp_path)
    assert c2.translate(texts) == [f"<{t}>1" for t in texts] and c2.hits == 2


# -------------------------------------------------------------------------------------------------------
# build_translator


def test_build_each_provider(tmp_path: Path, _isolated_cache: Path) -> None:
    assert build_translator({"provider": "none"}) is None
    write_dict(tmp_path, name="en-hi.txt")
    t = build_translator({"provider": "dictionary", "path": "en-hi.txt"}, base_dir=tmp_path)
    assert isinstance(t, CachedTranslator) and isinstance(t.inner, DictionaryTranslator)
    assert t.inner.path == tmp_path / "en-hi.txt"
    assert t.translate(["the cat"]) == ["यह बिल्ली"]
    assert t.cache_path().parent == _isolated_cache / "translations"
    raw = build_translator({"provider": "dictionary", "path": str(tmp_path / "en-hi.txt"), "cache": False})
    assert isinstance(raw, DictionaryTranslator)

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.csv").write_text("text,hi\none,एक\ntwo,दो\n", encoding="utf-8")
    g = build_translator(
        {"provider": "given", "path": "sub/t.csv", "column": "hi", "source_column": "text"}, base_dir=tmp_path
    )
    assert isinstance(g, GivenTranslations)  # never cached
    assert g.translate(["two", "one"]) == ["दो", "एक"]
    assert build_translator({"provider": "given", "translations": ["a"]}).translate(["x"]) == ["a"]

    h = build_translator(
        {"provider": "hf", "model": "org/some-model", "tgt_lang": "hin_Deva", "batch_size": 4, "cache": False}
    )
    assert isinstance(h, HFTranslator) and h.batch_size == 4 and h.tgt_lang == "hin_Deva"
    (tmp_path / "mt").mkdir()
    h2 = build_translator({"provider": "hf", "model": "mt"}, base_dir=tmp_path)
    assert isinstance(h2, CachedTranslator) and isinstance(h2.inner, HFTranslator)
    assert h2.inner.local_path == tmp_path / "mt"


def test_build_errors(tmp_path: Path) -> None:
    with pytest.raises(TranslationError, match=r"unknown key 'colum'.*allowed keys: provider, path"):
        build_translator({"provider": "dictionary", "path": "x.txt", "colum": "a"})
    with pytest.raises(TranslationError, match=r"needs the key 'model'.*allowed keys"):
        build_translator({"provider": "hf"})
    with pytest.raises(TranslationError, match=r"missing key 'provider'"):
        build_translator({"path": "x"})
    with pytest.raises(TranslationError, match=r"unknown provider 'google'.*none, given, dictionary, hf"):
        build_translator({"provider": "google"})
    with pytest.raises(TranslationError, match="'batch_size' must be a positive integer"):
        build_translator({"provider": "hf", "model": "a/b", "batch_size": 0})
    with pytest.raises(TranslationError, match="no such file"):
        build_translator({"provider": "dictionary", "path": "nope.txt"}, base_dir=tmp_path)
    with pytest.raises(TranslationError, match="exactly one of the keys 'path'"):
        build_translator({"provider": "given"})


# -------------------------------------------------------------------------------------------------------
# Hugging Face seq2seq (a tiny random BART, built offline)

MT_CORPUS = [
    "the cat sat on the mat",
    "a dog runs in the park",
    "i like green tea",
    "where is the train station",
    "यह एक किताब है",
    "मुझे चाय पसंद है",
    "hin_Deva",
]


@pytest.fixture(scope="module")
def tiny_mt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-mt")
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["<pad>", "<s>", "</s>", "<unk>"], show_progress=False)
    tok.train_from_iterator(MT_CORPUS, trainer=trainer)
    tok.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 2)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        init_std=0.5,
    )
    model = BartForConditionalGeneration(config).eval()
    with torch.no_grad():  # random weights say </s> at once; make them say words, input-dependent ones
        model.final_logits_bias[0, :4] = -100.0
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    return folder


def test_hf_translates_deterministically_in_order(tiny_mt_dir: Path) -> None:
    t = HFTranslator(str(tiny_mt_dir), device="cpu", batch_size=2, max_length=8, progress=False)
    assert t.name == f"hf:{tiny_mt_dir.name}"
    assert isinstance(t, Translator)
    texts = ["the cat sat on the mat", "tea", "", "a dog runs in the park where is the train station"]
    out = t.translate(texts)
    assert len(out) == 4 and all(isinstance(s, str) for s in out)
    assert out[2] == ""
    assert all(out[i] for i in (0, 1, 3)) and len({out[0], out[1], out[3]}) > 1  # words, input-dependent
    assert t.translate(texts) == out
    # each text's translation does not depend on its batch neighbours or position
    singles = [t.translate([x])[0] for x in texts]
    assert singles == out
    assert t.translate(list(reversed(texts))) == list(reversed(out))


def test_hf_forced_bos_and_fingerprint(tiny_mt_dir: Path) -> None:
    t = HFTranslator(str(tiny_mt_dir), tgt_lang="hin_Deva", device="cpu", max_length=5, progress=False)
    fp_before = t.fingerprint()
    out = t.translate(["the cat", "i like green tea"])
    assert all(s.split()[0] == "hin_Deva" for s in out)
    assert t.fingerprint() == fp_before
    assert fp_before != HFTranslator(str(tiny_mt_dir), max_length=5).fingerprint()
    with pytest.raises(TranslationError, match="tgt_lang='xx_Zzzz' is not a language token"):
        HFTranslator(str(tiny_mt_dir), tgt_lang="xx_Zzzz", device="cpu").translate(["the cat"])
    with pytest.raises(TranslationError, match="no source language setting"):
        HFTranslator(str(tiny_mt_dir), src_lang="eng_Latn", device="cpu").translate(["the cat"])


def test_hf_cached_with_progress(tiny_mt_dir: Path, tmp_path: Path) -> None:
    inner = HFTranslator(str(tiny_mt_dir), device="cpu", batch_size=1, max_length=4)
    c = CachedTranslator(inner, cache_root=tmp_path)
    out = c.translate(["the cat", "a dog", "the cat"])  # two batches: the progress bar runs on stderr
    assert c.misses == 2 and out[0] == out[2]
    assert c.translate(["a dog", "the cat"]) == [out[1], out[0]] and c.hits == 2


def test_hf_missing_hub_model_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    t = HFTranslator("nobody-here/opus-mt-en-xx", device="cpu")
    start = time.monotonic()
    with pytest.raises(
        TranslationError, match=r"huggingface-cli download nobody-here/opus-mt-en-xx --local-dir"
    ):
        t.translate(["hello"])
    assert time.monotonic() - start < 10
    with pytest.raises(TranslationError, match="no such model folder"):
        HFTranslator("./not/a/folder").translate(["hello"])
    bad = tmp_path / "empty-model"
    bad.mkdir()
    with pytest.raises(TranslationError, match="could not load the model in"):
        HFTranslator(str(bad)).translate(["hello"])
