"""``scriptbridge romanize``, ``ipa`` and ``detect``: script views of files, same shape in and out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from scriptbridge.commands.common import cli_errors, err_console, map_in_batches, write_output
from scriptbridge.utils.io import check_output
from scriptbridge.utils.tables import TableError, read_table
from scriptbridge.views.langs import UnknownLanguageError

InputOpt = Annotated[
    str | None,
    typer.Option("--input", "-i", help="Input file (one text a line, or CSV/TSV/JSONL); default: stdin."),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Output file; default: stdout. Written atomically.")
]
ColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--column",
        "-c",
        help="Column (CSV/TSV header name or index) or JSONL field holding the text; "
        "default: 'text', or the only column.",
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="Input format: auto (from the extension), lines, csv, tsv, jsonl."),
]
NewColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--new-column", help="CSV/TSV/JSONL: add the result as this new column instead of replacing the text."
    ),
]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --output file.")]


def _list_backends(kind: str, lang: str | None) -> None:
    from scriptbridge.views.registry import backends, default_scheme

    table = RichTable(title=f"{kind} backends" + (f" for {lang}" if lang else ""), show_lines=False)
    table.add_column("name", no_wrap=True)
    table.add_column("schemes", no_wrap=True)
    if lang is None:  # with --lang every row supports it: no need for the column
        table.add_column("languages", max_width=24)
    table.add_column("license", max_width=22)
    table.add_column("status")
    table.add_column("description", ratio=1)
    default = default_scheme(kind, lang) if lang else None  # type: ignore[arg-type]
    for b in backends(kind, lang):  # type: ignore[arg-type]
        status = "ok" if b.available() else f"needs: {b.install_hint()}"
        if default and default in (b.name, *b.schemes) and b.available():
            status = "[bold green]default[/]"
        row = [b.name, ", ".join(b.schemes)]
        if lang is None:
            row.append("any" if b.languages is None else ", ".join(sorted(b.languages)))
        table.add_row(*row, b.license, status, b.description)
    err_console.print(table)


def _run_view(
    convert,
    input: str | None,
    output: Path | None,
    column: str | None,
    fmt: str,
    new_column: str | None,
    overwrite: bool,
    description: str,
) -> None:
    with cli_errors(TableError, UnknownLanguageError, ValueError):
        if output is not None and str(output) != "-":
            check_output(output, overwrite)  # fail before the (possibly long) conversion, not after
        table = read_table(input, fmt, column)
        values = map_in_batches(convert, table.texts, description)
        if new_column and table.format == "lines":
            raise TableError("--new-column needs a CSV, TSV or JSONL input")
        text = table.render(values, [new_column] if new_column else None)
        write_output(text, output, overwrite)


def romanize_cmd(
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="Language of the text: hi, hin or hin_Deva.")
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            "-s",
            help="uroman, colloquial, itrans, iast, hepburn, pinyin, rr, national... "
            "Default: the best-measured scheme for the language (see --list).",
        ),
    ] = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    column: ColumnOpt = None,
    fmt: FormatOpt = "auto",
    new_column: NewColumnOpt = None,
    overwrite: OverwriteOpt = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the romanization schemes (for --lang) and exit.")
    ] = False,
) -> None:
    """Romanize text: one text a line, or a column of a CSV/TSV/JSONL file; the output has the same shape.

    Examples:

      echo "नमस्ते दुनिया" | scriptbridge romanize --lang hi

      scriptbridge romanize --lang hi --scheme uroman -i tweets.tsv -c text --new-column text_rom -o out.tsv

      scriptbridge romanize --list --lang ja
    """
    from scriptbridge.views import romanize

    if list_:
        _list_backends("romanize", lang)
        return
    if not lang:
        raise typer.BadParameter("--lang is required (e.g. --lang hi)", param_hint="--lang")
    with cli_errors(ValueError):
        from scriptbridge.views.registry import resolve

        resolve("romanize", lang, scheme)  # an unknown scheme fails now, with the list of known ones
    _run_view(
        lambda xs: romanize(xs, lang, scheme),
        input,
        output,
        column,
        fmt,
        new_column,
        overwrite,
        f"romanize {lang}",
    )


def ipa_cmd(
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="Language of the text: zh, ja, ko, vi, hi...")
    ] = None,
    backend: Annotated[str | None, typer.Option("--backend", "-b", help="IPA backend (see --list).")] = None,
    tokens: Annotated[
        bool,
        typer.Option(
            "--tokens",
            help="Treat each text as whitespace-separated tokens and output one IPA "
            "string per token (joined by --sep), using the sentence as context.",
        ),
    ] = False,
    sep: Annotated[
        str, typer.Option("--sep", help="Separator between token transcriptions with --tokens.")
    ] = " ",
    input: InputOpt = None,
    output: OutputOpt = None,
    column: ColumnOpt = None,
    fmt: FormatOpt = "auto",
    new_column: NewColumnOpt = None,
    overwrite: OverwriteOpt = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the IPA backends (for --lang) and exit.")
    ] = False,
) -> None:
    """Transcribe text into IPA (broad phonemic), same shape in and out as `romanize`.

    Examples:

      echo "我喜欢银行" | scriptbridge ipa --lang zh

      echo "我 喜欢 银行" | scriptbridge ipa --lang zh --tokens --sep " | "
    """
    from scriptbridge.views import to_ipa, to_ipa_tokens_batch

    if list_:
        _list_backends("ipa", lang)
        return
    if not lang:
        raise typer.BadParameter("--lang is required (e.g. --lang zh)", param_hint="--lang")
    with cli_errors(ValueError):
        from scriptbridge.views.registry import resolve

        resolve("ipa", lang, backend)

    def convert(xs: list[str]) -> list[str]:
        if not tokens:
            return to_ipa(xs, lang, backend)
        sents = [x.split() for x in xs]
        return [sep.join(t) for t in to_ipa_tokens_batch(sents, lang, backend)]

    _run_view(convert, input, output, column, fmt, new_column, overwrite, f"ipa {lang}")


def detect_cmd(
    input: InputOpt = None,
    output: OutputOpt = None,
    column: ColumnOpt = None,
    fmt: FormatOpt = "auto",
    overwrite: OverwriteOpt = False,
    threshold: Annotated[
        float, typer.Option(help="Minimum marker-word fraction to call Latin text romanized.")
    ] = 0.15,
) -> None:
    """Detect each text's script(s) and whether Latin text looks like a romanized language.

    Lines in, JSON lines out ({"script", "scripts", "mixed", "languages", "romanized", ...}); for
    CSV/TSV/JSONL input the columns `script` and `romanized` are added. The romanized guess is a
    simple marker-word heuristic (see `scriptbridge.views.detect`), meant for sentences, not words.

    Example:

      printf 'mera naam Ravi hai\\nनमस्ते\\n' | scriptbridge detect
    """
    from scriptbridge.views import detect

    with cli_errors(TableError, ValueError):
        table = read_table(input, fmt, column)
        results = [detect(t, threshold) for t in table.texts]
        if table.format == "lines":
            values: list = [
                json.dumps(r.as_dict(), ensure_ascii=False) if t.strip() else ""
                for r, t in zip(results, table.texts, strict=True)
            ]
            text = table.render(values)
        else:
            values = [[r.script or "", r.romanized or ""] for r in results]
            text = table.render(values, ["script", "romanized"])
        write_output(text, output, overwrite)
