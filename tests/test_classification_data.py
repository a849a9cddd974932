"""Labelled sets for classifiers: CSV/TSV/JSONL, SIB-200 splits, umsab texts + labels files, views,
seeded subsets, label vocabularies and the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scriptbridge.tasks.classification import (
    LabelledDataError,
    LabelledSet,
    LabelledSpec,
    classification_metrics,
    label_vocabulary,
    read_labelled,
)
from scriptbridge.views import default_scheme, romanize

HI = ["मुझे चाय पसंद है", "यह एक किताब है", "कुत्ता दौड़ता है", "मौसम अच्छा है"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _umsab(folder: Path, labels: list[str], split: str = "test", texts: list[str] = HI) -> Path:
    _write(folder / f"{split}_text.txt", "".join(t + "\n" for t in texts))
    _write(folder / f"{split}_labels.txt", "".join(f"{x}\n" for x in labels))
    return folder / f"{split}_text.txt"


# ---------------------------------------------------------------------------- tables


def test_csv_default_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "reviews.csv", 'id,text,label\n1,"good, really",pos\n2,bad,neg\n3,,neg\n')
    data = read_labelled(str(p))
    assert data.texts == ["good, really", "bad", ""]  # an empty text is kept
    assert data.labels == ["pos", "neg", "neg"]
    assert data.name == "reviews" and data.source == str(p) and data.lang is None and data.view is None
    assert len(data) == 3
    assert data.label_counts() == {"neg": 2, "pos": 1}


def test_tsv_and_jsonl_explicit_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.tsv", "sentence\ty\tother\nhello\t1\tx\nbye\t0\tz\n")
    data = read_labelled({"path": str(p), "text": "sentence", "label": "y"})
    assert (data.texts, data.labels) == (["hello", "bye"], ["1", "0"])

    rows = [{"s": "hello", "cls": 2}, None, {"s": "bye", "cls": "0"}]
    j = _write(tmp_path / "b.jsonl", "\n".join(json.dumps(r) if r else "" for r in rows) + "\n")
    data = read_labelled(LabelledSpec(str(j), text="s", label="cls"))
    assert (data.texts, data.labels) == (["hello", "bye"], ["2", "0"])  # blank line skipped, ints as str

    j2 = _write(tmp_path / "c.jsonl", '{"text": "x", "category": "sports"}\n')
    assert read_labelled(str(j2)).labels == ["sports"]


def test_sib200_tsv_picks_category_and_language(tmp_path: Path) -> None:
    body = "index_id\tcategory\ttext\n431\tgeography\tतुर्की\n403\tscience/technology\tयुद्ध\n"
    p = _write(tmp_path / "sib200" / "hin_Deva" / "test.tsv", body)
    data = read_labelled(str(p))
    assert data.labels == ["geography", "science/technology"]
    assert data.texts == ["तुर्की", "युद्ध"]
    assert data.name == "hin_Deva/test" and data.lang == "hi"
    with pytest.raises(LabelledDataError, match="folder; give one split file"):
        read_labelled(str(p.parent))


def test_unknown_column_lists_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.csv", "text,topic\nhi,x\n")
    with pytest.raises(
        LabelledDataError, match=r"a\.csv:1: no 'label' or 'category' column; columns are: text, topic"
    ):
        read_labelled(str(p))
    with pytest.raises(LabelledDataError, match=r"no column 'body'; columns are: text, topic"):
        read_labelled({"path": str(p), "text": "body", "label": "topic"})
    j = _write(tmp_path / "a.jsonl", '{"text": "x", "lbl": 1}\n')
    with pytest.raises(LabelledDataError, match=r"a\.jsonl:1: .*columns are: text, lbl"):
        read_labelled(str(j))


def test_empty_label_in_table_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.csv", "text,label\nx,1\ny, \n")
    with pytest.raises(LabelledDataError, match=r"a\.csv:3: empty label"):
        read_labelled(str(p))


# ---------------------------------------------------------------------------- umsab texts + labels


def test_umsab_explicit_and_auto_sibling(tmp_path: Path) -> None:
    texts = _umsab(tmp_path / "hindi", ["0", "1", "2", "1"])
    auto = read_labelled(str(texts))
    explicit = read_labelled({"path": str(texts), "labels_path": str(tmp_path / "hindi" / "test_labels.txt")})
    for data in (auto, explicit):
        assert data.texts == HI and data.labels == ["0", "1", "2", "1"]
        assert data.name == "hindi/test"
        assert data.lang is None


def test_umsab_crlf_is_stripped(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "train_text.txt", "a\r\nb\r\n")
    _write(tmp_path / "d" / "train_labels.txt", "1\r\n0\r\n")
    data = read_labelled(str(tmp_path / "d" / "train_text.txt"))
    assert (data.texts, data.labels) == (["a", "b"], ["1", "0"])


def test_umsab_mismatched_counts(tmp_path: Path) -> None:
    texts = _umsab(tmp_path / "hindi", ["0", "1", "2"])
    with pytest.raises(LabelledDataError, match=r"test_text\.txt has 4 lines but .*test_labels\.txt has 3"):
        read_labelled(str(texts))


def test_umsab_empty_label_line(tmp_path: Path) -> None:
    texts = _umsab(tmp_path / "hindi", ["0", "", "2", "1"])
    with pytest.raises(LabelledDataError, match=r"test_labels\.txt:2: empty label"):
        read_labelled(str(texts))


def test_plain_texts_without_labels_explains(tmp_path: Path) -> None:
    p = _write(tmp_path / "sents.txt", "a\nb\n")
    with pytest.raises(LabelledDataError, match="labels_path"):
        read_labelled(str(p))


# ---------------------------------------------------------------------------- specs and paths


def test_from_dict_strict() -> None:
    with pytest.raises(
        LabelledDataError, match=r"recipe\.yaml: eval\[0\]: unknown key 'labels'.*path, text, label"
    ):
        LabelledSpec.from_dict({"path": "x.csv", "labels": "y"}, where="recipe.yaml: eval[0]")
    with pytest.raises(LabelledDataError, match="needs 'path'"):
        LabelledSpec.from_dict({"text": "t"}, where="r")
    with pytest.raises(LabelledDataError, match="'limit'"):
        LabelledSpec.from_dict({"path": "x", "limit": "10"})
    with pytest.raises(LabelledDataError, match="unknown format"):
        LabelledSpec.from_dict({"path": "x", "format": "xml"})
    assert LabelledSpec.from_dict("data/x.csv") == LabelledSpec(path="data/x.csv")


def test_base_dir_resolution(tmp_path: Path) -> None:
    _umsab(tmp_path / "data" / "hindi", ["0", "1", "1", "0"], split="train")
    _write(tmp_path / "data" / "labels_b.txt", "2\n2\n2\n2\n")
    data = read_labelled({"path": "data/hindi/train_text.txt"}, base_dir=tmp_path)
    assert data.labels == ["0", "1", "1", "0"] and data.name == "hindi/train"
    other = read_labelled(
        {"path": "data/hindi/train_text.txt", "labels_path": "data/labels_b.txt"}, base_dir=str(tmp_path)
    )
    assert other.labels == ["2"] * 4
    with pytest.raises(LabelledDataError, match="no such file"):
        read_labelled({"path": "data/missing.csv"}, base_dir=tmp_path)


# ---------------------------------------------------------------------------- views, subsets


def test_view_romanizes_texts(tmp_path: Path) -> None:
    texts = _umsab(tmp_path / "hindi", ["0", "1", "2", "1"])
    data = read_labelled({"path": str(texts), "view": "romanize:hi:uroman"})
    assert data.texts == romanize(HI, "hi", "uroman")
    assert data.labels == ["0", "1", "2", "1"]
    assert data.view == "romanize:hi:uroman" and data.lang == "hi"
    assert data.name == "hindi/test · romanized (uroman)"


def test_view_language_from_lang_or_error(tmp_path: Path) -> None:
    texts = _umsab(tmp_path / "hindi", ["0", "1", "2", "1"])
    data = read_labelled({"path": str(texts), "view": "romanize", "lang": "hi"})
    assert data.view == f"romanize:hi:{default_scheme('romanize', 'hi')}"
    with pytest.raises(LabelledDataError, match="needs a language"):
        read_labelled({"path": str(texts), "view": "romanize"})
    with pytest.raises(LabelledDataError, match="unknown view"):
        read_labelled({"path": str(texts), "view": "translit:hi"})


def test_view_language_from_flores_folder(tmp_path: Path) -> None:
    p = _write(tmp_path / "hin_Deva" / "dev.tsv", "index_id\tcategory\ttext\n1\ttravel\tयह एक किताब है\n")
    data = read_labelled({"path": str(p), "view": "romanize::uroman", "name": "custom"})
    assert data.texts == romanize(["यह एक किताब है"], "hi", "uroman")
    assert data.name == "custom"


def test_limit_and_sample_are_seeded(tmp_path: Path) -> None:
    rows = "".join(f"t{i},{i % 3}\n" for i in range(50))
    p = _write(tmp_path / "a.csv", "text,label\n" + rows)
    a = read_labelled({"path": str(p), "limit": 10}, seed=1)
    b = read_labelled({"path": str(p), "limit": 10}, seed=1)
    c = read_labelled({"path": str(p), "limit": 10}, seed=2)
    assert len(a) == 10 and a.texts == b.texts and a.texts != c.texts
    idx = [int(t[1:]) for t in a.texts]
    assert idx == sorted(idx)  # original order
    assert a.labels == [str(i % 3) for i in idx]  # labels follow their texts
    full = read_labelled(str(p))
    assert full.sample(None) is full and full.sample(100) is full
    assert full.sample(5, seed=3).texts == full.sample(5, seed=3).texts
    with pytest.raises(LabelledDataError):
        full.sample(0)


# ---------------------------------------------------------------------------- labels, metrics


def _set(labels: list[str], name: str = "s") -> LabelledSet:
    return LabelledSet([""] * len(labels), labels, name)


def test_label_vocabulary() -> None:
    assert label_vocabulary(_set(["10", "2", "0"]), _set(["1"])) == ["0", "1", "2", "10"]
    assert label_vocabulary(_set(["b", "a", "10"])) == ["10", "a", "b"]
    assert label_vocabulary(_set(["pos"]), declared=["neg", "pos"]) == ["neg", "pos"]
    with pytest.raises(LabelledDataError, match=r"hindi/test: label 'neu' not among the declared"):
        label_vocabulary(_set(["pos"]), _set(["neu"], "hindi/test"), declared=["neg", "pos"])


def test_metrics_hand_computed() -> None:
    y_true = ["0", "0", "1", "1", "2", "2"]
    y_pred = ["0", "1", "1", "1", "2", "0"]
    m = classification_metrics(y_true, y_pred)
    # class 0: p=1/2 r=1/2 f=1/2; class 1: p=2/3 r=1 f=4/5; class 2: p=1 r=1/2 f=2/3
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_f1"] == pytest.approx({"0": 0.5, "1": 0.8, "2": 2 / 3})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)  # equal supports
    assert m["confusion"] == {"labels": ["0", "1", "2"], "matrix": [[1, 1, 0], [0, 2, 0], [1, 0, 1]]}
    json.dumps(m)  # plain JSON types


def test_metrics_absent_class_counts_in_macro() -> None:
    y_true, y_pred = ["a", "a", "b"], ["a", "a", "b"]
    assert classification_metrics(y_true, y_pred)["macro_f1"] == pytest.approx(1.0)
    m = classification_metrics(y_true, y_pred, labels=["a", "b", "c"])
    assert m["macro_f1"] == pytest.approx(2 / 3)  # "c" never seen: F1 0, still averaged
    assert m["weighted_f1"] == pytest.approx(1.0)
    assert m["per_class_f1"]["c"] == 0.0
    assert m["confusion"]["matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_metrics_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])
    with pytest.raises(ValueError):
        classification_metrics(["a"], ["a", "b"])
