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

Token classification (runs whose ``metrics.json`` says ``"task": "token-classification"``: NER with
``"scheme": "iob2"``, POS with ``"tags"``) is summarised with its own scores: strict entity F1 (the
*primary* metric), conlleval entity F1, precision, recall and token accuracy for NER; token accuracy
(primary), macro-F1 and weighted-F1 for POS. The baseline is ``plain`` (the backbone tagger), the best
variant and Tukey HSD use the primary metric, and the paired bootstrap resamples *sentences* (entity
counts or token counts summed over the drawn sentences). A cost table (seconds per epoch, peak RSS,
trainable parameters, each relative to ``plain``) comes from the runs' ``metrics["cost"]``.

Writes ``compare.json`` (everything, plain JSON), ``compare.md`` and a self-contained ``compare.html``.
"""

from __future__ import annotations

import base64
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BASELINES",
    "TOKEN_BASELINES",
    "CompareError",
    "compare",
    "variant_recipe",
    "run_folder",
    "summarize",
    "paired_bootstrap",
    "token_paired_bootstrap",
    "sentence_counts",
    "task_scores",
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


# token classification (NER: scheme iob2, POS: scheme tags)
TOKEN_TASK = "token-classification"
TOKEN_BASELINES = ("plain",)
TOKEN_SCORES = {
    "iob2": ("f1", "f1_conlleval", "precision", "recall", "accuracy"),
    "tags": ("accuracy", "macro_f1", "weighted_f1"),
}
TOKEN_PRIMARY = {"iob2": "f1", "tags": "accuracy"}
COST_FIELDS = ("seconds_per_epoch", "peak_rss_mib", "trainable_parameters", "eval_seconds")
COST_REFERENCE = "plain"
# (table title, name inside a sentence) of each score of a token task
_TOKEN_NAMES = {
    "f1": ("Entity F1 (strict IOB2)", "entity F1"),
    "f1_conlleval": ("Entity F1 (conlleval)", "conlleval entity F1"),
    "precision": ("Entity precision (strict IOB2)", "entity precision"),
    "recall": ("Entity recall (strict IOB2)", "entity recall"),
    "accuracy": ("Token accuracy", "token accuracy"),
    "macro_f1": ("Tag macro-F1", "tag macro-F1"),
    "weighted_f1": ("Tag weighted-F1", "tag weighted-F1"),
}

TOKEN_BOOTSTRAP_METHOD = (
    "paired bootstrap over sentences: seed k of the variant is paired with seed k of the baseline; each "
    "resample draws the sentences with replacement (the same draw for every seed and both systems) and "
    "recomputes the {metric} from the counts summed over the drawn sentences ({counts}), taking the "
    "difference averaged over seeds; ci = 2.5/97.5 percentiles of the resampled differences; p = share "
    "of resamples with difference <= 0 (one-sided: small p = the variant is reliably better)"
)
TOKEN_TUKEY_METHOD = (
    "Tukey HSD (scipy.stats.tukey_hsd) over the per-seed {metric} of all variants on each set; "
    "the two-sided p-value of each variant against the baseline, corrected for all pairwise comparisons"
)


@dataclass(frozen=True)
class _Task:
    """What a comparison summarises: its scores, the primary one (best pick, Tukey, bootstrap), the
    baseline variants and the names used in the tables."""

    task: str
    scheme: str | None
    scores: tuple[str, ...]
    primary: str
    baselines: tuple[str, ...]
    tables: tuple[tuple[str, str], ...]  # (metric, table title) of each mean ± std table
    primary_name: str  # the primary metric inside a sentence

    @property
    def token(self) -> bool:
        return self.task == TOKEN_TASK


_CLASSIFICATION = _Task(
    task="classification",
    scheme=None,
    scores=SCORES,
    primary="macro_f1",
    baselines=BASELINES,
    tables=(("macro_f1", "Macro-F1"), ("accuracy", "Accuracy")),
    primary_name="macro-F1",
)


def _token_task(scheme: str) -> _Task:
    if scheme not in TOKEN_SCORES:
        raise CompareError(f"unknown token scheme {scheme!r} in metrics.json; expected iob2 or tags")
    scores = TOKEN_SCORES[scheme]
    primary = TOKEN_PRIMARY[scheme]
    return _Task(
        task=TOKEN_TASK,
        scheme=scheme,
        scores=scores,
        primary=primary,
        baselines=TOKEN_BASELINES,
        tables=tuple((m, _TOKEN_NAMES[m][0]) for m in scores),
        primary_name=_TOKEN_NAMES[primary][1],
    )


def _task_of_runs(runs: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> _Task:
    """The task of a grid's runs (all must agree): sentence classification unless their metrics.json
    says ``"task": "token-classification"``; the token scheme from ``"scheme"`` (else guessed from the
    scores: entity F1 means iob2)."""
    metrics = [r["metrics"] for per_seed in runs.values() for r in per_seed.values()]
    tasks = {m.get("task", "classification") for m in metrics}
    if len(tasks) > 1:
        raise CompareError(f"the runs mix tasks ({', '.join(sorted(tasks))}); compare one task at a time")
    if tasks != {TOKEN_TASK}:
        return _CLASSIFICATION
    schemes = set()
    for m in metrics:
        scheme = m.get("scheme")
        if scheme is None:
            scheme = "iob2" if any("f1" in s for s in m.get("sets", {}).values()) else "tags"
        schemes.add(scheme)
    if len(schemes) > 1:
        raise CompareError(
            f"the runs mix label schemes ({', '.join(sorted(schemes))}); one recipe, one scheme"
        )
    return _token_task(schemes.pop())


def _task_of_result(result: Mapping[str, Any]) -> _Task:
    if result.get("task") == TOKEN_TASK:
        return _token_task(result.get("scheme") or "iob2")
    return _CLASSIFICATION


def task_scores(result: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """``(scores, primary)`` of a ``compare.json``: the per-set metrics it summarises and the one the
    best pick, Tukey HSD and the bootstrap use (``macro_f1`` for sentence classification, ``f1`` for
    NER, ``accuracy`` for POS)."""
    t = _task_of_result(result)
    return t.scores, t.primary


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
    d = _resampled(scores, n, n_resamples, seed)
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


def _resampled(scores: Any, n: int, n_resamples: int, seed: int) -> np.ndarray:
    """``scores(weights)`` for ``n_resamples`` bootstrap draws of ``n`` items, in blocks of ``_BLOCK``:
    ``weights[r, i]`` is how often item ``i`` was drawn in resample ``r``."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_resamples, _BLOCK):
        size = min(_BLOCK, n_resamples - start)
        draws = rng.integers(0, n, size=(size, n))
        # counts of each example in each resample: one bincount over row-offset indices
        flat = (draws + n * np.arange(size)[:, None]).ravel()
        weights = np.bincount(flat, minlength=size * n).reshape(size, n).astype(np.float64)
        out.append(scores(weights))
    return np.concatenate(out)


# entity scores from summed counts: (numerator, denominator) columns of the per-sentence count matrix
_TOKEN_BOOTSTRAP_METRICS = ("f1", "f1_conlleval", "precision", "recall", "accuracy")


def sentence_counts(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], metric: str = "f1"
) -> dict[str, np.ndarray]:
    """Per-sentence counts from which ``metric`` of the whole set is a ratio of sums.

    ``f1`` / ``precision`` / ``recall`` (strict IOB2 entities) and ``f1_conlleval`` (conlleval-mode
    entities), read with :func:`scriptbridge.evaluate.token_metrics.entity_spans`: ``tp`` (entities of
    ``pred`` matching a gold one in type, start and end), ``n_pred`` and ``n_gold``. ``accuracy``:
    ``correct`` and ``total`` tokens. Each is an ``int64`` array with one entry per sentence."""
    if metric not in _TOKEN_BOOTSTRAP_METRICS:
        raise ValueError(
            f"no per-sentence counts for {metric!r}; use one of {', '.join(_TOKEN_BOOTSTRAP_METRICS)}"
        )
    if len(gold) != len(pred):
        raise ValueError(f"{len(pred)} predicted sentences for {len(gold)} gold ones")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(g, str) or isinstance(p, str):
            raise ValueError(f"sentence {i}: expected a list of labels, got a string")
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold labels but {len(p)} predicted")
    if metric == "accuracy":
        correct = [sum(a == b for a, b in zip(g, p, strict=True)) for g, p in zip(gold, pred, strict=True)]
        return {
            "correct": np.asarray(correct, dtype=np.int64),
            "total": np.asarray([len(g) for g in gold], dtype=np.int64),
        }
    from scriptbridge.evaluate.token_metrics import entity_spans

    mode = "conlleval" if metric == "f1_conlleval" else "strict"
    tp, n_pred, n_gold = [], [], []
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        gs = entity_spans(g, mode, where=f"gold sentence {i}")
        ps = entity_spans(p, mode, where=f"predicted sentence {i}")
        tp.append(len(gs & ps))
        n_pred.append(len(ps))
        n_gold.append(len(gs))
    return {
        "tp": np.asarray(tp, dtype=np.int64),
        "n_pred": np.asarray(n_pred, dtype=np.int64),
        "n_gold": np.asarray(n_gold, dtype=np.int64),
    }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (0/0 scores 0, as seqeval and token_metrics do)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _score_from_sums(metric: str, sums: Mapping[str, np.ndarray]) -> np.ndarray:
    if metric == "accuracy":
        return _ratio(sums["correct"], sums["total"])
    if metric == "precision":
        return _ratio(sums["tp"], sums["n_pred"])
    if metric == "recall":
        return _ratio(sums["tp"], sums["n_gold"])
    # F1 = 2PR / (P + R) = 2 tp / (n_pred + n_gold), and 0 when tp is 0
    return _ratio(2.0 * sums["tp"], sums["n_pred"] + sums["n_gold"])


def token_paired_bootstrap(
    gold: Sequence[Sequence[str]],
    pred_variant: Sequence[Sequence[Sequence[str]]],
    pred_baseline: Sequence[Sequence[Sequence[str]]],
    *,
    metric: str = "f1",
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Paired bootstrap of a token-classification score difference (variant - baseline) on one set,
    resampling *sentences*.

    ``gold`` holds one tag list per sentence; ``pred_variant[k]`` / ``pred_baseline[k]`` the tag lists
    of seed ``k`` of each system. ``metric`` is ``f1`` (strict IOB2 entity F1, NER's primary score),
    ``f1_conlleval``, ``precision``, ``recall`` or ``accuracy`` (token accuracy, POS's primary score).
    Per-sentence counts (:func:`sentence_counts`) are computed once; a resample is then a weighted sum
    of them (one matrix product for all seeds and both systems), so the score is the one over the
    drawn sentences exactly as the metric defines it (entity counts summed, not sentence scores
    averaged). Returns ``diff``, ``ci_low`` / ``ci_high``, ``p_value`` (share of resamples with a
    difference <= 0), ``metric``, ``<metric>_variant`` / ``<metric>_baseline`` (mean over seeds on
    the whole set) and the sizes, as :func:`paired_bootstrap` does."""
    gold = [list(g) for g in gold]
    n, k = len(gold), len(pred_variant)
    if metric not in _TOKEN_BOOTSTRAP_METRICS:
        raise ValueError(f"cannot bootstrap {metric!r}; use one of {', '.join(_TOKEN_BOOTSTRAP_METRICS)}")
    if n == 0:
        raise ValueError("no sentences to resample")
    if k == 0 or len(pred_baseline) != k:
        raise ValueError(f"need the same number of runs on both sides, got {k} and {len(pred_baseline)}")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    # one count matrix [n, columns]: the gold-only columns once, then each run's own columns
    per_run = [sentence_counts(gold, p, metric) for p in (*pred_variant, *pred_baseline)]
    shared = ("total",) if metric == "accuracy" else ("n_gold",)
    own = ("correct",) if metric == "accuracy" else ("tp", "n_pred")
    columns = [per_run[0][c] for c in shared]
    for counts in per_run:
        columns += [counts[c] for c in own]
    matrix = np.stack(columns, axis=1).astype(np.float64)

    def run_scores(sums: np.ndarray) -> np.ndarray:
        """Scores ``[rows, 2k]`` (variant seeds, then baseline seeds) from summed columns."""
        base = {c: sums[:, i] for i, c in enumerate(shared)}
        out = []
        for r in range(2 * k):
            at = len(shared) + r * len(own)
            out.append(_score_from_sums(metric, {**base, **{c: sums[:, at + j] for j, c in enumerate(own)}}))
        return np.stack(out, axis=1)

    def scores(weights: np.ndarray) -> np.ndarray:
        s = run_scores(weights @ matrix)
        return s[:, :k].mean(axis=1) - s[:, k:].mean(axis=1)

    whole = run_scores(matrix.sum(axis=0, keepdims=True))[0]
    d = _resampled(scores, n, n_resamples, seed)
    return {
        "diff": float(whole[:k].mean() - whole[k:].mean()),
        "ci_low": float(np.percentile(d, 2.5)),
        "ci_high": float(np.percentile(d, 97.5)),
        "p_value": float(np.mean(d <= 0)),
        "metric": metric,
        f"{metric}_variant": float(whole[:k].mean()),
        f"{metric}_baseline": float(whole[k:].mean()),
        "n_examples": n,
        "n_tokens": int(sum(len(g) for g in gold)),
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


def _pick(variants: Sequence[str], overall: Mapping[str, Mapping[str, Any]], metric: str = "macro_f1") -> str:
    # highest mean of the primary metric; the earlier variant on a tie
    return max(variants, key=lambda v: (overall[v][metric] or -1.0, -variants.index(v)))


def _cost(
    variants: Sequence[str], runs: Mapping[str, Mapping[str, Mapping[str, Any]]], baseline: str
) -> dict[str, Any] | None:
    """Mean over seeds of each ``metrics["cost"]`` field per variant, and each variant's ratio to the
    reference variant (``plain`` when it was run, else the baseline); None when no run has a cost."""
    if not any(r["metrics"].get("cost") for v in variants for r in runs[v].values()):
        return None
    reference = COST_REFERENCE if COST_REFERENCE in variants else baseline
    per_variant: dict[str, Any] = {}
    for v in variants:
        costs = [r["metrics"].get("cost") or {} for r in runs[v].values()]
        entry: dict[str, Any] = {}
        for f in COST_FIELDS:
            vals = [c[f] for c in costs if isinstance(c.get(f), (int, float))]
            entry[f] = float(np.mean(vals)) if vals else None
        entry["n_runs"] = sum(1 for c in costs if c)
        per_variant[v] = entry
    for v in variants:
        ref = per_variant[reference]
        per_variant[v]["ratio"] = {
            f: (per_variant[v][f] / ref[f] if per_variant[v][f] is not None and ref[f] else None)
            for f in COST_FIELDS
        }
    return {"reference": reference, "fields": list(COST_FIELDS), "variants": per_variant}


def aggregate(
    recipe_name: str,
    variants: Sequence[str],
    seeds: Sequence[int],
    runs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, Any]:
    """The statistics of ``compare.json`` from the runs (``runs[variant][str(seed)]`` holds the run's
    ``metrics`` and ``predictions``). Sentence classification or token classification, by the runs'
    ``metrics["task"]`` (see the module docstring)."""
    variants = list(variants)
    task = _task_of_runs({v: runs[v] for v in variants})
    scores_, primary = task.scores, task.primary
    sets: list[str] = []
    for v in variants:
        for r in runs[v].values():
            sets += [s for s in r["metrics"]["sets"] if s not in sets]
    results: dict[str, dict[str, Any]] = {}
    for v in variants:
        results[v] = {}
        for s in sets:
            have = [r["metrics"]["sets"][s] for r in runs[v].values() if s in r["metrics"]["sets"]]
            entry: dict[str, Any] = {
                m: summarize([h[m] for h in have if h.get(m) is not None]) for m in scores_
            }
            entry["n_runs"] = len(have)
            entry["n"] = have[0]["n"] if have else None
            results[v][s] = entry
    overall = {v: {m: _overall(results[v], m) for m in scores_} for v in variants}
    baselines = [v for v in variants if v in task.baselines]
    if baselines:
        baseline = _pick(baselines, overall, primary)
        if task.token:
            rule = "plain: the backbone tagger, the paper's mBERT row"
        else:
            rule = f"the best of the baseline variants run ({', '.join(baselines)}) by mean macro-F1 over the test sets"
    else:
        baseline = variants[0]
        rule = f"no baseline variant ({', '.join(task.baselines)}) was run: the first variant"
    best = _pick(variants, overall, primary)

    bootstrap: dict[str, dict[str, Any]] = {}
    tukey: dict[str, dict[str, float | None]] = {}
    tukey_note = None
    for s in sets:
        groups = {
            v: [r["metrics"]["sets"][s][primary] for r in runs[v].values() if s in r["metrics"]["sets"]]
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
            if task.token:
                bootstrap[v][s] = token_paired_bootstrap(
                    pairs[0][0]["gold"],
                    [a["pred"] for a, _ in pairs],
                    [b["pred"] for _, b in pairs],
                    metric=primary,
                    n_resamples=n_resamples,
                    seed=BOOTSTRAP_SEED,
                )
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
    if task.token:
        counts = (
            "true-positive, predicted and gold entities"
            if primary != "accuracy"
            else "correct and all tokens"
        )
        boot_method = TOKEN_BOOTSTRAP_METHOD.format(metric=task.primary_name, counts=counts)
        tukey_method = TOKEN_TUKEY_METHOD.format(metric=task.primary_name)
    else:
        boot_method, tukey_method = BOOTSTRAP_METHOD, TUKEY_METHOD
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "recipe": recipe_name,
    }
    if task.token:
        # sentence classification keeps its compare.json as it was: these keys are token-only
        out.update(task=task.task, scheme=task.scheme, primary=primary, scores=list(scores_))
    out.update(
        {
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
                    "method": boot_method,
                    "n_resamples": n_resamples,
                    "seed": BOOTSTRAP_SEED,
                    "results": bootstrap,
                },
                "tukey_hsd": {"method": tukey_method, "note": tukey_note, "results": tukey},
            },
        }
    )
    cost = _cost(variants, runs, baseline)
    if cost is not None:
        out["cost"] = cost
    return out


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
    task = _task_of_result(result)
    tables = []
    for metric, name in task.tables:
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
        f"are {task.primary_name} points. Bootstrap: {sig['bootstrap']['method']}; {sig['bootstrap']['n_resamples']} "
        f"resamples. Tukey: {sig['tukey_hsd']['method']}"
        + (f" ({sig['tukey_hsd']['note']})" if sig["tukey_hsd"]["note"] else "")
        + "."
    )
    tables.append(
        (
            f"Significance against {sig['baseline']}",
            note,
            [
                "variant",
                "set",
                f"Δ {task.primary_name}",
                "95% CI",
                "p (bootstrap, one-sided)",
                "p (Tukey HSD)",
            ],
            rows,
        )
    )
    if result.get("cost"):
        tables.append(_cost_table(result["cost"]))
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


def _cost_table(cost: Mapping[str, Any]) -> tuple[str, str, list[str], list[list[str]]]:
    ref = cost["reference"]

    def num(v: float | None, digits: int) -> str:
        return "–" if v is None else f"{v:,.{digits}f}"

    def ratio(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}×"

    rows = []
    for v, c in cost["variants"].items():
        r = c.get("ratio") or {}
        rows.append(
            [
                v,
                num(c.get("seconds_per_epoch"), 1),
                ratio(r.get("seconds_per_epoch")),
                num(c.get("peak_rss_mib"), 0),
                ratio(r.get("peak_rss_mib")),
                num(c.get("trainable_parameters"), 0),
                ratio(r.get("trainable_parameters")),
                num(c.get("eval_seconds"), 1),
            ]
        )
    note = (
        f"Means over each variant's runs of metrics.json's cost; ratios are to {ref!r}. Peak RSS is each run's "
        "peak resident memory (on Linux the peak is reset when a run starts, so runs trained one after "
        "another in one process each report their own; elsewhere it is the process's peak so far)."
    )
    header = [
        "variant",
        "s / epoch",
        f"× {ref}",
        "peak RSS MiB",
        f"× {ref}",
        "trainable parameters",
        f"× {ref}",
        "eval s",
    ]
    return ("Cost", note, header, rows)


def _headline(result: Mapping[str, Any]) -> str:
    task = _task_of_result(result)
    best, base, metric = result["best"], result["baseline"], task.primary
    score = result["overall"][best][metric]
    text = f"Best variant: {best} (mean {task.primary_name} {_pct(score)}% over {', '.join(result['overall_sets'])})"
    if best != base:
        text += f"; baseline for the tests: {base} ({_pct(result['overall'][base][metric])}%)"
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
