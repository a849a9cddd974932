"""Exhaustive identity check: scriptbridge's fast ``uroman`` against the uroman package.

    .venv/bin/python bench/uroman_identity.py [--data ../shared/data] [--limit N]

Every text below goes through both ``FastUroman().romanize(text, lcode)`` and
``uroman.Uroman(cache_size=65536).romanize_string(text, lcode=lcode)`` (after NFC,
which scriptbridge's API applies to every input), with ``lcode`` the ISO 639-3 code
scriptbridge passes for that language:

* Dakshina dev sentences, native side (hi, ml, ur), and the first column of the
  Dakshina dev lexicons;
* Aksharantar validation words (second column);
* the non-English side of every Tatoeba pair;
* the text column of every SIB-200 test set.

For each source it prints the number of texts, the mismatches (must be 0), and how
the distinct pieces (what uroman caches: the strings between delimiters) were
romanized: by the simple path, the full lattice port, or the uroman package itself
(fallback). Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sources(data: Path):
    """(name, scriptbridge language code, texts) for every source present."""
    for lang in ("hi", "ml", "ur"):
        d = data / "dakshina" / lang
        p = d / f"{lang}.romanized.rejoined.dev.native.txt"
        if p.exists():
            yield f"dakshina-sent/{lang}", lang, p.read_text(encoding="utf-8").splitlines()
        p = d / f"{lang}.translit.sampled.dev.tsv"
        if p.exists():
            words = [x.split("\t")[0] for x in p.read_text(encoding="utf-8").splitlines() if x]
            yield f"dakshina-lex/{lang}", lang, words
    for p in sorted((data / "aksharantar").glob("*.csv")):
        with open(p, encoding="utf-8", newline="") as f:
            words = [row[1] for row in csv.reader(f) if len(row) > 1]
        yield f"aksharantar/{p.stem.split('_')[0]}", p.stem.split("_")[0], words
    for p in sorted((data / "tatoeba").glob("tatoeba.*-eng.*")):
        lang = p.suffix[1:]
        if lang != "eng":
            yield f"tatoeba/{lang}", lang, p.read_text(encoding="utf-8").splitlines()
    for p in sorted((data / "sib200").glob("*/test.tsv")):
        with open(p, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        yield f"sib200/{p.parent.name}", p.parent.name, [r["text"] for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=0, help="at most N texts per source (0: all)")
    args = ap.parse_args()

    import uroman
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from scriptbridge.views.fast_uroman import FastUroman
    from scriptbridge.views.langs import iso639_3

    console = Console(width=120)
    real = uroman.Uroman(cache_size=65536)
    table = Table(title="fast uroman vs the uroman package")
    for col in ("source", "lcode", "texts", "mismatches", "pieces", "simple", "lattice", "fallback"):
        table.add_column(col, justify="left" if col in ("source", "lcode") else "right")
    total_bad = 0
    examples = []
    srcs = list(sources(args.data))
    if not srcs:
        console.print(f"[red]no data under {args.data}[/red]")
        return 2
    t0 = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("checking", total=len(srcs))
        for name, lang, texts in srcs:
            progress.update(task, description=f"{name} ({len(texts):,} texts)")
            lcode = iso639_3(lang)
            texts = [unicodedata.normalize("NFC", t) for t in texts if t.strip()]
            if args.limit:
                texts = texts[: args.limit]
            fast = FastUroman()  # fresh: the path counts are per source
            bad = 0
            for t in texts:
                got, want = fast.romanize(t, lcode), real.romanize_string(t, lcode=lcode)
                if got != want:
                    bad += 1
                    if len(examples) < 20:
                        examples.append((name, t, want, got))
            total_bad += bad
            n = fast.n_simple + fast.n_fast + fast.n_fallback
            table.add_row(
                name,
                str(lcode),
                f"{len(texts):,}",
                f"[red]{bad}[/red]" if bad else "0",
                f"{n:,}",
                *(f"{100 * k / n:.2f}%" if n else "-" for k in (fast.n_simple, fast.n_fast, fast.n_fallback)),
            )
            progress.advance(task)
    console.print(table)
    console.print(
        "pieces: distinct strings between delimiters (uroman's cache unit), per source; "
        "simple/lattice: the fast engine's two paths; fallback: the uroman package itself."
    )
    console.print(f"{time.perf_counter() - t0:.1f} s; total mismatches: {total_bad}")
    for name, t, want, got in examples:
        console.print(f"[red]{name}[/red] {t!r}\n  uroman: {want!r}\n  fast:   {got!r}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
