"""Bilingual dictionaries (MUSE, PhoneXL, bridged through English) and dictionary code-switching."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scriptbridge.views.code_switch import (
    BilingualDictionary,
    DictionaryError,
    bridge,
    code_switch,
    code_switch_corpus,
    load_dictionary,
    read_muse_dictionary,
    read_phonexl_dictionary,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def muse_dir(tmp_path: Path) -> Path:
    """zh-en with spaces (as MUSE's zh-en files are), en-vi with tabs, as in the real MUSE folder."""
    folder = tmp_path / "muse"
    folder.mkdir()
    write(folder / "zh-en.0-5000.txt", "月 moon\n月 month\n月 months\n電子 electronic\n這 this\n")
    write(
        folder / "en-vi.0-5000.txt",
        "moon\ttrăng\nmoon\tnguyệt\nmonth\ttháng\nmonth\tnguyệt\nmonths\ttháng\n"
        "electronic\tđiện tử\nthis\tnày\n",
    )
    write(folder / "zh-en.5000-6500.txt", "貓 cat\n")
    write(folder / "en-vi.5000-6500.txt", "cat\tmèo\n")
    return folder


def toy_dictionary() -> BilingualDictionary:
    return BilingualDictionary(
        "zh",
        "vi",
        {"我": ["tôi"], "喜歡": ["thích", "yêu"], "電子": ["điện tử"], "中": ["trung", "中"]},
        tgt_ipa={"tôi": "toj", "thích": "tʰik"},
        source="toy",
    )


# ----------------------------------------------------------------------------------------------------------
# reading


def test_muse_reader_takes_tabs_and_spaces_keeps_order_and_drops_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "en-vi.txt", "\ufeffmonth\ttháng\nmonth   nguyệt\nmonth\ttháng\n\nmoon trăng\n")
    d = read_muse_dictionary(path, "en", "vi")
    assert d.entries == {"month": ["tháng", "nguyệt"], "moon": ["trăng"]}
    assert len(d) == 2
    assert (d.src_lang, d.tgt_lang) == ("en", "vi")


def test_muse_reader_names_file_and_line_of_a_malformed_line(tmp_path: Path) -> None:
    path = write(tmp_path / "en-vi.txt", "month\ttháng\nlonely\n")
    with pytest.raises(DictionaryError, match=r"en-vi\.txt:2: expected 'source<TAB>target'.*fix or delete"):
        read_muse_dictionary(path, "en", "vi")


def test_muse_reader_points_a_phonexl_file_to_the_phonexl_spec(tmp_path: Path) -> None:
    path = write(tmp_path / "zh-vi-dict.txt", "月\tɥɛ˥˩\ttháng\ttʰaŋ\n")
    with pytest.raises(DictionaryError, match=r"zh-vi-dict\.txt:1: 4 tab-separated fields.*phonexl:PATH"):
        load_dictionary(str(path))


def test_readers_report_bad_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "en-vi.txt"
    path.write_bytes(b"month\tth\xc3\xa1ng\nmoon\ttr\xff\n")
    with pytest.raises(DictionaryError, match=r"en-vi\.txt:2: not valid UTF-8"):
        read_muse_dictionary(path, "en", "vi")
    with pytest.raises(DictionaryError, match="no such file"):
        read_muse_dictionary(tmp_path / "absent.txt", "en", "vi")
    with pytest.raises(DictionaryError, match="empty"):
        read_muse_dictionary(write(tmp_path / "blank.txt", "\n\n"), "en", "vi")


def test_phonexl_reader_fills_ipa_on_both_sides(tmp_path: Path) -> None:
    path = write(
        tmp_path / "zh-vi-dict.txt",
        "月\tɥɛ˥˩\ttháng\ttʰaŋ\n月\tɥɛ˥˩\tnguyệt\tŋwiət\naaa\taaa\taaa\tʔaaa\n月\tɥɛ˥˩\ttháng\ttʰaŋ\n",
    )
    d = read_phonexl_dictionary(path, "zh", "vi")
    assert d.entries == {"月": ["tháng", "nguyệt"], "aaa": ["aaa"]}
    assert d.src_ipa == {"月": "ɥɛ˥˩", "aaa": "aaa"}
    assert d.tgt_ipa == {"tháng": "tʰaŋ", "nguyệt": "ŋwiət", "aaa": "ʔaaa"}
    assert "zh-vi-dict.txt" in d.source


@pytest.mark.parametrize("bad", ["月\tɥɛ˥˩\ttháng\n", "月\t\ttháng\ttʰaŋ\n", "月 tháng\n"])
def test_phonexl_reader_names_file_and_line_of_a_malformed_line(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path / "zh-vi-dict.txt", "月\tɥɛ˥˩\ttháng\ttʰaŋ\n" + bad)
    with pytest.raises(DictionaryError, match=r"zh-vi-dict\.txt:2: expected 4 non-empty tab-separated"):
        read_phonexl_dictionary(path, "zh", "vi")


# ----------------------------------------------------------------------------------------------------------
# the dictionary


def test_lookup_is_exact_first_then_case_folded() -> None:
    d = BilingualDictionary("en", "vi", {"paris": ["pa-ri"], "Apple": ["táo"], "apple": ["quả táo"]})
    assert d.lookup("Paris") == ["pa-ri"]
    assert d.lookup("PARIS") == ["pa-ri"]
    assert d.lookup("Apple") == ["táo"]  # the exact entry wins over the folded one
    assert d.lookup("APPLE") == ["táo", "quả táo"]  # both spellings fold to "apple"
    assert d.lookup("london") == []
    assert BilingualDictionary("en", "vi", {"Hanoi": ["Hà Nội"]}).lookup("hanoi") == ["Hà Nội"]
    d.entries["london"] = ["luân đôn"]  # the folded index follows later additions
    assert d.lookup("London") == ["luân đôn"]


def test_switchable_skips_translations_equal_to_the_word() -> None:
    d = BilingualDictionary("zh", "vi", {"aaa": ["aaa"], "ok": ["OK", "được"]})
    assert d.switchable("aaa") == []
    assert d.switchable("ok") == ["được"]


def test_coverage_counts_words_with_letters_by_token_and_type() -> None:
    d = BilingualDictionary("zh", "vi", {"我": ["tôi"], "aaa": ["aaa"]})
    sentences = [["我", "我", "他", "，", "2010"], ["aaa", "我"]]
    cov = d.coverage(sentences)
    assert cov["tokens"] == 5 and cov["types"] == 3  # "，" and "2010" have no letter
    assert cov["token_coverage"] == pytest.approx(3 / 5)
    assert cov["type_coverage"] == pytest.approx(1 / 3)
    assert cov["token_coverage_found"] == pytest.approx(4 / 5)  # "aaa" is found but switches to itself
    assert cov["type_coverage_found"] == pytest.approx(2 / 3)


def test_inverted_swaps_sides_and_ipa() -> None:
    d = BilingualDictionary(
        "zh",
        "vi",
        {"月": ["tháng", "nguyệt"], "月份": ["tháng"]},
        tgt_ipa={"tháng": "tʰaŋ"},
        src_ipa={"月": "ɥɛ"},
    )
    inv = d.inverted()
    assert (inv.src_lang, inv.tgt_lang) == ("vi", "zh")
    assert inv.entries == {"tháng": ["月", "月份"], "nguyệt": ["月"]}
    assert inv.src_ipa == {"tháng": "tʰaŋ"} and inv.tgt_ipa == {"月": "ɥɛ"}


# ----------------------------------------------------------------------------------------------------------
# bridging


def test_bridge_ranks_targets_reached_by_more_pivots_first_and_caps_them() -> None:
    a_en = BilingualDictionary(
        "a", "en", {"x": ["p1", "p2", "p3"], "lonely": ["nowhere"]}, src_ipa={"x": "ks"}
    )
    en_b = BilingualDictionary(
        "en",
        "b",
        {"p1": ["t1", "shared"], "p2": ["t2", "shared"], "p3": ["t3"]},
        tgt_ipa={"shared": "ʃ", "t9": "unused"},
    )
    full = bridge(a_en, en_b, max_translations=None)
    # "shared" comes through two pivots; the rest round-robin: first translation of each pivot first
    assert full.entries == {"x": ["shared", "t1", "t2", "t3"]}  # "lonely" has no path and is left out
    assert (full.src_lang, full.tgt_lang) == ("a", "b")
    assert full.tgt_ipa == {"shared": "ʃ"} and full.src_ipa == {"x": "ks"}
    assert "bridged via en" in full.source
    assert bridge(a_en, en_b, max_translations=2).entries == {"x": ["shared", "t1"]}
    assert bridge(a_en, en_b).entries["x"] == ["shared", "t1", "t2", "t3"]  # the default cap is 5


def test_bridge_can_drop_targets_that_copy_the_pivot_word() -> None:
    a_en = BilingualDictionary("zh", "en", {"月": ["moon", "month"], "的": ["the"]})
    en_b = BilingualDictionary("en", "vi", {"moon": ["trăng", "moon"], "month": ["tháng"], "the": ["The"]})
    assert bridge(a_en, en_b).entries == {"月": ["trăng", "tháng", "moon"], "的": ["The"]}
    dropped = bridge(a_en, en_b, keep_pivot_copies=False)
    assert dropped.entries == {"月": ["trăng", "tháng"]}  # "的" had only a copy of its pivot left


def test_bridge_folds_case_on_the_pivot_and_checks_languages() -> None:
    a_en = BilingualDictionary("a", "en", {"x": ["Paris"]})
    en_b = BilingualDictionary("en", "b", {"paris": ["pa-ri"]})
    assert bridge(a_en, en_b).entries == {"x": ["pa-ri"]}
    with pytest.raises(DictionaryError, match="cannot bridge a-en with b-en"):
        bridge(a_en, BilingualDictionary("b", "en", {"y": ["z"]}))
    with pytest.raises(DictionaryError, match="max_translations"):
        bridge(a_en, en_b, max_translations=0)


# ----------------------------------------------------------------------------------------------------------
# specs


def test_load_muse_spec_bridges_through_english_and_says_so(muse_dir: Path) -> None:
    d = load_dictionary("muse:zh-vi", muse_dir=muse_dir)
    assert (d.src_lang, d.tgt_lang) == ("zh", "vi")
    assert d.entries["月"] == ["tháng", "nguyệt", "trăng"]  # tháng and nguyệt each via two pivots
    assert d.entries["電子"] == ["điện tử"]
    assert "貓" not in d.entries
    assert d.source == "MUSE zh-en 0-5000 -> MUSE en-vi 0-5000 (bridged via en)"
    other = load_dictionary("muse:zh-vi@5000-6500", muse_dir=muse_dir)
    assert other.entries == {"貓": ["mèo"]}
    merged = load_dictionary("muse:zh-vi@all", muse_dir=muse_dir)
    assert merged.entries["貓"] == ["mèo"] and merged.entries["月"] == d.entries["月"]


def test_load_muse_spec_prefers_a_direct_file(muse_dir: Path) -> None:
    write(muse_dir / "zh-vi.0-5000.txt", "月 tháng\n")
    d = load_dictionary("muse:zh-vi", muse_dir=muse_dir)
    assert d.entries == {"月": ["tháng"]}
    assert d.source == "MUSE zh-vi 0-5000"
    assert load_dictionary("muse:en-vi", muse_dir=muse_dir).entries["moon"] == ["trăng", "nguyệt"]


def test_load_muse_spec_errors_name_missing_files_and_the_option(muse_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match=r"no en-ko\.0-5000\.txt in .*muse_dir="):
        load_dictionary("muse:zh-ko", muse_dir=muse_dir)
    with pytest.raises(DictionaryError, match="no MUSE range"):
        load_dictionary("muse:zh-vi@most", muse_dir=muse_dir)
    with pytest.raises(DictionaryError, match="no language pair"):
        load_dictionary("muse:chinese", muse_dir=muse_dir)


def test_load_plain_and_phonexl_paths(tmp_path: Path) -> None:
    named = write(tmp_path / "zh-vi.txt", "月 tháng\n")
    assert load_dictionary(str(named)).entries == {"月": ["tháng"]}
    unnamed = write(tmp_path / "words.txt", "月 tháng\n")
    with pytest.raises(DictionaryError, match=r"cannot tell the languages.*words\.txt:src-tgt"):
        load_dictionary(str(unnamed))
    d = load_dictionary(f"{unnamed}:zh-vi")
    assert (d.src_lang, d.tgt_lang, d.entries) == ("zh", "vi", {"月": ["tháng"]})
    phonexl = write(tmp_path / "dict.txt", "月\tɥɛ˥˩\ttháng\ttʰaŋ\n")
    p = load_dictionary(f"phonexl:{phonexl}:zh-vi")
    assert p.tgt_ipa == {"tháng": "tʰaŋ"} and p.src_lang == "zh"
    with pytest.raises(DictionaryError, match="phonexl:PATH:src-tgt"):
        load_dictionary(f"phonexl:{phonexl}")


# ----------------------------------------------------------------------------------------------------------
# code-switching


def test_ratio_zero_switches_nothing_and_ratio_one_everything_switchable() -> None:
    d = toy_dictionary()
    tokens = ["我", "喜歡", "中", "文", "。"]
    kept = code_switch(tokens, d, 0.0, random.Random(1))
    assert kept.tokens == tokens and not any(kept.switched)
    assert kept.langs == ["zh"] * 5 and kept.ipa is None
    rng = random.Random(1)
    allout = code_switch(tokens, d, 1.0, rng)
    assert allout.switched == [True, True, True, False, False]
    assert allout.tokens[0] == "tôi" and allout.tokens[1] in ("thích", "yêu")
    assert allout.tokens[2] == "trung"  # "中" -> "中" is no switch, so only "trung" is left
    assert allout.langs == ["vi", "vi", "vi", "zh", "zh"]


def test_code_switch_is_seeded_and_keeps_positions_for_labels() -> None:
    d = toy_dictionary()
    sentences = [["我", "喜歡", "電子", "書", "。"], ["我", "中"], ["文"] * 3]
    labels = [["PRON", "VERB", "NOUN", "NOUN", "PUNCT"], ["PRON", "PROPN"], ["X"] * 3]
    first = code_switch_corpus(sentences, d, 0.5, seed=7)
    again = code_switch_corpus(sentences, d, 0.5, seed=7)
    assert first == again
    rng = random.Random(7)  # the corpus function is code_switch sentence after sentence
    assert first == [code_switch(s, d, 0.5, rng) for s in sentences]
    for out, src, lab in zip(first, sentences, labels, strict=True):
        assert len(out.tokens) == len(src) == len(lab) == len(out.switched) == len(out.langs)
        for word, new, switched in zip(src, out.tokens, out.switched, strict=True):
            assert (new != word) == switched
            if switched:
                assert new in d.lookup(word)
    seeds = {
        tuple(tuple(s.tokens) for s in code_switch_corpus(sentences * 5, d, 0.5, seed=k)) for k in range(6)
    }
    assert len(seeds) > 1  # different seeds switch different words


def test_multiword_translation_stays_one_position() -> None:
    d = toy_dictionary()
    out = code_switch(["電子", "書"], d, 1.0, random.Random(0), ipa=["tjɛn tsɯ", "ʂu"])
    assert out.tokens == ["điện tử", "書"]
    assert out.switched == [True, False] and out.ipa is not None and len(out.ipa) == 2


def test_ipa_comes_from_source_dictionary_then_ipa_of_in_one_call() -> None:
    d = toy_dictionary()
    sentences = [["我", "喜歡", "電子", "書"], ["電子", "我"]]
    ipas = [["wɔ", "ɕi xwan", "tjɛn tsɯ", "ʂu"], ["tjɛn tsɯ", "wɔ"]]
    calls: list[list[str]] = []

    def ipa_of(words: list[str]) -> list[str]:
        calls.append(list(words))
        return [f"/{w}/" for w in words]

    out = code_switch_corpus(sentences, d, 1.0, seed=3, ipas=ipas, ipa_of=ipa_of)
    assert len(calls) == 1 and calls[0].count("điện tử") == 1  # distinct words, dictionary IPA not asked
    assert "tôi" not in calls[0]
    first, second = out
    assert first.ipa is not None and second.ipa is not None
    assert first.ipa[0] == "toj"  # the dictionary's target IPA
    assert first.ipa[1] == ("tʰik" if first.tokens[1] == "thích" else "/yêu/")
    assert first.ipa[2] == "/điện tử/"  # no dictionary IPA: ipa_of
    assert first.ipa[3] == "ʂu"  # unswitched: the source IPA stays
    assert second.ipa == ["/điện tử/", "toj"]
    no_fallback = code_switch(["電子", "書"], d, 1.0, random.Random(0), ipa=["tjɛn tsɯ", "ʂu"])
    assert no_fallback.ipa == ["", "ʂu"]


def test_code_switch_rejects_bad_arguments() -> None:
    d = toy_dictionary()
    with pytest.raises(ValueError, match="between 0 and 1"):
        code_switch(["我"], d, 1.5, random.Random(0))
    with pytest.raises(ValueError, match="2 IPA strings for 1 words"):
        code_switch(["我"], d, 0.5, random.Random(0), ipa=["wɔ", "x"])
    with pytest.raises(ValueError, match="ipa_of converts switched words only"):
        code_switch(["我"], d, 0.5, random.Random(0), ipa_of=lambda ws: ws)
    with pytest.raises(ValueError, match="ipa_of returned 0 IPA strings for 1 words"):
        code_switch(["電子"], d, 1.0, random.Random(0), ipa=["tjɛn tsɯ"], ipa_of=lambda ws: [])
    with pytest.raises(ValueError, match="1 IPA lists for 2 sentences"):
        code_switch_corpus([["我"], ["我"]], d, 0.5, seed=0, ipas=[["wɔ"]])


# ----------------------------------------------------------------------------------------------------------
# the real dictionaries


@pytest.mark.slow
def test_real_bridged_muse_and_phonexl_dictionaries() -> None:
    muse = SHARED_DATA / "muse"
    paper = SHARED_DATA / "cjkv_phonemic" / "zh-vi-dict.txt"
    if (
        not (muse / "zh-en.0-5000.txt").is_file()
        or not (muse / "en-vi.0-5000.txt").is_file()
        or not paper.is_file()
    ):
        pytest.skip(f"MUSE zh-en/en-vi or the PhoneXL zh-vi dictionary missing under {SHARED_DATA}")
    bridged = load_dictionary("muse:zh-vi", muse_dir=muse)
    assert bridged.source == "MUSE zh-en 0-5000 -> MUSE en-vi 0-5000 (bridged via en)"
    assert len(bridged) > 2000
    assert all(1 <= len(t) <= 5 for t in bridged.entries.values())
    assert "tháng" in bridged.lookup("月")
    phonexl = load_dictionary(f"phonexl:{paper}:zh-vi")
    assert len(phonexl) > 20000 and phonexl.tgt_ipa["tháng"]
    common = [w for w in bridged.entries if w in phonexl.entries]
    agree = sum(bool(set(bridged.entries[w]) & set(phonexl.entries[w])) for w in common)
    assert agree / len(common) > 0.8  # the paper built its dictionary the same way, from larger MUSE files
    out = code_switch_corpus([["我", "喜歡", "這", "個", "月"]], phonexl, 1.0, seed=0, ipas=[["wɔ"] * 5])[0]
    assert out.tokens[-1] in phonexl.lookup("月") and out.ipa is not None
    assert out.ipa[-1] == phonexl.tgt_ipa[out.tokens[-1]]
