"""The self-contained HTML report of ``scriptbridge probe``.

One HTML5 file with inline CSS, PNG figures as ``data:`` URIs and a few lines of inline script:
it opens offline, from an e-mail attachment or a CI artifact, and loads nothing from anywhere
(a Content-Security-Policy meta tag makes browsers refuse any external fetch even if one slipped
in). Every string that comes from the user or the model (labels, specs, model info, run details)
goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scriptbridge.utils.io import atomic_write_text


@dataclass
class ReportFigure:
    """One embedded figure: ``key`` becomes the image's ``data-figure`` attribute and its anchor."""

    key: str
    title: str
    caption: str
    png: bytes


def esc(value: Any) -> str:
    """HTML-escape ``value``; ``://`` is written as ``&#58;//`` so a URL quoted in model info or a
    spec shows as text but the page source holds no URL at all (easy to audit for offline use)."""
    return html.escape(str(value), quote=True).replace("://", "&#58;//")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _pct(v: Any) -> str:
    x = _num(v)
    return "–" if x is None else f"{100 * x:.1f}%"


def _sim(v: Any) -> str:
    x = _num(v)
    return "–" if x is None else f"{x:.3f}"


def _short(result: Mapping[str, Any], side: str) -> str:
    info = result.get(side) or {}
    return str(info.get("label") or info.get("lang") or side).split(" (")[0].strip() or side


def best_layer(result: Mapping[str, Any]) -> int | None:
    """``result["best_layer"]``, or (for older/partial results) the layer with the best mean top-1."""
    layers = result.get("layers") or {}
    if result.get("best_layer") is not None and str(result["best_layer"]) in layers:
        return int(result["best_layer"])
    scored = [
        ((_num(m.get("top1_src2tgt")) or 0.0) + (_num(m.get("top1_tgt2src")) or 0.0), int(k))
        for k, m in layers.items()
    ]
    return max(scored)[1] if scored else None


def interpretation(result: Mapping[str, Any]) -> str:
    """One plain-language sentence about the best layer (plain text, not yet escaped)."""
    best = best_layer(result)
    if best is None:
        return "No layers were measured."
    m = result["layers"][str(best)]
    s, t = _short(result, "src"), _short(result, "tgt")
    a, b, gap = _num(m.get("top1_src2tgt")), _num(m.get("top1_tgt2src")), _num(m.get("gap"))
    parts = []
    if a is not None:
        parts.append(f"At layer {best}, {a:.0%} of {s} sentences find their {t} translation first")
        if b is not None:
            parts[-1] += f" ({b:.0%} the other way)"
    if gap is not None:
        parts.append(f"matched pairs are {gap:+.3f} cosine more similar than random pairs")
    mean = (a + b) / 2 if a is not None and b is not None else a if a is not None else b
    if mean is not None:
        verdict = (
            "strongly aligned"
            if mean >= 0.9
            else "well aligned"
            if mean >= 0.7
            else "partly aligned"
            if mean >= 0.3
            else "weakly aligned"
        )
        parts.append(f"the two sides are {verdict} there")
    return ("; ".join(parts) + ".") if parts else f"Layer {best} is the best layer."


def _value_html(v: Any, depth: int = 0) -> str:
    """A run/model-info value: nested dicts as nested definition lists, the rest as text."""
    if isinstance(v, Mapping):
        return _dl(v, depth + 1) if v else "<em>(empty)</em>"
    if isinstance(v, (list, tuple)):
        if all(not isinstance(x, (Mapping, list, tuple)) for x in v):
            return esc(", ".join(str(x) for x in v))
        return f"<code>{esc(json.dumps(v, ensure_ascii=False, default=str))}</code>"
    if isinstance(v, float):
        return esc(f"{v:.4g}")
    return esc(v)


def _dl(d: Mapping[str, Any], depth: int = 0) -> str:
    if depth > 4:  # pathological nesting: show it as JSON rather than recursing
        return f"<code>{esc(json.dumps(d, ensure_ascii=False, default=str))}</code>"
    items = "".join(f"<dt>{esc(k)}</dt><dd>{_value_html(v, depth)}</dd>" for k, v in d.items())
    return f'<dl class="kv">{items}</dl>'


_COLUMNS = [
    ("top1_src2tgt", "top-1 {s}→{t}", _pct),
    ("top1_tgt2src", "top-1 {t}→{s}", _pct),
    ("top5_src2tgt", "top-5 {s}→{t}", _pct),
    ("top10_src2tgt", "top-10 {s}→{t}", _pct),
    ("csls_top1_src2tgt", "CSLS top-1 {s}→{t}", _pct),
    ("margin_top1_src2tgt", "margin top-1 {s}→{t}", _pct),
    ("matched_mean", "matched cos", _sim),
    ("random_mean", "random cos", _sim),
    ("gap", "gap", _sim),
]


def _table(result: Mapping[str, Any], best: int | None) -> str:
    s, t = _short(result, "src"), _short(result, "tgt")
    head = "".join(f'<th scope="col">{esc(h.format(s=s, t=t))}</th>' for _, h, _ in _COLUMNS)
    rows = []
    layers = result.get("layers") or {}
    for layer in sorted(layers, key=int):
        m = layers[layer]
        is_best = best is not None and int(layer) == best
        name = f"{int(layer)}" + (" (embeddings)" if int(layer) == 0 else "") + (" ★ best" if is_best else "")
        cells = "".join(f"<td>{fmt(m.get(key))}</td>" for key, _, fmt in _COLUMNS)
        attrs = ' class="best" data-best="true"' if is_best else ""
        rows.append(f'<tr data-layer="{int(layer)}"{attrs}><th scope="row">{esc(name)}</th>{cells}</tr>')
    return (
        '<div class="scroll"><table id="layer-metrics">'
        f'<thead><tr><th scope="col">layer</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _figure(fig: ReportFigure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (
        f'<figure id="fig-{esc(fig.key)}">'
        f'<img src="data:image/png;base64,{data}" alt="{esc(fig.title)}" data-figure="{esc(fig.key)}">'
        f"<figcaption><strong>{esc(fig.title)}.</strong> {esc(fig.caption)}</figcaption></figure>"
    )


_CSS = """
:root { --fg:#1d1d1f; --muted:#5b5b66; --line:#d9d9e0; --bg:#ffffff; --panel:#f5f6fa; --accent:#0072B2;
        --best:#fff4c2; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1120px; padding: 24px 28px 48px; color: var(--fg); background: var(--bg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.2em; margin: 32px 0 10px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 18px; }
.summary { background: var(--panel); border: 1px solid var(--line); border-left: 5px solid var(--accent);
           border-radius: 8px; padding: 14px 18px; }
.summary .headline { font-size: 1.1em; margin: 0 0 10px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; overflow-wrap: anywhere; }
dl.kv dl.kv { font-size: 0.95em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 0.92em; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
thead th { background: var(--panel); white-space: normal; vertical-align: bottom; min-width: 5.5em; }
tbody th { text-align: left; font-weight: normal; }
tr.best td, tr.best th { background: var(--best); font-weight: 600; }
figure { margin: 18px 0 26px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line);
         border-radius: 6px; display: block; }
figcaption { color: var(--muted); margin-top: 6px; font-size: 0.93em; }
details { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; }
summary { cursor: pointer; font-weight: 600; }
code { font-size: 0.9em; overflow-wrap: anywhere; }
footer { margin-top: 36px; color: var(--muted); font-size: 0.88em; border-top: 1px solid var(--line);
         padding-top: 8px; }
"""

# Counts the figures the browser actually decoded; the browser test reads the body data attributes.
_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img[data-figure]"), ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.dataset.plotsRendered = String(ok);
  document.body.dataset.plotsExpected = String(imgs.length);
  var el = document.getElementById("plots-status");
  if (el) el.textContent = ok + " of " + imgs.length + " plots rendered";
});
"""

_HOW_TO_READ = """
<dl class="kv">
<dt>top-k</dt><dd>For each sentence on one side, rank every sentence on the other side by cosine similarity;
top-k is the share whose true translation is among the k nearest. Chance level is k / number of pairs.</dd>
<dt>CSLS</dt><dd>Cross-domain similarity local scaling: cosine similarity minus each sentence's average
similarity to its 10 nearest neighbours, which penalises "hub" sentences that are close to everything.
CSLS well above plain top-1 means hubness is hurting plain nearest-neighbour retrieval.</dd>
<dt>margin</dt><dd>Ratio-margin scoring (as in LASER bitext mining): similarity divided by the mean
similarity of both sentences' nearest neighbours. Like CSLS, it corrects for hubs.</dd>
<dt>MRR</dt><dd>Mean reciprocal rank of the true translation (1 = always first), in probe.json.</dd>
<dt>matched / random cos</dt><dd>Mean cosine similarity of true translation pairs and of random
mismatched pairs. Encoders are often anisotropic (everything has high cosine), so the absolute values
matter less than the gap.</dd>
<dt>gap</dt><dd>Matched minus random mean cosine: how much closer translations are than unrelated
sentences. The histograms show the full distributions; little overlap means easy retrieval.</dd>
<dt>layers</dt><dd>Layer 0 is the embedding layer (no context); the last layer is what most
applications use. The best layer (highlighted) maximises the mean of top-1 in both directions.</dd>
<dt>projections</dt><dd>t-SNE/UMAP place similar vectors close together. Short grey lines between the two
colours mean translations land together; two separate clouds mean the encoder keeps the sides apart.
Distances between far-away clusters in these plots are not meaningful.</dd>
</dl>
"""


def render_report(result: Mapping[str, Any], figures: list[ReportFigure]) -> str:
    """The whole report page as a string."""
    src, tgt = result.get("src") or {}, result.get("tgt") or {}
    src_label, tgt_label = src.get("label") or "src", tgt.get("label") or "tgt"
    best = best_layer(result)
    bm = (result.get("layers") or {}).get(str(best), {}) if best is not None else {}
    s, t = _short(result, "src"), _short(result, "tgt")
    summary = {
        "model": result.get("model", "?"),
        "pooling": result.get("pooling", "?"),
        "prefix": repr(result.get("prefix", "")),
        "pairs": result.get("n_pairs", "?"),
        "src": f"{src_label}" + (f" — {src['spec']}" if src.get("spec") else ""),
        "tgt": f"{tgt_label}" + (f" — {tgt['spec']}" if tgt.get("spec") else ""),
        "best layer": "–"
        if best is None
        else f"{best}" + (f" (by {result['best_by']})" if result.get("best_by") else ""),
        f"top-1 {s}→{t}": _pct(bm.get("top1_src2tgt")),
        f"top-1 {t}→{s}": _pct(bm.get("top1_tgt2src")),
    }
    summary_dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary.items())
    run = dict(result.get("run") or {})
    extra = {k: result[k] for k in ("schema", "seed") if k in result}
    details = _dl({**extra, **run}) if (run or extra) else "<p>(no run details)</p>"
    model_info = result.get("model_info") or {}
    figs_html = "".join(_figure(f) for f in figures) or "<p>(no figures)</p>"
    title = f"scriptbridge probe: {src_label} vs {tgt_label}"
    body = f"""<header>
<h1>{esc(src_label)} <span style="color:var(--muted)">vs</span> {esc(tgt_label)}</h1>
<p class="sub">scriptbridge probe — cross-side alignment of {esc(result.get("model", "?"))}, layer by layer</p>
</header>
<section class="summary" id="summary">
<p class="headline">{esc(interpretation(result))}</p>
<dl class="kv">{summary_dl}</dl>
</section>
<h2>Metrics per layer</h2>
{_table(result, best)}
<h2>Figures</h2>
{figs_html}
<h2>Run details</h2>
<details id="run-details"><summary>Run details and model information</summary>
<h3>Run</h3>{details}
<h3>Model</h3>{_dl(model_info) if model_info else "<p>(no model information)</p>"}
</details>
<h2>How to read this</h2>
{_HOW_TO_READ}
<footer>Generated by scriptbridge probe · schema {esc(result.get("schema", "?"))} ·
<span id="plots-status">{len(figures)} plots embedded</span></footer>
"""
    return html_page(title, body, css=_CSS, script=_SCRIPT)


def html_page(title: str, body: str, *, css: str, script: str | None = None) -> str:
    """A self-contained HTML5 page: inline CSS (and script), and a Content-Security-Policy that
    forbids every fetch but ``data:`` images, so the page opens offline and never phones home."""
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    if script is not None:
        csp += "; script-src 'unsafe-inline'"
    scripts = f"<script>{script}</script>\n" if script is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{esc(title)}</title>
<style>{css}</style>
</head>
<body>
{body}{scripts}</body>
</html>
"""


def write_report(path: str | Path, result: Mapping[str, Any], figures: list[ReportFigure]) -> Path:
    """Render the report and write it atomically to ``path`` (UTF-8); return the path."""
    p = Path(path)
    atomic_write_text(p, render_report(result, figures))
    return p
