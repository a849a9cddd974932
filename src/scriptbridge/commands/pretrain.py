"""``scriptbridge pretrain``: alignment pretraining (MLM, TLM, TCM, TPP) from a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scriptbridge.commands.common import cli_errors, err_console
from scriptbridge.commands.train import training_errors


def pretrain_cmd(
    recipe: Annotated[
        str,
        typer.Option(
            "--recipe",
            "-r",
            help="A pretraining recipe (kind: pretrain), a file or a shipped one: tpp_sib200, "
            "tcm_hindi_roman, translit_hi_ur, translit_pl_uk. See docs/pretraining.md.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the model, metrics and report.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a recipe key, e.g. --set stages.0.objectives.tcm=1.0 --set train.max_steps=200 "
            "(repeatable; see docs/pretraining.md).",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace a finished run (or another recipe's run) in --output."),
    ] = False,
) -> None:
    """Align an encoder before any task fine-tuning: continued pretraining of any encoder (the embedded
    default, a folder, a hub id) or a small BERT trained from scratch with its own SentencePiece
    Unigram tokenizer.

    Objectives, each weighted in the recipe: mlm (masked language modelling), tlm (MLM over the two
    texts of a pair concatenated), tcm (contrastive: a text against its pair partner, a transliteration
    or a translation, with in-batch negatives) and tpp (translation pair prediction: sigmoid of the dot
    product, one random partner per pair). Pairs come from files (Tatoeba, SIB-200, TSV) or views made
    on the fly (romanize:hi:uroman). Stages run in order, each from the best weights of the last; a
    held-out parallel set is probed every train.eval_every steps and its retrieval score picks the
    best weights and stops a stage early.

    Writes OUTPUT/model/ (a normal checkpoint: scriptbridge train --set model.spec=OUTPUT/model, or
    load_encoder), OUTPUT/stages/NN-NAME/model/, metrics.json (losses and probe per evaluation),
    report.md, recipe.yaml and run.json. A killed run resumes from its last probe when started again
    with the same recipe and output.

    Examples:

    scriptbridge pretrain -r tcm_hindi_roman -o out/tcm-hi

    scriptbridge pretrain -r translit_hi_ur -o out/hi-ur/tcm --set stages.0.objectives.tcm=1.0

    scriptbridge pretrain -r tpp_sib200 -o out/tpp --set train.max_steps=200

    Several GPUs: torchrun --nproc_per_node 4 -m scriptbridge pretrain -r RECIPE -o OUT, or accelerate
    launch --multi_gpu --num_processes 4 -m scriptbridge pretrain ... (pip install accelerate);
    train.batch_size is per process.
    """
    from scriptbridge.train.pretrain import pretrain
    from scriptbridge.train.pretrain_recipe import load_pretrain_recipe

    with cli_errors(*training_errors()):
        loaded = load_pretrain_recipe(recipe, overrides or [])
        result = pretrain(loaded, output, overwrite=overwrite)
    from scriptbridge.utils.distributed import rank

    if rank() == 0:  # under torchrun, one table
        print_stages(result.metrics)
        err_console.print(f"wrote {output}/model, metrics.json, report.md", highlight=False, markup=False)


def print_stages(metrics: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{metrics['recipe']} · pretraining", box=box.SIMPLE_HEAD)
    for col in ("stage", "objectives", "steps", "best step", "probe top-1 before", "best"):
        table.add_column(col, justify="left" if col in ("stage", "objectives") else "right")
    for s in metrics["stages"]:
        before = (s.get("probe_before") or {}).get("score")
        table.add_row(
            s["name"],
            ", ".join(s["objectives"]),
            str(s["steps"]),
            "-" if s["best_step"] is None else str(s["best_step"]),
            "-" if before is None else f"{100 * before:.1f}",
            "-" if s["best_score"] is None else f"{100 * s['best_score']:.1f}",
        )
    Console().print(table)
