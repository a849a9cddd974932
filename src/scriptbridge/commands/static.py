"""``scriptbridge static-vectors``, ``scriptbridge bli`` and ``scriptbridge align-static``: static word
vectors (skip-gram or from an encoder), lexicon induction, and alignment (Procrustes, RCSLS,
joint-align)."""

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
    from scriptbridge.models.loading import EncoderLoadError
    from scriptbridge.models.skipgram import BackendMissingError, CorpusError
    from scriptbridge.models.static import StaticEmbeddingsError
    from scriptbridge.views.code_switch import DictionaryError

    return (
        StaticEmbeddingsError,
        DictionaryError,
        CorpusError,
        BackendMissingError,
        EncoderLoadError,
        ValueError,
    )


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


# --- skip-gram options, shared by static-vectors and align-static --method joint-align ------------

Dim = Annotated[int, typer.Option("--dim", min=1, help="Vector dimension (the method: 300).")]
Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Passes over the corpus.")]
MinCount = Annotated[int, typer.Option("--min-count", min=1, help="Words seen fewer times get no vector.")]
Window = Annotated[int, typer.Option("--window", min=1, help="Context window (words each side).")]
Neg = Annotated[int, typer.Option("--neg", min=1, help="Negative samples per word.")]
Minn = Annotated[int, typer.Option("--minn", min=0, help="Shortest character n-gram (fastText subwords).")]
Maxn = Annotated[
    int, typer.Option("--maxn", min=0, help="Longest character n-gram; 0 turns subwords off (word2vec).")
]
Backend = Annotated[
    str,
    typer.Option(
        "--backend", help="fasttext (default, MIT) or gensim (pip install 'scriptbridge\\[gensim]')."
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (sampling, initialisation, shuffling).")]
Threads = Annotated[
    int,
    typer.Option(
        "--threads",
        min=1,
        help="Training threads. 1 (default) is reproducible; more is faster, not reproducible.",
    ),
]
Bucket = Annotated[
    int,
    typer.Option(
        "--bucket", min=1, help="fastText's hash buckets for n-grams (memory: bucket x dim floats)."
    ),
]
Lowercase = Annotated[
    bool, typer.Option("--lowercase/--keep-case", help="Lowercase the corpus (MUSE's words are lowercase).")
]
Dedupe = Annotated[
    bool, typer.Option("--dedupe/--no-dedupe", help="Drop sentences that occur again (across files too).")
]


def _skipgram_options(**kw: object) -> dict:
    from scriptbridge.models.skipgram import BACKENDS

    if kw["backend"] not in BACKENDS:
        raise fail(f"--backend must be one of {', '.join(BACKENDS)}, got {kw['backend']!r}")
    if kw["maxn"] and not 1 <= kw["minn"] <= kw["maxn"]:  # type: ignore[operator]
        raise fail(
            f"need 1 <= --minn <= --maxn for subwords (or --maxn 0), got {kw['minn']} and {kw['maxn']}"
        )
    return dict(kw)


def _read_word_list(path: Path) -> list[str]:
    if not path.is_file():
        raise fail(f"{path}: no such word list (one word a line)")
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            words.append(fields[0])
    if not words:
        raise fail(f"{path}: no words in the file (one word a line)")
    return words


def static_vectors_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="FILE.vec; FILE.counts.tsv and FILE.json go beside it.")
    ],
    corpus: Annotated[
        list[Path] | None,
        typer.Option(
            "--corpus",
            help="Corpus file (repeatable): text (a sentence a line), CoNLL-U, SIB-200 TSV, token-a-line "
            "CoNLL/TSV; .gz allowed.",
        ),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language code: ja and zh get a word segmenter.")
    ] = None,
    dim: Dim = 300,
    epochs: Epochs = 5,
    min_count: MinCount = 5,
    window: Window = 5,
    neg: Neg = 5,
    minn: Minn = 3,
    maxn: Maxn = 6,
    backend: Backend = "fasttext",
    seed: Seed = 0,
    threads: Threads = 1,
    bucket: Bucket = 2_000_000,
    lowercase: Lowercase = True,
    dedupe: Dedupe = True,
    from_encoder: Annotated[
        str | None,
        typer.Option(
            "--from-encoder",
            help="Instead of training: vectors from an encoder ('embedded', a checkpoint folder, a hub id).",
        ),
    ] = None,
    words: Annotated[
        Path | None, typer.Option("--words", help="With --from-encoder: the words, one a line.")
    ] = None,
    dictionary: Annotated[
        list[Path] | None,
        typer.Option(
            "--dict", help="With --from-encoder: take the words of these MUSE dictionaries (repeatable)."
        ),
    ] = None,
    side: Annotated[str, typer.Option("--side", help="src or tgt: which side of --dict.")] = "src",
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="With --from-encoder: isolated (each word alone) or context (mean over --corpus)."
        ),
    ] = "isolated",
    layer: Annotated[int, typer.Option("--layer", help="Encoder layer (-1: the last).")] = -1,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda... (default: cuda if there).")
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Static word vectors: skip-gram on a corpus (fastText or gensim), or derived from an encoder.

    Training tokenizes the corpus (NFC, lowercase, words of letters/marks/digits; fugashi for ja,
    jieba for zh) and writes FILE.vec (most frequent word first), FILE.counts.tsv (every word's
    count: joint-align needs them) and FILE.json (settings, seed, threads, versions, corpus sizes).
    One thread (the default) gives the same vectors for the same seed.

    Examples:

    scriptbridge static-vectors --corpus ../shared/data/ud/UD_Hindi-PUD/hi_pud-ud-test.conllu --corpus ../shared/data/sib200/hin_Deva/train.tsv --lang hi --dim 100 -o out/hi.vec

    scriptbridge static-vectors --from-encoder embedded --dict ../shared/data/muse/en-hi.0-5000.txt --side tgt -o out/hi-e5.vec
    """
    from scriptbridge.utils.io import check_output
    from scriptbridge.utils.runinfo import run_record

    if output.suffix == "":
        raise fail(f"--output {output}: give a file name such as {output}.vec")
    counts_path, json_path = output.with_suffix(".counts.tsv"), output.with_suffix(".json")
    with cli_errors(*_errors()):
        for path in (output, json_path) if from_encoder else (output, counts_path, json_path):
            check_output(path, overwrite)
    if from_encoder is not None:
        record = _encoder_vectors(
            from_encoder, words, dictionary, side, mode, corpus, lang, layer, device, output
        )
        with cli_errors(*_errors()):
            _write_json(json_path, run_record(seed=None, **record), True)
        return
    if not corpus:
        raise fail("give --corpus FILE (repeatable) to train, or --from-encoder SPEC with --words/--dict")
    options = _skipgram_options(
        dim=dim, epochs=epochs, min_count=min_count, window=window, neg=neg, minn=minn, maxn=maxn,
        backend=backend, threads=threads, bucket=bucket,
    )  # fmt: skip
    from scriptbridge.models.skipgram import load_corpus, train_skipgram, write_counts
    from scriptbridge.models.static import write_vectors

    with cli_errors(*_errors()):
        with err_console.status("reading the corpus..."):
            data = load_corpus(corpus, lang=lang, lowercase=lowercase, dedupe=dedupe)
        err_console.print(
            f"{data.tokens} tokens, {len(data.counts)} word types in {len(data.lines)} sentences",
            highlight=False,
        )
        with err_console.status(f"training skip-gram ({backend}, {threads} thread(s))..."):
            result = train_skipgram(data, seed=seed, **options)
        write_vectors(output, result.embeddings)
        write_counts(counts_path, data.counts)
        record = run_record(
            seed=seed,
            output=str(output),
            counts=str(counts_path),
            corpus=data.describe(),
            lowercase=lowercase,
            dedupe=dedupe,
            skipgram=result.settings,
        )
        _write_json(json_path, record, True)
    err_console.print(
        f"wrote {output} ({len(result.embeddings)} words x {dim}), {counts_path.name}, {json_path.name} "
        f"in {result.settings['seconds']:.1f}s",
        highlight=False,
    )


def _encoder_vectors(
    spec: str,
    words_file: Path | None,
    dictionaries: list[Path] | None,
    side: str,
    mode: str,
    corpus: list[Path] | None,
    lang: str | None,
    layer: int,
    device: str | None,
    output: Path,
) -> dict:
    from scriptbridge.evaluate.bli import read_dictionary
    from scriptbridge.models import load_encoder
    from scriptbridge.models.skipgram import load_corpus
    from scriptbridge.models.static import encoder_word_vectors, write_vectors

    if side not in ("src", "tgt"):
        raise fail(f"--side must be src or tgt, got {side!r}")
    if mode not in ("isolated", "context"):
        raise fail(f"--mode must be isolated or context, got {mode!r}")
    if (words_file is None) == (not dictionaries):
        raise fail("with --from-encoder give the words: --words FILE or --dict FILE (not both)")
    if mode == "context" and not corpus:
        raise fail("--mode context needs --corpus FILE: the sentences in which the words are encoded")
    with cli_errors(*_errors()):
        if words_file is not None:
            words = _read_word_list(words_file)
        else:
            pairs = [p for d in dictionaries or [] for p in read_dictionary(str(d))]
            words = [s if side == "src" else t for s, t in pairs]
        sentences = load_corpus(corpus, lang=lang).lines if mode == "context" and corpus else None
        with err_console.status(f"loading {spec}..."):
            encoder = load_encoder(spec, device=device)
        emb = encoder_word_vectors(encoder, words, mode=mode, corpus=sentences, layer=layer, progress=True)
        write_vectors(output, emb)
    err_console.print(f"wrote {output} ({len(emb)} words x {emb.dim})", highlight=False)
    return {
        "output": str(output),
        "encoder": spec,
        "mode": mode,
        "layer": layer,
        "words": str(words_file) if words_file else [str(d) for d in dictionaries or []],
        "side": side if dictionaries else None,
        "corpus": [str(c) for c in corpus or []] if mode == "context" else None,
        "vocabulary": len(emb),
    }


ALIGN_METHODS = ("procrustes", "rcsls", "joint-align")


def align_static_cmd(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Folder. procrustes/rcsls: mapped.vec, map.npy, align.json. joint-align: joint.vec, "
            "src.vec, tgt.vec, src/tgt.counts.tsv, map.npy, align.json.",
        ),
    ],
    src_emb: Annotated[
        Path | None, typer.Option("--src-emb", help="Source word vectors (procrustes, rcsls).")
    ] = None,
    tgt_emb: Annotated[
        Path | None, typer.Option("--tgt-emb", help="Target word vectors, same format (procrustes, rcsls).")
    ] = None,
    dictionary: Annotated[
        Path | None,
        typer.Option("--dict", help="Seed dictionary (MUSE's 0-5000 files). Optional with --identical."),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="procrustes, rcsls or joint-align.")] = "procrustes",
    identical: Annotated[
        bool, typer.Option("--identical", help="Add words spelt the same on both sides to the seed pairs.")
    ] = False,
    refine: Annotated[
        int,
        typer.Option(
            "--refine", help="Procrustes: rounds of refinement on mutual CSLS nearest neighbours (MUSE: 5)."
        ),
    ] = 0,
    max_words: MaxWords = 200000,
    normalize: Annotated[
        bool, typer.Option("--normalize/--no-normalize", help="Unit length, centre, unit length first.")
    ] = True,
    test_dict: Annotated[
        Path | None,
        typer.Option("--test-dict", help="Also report BLI (CSLS) before and after on this dictionary."),
    ] = None,
    rcsls_iters: Annotated[int, typer.Option("--rcsls-iters", min=0, help="RCSLS gradient steps.")] = 10,
    rcsls_lr: Annotated[
        float, typer.Option("--rcsls-lr", help="RCSLS learning rate (halved when the loss rises).")
    ] = 1.0,
    rcsls_k: Annotated[int, typer.Option("--rcsls-k", min=1, help="RCSLS neighbours (CSLS's k).")] = 10,
    max_neg: Annotated[
        int, typer.Option("--max-neg", min=1, help="RCSLS neighbours are searched among this many words.")
    ] = 50000,
    constraint: Annotated[
        str, typer.Option("--constraint", help="RCSLS map: none (as released), spectral or orthogonal.")
    ] = "none",
    align: Annotated[
        str,
        typer.Option("--align", help="joint-align: the map for the reallocated words, procrustes or rcsls."),
    ] = "procrustes",
    tau: Annotated[
        float,
        typer.Option(
            "--tau", help="joint-align: share of a word's (scaled) count that makes it one side's only."
        ),
    ] = 0.9,
    src_corpus: Annotated[
        list[Path] | None, typer.Option("--src-corpus", help="joint-align: source corpus file (repeatable).")
    ] = None,
    tgt_corpus: Annotated[
        list[Path] | None, typer.Option("--tgt-corpus", help="joint-align: target corpus file (repeatable).")
    ] = None,
    src_lang: Annotated[str | None, typer.Option("--src-lang", help="joint-align: source language.")] = None,
    tgt_lang: Annotated[str | None, typer.Option("--tgt-lang", help="joint-align: target language.")] = None,
    joint_emb: Annotated[
        Path | None,
        typer.Option("--joint-emb", help="joint-align: a jointly trained space (skips training)."),
    ] = None,
    src_counts: Annotated[
        Path | None, typer.Option("--src-counts", help="With --joint-emb: the source corpus' counts TSV.")
    ] = None,
    tgt_counts: Annotated[
        Path | None, typer.Option("--tgt-counts", help="With --joint-emb: the target corpus' counts TSV.")
    ] = None,
    dim: Dim = 300,
    epochs: Epochs = 5,
    min_count: MinCount = 5,
    window: Window = 5,
    neg: Neg = 5,
    minn: Minn = 3,
    maxn: Maxn = 6,
    backend: Backend = "fasttext",
    seed: Seed = 0,
    threads: Threads = 1,
    bucket: Bucket = 2_000_000,
    lowercase: Lowercase = True,
    dedupe: Dedupe = True,
    overwrite: Overwrite = False,
) -> None:
    """Align static word vectors: Procrustes, RCSLS, or joint training + joint-align.

    procrustes: an orthogonal map on the seed pairs (--dict, --identical, or both); --refine N then
    re-solves on mutual CSLS nearest neighbours among the 15k most frequent words, N times.
    rcsls: a linear map trained for CSLS retrieval (Joulin et al. 2018), from the Procrustes start.
    Both write OUTPUT/mapped.vec (the source vectors in the target space), OUTPUT/map.npy (load it
    with numpy.load(..., allow_pickle=False)) and OUTPUT/align.json.

    joint-align (Wang et al. 2020): one skip-gram model on both corpora (the smaller up-sampled), the
    vocabulary reallocated by --tau into source-only, target-only and shared words, the source-only
    words mapped onto the target-only ones (--align procrustes or rcsls) on the --dict pairs. Writes
    joint.vec, src.vec (mapped source-only + shared), tgt.vec (target-only + shared), the counts,
    map.npy and align.json (vocabulary sizes, pairs used, BLI of joint and joint-align with
    --test-dict). --joint-emb with --src-counts/--tgt-counts skips training.

    Examples:

    scriptbridge align-static --src-emb en.vec --tgt-emb hi.vec --dict ../shared/data/muse/en-hi.0-5000.txt -o out/en-hi --refine 5

    scriptbridge align-static --method rcsls --src-emb en.vec --tgt-emb hi.vec --dict TRAIN --test-dict TEST -o out/en-hi-rcsls

    scriptbridge align-static --method joint-align --src-corpus en.txt --tgt-corpus hi.txt --src-lang en --tgt-lang hi --dict TRAIN --test-dict TEST -o out/en-hi-joint
    """
    if method not in ALIGN_METHODS:
        raise fail(f"--method must be one of {', '.join(ALIGN_METHODS)}, got {method!r}")
    rcsls_options = _rcsls_options(rcsls_iters, rcsls_lr, rcsls_k, max_neg, constraint)
    if method == "joint-align":
        skipgram = _skipgram_options(
            dim=dim, epochs=epochs, min_count=min_count, window=window, neg=neg, minn=minn, maxn=maxn,
            backend=backend, threads=threads, bucket=bucket,
        )  # fmt: skip
        _joint_align_cmd(
            output=output, src_emb=src_emb, tgt_emb=tgt_emb, dictionary=dictionary, identical=identical,
            align=align, tau=tau, refine=refine, max_words=max_words, normalize=normalize,
            test_dict=test_dict, rcsls_options=rcsls_options,
            src_corpus=src_corpus, tgt_corpus=tgt_corpus, src_lang=src_lang, tgt_lang=tgt_lang,
            joint_emb=joint_emb, src_counts=src_counts, tgt_counts=tgt_counts, skipgram=skipgram, seed=seed,
            lowercase=lowercase, dedupe=dedupe, overwrite=overwrite,
        )  # fmt: skip
        return
    for name, value in (
        ("--src-corpus", src_corpus),
        ("--tgt-corpus", tgt_corpus),
        ("--joint-emb", joint_emb),
    ):
        if value:
            raise fail(f"{name} belongs to --method joint-align")
    if src_emb is None or tgt_emb is None:
        raise fail(f"--method {method} needs --src-emb and --tgt-emb")
    _mapping_cmd(
        output=output, src_emb=src_emb, tgt_emb=tgt_emb, dictionary=dictionary, method=method,
        identical=identical, refine=refine, max_words=max_words, normalize=normalize, test_dict=test_dict,
        rcsls_options=rcsls_options, overwrite=overwrite,
    )  # fmt: skip


def _rcsls_options(niter: int, lr: float, k: int, max_neg: int, constraint: str) -> dict:
    from scriptbridge.align.rcsls import CONSTRAINTS

    if constraint not in CONSTRAINTS:
        raise fail(f"--constraint must be one of {', '.join(CONSTRAINTS)}, got {constraint!r}")
    if lr <= 0:
        raise fail(f"--rcsls-lr must be positive, got {lr}")
    return {"niter": niter, "lr": lr, "k": k, "max_neg": max_neg, "constraint": constraint}


def _log(message: str) -> None:
    err_console.print(message, highlight=False)


def _save_map(path: Path, w: object) -> None:
    import numpy as np

    from scriptbridge.utils.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(w), allow_pickle=False)


def _mapping_cmd(
    *,
    output: Path,
    src_emb: Path,
    tgt_emb: Path,
    dictionary: Path | None,
    method: str,
    identical: bool,
    refine: int,
    max_words: int,
    normalize: bool,
    test_dict: Path | None,
    rcsls_options: dict,
    overwrite: bool,
) -> None:
    import numpy as np

    from scriptbridge.align.joint import map_keeping_norms
    from scriptbridge.align.rcsls import rcsls
    from scriptbridge.align.static import align_procrustes, dictionary_pairs, identical_pairs
    from scriptbridge.evaluate.bli import bli, read_dictionary
    from scriptbridge.models.static import StaticEmbeddings, read_vectors, write_vectors
    from scriptbridge.utils.io import check_output

    if dictionary is None and not identical:
        raise fail("give a seed: --dict FILE, --identical, or both")
    if method == "rcsls" and refine:
        raise fail("--refine applies to procrustes; RCSLS learns from the seed pairs alone")
    with cli_errors(*_errors()):
        for name in ("align.json", "mapped.vec", "map.npy"):
            check_output(output / name, overwrite)
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
        if method == "procrustes":
            w, history = align_procrustes(src, tgt, seed, refine=refine, log=_log)
            mapped = src.mapped(w)
        else:
            if len(seed) == 0:
                raise ValueError("no seed pairs: none of the dictionary's pairs has vectors on both sides")
            w, history = rcsls(src.vectors, tgt.vectors, seed, log=_log, **rcsls_options)
            mapped = StaticEmbeddings(list(src.words), map_keeping_norms(src.vectors, w))
        report: dict = {
            "method": method,
            "src_emb": str(src_emb),
            "tgt_emb": str(tgt_emb),
            "dictionary": str(dictionary) if dictionary else None,
            "identical": identical,
            "normalize": normalize,
            "max_words": max_words,
            "rcsls": rcsls_options if method == "rcsls" else None,
            "rounds": history,
        }
        if test_dict is not None:
            pairs = read_dictionary(str(test_dict))
            report["bli_before"] = bli(src, tgt, pairs) if src.dim == tgt.dim else None
            report["bli_after"] = bli(mapped, tgt, pairs)
        output.mkdir(parents=True, exist_ok=True)
        write_vectors(output / "mapped.vec", mapped)
        _save_map(output / "map.npy", w)
        _write_json(output / "align.json", report, True)
    if test_dict is not None:
        after = report["bli_after"]
        _log(f"BLI after (CSLS): P@1 {100 * after['p@1']:.1f}")
    _log(f"wrote {output}/mapped.vec, map.npy, align.json")


def _joint_align_cmd(
    *,
    output: Path,
    src_emb: Path | None,
    tgt_emb: Path | None,
    dictionary: Path | None,
    identical: bool,
    align: str,
    tau: float,
    refine: int,
    max_words: int,
    normalize: bool,
    test_dict: Path | None,
    rcsls_options: dict,
    src_corpus: list[Path] | None,
    tgt_corpus: list[Path] | None,
    src_lang: str | None,
    tgt_lang: str | None,
    joint_emb: Path | None,
    src_counts: Path | None,
    tgt_counts: Path | None,
    skipgram: dict,
    seed: int,
    lowercase: bool,
    dedupe: bool,
    overwrite: bool,
) -> None:
    import time

    from scriptbridge.align.joint import JOINT_METHODS, joint_align, joint_spaces, train_joint
    from scriptbridge.evaluate.bli import bli, read_dictionary
    from scriptbridge.models.skipgram import load_corpus, read_counts, write_counts
    from scriptbridge.models.static import read_vectors, write_vectors
    from scriptbridge.utils.io import check_output
    from scriptbridge.utils.runinfo import run_record

    if src_emb is not None or tgt_emb is not None:
        raise fail(
            "joint-align trains one joint space: give --src-corpus/--tgt-corpus (or --joint-emb), "
            "not --src-emb/--tgt-emb"
        )
    if identical:
        raise fail(
            "--identical belongs to procrustes/rcsls; joint-align's shared words already play that role"
        )
    if dictionary is None:
        raise fail("joint-align needs --dict: the training dictionary (MUSE's 0-5000 file)")
    if align not in JOINT_METHODS:
        raise fail(f"--align must be one of {', '.join(JOINT_METHODS)}, got {align!r}")
    if align == "rcsls" and refine:
        raise fail("--refine applies to --align procrustes")
    if not 0.5 < tau < 1:
        raise fail(f"--tau must be in (0.5, 1) (the authors tried 0.7 to 0.95), got {tau}")
    train = joint_emb is None
    if train:
        if not src_corpus or not tgt_corpus:
            raise fail(
                "joint-align needs --src-corpus and --tgt-corpus (repeatable), or --joint-emb with counts"
            )
        if src_counts or tgt_counts:
            raise fail("--src-counts/--tgt-counts go with --joint-emb; with corpora the counts are computed")
    elif src_counts is None or tgt_counts is None or src_corpus or tgt_corpus:
        raise fail(
            "--joint-emb needs --src-counts and --tgt-counts (the *.counts.tsv of the two corpora), "
            "and no corpora"
        )
    names = ["align.json", "src.vec", "tgt.vec", "map.npy"]
    if train:
        names += ["joint.vec", "src.counts.tsv", "tgt.counts.tsv"]
    start = time.perf_counter()
    with cli_errors(*_errors()):
        for name in names:
            check_output(output / name, overwrite)
        train_pairs = read_dictionary(str(dictionary))
        test_pairs = read_dictionary(str(test_dict)) if test_dict is not None else None
        report: dict = {"method": "joint-align", "align": align, "tau": tau, "train_dict": str(dictionary)}
        if train:
            with err_console.status("reading the corpora..."):
                src = load_corpus(src_corpus or [], lang=src_lang, lowercase=lowercase, dedupe=dedupe)
                tgt = load_corpus(tgt_corpus or [], lang=tgt_lang, lowercase=lowercase, dedupe=dedupe)
            _log(
                f"source: {src.tokens} tokens, {len(src.counts)} types; "
                f"target: {tgt.tokens} tokens, {len(tgt.counts)} types"
            )
            with err_console.status(
                f"training joint skip-gram ({skipgram['backend']}, {skipgram['threads']} thread(s))..."
            ):
                result = train_joint(src, tgt, seed=seed, max_words=max_words, **skipgram)
            joint, s_counts, t_counts = result.embeddings, result.src_counts, result.tgt_counts
            _log(f"joint space: {len(joint)} words in {result.settings['seconds']:.1f}s")
            output.mkdir(parents=True, exist_ok=True)
            write_vectors(output / "joint.vec", joint)
            write_counts(output / "src.counts.tsv", s_counts)
            write_counts(output / "tgt.counts.tsv", t_counts)
            report.update(
                src_corpus=src.describe(),
                tgt_corpus=tgt.describe(),
                lowercase=lowercase,
                dedupe=dedupe,
                skipgram=result.settings,
            )
        else:
            joint = read_vectors(joint_emb, max_words=max_words)  # type: ignore[arg-type]
            s_counts, t_counts = read_counts(src_counts), read_counts(tgt_counts)  # type: ignore[arg-type]
            report.update(joint_emb=str(joint_emb), src_counts=str(src_counts), tgt_counts=str(tgt_counts))
        src_space, tgt_space, info = joint_align(
            joint, s_counts, t_counts, train_pairs, tau=tau, method=align, refine=refine,
            normalize=normalize, rcsls_options=rcsls_options if align == "rcsls" else None, log=_log,
        )  # fmt: skip
        w = info.pop("map")
        report.update(info, max_words=max_words, rcsls=rcsls_options if align == "rcsls" else None)
        if test_pairs is not None:
            base_src, base_tgt = joint_spaces(joint.normalized() if normalize else joint, s_counts, t_counts)
            report["bli_joint"] = bli(base_src, base_tgt, test_pairs)
            report["bli_joint_align"] = bli(src_space, tgt_space, test_pairs)
            report["test_dict"] = str(test_dict)
        output.mkdir(parents=True, exist_ok=True)
        write_vectors(output / "src.vec", src_space)
        write_vectors(output / "tgt.vec", tgt_space)
        _save_map(output / "map.npy", w)
        report["seconds"] = round(time.perf_counter() - start, 2)
        _write_json(output / "align.json", run_record(seed=seed, **report), True)
    sizes = report["vocabulary"]
    _log(
        f"vocabulary: {sizes['source_only']} source-only, {sizes['target_only']} target-only, "
        f"{sizes['shared']} shared (tau {tau}); {report['dictionary_pairs']['used']} dictionary pairs used"
    )
    if test_pairs is not None:
        after = report["bli_joint_align"]
        _log(
            f"BLI (CSLS) P@1: joint {100 * report['bli_joint']['p@1']:.1f}, joint-align {100 * after['p@1']:.1f} "
            f"({after['queries']} of {after['dictionary_words']} test words covered)"
        )
    _log(f"wrote {output}/{', '.join(sorted(names))}")
