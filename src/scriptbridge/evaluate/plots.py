"""PNG plots for ``scriptbridge probe`` reports.

Every function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas and returns PNG
bytes: no pyplot global state (so it is safe to call from threads or a headless server) and no
display. Colours come from the Okabe-Ito palette, which stays distinguishable under the common
forms of colour blindness; lines also differ by marker/dash so the plots survive greyscale printing.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

DPI = 110
# Okabe-Ito
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#666666",
)
SRC_COLOUR, TGT_COLOUR = BLUE, ORANGE
PROJECTION_METHODS = ("tsne", "umap")


def _png(fig: Figure) -> bytes:
    """Render ``fig`` with Agg and return PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def side_name(result: Mapping[str, Any], side: str, width: int = 24) -> str:
    """A short name for one side (``"eng"``, ``"hin romanized"``) for legends: the label up to its
    first parenthesis, since labels like ``"eng (tatoeba.hin-eng.eng)"`` are too long for a legend."""
    info = result.get(side) or {}
    name = str(info.get("label") or info.get("lang") or side).split(" (")[0].strip() or side
    return name if len(name) <= width else name[: width - 1] + "…"


def _sorted_layers(result: Mapping[str, Any]) -> list[int]:
    return sorted(int(k) for k in (result.get("layers") or {}))


def _metric(result: Mapping[str, Any], layers: list[int], key: str) -> np.ndarray:
    """One metric across layers; NaN where a layer lacks it (matplotlib leaves a gap)."""
    out = []
    for layer in layers:
        v = result["layers"][str(layer)].get(key)
        out.append(float(v) if isinstance(v, (int, float)) else math.nan)
    return np.asarray(out, dtype=float)


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(max_cols, max(1, n))
    return math.ceil(n / cols), cols


def retrieval_chart(result: Mapping[str, Any]) -> bytes:
    """Retrieval accuracy per layer (top-1 both ways, CSLS top-1, top-10) plus the matched-random
    cosine gap on a secondary axis; the best layer is marked with a vertical band."""
    layers = _sorted_layers(result)
    if not layers:
        raise ValueError("result has no layers to plot")
    s, t = side_name(result, "src"), side_name(result, "tgt")
    fig = Figure(figsize=(8.2, 5.0))
    ax = fig.add_subplot()
    x = np.asarray(layers)
    series = [
        ("top1_src2tgt", f"top-1 {s} → {t}", BLUE, "o", "-"),
        ("top1_tgt2src", f"top-1 {t} → {s}", ORANGE, "s", "-"),
        ("csls_top1_src2tgt", f"CSLS top-1 {s} → {t}", GREEN, "^", "-"),
        ("top10_src2tgt", f"top-10 {s} → {t}", PURPLE, "D", ":"),
    ]
    handles = []
    for key, label, colour, marker, ls in series:
        y = _metric(result, layers, key)
        if np.isnan(y).all():
            continue
        (h,) = ax.plot(x, y, color=colour, marker=marker, ls=ls, lw=2, ms=5, label=label)
        handles.append(h)
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("layer (0 = embedding layer)")
    ax.set_ylabel("retrieval accuracy")
    ax.set_xticks(x if len(x) <= 25 else x[:: math.ceil(len(x) / 25)])
    ax.grid(True, alpha=0.3)

    gap = _metric(result, layers, "gap")
    if not np.isnan(gap).all():
        ax2 = ax.twinx()
        (h,) = ax2.plot(x, gap, color=VERMILLION, ls="--", lw=1.8, label="cosine gap (matched − random)")
        handles.append(h)
        ax2.set_ylabel("cosine gap (matched − random)", color=VERMILLION)
        ax2.tick_params(axis="y", colors=VERMILLION)
        top = np.nanmax(gap)
        ax2.set_ylim(min(0.0, float(np.nanmin(gap))) * 1.1, (top if top > 0 else 1.0) * 1.15)

    best = result.get("best_layer")
    if best is not None and int(best) in layers:
        b = int(best)
        top1 = _metric(result, [b], "top1_src2tgt")[0]
        note = f"best layer {b}" + ("" if math.isnan(top1) else f" ({top1:.0%} top-1 {s} → {t})")
        # a band plus a legend entry rather than an in-plot label, which always collides with some line
        handles.append(ax.axvspan(b - 0.35, b + 0.35, color=YELLOW, alpha=0.4, zorder=0, label=note))
    ax.set_title(f"Cross-side retrieval by layer: {s} vs {t}")
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return _png(fig)


def similarity_histograms(result: Mapping[str, Any], layers: list[int]) -> bytes:
    """Small multiples of matched vs random pair cosine similarity for ``layers``, drawn from the
    binned counts in ``result["layers"][str(L)]["hist"]`` (normalised to densities so the two
    populations compare even when their sizes differ), with the means as vertical lines."""
    if not layers:
        raise ValueError("similarity_histograms needs at least one layer")
    missing = [L for L in layers if str(L) not in (result.get("layers") or {})]
    if missing:
        raise ValueError(f"layers {missing} are not in the result (have {_sorted_layers(result)})")
    rows, cols = _grid(len(layers))
    fig = Figure(figsize=(max(7.0, 3.6 * cols + 0.6), 2.9 * rows + 0.8))
    # all panels share the x range where any chosen layer has counts, so shifts between layers show
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for ax in axes.flat[len(layers) :]:
        ax.set_visible(False)
    lo, hi = math.inf, -math.inf
    for ax, layer in zip(axes.flat, layers, strict=False):
        m = result["layers"][str(layer)]
        hist = m.get("hist") or {}
        edges = np.asarray(hist.get("edges") or [], dtype=float)
        for key, colour in (("random", GREY), ("matched", BLUE)):
            counts = np.asarray(hist.get(key) or [], dtype=float)
            if len(edges) == len(counts) + 1 and counts.sum() > 0:
                dens = counts / (counts.sum() * np.diff(edges))
                ax.stairs(dens, edges, fill=True, color=colour, alpha=0.35)
                ax.stairs(dens, edges, color=colour, lw=1.2)
                nz = np.flatnonzero(counts)
                lo, hi = min(lo, edges[max(nz[0] - 1, 0)]), max(hi, edges[min(nz[-1] + 2, len(edges) - 1)])
            mean = m.get(f"{key}_mean")
            if isinstance(mean, (int, float)):
                ax.axvline(mean, color="black" if key == "random" else colour, ls="--", lw=1.3)
        mm, rm, gap = (m.get(k) for k in ("matched_mean", "random_mean", "gap"))
        title = f"layer {layer}"
        if all(isinstance(v, (int, float)) for v in (mm, rm, gap)):
            title += f": gap {gap:+.3f}\nmeans {mm:.2f} matched, {rm:.2f} random"
        ax.set_title(title, fontsize=9.5)
        ax.set_xlabel("cosine similarity", fontsize=9)
        ax.set_ylabel("density", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.25)
        ax.tick_params(labelbottom=True)
    if lo < hi:
        axes.flat[0].set_xlim(lo, hi)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    # one shared legend below the panels: per-panel legends cover the distributions
    handles = [
        Patch(facecolor=BLUE, edgecolor=BLUE, alpha=0.5, label="matched pairs"),
        Patch(facecolor=GREY, edgecolor=GREY, alpha=0.5, label="random pairs"),
        Line2D([], [], color=BLUE, ls="--", label="matched mean"),
        Line2D([], [], color="black", ls="--", label="random mean"),
    ]
    s, t = side_name(result, "src"), side_name(result, "tgt")
    fig.suptitle(f"Cosine similarity of matched vs random {s}/{t} pairs", fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.45 / fig.get_figheight(), 1, 1))
    return _png(fig)


def umap_available() -> bool:
    """True when the optional ``umap-learn`` package is installed (checked without importing it,
    which would start numba). A bare ``umap/`` folder left behind by an uninstall (numba caches)
    is a namespace package with no origin: that does not count."""
    spec = importlib.util.find_spec("umap")
    return spec is not None and spec.origin is not None


def _project(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    """2-D coordinates for the rows of ``x`` (already L2-normalised, so Euclidean ~ cosine)."""
    n = len(x)
    if n < 4:
        # too few points for a neighbour embedding; a PCA-ish layout still shows the pairs
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        out = centred @ vt[:2].T
        return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    if method == "umap":
        import umap

        # spectral init fails on tiny graphs; random init is fine there
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(15, n - 1),
            random_state=seed,
            n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so avoids its warning
            init="spectral" if n > 50 else "random",
        )
        return np.asarray(reducer.fit_transform(x))
    from sklearn.manifold import TSNE

    kwargs: dict[str, Any] = {"n_components": 2, "init": "pca", "random_state": seed, "n_jobs": 1}
    kwargs["perplexity"] = min(30.0, (n - 1) / 3)
    # ~500 iterations keeps a few layers of 800 points to seconds; the keyword was renamed in 1.5
    params = inspect.signature(TSNE).parameters
    kwargs["max_iter" if "max_iter" in params else "n_iter"] = 500
    if "learning_rate" in params:
        kwargs["learning_rate"] = "auto"
    from threadpoolctl import threadpool_limits

    # one thread: sklearn's Barnes-Hut gradient uses OpenMP, and on a busy machine its threads
    # spin against each other (measured ~10x slower than single-threaded for 800 points)
    with threadpool_limits(limits=1):
        return TSNE(**kwargs).fit_transform(x)


def projection_plot(
    points: Mapping[int, tuple[np.ndarray, np.ndarray]],
    src_label: str,
    tgt_label: str,
    *,
    method: str = "tsne",
    seed: int = 0,
    max_points: int = 400,
    n_links: int = 30,
) -> bytes:
    """Joint 2-D projection (t-SNE or UMAP) of src and tgt embeddings, one panel per layer.

    ``points[L] = (src [n, d], tgt [n, d])`` for the same ``n`` parallel sentences. Up to
    ``max_points`` pairs are kept (the same seeded subsample at every layer, so panels show the
    same sentences), and faint lines join ``n_links`` matched pairs: short lines mean the two
    sides are aligned, two separate clouds mean the encoder keeps the languages/scripts apart.
    """
    method = method.lower()
    if method not in PROJECTION_METHODS:
        raise ValueError(
            f"unknown projection method {method!r}; choose one of {', '.join(PROJECTION_METHODS)}"
        )
    if method == "umap" and not umap_available():
        raise ImportError("UMAP projections need umap-learn: pip install 'scriptbridge[umap]'")
    if not points:
        raise ValueError("projection_plot needs at least one layer of points")
    layers = sorted(points)
    n = None
    for layer in layers:
        src, tgt = (np.asarray(a, dtype=np.float64) for a in points[layer])
        if src.ndim != 2 or src.shape != tgt.shape:
            raise ValueError(
                f"layer {layer}: src {src.shape} and tgt {tgt.shape} must be equal [n, d] arrays"
            )
        if n is not None and len(src) != n:
            raise ValueError(f"layer {layer} has {len(src)} pairs, other layers {n}")
        n = len(src)
    if not n:
        raise ValueError("projection_plot needs at least one pair")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(n, size=min(n, max(1, max_points)), replace=False))
    m = len(keep)
    links = rng.choice(m, size=min(m, n_links), replace=False)

    rows, cols = _grid(len(layers))
    fig = Figure(figsize=(4.0 * cols + 0.4, 3.9 * rows + 0.9))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(layers) :]:
        ax.set_visible(False)
    for ax, layer in zip(axes.flat, layers, strict=False):
        src, tgt = (np.asarray(a, dtype=np.float64)[keep] for a in points[layer])
        x = np.vstack([src, tgt])
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        xy = _project(x, method, seed)
        a, b = xy[:m], xy[m:]
        segs = np.stack([a[links], b[links]], axis=1)
        ax.add_collection(LineCollection(segs, colors=GREY, linewidths=0.8, alpha=0.45, zorder=1))
        ax.scatter(a[:, 0], a[:, 1], s=12, c=SRC_COLOUR, marker="o", alpha=0.7, lw=0, zorder=2)
        ax.scatter(b[:, 0], b[:, 1], s=14, c=TGT_COLOUR, marker="^", alpha=0.7, lw=0, zorder=2)
        ax.set_title(f"layer {layer}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.autoscale_view()
    from matplotlib.lines import Line2D

    def trunc(s: str) -> str:
        return s if len(s) <= 40 else s[:39] + "…"

    handles = [
        Line2D([], [], ls="", marker="o", color=SRC_COLOUR, label=f"src: {trunc(src_label)}"),
        Line2D([], [], ls="", marker="^", color=TGT_COLOUR, label=f"tgt: {trunc(tgt_label)}"),
        Line2D([], [], color=GREY, alpha=0.6, label=f"matched pair ({len(links)} shown)"),
    ]
    name = "t-SNE" if method == "tsne" else "UMAP"
    fig.suptitle(f"{name} of {m} parallel pairs (src and tgt projected together)", fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    return _png(fig)
