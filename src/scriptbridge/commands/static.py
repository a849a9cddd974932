"""``scriptbridge bli`` and ``scriptbridge align-static``: static word vectors, lexicon induction and
orthogonal alignment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scriptbridge.commands.common import cli_errors, err_console, fail

SrcEmb = Annotated[
    Path, typer.Option("--src-emb", help="Source word vectors (word2vec/fastText text format).")
]
TgtEmb = Annotated[Path, typer.Option("--tgt-emb", help="Target word vectors, same format.")]
MaxWords = Annotated[
    int,
    typer.Option("--max-words", help="Read the first N words of each file (files are sorted by frequency)."),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]


def _errors() -> tuple[type[Exception], ...]:
    from scriptbridge.models.static import StaticEmbeddingsError
    from scriptbridge.views.code_switch import DictionaryError

    return (StaticEmbeddingsError, DictionaryError, ValueError)


def _write_json(path: Path | None, value: dict, overwrite: bool) -> None:
    from scriptbridge.commands.common import write_output

    write_output(json.dumps(value, indent=2, ensure_ascii=False) + "\n", path, overwrite)


def bli_cmd(
    src_emb: SrcEmb,
    tgt_emb: TgtEmb,
    dictionary: Annotated[
        Path, typer.Option("--dict", help="Test dictionary, 'source target' a line (MUSE's 5000-6500 files).")
    ],
    method: Annotated[str, typer.Option("--method", help="nn (cosine) or csls.")] = "csls",
    oov: Annotated[
        str,
        typer.Option(
            "--oov",
            help="drop: leave out pairs whose words have no vector (MUSE's policy); strict: count them wrong.",
        ),
    ] = "drop",
    csls_k: Annotated[int, typer.Option("--csls-k", help="Neighbours in CSLS's density terms.")] = 10,
    max_words: MaxWords = 200000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="JSON metrics file (default: stdout).")
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Bilingual lexicon induction: precision@1/5/10 of translating each test word by retrieval.

    The two vector files must already share a space (align them with align-static). A word with
    several gold translations is correct when any is retrieved. The JSON states the method, the
    out-of-vocabulary policy and the coverage.

    Examples:

    scriptbridge bli --src-emb en.vec --tgt-emb hi.vec --dict ../shared/data/muse/en-hi.5000-6500.txt

    scriptbridge bli --src-emb en-mapped.vec --tgt-emb hi.vec --dict TEST --method nn --oov strict -o bli.json
    """
    from scriptbridge.evaluate.bli import METHODS, OOV_POLICIES, bli, read_dictionary
    from scriptbridge.models.static import read_vectors

    if method not in METHODS:
        raise fail(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if oov not in OOV_POLICIES:
        raise fail(f"--oov must be one of {', '.join(OOV_POLICIES)}, got {oov!r}")
    with cli_errors(*_errors()):
        src = read_vectors(src_emb, max_words=max_words)
        tgt = read_vectors(tgt_emb, max_words=max_words)
        result = bli(src, tgt, read_dictionary(str(dictionary)), method=method, oov=oov, csls_k=csls_k)
    result.update(src_emb=str(src_emb), tgt_emb=str(tgt_emb), dictionary=str(dictionary), max_words=max_words)
    with cli_errors(*_errors()):
        _write_json(output, result, overwrite)
    err_console.print(
        f"P@1 {100 * result['p@1']:.1f}  P@5 {100 * result['p@5']:.1f}  P@10 {100 * result['p@10']:.1f} "
        f"({result['queries']} of {result['dictionary_words']} test words covered, oov={oov}, {method})",
        highlight=False,
    )


def align_static_cmd(
    src_emb: SrcEmb,
    tgt_emb: TgtEmb,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder: mapped.vec, map.npy, align.json.")],
    dictionary: Annotated[
        Path | None,
        typer.Option("--dict", help="Seed dictionary (MUSE's 0-5000 files). Optional with --identical."),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="procrustes (the only one so far).")] = "procrustes",
    identical: Annotated[
        bool, typer.Option("--identical", help="Add words spelt the same on both sides to the seed pairs.")
    ] = False,
    refine: Annotated[
        int,
        typer.Option("--refine", help="Rounds of refinement on mutual CSLS nearest neighbours (MUSE: 5)."),
    ] = 0,
    max_words: MaxWords = 200000,
    normalize: Annotated[
        bool, typer.Option("--normalize/--no-normalize", help="Unit length, centre, unit length first.")
    ] = True,
    test_dict: Annotated[
        Path | None,
        typer.Option("--test-dict", help="Also report BLI (CSLS) before and after on this dictionary."),
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Map the source vectors onto the target space with an orthogonal map (Procrustes).

    Seeds: a dictionary (--dict), identical strings (--identical), or both; --refine N then re-solves
    on mutual CSLS nearest neighbours among the 15k most frequent words, N times. Writes
    OUTPUT/mapped.vec (the source vectors in the target space), OUTPUT/map.npy (the d x d matrix: load
    it with numpy.load(..., allow_pickle=False)) and OUTPUT/align.json (seed size, rounds, BLI).

    Examples:

    scriptbridge align-static --src-emb en.vec --tgt-emb hi.vec --dict ../shared/data/muse/en-hi.0-5000.txt -o out/en-hi --refine 5
    """
    import numpy as np

    from scriptbridge.align.static import align_procrustes, dictionary_pairs, identical_pairs
    from scriptbridge.evaluate.bli import bli, read_dictionary
    from scriptbridge.models.static import read_vectors, write_vectors
    from scriptbridge.utils.io import atomic_path, check_output

    if method != "procrustes":
        raise fail(f"--method {method!r} is not available yet; use procrustes")
    if dictionary is None and not identical:
        raise fail("give a seed: --dict FILE, --identical, or both")
    with cli_errors(*_errors()):
        check_output(output / "align.json", overwrite)
        src = read_vectors(src_emb, max_words=max_words)
        tgt = read_vectors(tgt_emb, max_words=max_words)
        if normalize:
            src, tgt = src.normalized(), tgt.normalized()
        parts = []
        if dictionary is not None:
            parts.append(dictionary_pairs(src, tgt, read_dictionary(str(dictionary))))
        if identical:
            parts.append(identical_pairs(src, tgt))
        seed = np.unique(np.concatenate(parts), axis=0) if parts else np.zeros((0, 2), dtype=np.int64)
        w, history = align_procrustes(
            src, tgt, seed, refine=refine, log=lambda m: err_console.print(m, highlight=False)
        )
        report: dict = {
            "method": method,
            "src_emb": str(src_emb),
            "tgt_emb": str(tgt_emb),
            "dictionary": str(dictionary) if dictionary else None,
            "identical": identical,
            "normalize": normalize,
            "max_words": max_words,
            "rounds": history,
        }
        if test_dict is not None:
            pairs = read_dictionary(str(test_dict))
            report["bli_before"] = bli(src, tgt, pairs) if src.dim == tgt.dim else None
            report["bli_after"] = bli(src.mapped(w), tgt, pairs)
        output.mkdir(parents=True, exist_ok=True)
        write_vectors(output / "mapped.vec", src.mapped(w))
        with atomic_path(output / "map.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, w, allow_pickle=False)
        _write_json(output / "align.json", report, True)
    if test_dict is not None:
        after = report["bli_after"]
        err_console.print(f"BLI after (CSLS): P@1 {100 * after['p@1']:.1f}", highlight=False)
    err_console.print(f"wrote {output}/mapped.vec, map.npy, align.json", highlight=False)
