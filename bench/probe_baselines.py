"""The "before" numbers: how well the embedded encoder aligns scripts, per layer, on real data.

Runs `scriptbridge probe` (through its Python API, with the embedding cache) on:

- Tatoeba xxx-eng for hin urd mal jpn kor cmn, English against the native script, the uroman
  romanization and the colloquial romanization (our default scheme per language), and the native
  script against each romanization;
- SIB-200 test: English against hin_Deva, urd_Arab, arb_Arab and arb_Latn (real romanized Arabic).

Writes one ``probe.json`` per setting under ``--runs`` and a Markdown page of per-layer tables
(``--output``, default: print).  Every alignment method later is judged against these numbers.

    python bench/probe_baselines.py --output docs/probe_baselines.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TATOEBA = ("hin", "urd", "mal", "jpn", "kor", "cmn")
LANG2 = {"hin": "hi", "urd": "ur", "mal": "ml", "jpn": "ja", "kor": "ko", "cmn": "zh"}
SIB = ("hin_Deva", "urd_Arab", "arb_Arab", "arb_Latn")


def settings_list(data: Path) -> list[tuple[str, str, str, str]]:
    """(group, name, src spec, tgt spec) for every probe."""
    out = []
    for code in TATOEBA:
        eng = str(data / "tatoeba" / f"tatoeba.{code}-eng.eng")
        native = str(data / "tatoeba" / f"tatoeba.{code}-eng.{code}")
        lang = LANG2[code]
        out.append(("tatoeba", f"{code}: eng → native", eng, native))
        out.append(("tatoeba", f"{code}: eng → uroman", eng, f"romanize:{lang}:uroman@{native}"))
        out.append(("tatoeba", f"{code}: eng → colloquial", eng, f"romanize:{lang}@{native}"))
        out.append(("script", f"{code}: native → uroman", native, f"romanize:{lang}:uroman"))
        out.append(("script", f"{code}: native → colloquial", native, f"romanize:{lang}"))
    for name in SIB:
        eng = str(data / "sib200" / "eng_Latn" / "test.tsv")
        out.append(("sib200", f"eng → {name}", eng, str(data / "sib200" / name / "test.tsv")))
    return out


def _row(name: str, result: dict, key: str) -> str:
    cells = []
    for layer, m in result["layers"].items():
        value = m[key]
        text = "–" if value is None else (f"{100 * value:.1f}" if key != "gap" else f"{value:.3f}")
        cells.append(f"**{text}**" if int(layer) == result["best_layer"] else text)
    return f"| {name} | " + " | ".join(cells) + " |"


def markdown(runs: list[tuple[str, str, dict]], seconds: float, command: str) -> str:
    first = runs[0][2]
    info = first["model_info"]
    layers = list(first["layers"])
    head = "| setting | " + " | ".join(f"L{k}" for k in layers) + " |\n|---|" + "---:|" * len(layers)
    lines = [
        "# Probe baselines: the embedded encoder before any alignment training",
        "",
        f"Model: {first['model']} ({info.get('layers')} layers, hidden {info.get('hidden')}), "
        f"{first['pooling']} pooling, prefix {first['prefix']!r}; L0 = embeddings, L{layers[-1]} = last layer. "
        "Bold: the best layer (mean top-1 of both directions). Tatoeba: 1000 pairs per language "
        "(mal 687); SIB-200: the 204 test sentences. *uroman*: `romanize:LANG:uroman`; *colloquial*: our "
        "default romanization per language (Hinglish, Roman Urdu, Manglish, Hepburn, Revised "
        "Romanization, toneless pinyin).",
        "",
        f"Reproduce: `{command}` ({seconds / 60:.1f} min on this machine, embeddings cached afterwards).",
        "",
    ]
    sections = [
        ("Top-1 retrieval, source → target (%)", "top1_src2tgt"),
        ("Top-1 retrieval, target → source (%)", "top1_tgt2src"),
        ("CSLS top-1, source → target (%)", "csls_top1_src2tgt"),
        ("Matched minus random pair cosine (gap)", "gap"),
    ]
    for title, key in sections:
        lines += [f"## {title}", ""]
        for group, label in (
            ("tatoeba", "Tatoeba, English vs"),
            ("script", "Tatoeba, native script vs"),
            ("sib200", "SIB-200 test"),
        ):
            rows = [(n, r) for g, n, r in runs if g == group]
            if not rows:
                continue
            lines += [f"*{label}*", "", head]
            lines += [_row(n, r, key) for n, r in rows]
            lines.append("")
    lines += [
        "## Last layer at a glance",
        "",
        "| setting | top-1 s→t | top-1 t→s | top-10 s→t | CSLS s→t | margin s→t | matched | random | gap |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, n, r in runs:
        m = r["layers"][layers[-1]]
        lines.append(
            f"| {n} | {100 * m['top1_src2tgt']:.1f} | {100 * m['top1_tgt2src']:.1f} | {100 * m['top10_src2tgt']:.1f} "
            f"| {100 * m['csls_top1_src2tgt']:.1f} | {100 * m['margin_top1_src2tgt']:.1f} | {m['matched_mean']:.3f} "
            f"| {m['random_mean']:.3f} | {m['gap']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: %(default)s)")
    ap.add_argument("--model", default="embedded")
    ap.add_argument(
        "--runs", type=Path, default=REPO / "out" / "probe_baselines", help="per-probe probe.json files"
    )
    ap.add_argument("--output", type=Path, help="write the Markdown page here (default: stdout)")
    ap.add_argument("--only", help="run only settings whose name contains this text")
    args = ap.parse_args(argv)

    from scriptbridge.evaluate.probe import ProbeSettings, probe
    from scriptbridge.evaluate.probe import _jsonable as jsonable
    from scriptbridge.models import load_encoder
    from scriptbridge.tasks.parallel import load_parallel
    from scriptbridge.utils.io import atomic_write_text

    if not args.data.is_dir():
        print(f"no data folder at {args.data}; pass --data", file=sys.stderr)
        return 2
    started = time.time()
    encoder = load_encoder(args.model)
    settings = ProbeSettings(layers="all", projection="none")
    runs = []
    todo = [s for s in settings_list(args.data) if not args.only or args.only in s[1]]
    for i, (group, name, src, tgt) in enumerate(todo, 1):
        t0 = time.time()
        result = probe(encoder, load_parallel(src, tgt), settings).result
        folder = args.runs / name.replace(":", "").replace(" → ", "-vs-").replace(" ", "_")
        atomic_write_text(
            folder / "probe.json", json.dumps(jsonable(result), indent=2, ensure_ascii=False) + "\n"
        )
        last = result["layers"][str(result["probed_layers"][-1])]
        print(
            f"[{i}/{len(todo)}] {name}: last-layer top-1 {100 * last['top1_src2tgt']:.1f} / "
            f"{100 * last['top1_tgt2src']:.1f}, best layer {result['best_layer']} ({time.time() - t0:.0f} s)",
            file=sys.stderr,
        )
        runs.append((group, name, result))
    page = markdown(runs, time.time() - started, "make bench-probe")
    if args.output:
        atomic_write_text(args.output, page)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
