"""``scriptbridge embed`` and ``scriptbridge models info``: encoders from the command line.

torch and transformers are imported inside the commands, so ``--help`` stays quick.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scriptbridge.commands.common import cli_errors, err_console

models_app = typer.Typer(
    help="Inspect encoders: the embedded offline multilingual-e5-small, local checkpoints, hub models.",
    no_args_is_help=True,
)

_SPEC_HELP = (
    "'embedded' (the offline multilingual-e5-small shipped with scriptbridge), a local checkpoint "
    "folder, or a Hugging Face hub id."
)


# Options shared by every command that runs an encoder (embed, probe, and the training commands).
ModelOpt = Annotated[str, typer.Option("--model", "-m", help=_SPEC_HELP)]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="cpu, cuda, cuda:1... (default: cuda if available).")
]
BatchSizeOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        help="Memory bound: a forward pass holds at most this many texts of --max-length tokens "
        "(short texts are packed by length into fuller batches; results do not depend on it).",
    ),
]
MaxLengthOpt = Annotated[
    int, typer.Option("--max-length", min=2, help="Longer texts are truncated to this many tokens.")
]


class Pooling(str, Enum):
    mean = "mean"
    cls = "cls"


def _load(spec: str, device: str | None):
    from scriptbridge.models import load_encoder

    with err_console.status(f"loading {spec}..."):
        return load_encoder(spec, device=device)


@models_app.command("info")
def info_cmd(
    spec: Annotated[str, typer.Argument(help=_SPEC_HELP)] = "embedded",
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as JSON.")] = False,
    device: DeviceOpt = None,
) -> None:
    """Describe an encoder: source, path, parameters, layers, hidden size, vocabulary, license.

    Examples:

    scriptbridge models info   (the embedded model)

    scriptbridge models info ./my-bert --json
    """
    from scriptbridge.models import EncoderLoadError

    with cli_errors(EncoderLoadError):
        info = _load(spec, device).info()
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"encoder: {info['name']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in info.items():
        if value is None:
            continue
        if key == "parameters":
            value = f"{value:,}"
        elif key == "default_prefix":
            value = repr(value)
        table.add_row(key, str(value))
    Console().print(table)


def _read_lines(source: str) -> list[str]:
    """One text per line; empty lines are texts too (they keep their row), a final newline is not."""
    data = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    if data.startswith("\ufeff"):  # a UTF-8 byte-order mark is not part of the first text
        data = data[1:]
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def embed(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the [n, hidden] float32 array (.npy); OUT.json is written beside it.",
        ),
    ],
    input: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            help="Text file, one text a line ('-' = stdin). Empty "
            "lines are embedded (as the empty text), never dropped.",
        ),
    ] = "-",
    model: ModelOpt = "embedded",
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="Text put before every line; default: the model's ('query: ' for e5 models, else none). "
            "--prefix '' for none, --prefix 'passage: ' for e5 documents.",
        ),
    ] = None,
    layer: Annotated[
        int,
        typer.Option(
            "--layer", help="Layer to pool: -1 = last, 0 = embeddings, k = after transformer layer k."
        ),
    ] = -1,
    pooling: Annotated[
        Pooling | None,
        typer.Option(
            "--pooling",
            help="mean (over all tokens, as e5) or cls (first token); default: the model's (mean).",
        ),
    ] = None,
    batch_size: BatchSizeOpt = 32,
    max_length: MaxLengthOpt = 512,
    normalize: Annotated[
        bool, typer.Option("--normalize/--no-normalize", help="L2-normalize each vector.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --output file.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed (recorded; inference is deterministic).")
    ] = 0,
    device: DeviceOpt = None,
) -> None:
    """Embed texts (one a line) into an .npy array, one row per line, in order.

    Uses the embedded offline multilingual-e5-small unless --model says otherwise. Besides OUT.npy it writes OUT.npy.json: the model, prefix, layer, pooling, number of texts, seed, versions and device.

    Examples:

    scriptbridge embed --input sentences.txt --output vecs.npy --prefix 'passage: ' --normalize

    cat queries.txt | scriptbridge embed -o q.npy --model ./my-checkpoint --layer 8
    """
    import numpy as np

    from scriptbridge.models import EncoderLoadError
    from scriptbridge.utils.io import atomic_path, check_output
    from scriptbridge.utils.runinfo import seed_everything, write_run_record

    with cli_errors(EncoderLoadError, ValueError, UnicodeDecodeError):
        check_output(output, overwrite)  # refuse before the (possibly long) encoding, not after
        texts = _read_lines(input)
        seed_everything(seed)
        encoder = _load(model, device)
        used_prefix = encoder.default_prefix if prefix is None else prefix
        used_pooling = pooling.value if pooling is not None else encoder.default_pooling
        vectors = encoder.encode(
            texts,
            layer=layer,
            pooling=used_pooling,
            prefix=used_prefix,
            batch_size=batch_size,
            max_length=max_length,
            normalize=normalize,
            progress=True,
        )
        with atomic_path(output) as tmp, tmp.open("wb") as fh:
            # via a file handle: np.save(path) would append ".npy" to the temporary name
            np.save(fh, vectors)
        record: dict[str, Any] = {
            "model": encoder.spec,
            "model_name": encoder.name,
            "model_path": encoder.path,
            "prefix": used_prefix,
            "layer": layer,
            "pooling": used_pooling,
            "normalize": normalize,
            "max_length": max_length,
            "batch_size": batch_size,
            "n_texts": len(texts),
            "shape": list(vectors.shape),
            "input": input,
            "output": str(output),
        }
        if encoder.source == "embedded":
            record["model_source_sha256"] = encoder.info().get("source_sha256")
        write_run_record(f"{output}.json", seed=seed, **record)
    err_console.print(f"wrote {output} {tuple(vectors.shape)} and {output}.json", highlight=False)
