"""Corpora for static word vectors, and skip-gram training with fastText or gensim.

Reading: :func:`read_sentences` yields the sentences of one file, whose format is recognised from its
name and first line (or given):

==========  =============================================================================================
``text``    one sentence a line (``.txt`` and anything unrecognised: Dakshina, Tatoeba, tweets)
``conllu``  CoNLL-U: the FORM column, multiword-token ranges (``1-2``) and empty nodes (``1.1``) skipped,
            a space after a form unless its MISC says ``SpaceAfter=No``
``tsv``     a tab-separated file with a header naming a ``text`` column (SIB-200)
``tokens``  one token a line in the first tab-separated column, blank lines between sentences (HiNER's
            CoNLL, the PhoneXL TSVs); tokens are joined by spaces, or without any for Japanese/Chinese
==========  =============================================================================================

A ``.gz`` suffix is read through gzip.  Tokenizing (:func:`make_tokenizer`): NFC normalisation (the
MUSE dictionaries are NFC: Hindi nukta letters decomposed), lowercase by default (MUSE's words are
lowercase), URLs, e-mail addresses and @mentions dropped, then words are runs of letters, combining
marks and digits (``\\p{L}\\p{M}\\p{N}``, so Devanagari vowel signs and viramas stay inside their word;
zero-width joiners are kept inside a word).  Punctuation is dropped.  Japanese is cut into words by
fugashi + unidic-lite, Chinese by jieba after OpenCC's Traditional -> Simplified conversion (MUSE's
Chinese is Simplified); the same word pattern then keeps the words.  Arabic (and Persian, Urdu) text
loses its optional vowel marks and tatweel, as the MUSE dictionaries have none.

Training: :func:`train_skipgram` runs fastText (``fasttext-wheel``, MIT; the default) or gensim (the
``scriptbridge[gensim]`` extra, LGPL) skip-gram with negative sampling.  fastText is deterministic only
with one thread (each thread draws from its own generator and updates the shared matrices in a racy
way), so ``threads`` defaults to 1 and the result records it; more threads are faster, not
reproducible.  The same holds for gensim's ``workers``.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import regex

from scriptbridge.models.static import StaticEmbeddings

FORMATS = ("auto", "text", "conllu", "tsv", "tokens")
BACKENDS = ("fasttext", "gensim")
# languages written without spaces between words, cut by a segmenter
SEGMENTED = ("ja", "zh")
_LANG_ALIASES = {
    "jpn": "ja",
    "zho": "zh",
    "cmn": "zh",
    "chi": "zh",
    "jp": "ja",
    "arb": "ar",
    "ara": "ar",
    "urd": "ur",
    "fas": "fa",
}
# languages in Arabic script whose vowel marks (harakat), dagger alif and tatweel are dropped: the
# MUSE dictionaries have none, the UD treebanks are fully vocalised
ARABIC_SCRIPT = ("ar", "fa", "ur")
_ARABIC_MARKS = regex.compile(
    "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640]"
)

_WORD = regex.compile(r"[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}\u200c\u200d]*[\p{L}\p{M}\p{N}])?")
_NOISE = regex.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+|(?<!\w)@\w+")


class CorpusError(ValueError):
    """A corpus file that cannot be read: the message names the file, the line and the fix."""


class BackendMissingError(ImportError):
    """No skip-gram library is installed."""


# --- tokenizing ----------------------------------------------------------------------------------


def normalize_lang(lang: str | None) -> str | None:
    """``"ja"``, ``"jpn"``, ``"jpn_Jpan"`` -> ``"ja"``; None stays None (no segmenter)."""
    if not lang:
        return None
    code = lang.replace("-", "_").split("_")[0].lower()
    return _LANG_ALIASES.get(code, code)


@functools.lru_cache(maxsize=1)
def _japanese_words() -> Callable[[str], list[str]]:
    from scriptbridge.views.backends.east_asian import _ja_tagger

    tagger = _ja_tagger()
    return lambda text: [w.surface for w in tagger(text)]


@functools.lru_cache(maxsize=1)
def _chinese_words() -> Callable[[str], list[str]]:
    import logging

    import jieba

    from scriptbridge.views.backends.east_asian import _t2s

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    t2s = _t2s()
    return lambda text: list(tok.cut(t2s(text), HMM=True))


def make_tokenizer(lang: str | None = None, *, lowercase: bool = True) -> Callable[[str], list[str]]:
    """A function from a line of text to its words (see the module docstring for the rules).

    ``lang`` chooses the segmenter: ``ja`` (fugashi), ``zh`` (jieba); any other language, or None,
    splits by the word pattern alone."""
    code = normalize_lang(lang)
    segment = _japanese_words() if code == "ja" else _chinese_words() if code == "zh" else None
    strip_marks = code in ARABIC_SCRIPT

    def tokenize(text: str) -> list[str]:
        text = unicodedata.normalize("NFC", text)
        if strip_marks:
            text = _ARABIC_MARKS.sub("", text)
        if lowercase:
            text = text.lower()
        text = _NOISE.sub(" ", text)
        if segment is None:
            return _WORD.findall(text)
        return [w for piece in segment(text) for w in _WORD.findall(piece)]

    return tokenize


def tokenize(text: str, lang: str | None = None, *, lowercase: bool = True) -> list[str]:
    """The words of ``text`` (one-off use; build :func:`make_tokenizer` once for many lines)."""
    return make_tokenizer(lang, lowercase=lowercase)(text)


# --- reading -------------------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="strict")
    return path.open(encoding="utf-8", errors="strict")


def detect_format(path: str | os.PathLike) -> str:
    """``conllu`` for ``.conllu``; ``tsv`` for a ``.tsv`` whose header has a ``text`` column;
    ``tokens`` for ``.conll`` and header-less ``.tsv``; ``text`` for anything else."""
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix == ".conllu":
        return "conllu"
    if suffix == ".conll":
        return "tokens"
    if suffix == ".tsv":
        with _open_text(path) as f:
            first = f.readline().rstrip("\r\n")
        return "tsv" if "text" in first.split("\t") else "tokens"
    return "text"


def read_sentences(path: str | os.PathLike, *, fmt: str = "auto", lang: str | None = None) -> Iterator[str]:
    """The sentences of one corpus file, as text (not yet tokenized).  ``lang`` only matters for the
    ``tokens`` format: Japanese and Chinese tokens are joined without spaces."""
    path = Path(path)
    if fmt not in FORMATS:
        raise CorpusError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not path.is_file():
        raise CorpusError(f"{path}: no such corpus file")
    if fmt == "auto":
        fmt = detect_format(path)
    try:
        if fmt == "text":
            yield from _read_text(path)
        elif fmt == "conllu":
            yield from _read_conllu(path)
        elif fmt == "tsv":
            yield from _read_tsv(path)
        else:
            yield from _read_tokens(path, "" if normalize_lang(lang) in SEGMENTED else " ")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); convert it first"
        ) from None


def _read_text(path: Path) -> Iterator[str]:
    with _open_text(path) as f:
        for line in f:
            if line.strip():
                yield line.strip()


def _read_conllu(path: Path) -> Iterator[str]:
    parts: list[str] = []
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line:
                if parts:
                    yield "".join(parts).strip()
                    parts = []
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise CorpusError(
                    f"{path}:{lineno}: {len(cols)} tab-separated columns, a CoNLL-U word line has 10 "
                    "(pass the format explicitly if this is not CoNLL-U)"
                )
            if "-" in cols[0] or "." in cols[0]:
                continue  # multiword-token range or empty node: the words themselves follow
            no_space = "SpaceAfter=No" in cols[9].split("|")
            parts.append(cols[1] + ("" if no_space else " "))
    if parts:
        yield "".join(parts).strip()


def _read_tsv(path: Path) -> Iterator[str]:
    with _open_text(path) as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if "text" not in header:
            raise CorpusError(f"{path}:1: no 'text' column in the header {header} (SIB-200 TSVs have one)")
        col = header.index("text")
        for lineno, line in enumerate(f, start=2):
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) == 1 and not cols[0]:
                continue
            if len(cols) <= col:
                raise CorpusError(f"{path}:{lineno}: {len(cols)} columns, the header has {len(header)}")
            if cols[col].strip():
                yield cols[col].strip()


def _read_tokens(path: Path, joiner: str) -> Iterator[str]:
    tokens: list[str] = []
    with _open_text(path) as f:
        for line in f:
            token = line.rstrip("\r\n").split("\t")[0].strip()
            if not token:
                if tokens:
                    yield joiner.join(tokens)
                    tokens = []
                continue
            if token.startswith("-DOCSTART-"):
                continue
            tokens.append(token)
    if tokens:
        yield joiner.join(tokens)


@dataclass
class Corpus:
    """A tokenized corpus: ``lines`` are sentences as space-joined words (the format skip-gram
    tools read), ``counts`` every word's frequency (reallocation needs them), ``tokens`` the total."""

    lines: list[str]
    counts: Counter = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)
    lang: str | None = None
    duplicates_dropped: int = 0

    @property
    def tokens(self) -> int:
        return int(sum(self.counts.values()))

    def line_lengths(self) -> np.ndarray:
        return np.fromiter(
            (line.count(" ") + 1 for line in self.lines), dtype=np.int64, count=len(self.lines)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "lang": self.lang,
            "sentences": len(self.lines),
            "tokens": self.tokens,
            "types": len(self.counts),
            "duplicates_dropped": self.duplicates_dropped,
        }


def corpus_from_lines(
    texts: Iterable[str], *, lang: str | None = None, lowercase: bool = True, dedupe: bool = False
) -> Corpus:
    """Tokenize raw sentences into a :class:`Corpus` (sentences without words are left out)."""
    tok = make_tokenizer(lang, lowercase=lowercase)
    corpus = Corpus(lines=[], lang=normalize_lang(lang))
    seen: set[int] = set()
    for text in texts:
        words = tok(text)
        if not words:
            continue
        line = " ".join(words)
        if dedupe:
            key = hash(line)
            if key in seen:
                corpus.duplicates_dropped += 1
                continue
            seen.add(key)
        corpus.lines.append(line)
        corpus.counts.update(words)
    return corpus


def load_corpus(
    paths: Iterable[str | os.PathLike],
    *,
    lang: str | None = None,
    lowercase: bool = True,
    fmt: str = "auto",
    dedupe: bool = True,
) -> Corpus:
    """Read, tokenize and count the sentences of ``paths``.  ``dedupe`` drops sentences seen before
    (the same UD sentences reach us through several releases)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise CorpusError("no corpus files given")
    texts = (s for p in paths for s in read_sentences(p, fmt=fmt, lang=lang))
    corpus = corpus_from_lines(texts, lang=lang, lowercase=lowercase, dedupe=dedupe)
    corpus.files = [str(p) for p in paths]
    if not corpus.lines:
        raise CorpusError(f"no words in {', '.join(map(str, paths))} (wrong format or an empty file?)")
    return corpus


def write_counts(path: str | os.PathLike, counts: Counter) -> None:
    """``word<TAB>count`` a line, most frequent first, written atomically."""
    from scriptbridge.utils.io import atomic_write_text

    atomic_write_text(path, "".join(f"{w}\t{c}\n" for w, c in counts.most_common()))


def read_counts(path: str | os.PathLike) -> Counter:
    """Read :func:`write_counts`' format (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such counts file (word<TAB>count a line, written by static-vectors)")
    counts: Counter = Counter()
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) != 2 or not cols[1].isdigit():
                raise CorpusError(f"{path}:{lineno}: expected 'word<TAB>count', got {line.rstrip()!r}")
            counts[cols[0]] += int(cols[1])
    if not counts:
        raise CorpusError(f"{path}: no counts in the file")
    return counts


# --- training ------------------------------------------------------------------------------------


@dataclass
class SkipGramResult:
    embeddings: StaticEmbeddings  # most frequent word first
    counts: Counter  # of the corpus it was trained on
    settings: dict[str, Any]


def available_backend(preferred: str | None = None) -> str:
    """``preferred`` if importable, else the first importable of fastText, gensim; a clear error
    naming both installs when neither is there."""
    order = [preferred] if preferred else list(BACKENDS)
    for name in order:
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    wanted = f"the {preferred} backend is" if preferred else "no skip-gram backend is"
    raise BackendMissingError(
        f"{wanted} not installed: `pip install fasttext-wheel` (Python < 3.13) or `pip install fasttext` "
        "(builds with a C++ compiler) for fastText, or `pip install scriptbridge[gensim]` for gensim "
        "(LGPL), then pass --backend fasttext or --backend gensim"
    )


def _as_lines(sentences: Corpus | Iterable[str] | Iterable[list[str]]) -> tuple[list[str], Counter]:
    if isinstance(sentences, Corpus):
        return sentences.lines, sentences.counts
    lines: list[str] = []
    counts: Counter = Counter()
    for s in sentences:
        words = s.split() if isinstance(s, str) else list(s)
        if words:
            lines.append(" ".join(words))
            counts.update(words)
    return lines, counts


def train_skipgram(
    sentences: Corpus | Iterable[str] | Iterable[list[str]],
    *,
    dim: int = 300,
    epochs: int = 5,
    min_count: int = 5,
    window: int = 5,
    neg: int = 5,
    minn: int = 3,
    maxn: int = 6,
    lr: float = 0.05,
    sample: float = 1e-4,
    bucket: int = 2_000_000,
    threads: int = 1,
    seed: int = 0,
    backend: str | None = "fasttext",
    max_words: int | None = None,
) -> SkipGramResult:
    """Skip-gram vectors (negative sampling) for every word seen ``min_count`` times.

    ``sentences``: a :class:`Corpus`, space-joined tokenized lines, or lists of words.  ``minn`` /
    ``maxn``: fastText's character n-gram lengths (subword information); ``maxn=0`` trains plain
    word vectors (word2vec).  ``threads=1`` makes fastText and gensim deterministic for a ``seed``.
    ``backend=None`` takes fastText when installed, else gensim.  Returns the vectors (most frequent
    word first, at most ``max_words``), the corpus' word counts and the settings used."""
    if dim < 1 or epochs < 1 or min_count < 1 or window < 1 or neg < 1 or threads < 1:
        raise ValueError("dim, epochs, min_count, window, neg and threads must be positive")
    if maxn and (minn < 1 or minn > maxn):
        raise ValueError(f"need 1 <= minn <= maxn for character n-grams, got minn={minn}, maxn={maxn}")
    backend = available_backend(backend)
    lines, counts = _as_lines(sentences)
    if not lines:
        raise ValueError("the corpus has no words")
    settings: dict[str, Any] = {
        "backend": backend,
        "dim": dim,
        "epochs": epochs,
        "min_count": min_count,
        "window": window,
        "neg": neg,
        "minn": minn if maxn else 0,
        "maxn": maxn,
        "lr": lr,
        "sample": sample,
        "threads": threads,
        "deterministic": threads == 1,
        "seed": seed,
        "sentences": len(lines),
        "tokens": int(sum(counts.values())),
    }
    start = time.perf_counter()
    if backend == "fasttext":
        words, vectors, version = _train_fasttext(lines, settings, bucket)
    else:
        words, vectors, version = _train_gensim(lines, settings, bucket)
    if not words:
        raise ValueError(
            f"no word occurs {min_count} times or more in the {settings['tokens']} tokens: lower min_count"
        )
    settings["seconds"] = round(time.perf_counter() - start, 2)
    settings["backend_version"] = version
    settings["vocabulary"] = len(words)
    emb = StaticEmbeddings(words, vectors).head(max_words)
    return SkipGramResult(emb, counts, settings)


def _train_fasttext(lines: list[str], s: dict[str, Any], bucket: int) -> tuple[list[str], np.ndarray, str]:
    import importlib.metadata as md

    with tempfile.TemporaryDirectory(prefix="scriptbridge-skipgram-") as tmp:
        path = Path(tmp) / "corpus.txt"
        with path.open("w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        kwargs = dict(
            model="skipgram",
            dim=s["dim"],
            epoch=s["epochs"],
            minCount=s["min_count"],
            ws=s["window"],
            neg=s["neg"],
            minn=s["minn"],
            maxn=s["maxn"],
            lr=s["lr"],
            t=s["sample"],
            bucket=bucket if s["maxn"] else 0,
            thread=s["threads"],
            verbose=0,
        )
        try:
            model, s["seed_applied"] = _fasttext_unsupervised(str(path), kwargs, s["seed"])
        except (RuntimeError, ValueError) as e:
            if "Empty vocabulary" in str(e):
                return [], np.zeros((0, s["dim"]), np.float32), ""
            raise
    words = [w for w in model.get_words(on_unicode_error="replace") if w != "</s>"]
    vectors = np.stack([model.get_word_vector(w) for w in words]) if words else np.zeros((0, s["dim"]))
    version = ""
    for dist in ("fasttext-wheel", "fasttext"):
        try:
            version = f"{dist} {md.version(dist)}"
            break
        except md.PackageNotFoundError:
            continue
    return words, vectors.astype(np.float32), version


def _fasttext_unsupervised(path: str, kwargs: dict[str, Any], seed: int) -> tuple[Any, bool]:
    """``fasttext.train_unsupervised`` with a seed.  The 0.9.2 wrapper does not accept ``seed`` (it
    always passes its default, 0, to the C++ trainer, which seeds the initial matrix and each thread's
    generator with it), so its own steps are repeated here with the seed set.  Returns the model and
    whether the seed reached the trainer."""
    import fasttext

    try:
        return fasttext.train_unsupervised(path, seed=seed, **kwargs), True
    except TypeError as e:
        if "seed" not in str(e):
            raise
    ft = getattr(fasttext, "FastText", None)
    needed = ("unsupervised_default", "_build_args", "_FastText", "fasttext")
    if ft is None or not all(hasattr(ft, name) for name in needed):
        return fasttext.train_unsupervised(path, **kwargs), seed == 0
    args = {**ft.unsupervised_default, **kwargs, "input": path, "seed": seed}
    built = ft._build_args(args, set(kwargs) | {"input", "seed"})
    model = ft._FastText(args=built)
    ft.fasttext.train(model.f, built)
    model.set_args(model.f.getArgs())
    return model, True


def _train_gensim(lines: list[str], s: dict[str, Any], bucket: int) -> tuple[list[str], np.ndarray, str]:
    import gensim
    from gensim.models import FastText, Word2Vec

    corpus = [line.split() for line in lines]
    common = dict(
        vector_size=s["dim"],
        window=s["window"],
        min_count=s["min_count"],
        sg=1,
        negative=s["neg"],
        epochs=s["epochs"],
        workers=s["threads"],
        seed=s["seed"],
        sample=s["sample"],
        alpha=s["lr"],
    )
    try:
        if s["maxn"]:
            model = FastText(corpus, min_n=s["minn"], max_n=s["maxn"], bucket=bucket, **common)
        else:
            model = Word2Vec(corpus, **common)
    except RuntimeError as e:  # gensim: "you must first build vocabulary before training the model"
        if "vocabulary" in str(e):
            return [], np.zeros((0, s["dim"]), np.float32), ""
        raise
    words = list(model.wv.index_to_key)
    vectors = np.stack([model.wv[w] for w in words]) if words else np.zeros((0, s["dim"]))
    return words, vectors.astype(np.float32), f"gensim {gensim.__version__}"
