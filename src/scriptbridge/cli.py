"""The ``scriptbridge`` command line (also ``python -m scriptbridge``).

Every command has its own ``--help`` with examples. Heavy libraries (torch,
transformers, the view backends) are imported inside the commands, so
``scriptbridge --help`` and the view commands start quickly.
"""

from __future__ import annotations

import logging

import typer

from scriptbridge import __version__
from scriptbridge.commands.compare import compare_cmd
from scriptbridge.commands.contextual import align_contextual_cmd
from scriptbridge.commands.demo import demo_cmd
from scriptbridge.commands.models import embed, models_app
from scriptbridge.commands.pretrain import pretrain_cmd
from scriptbridge.commands.probe import probe_cmd
from scriptbridge.commands.static import align_static_cmd, bli_cmd, static_vectors_cmd
from scriptbridge.commands.train import train_cmd
from scriptbridge.commands.views import detect_cmd, ipa_cmd, romanize_cmd

app = typer.Typer(
    name="scriptbridge",
    help="Make multilingual encoders work across writing scripts: romanized and IPA views of text, "
    "an offline embedded encoder, alignment diagnostics (`probe`), alignment pretraining (`pretrain`: "
    "MLM, TLM, TCM, TPP), static and contextual embedding alignment (`static-vectors`, `bli`, "
    "`align-static`, `align-contextual`) and cross-script transfer (`train`, `compare`).\n\n"
    "Start with `scriptbridge demo`, then `scriptbridge romanize --help`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scriptbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log what the backends do (warnings are always shown)."
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


app.command("romanize")(romanize_cmd)
app.command("ipa")(ipa_cmd)
app.command("detect")(detect_cmd)
app.command("embed")(embed)
app.add_typer(models_app, name="models", help="Inspect encoders: `scriptbridge models info [SPEC]`.")
app.command("probe")(probe_cmd)
app.command("static-vectors")(static_vectors_cmd)
app.command("bli")(bli_cmd)
app.command("align-static")(align_static_cmd)
app.command("align-contextual")(align_contextual_cmd)
app.command("pretrain")(pretrain_cmd)
app.command("train")(train_cmd)
app.command("compare")(compare_cmd)
app.command("demo")(demo_cmd)


def main() -> None:
    app()
