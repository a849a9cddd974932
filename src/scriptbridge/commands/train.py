"""``scriptbridge train``: run a recipe (YAML) into an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scriptbridge.commands.common import cli_errors, err_console

# shared with `compare`: recipe overrides
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a recipe key (for every run), e.g. --set method.alpha=0.1 --set train.epochs=2 "
        "(repeatable; see docs/recipes.md).",
    ),
]


RecipeOpt = Annotated[
    str,
    typer.Option(
        "--recipe",
        "-r",
        help="A recipe YAML file, or the name of a shipped one (quickstart). See docs/recipes.md.",
    ),
]


def train_cmd(
    recipe: RecipeOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the model, metrics and report.")],
    overrides: SetOpt = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace a finished run (or another recipe's run) in --output."),
    ] = False,
) -> None:
    """Train a cross-script classifier or tagger from a recipe, and score it on the recipe's evaluation sets.

    Sentence classification (the teacher-student recipes) or, with task: token-classification in the
    recipe, NER and POS tagging (plain, CoSDA-ML and PhoneXL variants; docs/token_classification.md).

    A recipe with a pretrain: key (a pretraining recipe's path or name, e.g. tpp_sib200) runs that
    alignment pretraining first into OUTPUT/pretrain and fine-tunes its result (docs/pretraining.md).

    Writes OUTPUT/model/ (safetensors; load it with load_encoder), OUTPUT/recipe.yaml (the recipe as
    run, overrides applied), OUTPUT/metrics.json (per set: accuracy, macro_f1, weighted_f1; for NER
    entity f1, precision, recall), OUTPUT/predictions.json, OUTPUT/report.md and OUTPUT/run.json. An
    interrupted run resumes from its last finished epoch when started again with the same recipe and
    output.

    Examples:

    scriptbridge train --recipe quickstart -o out/quickstart

    scriptbridge train -r phonexl_pos_zh_vi -o out/pos-zh-vi --set method.variant=plain

    scriptbridge train -r ner_hiner -o out/hiner --set train.epochs=1

    scriptbridge train -r my_recipe.yaml -o out/run1 --set method.variant=joint --set seed=1
    """
    from scriptbridge.train.recipe import load_recipe
    from scriptbridge.train.run import train

    with cli_errors(*training_errors()):
        loaded = load_recipe(recipe, overrides or [])
        result = train(loaded, output, overwrite=overwrite)
    print_metrics(result.metrics)
    err_console.print(f"wrote {output}/model, metrics.json, report.md", highlight=False, markup=False)


def training_errors() -> tuple[type[Exception], ...]:
    """The errors a training command reports as a message (file, line, fix) instead of a traceback."""
    from scriptbridge.models import EncoderLoadError
    from scriptbridge.models.scratch import ScratchError
    from scriptbridge.tasks.classification import LabelledDataError
    from scriptbridge.tasks.parallel import ParallelDataError
    from scriptbridge.tasks.tokens import TokenDataError
    from scriptbridge.train.recipe import RecipeError
    from scriptbridge.train.run import TrainError
    from scriptbridge.views.code_switch import DictionaryError
    from scriptbridge.views.translate import TranslationError

    return (
        RecipeError,
        TrainError,
        LabelledDataError,
        ParallelDataError,
        TranslationError,
        EncoderLoadError,
        TokenDataError,
        DictionaryError,
        ScratchError,
    )


def print_metrics(metrics: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{metrics['recipe']} · {metrics['variant']} · best epoch {metrics['best_epoch']}",
        box=box.SIMPLE_HEAD,
    )
    if metrics.get("scheme") == "iob2":  # NER: entity scores
        for col in ("set", "sentences", "entity F1", "F1 (seqeval default)", "precision", "recall"):
            table.add_column(col, justify="left" if col == "set" else "right")
        for name, m in metrics["sets"].items():
            table.add_row(
                name,
                str(m["n"]),
                *(f"{100 * m[k]:.1f}" for k in ("f1", "f1_conlleval", "precision", "recall")),
            )
        Console().print(table)
        return
    for col in ("set", "n", "accuracy", "macro-F1", "weighted-F1"):
        table.add_column(col, justify="left" if col == "set" else "right")
    for name, m in metrics["sets"].items():
        table.add_row(
            name,
            str(m["n"]),
            f"{100 * m['accuracy']:.1f}",
            f"{100 * m['macro_f1']:.1f}",
            f"{100 * m['weighted_f1']:.1f}",
        )
    Console().print(table)
