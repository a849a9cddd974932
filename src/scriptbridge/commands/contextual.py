"""``scriptbridge align-contextual``: per-layer orthogonal maps between two languages' contextual word
vectors, learnt on parallel sentences."""

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
from scriptbridge.commands.models import DeviceOpt, MaxLengthOpt, ModelOpt, _load
from scriptbridge.commands.probe import ParallelFormat


class Pairing(str, Enum):
    argmax = "argmax"
    dictionary = "dictionary"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def print_align_table(maps, console: Console | None = None) -> None:
    """Held-out word retrieval per layer, before and after the map (argmax layer marked *)."""
    console = console or Console()
    info = maps.info
    table = Table(
        title=f"{escape(str(maps.encoder))} · {maps.src_lang or 'src'} → {maps.tgt_lang or 'tgt'} · "
        f"{maps.pairing} pairs: {info.get('train_word_pairs', 0)} to learn, "
        f"{info.get('held_out_word_pairs', 0)} held out",
        caption="P@1: each held-out source word retrieves its partner among all held-out target words "
        "(cosine; CSLS); cos: mean cosine of the held-out pairs; * the argmax layer",
        box=box.SIMPLE_HEAD,
    )
    for name in ("layer", "P@1 before", "P@1 after", "CSLS before", "CSLS after", "cos before", "cos after"):
        table.add_column(name, justify="right")
    for layer in maps.layers:
        m = maps.metrics.get(str(layer), {})
        cos_b, cos_a = m.get("cosine_before"), m.get("cosine_after")
        table.add_row(
            str(layer) + (" *" if layer == maps.argmax_layer else ""),
            _pct(m.get("p@1_before")),
            _pct(m.get("p@1_after")),
            _pct(m.get("csls_p@1_before")),
            _pct(m.get("csls_p@1_after")),
            "-" if cos_b is None else f"{cos_b:.3f}",
            "-" if cos_a is None else f"{cos_a:.3f}",
        )
    console.print(table)


def align_contextual_cmd(
    src: Annotated[
        str,
        typer.Option(
            "--src",
            "--parallel",
            "-s",
            help="Source side, or both sides: a file as in `scriptbridge probe` (SIB-200 folder or TSV, "
            "Tatoeba file, CoNLL-U, lines, or a two-column TSV/CSV/JSONL).",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for maps.safetensors, align.json and run.json.")
    ],
    tgt: Annotated[
        str | None,
        typer.Option("--tgt", "-t", help="Target side (same forms); optional for two-column files."),
    ] = None,
    model: ModelOpt = "embedded",
    pairs: Annotated[
        Pairing,
        typer.Option(
            "--pairs",
            help="argmax: mutual nearest words by cosine at --argmax-layer; dictionary: pairs listed in --dict.",
        ),
    ] = Pairing.argmax,
    dictionary: Annotated[
        Path | None,
        typer.Option("--dict", help="Bilingual dictionary for --pairs dictionary ('source target' a line)."),
    ] = None,
    argmax_layer: Annotated[
        int | None,
        typer.Option("--argmax-layer", help="Layer whose vectors pair the words; default 2/3 up (8 of 12)."),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="argmax: keep pairs with cosine >= this.")
    ] = None,
    layers: Annotated[
        str,
        typer.Option("--layers", help="Layers to map: all, last, or numbers like 0,4,8,12 (0 = embeddings)."),
    ] = "all",
    held_out: Annotated[
        float,
        typer.Option("--held-out", min=0.0, max=0.9, help="Fraction of sentence pairs kept out to measure."),
    ] = 0.1,
    sample: Annotated[
        int | None, typer.Option("--sample", min=2, help="Use a random subset of this many pairs (seeded).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample and the held-out split.")] = 0,
    fmt: Annotated[
        ParallelFormat, typer.Option("--format", help="How to read the files; auto-detected.")
    ] = ParallelFormat.auto,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="For CSV/TSV/JSONL: the text columns, SRC,TGT (default: first two)."),
    ] = None,
    prefix: Annotated[
        str,
        typer.Option(
            "--prefix", help="Words put before every sentence (no vectors); default none, as the tagger."
        ),
    ] = "",
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, help="Sentence pairs encoded at a time (a memory bound)."),
    ] = 32,
    max_length: MaxLengthOpt = 512,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the files of earlier maps.")
    ] = False,
    device: DeviceOpt = None,
) -> None:
    """Learn one orthogonal map per layer that moves source-language word vectors onto the target's.

    Each sentence pair's words are paired (mutual nearest neighbours at one layer, or a bilingual dictionary), each word's vector at a layer is the mean of its subword vectors, and Procrustes solves x @ W = y per layer on the pairs. A held-out part of the sentence pairs measures word retrieval before and after. Use the maps with `probe --maps DIR` or in a token recipe (method.contextual_map: {path: DIR, layer: 8}).

    Words: whitespace with punctuation split off; Japanese with fugashi, Chinese with jieba; CoNLL-U files give their FORM column. Maps need many word pairs (several times the hidden size): use hundreds of sentence pairs.

    Examples:

    scriptbridge align-contextual -s sib200/eng_Latn/train.tsv -t sib200/hin_Deva/train.tsv -o out/maps-en-hi

    scriptbridge align-contextual -s sib200/eng_Latn -t sib200/jpn_Jpan --pairs dictionary --dict muse/en-ja.0-5000.txt -o out/maps-en-ja

    scriptbridge align-contextual --parallel pairs.tsv --layers 0,4,8,12 --argmax-layer 6 -o out/maps

    Details: docs/contextual_alignment.md.
    """
    from scriptbridge.align.contextual import (
        META_FILE,
        AlignSettings,
        ContextualMaps,
        ContextualMapsError,
        align_contextual,
    )
    from scriptbridge.models import EncoderLoadError
    from scriptbridge.tasks.parallel import ParallelDataError, load_parallel
    from scriptbridge.utils.io import check_output
    from scriptbridge.utils.runinfo import seed_everything
    from scriptbridge.views.code_switch import DictionaryError

    if pairs == Pairing.dictionary and dictionary is None:
        raise fail("--pairs dictionary needs --dict FILE (e.g. a MUSE en-hi.0-5000.txt)")
    if pairs == Pairing.argmax and dictionary is not None:
        raise fail("--dict is used with --pairs dictionary only; add --pairs dictionary or drop --dict")
    cols = tuple(c.strip() for c in columns.split(",")) if columns else None
    if cols is not None and len(cols) not in (1, 2):
        raise fail("--columns takes one or two column names, e.g. --columns en,hi")
    errors = (ParallelDataError, EncoderLoadError, ContextualMapsError, DictionaryError, ValueError)
    with cli_errors(*errors):
        for name in (META_FILE, "maps.safetensors", "run.json"):
            check_output(output / name, overwrite)  # refuse before the slow part, not after it
        settings = AlignSettings(
            pairing=pairs.value,
            layers=layers,
            argmax_layer=argmax_layer,
            threshold=threshold,
            held_out=held_out,
            sample=sample,
            seed=seed,
            batch_size=batch_size,
            max_length=max_length,
            prefix=prefix,
        )
        lexicon = None
        if dictionary is not None:
            from scriptbridge.evaluate.bli import read_dictionary

            lexicon = read_dictionary(str(dictionary))
        seed_everything(seed)
        with err_console.status("reading the parallel data..."):
            data = load_parallel(src, tgt, fmt=fmt.value, columns=cols)
        for note in data.notes:
            err_console.print(f"[dim]note:[/] {escape(note)}", highlight=False)
        encoder = _load(model, device)
        maps: ContextualMaps = align_contextual(
            encoder,
            data,
            settings,
            dictionary=lexicon,
            dictionary_name=str(dictionary) if dictionary else None,
            progress=True,
        )
        maps.save(output, overwrite=overwrite)
    print_align_table(maps)
    for warning in maps.info.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    err_console.print(
        f"wrote {escape(str(output))}/maps.safetensors and align.json ({len(maps.layers)} layers, "
        f"{maps.n_sentence_pairs} sentence pairs)",
        highlight=False,
    )
