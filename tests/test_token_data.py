"""Token-level readers (CoNLL-U, CoNLL NER, PhoneXL TSV), TokenSet subsets, label vocabularies and views."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptbridge.tasks.tokens import (
    TokenDataError,
    TokenSet,
    apply_token_view,
    is_iob2_labels,
    labels_to_iob2,
    read_conll,
    read_conllu,
    read_label_list,
    read_phonexl_tsv,
    read_tokens,
    token_label_vocabulary,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _conllu_row(i: str, form: str, upos: str, xpos: str = "_", deprel: str = "dep") -> str:
    return "\t".join([i, form, form.lower(), upos, xpos, "_", "0", deprel, "_", "_"])


# The second sentence has a multiword token (1-2 "vámonos" = vamos + nos) and an empty node (2.1), and
# the file ends without a newline.
CONLLU = "\n".join(
    [
        "# newdoc id = d1",
        "# sent_id = s1",
        "# text = The cat sat.",
        _conllu_row("1", "The", "DET", "DT", "det"),
        _conllu_row("2", "cat", "NOUN", "NN", "nsubj"),
        _conllu_row("3", "sat", "VERB", "VBD", "root"),
        _conllu_row("4", ".", "PUNCT", ".", "punct"),
        "",
        "# sent_id = s2",
        "\t".join(["1-2", "vámonos", "_", "_", "_", "_", "_", "_", "_", "_"]),
        _conllu_row("1", "vamos", "VERB"),
        _conllu_row("2", "nos", "PRON"),
        _conllu_row("2.1", "ir", "VERB").replace("\t0\t", "\t_\t"),
        _conllu_row("3", "!", "PUNCT"),
    ]
)


# ---------------------------------------------------------------------------- CoNLL-U


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    data = read_conllu(_write(tmp_path / "tiny.conllu", CONLLU))
    assert data.name == "tiny"
    assert data.path == str(tmp_path / "tiny.conllu")
    assert data.tokens == [["The", "cat", "sat", "."], ["vamos", "nos", "!"]]
    assert data.labels == [["DET", "NOUN", "VERB", "PUNCT"], ["VERB", "PRON", "PUNCT"]]
    assert len(data) == 2 and data.n_tokens() == 7
    assert data.ipa is None and data.roman is None


def test_conllu_other_columns_windows_line_ends_and_several_blank_lines(tmp_path):
    text = (
        CONLLU.replace("\n", "\r\n").replace("\r\n# sent_id = s2", "\r\n\r\n\r\n# sent_id = s2") + "\r\n\r\n"
    )
    path = _write(tmp_path / "crlf.conllu", text)
    assert read_conllu(path, column="xpos").labels[0] == ["DT", "NN", "VBD", "."]
    deprel = read_conllu(path, column="deprel")
    assert deprel.labels[0] == ["det", "nsubj", "root", "punct"]
    assert all("\r" not in word for sentence in deprel.tokens for word in sentence)
    assert len(deprel) == 2


def test_conllu_limit_keeps_the_first_sentences(tmp_path):
    data = read_conllu(_write(tmp_path / "t.conllu", CONLLU), limit=1)
    assert data.tokens == [["The", "cat", "sat", "."]]


def test_conllu_language_from_a_ud_file_name_or_given(tmp_path):
    assert read_conllu(_write(tmp_path / "hi_pud-ud-test.conllu", CONLLU)).lang == "hi"
    assert read_conllu(_write(tmp_path / "x.conllu", CONLLU), lang="hin").lang == "hi"
    assert read_conllu(_write(tmp_path / "y.conllu", CONLLU)).lang is None


def test_conllu_wrong_column_count_names_file_and_line(tmp_path):
    broken = CONLLU.replace(_conllu_row("2", "cat", "NOUN", "NN", "nsubj"), "2 cat cat NOUN NN _ 0 nsubj _ _")
    path = _write(tmp_path / "bad.conllu", broken)
    with pytest.raises(TokenDataError, match=r"bad\.conllu:5: expected 10 tab-separated columns, found 1"):
        read_conllu(path)


def test_conllu_bad_word_id_and_unknown_column(tmp_path):
    path = _write(tmp_path / "id.conllu", _conllu_row("x", "a", "NOUN") + "\n")
    with pytest.raises(TokenDataError, match=r"id\.conllu:1: word ID 'x'"):
        read_conllu(path)
    with pytest.raises(TokenDataError, match="unknown CoNLL-U column 'lemma'.*upos, xpos, deprel"):
        read_conllu(_write(tmp_path / "ok.conllu", CONLLU), column="lemma")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TokenDataError, match="no such file"):
        read_conllu(tmp_path / "absent.conllu")
    with pytest.raises(TokenDataError, match="no sentences found"):
        read_conll(_write(tmp_path / "empty.conll", "\n\n"))


# ---------------------------------------------------------------------------- CoNLL NER

CONLL = """-DOCSTART- -X- O O

Ravi\tB-PER
Delhi\tB-LOC
gaya\tO

New York\tB-LOC
mein\tO


EU NNP B-ORG
rejects VBZ O
"""


def test_conll_tabs_spaces_and_docstart(tmp_path):
    data = read_conll(_write(tmp_path / "ner.conll", CONLL))
    # a tab-separated token may hold a space; a space-separated line takes its last column as the label
    assert data.tokens == [["Ravi", "Delhi", "gaya"], ["New York", "mein"], ["EU", "rejects"]]
    assert data.labels == [["B-PER", "B-LOC", "O"], ["B-LOC", "O"], ["B-ORG", "O"]]
    assert data.lang is None and data.name == "ner"


def test_conll_label_column_and_limit(tmp_path):
    path = _write(tmp_path / "pos.txt", "EU NNP B-ORG\nrejects VBZ O\n\nA DT O\n")
    assert read_conll(path, label_column=1).labels == [["NNP", "VBZ"], ["DT"]]
    assert read_conll(path, limit=1, name="first").tokens == [["EU", "rejects"]]


def test_conll_errors_name_file_and_line(tmp_path):
    path = _write(tmp_path / "nolabel.conll", "Ravi\tB-PER\n\ngaya\n")
    with pytest.raises(TokenDataError, match=r"nolabel\.conll:3: a token without a label"):
        read_conll(path)
    with pytest.raises(TokenDataError, match=r"nolabel\.conll:1: found 2 column\(s\) but token_column=0"):
        read_conll(path, label_column=5)
    with pytest.raises(TokenDataError, match="whole number of sentences"):
        read_conll(path, limit=0)


def test_not_utf8_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("Zürich\tB-LOC\n".encode("latin-1"))
    with pytest.raises(TokenDataError, match=r"latin1\.conll: not UTF-8"):
        read_conll(path)


# ---------------------------------------------------------------------------- PhoneXL TSV

# As in the real files: a '#' token (a space in the Chinese / Japanese PAN-X files), an empty IPA field
# (Korean quotes), and one line with only token and label.
PHONEXL = "\n".join(
    [
        "Hà\tB-LOC\tha\tHà",
        "Nội\tI-LOC\tnoj\tNội",
        "#\tO\t#\t#",
        "'\tO\t\t'",
        "",
        "Ravi\tB-PER",
        "",
    ]
)


def test_phonexl_reads_ipa_and_romanization(tmp_path):
    data = read_phonexl_tsv(_write(tmp_path / "test-vi.tsv", PHONEXL))
    assert data.name == "test-vi" and data.lang == "vi"
    assert data.tokens == [["Hà", "Nội", "#", "'"], ["Ravi"]]
    assert data.labels == [["B-LOC", "I-LOC", "O", "O"], ["B-PER"]]
    assert data.ipa == [["ha", "noj", "#", ""], [""]]
    assert data.roman == [["Hà", "Nội", "#", "'"], [""]]


def test_phonexl_without_ipa_columns_has_none(tmp_path):
    data = read_phonexl_tsv(_write(tmp_path / "two.tsv", "a\tNOUN\nb\tVERB\n"))
    assert data.ipa is None and data.roman is None and data.labels == [["NOUN", "VERB"]]


def test_phonexl_errors_name_file_and_line(tmp_path):
    path = _write(tmp_path / "wide.tsv", "a\tO\tx\ty\n\nb\tO\tx\ty\tz\n")
    with pytest.raises(TokenDataError, match=r"wide\.tsv:3: expected 4 tab-separated columns.*found 5"):
        read_phonexl_tsv(path)
    with pytest.raises(TokenDataError, match=r"nolabel\.tsv:1: empty label"):
        read_phonexl_tsv(_write(tmp_path / "nolabel.tsv", "a\t\tx\ty\n"))


# ---------------------------------------------------------------------------- format detection


def test_read_tokens_detects_the_format(tmp_path):
    assert read_tokens(_write(tmp_path / "a.conllu", CONLLU)).labels[1] == ["VERB", "PRON", "PUNCT"]
    # CoNLL-U content under another extension is recognised by its 10 columns and numeric ID
    assert read_tokens(_write(tmp_path / "a.txt", CONLLU)).tokens[1] == ["vamos", "nos", "!"]
    phonexl = read_tokens(_write(tmp_path / "dev-zh.tsv", "#\tO\t#\t#\n北\tB-LOC\tpeɪ\tbei\n"))
    assert phonexl.ipa == [["#", "peɪ"]] and phonexl.lang == "zh"
    assert read_tokens(_write(tmp_path / "a.conll", CONLL)).labels[0] == ["B-PER", "B-LOC", "O"]
    # keywords go to the chosen reader
    assert read_tokens(tmp_path / "a.conllu", fmt="conllu", column="xpos").labels[0][0] == "DT"


def test_read_tokens_unknown_format_lists_the_choices(tmp_path):
    with pytest.raises(TokenDataError, match="unknown format 'iob'.*auto, conllu, conll, phonexl"):
        read_tokens(_write(tmp_path / "a.conll", CONLL), fmt="iob")


# ---------------------------------------------------------------------------- TokenSet


def _set(n: int = 5) -> TokenSet:
    return TokenSet(
        "toy",
        [[f"w{i}", "x"] for i in range(n)],
        [["B-PER", "O"] for _ in range(n)],
        ipa=[[f"i{i}", "x"] for i in range(n)],
    )


def test_tokenset_checks_shapes():
    with pytest.raises(TokenDataError, match="toy: sentence 1 has 2 tokens but 1 labels"):
        TokenSet("toy", [["a"], ["b", "c"]], [["O"], ["O"]])
    with pytest.raises(TokenDataError, match="2 sentences of tokens but 1 of labels"):
        TokenSet("toy", [["a"], ["b"]], [["O"]])
    with pytest.raises(TokenDataError, match="sentence 0 has 1 tokens but 2 ipa"):
        TokenSet("toy", [["a"]], [["O"]], ipa=[["a", "b"]])


def test_sample_is_seeded_and_keeps_order():
    data = _set(10)
    picked = data.sample(4, seed=3)
    assert len(picked) == 4 and picked.name == "toy"
    indices = [int(s[0][1:]) for s in picked.tokens]
    assert indices == sorted(indices)
    assert picked.tokens == data.sample(4, seed=3).tokens
    assert [s[0] for s in picked.ipa] == [f"i{i}" for i in indices]  # the IPA column follows its words
    assert data.sample(None) is data and data.sample(10) is data
    with pytest.raises(TokenDataError, match="at least 1"):
        data.sample(0)


def test_head_and_tail_split_a_set():
    data = _set(5)
    head, tail = data.head(3), data.tail(2)
    assert [s[0] for s in head.tokens] == ["w0", "w1", "w2"] and head.name == "toy[:3]"
    assert [s[0] for s in tail.tokens] == ["w3", "w4"] and tail.name == "toy[-2:]"
    assert head.tokens + tail.tokens == data.tokens
    assert tail.ipa == [["i3", "x"], ["i4", "x"]]
    assert data.head(7) is data and data.tail(5) is data
    with pytest.raises(TokenDataError, match="whole number"):
        data.tail(-1)


def test_label_counts_follow_vocabulary_order():
    data = TokenSet("t", [["a", "b", "c", "d"]], [["I-PER", "O", "B-LOC", "B-PER"]])
    assert list(data.label_counts().items()) == [("O", 1), ("B-LOC", 1), ("B-PER", 1), ("I-PER", 1)]


# ---------------------------------------------------------------------------- labels


def test_vocabulary_groups_entity_labels_by_type():
    train = TokenSet("train", [["a", "b", "c"]], [["I-PER", "B-ORG", "O"]])
    dev = [["B-PER", "I-ORG", "B-LOC"]]
    assert token_label_vocabulary(train, dev) == ["O", "B-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert token_label_vocabulary([["VERB", "NOUN", "ADJ", "NOUN"]]) == ["ADJ", "NOUN", "VERB"]


def test_vocabulary_with_declared_labels(tmp_path):
    declared = read_label_list(_write(tmp_path / "label_list", "B-LOC\nI-LOC\nO\n"))
    data = TokenSet("dev", [["a", "b"]], [["B-LOC", "O"]])
    assert token_label_vocabulary(data, declared=declared) == ["B-LOC", "I-LOC", "O"]
    bad = TokenSet("test", [["a"]], [["B-PER"]])
    with pytest.raises(TokenDataError, match="test: label 'B-PER' is not among the declared labels"):
        token_label_vocabulary(data, bad, declared=declared)
    with pytest.raises(TokenDataError, match="listed twice: O"):
        read_label_list(_write(tmp_path / "dup", "O\nB-X\nO\n"))


def test_labels_to_iob2_repairs_iob1():
    assert labels_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "B-LOC",
        "B-ORG",
    ]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC"]
    assert labels_to_iob2(iob2) == iob2
    assert labels_to_iob2(["NOUN", "VERB"]) == ["NOUN", "VERB"]


def test_is_iob2_labels():
    assert is_iob2_labels(["O", "B-PER", "I-PER"])
    assert is_iob2_labels([["O"], ["B-LOCATION"]])
    assert is_iob2_labels(["O", "O"])  # a shard without entities is still NER data
    assert not is_iob2_labels(["NOUN", "VERB"])
    assert not is_iob2_labels(["O", "S-PER"])
    assert not is_iob2_labels([])


# ---------------------------------------------------------------------------- views


def test_romanize_view_converts_every_word_and_keeps_labels():
    from scriptbridge.views import romanize

    words = [["नमस्ते", "दुनिया"], ["भारत"]]
    data = TokenSet("hi-toy", words, [["O", "B-LOC"], ["B-LOC"]], lang="hi")
    out = apply_token_view(data, "romanize:hi:uroman")
    assert out.tokens[0] == ["namaste", "duniyaa"]
    assert out.tokens == [romanize(s, "hi", "uroman") for s in words]
    assert out.labels == data.labels and out.view == "romanize:hi:uroman"
    assert out.name == "hi-toy (romanized, uroman)"
    assert data.tokens == words  # the original is untouched
    # the language may come from the set; the scheme then is the language's default
    assert apply_token_view(data, "romanize").view == "romanize:hi:colloquial"


def test_ipa_view_regenerates_the_ipa_column():
    from scriptbridge.views import to_ipa_tokens_batch

    data = TokenSet("zh-toy", [["你好", "世界"], ["北京"]], [["O", "O"], ["B-LOC"]])
    out = apply_token_view(data, "ipa:zh")
    assert out.tokens == data.tokens and out.labels == data.labels
    assert out.ipa == to_ipa_tokens_batch(data.tokens, "zh")
    flat_ipa = [ipa for sentence in out.ipa for ipa in sentence]
    flat_words = [word for sentence in data.tokens for word in sentence]
    assert all(flat_ipa) and not set(flat_ipa) & set(flat_words)
    assert out.view == "ipa:zh:pinyin-ipa" and out.name == "zh-toy (IPA, pinyin-ipa)" and out.lang == "zh"


def test_view_errors():
    data = TokenSet("toy", [["a"]], [["O"]])
    with pytest.raises(TokenDataError, match="unknown view 'upper'"):
        apply_token_view(data, "upper")
    with pytest.raises(TokenDataError, match="needs a language"):
        apply_token_view(data, "romanize")
    with pytest.raises(TokenDataError, match="drop '@x.txt'"):
        apply_token_view(data, "romanize:hi@x.txt")


# ---------------------------------------------------------------------------- real data


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return path


@pytest.mark.slow
def test_real_hindi_pud_conllu():
    data = read_tokens(_shared("ud/UD_Hindi-PUD/hi_pud-ud-test.conllu"))
    assert len(data) == 1000 and data.lang == "hi"
    assert data.n_tokens() == 23829
    assert not is_iob2_labels(data.labels)
    assert set(data.label_counts()) <= {
        *"ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
    }


@pytest.mark.slow
def test_real_english_pud_multiword_tokens_are_split():
    data = read_conllu(_shared("ud/UD_English-PUD/en_pud-ud-test.conllu"))
    # 21180 word lines; the 125 multiword ranges ("It's" = "It" + "'s") and 7 empty nodes are not words
    assert len(data) == 1000 and data.n_tokens() == 21180
    words = {w for s in data.tokens for w in s}
    assert "It's" not in words and {"It", "'s"} <= words


@pytest.mark.slow
def test_real_hiner():
    data = read_tokens(_shared("hiner/validation.conll"))
    assert len(data) == 10851 and data.n_tokens() == 221036
    declared = read_label_list(_shared("hiner/label_list"))
    assert token_label_vocabulary(data, declared=declared) == declared
    assert token_label_vocabulary(data) == [
        "O",
        "B-LOCATION",
        "I-LOCATION",
        "B-ORGANIZATION",
        "I-ORGANIZATION",
        "B-PERSON",
        "I-PERSON",
    ]
    assert is_iob2_labels(data.labels)
    # HiNER is clean IOB2: converting changes nothing
    assert all(labels_to_iob2(s) == s for s in data.labels)


@pytest.mark.slow
def test_real_phonexl_files():
    ner = read_tokens(_shared("cjkv_phonemic/download/full_updated_panx/test-vi.tsv"))
    assert len(ner) == 10000 and ner.lang == "vi" and ner.n_tokens() == 64976
    assert ner.ipa is not None and ner.roman is not None
    assert token_label_vocabulary(ner) == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    pos = read_tokens(_shared("cjkv_phonemic/download/full_updated_udpos/test-ko.tsv"))
    assert len(pos) == 4276 and pos.lang == "ko"
    assert sum(ipa == "" for s in pos.ipa for ipa in s) == 171  # quotes without IPA, kept as ""
