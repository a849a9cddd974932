"""``scriptbridge compare``: one recipe, several variants x seeds, with statistics and probes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scriptbridge.commands.common import cli_errors, err_console, fail
from scriptbridge.commands.train import RecipeOpt, SetOpt


def parse_seeds(text: str, first: int) -> list[int]:
    """``"3"`` -> three seeds from ``first``; ``"0,1,2"`` (or ``"5,"``) -> exactly those seeds."""
    text = text.strip()
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise fail("--seeds N needs N >= 1 (or a list of seeds like 0,1,2)")
            return list(range(first, first + count))
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise fail(f"--seeds takes a count (3) or a list of seeds (0,1,2), got {text!r}") from None


def compare_cmd(
    recipe: RecipeOpt,
    variants: Annotated[
        str,
        typer.Option(
            "--variants",
            help="Comma-separated variants to train. Sentence recipes: en, tr, tl, en+tr+tl, joint, "
            "joint-ts. Token recipes (task: token-classification): plain, cosda, words, pe, align, mlm, "
            "xmlm, full.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the runs, compare.json/.md/.html and probes.")
    ],
    seeds: Annotated[
        str,
        typer.Option(
            "--seeds",
            help="A count N (seeds recipe.seed .. recipe.seed+N-1) or an explicit list like 0,1,2 "
            "(one explicit seed: 5,).",
        ),
    ] = "3",
    overrides: SetOpt = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Retrain every run of the grid instead of reusing finished ones."),
    ] = False,
) -> None:
    """Train a recipe with several variants and seeds, and compare them with significance tests.

    Each (variant, seed) is an ordinary `scriptbridge train` run in OUTPUT/runs/VARIANT/seedK/; a finished run there is reused, so a stopped grid resumes and a grid can grow by seeds or variants. Every variant is checked against the recipe's data before anything trains.

    Writes OUTPUT/compare.json, compare.md and a self-contained compare.html: mean ± std over seeds of accuracy and macro-/weighted-F1 per variant and evaluation set; against the best baseline (en, tr, tl, en+tr+tl, whichever were run), a paired bootstrap on the per-example predictions (macro-F1 difference, 95% interval, one-sided p = share of resamples where the variant is not better) and Tukey HSD over the per-seed scores (2+ seeds).

    With a `probe` section in the recipe (a held-out parallel set, see docs/recipes.md), also the alignment probe of the starting encoder and of the best variant's model (OUTPUT/probe/baseline, OUTPUT/probe/best) and a before/after t-SNE figure.

    Examples:

    scriptbridge compare -r quickstart --variants en,joint-ts --seeds 3 -o out/cmp

    scriptbridge compare -r my_recipe.yaml --variants en,en+tr+tl,joint,joint-ts --seeds 0,1,2 -o out/cmp --set train.epochs=2

    scriptbridge compare -r phonexl_pos_zh_vi --variants plain,cosda,pe,align,mlm,xmlm,full --seeds 3 -o out/pos-zh-vi

    Token recipes compare entity F1 (NER) or token accuracy (POS) against the `plain` tagger, with a
    bootstrap over sentences, and add a cost table (seconds per epoch, peak memory) against `plain`.
    """
    from scriptbridge.commands.train import training_errors
    from scriptbridge.train.compare import CompareError, compare
    from scriptbridge.train.recipe import load_recipe

    names = [v.strip() for v in variants.split(",") if v.strip()]
    if not names:
        raise fail("--variants needs at least one variant, e.g. --variants en,joint-ts")
    with cli_errors(CompareError, *training_errors()):
        loaded = load_recipe(recipe, overrides or [])
        result = compare(
            loaded, output, variants=names, seeds=parse_seeds(seeds, loaded.seed), overwrite=overwrite
        )
    print_comparison(result)
    err_console.print(
        f"wrote {output}/compare.json, compare.md, compare.html"
        + (" and probe/" if result.get("probe") else ""),
        highlight=False,
        markup=False,
    )


def print_comparison(result: dict) -> None:
    """Mean ± std per variant and set, with the bootstrap against the baseline."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    def pm(entry: dict) -> str:
        return "-" if entry["mean"] is None else f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f}"

    from scriptbridge.train.compare import task_scores

    scores, primary = task_scores(result)
    titles = {
        "macro_f1": "macro-F1",
        "weighted_f1": "weighted-F1",
        "f1": "entity F1",
        "f1_conlleval": "F1 (seqeval default)",
    }
    # sentence classification keeps its historical column order (macro-F1 first)
    columns = [primary, *[m for m in scores if m != primary]]
    sig = result["significance"]
    table = Table(
        title=f"{escape(result['recipe'])} · {len(result['seeds'])} seed(s) · baseline {escape(result['baseline'])}"
        f" · best {escape(result['best'])}",
        caption=f"mean ± std over seeds, in %; Δ: {titles.get(primary, primary)} vs the baseline; "
        "p: one-sided paired bootstrap",
        box=box.SIMPLE_HEAD,
    )
    for col in ("variant", "set", "n", *(titles.get(m, m) for m in columns), "Δ", "p"):
        table.add_column(col, justify="left" if col in ("variant", "set") else "right")
    for v in result["variants"]:
        for s in result["sets"]:
            r = result["results"][v][s]
            b = sig["bootstrap"]["results"].get(v, {}).get(s)
            table.add_row(
                escape(v),
                escape(s),
                "-" if r["n"] is None else str(r["n"]),
                *(pm(r[m]) for m in columns),
                "" if b is None else f"{100 * b['diff']:+.1f}",
                "" if b is None else ("<0.001" if b["p_value"] < 0.001 else f"{b['p_value']:.3f}"),
                style="bold" if v == result["best"] else None,
            )
        table.add_section()
    Console().print(table)
