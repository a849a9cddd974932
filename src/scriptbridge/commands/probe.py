"""``scriptbridge probe``: alignment diagnostics of an encoder on parallel text, layer by layer."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scriptbridge.commands.common import cli_errors, err_console, fail
from scriptbridge.commands.models import BatchSizeOpt, DeviceOpt, MaxLengthOpt, ModelOpt, Pooling, _load


class ParallelFormat(str, Enum):
    auto = "auto"
    tatoeba = "tatoeba"
    sib200 = "sib200"
    tsv = "tsv"
    csv = "csv"
    jsonl = "jsonl"
    lines = "lines"


class Projection(str, Enum):
    tsne = "tsne"
    umap = "umap"
    none = "none"


_SIDE_HELP = "a file or a view (see SIDES above)."


def _check_output_dir(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise fail(f"{output} exists and is not a folder; choose another --output")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise fail(f"{output} already exists and is not empty; pass --overwrite to replace its probe files")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def print_table(result: dict, console: Console | None = None) -> None:
    """The per-layer summary on the terminal, best layer in bold."""
    console = console or Console()
    src, tgt = escape(result["src"]["label"]), escape(result["tgt"]["label"])
    table = Table(
        title=f"{escape(result['model'])} · {src} ↔ {tgt} · {result['n_pairs']} pairs · {result['pooling']} pooling",
        caption="top-k retrieval in % (s→t: source to target); matched / random: mean cosine of "
        "translation pairs / random pairs; * best layer; margin scores are in probe.json",
        box=box.SIMPLE_HEAD,
    )
    maps = result.get("maps")
    names = ["layer", "top1 s→t", "top1 t→s", "top10 s→t", "CSLS s→t", "matched", "random", "gap"]
    for name in names + (["mapped"] if maps else []):
        table.add_column(name, justify="right")
    for key, m in result["layers"].items():
        best = int(key) == result["best_layer"]
        mapped = (["yes" if m.get("mapped") else "no"]) if maps else []
        table.add_row(
            key + (" *" if best else ""),
            _pct(m["top1_src2tgt"]),
            _pct(m["top1_tgt2src"]),
            _pct(m["top10_src2tgt"]),
            _pct(m["csls_top1_src2tgt"]),
            f"{m['matched_mean']:.3f}",
            "-" if m["random_mean"] is None else f"{m['random_mean']:.3f}",
            "-" if m["gap"] is None else f"{m['gap']:+.3f}",
            *mapped,
            style="bold" if best else None,
        )
    console.print(table)


def probe_cmd(
    src: Annotated[str, typer.Option("--src", "-s", help="Source side: " + _SIDE_HELP)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for probe.json and report.html.")],
    tgt: Annotated[
        str | None,
        typer.Option(
            "--tgt",
            "-t",
            help="Target side (same forms as --src). Optional when --src is a Tatoeba file (its English "
            "partner is used) or a two-column TSV/CSV/JSONL.",
        ),
    ] = None,
    model: ModelOpt = "embedded",
    fmt: Annotated[
        ParallelFormat,
        typer.Option("--format", help="How to read the files; auto-detected from names and headers."),
    ] = ParallelFormat.auto,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="For CSV/TSV/JSONL: the text columns, SRC,TGT (default: first two)."),
    ] = None,
    layers: Annotated[
        str, typer.Option("--layers", help="all, last, or layer numbers like 0,6,12 (0 = embeddings).")
    ] = "all",
    pooling: Annotated[
        Pooling | None, typer.Option("--pooling", help="mean or cls; default: the model's (mean).")
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix", help="Text put before every sentence; default: the model's ('query: ' for e5)."
        ),
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", min=2, help="Probe a random subset of this many pairs (seeded).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample, random pairs and plots.")] = 0,
    csls_k: Annotated[
        int, typer.Option("--csls-k", min=1, help="Neighbourhood size for CSLS and margin.")
    ] = 10,
    projection: Annotated[
        Projection,
        typer.Option(
            "--projection",
            help="2-D map in the report: tsne, umap (pip install 'scriptbridge\\[umap]') or none.",
        ),
    ] = Projection.tsne,
    plot_layers: Annotated[
        str | None,
        typer.Option(
            "--plot-layers", help="Layers to map in 2-D, e.g. 0,8,12; default: first, best and last."
        ),
    ] = None,
    batch_size: BatchSizeOpt = 32,
    max_length: MaxLengthOpt = 512,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache", help="Reuse embeddings cached in ~/.cache/scriptbridge/embeddings."
        ),
    ] = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the files of an earlier probe in --output.")
    ] = False,
    maps: Annotated[
        Path | None,
        typer.Option(
            "--maps",
            help="A folder from align-contextual: map the source side's vectors of each layer with that "
            "layer's map before scoring (layers without one are left as they are).",
        ),
    ] = None,
    device: DeviceOpt = None,
) -> None:
    """Measure how well an encoder aligns parallel sentences, at every layer.

    For each layer: retrieval top-1/5/10 in both directions (cosine, CSLS, margin), and the cosine similarity of translation pairs vs random pairs. Writes OUTPUT/probe.json and a self-contained OUTPUT/report.html (plots embedded, opens offline), and prints a table.

    SIDES. --src and --tgt each take a file: a Tatoeba file (tatoeba.hin-eng.hin; alone, its English partner is the target), a SIB-200 language folder or split TSV (joined with the other side on index_id), a file with one sentence a line, or a CSV/TSV/JSONL file (alone: its first two columns, or --columns SRC,TGT). Or a view made on the fly: romanize:LANG[:SCHEME] or ipa:LANG[:BACKEND] of the other side, or of a file with @FILE (romanize:hi@tatoeba.hin-eng.hin).

    Examples:

    scriptbridge probe --src tatoeba.hin-eng.eng -o out/hin   (English vs Hindi)

    scriptbridge probe --src tatoeba.hin-eng.eng --tgt romanize:hi@tatoeba.hin-eng.hin -o out/hin-rom

    scriptbridge probe --src tatoeba.hin-eng.hin --tgt romanize:hi:uroman -o out/deva-vs-latn

    scriptbridge probe --src sib200/eng_Latn/test.tsv --tgt sib200/arb_Latn/test.tsv -o out/arb --layers 0,6,12

    scriptbridge probe --src sib200/eng_Latn/test.tsv --tgt sib200/hin_Deva/test.tsv --maps out/maps-en-hi -o out/hin-mapped   (English mapped by align-contextual's maps)

    Details: docs/probe.md.
    """
    from scriptbridge.evaluate.probe import ProbeSettings, probe, probe_figures, write_probe
    from scriptbridge.models import EncoderLoadError
    from scriptbridge.tasks.parallel import ParallelDataError, load_parallel
    from scriptbridge.utils.runinfo import seed_everything

    _check_output_dir(output, overwrite)
    cols = tuple(c.strip() for c in columns.split(",")) if columns else None
    if cols is not None and len(cols) not in (1, 2):
        raise fail("--columns takes one or two column names, e.g. --columns en,hi")
    with cli_errors(ParallelDataError, EncoderLoadError, ValueError, ImportError):
        plot = [int(v) for v in plot_layers.split(",")] if plot_layers else None
        settings = ProbeSettings(
            layers=layers,
            pooling=pooling.value if pooling else None,
            prefix=prefix,
            batch_size=batch_size,
            max_length=max_length,
            sample=sample,
            seed=seed,
            csls_k=csls_k,
            plot_layers=plot,
            projection=projection.value,
            cache=cache,
            maps=str(maps) if maps is not None else None,
        )
        if projection == Projection.umap:
            from scriptbridge.evaluate.plots import umap_available

            if not umap_available():
                raise ImportError("--projection umap needs umap-learn: pip install 'scriptbridge[umap]'")
        seed_everything(seed)
        with err_console.status("reading the parallel data and making views..."):
            data = load_parallel(src, tgt, fmt=fmt.value, columns=cols)
        for note in data.notes:
            err_console.print(f"[dim]note:[/] {escape(note)}", highlight=False)
        encoder = _load(model, device)
        run = probe(encoder, data, settings, progress=True)
        with err_console.status("drawing the plots..."):
            figures = probe_figures(run, settings)
        paths = write_probe(output, run, figures)
    print_table(run.result)
    if run.result.get("maps"):
        info = run.result["maps"]
        err_console.print(
            f"[dim]source side mapped with {escape(info['path'])} at layers {info['mapped_layers']}"
            + (f"; no map for {info['unmapped_layers']}" if info["unmapped_layers"] else "")
            + "[/]",
            highlight=False,
        )
    cached = run.result["run"].get("cached_layers", 0)
    if cached:
        err_console.print(f"[dim]{cached} layer embeddings came from the cache[/]")
    err_console.print(f"wrote {escape(str(paths['json']))} and {escape(str(paths['html']))}", highlight=False)
