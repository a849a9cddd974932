import json

import pytest

from scriptbridge.utils.tables import TableError, read_table


def test_lines_roundtrip_keeps_blank_lines_and_trailing_newline(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("a\n\nb\n", encoding="utf-8")
    t = read_table(str(p))
    assert t.texts == ["a", "", "b"]
    assert t.render([x.upper() for x in t.texts]) == "A\n\nB\n"


def test_lines_without_trailing_newline(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("a\nb", encoding="utf-8")
    t = read_table(str(p))
    assert t.render(["x", "y"]) == "x\ny"


def test_tsv_column_replaced_and_added(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text("id\ttext\tlabel\n1\tनमस्ते\t2\n2\tदुनिया\t0\n", encoding="utf-8")
    t = read_table(str(p), column="text")
    assert t.texts == ["नमस्ते", "दुनिया"]
    assert t.render(["a", "b"]) == "id\ttext\tlabel\n1\ta\t2\n2\tb\t0\n"
    assert t.render(["a", "b"], ["rom"]) == "id\ttext\tlabel\trom\n1\tनमस्ते\t2\ta\n2\tदुनिया\t0\tb\n"


def test_csv_defaults_to_text_column_and_handles_quotes(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('text,label\n"hello, world",1\n', encoding="utf-8")
    t = read_table(str(p))
    assert t.column == "text" and t.texts == ["hello, world"]
    assert t.render(["x"]) == "text,label\nx,1\n"


def test_csv_missing_column_names_file_line_and_columns(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"in\.csv:1: .*columns are: a, b"):
        read_table(str(p), column="text")
    with pytest.raises(TableError, match="--column"):
        read_table(str(p))


def test_csv_ragged_row_is_reported(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("text,label\nx,1\ny\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"in\.csv:3: 1 fields"):
        read_table(str(p))


def test_jsonl_field_and_errors(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "नमस्ते", "y": 1}\n\n{"text": "x", "y": 2}\n', encoding="utf-8")
    t = read_table(str(p))
    assert t.texts == ["नमस्ते", "", "x"]
    out = t.render(["a", "", "b"]).splitlines()
    assert json.loads(out[0]) == {"text": "a", "y": 1} and out[1] == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(TableError, match=r"bad\.jsonl:2: invalid JSON"):
        read_table(str(bad))


def test_invalid_utf8_names_the_line(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"ok\nbad \xff here\n")
    with pytest.raises(TableError, match=r"in\.txt:2: not valid UTF-8"):
        read_table(str(p))


def test_missing_file(tmp_path):
    with pytest.raises(TableError, match="no such file"):
        read_table(str(tmp_path / "nope.txt"))


def test_atomic_write_gives_normal_permissions(tmp_path):
    """mkstemp makes 0600 files; written outputs get the umask's mode, or keep the old file's mode."""
    import os
    import stat

    from scriptbridge.utils.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        (tmp_path / "old.txt").write_text("a")
        os.chmod(tmp_path / "old.txt", 0o640)
        atomic_write_text(tmp_path / "old.txt", "b")
        assert stat.S_IMODE((tmp_path / "old.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)
