"""Speed of scriptbridge's ``uroman`` scheme against the ``uroman`` package, start-up included.

    .venv/bin/python bench/romanize_speed.py --n 10000 --lang hi

Each side runs in a fresh Python process (so nothing is shared and start-up counts):

* ``uroman``: ``import uroman``; ``Uroman(cache_size=65536)``; ``romanize_string(t, lcode=...)``
  for every text;
* ``scriptbridge``: ``import scriptbridge.views``; ``romanize(texts, lang, "uroman")``.

"start-up" is the time from the first line of the child (interpreter already up) until
the romanizer is ready (imports, table loading); "work" is the romanizing itself (for
scriptbridge it includes the lazy loading of the per-script table shards); "process"
is the child's whole wall time as seen by the parent, interpreter start included. The
ratio is taken on "process". scriptbridge runs twice: with a fresh, empty cache folder
(cold: its tables are built from uroman's data files first) and then with that cache
(warm). The inputs are NFC-normalized first (scriptbridge's API does that to every
text), so both sides see the same strings; the outputs must be identical, otherwise
the script exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
LCODES = {"hi": "hin", "ur": "urd", "ml": "mal", "ar": "ara", "ru": "rus", "zh": "zho", "ja": "jpn"}


def _child(side: str, lang: str, in_path: str, out_path: str) -> None:
    t0 = time.perf_counter()
    texts = Path(in_path).read_text(encoding="utf-8").split("\n")
    if side == "uroman":
        import uroman

        u = uroman.Uroman(cache_size=65536)
        lcode = LCODES.get(lang, lang)
        t1 = time.perf_counter()
        outs = [u.romanize_string(t, lcode=lcode) for t in texts]
    else:
        from scriptbridge.views import resolve, romanize

        resolve("romanize", lang, "uroman").converter()  # imports and loads the tables
        t1 = time.perf_counter()
        outs = romanize(texts, lang, "uroman")
    t2 = time.perf_counter()
    Path(out_path).write_text("\n".join(outs), encoding="utf-8")
    print(json.dumps({"startup": t1 - t0, "work": t2 - t1}))


def _run(side: str, lang: str, in_path: Path, out_path: Path, env: dict) -> dict:
    t0 = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            side,
            "--lang",
            lang,
            "--input",
            str(in_path),
            "--out",
            str(out_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{side} child failed:\n{res.stderr}")
    d = json.loads(res.stdout.strip().splitlines()[-1])
    d["process"] = wall
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--n", type=int, default=10000, help="number of sentences (the input is repeated as needed)"
    )
    ap.add_argument("--lang", default="hi")
    ap.add_argument(
        "--input", type=Path, default=None, help="one sentence per line (default: Dakshina dev, native side)"
    )
    ap.add_argument("--child", choices=["uroman", "scriptbridge"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.lang, str(args.input), args.out)
        return

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    inp = args.input or DATA / "dakshina" / args.lang / f"{args.lang}.romanized.rejoined.dev.native.txt"
    if not inp.exists():
        sys.exit(f"input not found: {inp}")
    lines = [
        unicodedata.normalize("NFC", x) for x in inp.read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    texts = (lines * (args.n // max(len(lines), 1) + 1))[: args.n]
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        in_path = tmp_p / "in.txt"
        in_path.write_text("\n".join(texts), encoding="utf-8")
        env = dict(os.environ, SCRIPTBRIDGE_CACHE=str(tmp_p / "cache"))  # starts empty: cold
        runs = [
            ("uroman", "uroman", {}),
            ("scriptbridge (cold cache)", "scriptbridge", env),
            ("scriptbridge (warm cache)", "scriptbridge", env),
        ]
        results, outputs = {}, {}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"romanizing {len(texts):,} {args.lang} sentences", total=len(runs))
            for label, side, extra in runs:
                progress.update(task, description=f"{label}: {len(texts):,} sentences")
                out_path = tmp_p / f"out-{len(results)}.txt"
                results[label] = _run(side, args.lang, in_path, out_path, {**os.environ, **extra})
                outputs[label] = out_path.read_text(encoding="utf-8").split("\n")
                progress.advance(task)

    ref = outputs["uroman"]
    table = Table(title=f"{len(texts):,} {args.lang} sentences from {inp.name} (fresh process per row)")
    for col in ("", "sentences/s", "start-up s", "work s", "process s", "speed-up", "identical"):
        table.add_column(col, justify="right" if col else "left")
    ok = True
    base = results["uroman"]["process"]
    for label, r in results.items():
        same = outputs[label] == ref
        n_diff = sum(a != b for a, b in zip(outputs[label], ref, strict=False)) + abs(
            len(outputs[label]) - len(ref)
        )
        ok &= same
        table.add_row(
            label,
            f"{len(texts) / r['process']:,.0f}",
            f"{r['startup']:.3f}",
            f"{r['work']:.3f}",
            f"{r['process']:.3f}",
            f"{base / r['process']:.1f}x",
            "yes" if same else f"NO ({n_diff} differ)",
        )
    console.print(table)
    if not ok:
        console.print("[red]outputs differ from the uroman package[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
