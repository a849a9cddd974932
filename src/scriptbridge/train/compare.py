"""``compare(recipe, output, variants=..., seeds=...)``: one recipe, a grid of variants x seeds.

Every (variant, seed) is an ordinary :func:`scriptbridge.train.run.train` run in
``OUTPUT/runs/<variant>/seed<k>/``; a finished run there is reused, so a grid that was stopped (or
extended with more seeds or variants) picks up where it was. Then:

* **mean ± std** over seeds (``ddof=1`` with two seeds or more, else 0) of accuracy, macro-F1 and
  weighted-F1 for every variant and evaluation set;
* **significance** against the best *baseline* (the variants among ``en``, ``tr``, ``tl`` and
  ``en+tr+tl`` that were run, the best being the one with the highest mean macro-F1 averaged over the
  non-dev sets; the first variant when no baseline was run):

  - a *paired bootstrap* on the per-example predictions. Seed ``k`` of a variant is paired with seed
    ``k`` of the baseline on the same examples; each resample draws the examples with replacement
    (one draw shared by all seeds and both systems) and computes the macro-F1 difference averaged over
    the seeds. Reported: the observed difference, the 2.5/97.5 percentiles of the resampled
    differences (a 95% interval), and ``p`` = the share of resamples where the difference is ``<= 0``
    -- a one-sided estimate of how often the variant would *not* beat the baseline on a comparable set
    (small ``p``: the variant is reliably better; ``p`` near 1: reliably worse, or identical);
  - *Tukey HSD* over the per-seed macro-F1 of all variants (``scipy.stats.tukey_hsd``; two seeds or
    more), reporting each variant's two-sided p-value against the baseline. It accounts for seed
    variance and for the number of comparisons; the bootstrap accounts for the test-set sample.

* **probes** (when the recipe has a ``probe`` section): the alignment probe of the starting encoder and
  of the best variant's first-seed model, on the same parallel set with the same settings, into
  ``OUTPUT/probe/baseline`` and ``OUTPUT/probe/best``, plus a before/after t-SNE figure.

Writes ``compare.json`` (everything, plain JSON), ``compare.md`` and a self-contained ``compare.html``.
"""

from __future__ import annotations

import base64
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BASELINES",
    "CompareError",
    "compare",
    "variant_recipe",
    "run_folder",
    "summarize",
    "paired_bootstrap",
    "tukey_pvalues",
    "render_markdown",
    "render_html",
]

SCHEMA = "scriptbridge.compare/1"
BASELINES = ("en", "tr", "tl", "en+tr+tl")
SCORES = ("accuracy", "macro_f1", "weighted_f1")
DEV_PREFIX = "dev: "  # how train() names the dev set in metrics.json
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_BLOCK = 250  # resamples per matrix product: bounds memory to ~_BLOCK x n_examples floats

BOOTSTRAP_METHOD = (
    "paired bootstrap over examples: seed k of the variant is paired with seed k of the baseline; each "
    "resample draws the examples with replacement (the same draw for every seed and both systems) and "
    "takes the macro-F1 difference averaged over seeds; ci = 2.5/97.5 percentiles of the resampled "
    "differences; p = share of resamples with difference <= 0 (one-sided: small p = the variant is "
    "reliably better)"
)
TUKEY_METHOD = (
    "Tukey HSD (scipy.stats.tukey_hsd) over the per-seed macro-F1 of all variants on each set; "
    "the two-sided p-value of each variant against the baseline, corrected for all pairwise comparisons"
)


class CompareError(RuntimeError):
    """A grid cannot run or be reused as it is; the message says why and what to do."""


def _log(message: str) -> None:
    from scriptbridge.commands.common import err_console

    err_console.print(message, highlight=False, markup=False)


# ------------------------------------------------------------------------------------------ the grid
def run_folder(output: Path, variant: str, seed: int) -> Path:
    """Where the run of ``variant`` with ``seed`` lives inside a compare output folder."""
    return Path(output) / "runs" / variant / f"seed{seed}"


def variant_recipe(recipe: Any, variant: str, seed: int) -> Any:
    """``recipe`` with ``method.variant`` and ``seed`` replaced, validated again from scratch (so a
    variant the recipe's data cannot feed fails here, with the recipe's own error message)."""
    from scriptbridge.train.recipe import RecipeError, recipe_from_dict

    data = recipe.to_dict()
    data["method"]["variant"] = variant
    data["seed"] = seed
    try:
        return recipe_from_dict(data, source=recipe.source or "<recipe>", base_dir=recipe.base_dir)
    except RecipeError as exc:
        # point at the recipe's line for keys that came from the file; the variant came from the grid
        line = override = None
        if exc.key and exc.key != "method.variant" and recipe._where is not None:
            path = tuple(int(p) if p.isdigit() else p for p in exc.key.split("."))
            line, override = recipe._where.locate(path)
        raise RecipeError(
            f"{exc.problem} (needed by variant {variant!r} of the comparison; nothing was trained)",
            source=exc.source,
            key=exc.key,
            line=line,
            override=override,
        ) from None


def _same_recipe(folder: Path, wanted: Any) -> bool:
    """Whether the finished run in ``folder`` was trained from ``wanted`` (the probe section aside:
    it does not change training)."""
    import yaml

    from scriptbridge.train.recipe import RecipeError, recipe_from_dict

    try:
        stored = yaml.safe_load((folder / "recipe.yaml").read_text(encoding="utf-8"))
        stored = recipe_from_dict(stored).to_dict()
    except (OSError, yaml.YAMLError, RecipeError, TypeError, ValueError):
        return False
    want = wanted.to_dict()
    for d in (stored, want):
        d.pop("probe", None)
    return stored == want


def _check_grid(variants: Sequence[str], seeds: Sequence[int]) -> tuple[list[str], list[int]]:
    variants, seeds = [str(v).strip() for v in variants], [int(s) for s in seeds]
    if not variants or any(not v for v in variants):
        raise CompareError("give at least one variant, e.g. --variants en,joint-ts")
    if not seeds:
        raise CompareError("give at least one seed, e.g. --seeds 3")
    for what, items in (("variant", variants), ("seed", seeds)):
        dupes = sorted({str(x) for x in items if items.count(x) > 1})
        if dupes:
            raise CompareError(f"duplicate {what}s: {', '.join(dupes)}; list each once")
    return variants, seeds


# ------------------------------------------------------------------------------------- statistics
def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}``: the sample std (ddof=1) with two values or more, else 0."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"mean": None, "std": None, "values": []}
    std = float(arr.std(ddof=1)) if arr.size >= 2 else 0.0
    return {"mean": float(arr.mean()), "std": std, "values": [float(v) for v in arr]}


def _macro_f1_counts(tp: np.ndarray, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 per row from per-class counts ``[rows, classes]`` (F1 = 2tp / (gold + pred); a class
    neither present nor predicted scores 0, as in classification_metrics with zero_division=0)."""
    den = gold + pred
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp, dtype=np.float64), where=den > 0)
    return f1.mean(axis=1)


def paired_bootstrap(
    gold: Sequence[str],
    pred_variant: Sequence[Sequence[str]],
    pred_baseline: Sequence[Sequence[str]],
    *,
    labels: Sequence[str] | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Paired bootstrap of the macro-F1 difference (variant - baseline) on one evaluation set.

    ``pred_variant[k]`` and ``pred_baseline[k]`` are the predictions of seed ``k`` of each system on
    the examples whose labels are ``gold``. Returns ``diff`` (the observed difference, averaged over
    seeds), ``ci_low``/``ci_high`` (95% percentile interval), ``p_value`` (share of resamples where the
    difference is <= 0), the two mean macro-F1 scores and the sizes.
    """
    gold = [str(g) for g in gold]
    n, k = len(gold), len(pred_variant)
    if n == 0:
        raise ValueError("no examples to resample")
    if k == 0 or len(pred_baseline) != k:
        raise ValueError(f"need the same number of runs on both sides, got {k} and {len(pred_baseline)}")
    for runs in (pred_variant, pred_baseline):
        for p in runs:
            if len(p) != n:
                raise ValueError(f"{len(p)} predictions for {n} examples")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    vocab = (
        [str(x) for x in labels]
        if labels is not None
        else sorted({*gold, *(str(y) for r in (*pred_variant, *pred_baseline) for y in r)})
    )
    index = {label: i for i, label in enumerate(vocab)}

    def onehot(ys: Sequence[str]) -> np.ndarray:
        # a label outside ``labels`` is never any class: it only costs recall, as in sklearn
        m = np.zeros((n, len(vocab)), dtype=np.float64)
        rows = [(i, index[str(y)]) for i, y in enumerate(ys) if str(y) in index]
        if rows:
            r, c = zip(*rows, strict=True)
            m[list(r), list(c)] = 1.0
        return m

    g = onehot(gold)
    systems = []
    for runs in (pred_variant, pred_baseline):
        mats = []
        for p in runs:
            pm = onehot(p)
            mats.append((g * pm, pm))
        systems.append(mats)

    def scores(weights: np.ndarray) -> np.ndarray:
        """Mean-over-seeds macro-F1 difference for each row of example weights ``[rows, n]``."""
        gold_counts = weights @ g
        out = np.zeros(len(weights))
        for (tp_v, p_v), (tp_b, p_b) in zip(systems[0], systems[1], strict=True):
            out += _macro_f1_counts(weights @ tp_v, gold_counts, weights @ p_v)
            out -= _macro_f1_counts(weights @ tp_b, gold_counts, weights @ p_b)
        return out / k

    ones = np.ones((1, n))
    observed = float(scores(ones)[0])
    gold_counts = ones @ g
    mean_v = float(np.mean([_macro_f1_counts(ones @ tp, gold_counts, ones @ p)[0] for tp, p in systems[0]]))
    mean_b = float(np.mean([_macro_f1_counts(ones @ tp, gold_counts, ones @ p)[0] for tp, p in systems[1]]))
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, n_resamples, _BLOCK):
        size = min(_BLOCK, n_resamples - start)
        draws = rng.integers(0, n, size=(size, n))
        # counts of each example in each resample: one bincount over row-offset indices
        flat = (draws + n * np.arange(size)[:, None]).ravel()
        weights = np.bincount(flat, minlength=size * n).reshape(size, n).astype(np.float64)
        diffs.append(scores(weights))
    d = np.concatenate(diffs)
    return {
        "diff": observed,
        "ci_low": float(np.percentile(d, 2.5)),
        "ci_high": float(np.percentile(d, 97.5)),
        "p_value": float(np.mean(d <= 0)),
        "macro_f1_variant": mean_v,
        "macro_f1_baseline": mean_b,
        "n_examples": n,
        "n_seeds": k,
        "n_resamples": n_resamples,
    }


def tukey_available() -> bool:
    try:
        from scipy.stats import tukey_hsd  # noqa: F401
    except ImportError:
        return False
    return True


def tukey_pvalues(groups: Mapping[str, Sequence[float]], reference: str) -> dict[str, float | None] | None:
    """Tukey HSD over ``groups`` (variant -> per-seed scores): each other variant's p-value against
    ``reference``; None when it cannot run (scipy too old, fewer than 2 groups or 2 values a group).
    A p-value is None when it is undefined (every group has zero variance)."""
    names = list(groups)
    if reference not in groups or len(names) < 2 or any(len(groups[v]) < 2 for v in names):
        return None
    try:
        from scipy.stats import tukey_hsd
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant groups: scipy warns and returns nan
        res = tukey_hsd(*[np.asarray(groups[v], dtype=np.float64) for v in names])
    ref = names.index(reference)
    out: dict[str, float | None] = {}
    for i, v in enumerate(names):
        if i == ref:
            continue
        p = float(res.pvalue[ref, i])
        out[v] = p if math.isfinite(p) else None
    return out


# ------------------------------------------------------------------------------------------ compare
def compare(
    recipe: Any,
    output: str | Path,
    *,
    variants: Sequence[str],
    seeds: Sequence[int],
    overwrite: bool = False,
    progress: bool = True,
    n_resamples: int = N_RESAMPLES,
    probe_cache: bool = True,
) -> dict[str, Any]:
    """Train every (variant, seed) of the grid (reusing finished runs), aggregate, test and probe;
    write ``compare.json``, ``compare.md`` and ``compare.html`` into ``output``; return the
    ``compare.json`` content. ``overwrite=True`` retrains every run of the grid."""
    from scriptbridge.train.recipe import check_files
    from scriptbridge.train.run import train

    output = Path(output)
    variants, seeds = _check_grid(variants, seeds)
    # every run's recipe first: an invalid variant stops the grid before any training
    grid = [(v, s, variant_recipe(recipe, v, s)) for v in variants for s in seeds]
    check_files(recipe)
    if output.exists() and not output.is_dir():
        raise CompareError(f"{output} exists and is not a folder; choose another --output")
    if (
        output.is_dir()
        and any(output.iterdir())
        and not ((output / "runs").is_dir() or (output / "compare.json").is_file())
        and not overwrite
    ):
        raise CompareError(
            f"{output} is not empty and holds no comparison; choose another --output or pass --overwrite"
        )
    if not overwrite:
        # a finished run is reused only if it ran this very recipe; checked for all before any training
        for variant, seed, vr in grid:
            folder = run_folder(output, variant, seed)
            if (folder / "metrics.json").is_file() and not _same_recipe(folder, vr):
                raise CompareError(
                    f"{folder} holds a finished run of a different recipe (its recipe.yaml differs); pass "
                    "--overwrite to retrain the grid, or choose another --output"
                )

    runs: dict[str, dict[str, Any]] = {v: {} for v in variants}
    for i, (variant, seed, vr) in enumerate(grid, 1):
        folder = run_folder(output, variant, seed)
        label = f"[{i}/{len(grid)}] {variant}, seed {seed}"
        reused = (folder / "metrics.json").is_file() and not overwrite
        if reused:
            _log(f"{label}: reusing the finished run in {folder}")
        else:
            _log(f"{label}: training into {folder}")
            train(vr, folder, overwrite=overwrite, progress=progress)
        runs[variant][str(seed)] = {
            "folder": folder.relative_to(output).as_posix(),
            "reused": reused,
            "metrics": _read_json(folder / "metrics.json"),
            "predictions": _read_json(folder / "predictions.json"),
        }

    result = aggregate(recipe.name, variants, seeds, runs, n_resamples=n_resamples)
    result["probe"] = None
    if recipe.probe is not None:
        best, seed = result["best"], seeds[0]
        result["probe"] = probe_before_after(
            recipe,
            output,
            run_folder(output, best, seed) / "model",
            variant=best,
            seed=seed,
            progress=progress,
            cache=probe_cache,
        )
    write_outputs(output, result)
    return result


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CompareError(f"cannot read {path}: {exc}; pass --overwrite to retrain that run") from None


def _overall(per_set: Mapping[str, Mapping[str, Any]], metric: str) -> float | None:
    """Mean over the non-dev sets (all sets when there are only dev sets) of a metric's seed mean."""
    names = [s for s in per_set if not s.startswith(DEV_PREFIX)] or list(per_set)
    vals = [per_set[s][metric]["mean"] for s in names if per_set[s][metric]["mean"] is not None]
    return float(np.mean(vals)) if vals else None


def _pick(variants: Sequence[str], overall: Mapping[str, Mapping[str, Any]]) -> str:
    # highest mean macro-F1; the earlier variant on a tie
    return max(variants, key=lambda v: (overall[v]["macro_f1"] or -1.0, -variants.index(v)))


def aggregate(
    recipe_name: str,
    variants: Sequence[str],
    seeds: Sequence[int],
    runs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, Any]:
    """The statistics of ``compare.json`` from the runs (``runs[variant][str(seed)]`` holds the run's
    ``metrics`` and ``predictions``)."""
    variants = list(variants)
    sets: list[str] = []
    for v in variants:
        for r in runs[v].values():
            sets += [s for s in r["metrics"]["sets"] if s not in sets]
    results: dict[str, dict[str, Any]] = {}
    for v in variants:
        results[v] = {}
        for s in sets:
            have = [r["metrics"]["sets"][s] for r in runs[v].values() if s in r["metrics"]["sets"]]
            entry: dict[str, Any] = {m: summarize([h[m] for h in have]) for m in SCORES}
            entry["n_runs"] = len(have)
            entry["n"] = have[0]["n"] if have else None
            results[v][s] = entry
    overall = {v: {m: _overall(results[v], m) for m in SCORES} for v in variants}
    baselines = [v for v in variants if v in BASELINES]
    if baselines:
        baseline = _pick(baselines, overall)
        rule = f"the best of the baseline variants run ({', '.join(baselines)}) by mean macro-F1 over the test sets"
    else:
        baseline = variants[0]
        rule = "no baseline variant (en, tr, tl, en+tr+tl) was run: the first variant"
    best = _pick(variants, overall)

    bootstrap: dict[str, dict[str, Any]] = {}
    tukey: dict[str, dict[str, float | None]] = {}
    tukey_note = None
    for s in sets:
        groups = {
            v: [r["metrics"]["sets"][s]["macro_f1"] for r in runs[v].values() if s in r["metrics"]["sets"]]
            for v in variants
        }
        p = tukey_pvalues(groups, baseline)
        if p is not None:
            tukey[s] = p
    if not tukey:
        if len(seeds) < 2:
            tukey_note = "not run: Tukey HSD needs at least 2 seeds"
        elif len(variants) < 2:
            tukey_note = "not run: there is only one variant"
        elif not tukey_available():
            tukey_note = "not run: this scipy has no scipy.stats.tukey_hsd (scipy >= 1.8 does)"
        else:
            tukey_note = "not run: some runs are missing"
    for v in variants:
        if v == baseline:
            continue
        bootstrap[v] = {}
        for s in sets:
            pairs = [
                (runs[v][str(k)]["predictions"].get(s), runs[baseline][str(k)]["predictions"].get(s))
                for k in seeds
                if str(k) in runs[v] and str(k) in runs[baseline]
            ]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None and a["gold"] == b["gold"]]
            if not pairs:
                continue
            labels = next(iter(runs[v].values()))["metrics"].get("labels")
            bootstrap[v][s] = paired_bootstrap(
                pairs[0][0]["gold"],
                [a["pred"] for a, _ in pairs],
                [b["pred"] for _, b in pairs],
                labels=labels,
                n_resamples=n_resamples,
                seed=BOOTSTRAP_SEED,
            )
    return {
        "schema": SCHEMA,
        "recipe": recipe_name,
        "variants": variants,
        "seeds": list(seeds),
        "sets": sets,
        "dev_sets": [s for s in sets if s.startswith(DEV_PREFIX)],
        "runs": {
            v: {
                k: {
                    "folder": r["folder"],
                    "reused": r["reused"],
                    "best_epoch": r["metrics"].get("best_epoch"),
                }
                for k, r in runs[v].items()
            }
            for v in variants
        },  # fmt: skip
        "results": results,
        "overall": overall,
        "overall_sets": [s for s in sets if not s.startswith(DEV_PREFIX)] or sets,
        "baseline": baseline,
        "baseline_rule": rule,
        "best": best,
        "significance": {
            "baseline": baseline,
            "bootstrap": {
                "method": BOOTSTRAP_METHOD,
                "n_resamples": n_resamples,
                "seed": BOOTSTRAP_SEED,
                "results": bootstrap,
            },
            "tukey_hsd": {"method": TUKEY_METHOD, "note": tukey_note, "results": tukey},
        },
    }


# ------------------------------------------------------------------------------------------- probes
def probe_before_after(
    recipe: Any,
    output: Path,
    model_dir: Path,
    *,
    variant: str,
    seed: int,
    progress: bool = True,
    cache: bool = True,
) -> dict[str, Any]:
    """Probe the starting encoder and the trained model at ``model_dir`` on the recipe's probe set
    with the same settings; write ``output/probe/{baseline,best}/`` and the before/after figure."""
    from scriptbridge.evaluate.probe import ProbeSettings, parse_layers, probe, probe_figures, write_probe
    from scriptbridge.models import load_encoder
    from scriptbridge.train.recipe import load_pairs
    from scriptbridge.utils.io import atomic_write_bytes

    spec = recipe.probe
    data = load_pairs(recipe, spec)
    start = load_encoder(recipe.model.spec, device=recipe.train.device)
    layers_spec = spec.get("layers", "last")
    layers = parse_layers([layers_spec] if isinstance(layers_spec, int) else layers_spec, start.num_layers)
    # pooling and prefix fixed from the starting encoder, so both probes embed the text the same way
    settings = ProbeSettings(
        layers=layers,
        pooling=recipe.model.pooling or start.default_pooling,
        prefix=start.default_prefix if recipe.model.prefix is None else recipe.model.prefix,
        max_length=recipe.model.max_length,
        sample=spec.get("sample"),
        seed=recipe.seed,
        plot_layers=[layers[-1]],
        projection="tsne",
        cache=cache,
    )
    out: dict[str, Any] = {"layers": layers, "plot_layer": layers[-1]}
    pngs: dict[str, bytes] = {}
    for name, spec_or_dir in (("baseline", recipe.model.spec), ("best", str(model_dir))):
        _log(f"probing the {'starting encoder' if name == 'baseline' else f'{variant} model (seed {seed})'}")
        encoder = start if name == "baseline" else load_encoder(spec_or_dir, device=recipe.train.device)
        run = probe(encoder, data, settings, progress=progress)
        figures = probe_figures(run, settings)
        write_probe(output / "probe" / name, run, figures)
        pngs[name] = next(f.png for f in figures if f.key == "projection")
        r = run.result
        out.setdefault("n_pairs", r["n_pairs"])
        out.setdefault("src", r["src"]["label"])
        out.setdefault("tgt", r["tgt"]["label"])
        out[name] = {
            "model": spec_or_dir if name == "baseline" else Path(spec_or_dir).relative_to(output).as_posix(),
            "folder": f"probe/{name}",
            "best_layer": r["best_layer"],
            "layers": {
                k: {m: r["layers"][k].get(m) for m in ("top1_src2tgt", "top1_tgt2src", "gap")}
                for k in r["layers"]
            },
        }
        if name == "best":
            out[name].update(variant=variant, seed=seed)
        del encoder
    figure = output / "probe" / "before_after_tsne.png"
    atomic_write_bytes(figure, _side_by_side(pngs["baseline"], pngs["best"], variant, seed, layers[-1]))
    out["figure"] = figure.relative_to(output).as_posix()
    return out


def _side_by_side(before: bytes, after: bytes, variant: str, seed: int, layer: int) -> bytes:
    """One PNG with the two t-SNE panels next to each other."""
    import io

    from matplotlib.figure import Figure
    from matplotlib.image import imread

    images = [imread(io.BytesIO(png), format="png") for png in (before, after)]
    height = max(im.shape[0] for im in images) / 100
    width = sum(im.shape[1] for im in images) / 100
    fig = Figure(figsize=(width, height + 0.5), dpi=100)
    axes = fig.subplots(1, 2)
    titles = ("before: the starting encoder", f"after: {variant} (seed {seed})")
    for ax, im, title in zip(axes, images, titles, strict=True):
        ax.imshow(im)
        ax.set_title(f"{title}, layer {layer}", fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ outputs
def _pm(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "–"
    return f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f}"


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"


def _p(v: float | None) -> str:
    if v is None:
        return "–"
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _tables(result: Mapping[str, Any]) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(title, note, header, rows) of every table in compare.md / compare.html."""
    sets, variants = result["sets"], result["variants"]
    tables = []
    for metric, name in (("macro_f1", "Macro-F1"), ("accuracy", "Accuracy")):
        rows = []
        for v in variants:
            tag = " (baseline)" if v == result["baseline"] else ""
            tag += " ★" if v == result["best"] else ""
            rows.append(
                [v + tag]
                + [_pm(result["results"][v][s][metric]) for s in sets]
                + [_pct(result["overall"][v][metric])]
            )
        tables.append(
            (
                f"{name} (%, mean ± std over {len(result['seeds'])} seed(s))",
                "std uses ddof=1 with two seeds or more. The last column averages the seed means over "
                f"{', '.join(result['overall_sets'])}. ★ marks the best variant.",
                ["variant", *sets, "mean"],
                rows,
            )
        )
    sig = result["significance"]
    rows = []
    for v, per_set in sig["bootstrap"]["results"].items():
        for s, b in per_set.items():
            rows.append(
                [
                    v,
                    s,
                    _pct(b["diff"], signed=True),
                    f"[{_pct(b['ci_low'], True)}, {_pct(b['ci_high'], True)}]",
                    _p(b["p_value"]),
                    _p(sig["tukey_hsd"]["results"].get(s, {}).get(v)),
                ]
            )
    note = (
        f"Against the baseline {sig['baseline']!r} ({result['baseline_rule']}). Δ and the 95% interval "
        f"are macro-F1 points. Bootstrap: {sig['bootstrap']['method']}; {sig['bootstrap']['n_resamples']} "
        f"resamples. Tukey: {sig['tukey_hsd']['method']}"
        + (f" ({sig['tukey_hsd']['note']})" if sig["tukey_hsd"]["note"] else "")
        + "."
    )
    tables.append(
        (
            f"Significance against {sig['baseline']}",
            note,
            ["variant", "set", "Δ macro-F1", "95% CI", "p (bootstrap, one-sided)", "p (Tukey HSD)"],
            rows,
        )
    )
    pr = result.get("probe")
    if pr:
        rows = []
        for name, what in (
            ("baseline", "before: starting encoder"),
            ("best", f"after: {pr['best'].get('variant')}"),
        ):
            for layer, m in pr[name]["layers"].items():
                gap = m.get("gap")
                rows.append(
                    [what, layer, _pct(m.get("top1_src2tgt")), _pct(m.get("top1_tgt2src")),
                     "–" if gap is None else f"{gap:+.3f}"]
                )  # fmt: skip
        tables.append(
            (
                "Alignment probe: before and after",
                f"{pr['n_pairs']} pairs of {pr['src']} and {pr['tgt']}; top-1 retrieval in % and the gap "
                "between matched and random pair cosine. Full reports: probe/baseline/report.html and "
                "probe/best/report.html.",
                ["model", "layer", "top-1 src→tgt", "top-1 tgt→src", "gap"],
                rows,
            )
        )
    return tables


def _headline(result: Mapping[str, Any]) -> str:
    best, base = result["best"], result["baseline"]
    score = result["overall"][best]["macro_f1"]
    text = f"Best variant: {best} (mean macro-F1 {_pct(score)}% over {', '.join(result['overall_sets'])})"
    if best != base:
        text += f"; baseline for the tests: {base} ({_pct(result['overall'][base]['macro_f1'])}%)"
    return text + "."


_TEXT_COLUMNS = ("variant", "set", "model")


def render_markdown(result: Mapping[str, Any]) -> str:
    def cell(x: str) -> str:
        return str(x).replace("|", "\\|")

    lines = [
        f"# Comparison: {result['recipe']}",
        "",
        f"Variants {', '.join(result['variants'])}; seeds {', '.join(map(str, result['seeds']))}. "
        "Runs are in `runs/<variant>/seed<k>/`.",
        "",
        _headline(result),
        "",
    ]
    for title, note, header, rows in _tables(result):
        lines += [f"## {title}", "", "| " + " | ".join(cell(h) for h in header) + " |"]
        # names left, numbers right
        lines.append("|" + "|".join("---" if h in _TEXT_COLUMNS else "---:" for h in header) + "|")
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        if not rows:
            lines.append("| (none) |" + " |" * (len(header) - 1))
        lines += ["", note, ""]
    if result.get("probe"):
        lines += [f"![before/after t-SNE]({result['probe']['figure']})", ""]
    return "\n".join(lines)


_CSS = """
body { margin: 0 auto; max-width: 1120px; padding: 24px 28px 48px; color: #1d1d1f;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.2em; margin: 30px 0 8px;
     border-bottom: 1px solid #d9d9e0; padding-bottom: 4px; }
.summary { background: #f5f6fa; border-left: 5px solid #0072B2; border-radius: 8px; padding: 12px 16px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 0.92em; }
th, td { padding: 5px 9px; border-bottom: 1px solid #d9d9e0; text-align: right; white-space: nowrap; }
thead th { background: #f5f6fa; } tbody th, td:first-child { text-align: left; font-weight: normal; }
.note { color: #5b5b66; font-size: 0.92em; }
figure { margin: 16px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #d9d9e0; }
"""


def render_html(result: Mapping[str, Any], figure_png: bytes | None = None) -> str:
    """The comparison as one self-contained page (inline CSS, the figure as a data: URI)."""
    from scriptbridge.evaluate.report import esc

    parts = []
    for title, note, header, rows in _tables(result):
        head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        body = body or f'<tr><td colspan="{len(header)}">(none)</td></tr>'
        parts.append(
            f"<h2>{esc(title)}</h2><div class='scroll'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div><p class='note'>{esc(note)}</p>"
        )
    if figure_png is not None:
        data = base64.b64encode(figure_png).decode("ascii")
        parts.append(
            "<h2>t-SNE before and after</h2><figure>"
            f'<img src="data:image/png;base64,{data}" alt="before/after t-SNE" data-figure="before-after">'
            "<figcaption class='note'>The probe set projected with t-SNE by the starting encoder (left) "
            "and the best variant's model (right): short grey lines and mixed colours mean translations "
            "land together.</figcaption></figure>"
        )
    from scriptbridge.evaluate.report import html_page

    title = f"scriptbridge compare: {result['recipe']}"
    body = (
        f"<h1>{esc(result['recipe'])}: {esc(', '.join(result['variants']))}</h1>\n"
        f'<p class="summary">{esc(_headline(result))} Seeds: {esc(", ".join(map(str, result["seeds"])))}.</p>\n'
        + "".join(parts)
        + "\n"
    )
    return html_page(title, body, css=_CSS)


def _clean(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python: compare.json stays plain JSON."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(output: Path, result: dict[str, Any]) -> dict[str, Path]:
    """``compare.json``, ``compare.md`` and ``compare.html`` into ``output``, each atomically."""
    from scriptbridge.utils.io import atomic_write_text

    output.mkdir(parents=True, exist_ok=True)
    clean = _clean(result)
    paths = {"json": output / "compare.json", "md": output / "compare.md", "html": output / "compare.html"}
    atomic_write_text(paths["json"], json.dumps(clean, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(paths["md"], render_markdown(clean))
    png = None
    if clean.get("probe"):
        png = (output / clean["probe"]["figure"]).read_bytes()
    atomic_write_text(paths["html"], render_html(clean, png))
    return paths
