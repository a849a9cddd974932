"""Alignment diagnostics: how well does an encoder put translations (or script views) of a sentence
together, layer by layer?

For every layer: sentence retrieval in both directions (cosine, CSLS and margin scoring; top-1/5/10),
and the cosine similarity of matched pairs against random pairs.  The result is a plain dict (the
content of ``probe.json``); :func:`probe_figures` draws it and :func:`write_probe` writes the folder.

Two ways in:

>>> from scriptbridge.evaluate.probe import probe, ProbeSettings, ParallelProbe
>>> from scriptbridge.tasks.parallel import load_parallel
>>> run = probe(load_encoder(), load_parallel("tatoeba.hin-eng.eng"), ProbeSettings(layers="all"))
>>> run.result["layers"]["12"]["top1_src2tgt"]

and, inside training, an evaluator called on the model being trained (see :class:`ParallelProbe`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scriptbridge.evaluate.embedding_cache import EmbeddingCache, encode_layers
from scriptbridge.tasks.parallel import ParallelData
from scriptbridge.utils.io import jsonable

SCHEMA = "scriptbridge.probe/1"
PROJECTIONS = ("tsne", "umap", "none")
BEST_BY = "mean of top1_src2tgt and top1_tgt2src"


@dataclass
class ProbeSettings:
    """What to measure and how; recorded in ``probe.json``."""

    layers: str | Sequence[int] = "all"  # "all", "last", "0,6,12" or a list; 0 = embeddings, -1 = last
    pooling: str | None = None  # "mean" | "cls"; None = the model's default
    prefix: str | None = None  # None = the model's default ("query: " for e5)
    batch_size: int = 32
    max_length: int = 512
    sample: int | None = None  # probe a seeded random subset of this many pairs
    seed: int = 0
    csls_k: int = 10
    plot_layers: Sequence[int] | None = None  # layers for t-SNE panels; None = embeddings, best, last
    projection: str = "tsne"  # "tsne" | "umap" | "none"
    max_plot_points: int = 400
    cache: bool = True
    # a folder of per-layer orthogonal maps (``align-contextual``) applied to the source side's vectors
    maps: str | None = None

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {self.projection!r}")
        if self.csls_k < 1:
            raise ValueError("csls_k must be at least 1")


def parse_layers(spec: str | Sequence[int], num_layers: int) -> list[int]:
    """``"all"`` / ``"last"`` / ``"0,6,-1"`` / ``[0, 6]`` -> sorted distinct layer indices in
    ``0..num_layers`` (0 = the embedding layer, negative counts from the last)."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return list(range(num_layers + 1))
        if text == "last":
            return [num_layers]
        try:
            values = [int(p) for p in text.replace(" ", "").split(",") if p]
        except ValueError:
            raise ValueError(
                f"--layers takes 'all', 'last' or comma-separated layer numbers like 0,6,12 (got {spec!r})"
            ) from None
    else:
        values = [int(v) for v in spec]
    if not values:
        raise ValueError("no layers given")
    out = set()
    for v in values:
        if not -(num_layers + 1) <= v <= num_layers:
            raise ValueError(
                f"layer {v} does not exist: this model has layers 0 (embeddings) to {num_layers}"
            )
        out.add(v % (num_layers + 1))
    return sorted(out)


def load_maps(maps: Any) -> Any:
    """A :class:`~scriptbridge.align.contextual.ContextualMaps`, or the folder holding one."""
    from scriptbridge.align.contextual import ContextualMaps

    return maps if isinstance(maps, ContextualMaps) else ContextualMaps.load(maps)


def map_source(maps: Any, src: dict[int, np.ndarray], hidden_size: int) -> dict[str, Any]:
    """Replace each layer's source vectors in ``src`` by their image under that layer's map, and say
    what was done (the part of ``probe.json`` under ``maps``).

    Pooling commutes with the map: the mean of mapped token vectors is the mapped mean, and CLS
    pooling takes one token; so mapping pooled sentence vectors is exact.  Cached embeddings are
    always the encoder's own: the map is applied here, after the cache."""
    if maps.dim is not None and maps.dim != hidden_size:
        raise ValueError(
            f"the maps are {maps.dim}-dimensional but the encoder's hidden size is {hidden_size}: they "
            f"were learnt for another model ({maps.encoder})"
        )
    mapped = [layer for layer in sorted(src) if layer in maps.maps]
    for layer in mapped:
        src[layer] = maps.apply(layer, src[layer])
    return {
        "src_lang": maps.src_lang,
        "tgt_lang": maps.tgt_lang,
        "encoder": maps.encoder,
        "pairing": maps.pairing,
        "mapped_layers": mapped,
        "unmapped_layers": [layer for layer in sorted(src) if layer not in maps.maps],
    }


@dataclass
class ProbeRun:
    """A finished probe: ``result`` is ``probe.json``; ``embeddings`` keeps the vectors of the layers
    to plot (``{layer: (src, tgt)}``)."""

    result: dict[str, Any]
    embeddings: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)


def layer_metrics(
    src: np.ndarray, tgt: np.ndarray, *, csls_k: int = 10, seed: int = 0, device: Any = None
) -> dict[str, Any]:
    """Every per-layer number of ``probe.json`` for one pair of embedding matrices (the similarity
    products run on ``device``: a GPU makes 100k-pair probes take seconds instead of minutes)."""
    from scriptbridge.evaluate.retrieval import retrieval_metrics, similarity_stats

    metrics: dict[str, Any] = dict(retrieval_metrics(src, tgt, csls_k=csls_k, device=device))
    metrics.update(similarity_stats(src, tgt, seed=seed).summary())
    return metrics


def best_layer(layers: dict[str, dict[str, Any]]) -> int:
    """The layer with the best mean top-1 retrieval over both directions (the shallowest on a tie)."""
    if not layers:
        raise ValueError("no layers were probed")
    return int(max(layers, key=lambda k: (_mean_top1(layers[k]), -int(k))))


def _mean_top1(m: dict[str, Any]) -> float:
    return (m["top1_src2tgt"] + m["top1_tgt2src"]) / 2


def _plot_layers(settings: ProbeSettings, layers: list[int], best: int) -> list[int]:
    if settings.plot_layers is not None:
        chosen = {v % (max(layers) + 1) if v < 0 else v for v in settings.plot_layers}
        unknown = sorted(chosen - set(layers))
        if unknown:
            raise ValueError(f"plot layers {unknown} were not probed; probed layers: {layers}")
        return sorted(chosen)
    return sorted({layers[0], best, layers[-1]})


def probe(
    encoder: Any,
    data: ParallelData,
    settings: ProbeSettings | None = None,
    *,
    cache: EmbeddingCache | None = None,
    progress: bool = False,
) -> ProbeRun:
    """Encode both sides at every requested layer (one pass per side) and measure each layer."""
    settings = settings or ProbeSettings()
    started = time.time()
    data = data.sample(settings.sample, settings.seed)
    if len(data) < 2:
        raise ValueError(f"a probe needs at least 2 pairs, got {len(data)}")
    layers = parse_layers(settings.layers, encoder.num_layers)
    pooling = settings.pooling or encoder.default_pooling
    prefix = encoder.default_prefix if settings.prefix is None else settings.prefix
    if cache is None and settings.cache:
        cache = EmbeddingCache.default()
    if not settings.cache:
        cache = None
    vectors = {}
    cached_layers = 0
    for name, side in (("src", data.src), ("tgt", data.tgt)):
        vectors[name], hits = encode_layers(
            encoder,
            side.texts,
            layers,
            pooling=pooling,
            prefix=prefix,
            view=side.view,
            label=side.label,
            batch_size=settings.batch_size,
            max_length=settings.max_length,
            cache=cache,
            progress=progress,
        )
        cached_layers += hits
    maps_info = None
    notes = list(data.notes)
    if settings.maps is not None:
        maps = load_maps(settings.maps)
        maps_info = {"path": str(settings.maps), **map_source(maps, vectors["src"], encoder.hidden_size)}
        if maps_info["unmapped_layers"]:
            notes.append(
                f"no map for layers {maps_info['unmapped_layers']}: their source vectors are as encoded"
            )
        if maps.src_lang and data.src.lang and maps.src_lang != data.src.lang:
            notes.append(f"the maps go from {maps.src_lang!r} but the source side is {data.src.lang!r}")
        if maps.encoder and maps.encoder != encoder.spec:
            notes.append(f"the maps were learnt on {maps.encoder!r}, this probe runs {encoder.spec!r}")
    per_layer: dict[str, dict[str, Any]] = {}
    device = encoder.device if encoder.device.type == "cuda" else None
    for layer in layers:
        per_layer[str(layer)] = layer_metrics(
            vectors["src"][layer],
            vectors["tgt"][layer],
            csls_k=settings.csls_k,
            seed=settings.seed,
            device=device,
        )
        if maps_info is not None:
            per_layer[str(layer)]["mapped"] = layer in maps_info["mapped_layers"]
    best = best_layer(per_layer)
    plot_layers = _plot_layers(settings, layers, best) if settings.projection != "none" else []
    embeddings = {layer: (vectors["src"][layer], vectors["tgt"][layer]) for layer in plot_layers}
    from scriptbridge.utils.runinfo import run_record

    result: dict[str, Any] = {
        "schema": SCHEMA,
        "model": encoder.name,
        "model_info": encoder.info(),
        "pooling": pooling,
        "prefix": prefix,
        "n_pairs": len(data),
        "seed": settings.seed,
        "src": data.src.describe(),
        "tgt": data.tgt.describe(),
        "format": data.format,
        "notes": notes,
        "num_layers": encoder.num_layers,
        "probed_layers": layers,
        "best_layer": best,
        "best_by": BEST_BY,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
        "layers": per_layer,
        # only with --maps: probes without maps keep their probe.json unchanged
        **({"maps": maps_info} if maps_info is not None else {}),
        "run": run_record(
            seed=settings.seed,
            seconds=round(time.time() - started, 2),
            cached_layers=cached_layers,
        ),
    }
    return ProbeRun(result, embeddings)


# ---------------------------------------------------------------------------- outputs


def probe_figures(run: ProbeRun, settings: ProbeSettings | None = None) -> list[Any]:
    """The report's figures: retrieval per layer, similarity histograms, projections."""
    from scriptbridge.evaluate import plots
    from scriptbridge.evaluate.report import ReportFigure

    settings = settings or ProbeSettings()
    result = run.result
    src, tgt = result["src"]["label"], result["tgt"]["label"]
    layers = result["probed_layers"]
    figures = []
    if len(layers) > 1:
        figures.append(
            ReportFigure(
                "retrieval",
                "Retrieval per layer",
                f"Top-1 retrieval accuracy of {src} → {tgt} and back at every layer (layer 0 = embeddings); "
                "the dashed line is the gap between matched and random pair similarity.",
                plots.retrieval_chart(result),
            )
        )
    best = result["best_layer"]
    hist_layers = sorted({layers[0], layers[len(layers) // 2], best, layers[-1]})
    figures.append(
        ReportFigure(
            "similarity",
            "Matched vs random pair similarity",
            "Cosine similarity of each sentence with its translation (matched) and with a random other "
            "sentence (random). Well-aligned layers separate the two.",
            plots.similarity_histograms(result, hist_layers),
        )
    )
    if run.embeddings and settings.projection != "none":
        method = settings.projection
        figures.append(
            ReportFigure(
                "projection",
                f"{'t-SNE' if method == 'tsne' else 'UMAP'} of the parallel sentences",
                f"{src} and {tgt} projected together at layers {', '.join(map(str, sorted(run.embeddings)))}; "
                "grey lines join some translation pairs. Two separate clouds mean the layer encodes the "
                "language or script more than the meaning.",
                plots.projection_plot(
                    run.embeddings,
                    src,
                    tgt,
                    method=method,
                    seed=settings.seed,
                    max_points=settings.max_plot_points,
                ),
            )
        )
    return figures


def write_probe(output: Path, run: ProbeRun, figures: list[Any]) -> dict[str, Path]:
    """``probe.json`` and ``report.html`` into ``output`` (each written atomically)."""
    import json

    from scriptbridge.evaluate.report import write_report
    from scriptbridge.utils.io import atomic_write_text

    output.mkdir(parents=True, exist_ok=True)
    paths = {"json": output / "probe.json", "html": output / "report.html"}
    atomic_write_text(paths["json"], json.dumps(jsonable(run.result), indent=2, ensure_ascii=False) + "\n")
    write_report(paths["html"], run.result, figures)
    return paths


# ---------------------------------------------------------------------------- evaluator


class ParallelProbe:
    """An evaluator: call it on an encoder (or a transformers model + tokenizer) to get a flat dict of
    alignment metrics on a held-out parallel set, e.g. once per epoch.

    Keys are ``"{name}/{metric}"`` for the last of ``layers`` (the one a training run usually watches)
    and ``"{name}/L{layer}/{metric}"`` for every layer, with the metrics of ``probe.json``
    (``top1_src2tgt``, ``csls_top1_src2tgt``, ``gap``...).  Nothing is cached: the weights change.
    ``maps`` (a folder or :class:`~scriptbridge.align.contextual.ContextualMaps`) maps the source
    vectors of each layer that has a map, as ``probe --maps`` does.

    >>> evaluator = ParallelProbe.from_files("heldout.tsv", layers=[-1])
    >>> evaluator(model, tokenizer)["probe/top1_src2tgt"]
    """

    def __init__(
        self,
        src_texts: Sequence[str],
        tgt_texts: Sequence[str],
        *,
        layers: str | Sequence[int] = "last",
        pooling: str | None = None,
        prefix: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        csls_k: int = 10,
        seed: int = 0,
        name: str = "probe",
        maps: Any = None,
    ) -> None:
        self.data = ParallelData.from_texts(list(src_texts), list(tgt_texts))
        if len(self.data) < 2:
            raise ValueError("a parallel probe needs at least 2 pairs")
        self.layers, self.pooling, self.prefix = layers, pooling, prefix
        self.batch_size, self.max_length, self.csls_k, self.seed = batch_size, max_length, csls_k, seed
        self.name = name
        self.maps = load_maps(maps) if maps is not None else None

    @classmethod
    def from_files(
        cls, src: str, tgt: str | None = None, *, fmt: str = "auto", **kwargs: Any
    ) -> ParallelProbe:
        from scriptbridge.tasks.parallel import load_parallel

        data = load_parallel(src, tgt, fmt=fmt)
        return cls(data.src.texts, data.tgt.texts, **kwargs)

    def __call__(self, model: Any, tokenizer: Any = None) -> dict[str, float]:
        from scriptbridge.models.loading import Encoder

        encoder = model if isinstance(model, Encoder) else None
        if encoder is None:
            if tokenizer is None:
                raise TypeError("ParallelProbe needs an Encoder, or a transformers model and its tokenizer")
            encoder = Encoder(model, tokenizer, spec="memory", name=type(model).__name__, source="memory")
        was_training = encoder.model.training
        encoder.model.eval()
        try:
            layers = parse_layers(self.layers, encoder.num_layers)
            pooling = self.pooling or encoder.default_pooling
            prefix = encoder.default_prefix if self.prefix is None else self.prefix
            out: dict[str, float] = {}
            vecs = {}
            for side, texts in (("src", self.data.src.texts), ("tgt", self.data.tgt.texts)):
                vecs[side], _ = encode_layers(
                    encoder,
                    texts,
                    layers,
                    pooling=pooling,
                    prefix=prefix,
                    batch_size=self.batch_size,
                    max_length=self.max_length,
                )
            if self.maps is not None:
                map_source(self.maps, vecs["src"], encoder.hidden_size)
            device = encoder.device if encoder.device.type == "cuda" else None
            for layer in layers:
                metrics = layer_metrics(
                    vecs["src"][layer], vecs["tgt"][layer], csls_k=self.csls_k, seed=self.seed, device=device
                )
                flat = {
                    k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and v is not None
                }
                out.update({f"{self.name}/L{layer}/{k}": v for k, v in flat.items()})
                if layer == layers[-1]:
                    out.update({f"{self.name}/{k}": v for k, v in flat.items()})
            return out
        finally:
            encoder.model.train(was_training)
