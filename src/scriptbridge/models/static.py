"""Static word embeddings: a vocabulary and one vector a word, in the word2vec / fastText text format.

The format: an optional header line ``COUNT DIM``, then one word a line followed by its ``DIM``
numbers, separated by spaces.  Words are kept in file order (fastText and MUSE files are sorted by
frequency, which ``max_words`` relies on); a word seen twice keeps its first vector, as MUSE does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class StaticEmbeddingsError(ValueError):
    """A vectors file that cannot be read: the message names the file, the line and the fix."""


@dataclass
class StaticEmbeddings:
    words: list[str]
    vectors: np.ndarray  # [n, d] float32
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"{len(self.words)} words but vectors of shape {self.vectors.shape}")
        self.index = {}
        for i, w in enumerate(self.words):
            self.index.setdefault(w, i)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray:
        return self.vectors[self.index[word]]

    def head(self, n: int | None) -> StaticEmbeddings:
        """The first ``n`` words (the most frequent ones in a frequency-sorted file)."""
        if n is None or n >= len(self):
            return self
        return StaticEmbeddings(self.words[:n], self.vectors[:n])

    def normalized(self, *, center: bool = True) -> StaticEmbeddings:
        """Unit length, mean-centred, unit length again (MUSE's ``renorm,center,renorm``): the usual
        preprocessing before Procrustes and CSLS."""
        v = self.vectors / np.maximum(np.linalg.norm(self.vectors, axis=1, keepdims=True), 1e-12)
        if center:
            v = v - v.mean(axis=0, keepdims=True)
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return StaticEmbeddings(list(self.words), v.astype(np.float32))

    def mapped(self, matrix: np.ndarray) -> StaticEmbeddings:
        """Every vector multiplied by ``matrix`` (``[d, d']``): an alignment applied."""
        return StaticEmbeddings(list(self.words), (self.vectors @ matrix).astype(np.float32))


def read_vectors(path: str | os.PathLike, *, max_words: int | None = None) -> StaticEmbeddings:
    """Read a word2vec / fastText text file (``.vec``, ``.txt``); the header line is optional."""
    path = Path(path)
    if not path.is_file():
        raise StaticEmbeddingsError(
            f"{path}: no such file (word vectors in the word2vec/fastText text format)"
        )
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    with path.open(encoding="utf-8", errors="strict") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if not line.strip():
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) != dim + 1:
                raise StaticEmbeddingsError(
                    f"{path}:{lineno}: {len(parts) - 1} numbers after the word, expected {dim} "
                    "(one word a line, then its vector, separated by single spaces)"
                )
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise StaticEmbeddingsError(
                    f"{path}:{lineno}: the vector of {parts[0]!r} is not all numbers"
                ) from None
            words.append(parts[0])
            if max_words is not None and len(words) >= max_words:
                break
    if not words:
        raise StaticEmbeddingsError(f"{path}: no word vectors in the file")
    return StaticEmbeddings(words, np.stack(rows))


def write_vectors(path: str | os.PathLike, emb: StaticEmbeddings, *, precision: int = 5) -> None:
    """Write the text format with its header, atomically (a reader never sees half a file)."""
    from scriptbridge.utils.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{len(emb)} {emb.dim}\n")
        for word, vec in zip(emb.words, emb.vectors, strict=True):
            f.write(word + " " + " ".join(f"{x:.{precision}f}" for x in vec) + "\n")


def encoder_word_vectors(
    encoder: object,
    words: list[str],
    *,
    mode: str = "isolated",
    corpus: list[str] | None = None,
    layer: int = -1,
    max_length: int = 128,
    batch_size: int = 32,
    progress: bool = False,
) -> StaticEmbeddings:
    """Static vectors from a contextual encoder, so BLI and alignment run on any encoder, offline.

    ``isolated``: each word encoded alone (mean over its subwords and the special tokens, with the
    encoder's prefix, as ``Encoder.encode``).  ``context``: each word's vector is the mean, over its
    occurrences in ``corpus`` (whitespace-tokenized sentences), of the mean of its subword vectors at
    ``layer``; words that never occur fall back to their isolated vector.
    """
    if mode not in ("isolated", "context"):
        raise ValueError(f"mode must be isolated or context, got {mode!r}")
    words = list(dict.fromkeys(w for w in words if w))
    isolated = encoder.encode(words, layer=layer, batch_size=batch_size, progress=progress)  # type: ignore[attr-defined]
    if mode == "isolated":
        return StaticEmbeddings(words, isolated)
    if corpus is None:
        raise ValueError("mode='context' needs a corpus: sentences in which the words occur")
    # the same word vectors as contextual alignment (subword mean, lone "▁" pieces left out)
    from scriptbridge.align.contextual import word_vectors

    wanted = {w: i for i, w in enumerate(words)}
    sums = np.zeros_like(isolated, dtype=np.float64)
    counts = np.zeros(len(words), dtype=np.int64)
    sentences = [s.split() for s in corpus if any(w in wanted for w in s.split())]
    num_layers = int(encoder.model.config.num_hidden_layers)  # type: ignore[attr-defined]
    hidden_layer = layer if layer >= 0 else num_layers + 1 + layer
    per_sentence = word_vectors(
        encoder, sentences, [hidden_layer], batch_size=batch_size, max_length=max_length
    )
    for sentence, vectors in zip(sentences, per_sentence, strict=True):
        for position, word in enumerate(sentence):
            index = wanted.get(word)
            row = vectors[0, position].numpy()
            if index is not None and not np.isnan(row).any():  # NaN: cut off by truncation
                sums[index] += row
                counts[index] += 1
    seen = counts > 0
    vectors = isolated.astype(np.float64)
    vectors[seen] = sums[seen] / counts[seen, None]
    return StaticEmbeddings(words, vectors.astype(np.float32))
