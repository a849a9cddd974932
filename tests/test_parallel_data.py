"""Parallel data readers: Tatoeba pairs, SIB-200 joined on index_id, generic tables, views of a side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scriptbridge.tasks.parallel import (
    ParallelData,
    ParallelDataError,
    detect_format,
    load_parallel,
    parse_view,
    texts_fingerprint,
)
from scriptbridge.views import romanize, to_ipa

HI = ["मुझे चाय पसंद है", "यह एक किताब है", "कुत्ता दौड़ता है"]
EN = ["I like tea", "This is a book", "The dog runs"]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tatoeba(tmp_path: Path) -> Path:
    _write(tmp_path / "tatoeba.hin-eng.hin", HI)
    _write(tmp_path / "tatoeba.hin-eng.eng", EN)
    return tmp_path


def _sib(folder: Path, rows: list[tuple[str, str]], split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{i}\ttopic\t{t}\n" for i, t in rows)
    (folder / f"{split}.tsv").write_text("index_id\tcategory\ttext\n" + body, encoding="utf-8")
    return folder / f"{split}.tsv"


def test_tatoeba_partner_found_and_languages_known(tatoeba: Path) -> None:
    data = load_parallel(str(tatoeba / "tatoeba.hin-eng.eng"))
    assert data.src.texts == EN and data.tgt.texts == HI
    assert (data.src.lang, data.tgt.lang) == ("en", "hi")
    assert data.format == "tatoeba"
    assert any("partner" in n for n in data.notes)


def test_view_of_the_other_side(tatoeba: Path) -> None:
    data = load_parallel(str(tatoeba / "tatoeba.hin-eng.hin"), "romanize:hi:uroman")
    assert data.src.texts == HI
    assert data.tgt.texts == romanize(HI, "hi", "uroman")
    assert data.tgt.view == "romanize:hi:uroman" and data.tgt.script == "Latn"


def test_view_language_inferred_and_default_scheme(tatoeba: Path) -> None:
    data = load_parallel(str(tatoeba / "tatoeba.hin-eng.hin"), "romanize")
    assert data.tgt.texts == romanize(HI, "hi")  # colloquial Hinglish by default
    assert data.tgt.view == "romanize:hi:colloquial"


def test_view_of_a_named_file(tatoeba: Path) -> None:
    data = load_parallel(str(tatoeba / "tatoeba.hin-eng.eng"), f"ipa:hi@{tatoeba / 'tatoeba.hin-eng.hin'}")
    assert data.src.texts == EN
    assert data.tgt.texts == to_ipa(HI, "hi")


def test_view_needs_a_language_when_unknown(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", HI)
    with pytest.raises(ParallelDataError, match="romanize:hi"):
        load_parallel(str(tmp_path / "a.txt"), "romanize")


def test_sib200_joined_on_index_id(tmp_path: Path) -> None:
    eng = _sib(tmp_path / "eng_Latn", [("1", "one"), ("2", "two"), ("3", "three")])
    hin = _sib(tmp_path / "hin_Deva", [("3", "तीन"), ("1", "एक"), ("9", "नौ")])
    data = load_parallel(str(eng), str(hin))
    assert data.src.texts == ["one", "three"] and data.tgt.texts == ["एक", "तीन"]
    assert data.format == "sib200" and data.tgt.lang == "hi" and data.tgt.script == "Deva"
    assert any("2 unmatched" in n for n in data.notes)


def test_sib200_folder_reads_every_split(tmp_path: Path) -> None:
    _sib(tmp_path / "eng_Latn", [("1", "one")], "train")
    _sib(tmp_path / "eng_Latn", [("2", "two")], "test")
    _sib(tmp_path / "arb_Latn", [("2", "ithnan")], "test")
    _sib(tmp_path / "arb_Latn", [("1", "wahid")], "dev")
    data = load_parallel(str(tmp_path / "eng_Latn"), str(tmp_path / "arb_Latn"))
    assert sorted(zip(data.src.texts, data.tgt.texts, strict=True)) == [("one", "wahid"), ("two", "ithnan")]
    assert data.tgt.script == "Latn" and data.tgt.lang == "ar"


def test_sib200_disjoint_splits_explain(tmp_path: Path) -> None:
    eng = _sib(tmp_path / "eng_Latn", [("1", "one")])
    hin = _sib(tmp_path / "hin_Deva", [("2", "दो")])
    with pytest.raises(ParallelDataError, match="share no index_id"):
        load_parallel(str(eng), str(hin))


def test_sib200_view_keeps_the_join(tmp_path: Path) -> None:
    eng = _sib(tmp_path / "eng_Latn", [("1", "one"), ("2", "two")])
    hin = _sib(tmp_path / "hin_Deva", [("2", "दो"), ("1", "एक")])
    data = load_parallel(str(eng), f"romanize:hi:uroman@{hin}")
    assert data.tgt.texts == romanize(["एक", "दो"], "hi", "uroman")


def test_two_column_table_gives_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text(
        "en\thi\n" + "".join(f"{e}\t{h}\n" for e, h in zip(EN, HI, strict=True)), encoding="utf-8"
    )
    data = load_parallel(str(path))
    assert data.src.texts == EN and data.tgt.texts == HI
    assert (data.src.lang, data.tgt.lang) == ("en", "hi")
    swapped = load_parallel(str(path), columns=("hi", "en"))
    assert swapped.src.texts == HI


def test_jsonl_needs_columns_and_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(
            json.dumps({"hi": h, "en": e}, ensure_ascii=False) + "\n" for e, h in zip(EN, HI, strict=True)
        ),
        encoding="utf-8",
    )
    with pytest.raises(ParallelDataError, match="--columns"):
        load_parallel(str(path))
    data = load_parallel(str(path), columns=("en", "hi"))
    assert data.src.texts == EN and data.tgt.texts == HI


def test_csv_with_view_of_first_column(tmp_path: Path) -> None:
    path = tmp_path / "hi.csv"
    path.write_text("hi,topic\n" + "".join(f"{h},x\n" for h in HI), encoding="utf-8")
    data = load_parallel(str(path), "romanize:hi:uroman")
    assert data.src.texts == HI and data.tgt.texts == romanize(HI, "hi", "uroman")


def test_misaligned_line_files_name_both(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.txt", EN)
    b = _write(tmp_path / "b.txt", HI[:2])
    with pytest.raises(ParallelDataError, match=r"a\.txt has 3 lines but .*b\.txt has 2"):
        load_parallel(str(a), str(b))


def test_missing_file_and_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(ParallelDataError, match="no such file"):
        load_parallel(str(tmp_path / "nope.txt"), "romanize:hi")
    with pytest.raises(ParallelDataError, match="views are"):
        load_parallel("romanise:hi", str(tmp_path))
    with pytest.raises(ParallelDataError, match="both sides are views"):
        load_parallel("romanize:hi", "ipa:hi")
    with pytest.raises(ParallelDataError, match="give --tgt"):
        load_parallel("romanize:hi")
    _write(tmp_path / "one.txt", EN)
    with pytest.raises(ParallelDataError, match="one side only"):
        load_parallel(str(tmp_path / "one.txt"))
    with pytest.raises(ParallelDataError, match="unknown format"):
        load_parallel(str(tmp_path / "one.txt"), fmt="xml")


def test_bad_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"ok\nbad \xff byte\n")
    _write(tmp_path / "b.txt", ["x", "y"])
    with pytest.raises(ParallelDataError, match=r"a\.txt:2: not valid UTF-8"):
        load_parallel(str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))


def test_parse_view() -> None:
    v = parse_view("romanize:hi:colloquial@x.txt")
    assert (v.kind, v.lang, v.scheme, v.of, v.name) == (
        "romanize",
        "hi",
        "colloquial",
        "x.txt",
        "romanize:hi:colloquial",
    )
    assert parse_view("data/file.txt") is None
    with pytest.raises(ParallelDataError):
        parse_view("ipa:zh:a:b")


def test_sample_is_seeded_and_ordered() -> None:
    data = ParallelData.from_texts([str(i) for i in range(100)], [f"t{i}" for i in range(100)])
    a, b, c = data.sample(10, seed=1), data.sample(10, seed=1), data.sample(10, seed=2)
    assert a.src.texts == b.src.texts != c.src.texts
    assert [int(x) for x in a.src.texts] == sorted(int(x) for x in a.src.texts)
    assert [f"t{x}" for x in a.src.texts] == a.tgt.texts
    assert data.sample(None) is data and data.sample(500) is data


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(_sib(tmp_path / "hin_Deva", [("1", "x")])) == "sib200"
    assert detect_format(tmp_path / "hin_Deva") == "sib200"
    plain = tmp_path / "x.tsv"
    plain.write_text("a\tb\n", encoding="utf-8")
    assert detect_format(plain) == "tsv"
    with pytest.raises(ParallelDataError, match="not a SIB-200"):
        detect_format(tmp_path)


def test_fingerprint_depends_on_order_and_boundaries() -> None:
    assert texts_fingerprint(["ab", "c"]) != texts_fingerprint(["a", "bc"])
    assert texts_fingerprint(["a", "b"]) != texts_fingerprint(["b", "a"])


def test_file_hash_column_picks_one_column(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text(
        "en\thi\n" + "".join(f"{e}\t{h}\n" for e, h in zip(EN, HI, strict=True)), encoding="utf-8"
    )
    data = load_parallel(f"{path}#en", f"romanize:hi:uroman@{path}#hi")
    assert data.src.texts == EN and data.tgt.texts == romanize(HI, "hi", "uroman")
    assert data.format == "tsv"
    lines = tmp_path / "a.txt"
    lines.write_text("x\n", encoding="utf-8")
    with pytest.raises(ParallelDataError, match="picks a column"):
        load_parallel(f"{lines}#en", str(lines))
