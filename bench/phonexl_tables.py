"""The PhoneXL comparison as the paper's Table 3, from ``scriptbridge compare`` outputs.

    .venv/bin/python bench/phonexl_tables.py --ner-zh-vi OUT/ner_zh_vi --ner-ja-ko OUT/ner_ja_ko \\
        --pos-zh-vi OUT/pos_zh_vi --pos-ja-ko OUT/pos_ja_ko [--output docs/phonexl_table.md]

Each folder is a ``scriptbridge compare`` output (its ``compare.json``) of one of the four PhoneXL
recipes (``phonexl_{ner,pos}_{zh_vi,ja_ko}``); any subset works. Prints Markdown:

1. **ours**: rows = variants, columns = Source / Target of each task and pair (the compare sets whose
   name contains ``(source`` / ``(target``), cells ``mean ± std`` over seeds in % of each recipe's
   primary metric (NER: strict IOB2 entity F1; POS: token accuracy), or of ``--ner-metric`` /
   ``--pos-metric`` (``f1_conlleval`` is the seqeval-default F1 the paper's script computes). ``†``:
   one-sided paired bootstrap p < 0.05 against ``plain``; ``♠``: better than ``plain`` with Tukey HSD
   p < 0.05 (both only where the cell shows the metric ``compare`` tested);
2. **the paper** (Nguyen et al., 2023, mBERT backbone, full test sets, 3 seeds): Table 3 (mBERT,
   PhoneXL (full), w L_align / L_MLM / L_XMLM), Table 4 (CoSDA-ML) and Table 6 (mBERT w PE, w
   extension: POS targets only), on the rows of the variants we ran;
3. **cost**: seconds per epoch, peak RSS and trainable parameters per variant and recipe, with the
   ratio to ``plain``.

Our variants map to the paper's rows: plain = mBERT, full = PhoneXL (full), align / mlm / xmlm = w
L_align / L_MLM / L_XMLM, cosda = CoSDA-ML, pe = mBERT (w PE, w extension); ``words`` (word-level
inputs without phonemes) has no paper row.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# (task, pair): the option that names its compare folder and the column title
RECIPES = (
    ("ner", "zh_vi", "--ner-zh-vi", "NER zh→vi"),
    ("ner", "ja_ko", "--ner-ja-ko", "NER ja→ko"),
    ("pos", "zh_vi", "--pos-zh-vi", "POS zh→vi"),
    ("pos", "ja_ko", "--pos-ja-ko", "POS ja→ko"),
)
SIDES = ("source", "target")
# our variants in the paper's row order (Table 3, then the extra rows)
ROW_ORDER = ("plain", "full", "align", "mlm", "xmlm", "cosda", "pe", "words")
PAPER_ROW = {
    "plain": "mBERT",
    "full": "PhoneXL (full)",
    "align": "PhoneXL (w L_align)",
    "mlm": "PhoneXL (w L_MLM)",
    "xmlm": "PhoneXL (w L_XMLM)",
    "cosda": "CoSDA-ML",
    "pe": "mBERT (w PE, w extension)",
}
PAPER_SOURCE = {
    "mBERT": "Table 3",
    "PhoneXL (full)": "Table 3",
    "PhoneXL (w L_align)": "Table 3",
    "PhoneXL (w L_MLM)": "Table 3",
    "PhoneXL (w L_XMLM)": "Table 3",
    "CoSDA-ML": "Table 4",
    "mBERT (w PE, w extension)": "Table 6",
}

# The paper's mBERT-backbone test results (F1, mean ± std over 3 seeds), in the column order
# NER zh→vi source, target; NER ja→ko source, target; POS zh→vi source, target; POS ja→ko source, target.
_ORDER = [(t, p, s) for t, p, _, _ in RECIPES for s in SIDES]
_T3 = {
    "mBERT": "78.10 0.25 49.94 1.44 69.85 0.17 26.64 0.17 89.93 0.02 48.62 0.66 86.24 0.13 43.63 1.28",
    "PhoneXL (full)": "80.42 0.07 52.28 0.98 72.90 0.37 29.25 0.59 90.53 0.04 50.71 0.40 90.00 0.15 46.75 0.09",
    "PhoneXL (w L_align)": "79.71 0.21 51.09 0.42 72.01 0.11 28.23 0.32 90.42 0.03 50.29 0.13 89.56 0.07 45.96 0.47",
    "PhoneXL (w L_MLM)": "79.70 0.17 50.23 1.63 72.62 0.02 27.90 0.11 90.44 0.03 50.49 0.67 89.53 0.16 45.94 0.45",
    "PhoneXL (w L_XMLM)": "79.69 0.15 50.83 0.63 72.57 0.57 28.85 0.71 90.40 0.05 50.20 1.63 89.63 0.16 45.25 0.73",
    "CoSDA-ML": "78.48 0.34 47.82 1.43 70.42 0.50 25.76 1.75 89.76 0.19 49.84 0.49 87.63 0.14 41.19 1.16",
}


def _paper() -> dict[str, dict[tuple[str, str, str], tuple[float, float]]]:
    out: dict[str, dict[tuple[str, str, str], tuple[float, float]]] = {}
    for row, text in _T3.items():
        nums = [float(x) for x in text.split()]
        out[row] = {col: (nums[2 * i], nums[2 * i + 1]) for i, col in enumerate(_ORDER)}
    # Table 6 reports target-language POS F1 only
    out["mBERT (w PE, w extension)"] = {
        ("pos", "zh_vi", "target"): (49.14, 0.98),
        ("pos", "ja_ko", "target"): (44.42, 0.36),
    }
    return out


PAPER = _paper()


class TableError(RuntimeError):
    pass


def load(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "compare.json"
    if not path.is_file():
        raise TableError(f"{path} not found (run scriptbridge compare -o {folder} first)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TableError(f"cannot read {path}: {exc}") from None
    if report.get("scheme") == "tags":
        add_seqeval_pos_f1(report, path.resolve().parent)
    return report


def add_seqeval_pos_f1(report: dict[str, Any], root: Path) -> None:
    """``f1_seqeval`` (seqeval's default F1 on raw POS tags, the "POS F1" of the PhoneXL paper) per
    variant and set, from each run's predictions.json, where compare.json does not have it."""
    import statistics

    from scriptbridge.evaluate.token_metrics import seqeval_tag_f1

    for variant, runs in (report.get("runs") or {}).items():
        values: dict[str, list[float]] = {}
        for run in runs.values():
            path = root / run["folder"] / "predictions.json"
            if not path.is_file():
                return  # runs moved away: leave the metric out rather than average a subset
            for name, sets in json.loads(path.read_text(encoding="utf-8")).items():
                values.setdefault(name, []).append(seqeval_tag_f1(sets["gold"], sets["pred"]))
        for name, vals in values.items():
            entry = report["results"].get(variant, {}).get(name)
            if entry is not None and "f1_seqeval" not in entry:
                entry["f1_seqeval"] = {
                    "mean": statistics.fmean(vals),
                    "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                    "values": vals,
                }


def side_sets(report: dict[str, Any]) -> dict[str, str]:
    """``{"source": set name, "target": set name}``: the non-dev sets named ``... (source...`` and
    ``... (target...``, as the PhoneXL recipes name them."""
    dev = set(report.get("dev_sets", []))
    out = {}
    for side in SIDES:
        found = [s for s in report["sets"] if s not in dev and f"({side}" in s]
        if len(found) > 1:
            raise TableError(f"{report['recipe']}: several {side} sets ({', '.join(found)}); expected one")
        if found:
            out[side] = found[0]
    if not out:
        raise TableError(
            f"{report['recipe']}: no evaluation set named '... (source)' or '... (target)' among "
            f"{', '.join(report['sets'])}"
        )
    return out


def primary(report: dict[str, Any]) -> str:
    if report.get("primary"):
        return report["primary"]
    return "f1" if report.get("scheme") == "iob2" else "accuracy"


def _cell(stats: dict[str, Any] | None) -> str:
    if not stats or stats.get("mean") is None:
        return "–"
    mean, std = 100 * stats["mean"], 100 * (stats.get("std") or 0.0)
    return f"{mean:.2f} ± {std:.2f}" if len(stats.get("values", [])) > 1 else f"{mean:.2f}"


def _marks(report: dict[str, Any], variant: str, name: str, metric: str) -> str:
    """† / ♠ against the baseline, only for the metric compare tested."""
    base = report.get("baseline")
    if variant == base or metric != primary(report):
        return ""
    sig = report.get("significance") or {}
    boot = ((sig.get("bootstrap") or {}).get("results") or {}).get(variant, {}).get(name) or {}
    tukey = ((sig.get("tukey_hsd") or {}).get("results") or {}).get(name, {}).get(variant)
    mine = report["results"].get(variant, {}).get(name, {}).get(metric) or {}
    theirs = report["results"].get(base, {}).get(name, {}).get(metric) or {}
    text = ""
    if boot.get("p_value") is not None and boot["p_value"] < 0.05:
        text += " †"
    better = mine.get("mean") is not None and theirs.get("mean") is not None and mine["mean"] > theirs["mean"]
    if better and tukey is not None and tukey < 0.05:
        text += " ♠"
    return text


def _columns(reports: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(task, pair, side, header) of each column, for the recipes given."""
    cols = []
    for task, pair, _, title in RECIPES:
        if (task, pair) in reports:
            for side in SIDES:
                cols.append((task, pair, side, f"{title} {side}"))
    return cols


def _variants(reports: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    seen = {v for r in reports.values() for v in r["variants"]}
    ordered = [v for v in ROW_ORDER if v in seen]
    extra = sorted(seen - set(ordered))
    return ordered + extra


def ours_table(reports: dict[tuple[str, str], dict[str, Any]], metrics: dict[str, str | None]) -> str:
    cols = _columns(reports)
    chosen = {key: metrics.get(key[0]) or primary(r) for key, r in reports.items()}
    sides = {key: side_sets(r) for key, r in reports.items()}
    used = "; ".join(f"{title}: {chosen[(t, p)]}" for t, p, _, title in RECIPES if (t, p) in reports)
    seeds = sorted({len(r.get("seeds", [])) for r in reports.values()})
    lines = [
        f"**Ours** (% mean ± std over {'/'.join(map(str, seeds))} seed(s); metric per recipe: {used}). "
        "† one-sided paired bootstrap p < 0.05 against `plain`; ♠ better than `plain` with Tukey HSD p < 0.05.",
        "",
        "| variant | paper row | " + " | ".join(h for *_, h in cols) + " |",
        "|---|---|" + "---:|" * len(cols),
    ]
    for v in _variants(reports):
        cells = []
        for task, pair, side, _ in cols:
            report = reports[(task, pair)]
            name = sides[(task, pair)].get(side)
            metric = chosen[(task, pair)]
            if name is None or v not in report["results"]:
                cells.append("–")
                continue
            stats = report["results"][v].get(name, {}).get(metric)
            cells.append(_cell(stats) + (_marks(report, v, name, metric) if stats else ""))
        lines.append(f"| `{v}` | {PAPER_ROW.get(v, '(ours only)')} | " + " | ".join(cells) + " |")
    sets_used = "; ".join(
        f"{title}: " + ", ".join(f"{side} = {sides[(t, p)][side]}" for side in SIDES if side in sides[(t, p)])
        for t, p, _, title in RECIPES
        if (t, p) in reports
    )
    lines += ["", f"Sets: {sets_used}."]
    return "\n".join(lines)


def paper_table(reports: dict[tuple[str, str], dict[str, Any]]) -> str:
    cols = _columns(reports)
    lines = [
        "**The paper** (Nguyen et al., 2023; mBERT backbone, F1 on the full test sets, mean ± std over 3 "
        "seeds), for the rows we ran:",
        "",
        "| paper row | source | " + " | ".join(h for *_, h in cols) + " |",
        "|---|---|" + "---:|" * len(cols),
    ]
    for v in _variants(reports):
        row = PAPER_ROW.get(v)
        if row is None:
            continue
        numbers = PAPER[row]
        cells = []
        for task, pair, side, _ in cols:
            got = numbers.get((task, pair, side))
            cells.append("–" if got is None else f"{got[0]:.2f} ± {got[1]:.2f}")
        lines.append(f"| {row} (`{v}`) | {PAPER_SOURCE[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(x: float | None, digits: int) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def cost_table(reports: dict[tuple[str, str], dict[str, Any]]) -> str:
    rows = []
    refs: list[str] = []
    for task, pair, _, title in RECIPES:
        report = reports.get((task, pair))
        cost = (report or {}).get("cost")
        if not cost:
            continue
        ref = cost.get("reference", "plain")
        if ref not in refs:
            refs.append(ref)
        for v in _variants({(task, pair): report}):
            c = cost["variants"].get(v)
            if not c:
                continue
            r = c.get("ratio") or {}
            rows.append(
                f"| {title} | `{v}` | {_num(c.get('seconds_per_epoch'), 1)} | {_ratio(r.get('seconds_per_epoch'))} | "
                f"{_num(c.get('peak_rss_mib'), 0)} | {_ratio(r.get('peak_rss_mib'))} | "
                f"{_num(c.get('trainable_parameters'), 0)} | {_ratio(r.get('trainable_parameters'))} |"
            )
    if not rows:
        return "**Cost**: no compare.json here has cost data (metrics.json's `cost`)."
    against = " / ".join(f"`{r}`" for r in refs)
    return "\n".join(
        [
            f"**Cost** (means over seeds; × = ratio to {against} of the same recipe; peak RSS is each run's own "
            "peak resident memory, reset when the run starts on Linux):",
            "",
            "| recipe | variant | s / epoch | × | peak RSS MiB | × | trainable parameters | × |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )


def render(
    reports: dict[tuple[str, str], dict[str, Any]], metrics: dict[str, str | None] | None = None
) -> str:
    """The three tables as one Markdown text; ``reports`` maps (task, pair) to a compare.json."""
    metrics = metrics or {}
    parts = [
        "# PhoneXL reproduction: the paper's Table 3 layout",
        "",
        ours_table(reports, metrics),
        "",
        paper_table(reports),
        "",
        cost_table(reports),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for _, _, option, title in RECIPES:
        ap.add_argument(option, type=Path, metavar="DIR", help=f"compare output folder of {title}")
    ap.add_argument("--ner-metric", default=None, help="NER score to show (default: the primary, f1)")
    ap.add_argument(
        "--pos-metric",
        default=None,
        help="POS score to show (default: the primary, accuracy; f1_seqeval = the paper's POS F1, "
        "computed from the runs' predictions.json)",
    )
    ap.add_argument("--output", type=Path, default=None, help="write the Markdown here (atomically)")
    args = ap.parse_args(argv)
    reports = {}
    try:
        for task, pair, option, _ in RECIPES:
            folder = getattr(args, option.lstrip("-").replace("-", "_"))
            if folder is not None:
                reports[(task, pair)] = load(folder)
        if not reports:
            raise TableError("give at least one of " + ", ".join(o for *_, o, _ in RECIPES))
        metrics = {"ner": args.ner_metric, "pos": args.pos_metric}
        for (task, _), report in reports.items():
            metric = metrics[task] or primary(report)
            scores = list(report.get("scores") or [])
            if any(metric in sets for r in report["results"].values() for sets in r.values()):
                scores.append(metric)  # added from the runs' predictions (f1_seqeval)
            if scores and metric not in scores:
                raise TableError(f"{report['recipe']} has no {metric!r}; its scores: {', '.join(scores)}")
        text = render(reports, metrics)
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output is not None:
        from scriptbridge.utils.io import atomic_write_text

        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
