"""Read texts from plain lines, CSV, TSV or JSONL, and write them back in the same shape.

The view commands (``romanize``, ``ipa``, ``detect``) convert one column and keep
everything else as it was: other columns, their order, the header, blank lines.
Errors name the file, the line and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Format = Literal["lines", "csv", "tsv", "jsonl"]
FORMATS: tuple[str, ...] = ("auto", "lines", "csv", "tsv", "jsonl")


class TableError(ValueError):
    pass


def guess_format(path: str | None, fmt: str = "auto") -> Format:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise TableError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt  # type: ignore[return-value]
    if path is None or path == "-":
        return "lines"
    suffix = Path(path).suffix.lower()
    return {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "lines")  # type: ignore[return-value]


@dataclass
class Table:
    """Rows of a file; ``texts`` are the values of the chosen column, in row order."""

    name: str
    format: Format
    column: str | None
    texts: list[str]
    header: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)  # csv/tsv: list[list[str]]; jsonl: list[dict | None]
    trailing_newline: bool = True

    def render(self, values: list[str] | list[list[str]], new_columns: list[str] | None = None) -> str:
        """The file's text with the column replaced by ``values`` (one per text), or, with
        ``new_columns``, with those columns added and the original column kept."""
        if len(values) != len(self.texts):
            raise TableError(f"internal: {len(values)} values for {len(self.texts)} texts")
        if self.format == "lines":
            out = "\n".join(v if isinstance(v, str) else "\t".join(v) for v in values)
            return out + ("\n" if self.trailing_newline and values else "")
        if self.format in ("csv", "tsv"):
            buf = io.StringIO()
            w = csv.writer(buf, delimiter="," if self.format == "csv" else "\t", lineterminator="\n")
            idx = self.header.index(self.column)  # type: ignore[arg-type]
            w.writerow(self.header + (new_columns or []))
            for row, v in zip(self.rows, values, strict=True):
                row = list(row)
                if new_columns:
                    row = row + (list(v) if not isinstance(v, str) else [v])
                else:
                    row[idx] = v
                w.writerow(row)
            return buf.getvalue()
        lines = []
        for obj, v in zip(self.rows, values, strict=True):
            if obj is None:  # a blank line in the input stays blank
                lines.append("")
                continue
            obj = dict(obj)
            if new_columns:
                vals = [v] if isinstance(v, str) else list(v)
                obj.update(zip(new_columns, vals, strict=True))
            else:
                obj[self.column] = v
            lines.append(json.dumps(obj, ensure_ascii=False))
        return "\n".join(lines) + "\n"


def _read_text(path: str | None) -> tuple[str, str]:
    if path is None or path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    if not p.exists():
        raise TableError(f"{path}: no such file")
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except UnicodeDecodeError as e:
        # find the line of the bad byte so the user can fix it
        data = p.read_bytes()
        line = data[: e.start].count(b"\n") + 1
        raise TableError(
            f"{path}:{line}: not valid UTF-8 (byte {e.start}); re-encode the file as UTF-8"
        ) from e


def read_table(path: str | None, fmt: str = "auto", column: str | None = None) -> Table:
    """Read ``path`` (``-`` or None: stdin) in format ``fmt``; pick ``column`` for csv/tsv/jsonl."""
    form = guess_format(path, fmt)
    text, name = _read_text(path)
    if form == "lines":
        if column is not None:
            raise TableError(f"{name}: --column needs a CSV, TSV or JSONL file (use --format csv|tsv|jsonl)")
        trailing = text.endswith("\n")
        lines = text.split("\n")
        if trailing:
            lines = lines[:-1]
        return Table(name, "lines", None, lines, trailing_newline=trailing)
    if form in ("csv", "tsv"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="," if form == "csv" else "\t")
        rows = list(reader)
        if not rows:
            raise TableError(f"{name}: empty file, expected a header row")
        header, body = rows[0], rows[1:]
        col = column or (header[0] if len(header) == 1 else None)
        if col is None and "text" in header:
            col = "text"
        if col is None:
            raise TableError(
                f"{name}:1: choose the text column with --column; columns are: {', '.join(header)}"
            )
        if col not in header:
            if col.isdigit() and int(col) < len(header):
                col = header[int(col)]
            else:
                raise TableError(f"{name}:1: no column {col!r}; columns are: {', '.join(header)}")
        idx = header.index(col)
        for i, r in enumerate(body, start=2):
            if len(r) != len(header):
                raise TableError(f"{name}:{i}: {len(r)} fields, the header has {len(header)}; check quoting")
        return Table(name, form, col, [r[idx] for r in body], header=header, rows=body)
    objs: list[dict | None] = []
    texts: list[str] = []
    col = column
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            objs.append(None)
            texts.append("")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TableError(f"{name}:{i}: invalid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(obj, dict):
            raise TableError(f"{name}:{i}: each JSONL line must be an object, got {type(obj).__name__}")
        if col is None:
            col = "text" if "text" in obj else None
            if col is None:
                raise TableError(
                    f"{name}:{i}: choose the text field with --column; fields are: {', '.join(obj)}"
                )
        if col not in obj:
            raise TableError(f"{name}:{i}: no field {col!r}; fields are: {', '.join(obj)}")
        val = obj[col]
        if not isinstance(val, str):
            raise TableError(f"{name}:{i}: field {col!r} is {type(val).__name__}, expected a string")
        objs.append(obj)
        texts.append(val)
    return Table(name, "jsonl", col, texts, rows=objs)
