"""Retrieval metrics and similarity statistics for parallel sentence embeddings.

The inputs are two ``[n, d]`` embedding matrices whose row ``i`` embed a sentence and its translation
(``src[i]`` <-> ``tgt[i]``), e.g. one encoder layer run over both sides of a parallel corpus. The
question is how well the gold partner can be found among all ``n`` candidates: by plain cosine, by CSLS
(Conneau et al. 2018, "Word Translation Without Parallel Data") and by ratio margin (Artetxe & Schwenk
2019, "Margin-based Parallel Corpus Mining with Multilingual Sentence Embeddings"), in both directions.

Why chunked: the full ``n x n`` similarity matrix is 40 GB in float32 for n = 100k, so it is never built.
Every sweep multiplies ``chunk_size`` query rows by all candidates, reduces the ``[chunk_size, n]`` block
at once (top-k means, or the rank of the gold) and reuses the buffer. Peak memory is about
``2 * chunk_size * n * 4`` bytes (1.6 GB for 2048 x 100k) plus the embeddings themselves; lower
``chunk_size`` to need less.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Scores within _TIE_TOL * max(1, |gold|) above the gold still count as ties with it. Exact ties
# from duplicated embeddings can differ in the last float32 bits, depending on how the matrix product
# blocks its work; without a tolerance they would count against the gold at random.
_TIE_TOL = 1e-5
# Margin denominators are means of cosines, which can be ~0 or negative for unrelated embeddings.
_MARGIN_EPS = 1e-6


def l2_normalize(x, device=None) -> torch.Tensor:
    """Return ``x`` (numpy array, tensor or nested list, shape ``[n, d]``) as float32 rows of unit length.

    ``device`` defaults to the tensor's own device (CPU for anything else). Zero rows stay zero.
    """
    t = torch.as_tensor(x).detach()
    if t.ndim != 2:
        raise ValueError(f"expected a 2-D [n, d] embedding matrix, got shape {tuple(t.shape)}")
    t = t.to(device=device if device is not None else t.device, dtype=torch.float32)
    # clamping the norm (not adding eps) keeps unit rows exact and makes zero rows 0/eps = 0, never NaN
    return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _pair(src, tgt, device) -> tuple[torch.Tensor, torch.Tensor]:
    s = l2_normalize(src, device)
    t = l2_normalize(tgt, s.device)
    if s.shape[0] != t.shape[0]:
        raise ValueError(
            f"src and tgt must have the same number of rows (parallel), got {s.shape[0]} and {t.shape[0]}"
        )
    if s.shape[0] < 1:
        raise ValueError("need at least one sentence pair, got empty embeddings")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"src and tgt must have the same dimension, got {s.shape[1]} and {t.shape[1]}")
    return s, t


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for a in range(0, n, size):
        yield a, min(a + size, n)


def _mean_topk_sim(q: torch.Tensor, c: torch.Tensor, k: int, chunk_size: int) -> torch.Tensor:
    """For each row of ``q``: mean cosine to its ``k`` most similar rows of ``c`` (CSLS's r)."""
    out = torch.empty(q.shape[0], device=q.device)
    buf = torch.empty(min(chunk_size, q.shape[0]), c.shape[0], device=q.device)
    for a, b in _chunks(q.shape[0], chunk_size):
        sims = torch.matmul(q[a:b], c.T, out=buf[: b - a])
        out[a:b] = torch.topk(sims, k, dim=1).values.mean(dim=1)
    return out


def _gold_rank(scores: torch.Tensor, offset: int, out: torch.Tensor) -> torch.Tensor:
    """Rank of the gold in each row of a ``[b, n]`` block whose gold sits at column ``offset + row``.

    ``out`` (float, may be ``scores`` itself) receives the 0/1 "beats the gold" indicators: summing
    floats is several times faster on CPU than summing a bool tensor, and exact below 2**24.
    """
    rows = torch.arange(scores.shape[0], device=scores.device)
    gold = scores[rows, rows + offset]
    threshold = gold + _TIE_TOL * gold.abs().clamp_min(1.0)
    return torch.gt(scores, threshold[:, None], out=out).sum(dim=1).long()


def _gold_ranks(q, c, r_q, r_c, chunk_size: int) -> dict[str, torch.Tensor]:
    """Ranks of the gold candidate for every query under cosine, CSLS and margin scoring."""
    n = q.shape[0]
    ranks = {m: torch.empty(n, dtype=torch.long, device=q.device) for m in ("cos", "csls", "margin")}
    # blocks are written in place into two buffers reused across chunks: fresh multi-100-MB tensors per
    # operation cost more in allocation and page faults than the arithmetic itself
    cos_buf, score_buf = torch.empty(2, min(chunk_size, n), n, device=q.device)
    for a, b in _chunks(n, chunk_size):
        cos, score = cos_buf[: b - a], score_buf[: b - a]
        rq, rc = r_q[a:b, None], r_c[None, :]
        torch.matmul(q[a:b], c.T, out=cos)
        ranks["cos"][a:b] = _gold_rank(cos, a, out=score)
        torch.mul(cos, 2, out=score).sub_(rq).sub_(rc)  # CSLS = 2 cos - r_T - r_S
        ranks["csls"][a:b] = _gold_rank(score, a, out=score)
        torch.add(rq, rc, out=score).mul_(0.5).clamp_min_(_MARGIN_EPS)  # margin = cos / mean(r_T, r_S)
        ranks["margin"][a:b] = _gold_rank(torch.div(cos, score, out=score), a, out=score)
    return ranks


@torch.no_grad()
def retrieval_metrics(
    src, tgt, *, ks: Sequence[int] = (1, 5, 10), csls_k: int = 10, chunk_size: int = 2048, device=None
) -> dict[str, float]:
    """Bitext retrieval accuracy of parallel embeddings ``src[i] <-> tgt[i]`` (``[n, d]`` each).

    ``src`` and ``tgt`` are numpy arrays or tensors; they are L2-normalised and compared in float32 on
    ``device`` (default: the tensor's device, CPU for numpy), ``chunk_size`` query rows at a time.

    For a query ``x`` (a src row for ``src2tgt``, a tgt row for ``tgt2src``) every row ``y`` of the other
    side is a candidate, scored by

    * cosine ``cos(x, y)``;
    * CSLS (Conneau et al. 2018, "Word Translation Without Parallel Data"):
      ``2 cos(x, y) - r_T(x) - r_S(y)``, where ``r_T(x)`` is the mean cosine of ``x`` to its ``csls_k``
      nearest candidates and ``r_S(y)`` that of ``y`` to its ``csls_k`` nearest queries. It penalises
      hubs, vectors close to everything;
    * ratio margin (Artetxe & Schwenk 2019, "Margin-based Parallel Corpus Mining with Multilingual
      Sentence Embeddings"): ``cos(x, y) / ((r_T(x) + r_S(y)) / 2)``, the denominator clamped to a
      small positive epsilon.

    The rank of the gold ``y`` is the number of candidates scoring strictly higher than it, so ties
    (duplicated sentences with identical embeddings) count in its favour; scores within float32
    round-off (1e-5 relative) of the gold's count as ties. Top-k is correct iff rank < k.

    Returns plain floats in [0, 1], for each ``k`` in ``ks`` and ``d`` in ``("src2tgt", "tgt2src")``:
    ``top{k}_{d}``, ``csls_top{k}_{d}``, ``margin_top{k}_{d}`` (accuracies) and ``mrr_{d}``, the mean
    reciprocal rank ``1 / (rank + 1)`` under cosine. ``csls_k`` is clamped to ``n``.
    """
    s, t = _pair(src, tgt, device)
    if chunk_size < 1 or csls_k < 1 or any(k < 1 for k in ks):
        raise ValueError(f"chunk_size, csls_k and ks must be >= 1, got {chunk_size}, {csls_k}, {tuple(ks)}")
    k_nn = min(csls_k, s.shape[0])
    # pass 1: neighbourhood densities, r_T over tgt for every src row and r_S over src for every tgt row
    r_t = _mean_topk_sim(s, t, k_nn, chunk_size)
    r_s = _mean_topk_sim(t, s, k_nn, chunk_size)
    # pass 2: rank the gold in each direction
    out: dict[str, float] = {}
    for d, (q, c, r_q, r_c) in (("src2tgt", (s, t, r_t, r_s)), ("tgt2src", (t, s, r_s, r_t))):
        ranks = _gold_ranks(q, c, r_q, r_c, chunk_size)
        for k in ks:
            for prefix, m in (("", "cos"), ("csls_", "csls"), ("margin_", "margin")):
                out[f"{prefix}top{k}_{d}"] = (ranks[m] < k).double().mean().item()
        out[f"mrr_{d}"] = (1.0 / (ranks["cos"] + 1).double()).mean().item()
    return out


def derangement(n: int, *, seed: int = 0) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` without fixed points (n >= 2), fixed by ``seed``.

    Rejection sampling: about 1/e of all permutations are derangements, so ~2.7 draws on average.
    """
    if n < 2:
        raise ValueError(f"a derangement needs n >= 2, got {n}")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not (perm == np.arange(n)).any():
            return perm


def _quantiles(x: np.ndarray) -> dict[str, float | None]:
    qs = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
    return {name: (float(np.quantile(x, q)) if x.size else None) for name, q in qs.items()}


def _stat(x: np.ndarray, fn) -> float | None:
    return float(fn(x)) if x.size else None


@dataclass
class SimilarityStats:
    """Cosines of gold pairs (``matched``) and of mismatched pairs ``src[i], tgt[perm[i]]`` (``random``)."""

    matched: np.ndarray
    random: np.ndarray

    def summary(self, bins: int = 40) -> dict:
        """Means, standard deviations, quantiles, ``gap`` = matched mean - random mean, and a shared
        histogram (``bins`` bins over both distributions, edges rounded outward to 0.05). Plain JSON
        values; statistics of an empty ``random`` (n == 1) are None."""
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        # float32 cosines of identical vectors can exceed 1 by an ulp; clip so the histogram counts all
        matched, rand = np.clip(self.matched, -1, 1), np.clip(self.random, -1, 1)
        both = np.concatenate([matched, rand])
        lo = max(-1.0, np.floor(both.min() / 0.05) * 0.05)
        hi = min(1.0, np.ceil(both.max() / 0.05) * 0.05)
        # guard against float rounding of the 0.05 grid, and a degenerate range (all values equal)
        lo, hi = min(lo, both.min()), max(hi, both.max())
        if hi - lo < 0.05:
            lo, hi = (hi - 0.05, hi) if hi >= 0 else (lo, lo + 0.05)
        edges = np.linspace(lo, hi, bins + 1)
        matched_mean, random_mean = _stat(matched, np.mean), _stat(rand, np.mean)
        return {
            "matched_mean": matched_mean,
            "matched_std": _stat(matched, np.std),
            "random_mean": random_mean,
            "random_std": _stat(rand, np.std),
            "gap": None if random_mean is None else matched_mean - random_mean,
            "matched_quantiles": _quantiles(matched),
            "random_quantiles": _quantiles(rand),
            "hist": {
                "edges": [float(e) for e in edges],
                "matched": np.histogram(matched, edges)[0].tolist(),
                "random": np.histogram(rand, edges)[0].tolist(),
            },
        }


@torch.no_grad()
def similarity_stats(src, tgt, *, seed: int = 0) -> SimilarityStats:
    """Cosine of every gold pair ``(src[i], tgt[i])`` and of ``(src[i], tgt[perm[i]])`` for a random
    derangement ``perm`` fixed by ``seed`` (see :func:`derangement`): how far translations sit above
    chance similarity. ``random`` is empty when n == 1. Costs O(n d), no similarity matrix."""
    s, t = _pair(src, tgt, None)
    n = s.shape[0]
    matched = (s * t).sum(dim=1)
    if n >= 2:
        perm = torch.from_numpy(derangement(n, seed=seed)).to(t.device)
        rand = (s * t[perm]).sum(dim=1)
    else:
        rand = matched[:0]
    return SimilarityStats(matched.cpu().double().numpy(), rand.cpu().double().numpy())
