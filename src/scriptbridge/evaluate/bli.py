"""Bilingual lexicon induction (BLI): translate each source word of a test dictionary by retrieval in
the target vocabulary, and count how often a gold translation is among the first k.

Scoring is by nearest neighbour (cosine) or CSLS (Conneau et al. 2018): ``2 cos(x, y) - r_T(x) -
r_S(y)``, ``r_T(x)`` the mean cosine of ``x`` to its ``csls_k`` nearest target words, ``r_S(y)`` that of
``y`` to its ``csls_k`` nearest source words (over the whole source vocabulary, as MUSE computes it).
A source word with several gold translations counts as correct when any of them is retrieved (MUSE's
rule).  The similarity matrix is never built whole: query rows go through in chunks, so 200k-word
vocabularies need ``chunk_size x vocabulary x 4`` bytes at a time (about 0.8 GB for 1024 x 200k).

Out-of-vocabulary pairs: ``oov="drop"`` (MUSE's policy) leaves out pairs whose source or target word
the embeddings lack and scores the rest; ``oov="strict"`` counts every source word of the dictionary,
a word without a vector (or without any gold translation in the target vocabulary) as wrong.  The
output states the policy and the coverage either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from scriptbridge.evaluate.retrieval import _chunks, _mean_topk_sim, l2_normalize

METHODS = ("nn", "csls")
OOV_POLICIES = ("drop", "strict")


def read_dictionary(path: str) -> list[tuple[str, str]]:
    """A MUSE dictionary's pairs (``source target`` a line), errors naming the file and line."""
    from scriptbridge.views.code_switch import read_muse_pairs

    return list(read_muse_pairs(path))


@torch.no_grad()
def translate(
    src: Any,
    tgt: Any,
    queries: Sequence[int],
    *,
    method: str = "csls",
    k: int = 10,
    csls_k: int = 10,
    chunk_size: int = 1024,
    device: Any = None,
) -> np.ndarray:
    """The ``k`` best target rows for each query row of ``src`` (``[len(queries), k]``), best first.

    ``src`` / ``tgt`` are :class:`~scriptbridge.models.static.StaticEmbeddings` or ``[n, d]`` arrays,
    compared by cosine (they are L2-normalised here) or CSLS."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    s = l2_normalize(getattr(src, "vectors", src), device)
    t = l2_normalize(getattr(tgt, "vectors", tgt), s.device)
    if s.shape[1] != t.shape[1]:
        raise ValueError(
            f"the source vectors have {s.shape[1]} dimensions and the target ones {t.shape[1]}: "
            "map one onto the other first (align-static)"
        )
    q = s[torch.as_tensor(list(queries), dtype=torch.long, device=s.device)]
    k = min(k, t.shape[0])
    r_src = r_tgt = None
    if method == "csls":
        ck = min(csls_k, t.shape[0], s.shape[0])
        r_tgt = _mean_topk_sim(t, s, ck, chunk_size)  # r_S(y): each target word's mean to its source NNs
        r_src = _mean_topk_sim(q, t, ck, chunk_size)  # r_T(x): each query's mean to its target NNs
    out = np.empty((q.shape[0], k), dtype=np.int64)
    for a, b in _chunks(q.shape[0], chunk_size):
        scores = q[a:b] @ t.T
        if r_src is not None and r_tgt is not None:
            scores.mul_(2).sub_(r_src[a:b, None]).sub_(r_tgt[None, :])
        out[a:b] = torch.topk(scores, k, dim=1).indices.cpu().numpy()
    return out


def bli(
    src: Any,
    tgt: Any,
    pairs: Iterable[tuple[str, str]],
    *,
    method: str = "csls",
    ks: Sequence[int] = (1, 5, 10),
    csls_k: int = 10,
    oov: str = "drop",
    chunk_size: int = 1024,
    device: Any = None,
) -> dict[str, Any]:
    """Precision at each k of ``ks`` on the dictionary ``pairs``, with coverage and the OOV policy.

    ``src`` / ``tgt``: :class:`~scriptbridge.models.static.StaticEmbeddings` in one space (aligned).
    Returns ``{"p@1": ..., "p@5": ..., "method", "oov", "queries", "dictionary_words", "pairs",
    "pairs_kept", "coverage"}`` with precisions in [0, 1].
    """
    if oov not in OOV_POLICIES:
        raise ValueError(f"oov must be one of {', '.join(OOV_POLICIES)}, got {oov!r}")
    pairs = list(pairs)
    gold: dict[str, set[str]] = {}
    for s_word, t_word in pairs:
        gold.setdefault(s_word, set()).add(t_word)
    kept = {
        s_word: {t for t in targets if t in tgt.index}
        for s_word, targets in gold.items()
        if s_word in src.index
    }
    kept = {w: ts for w, ts in kept.items() if ts}
    queries = list(kept)
    n_pairs_kept = sum(len(ts) for ts in kept.values())
    top = max(ks)
    hits = {k: 0 for k in ks}
    if queries:
        found = translate(
            src,
            tgt,
            [src.index[w] for w in queries],
            method=method,
            k=top,
            csls_k=csls_k,
            chunk_size=chunk_size,
            device=device,
        )
        gold_ids = [{tgt.index[t] for t in kept[w]} for w in queries]
        for row, ids in zip(found, gold_ids, strict=True):
            ranks = [i for i, t in enumerate(row) if int(t) in ids]
            first = ranks[0] if ranks else top
            for k in ks:
                hits[k] += int(first < k)
    denominator = len(queries) if oov == "drop" else len(gold)
    out: dict[str, Any] = {f"p@{k}": hits[k] / denominator if denominator else 0.0 for k in ks}
    out.update(
        method=method,
        csls_k=csls_k if method == "csls" else None,
        oov=oov,
        queries=len(queries),
        dictionary_words=len(gold),
        pairs=len(pairs),
        pairs_kept=n_pairs_kept,
        coverage=len(queries) / len(gold) if gold else 0.0,
    )
    return out
