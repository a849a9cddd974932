"""``scriptbridge compare``: a grid of variants x seeds on a tiny BERT, its statistics, reuse and probes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scriptbridge.train.compare import paired_bootstrap, tukey_pvalues
from test_train import EN
from test_train import tsv_file as _tsv

PAIRS = [
    ("the cat sat on the mat", "बिल्ली चटाई पर बैठी"),
    ("i like green tea", "मुझे हरी चाय पसंद है"),
    ("a dog runs in the park", "कुत्ता पार्क में दौड़ता है"),
    ("where is the train station", "स्टेशन कहाँ है"),
]
HI = [("एक बिल्ली और एक कुत्ता", "animal"), ("मुझे चाय पसंद है", "drink"), ("कुत्ता पार्क में", "animal")]
VARIANTS = ["en", "joint-ts"]
SEEDS = [0, 1]


def _recipe_data(folder: Path, model_dir: Path, *, probe: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "name": "tiny-compare",
        "seed": 0,
        "model": {"spec": str(model_dir), "max_length": 32},
        "data": {
            "train": _tsv(folder / "train.tsv", ("text", "label"), EN),
            "dev": _tsv(folder / "dev.tsv", ("text", "label"), EN[:4]),
            "parallel": {"src": _tsv(folder / "pairs.tsv", ("en", "hi"), PAIRS[:2])},
        },
        "views": {"target_lang": "hi", "translation": {"provider": "none"}},
        "method": {"variant": "en", "alpha": 0.5, "freeze_layers": 1},
        "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "patience": 5, "device": "cpu"},
        "evaluate": [{"path": _tsv(folder / "hi.tsv", ("text", "label"), HI), "lang": "hi", "name": "hi"}],
    }
    if probe:
        data["probe"] = {"src": _tsv(folder / "heldout.tsv", ("en", "hi"), PAIRS), "layers": "all"}
    return data


def _recipe(folder: Path, model_dir: Path, **kwargs):
    from scriptbridge.train.recipe import recipe_from_dict

    return recipe_from_dict(_recipe_data(folder, model_dir, **kwargs), base_dir=folder)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path):
    """One real 2 variants x 2 seeds grid (1 epoch each) with a probe section, shared by the tests."""
    from scriptbridge.train.compare import compare

    folder = tmp_path_factory.mktemp("compare")
    recipe = _recipe(folder / "data", tiny_encoder_dir)
    out = folder / "out"
    result = compare(recipe, out, variants=VARIANTS, seeds=SEEDS, progress=False, probe_cache=False)
    return recipe, out, result


# ------------------------------------------------------------------------------------------- the grid
def test_compare_json_structure(grid) -> None:
    _, out, result = grid
    on_disk = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(result))  # what compare() returns is what it wrote
    assert on_disk["variants"] == VARIANTS and on_disk["seeds"] == SEEDS
    assert on_disk["sets"] == ["dev: dev", "hi"] and on_disk["dev_sets"] == ["dev: dev"]
    assert on_disk["overall_sets"] == ["hi"]
    assert on_disk["baseline"] == "en"  # the only baseline variant run
    # the token-classification keys stay out of a sentence-classification comparison
    assert not {"task", "scheme", "primary", "scores", "cost"} & set(on_disk)
    assert on_disk["best"] in VARIANTS
    for v in VARIANTS:
        for k in SEEDS:
            run = out / "runs" / v / f"seed{k}"
            assert (run / "metrics.json").is_file() and (run / "model" / "config.json").is_file()
            assert on_disk["runs"][v][str(k)]["folder"] == f"runs/{v}/seed{k}"
            assert on_disk["runs"][v][str(k)]["reused"] is False
        for s in on_disk["sets"]:
            entry = on_disk["results"][v][s]
            assert set(entry) == {"accuracy", "macro_f1", "weighted_f1", "n_runs", "n"}
            assert entry["n_runs"] == 2
    sig = on_disk["significance"]
    assert sig["baseline"] == "en" and set(sig["bootstrap"]["results"]) == {"joint-ts"}
    b = sig["bootstrap"]["results"]["joint-ts"]["hi"]
    assert {"diff", "ci_low", "ci_high", "p_value", "n_examples", "n_seeds"} <= set(b)
    assert b["n_examples"] == len(HI) and b["n_seeds"] == 2 and 0.0 <= b["p_value"] <= 1.0
    assert b["ci_low"] <= b["ci_high"]
    assert set(sig["tukey_hsd"]["results"]) == {"dev: dev", "hi"}
    assert set(sig["tukey_hsd"]["results"]["hi"]) == {"joint-ts"}
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "Macro-F1" in md and "Significance against en" in md and "joint-ts" in md
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html


def test_mean_and_std_come_from_the_runs(grid) -> None:
    _, out, result = grid
    for v in VARIANTS:
        runs = [json.loads((out / "runs" / v / f"seed{k}" / "metrics.json").read_text()) for k in SEEDS]
        for s in result["sets"]:
            for metric in ("accuracy", "macro_f1", "weighted_f1"):
                values = [r["sets"][s][metric] for r in runs]
                got = result["results"][v][s][metric]
                assert got["values"] == pytest.approx(values)
                assert got["mean"] == pytest.approx(np.mean(values))
                assert got["std"] == pytest.approx(np.std(values, ddof=1))
    # the observed bootstrap difference is the mean over seeds of the runs' macro-F1 differences
    diffs = [
        json.loads((out / "runs" / "joint-ts" / f"seed{k}" / "metrics.json").read_text())["sets"]["hi"][
            "macro_f1"
        ]
        - json.loads((out / "runs" / "en" / f"seed{k}" / "metrics.json").read_text())["sets"]["hi"][
            "macro_f1"
        ]
        for k in SEEDS
    ]
    assert result["significance"]["bootstrap"]["results"]["joint-ts"]["hi"]["diff"] == pytest.approx(
        np.mean(diffs)
    )


def test_probe_section_probes_before_and_after(grid) -> None:
    _, out, result = grid
    for name in ("baseline", "best"):
        probe = json.loads((out / "probe" / name / "probe.json").read_text(encoding="utf-8"))
        assert probe["n_pairs"] == len(PAIRS) and probe["probed_layers"] == [0, 1, 2]
        assert (out / "probe" / name / "report.html").is_file()
    assert (out / "probe" / "before_after_tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pr = result["probe"]
    assert pr["layers"] == [0, 1, 2] and pr["plot_layer"] == 2
    assert pr["best"]["variant"] == result["best"] and pr["best"]["seed"] == SEEDS[0]
    assert pr["best"]["model"] == f"runs/{result['best']}/seed{SEEDS[0]}/model"
    assert set(pr["baseline"]["layers"]["2"]) == {"top1_src2tgt", "top1_tgt2src", "gap"}
    # the frozen embeddings (freeze_layers: 1) did not move: layer 0 measures the same before and after
    assert pr["baseline"]["layers"]["0"] == pytest.approx(pr["best"]["layers"]["0"])
    assert "Alignment probe" in (out / "compare.md").read_text(encoding="utf-8")


def test_a_second_call_reuses_finished_runs(grid, monkeypatch: pytest.MonkeyPatch) -> None:
    import scriptbridge.train.run as run_module
    from scriptbridge.train.compare import compare

    recipe, out, first = grid

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(run_module, "train", no_training)
    again = compare(recipe, out, variants=VARIANTS, seeds=SEEDS, progress=False, probe_cache=False)
    assert all(r["reused"] for v in VARIANTS for r in again["runs"][v].values())
    assert again["results"] == first["results"]
    assert again["significance"]["bootstrap"] == first["significance"]["bootstrap"]
    # a subset of the grid is a grid too; a changed recipe is not silently reused
    sub = compare(recipe, out, variants=["joint-ts"], seeds=[1], progress=False, probe_cache=False)
    assert sub["baseline"] == "joint-ts" and sub["significance"]["bootstrap"]["results"] == {}
    assert sub["significance"]["tukey_hsd"]["note"].startswith("not run")
    from scriptbridge.train.compare import CompareError
    from scriptbridge.train.recipe import recipe_from_dict

    changed = recipe.to_dict()
    changed["method"]["alpha"] = 0.1
    changed = recipe_from_dict(changed, base_dir=recipe.base_dir)
    with pytest.raises(CompareError, match="different recipe"):
        compare(changed, out, variants=VARIANTS, seeds=SEEDS, progress=False, probe_cache=False)


def test_invalid_variant_fails_before_any_training(
    tmp_path: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scriptbridge.train.run as run_module
    from scriptbridge.train.compare import CompareError, compare
    from scriptbridge.train.recipe import RecipeError

    monkeypatch.setattr(run_module, "train", lambda *a, **k: pytest.fail("trained before validating"))
    recipe = _recipe(tmp_path / "data", tiny_encoder_dir, probe=False)
    with pytest.raises(RecipeError, match=r"views\.translation\.provider") as info:
        compare(recipe, tmp_path / "out", variants=["en", "tr"], seeds=[0], progress=False)
    assert "variant 'tr'" in str(info.value) and info.value.key == "method.variant"
    with pytest.raises(RecipeError, match="expected one of"):
        compare(recipe, tmp_path / "out", variants=["en", "jiont"], seeds=[0], progress=False)
    with pytest.raises(CompareError, match="duplicate"):
        compare(recipe, tmp_path / "out", variants=["en", "en"], seeds=[0], progress=False)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- statistics
def test_bootstrap_identical_predictions() -> None:
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["a", "b", "c"], size=80))
    pred = [[str(x) for x in rng.choice(["a", "b", "c"], size=80)] for _ in range(2)]
    b = paired_bootstrap(gold, pred, pred, n_resamples=500)
    assert b["diff"] == 0.0 and b["ci_low"] == 0.0 and b["ci_high"] == 0.0
    assert b["p_value"] == 1.0  # never better: the difference is 0 in every resample


def test_bootstrap_clearly_better_and_worse() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    gold = [str(x) for x in rng.choice(["neg", "pos"], size=200)]
    good = [list(gold) for _ in range(2)]
    flip = {"neg": "pos", "pos": "neg"}
    bad = [[flip[g] if rng.random() < 0.4 else g for g in gold] for _ in range(2)]
    better = paired_bootstrap(gold, good, bad, n_resamples=1000, seed=3)
    expected = np.mean([1.0 - f1_score(gold, b, average="macro") for b in bad])
    assert better["diff"] == pytest.approx(expected)
    assert better["p_value"] < 0.01 and better["ci_low"] > 0
    worse = paired_bootstrap(gold, bad, good, n_resamples=1000, seed=3)
    assert worse["diff"] == pytest.approx(-expected) and worse["p_value"] > 0.99
    # seeded: the same call gives the same interval
    assert paired_bootstrap(gold, good, bad, n_resamples=1000, seed=3) == better


def test_bootstrap_macro_f1_matches_classification_metrics() -> None:
    from scriptbridge.tasks.classification import classification_metrics

    gold = ["a", "a", "b", "b", "c"]
    pv, pb = ["a", "b", "b", "b", "x"], ["a", "a", "a", "b", "b"]
    labels = ["a", "b", "c", "d"]  # "d" never occurs; "x" is outside the labels
    b = paired_bootstrap(gold, [pv], [pb], labels=labels, n_resamples=10)
    assert b["macro_f1_variant"] == pytest.approx(classification_metrics(gold, pv, labels)["macro_f1"])
    assert b["macro_f1_baseline"] == pytest.approx(classification_metrics(gold, pb, labels)["macro_f1"])
    with pytest.raises(ValueError):
        paired_bootstrap(gold, [pv], [pb, pb])


def test_tukey_pvalues() -> None:
    from scipy.stats import tukey_hsd

    groups = {"en": [0.50, 0.52, 0.51], "joint": [0.70, 0.71, 0.69], "tl": [0.51, 0.50, 0.53]}
    p = tukey_pvalues(groups, "en")
    assert set(p) == {"joint", "tl"} and p["joint"] < 0.001 and p["tl"] > 0.5
    assert p["tl"] == pytest.approx(tukey_hsd(*groups.values()).pvalue[0, 2])
    assert tukey_pvalues({"en": [0.5], "joint": [0.6]}, "en") is None  # one seed
    # no variance at all: undefined, so None (not NaN, which JSON does not have)
    assert tukey_pvalues({"en": [0.5, 0.5], "joint": [0.5, 0.5]}, "en") == {"joint": None}


def test_parse_seeds() -> None:
    import typer

    from scriptbridge.commands.compare import parse_seeds

    assert parse_seeds("3", 5) == [5, 6, 7]
    assert parse_seeds("0,1,2", 5) == [0, 1, 2] and parse_seeds("4,", 0) == [4]
    for bad in ("0", "two", "1,x"):
        with pytest.raises(typer.Exit):
            parse_seeds(bad, 0)


# -------------------------------------------------------------------------------------------- CLI
def test_cli_end_to_end(grid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from scriptbridge.cli import app

    monkeypatch.setenv("SCRIPTBRIDGE_CACHE", str(tmp_path / "cache"))
    recipe, out, first = grid
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe.dump(include_base_dir=True), encoding="utf-8")
    # the grid's own recipe: every run is reused, the statistics are written again
    res = CliRunner().invoke(
        app, ["compare", "-r", str(path), "--variants", "en,joint-ts", "--seeds", "2", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "reusing" in res.output and "joint-ts" in res.output and "±" in res.output
    assert json.loads((out / "compare.json").read_text())["results"] == first["results"]
    # a fresh one-run grid, with --set
    fresh = tmp_path / "fresh"
    res = CliRunner().invoke(
        app,
        [
            "compare",
            "-r",
            str(path),
            "--variants",
            "en",
            "--seeds",
            "7,",
            "-o",
            str(fresh),
            "--set",
            "probe=null",
        ],
    )
    assert res.exit_code == 0, res.output
    result = json.loads((fresh / "compare.json").read_text())
    assert result["seeds"] == [7] and result["probe"] is None
    assert result["results"]["en"]["hi"]["macro_f1"]["std"] == 0.0
    assert (fresh / "runs" / "en" / "seed7" / "metrics.json").is_file()
    # errors are one clean line
    res = CliRunner().invoke(
        app, ["compare", "-r", str(path), "--variants", "en,tl", "--seeds", "1", "-o", str(tmp_path / "x")]
    )
    assert res.exit_code == 2 and "error:" in res.output and "variant 'tl'" in res.output
    assert "Traceback" not in res.output


# ------------------------------------------------------------------------------ token classification
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
POS_TAGS = ["NOUN", "VERB", "ADJ", "ADP", "PUNCT"]
NER_SETS = ("dev: zh dev (selection)", "zh test (source)", "vi test (target)")


def _ner_sentences(rng: np.random.Generator, n: int) -> list[list[str]]:
    """Valid IOB2 sentences of 4-12 words with entities of 1-3 words."""
    out = []
    for _ in range(n):
        length, tags = int(rng.integers(4, 13)), []
        while len(tags) < length:
            if rng.random() < 0.25:
                kind = str(rng.choice(["PER", "LOC"]))
                span = min(int(rng.integers(1, 4)), length - len(tags))
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (span - 1)
            else:
                tags.append("O")
        out.append(tags)
    return out


def _noisy(rng: np.random.Generator, gold: list[list[str]], p: float, tags: list[str]) -> list[list[str]]:
    return [[t if rng.random() >= p else str(rng.choice(tags)) for t in g] for g in gold]


def _write_token_grid(
    folder: Path,
    gold: dict[str, list[list[str]]],
    noise: dict[str, float],
    seeds: list[int],
    *,
    scheme: str = "iob2",
    copy_of: dict[str, str] | None = None,
    seconds: dict[str, float] | None = None,
) -> dict:
    """Token runs written by hand (metrics.json and predictions.json as train() writes them) into
    ``folder/runs/<variant>/seed<k>/`` and read back the way compare() does. ``copy_of[v] = w``: v
    predicts exactly what w does."""
    from scriptbridge.evaluate.token_metrics import token_classification_metrics

    tags = NER_TAGS if scheme == "iob2" else POS_TAGS
    runs: dict = {}
    for v, p in noise.items():
        runs[v] = {}
        for k in seeds:
            rng = np.random.default_rng(1000 * k + sum(map(ord, v)))
            preds = {}
            for s, g in gold.items():
                if copy_of and v in copy_of:
                    preds[s] = {"gold": g, "pred": runs[copy_of[v]][str(k)]["predictions"][s]["pred"]}
                else:
                    preds[s] = {"gold": g, "pred": _noisy(rng, g, p, tags)}
            sets = {
                s: {**token_classification_metrics(d["gold"], d["pred"], scheme=scheme), "lang": "zh"}
                for s, d in preds.items()
            }
            metrics = {
                "recipe": "tiny-tokens",
                "task": "token-classification",
                "variant": v,
                "labels": tags,
                "scheme": scheme,
                "best_epoch": 1,
                "selection_metric": "f1" if scheme == "iob2" else "accuracy",
                "sets": sets,
                "cost": {
                    "seconds_per_epoch": (seconds or {}).get(v, 10.0) + k,
                    "peak_rss_mib": 1000.0,
                    "trainable_parameters": 1_000_000 if v == "plain" else 1_500_000,
                    "eval_seconds": 2.0,
                },
            }
            run = folder / "runs" / v / f"seed{k}"
            run.mkdir(parents=True, exist_ok=True)
            (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
            (run / "predictions.json").write_text(json.dumps(preds), encoding="utf-8")
            runs[v][str(k)] = {
                "folder": f"runs/{v}/seed{k}",
                "reused": True,
                "metrics": json.loads((run / "metrics.json").read_text(encoding="utf-8")),
                "predictions": json.loads((run / "predictions.json").read_text(encoding="utf-8")),
            }
    return runs


@pytest.fixture(scope="module")
def ner_grid(tmp_path_factory: pytest.TempPathFactory):
    from scriptbridge.train.compare import aggregate, write_outputs

    folder = tmp_path_factory.mktemp("ner")
    rng = np.random.default_rng(7)
    gold = {s: _ner_sentences(rng, 60 if s.startswith("dev") else 150) for s in NER_SETS}
    noise = {"cosda": 0.30, "plain": 0.30, "pe": 0.0, "full": 0.05}  # pe: a copy of plain (below)
    runs = _write_token_grid(
        folder, gold, noise, [0, 1, 2], copy_of={"pe": "plain"}, seconds={"plain": 10.0, "full": 25.0}
    )
    result = aggregate("tiny-ner", list(noise), [0, 1, 2], runs, n_resamples=1000)
    result["probe"] = None
    write_outputs(folder, result)
    return folder, runs, result


def test_token_aggregate_uses_entity_scores_and_plain(ner_grid) -> None:
    from scriptbridge.train.compare import TOKEN_SCORES

    folder, runs, result = ner_grid
    assert result["task"] == "token-classification" and result["scheme"] == "iob2"
    assert result["primary"] == "f1" and result["scores"] == list(TOKEN_SCORES["iob2"])
    # plain is the baseline though cosda (a comparison method) comes first; full is clearly best
    assert result["baseline"] == "plain" and result["best"] == "full"
    assert result["overall_sets"] == ["zh test (source)", "vi test (target)"]
    for v in runs:
        for s in NER_SETS:
            entry = result["results"][v][s]
            assert set(entry) == {*TOKEN_SCORES["iob2"], "n_runs", "n"} and entry["n"] == len(
                runs[v]["0"]["predictions"][s]["gold"]
            )
            for m in TOKEN_SCORES["iob2"]:
                values = [runs[v][k]["metrics"]["sets"][s][m] for k in ("0", "1", "2")]
                assert entry[m]["mean"] == pytest.approx(np.mean(values))
                assert entry[m]["std"] == pytest.approx(np.std(values, ddof=1))
    sig = result["significance"]
    assert set(sig["bootstrap"]["results"]) == {"cosda", "pe", "full"}
    assert "sentences" in sig["bootstrap"]["method"] and "entity F1" in sig["tukey_hsd"]["method"]
    # Tukey over the per-seed entity F1
    from scipy.stats import tukey_hsd

    s = "vi test (target)"
    groups = [[runs[v][k]["metrics"]["sets"][s]["f1"] for k in ("0", "1", "2")] for v in runs]
    names = list(runs)
    expected = tukey_hsd(*groups).pvalue[names.index("plain"), names.index("full")]
    assert sig["tukey_hsd"]["results"][s]["full"] == pytest.approx(expected)


def test_token_bootstrap_in_aggregate(ner_grid) -> None:
    _, runs, result = ner_grid
    boot = result["significance"]["bootstrap"]["results"]
    for s in NER_SETS:
        full, same = boot["full"][s], boot["pe"][s]
        f1 = {v: [runs[v][k]["metrics"]["sets"][s]["f1"] for k in ("0", "1", "2")] for v in ("full", "plain")}
        # the whole-set scores are the runs' own strict entity F1
        assert full["metric"] == "f1" and full["n_seeds"] == 3 and full["n_resamples"] == 1000
        assert full["f1_variant"] == pytest.approx(np.mean(f1["full"]))
        assert full["f1_baseline"] == pytest.approx(np.mean(f1["plain"]))
        assert full["diff"] == pytest.approx(np.mean(f1["full"]) - np.mean(f1["plain"]))
        assert full["n_examples"] == len(runs["full"]["0"]["predictions"][s]["gold"])
        # clearly better: tiny p, interval above 0; identical predictions: difference 0 everywhere
        assert full["p_value"] < 0.01 and full["ci_low"] > 0
        assert same["diff"] == 0.0 and same["ci_low"] == 0.0 == same["ci_high"] and same["p_value"] == 1.0


def test_token_cost_and_rendering(ner_grid) -> None:
    folder, _, result = ner_grid
    cost = result["cost"]
    assert cost["reference"] == "plain"
    assert cost["variants"]["plain"]["seconds_per_epoch"] == pytest.approx(11.0)  # 10, 11, 12
    assert cost["variants"]["full"]["ratio"]["seconds_per_epoch"] == pytest.approx(26.0 / 11.0)
    assert cost["variants"]["full"]["ratio"]["trainable_parameters"] == pytest.approx(1.5)
    assert cost["variants"]["plain"]["ratio"]["peak_rss_mib"] == 1.0
    md = (folder / "compare.md").read_text(encoding="utf-8")
    for text in (
        "## Entity F1 (strict IOB2)",
        "## Entity F1 (conlleval)",
        "## Token accuracy",
        "Δ entity F1",
        "Significance against plain",
        "| plain (baseline) |",
        "full ★",
        "## Cost",
        "2.36×",
        "mean entity F1",
    ):
        assert text in md, text
    assert "Macro-F1" not in md
    html = (folder / "compare.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Entity F1 (strict IOB2)" in html and "Cost" in html
    on_disk = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    assert on_disk["primary"] == "f1" and on_disk["cost"]["reference"] == "plain"


def test_pos_aggregate_picks_by_token_accuracy(tmp_path: Path) -> None:
    from scipy.stats import tukey_hsd

    from scriptbridge.train.compare import aggregate, render_markdown

    rng = np.random.default_rng(3)
    gold = {"ja test (source)": [[str(t) for t in rng.choice(POS_TAGS, 8)] for _ in range(40)]}
    runs = _write_token_grid(tmp_path, gold, {"words": 0.2, "plain": 0.3, "pe": 0.25}, [0, 1], scheme="tags")
    # by hand: words has the best accuracy, pe the best macro-F1; the primary metric decides
    scores = {"plain": (0.80, 0.70), "words": (0.86, 0.60), "pe": (0.82, 0.90)}
    for v, (acc, macro) in scores.items():
        for k in ("0", "1"):
            s = runs[v][k]["metrics"]["sets"]["ja test (source)"]
            s.update(accuracy=acc + 0.01 * int(k), macro_f1=macro + 0.01 * int(k))
    result = aggregate("tiny-pos", list(scores), [0, 1], runs, n_resamples=200)
    assert result["scheme"] == "tags" and result["primary"] == "accuracy"
    assert result["baseline"] == "plain" and result["best"] == "words"
    entry = result["results"]["words"]["ja test (source)"]
    assert set(entry) == {"accuracy", "macro_f1", "weighted_f1", "n_runs", "n"}
    groups = [[scores[v][0], scores[v][0] + 0.01] for v in scores]
    p = tukey_hsd(*groups).pvalue[1, 0]  # words vs plain, on accuracy
    assert result["significance"]["tukey_hsd"]["results"]["ja test (source)"]["words"] == pytest.approx(p)
    b = result["significance"]["bootstrap"]["results"]["words"]["ja test (source)"]
    assert b["metric"] == "accuracy" and "accuracy_variant" in b
    result["probe"] = None
    md = render_markdown(result)
    assert "## Token accuracy" in md and "## Tag macro-F1" in md and "Δ token accuracy" in md


def test_token_bootstrap_equals_the_direct_metrics() -> None:
    from scriptbridge.evaluate.token_metrics import entity_scores, token_classification_metrics
    from scriptbridge.train.compare import sentence_counts, token_paired_bootstrap

    rng = np.random.default_rng(11)
    gold = _ner_sentences(rng, 120)
    pv = [_noisy(rng, gold, 0.15, NER_TAGS) for _ in range(2)]
    pb = [_noisy(rng, gold, 0.25, NER_TAGS) for _ in range(2)]
    for metric, key, mode in (
        ("f1", "f1", "strict"),
        ("f1_conlleval", "f1", "conlleval"),
        ("precision", "precision", "strict"),
        ("recall", "recall", "strict"),
    ):
        b = token_paired_bootstrap(gold, pv, pb, metric=metric, n_resamples=20)
        assert b[f"{metric}_variant"] == pytest.approx(
            np.mean([entity_scores(gold, p, mode)[key] for p in pv])
        )
        assert b[f"{metric}_baseline"] == pytest.approx(
            np.mean([entity_scores(gold, p, mode)[key] for p in pb])
        )
    b = token_paired_bootstrap(gold, pv, pb, metric="accuracy", n_resamples=20)
    direct = [token_classification_metrics(gold, p, scheme="iob2")["accuracy"] for p in pv]
    assert b["accuracy_variant"] == pytest.approx(np.mean(direct))
    # summed counts: one resample that draws each sentence once is the whole set
    counts = sentence_counts(gold, pv[0], "f1")
    tp, npred, ngold = (int(counts[c].sum()) for c in ("tp", "n_pred", "n_gold"))
    assert 2 * tp / (npred + ngold) == pytest.approx(entity_scores(gold, pv[0])["f1"])
    # a predicted I- without B- is no entity in strict mode, a whole one in conlleval mode
    assert sentence_counts([["B-PER", "I-PER"]], [["I-PER", "I-PER"]], "f1")["tp"].tolist() == [0]
    assert sentence_counts([["B-PER", "I-PER"]], [["I-PER", "I-PER"]], "f1_conlleval")["tp"].tolist() == [1]
    # seeded, and errors for shapes that do not pair up
    assert token_paired_bootstrap(gold, pv, pb, n_resamples=50, seed=4) == token_paired_bootstrap(
        gold, pv, pb, n_resamples=50, seed=4
    )
    with pytest.raises(ValueError):
        token_paired_bootstrap(gold, pv, pb[:1])
    with pytest.raises(ValueError, match="sentence 0"):
        token_paired_bootstrap(gold, [[g[:-1] for g in gold]], [gold])
    with pytest.raises(ValueError):
        token_paired_bootstrap(gold, pv, pb, metric="macro_f1")


def test_token_bootstrap_better_worse_and_identical() -> None:
    from scriptbridge.train.compare import token_paired_bootstrap

    rng = np.random.default_rng(5)
    gold = _ner_sentences(rng, 200)
    good = [[list(g) for g in gold]]
    bad = [_noisy(rng, gold, 0.3, NER_TAGS)]
    better = token_paired_bootstrap(gold, good, bad, n_resamples=1000, seed=1)
    assert better["f1_variant"] == 1.0 and better["p_value"] < 0.01 and better["ci_low"] > 0
    worse = token_paired_bootstrap(gold, bad, good, n_resamples=1000, seed=1)
    assert worse["diff"] == pytest.approx(-better["diff"]) and worse["p_value"] > 0.99
    same = token_paired_bootstrap(gold, bad, bad, n_resamples=300)
    assert same["diff"] == 0.0 and same["p_value"] == 1.0 and same["ci_low"] == same["ci_high"] == 0.0
    tags = [[str(t) for t in rng.choice(POS_TAGS, 6)] for _ in range(100)]
    acc = token_paired_bootstrap(
        tags, [tags], [_noisy(rng, tags, 0.5, POS_TAGS)], metric="accuracy", n_resamples=500
    )
    assert acc["accuracy_variant"] == 1.0 and acc["p_value"] < 0.01 and acc["n_tokens"] == 600


def test_token_bootstrap_is_fast() -> None:
    import time

    from scriptbridge.train.compare import token_paired_bootstrap

    rng = np.random.default_rng(0)
    gold = _ner_sentences(rng, 1000)
    pv = [_noisy(rng, gold, 0.1, NER_TAGS) for _ in range(3)]
    pb = [_noisy(rng, gold, 0.2, NER_TAGS) for _ in range(3)]
    start = time.perf_counter()
    b = token_paired_bootstrap(gold, pv, pb, n_resamples=10_000)
    elapsed = time.perf_counter() - start
    assert b["n_resamples"] == 10_000 and b["n_examples"] == 1000
    assert elapsed < 5.0, f"1000 sentences x 10,000 resamples took {elapsed:.2f} s"  # ~0.2 s here


def test_mixed_tasks_are_refused() -> None:
    from scriptbridge.train.compare import CompareError, aggregate

    cls = {"metrics": {"sets": {}}, "predictions": {}, "folder": "a", "reused": False}
    tok = {
        "metrics": {"sets": {}, "task": "token-classification"},
        "predictions": {},
        "folder": "b",
        "reused": False,
    }
    with pytest.raises(CompareError, match="mix tasks"):
        aggregate("x", ["en", "plain"], [0], {"en": {"0": cls}, "plain": {"0": tok}})


# ------------------------------------------------------------------------------- bench/phonexl_tables
def _bench_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "phonexl_tables.py"
    spec = importlib.util.spec_from_file_location("phonexl_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_phonexl_tables_script(ner_grid, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from scriptbridge.train.compare import aggregate, write_outputs

    tables = _bench_module()
    ner_folder, _, ner = ner_grid
    rng = np.random.default_rng(9)
    gold = {
        "ja test (source)": [[str(t) for t in rng.choice(POS_TAGS, 7)] for _ in range(30)],
        "ko test (target)": [[str(t) for t in rng.choice(POS_TAGS, 5)] for _ in range(30)],
    }
    pos_folder = tmp_path / "pos"
    noise = {"plain": 0.4, "pe": 0.3, "words": 0.35}
    runs = _write_token_grid(pos_folder, gold, noise, [0, 1], scheme="tags")
    pos = aggregate("tiny-pos", list(noise), [0, 1], runs, n_resamples=100)
    pos["probe"] = None
    write_outputs(pos_folder, pos)

    out = tmp_path / "tables" / "phonexl.md"
    assert (
        tables.main(["--ner-zh-vi", str(ner_folder), "--pos-ja-ko", str(pos_folder), "--output", str(out)])
        == 0
    )
    text = out.read_text(encoding="utf-8")
    header = (
        "| variant | paper row | NER zh→vi source | NER zh→vi target | POS ja→ko source | POS ja→ko target |"
    )
    assert header in text
    # ours: the primary metric in %, rows in the paper's order, words has no paper row
    full = ner["results"]["full"]["vi test (target)"]["f1"]
    cell = f"{100 * full['mean']:.2f} ± {100 * full['std']:.2f} †"
    assert cell in text
    order = [text.index(f"| `{v}` |") for v in ("plain", "full", "cosda", "pe", "words")]
    assert order == sorted(order)
    assert "| `words` | (ours only) |" in text
    plain_pos = pos["results"]["plain"]["ko test (target)"]["accuracy"]
    assert f"{100 * plain_pos['mean']:.2f} ± {100 * plain_pos['std']:.2f}" in text
    # the paper: mBERT, PhoneXL (full), CoSDA-ML, and Table 6's PE row only for POS targets
    assert "| mBERT (`plain`) | Table 3 | 78.10 ± 0.25 | 49.94 ± 1.44 | 86.24 ± 0.13 | 43.63 ± 1.28 |" in text
    assert (
        "| CoSDA-ML (`cosda`) | Table 4 | 78.48 ± 0.34 | 47.82 ± 1.43 | 87.63 ± 0.14 | 41.19 ± 1.16 |" in text
    )
    assert "| mBERT (w PE, w extension) (`pe`) | Table 6 | – | – | – | 44.42 ± 0.36 |" in text
    assert "PhoneXL (full) (`full`) | Table 3 | 80.42 ± 0.07 | 52.28 ± 0.98 |" in text
    # cost: per recipe and variant, with the ratio to plain
    assert "| NER zh→vi | `full` | 26.0 | 2.36× | 1,000 | 1.00× | 1,500,000 | 1.50× |" in text
    assert "| POS ja→ko | `plain` |" in text
    # without --output: printed; the metric can be switched; bad folders fail cleanly
    assert tables.main(["--ner-zh-vi", str(ner_folder), "--ner-metric", "f1_conlleval"]) == 0
    printed = capsys.readouterr().out
    conll = ner["results"]["full"]["vi test (target)"]["f1_conlleval"]
    assert f"{100 * conll['mean']:.2f} ± {100 * conll['std']:.2f} |" in printed  # no † on a non-tested metric
    assert "NER zh→vi: f1_conlleval" in printed
    assert tables.main(["--pos-zh-vi", str(tmp_path / "missing")]) == 2
    assert tables.main(["--ner-zh-vi", str(ner_folder), "--ner-metric", "macro_f1"]) == 2
    assert tables.main([]) == 2


def test_phonexl_paper_numbers_match_the_paper() -> None:
    tables = _bench_module()
    paper = Path("/work/shared/papers/phonexl_phonemic_transcription.txt")
    if not paper.is_file():
        pytest.skip("the PhoneXL paper text is not here")
    text = paper.read_text(encoding="utf-8")
    for row, numbers in tables.PAPER.items():
        cells = [f"{m:.2f} ± {s:.2f}" for m, s in (numbers[c] for c in tables._ORDER if c in numbers)]
        if row == "mBERT (w PE, w extension)":
            assert f"{row}\t" + "\t".join(cells) in text
            continue
        name = {
            "PhoneXL (w L_align)": "PhoneXL (w \\mathcal{L}_{align})",
            "PhoneXL (w L_MLM)": "PhoneXL (w \\mathcal{L}_{MLM})",
            "PhoneXL (w L_XMLM)": "PhoneXL (w \\mathcal{L}_{XMLM})",
        }.get(row, row)
        line = "\t".join(cells)
        assert f"{name}\t{line}" in text or (row == "CoSDA-ML" and f"{name}\t✓\t\t{line}" in text), row
