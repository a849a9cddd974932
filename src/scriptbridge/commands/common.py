"""Shared pieces of the CLI: the console, progress bars, turning errors into clean exits."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scriptbridge.utils.io import OutputExistsError, atomic_write_text, check_output

err_console = Console(stderr=True)
T = TypeVar("T")


def progress(transient: bool = True) -> Progress:
    """A rich progress bar on stderr (stdout stays clean for piped output)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )


def map_in_batches(
    fn: Callable[[list[str]], list[T]], items: Sequence[str], description: str, batch_size: int = 4096
) -> list[T]:
    """Apply ``fn`` to ``items`` batch by batch with a progress bar when there is more than one batch.

    Batches are large because backends parallelize and deduplicate within a batch."""
    items = list(items)
    if len(items) <= batch_size:
        return fn(items)
    out: list[T] = []
    with progress() as bar:
        task = bar.add_task(description, total=len(items))
        for i in range(0, len(items), batch_size):
            chunk = items[i : i + batch_size]
            out.extend(fn(chunk))
            bar.advance(task, len(chunk))
    return out


def fail(message: str, code: int = 2) -> typer.Exit:
    # escape: messages quote user text and pip extras ("scriptbridge[umap]") that rich would eat as markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


@contextlib.contextmanager
def cli_errors(*types: type[BaseException]) -> Iterator[None]:
    """Turn expected errors (bad input, missing files, refused overwrite) into a one-line message."""
    try:
        yield
    except (OutputExistsError, FileNotFoundError, *types) as e:
        raise fail(str(e)) from None


def write_output(text: str, output: Path | None, overwrite: bool) -> None:
    """Write to ``output`` atomically (refusing to clobber without ``overwrite``), or to stdout."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    check_output(output, overwrite)
    atomic_write_text(output, text)
    err_console.print(f"wrote {escape(str(output))}", highlight=False)
