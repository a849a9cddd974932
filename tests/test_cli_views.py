"""The view commands end to end through the real CLI app."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from scriptbridge.cli import app

runner = CliRunner()


def _run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_romanize_stdin_to_stdout_keeps_blank_lines():
    r = _run("romanize", "--lang", "hi", "--scheme", "uroman", input="नमस्ते\n\nदुनिया\n")
    assert r.exit_code == 0, r.output
    assert r.stdout == "namaste\n\nduniyaa\n"


def test_romanize_tsv_new_column_and_overwrite_refusal(tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text("id\ttext\n1\tनमस्ते\n2\t\n", encoding="utf-8")
    out = tmp_path / "out.tsv"
    r = _run(
        "romanize",
        "-l",
        "hin",
        "-s",
        "uroman",
        "-i",
        str(src),
        "-c",
        "text",
        "--new-column",
        "rom",
        "-o",
        str(out),
    )
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == "id\ttext\trom\n1\tनमस्ते\tnamaste\n2\t\t\n"
    before = out.read_text(encoding="utf-8")
    r = _run("romanize", "-l", "hi", "-s", "uroman", "-i", str(src), "-o", str(out))
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert out.read_text(encoding="utf-8") == before, "a refused run must not touch the file"
    r = _run("romanize", "-l", "hi", "-s", "uroman", "-i", str(src), "-o", str(out), "--overwrite")
    assert r.exit_code == 0 and out.read_text(encoding="utf-8") == "id\ttext\n1\tnamaste\n2\t\n"


def test_romanize_jsonl(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "दुनिया", "label": 1}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = _run("romanize", "-l", "hi", "-s", "uroman", "-i", str(src))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"text": "duniyaa", "label": 1}


def test_romanize_errors_are_one_clean_line(tmp_path):
    bad = tmp_path / "in.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    r = _run("romanize", "-l", "hi", "-i", str(bad), "-c", "text")
    assert r.exit_code == 2 and "in.csv:1" in r.output and "columns are: a, b" in r.output
    r = _run("romanize", "-l", "hi", "-s", "nope", input="x\n")
    assert r.exit_code == 2 and "no romanize scheme 'nope'" in r.output
    r = _run("romanize", input="x\n")
    assert r.exit_code != 0 and "--lang" in r.output


def test_romanize_list_shows_backends():
    r = _run("romanize", "--list", "--lang", "hi")
    assert r.exit_code == 0 and "uroman" in r.output


def test_detect_lines_and_tsv(tmp_path):
    r = _run("detect", input="mera naam Ravi hai aur main Delhi se hoon\nनमस्ते\n\n")
    assert r.exit_code == 0, r.output
    lines = r.stdout.split("\n")
    assert json.loads(lines[0])["script"] == "Latn" and json.loads(lines[0])["romanized"] in ("hi", "ur")
    assert json.loads(lines[1])["script"] == "Deva" and lines[2] == ""
    src = tmp_path / "in.tsv"
    src.write_text("text\nनमस्ते\n", encoding="utf-8")
    r = _run("detect", "-i", str(src))
    assert r.exit_code == 0 and r.stdout == "text\tscript\tromanized\nनमस्ते\tDeva\t\n"


def test_python_dash_m_entry_point():
    r = subprocess.run(
        [sys.executable, "-m", "scriptbridge", "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "romanize" in r.stdout and "embed" in r.stdout


def test_ipa_text_and_tokens():
    r = _run("ipa", "--lang", "zh", input="银行\n\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.split("\n")[1] == "" and r.stdout.strip()
    r = _run("ipa", "--lang", "zh", "--tokens", "--sep", " | ", input="我 去 银行\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().count(" | ") == 2, "one transcription per token"
    r = _run("ipa", "--list", "--lang", "hi")
    assert r.exit_code == 0 and "epitran" in r.output
