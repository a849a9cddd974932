"""How close is each romanization scheme to what people actually type?

For Hindi, Malayalam and Urdu, every romanization backend registered for the
language is scored against human romanizations:

* Dakshina dev sentences (native script and a person's romanization, line-aligned):
  corpus character and word error rates (CER, WER). The roman side is as typed:
  English words, names and punctuation included.
* Dakshina's dev word lexicon (native word, attested romanization, count) and
  Aksharantar's validation word pairs: a native word often has several attested
  romanizations, and the output is scored against the *closest* one; word accuracy
  is the share of words whose output equals one of them exactly.

Both sides are lowercased and punctuation is replaced by spaces before scoring.

    python bench/romanization_quality.py --markdown docs/romanization_quality.md

reads ``../shared/data`` (relative to the repository root) unless ``--data-dir`` says otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scriptbridge.evaluate.text_metrics import ErrorCounts, char_errors, normalize, word_errors
from scriptbridge.views import list_backends, romanize

REPO = Path(__file__).resolve().parent.parent
LANGS = {"hi": "hin", "ml": "mal", "ur": "urd"}


def load_sentences(data: Path, lang: str, limit: int | None) -> tuple[list[str], list[str]]:
    d = data / "dakshina" / lang
    native = (d / f"{lang}.romanized.rejoined.dev.native.txt").read_text(encoding="utf-8").splitlines()
    roman = (d / f"{lang}.romanized.rejoined.dev.roman.txt").read_text(encoding="utf-8").splitlines()
    if len(native) != len(roman):
        raise SystemExit(f"{d}: native and roman sides differ in length")
    return native[:limit], roman[:limit]


def load_dakshina_lexicon(data: Path, lang: str, limit: int | None) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = defaultdict(list)
    path = data / "dakshina" / lang / f"{lang}.translit.sampled.dev.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] and parts[1]:
            refs[parts[0]].append(parts[1])
    return dict(list(refs.items())[:limit])


def load_aksharantar(data: Path, lang: str, limit: int | None) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = defaultdict(list)
    path = data / "aksharantar" / f"{LANGS[lang]}_valid.csv"
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[0] and row[1]:
                refs[row[1]].append(row[0])
    return dict(list(refs.items())[:limit])


def score_sentences(hyps: list[str], refs: list[str]) -> dict[str, float]:
    c, w = ErrorCounts(), ErrorCounts()
    for h, r in zip(hyps, refs, strict=True):
        c = c + char_errors(h, r)
        w = w + word_errors(h, r)
    return {"cer": c.rate, "wer": w.rate}


def score_words(hyps: list[str], refs: list[list[str]]) -> dict[str, float]:
    total, exact = ErrorCounts(), 0
    for h, rs in zip(hyps, refs, strict=True):
        best = min((char_errors(h, r) for r in rs), key=lambda e: (e.edits, -e.ref_len))
        total = total + best
        exact += normalize(h) in {normalize(r) for r in rs}
    return {"cer": total.rate, "acc": exact / max(len(hyps), 1)}


def run(data: Path, limit: int | None, console: Console) -> list[dict]:
    rows = []
    for lang in LANGS:
        sents = load_sentences(data, lang, limit)
        lexicons = {
            "dakshina": load_dakshina_lexicon(data, lang, limit),
            "aksharantar": load_aksharantar(data, lang, limit),
        }
        for b in list_backends("romanize", lang):
            if not b.available():
                console.print(f"[yellow]skip {b.name} for {lang}: {b.install_hint()}[/]")
                continue
            t0 = time.perf_counter()
            row: dict = {"lang": lang, "scheme": b.schemes[0], "backend": b.name, "license": b.license}
            row["sentences"] = score_sentences(romanize(sents[0], lang, b.name), sents[1])
            for name, lex in lexicons.items():
                words = list(lex)
                row[name] = score_words(romanize(words, lang, b.name), [lex[w] for w in words])
            row["seconds"] = round(time.perf_counter() - t0, 1)
            row["n"] = {"sentences": len(sents[0]), **{k: len(v) for k, v in lexicons.items()}}
            rows.append(row)
            console.print(f"{lang} {b.name}: done in {row['seconds']}s")
    return rows


COLUMNS = [
    ("sent CER", "sentences", "cer"),
    ("sent WER", "sentences", "wer"),
    ("Dakshina word acc", "dakshina", "acc"),
    ("Dakshina word CER", "dakshina", "cer"),
    ("Aksharantar word acc", "aksharantar", "acc"),
    ("Aksharantar word CER", "aksharantar", "cer"),
]


def _best(rows: list[dict], lang: str, group: str, key: str) -> float:
    vals = [r[group][key] for r in rows if r["lang"] == lang]
    return max(vals) if key == "acc" else min(vals)


def rich_table(rows: list[dict]) -> Table:
    t = Table(title="Romanization quality against human romanizations (lower CER/WER, higher acc = better)")
    t.add_column("lang")
    t.add_column("scheme (backend)")
    for title, _, _ in COLUMNS:
        t.add_column(title, justify="right")
    for r in rows:
        cells = []
        for _, g, k in COLUMNS:
            v = f"{r[g][k]:.3f}"
            cells.append(f"[bold green]{v}[/]" if r[g][k] == _best(rows, r["lang"], g, k) else v)
        t.add_row(r["lang"], f"{r['scheme']} ({r['backend']})", *cells)
    return t


def markdown_table(rows: list[dict]) -> str:
    head = "| lang | scheme (backend) | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (2 + len(COLUMNS))]
    for r in rows:
        cells = []
        for _, g, k in COLUMNS:
            v = f"{r[g][k]:.3f}"
            cells.append(f"**{v}**" if r[g][k] == _best(rows, r["lang"], g, k) else v)
        lines.append(f"| {r['lang']} | {r['scheme']} ({r['backend']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


START, END = "<!-- table:start -->", "<!-- table:end -->"


def write_markdown(path: Path, rows: list[dict], command: str) -> None:
    """Write the table into ``path``: between the table markers when the file has them (the prose
    around it is kept), else as a new file."""
    n = rows[0]["n"] if rows else {}
    block = (
        f"{START}\n_Generated by `{command}`: sentences are Dakshina dev (up to {n.get('sentences')} per "
        "language), words are the Dakshina dev lexicon and Aksharantar validation pairs, each scored "
        f"against its closest attested romanization. Best per language in bold._\n\n{markdown_table(rows)}\n{END}"
    )
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in old and END in old:
        text = old[: old.index(START)] + block + old[old.index(END) + len(END) :]
    else:
        text = f"# Romanization quality\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=None, help="at most N sentences and N words per set")
    ap.add_argument("--output", type=Path, help="write the scores as JSON")
    ap.add_argument("--markdown", type=Path, help="write the table as a Markdown file")
    args = ap.parse_args(argv)
    console = Console()
    rows = run(args.data_dir, args.limit, console)
    console.print(rich_table(rows))
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.markdown:
        command = "python bench/romanization_quality.py" + (f" --limit {args.limit}" if args.limit else "")
        write_markdown(args.markdown, rows, command)
        console.print(f"table written to {args.markdown}")


if __name__ == "__main__":
    main()
