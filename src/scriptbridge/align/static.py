"""Aligning two static embedding spaces with an orthogonal map (Procrustes), from a seed dictionary or
from identical strings, and refining it with dictionaries induced by CSLS (Conneau et al. 2018).

The map ``W`` (``[d, d]``, orthogonal) sends source vectors onto the target space: ``src @ W``.  It is
the solution of ``min ||X W - Y||`` over orthogonal ``W`` for the paired rows ``X`` (source) and ``Y``
(target): ``W = U V^T`` with ``U S V^T = svd(X^T Y)``.  Orthogonal maps keep distances, so the source
space's own structure is untouched (Xing et al. 2015; Artetxe et al. 2016).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from scriptbridge.models.static import StaticEmbeddings


def procrustes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The orthogonal ``W`` minimising ``||x W - y||_F`` (rows of ``x`` and ``y`` paired)."""
    if x.shape != y.shape or x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"expected two paired [n, d] matrices, got {x.shape} and {y.shape}")
    u, _, vt = np.linalg.svd(x.astype(np.float64).T @ y.astype(np.float64))
    return (u @ vt).astype(np.float32)


def dictionary_pairs(
    src: StaticEmbeddings, tgt: StaticEmbeddings, pairs: Iterable[tuple[str, str]]
) -> np.ndarray:
    """The ``[m, 2]`` row indices of the dictionary pairs whose two words both have vectors."""
    rows = [(src.index[s], tgt.index[t]) for s, t in pairs if s in src.index and t in tgt.index]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def identical_pairs(src: StaticEmbeddings, tgt: StaticEmbeddings) -> np.ndarray:
    """Words spelt the same on both sides (numbers, names, shared loanwords): a seed dictionary that
    needs no data (Smith et al. 2017), useful between languages that share a script."""
    rows = [(i, tgt.index[w]) for i, w in enumerate(src.words) if w in tgt.index and src.index[w] == i]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


@torch.no_grad()
def csls_mutual_pairs(
    src: np.ndarray, tgt: np.ndarray, *, max_rank: int = 15000, csls_k: int = 10, chunk_size: int = 1024
) -> np.ndarray:
    """Pairs that are each other's CSLS nearest neighbour among the first ``max_rank`` words of each
    side (the frequent ones, whose vectors are reliable): the dictionary a refinement step induces."""
    from scriptbridge.evaluate.retrieval import _mean_topk_sim, l2_normalize

    s = l2_normalize(src[:max_rank])
    t = l2_normalize(tgt[:max_rank])
    k = min(csls_k, s.shape[0], t.shape[0])
    r_s = _mean_topk_sim(s, t, k, chunk_size)
    r_t = _mean_topk_sim(t, s, k, chunk_size)

    def best(q: torch.Tensor, c: torch.Tensor, r_q: torch.Tensor, r_c: torch.Tensor) -> torch.Tensor:
        out = torch.empty(q.shape[0], dtype=torch.long)
        for a in range(0, q.shape[0], chunk_size):
            b = min(a + chunk_size, q.shape[0])
            scores = (q[a:b] @ c.T).mul_(2).sub_(r_q[a:b, None]).sub_(r_c[None, :])
            out[a:b] = scores.argmax(dim=1)
        return out

    fwd = best(s, t, r_s, r_t)
    bwd = best(t, s, r_t, r_s)
    mutual = [(i, int(j)) for i, j in enumerate(fwd.tolist()) if int(bwd[j]) == i]
    return np.asarray(mutual, dtype=np.int64).reshape(-1, 2)


def align_procrustes(
    src: StaticEmbeddings,
    tgt: StaticEmbeddings,
    seed: np.ndarray,
    *,
    refine: int = 0,
    max_rank: int = 15000,
    csls_k: int = 10,
    log: Any = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Procrustes on the ``seed`` pairs, then ``refine`` rounds of: induce a dictionary of mutual CSLS
    nearest neighbours in the mapped space, solve Procrustes on it (MUSE's refinement).  Returns the
    map and one record a round (how many pairs it used)."""
    if len(seed) == 0:
        raise ValueError(
            "no seed pairs: none of the dictionary's pairs has vectors on both sides (check the languages "
            "and the dictionary), and no identical strings were found"
        )
    w = procrustes(src.vectors[seed[:, 0]], tgt.vectors[seed[:, 1]])
    history = [{"round": 0, "pairs": int(len(seed)), "source": "seed"}]
    for r in range(1, refine + 1):
        induced = csls_mutual_pairs(src.vectors @ w, tgt.vectors, max_rank=max_rank, csls_k=csls_k)
        if len(induced) == 0:
            break
        w = procrustes(src.vectors[induced[:, 0]], tgt.vectors[induced[:, 1]])
        history.append({"round": r, "pairs": int(len(induced)), "source": "csls mutual nearest neighbours"})
        if log:
            log(f"refinement round {r}: {len(induced)} mutual CSLS pairs")
    return w, history
