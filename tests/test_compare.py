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
