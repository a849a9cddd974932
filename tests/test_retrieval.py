"""Retrieval metrics and similarity statistics against a brute-force full-matrix numpy reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from scriptbridge.evaluate import retrieval
from scriptbridge.evaluate.retrieval import (
    SimilarityStats,
    derangement,
    l2_normalize,
    retrieval_metrics,
    similarity_stats,
)

DIRS = ("src2tgt", "tgt2src")


def reference(src, tgt, ks=(1, 5, 10), csls_k=10) -> dict[str, float]:
    """The obvious full n x n float64 computation."""

    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    s, t = unit(src), unit(tgt)
    n = len(s)
    k_nn = min(csls_k, n)
    cos = s @ t.T
    r_t = np.sort(cos, axis=1)[:, -k_nn:].mean(axis=1)  # each src row vs its nearest tgt rows
    r_s = np.sort(cos.T, axis=1)[:, -k_nn:].mean(axis=1)  # each tgt row vs its nearest src rows
    out = {}
    for d, m, rq, rc in (("src2tgt", cos, r_t, r_s), ("tgt2src", cos.T, r_s, r_t)):
        scores = {
            "": m,
            "csls_": 2 * m - rq[:, None] - rc[None, :],
            "margin_": m / np.maximum((rq[:, None] + rc[None, :]) / 2, retrieval._MARGIN_EPS),
        }
        for prefix, sc in scores.items():
            gold = np.diag(sc)
            thr = gold + retrieval._TIE_TOL * np.maximum(np.abs(gold), 1.0)
            rank = (sc > thr[:, None]).sum(axis=1)
            for k in ks:
                out[f"{prefix}top{k}_{d}"] = float((rank < k).mean())
            if prefix == "":
                out[f"mrr_{d}"] = float((1 / (rank + 1)).mean())
    return out


def noisy_pair(n, d, noise, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((n, d))
    return src, src + noise * rng.standard_normal((n, d))


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 97, 2048])
def test_matches_bruteforce_reference(chunk_size):
    # noise chosen so accuracies are far from both 0 and 1 and the three scorings disagree
    src, tgt = noisy_pair(97, 12, 1.0, seed=1)
    got = retrieval_metrics(src, tgt, ks=(1, 3, 10), csls_k=5, chunk_size=chunk_size)
    want = reference(src, tgt, ks=(1, 3, 10), csls_k=5)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert type(got[key]) is float
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert 0.1 < got["top1_src2tgt"] < 0.9


def test_default_keys_and_torch_input():
    src, tgt = noisy_pair(40, 8, 0.8, seed=2)
    got = retrieval_metrics(torch.from_numpy(src), torch.from_numpy(tgt).float(), chunk_size=16)
    want = reference(src, tgt)
    expected = {f"{p}top{k}_{d}" for p in ("", "csls_", "margin_") for k in (1, 5, 10) for d in DIRS}
    assert set(got) == expected | {f"mrr_{d}" for d in DIRS}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_csls_k_larger_than_n_is_clamped():
    src, tgt = noisy_pair(6, 5, 0.7, seed=3)
    got = retrieval_metrics(src, tgt, csls_k=50, chunk_size=4)
    want = reference(src, tgt, csls_k=6)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_identity_is_perfect():
    x = np.random.default_rng(4).standard_normal((30, 64))  # distinct, nearly orthogonal rows
    got = retrieval_metrics(x, x, chunk_size=8)
    assert all(v == 1.0 for v in got.values()), got


def test_csls_and_margin_fix_a_hub():
    # sources on axes 0..3; tgt 0 is a hub with cosine 0.5 to every source, while the gold translations
    # of sources 1..3 are noisy (cosine 0.45, the rest in private dimensions): plain cosine picks the hub
    eye = np.eye(7)
    src = eye[:4]
    hub = np.r_[np.full(4, 0.5), np.zeros(3)]
    tgt = np.stack([hub] + [0.45 * eye[i] + math.sqrt(1 - 0.45**2) * eye[3 + i] for i in (1, 2, 3)])
    got = retrieval_metrics(src, tgt, ks=(1,), csls_k=2)
    assert got["top1_src2tgt"] == 0.25
    assert got["mrr_src2tgt"] == pytest.approx((1 + 3 * 0.5) / 4)
    assert got["csls_top1_src2tgt"] == 1.0 > got["top1_src2tgt"]
    assert got["margin_top1_src2tgt"] == 1.0


def test_duplicates_tie_in_favour_of_gold():
    x = np.random.default_rng(5).standard_normal((10, 16))
    x[3] = x[7] = x[1]  # the same sentence three times on both sides
    # small csls_k: with csls_k = n, random rows have r ~ 0 and a clamped margin denominator
    got = retrieval_metrics(x, x.copy(), ks=(1,), csls_k=3, chunk_size=3)
    assert all(v == 1.0 for v in got.values()), got
    # duplicated targets only: the src row of each copy still retrieves (ties with) its gold
    src, tgt = noisy_pair(12, 16, 0.1, seed=6)
    src[5], tgt[5] = src[2], tgt[2]
    assert retrieval_metrics(src, tgt, ks=(1,))["top1_src2tgt"] == 1.0


def test_single_pair():
    got = retrieval_metrics(np.array([[1.0, 2.0]]), np.array([[-3.0, 0.5]]))
    assert len(got) == 20 and all(v == 1.0 for v in got.values())
    stats = similarity_stats(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert stats.random.shape == (0,)
    summ = stats.summary(bins=5)
    assert summ["random_mean"] is summ["random_std"] is summ["gap"] is None
    assert summ["random_quantiles"]["p50"] is None
    assert summ["matched_mean"] == pytest.approx(1.0)
    assert sum(summ["hist"]["matched"]) == 1 and sum(summ["hist"]["random"]) == 0
    json.dumps(summ)


@pytest.mark.parametrize(
    ("src", "tgt", "match"),
    [
        (np.ones((3, 4)), np.ones((4, 4)), "same number of rows"),
        (np.ones((0, 4)), np.ones((0, 4)), "at least one"),
        (np.ones((3, 4)), np.ones((3, 5)), "same dimension"),
        (np.ones(4), np.ones(4), "2-D"),
    ],
)
def test_bad_shapes(src, tgt, match):
    with pytest.raises(ValueError, match=match):
        retrieval_metrics(src, tgt)
    with pytest.raises(ValueError, match=match):
        similarity_stats(src, tgt)


def test_bad_arguments():
    with pytest.raises(ValueError, match=">= 1"):
        retrieval_metrics(np.eye(3), np.eye(3), chunk_size=0)
    with pytest.raises(ValueError, match=">= 1"):
        retrieval_metrics(np.eye(3), np.eye(3), ks=(0,))


def test_zero_rows_give_no_nan():
    src, tgt = noisy_pair(8, 6, 0.5, seed=7)
    src[2] = 0.0
    tgt[4] = 0.0
    unit = l2_normalize(src)
    assert unit.dtype == torch.float32 and torch.isfinite(unit).all() and unit[2].abs().sum() == 0
    got = retrieval_metrics(src, tgt, chunk_size=3)
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in got.values())
    summ = similarity_stats(src, tgt).summary()
    assert all(math.isfinite(summ[k]) for k in ("matched_mean", "random_mean", "gap"))


def test_l2_normalize():
    x = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert torch.allclose(x, torch.tensor([[0.6, 0.8], [0.0, 0.0]]))
    assert l2_normalize(torch.ones(2, 3, dtype=torch.float64)).dtype == torch.float32


def test_derangement():
    for n in (2, 3, 10, 1000):
        perm = derangement(n, seed=n)
        assert sorted(perm.tolist()) == list(range(n))
        assert not (perm == np.arange(n)).any()
    assert derangement(2).tolist() == [1, 0]
    assert np.array_equal(derangement(50, seed=1), derangement(50, seed=1))
    assert not np.array_equal(derangement(50, seed=1), derangement(50, seed=2))
    with pytest.raises(ValueError):
        derangement(1)


def test_similarity_stats_and_summary():
    src, tgt = noisy_pair(200, 32, 0.5, seed=8)
    stats = similarity_stats(src, tgt, seed=3)
    s, t = l2_normalize(src).double().numpy(), l2_normalize(tgt).double().numpy()
    assert np.allclose(stats.matched, (s * t).sum(axis=1), atol=1e-6)
    perm = derangement(200, seed=3)
    assert np.allclose(stats.random, (s * t[perm]).sum(axis=1), atol=1e-6)
    assert np.array_equal(similarity_stats(src, tgt, seed=3).random, stats.random)
    assert not np.array_equal(similarity_stats(src, tgt, seed=4).random, stats.random)

    summ = stats.summary(bins=20)
    json.loads(json.dumps(summ))
    assert summ["gap"] == pytest.approx(summ["matched_mean"] - summ["random_mean"])
    assert summ["gap"] > 0.5  # translations are far above chance
    assert summ["matched_mean"] == pytest.approx(stats.matched.mean())
    assert summ["random_std"] == pytest.approx(stats.random.std())
    for side in ("matched", "random"):
        q = summ[f"{side}_quantiles"]
        assert list(q) == ["p05", "p25", "p50", "p75", "p95"]
        assert q["p05"] <= q["p25"] <= q["p50"] <= q["p75"] <= q["p95"]
        assert sum(summ["hist"][side]) == 200 and len(summ["hist"][side]) == 20
    edges = summ["hist"]["edges"]
    assert len(edges) == 21 and -1 <= edges[0] <= min(stats.random.min(), stats.matched.min())
    assert max(stats.matched.max(), stats.random.max()) <= edges[-1] <= 1


def test_summary_handles_cosines_at_one():
    # float32 cosines of identical vectors may exceed 1 by an ulp: still counted, edges in [-1, 1]
    summ = SimilarityStats(np.array([1.0000001, 1.0, 0.9999999]), np.array([0.0, 0.0, 0.0])).summary(bins=4)
    assert sum(summ["hist"]["matched"]) == 3 and sum(summ["hist"]["random"]) == 3
    assert summ["hist"]["edges"][-1] == 1.0
    same = SimilarityStats(np.array([0.3, 0.3]), np.array([0.3, 0.3])).summary(bins=3)
    assert sum(same["hist"]["matched"]) == 2 and same["hist"]["edges"][0] < same["hist"]["edges"][-1]


def test_large_without_full_matrix():
    # 20000 x 20000 would be 1.6 GB in float32; chunked it needs 1024 x 20000 blocks
    x = np.random.default_rng(9).standard_normal((20000, 16)).astype(np.float32)
    got = retrieval_metrics(x, x, ks=(1,), csls_k=10, chunk_size=1024)
    assert got["top1_src2tgt"] == got["top1_tgt2src"] == 1.0
    assert got["mrr_src2tgt"] == 1.0


def test_explicit_device_and_grad_inputs():
    src, tgt = noisy_pair(20, 8, 0.8, seed=10)
    s = torch.from_numpy(src).requires_grad_()
    got = retrieval_metrics(s, tgt, device="cpu", chunk_size=6)
    want = reference(src, tgt)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
