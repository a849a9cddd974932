"""Joint training, vocabulary reallocation and joint-align (Wang et al. 2020, "Cross-lingual Alignment
vs Joint Training: A Comparative Study and A Simple Unified Framework").

1. **Joint initialisation** (:func:`train_joint`): one skip-gram model on the two corpora together, the
   smaller one up-sampled to the larger's size in tokens, the lines shuffled.  Words spelt the same in
   both languages (numbers, names, loanwords) get one vector and anchor the two vocabularies in one
   space.
2. **Vocabulary reallocation** (:func:`reallocate_vocabulary`): with the counts ``c_s(w)``, ``c_t(w)``
   of the two corpora and ``r = total_s / total_t``, a word is *source-only* when the target corpus
   lacks it or ``c_s / (c_s + r c_t) >= tau``, *target-only* when the source corpus lacks it or
   ``r c_t / (c_s + r c_t) >= tau``, and *shared* otherwise.  Joint training over-shares: a word
   that is mostly one language's gets a vector pulled towards both; reallocation hands it back.
3. **Alignment refinement** (:func:`joint_align`): the source-only words are mapped onto the
   target-only ones with a supervised map (Procrustes or RCSLS) learnt on the training dictionary's
   pairs (source word source-only, target word target-only); the shared words keep their joint vectors.
   The source space is then mapped source-only words + shared words, the target space target-only +
   shared words, in one coordinate system.

The authors' grid for ``tau`` is {0.7, 0.8, 0.9, 0.95} (their training script uses 0.9, their BLI
example 0.95); :data:`DEFAULT_TAU` is 0.9.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scriptbridge.models.skipgram import Corpus, train_skipgram
from scriptbridge.models.static import StaticEmbeddings

DEFAULT_TAU = 0.9
JOINT_METHODS = ("procrustes", "rcsls")


# --- joint training ------------------------------------------------------------------------------


def upsample(
    lines: list[str], target_tokens: int, *, lengths: np.ndarray | None = None, seed: int = 0
) -> list[str]:
    """Repeat ``lines`` until they hold ``target_tokens`` tokens: whole copies first, then a seeded
    random selection of lines (without replacement) for the remainder.  A corpus already that large
    comes back unchanged."""
    if lengths is None:
        lengths = np.fromiter((line.count(" ") + 1 for line in lines), dtype=np.int64, count=len(lines))
    total = int(lengths.sum())
    if total == 0 or total >= target_tokens:
        return list(lines)
    copies, remainder = divmod(target_tokens, total)
    out = list(lines) * copies
    if remainder:
        order = np.random.default_rng(seed).permutation(len(lines))
        taken = np.cumsum(lengths[order])
        n = int(np.searchsorted(taken, remainder, side="left")) + 1  # lines until the remainder is reached
        out.extend(lines[i] for i in order[:n])
    return out


def joint_lines(src: Corpus, tgt: Corpus, *, seed: int = 0) -> tuple[list[str], dict[str, Any]]:
    """The training lines of joint training: both corpora, the smaller up-sampled to the larger's
    token count, shuffled with ``seed``.  Also returns what was done (sizes before and after)."""
    s_tokens, t_tokens = src.tokens, tgt.tokens
    if s_tokens >= t_tokens:
        s_lines, t_lines = (
            list(src.lines),
            upsample(tgt.lines, s_tokens, lengths=tgt.line_lengths(), seed=seed),
        )
    else:
        s_lines, t_lines = (
            upsample(src.lines, t_tokens, lengths=src.line_lengths(), seed=seed),
            list(tgt.lines),
        )
    lines = s_lines + t_lines
    random.Random(seed).shuffle(lines)
    info = {
        "src_tokens": s_tokens,
        "tgt_tokens": t_tokens,
        "upsampled": "target" if s_tokens > t_tokens else "source" if t_tokens > s_tokens else None,
        "src_lines_trained": len(s_lines),
        "tgt_lines_trained": len(t_lines),
        "src_tokens_trained": int(sum(line.count(" ") + 1 for line in s_lines)),
        "tgt_tokens_trained": int(sum(line.count(" ") + 1 for line in t_lines)),
    }
    return lines, info


@dataclass
class JointResult:
    embeddings: StaticEmbeddings  # one space for both languages, most frequent (joint count) first
    src_counts: Counter  # of the source corpus, before up-sampling
    tgt_counts: Counter
    settings: dict[str, Any]


def train_joint(src: Corpus, tgt: Corpus, *, seed: int = 0, **skipgram: Any) -> JointResult:
    """One skip-gram model on both corpora (see :func:`joint_lines`); ``skipgram`` goes to
    :func:`~scriptbridge.models.skipgram.train_skipgram` (``dim``, ``epochs``, ``min_count``,
    ``backend``, ``threads``...)."""
    lines, info = joint_lines(src, tgt, seed=seed)
    result = train_skipgram(lines, seed=seed, **skipgram)
    settings = {**result.settings, "joint": info}
    return JointResult(result.embeddings, src.counts, tgt.counts, settings)


# --- vocabulary reallocation ---------------------------------------------------------------------


@dataclass
class Reallocation:
    source_only: set[str]
    target_only: set[str]
    shared: set[str]
    ratio: float  # r = total_s / total_t
    uncounted: set[str]  # words of the vocabulary that neither corpus has (no decision possible)

    def sizes(self) -> dict[str, int]:
        return {
            "source_only": len(self.source_only),
            "target_only": len(self.target_only),
            "shared": len(self.shared),
            "uncounted": len(self.uncounted),
        }


def reallocate_vocabulary(
    src_counts: Mapping[str, int],
    tgt_counts: Mapping[str, int],
    tau: float = DEFAULT_TAU,
    *,
    vocabulary: Iterable[str] | None = None,
) -> Reallocation:
    """Split ``vocabulary`` (default: every counted word) into source-only, target-only and shared
    words (module docstring).  The totals behind ``r`` are the corpora's token counts (the sums of
    the counts), before any up-sampling."""
    if not 0.5 < tau < 1:
        raise ValueError(f"tau must be in (0.5, 1) (the authors tried 0.7 to 0.95), got {tau}")
    total_s, total_t = sum(src_counts.values()), sum(tgt_counts.values())
    if total_s <= 0 or total_t <= 0:
        raise ValueError("both corpora need word counts: one of the counts is empty")
    r = total_s / total_t
    words = set(src_counts) | set(tgt_counts) if vocabulary is None else set(vocabulary)
    out = Reallocation(set(), set(), set(), r, set())
    for w in words:
        c_s, c_t = src_counts.get(w, 0), tgt_counts.get(w, 0)
        if c_s <= 0 and c_t <= 0:
            out.uncounted.add(w)
        elif c_t <= 0:
            out.source_only.add(w)
        elif c_s <= 0:
            out.target_only.add(w)
        else:
            scaled = r * c_t
            share_s = c_s / (c_s + scaled)
            if share_s >= tau:
                out.source_only.add(w)
            elif scaled / (c_s + scaled) >= tau:
                out.target_only.add(w)
            else:
                out.shared.add(w)
    return out


# --- joint-align ---------------------------------------------------------------------------------


def _subset(emb: StaticEmbeddings, keep: set[str]) -> StaticEmbeddings:
    rows = [i for i, w in enumerate(emb.words) if w in keep and emb.index[w] == i]
    return StaticEmbeddings([emb.words[i] for i in rows], emb.vectors[rows])


def joint_spaces(
    joint: StaticEmbeddings, src_counts: Mapping[str, int], tgt_counts: Mapping[str, int]
) -> tuple[StaticEmbeddings, StaticEmbeddings]:
    """The joint-training baseline's two vocabularies: the joint vectors of the words each corpus
    contains (a word of both corpora is in both, with one vector)."""
    src = _subset(joint, {w for w in joint.words if src_counts.get(w, 0) > 0})
    tgt = _subset(joint, {w for w in joint.words if tgt_counts.get(w, 0) > 0})
    return src, tgt


def map_keeping_norms(vectors: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``vectors @ w`` with each row rescaled to its length before the map (a no-op for orthogonal
    maps; RCSLS's unconstrained map changes lengths, and the mapped words must stay comparable with
    the unmapped shared ones)."""
    mapped = vectors.astype(np.float32) @ w
    before = np.linalg.norm(vectors, axis=1, keepdims=True)
    after = np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
    return (mapped * (before / after)).astype(np.float32)


def joint_align(
    joint: StaticEmbeddings,
    src_counts: Mapping[str, int],
    tgt_counts: Mapping[str, int],
    train_pairs: Iterable[tuple[str, str]],
    *,
    tau: float = DEFAULT_TAU,
    method: str = "procrustes",
    refine: int = 0,
    normalize: bool = True,
    rcsls_options: Mapping[str, Any] | None = None,
    log: Any = None,
) -> tuple[StaticEmbeddings, StaticEmbeddings, dict[str, Any]]:
    """Reallocate the joint vocabulary and map its source-only words onto its target-only words.

    ``joint``: the jointly trained space; ``src_counts`` / ``tgt_counts``: the two corpora's word
    counts; ``train_pairs``: the seed dictionary (MUSE's 0-5000).  ``method``: ``procrustes``
    (``refine`` rounds of CSLS refinement among the reallocated words, as in align-static) or
    ``rcsls`` (``rcsls_options`` go to :func:`~scriptbridge.align.rcsls.rcsls`).  ``normalize``:
    unit length, centred, unit length (the whole joint space, once, so shared and mapped words stay
    in one coordinate system).  Returns the source space (mapped source-only + shared words), the
    target space (target-only + shared words), both in the joint space's word order, and a record
    of the sizes, the pairs used and the map's history; ``info["map"]`` is the ``[d, d]`` map itself
    (a numpy array: pop it before writing the record as JSON)."""
    from scriptbridge.align.static import align_procrustes, dictionary_pairs

    if method not in JOINT_METHODS:
        raise ValueError(f"method must be one of {', '.join(JOINT_METHODS)}, got {method!r}")
    if normalize:
        joint = joint.normalized()
    realloc = reallocate_vocabulary(src_counts, tgt_counts, tau, vocabulary=joint.words)
    src_only = _subset(joint, realloc.source_only)
    tgt_only = _subset(joint, realloc.target_only)
    pairs = list(train_pairs)
    seed = dictionary_pairs(src_only, tgt_only, pairs)
    info: dict[str, Any] = {
        "tau": tau,
        "method": method,
        "normalize": normalize,
        "ratio_src_tgt_tokens": realloc.ratio,
        "vocabulary": {"joint": len(joint), **realloc.sizes()},
        "dictionary_pairs": _pair_breakdown(pairs, joint, realloc) | {"used": int(len(seed))},
    }
    if len(seed) == 0:
        raise ValueError(
            f"none of the {len(pairs)} dictionary pairs has a source-only source word and a target-only "
            f"target word with vectors (tau={tau}: {info['dictionary_pairs']}); check the dictionary's "
            "languages, lower tau, or train on larger corpora"
        )
    if method == "procrustes":
        w, history = align_procrustes(src_only, tgt_only, seed, refine=refine, log=log)
    else:
        from scriptbridge.align.rcsls import rcsls

        if refine:
            raise ValueError("refine applies to procrustes; RCSLS learns from the dictionary alone")
        w, history = rcsls(src_only.vectors, tgt_only.vectors, seed, log=log, **dict(rcsls_options or {}))
    info["rounds"] = history
    mapped = dict(zip(src_only.words, map_keeping_norms(src_only.vectors, w), strict=True))
    src_words = [
        w_
        for i, w_ in enumerate(joint.words)
        if joint.index[w_] == i and (w_ in mapped or w_ in realloc.shared)
    ]
    src_vectors = np.stack([mapped[w_] if w_ in mapped else joint.vector(w_) for w_ in src_words])
    tgt_space = _subset(joint, realloc.target_only | realloc.shared)
    src_space = StaticEmbeddings(src_words, src_vectors)
    info["spaces"] = {"src": len(src_space), "tgt": len(tgt_space)}
    info["map"] = w
    return src_space, tgt_space, info


def _pair_breakdown(
    pairs: list[tuple[str, str]], joint: StaticEmbeddings, realloc: Reallocation
) -> dict[str, int]:
    """Why dictionary pairs were left out: a word without a vector, or on the wrong side of tau."""
    out = {
        "pairs": len(pairs),
        "missing_vector": 0,
        "source_word_not_source_only": 0,
        "target_word_not_target_only": 0,
    }
    for s, t in pairs:
        if s not in joint.index or t not in joint.index:
            out["missing_vector"] += 1
        elif s not in realloc.source_only:
            out["source_word_not_source_only"] += 1
        elif t not in realloc.target_only:
            out["target_word_not_target_only"] += 1
    return out
