"""Probe plots and the HTML report, from a synthetic result dict and synthetic embeddings (fast)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from matplotlib import image as mpimg

from scriptbridge.evaluate import plots
from scriptbridge.evaluate.report import ReportFigure, render_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_result(
    n_layers: int = 4, *, n_pairs: int = 200, seed: int = 0, src_label: str = "eng (tatoeba.hin-eng.eng)"
) -> dict:
    """A probe.json-shaped dict whose alignment improves with depth, then dips at the last layer."""
    rng = np.random.default_rng(seed)
    edges = np.linspace(-0.2, 1.0, 41)
    layers = {}
    for layer in range(n_layers):
        q = min(0.95, 0.15 + 0.3 * layer) - (0.1 if layer == n_layers - 1 and layer > 1 else 0.0)
        matched_mean, random_mean = 0.3 + 0.5 * q, 0.25 + 0.05 * layer
        matched = rng.normal(matched_mean, 0.08, n_pairs)
        random = rng.normal(random_mean, 0.1, n_pairs * 4)
        m = {f"top{k}_{d}": min(1.0, q * (1 + 0.1 * k)) for k in (1, 5, 10) for d in ("src2tgt", "tgt2src")}
        m.update({f"{p}_top{k}_src2tgt": min(1.0, q + 0.03) for p in ("csls", "margin") for k in (1, 5, 10)})
        m.update({f"{p}_top{k}_tgt2src": min(1.0, q + 0.02) for p in ("csls", "margin") for k in (1, 5, 10)})
        m["top1_tgt2src"] = q * 0.95
        m.update(mrr_src2tgt=q, mrr_tgt2src=q * 0.97)
        m.update(matched_mean=float(matched.mean()), matched_std=float(matched.std()))
        m.update(random_mean=float(random.mean()), random_std=float(random.std()))
        m["gap"] = m["matched_mean"] - m["random_mean"]
        for name, arr in (("matched", matched), ("random", random)):
            qs = np.quantile(arr, [0.05, 0.25, 0.5, 0.75, 0.95])
            m[f"{name}_quantiles"] = dict(
                zip(["p05", "p25", "p50", "p75", "p95"], map(float, qs), strict=True)
            )
        m["hist"] = {
            "edges": edges.tolist(),
            "matched": np.histogram(matched, edges)[0].tolist(),
            "random": np.histogram(random, edges)[0].tolist(),
        }
        layers[str(layer)] = m
    best = max(layers, key=lambda k: layers[k]["top1_src2tgt"] + layers[k]["top1_tgt2src"])
    return {
        "schema": "scriptbridge.probe/1",
        "model": "multilingual-e5-small (embedded)",
        "model_info": {"name": "multilingual-e5-small", "layers": n_layers - 1, "hidden": 384},
        "pooling": "mean",
        "prefix": "query: ",
        "n_pairs": n_pairs,
        "seed": seed,
        "src": {"label": src_label, "spec": "tatoeba:hin-eng:eng", "lang": "en"},
        "tgt": {"label": "hin romanized (uroman)", "spec": "romanize:hi:uroman", "lang": "hi"},
        "best_layer": int(best),
        "best_by": "mean of top1_src2tgt and top1_tgt2src",
        "layers": layers,
        "run": {"seed": seed, "versions": {"scriptbridge": "0.1.0", "numpy": np.__version__}, "device": "cpu",
                "command": "scriptbridge probe --pairs 200", "started": "2025-01-01T00:00:00", "seconds": 1.5},
    }  # fmt: skip


def synthetic_points(layers: list[int], n: int, d: int = 16, seed: int = 0) -> dict:
    """Parallel embeddings: tgt = src + noise that shrinks with depth (alignment improves)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d))
    shift = rng.normal(size=d) * 2
    return {L: (base, base + shift / (L + 1) + rng.normal(scale=1.0 / (L + 1), size=(n, d))) for L in layers}


def png_shape(data: bytes) -> tuple[int, ...]:
    assert data[:8] == PNG_MAGIC
    return mpimg.imread(io.BytesIO(data), format="png").shape


def test_retrieval_chart_is_png():
    h, w, _ = png_shape(plots.retrieval_chart(synthetic_result()))
    assert 300 < h < 2000 and 500 < w < 2000


def test_similarity_histograms_is_png_and_checks_layers():
    res = synthetic_result()
    h, w, _ = png_shape(plots.similarity_histograms(res, [0, 2, 3]))
    assert h > 200 and w > 600
    png_shape(plots.similarity_histograms(res, [1]))
    with pytest.raises(ValueError, match="not in the result"):
        plots.similarity_histograms(res, [7])


@pytest.mark.parametrize("n", [5, 600])
def test_projection_plot_small_and_subsampled(n):
    pts = synthetic_points([0, 2], n)
    h, w, _ = png_shape(plots.projection_plot(pts, "eng <b>", "hin rom", seed=1, max_points=200))
    assert h > 200 and w > 400


def test_projection_plot_rejects_bad_input():
    pts = synthetic_points([0], 8)
    with pytest.raises(ValueError, match="unknown projection method"):
        plots.projection_plot(pts, "a", "b", method="pca")
    with pytest.raises(ValueError):
        plots.projection_plot({0: (np.zeros((3, 4)), np.zeros((4, 4)))}, "a", "b")


def test_projection_umap_missing_or_present():
    pts = synthetic_points([1], 60)
    if not plots.umap_available():
        with pytest.raises(ImportError, match=re.escape("pip install 'scriptbridge[umap]'")):
            plots.projection_plot(pts, "a", "b", method="umap")
        pytest.skip("umap-learn is not installed (pip install 'scriptbridge[umap]')")
    png_shape(plots.projection_plot(pts, "a", "b", method="umap"))


def _figures(result: dict) -> list[ReportFigure]:
    return [
        ReportFigure("retrieval", "Retrieval by layer", "Top-1 & friends", plots.retrieval_chart(result)),
        ReportFigure(
            "similarity", "Similarity", "matched vs random", plots.similarity_histograms(result, [0, 3])
        ),
    ]


def test_report_is_self_contained_and_escaped(tmp_path):
    res = synthetic_result(src_label="<script>alert(1)</script>")
    res["model_info"]["source"] = "https://example.org/model"  # quoted URLs must not become links or fetches
    figs = _figures(res)
    out = write_report(tmp_path / "sub" / "report.html", res, figs)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    for f in figs:
        assert base64.b64encode(f.png).decode() in page
        assert f'data-figure="{f.key}"' in page
    for bad in ("http://", "https://", "<link", "@import", "url("):
        assert bad not in page.lower(), bad
    assert not re.search(r"""\ssrc=["'](?!data:)""", page), "only data: image sources"
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # ours only
    rows = re.findall(r"<tr data-layer=\"(\d+)\"([^>]*)>", page)
    assert [int(r[0]) for r in rows] == list(range(4))
    best = [int(r[0]) for r in rows if 'class="best"' in r[1]]
    assert best == [res["best_layer"]]
    assert "plotsRendered" in page and "plotsExpected" in page
    assert f"At layer {res['best_layer']}," in page
    assert not list(out.parent.glob(".*.tmp")), "atomic write leaves no temp file"


def test_report_without_best_layer_or_figures():
    res = synthetic_result(3)
    del res["best_layer"], res["run"], res["model_info"]
    page = render_report(res, [])
    assert 'class="best"' in page and "(no figures)" in page
