"""Turn ``scriptbridge compare`` outputs into the tables of ``docs/teacher_student.md``.

    .venv/bin/python bench/teacher_student_tables.py OUT/sib200 [OUT/umsab_hi ...] [--metric weighted_f1]

For each compare folder (its ``compare.json``): one row per evaluation set (dev sets left out), one
column per variant, ``mean ± std`` over the seeds in % of ``--metric`` (the paper reports weighted
F1; ``macro_f1`` and ``accuracy`` also work).  ``♠`` marks a variant better than the baseline with
Tukey HSD p < 0.05 over the per-seed macro-F1 (the paper's test), ``†`` one with a one-sided paired
bootstrap p < 0.05 on macro-F1 (both as ``compare`` computed them).  Then the alignment probe
(last layer, top-1 both ways and the matched-vs-random gap) of the starting encoder and of the best
variant, when the recipe has a ``probe`` section.  Prints Markdown; reads nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _cell(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "–"
    mean, std = 100 * stats["mean"], 100 * (stats.get("std") or 0.0)
    return f"{mean:.1f} ± {std:.1f}" if len(stats.get("values", [])) > 1 else f"{mean:.1f}"


def table(report: dict[str, Any], metric: str) -> str:
    variants, baseline = report["variants"], report.get("baseline")
    sets = [s for s in report["sets"] if s not in report.get("dev_sets", [])]
    sig = report.get("significance", {})
    tukey = (sig.get("tukey_hsd") or {}).get("results") or {}
    boot = (sig.get("bootstrap") or {}).get("results") or {}
    seeds = report.get("seeds", [])
    lines = [
        f"**{report['recipe']}**: {metric.replace('_', '-')} %, mean ± std over {len(seeds)} seed(s) "
        f"({', '.join(map(str, seeds))}); baseline for the tests: `{baseline}`",
        "",
        "| set | " + " | ".join(f"`{v}`" for v in variants) + " |",
        "|---|" + "---:|" * len(variants),
    ]
    for s in sets:
        cells = []
        for v in variants:
            text = _cell(report["results"].get(v, {}).get(s, {}).get(metric))
            if v != baseline:
                better = (
                    report["results"][v][s]["macro_f1"]["mean"]
                    > report["results"][baseline][s]["macro_f1"]["mean"]
                    if baseline in report["results"]
                    else False
                )
                p_tukey = (tukey.get(s) or {}).get(v)
                p_boot = (boot.get(v) or {}).get(s, {}).get("p_value")
                if better and p_tukey is not None and p_tukey < 0.05:
                    text += " ♠"
                if p_boot is not None and p_boot < 0.05:
                    text += " †"
            cells.append(text)
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    overall = report.get("overall") or {}
    if overall:
        lines.append(
            f"| mean over the target sets ({metric.replace('_', '-')}) | "
            + " | ".join(
                f"{100 * overall[v][metric]:.1f}" if overall.get(v, {}).get(metric) is not None else "–"
                for v in variants
            )
            + " |"
        )
    return "\n".join(lines)


def probe_table(report: dict[str, Any]) -> str:
    probe = report.get("probe")
    if not probe or not probe.get("baseline") or not probe.get("best"):
        return ""
    layer = str(probe.get("plot_layer", max(probe["layers"])))
    rows = [
        f"Probe ({probe['n_pairs']} held-out pairs, {probe['src']} vs {probe['tgt']}, layer {layer}):",
        "",
        "| encoder | top-1 src→tgt | top-1 tgt→src | matched − random gap |",
        "|---|---:|---:|---:|",
    ]
    for name in ("baseline", "best"):
        found = probe[name]
        m = found["layers"][layer]
        label = "starting encoder" if name == "baseline" else f"best variant ({report.get('best')})"
        rows.append(
            f"| {label} | {100 * m['top1_src2tgt']:.1f} | {100 * m['top1_tgt2src']:.1f} | {m['gap']:.3f} |"
        )
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="compare output folders (with compare.json)")
    ap.add_argument("--metric", default="weighted_f1", choices=("weighted_f1", "macro_f1", "accuracy"))
    args = ap.parse_args()
    for folder in args.folders:
        path = folder / "compare.json"
        if not path.is_file():
            print(f"error: {path} not found (run scriptbridge compare -o {folder} first)", file=sys.stderr)
            return 2
        report = json.loads(path.read_text(encoding="utf-8"))
        print(table(report, args.metric))
        print()
        extra = probe_table(report)
        if extra:
            print(extra)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
