"""Recipes: loading, validation errors (with key paths and lines), --set overrides, path schemes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scriptbridge.train import recipe as rmod
from scriptbridge.train.recipe import (
    VARIANTS,
    DataConfig,
    MethodConfig,
    ModelConfig,
    Recipe,
    RecipeError,
    TrainConfig,
    ViewsConfig,
    apply_overrides,
    check_files,
    load_recipe,
    recipe_from_dict,
    resolve_path,
    resolve_side,
)

FULL = """\
name: hi-sentiment
seed: 7
model:
  spec: intfloat/multilingual-e5-small
  pooling: mean
  prefix: "query: "
  max_length: 64
views:
  target_lang: hi
  romanize_scheme: iso
  translation:
    provider: given
    path: train_hi.tsv
    column: hi
data:
  train: {path: train.tsv, text: text, label: label}
  dev: dev.tsv
  parallel: {src: tatoeba.hin-eng.eng, tgt: tatoeba.hin-eng.hin, limit: 500}
labels: [neg, pos]
method:
  variant: joint-ts
  alpha: 0.5
  betas: [1, 0.5, 0.25]
  freeze_layers: 4
  freeze_embeddings: false
train:
  epochs: 2
  batch_size: 8
  lr: 3e-5
  head_lr: 0.001
  weight_decay: 0
  warmup_ratio: 0
  patience: 0
  metric: accuracy
  max_steps: 10
  grad_clip: 0
  device: cpu
  cache_frozen: false
evaluate:
  - test.tsv
  - {path: test.tsv, view: "romanize:hi", name: test-romanized}
"""

MINIMAL = {"name": "m", "data": {"train": "train.tsv"}, "method": {"variant": "en"}}


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, overrides=()) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, text), overrides)
    return info.value


# ----------------------------------------------------------------------------------- valid recipes
def test_full_recipe_loads(tmp_path):
    r = load_recipe(write(tmp_path, FULL))
    assert r.name == "hi-sentiment" and r.seed == 7
    assert r.model == ModelConfig("intfloat/multilingual-e5-small", "mean", "query: ", 64)
    assert r.views.target_lang == "hi" and r.views.romanize_scheme == "iso"
    assert r.views.translation.provider == "given"
    assert r.views.translation.options == {"path": "train_hi.tsv", "column": "hi"}
    assert r.data.train == {"path": "train.tsv", "text": "text", "label": "label"}
    assert r.data.dev == {"path": "dev.tsv"}  # a plain string is {path: ...}
    assert r.data.parallel == {"src": "tatoeba.hin-eng.eng", "tgt": "tatoeba.hin-eng.hin", "limit": 500}
    assert r.labels == ["neg", "pos"]
    assert r.method == MethodConfig("joint-ts", 0.5, (1.0, 0.5, 0.25), 4, False)
    assert r.train.lr == pytest.approx(3e-5)  # "3e-5" is a string to YAML 1.1; accepted as a number
    assert r.train.metric == "accuracy" and r.train.max_steps == 10 and r.train.cache_frozen is False
    assert r.evaluate == [
        {"path": "test.tsv"},
        {"path": "test.tsv", "view": "romanize:hi", "name": "test-romanized"},
    ]
    assert r.source == str(tmp_path / "recipe.yaml")
    assert r.base_dir == str(tmp_path.resolve())


def test_defaults():
    r = recipe_from_dict({"name": "d", "data": {"train": "t.tsv", "parallel": {"src": "a", "tgt": "b"}},
                          "views": {"target_lang": "hi"}})  # fmt: skip
    assert r.model == ModelConfig()
    assert r.model.spec == "embedded" and r.model.pooling is None and r.model.max_length == 128
    assert r.views.translation.provider == "none" and r.views.translation.options == {}
    assert r.method == MethodConfig()
    assert (r.method.variant, r.method.alpha, r.method.betas) == ("joint-ts", 0.3, (1.0, 1.0, 1.0))
    assert r.method.freeze_layers == 8 and r.method.freeze_embeddings is True
    assert r.train == TrainConfig()
    assert (r.train.epochs, r.train.batch_size, r.train.metric, r.train.patience) == (3, 32, "macro_f1", 2)
    assert r.labels is None and r.evaluate == [] and r.seed == 0
    assert r.data.dev is None
    assert r.source == "<dict>" and r.base_dir is None
    assert Recipe(name="d", data=DataConfig(train={"path": "t.tsv"})).views == ViewsConfig()


def test_round_trip(tmp_path):
    r = load_recipe(write(tmp_path, FULL))
    again = recipe_from_dict(r.to_dict())
    assert again == r
    assert load_recipe(write(tmp_path, r.dump(), "dumped.yaml")) == r
    assert isinstance(r.to_dict()["method"]["betas"], list)
    assert "base_dir" not in r.to_dict()


def test_base_dir_in_dump_keeps_paths_resolving(tmp_path):
    r = load_recipe(write(tmp_path, FULL))
    run = tmp_path / "run"
    run.mkdir()
    copy = load_recipe(write(run, r.dump(include_base_dir=True)))
    assert copy == r
    assert resolve_path(copy, "train.tsv") == tmp_path.resolve() / "train.tsv"


def test_freeze_plan():
    assert MethodConfig(freeze_layers=8).freeze_plan() == (True, 8)
    assert MethodConfig(freeze_layers=0).freeze_plan() == (True, 0)
    assert MethodConfig(freeze_layers=-1).freeze_plan() == (False, 0)
    assert MethodConfig(freeze_layers=3, freeze_embeddings=False).freeze_plan() == (False, 3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_with_a_provider(variant):
    r = recipe_from_dict({**MINIMAL, "method": {"variant": variant}, "views": {
        "target_lang": "hi", "translation": {"provider": "dictionary", "path": "d.tsv"}}})  # fmt: skip
    assert r.method.variant == variant


def test_joint_variants_accept_a_parallel_corpus_alone():
    for variant in ("joint", "joint-ts"):
        r = recipe_from_dict({"name": "p", "method": {"variant": variant}, "views": {"target_lang": "hi"},
                              "data": {"train": "t.tsv", "parallel": "tatoeba.hin-eng.hin"}})  # fmt: skip
        assert r.data.parallel == {"src": "tatoeba.hin-eng.hin"}


def test_en_needs_no_target_language():
    r = recipe_from_dict(MINIMAL)
    assert r.views.target_lang is None and r.method.variant == "en"


def test_numeric_labels_become_strings():
    assert recipe_from_dict({**MINIMAL, "labels": [0, 1, 2]}).labels == ["0", "1", "2"]


# ----------------------------------------------------------------------------------- errors
def test_error_names_file_line_and_key(tmp_path):
    err = error_of(tmp_path, FULL.replace("alpha: 0.5", "alpha: high"))
    assert str(err) == f"{tmp_path / 'recipe.yaml'}:22: method.alpha: expected a number >= 0, got 'high'"
    assert (err.line, err.key, err.override) == (22, "method.alpha", None)
    assert isinstance(err, ValueError)


def test_missing_name(tmp_path):
    err = error_of(tmp_path, "data: {train: t.tsv}\nmethod: {variant: en}\n")
    assert err.key == "name" and "required" in str(err)


def test_missing_train_points_at_the_data_section(tmp_path):
    err = error_of(tmp_path, "name: x\nmethod: {variant: en}\ndata:\n  dev: d.tsv\n")
    assert err.key == "data.train" and err.line == 3 and "required" in str(err)
    err = error_of(tmp_path, "name: x\nmethod: {variant: en}\n")
    assert err.key == "data.train"


@pytest.mark.parametrize(
    ("old", "new", "key", "line", "suggestion"),
    [
        ("seed: 7", "sed: 7", "sed", 2, "'seed'"),
        ("train:\n", "trian:\n", "trian", 26, "'train'"),
        ("pooling: mean", "poling: mean", "model.poling", 5, "'pooling'"),
        ("alpha: 0.5", "alfa: 0.5", "method.alfa", 22, "'alpha'"),
        ("  lr: 3e-5", "  lr_rate: 3e-5", "train.lr_rate", 29, None),
        ("romanize_scheme: iso", "romanise_scheme: iso", "views.romanise_scheme", 10, "'romanize_scheme'"),
        ("limit: 500", "limt: 500", "data.parallel.limt", 18, "'limit'"),
        ("text: text,", "txt: text,", "data.train.txt", 16, "'text'"),
    ],
)
def test_unknown_keys_suggest_the_closest(tmp_path, old, new, key, line, suggestion):
    assert old in FULL
    err = error_of(tmp_path, FULL.replace(old, new, 1))
    assert err.key == key and err.line == line
    assert "unknown key" in str(err) and "Valid keys" in str(err)
    if suggestion:
        assert f"did you mean {suggestion}?" in str(err)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("epochs: 2", "epochs: two", "train.epochs", "expected an integer >= 1, got 'two'"),
        ("epochs: 2", "epochs: 0", "train.epochs", "expected an integer >= 1, got 0"),
        ("epochs: 2", "epochs: 2.5", "train.epochs", "expected an integer >= 1, got 2.5"),
        ("epochs: 2", "epochs: true", "train.epochs", "expected an integer >= 1, got True"),
        ("batch_size: 8", "batch_size: 0", "train.batch_size", "expected an integer >= 1"),
        ("  lr: 3e-5", "  lr: 0", "train.lr", "expected a number > 0, got 0"),
        ("head_lr: 0.001", "head_lr: -1.0", "train.head_lr", "expected a number > 0"),
        ("warmup_ratio: 0", "warmup_ratio: 1", "train.warmup_ratio", "expected a number in [0, 1), got 1"),
        ("warmup_ratio: 0", "warmup_ratio: -0.1", "train.warmup_ratio", "in [0, 1)"),
        ("patience: 0", "patience: -1", "train.patience", "expected an integer >= 0, got -1"),
        ("max_steps: 10", "max_steps: 0", "train.max_steps", "expected an integer >= 1 or null"),
        ("weight_decay: 0", "weight_decay: -1", "train.weight_decay", "expected a number >= 0"),
        ("metric: accuracy", "metric: f1", "train.metric", "expected one of accuracy, macro_f1, weighted_f1"),
        ("cache_frozen: false", "cache_frozen: maybe", "train.cache_frozen", "expected true or false"),
        ("alpha: 0.5", "alpha: -0.1", "method.alpha", "expected a number >= 0, got -0.1"),
        ("betas: [1, 0.5, 0.25]", "betas: [1, 0.5]", "method.betas", "expected three non-negative numbers"),
        ("betas: [1, 0.5, 0.25]", "betas: 1", "method.betas", "expected three non-negative numbers"),
        ("betas: [1, 0.5, 0.25]", "betas: [1, -0.5, 0.25]", "method.betas.1", "expected a number >= 0"),
        ("freeze_layers: 4", "freeze_layers: -2", "method.freeze_layers", "expected an integer >= -1"),
        ("freeze_embeddings: false", "freeze_embeddings: 0", "method.freeze_embeddings", "true or false"),
        ("variant: joint-ts", "variant: jointts", "method.variant", "did you mean 'joint-ts'?"),
        ("pooling: mean", "pooling: max", "model.pooling", "expected one of mean, cls or null, got 'max'"),
        ("max_length: 64", "max_length: 0", "model.max_length", "expected an integer >= 1"),
        ("spec: intfloat/multilingual-e5-small", "spec: 3", "model.spec", "expected a non-empty string"),
        ("provider: given", "provider: google", "views.translation.provider", "none, given, dictionary, hf"),
        ("target_lang: hi", "target_lang: [hi]", "views.target_lang", "expected a non-empty string"),
        ("labels: [neg, pos]", "labels: neg", "labels", "expected a non-empty list of label names"),
        ("labels: [neg, pos]", "labels: [neg, neg]", "labels", "duplicate labels: neg"),
        ("limit: 500", "limit: 0", "data.parallel.limit", "expected an integer >= 1"),
        ("tgt: tatoeba.hin-eng.hin,", "format: weird,", "data.parallel.format", "expected one of auto"),
        ("seed: 7", "seed: x", "seed", "expected an integer"),
        ("name: hi-sentiment", "name: ''", "name", "expected a non-empty string"),
    ],
)
def test_type_and_range_errors(tmp_path, old, new, key, message):
    assert old in FULL
    text = FULL.replace(old, new, 1)
    err = error_of(tmp_path, text)
    assert err.key == key and message in str(err)
    assert err.line == next(
        i for i, ln in enumerate(text.splitlines(), 1) if new.strip().split("\n")[0] in ln
    )


def test_section_must_be_a_mapping(tmp_path):
    err = error_of(tmp_path, "name: x\nmethod: joint\ndata: {train: t.tsv}\n")
    assert err.key == "method" and err.line == 2 and "mapping" in str(err)


@pytest.mark.parametrize("variant", ["tr", "tl", "en+tr+tl"])
def test_translated_variants_need_a_provider(tmp_path, variant):
    base = f"name: x\nviews: {{target_lang: hi}}\nmethod:\n  variant: {variant}\ndata:\n  train: t.tsv\n"
    err = error_of(tmp_path, base)
    assert err.key == "method.variant" and err.line == 4
    assert "views.translation.provider" in str(err) and "given, dictionary or hf" in str(err)
    err = error_of(tmp_path, base + "  parallel: {src: a.txt, tgt: b.txt}\n")
    assert "data.parallel is not enough" in str(err) and "no labels" in str(err)


@pytest.mark.parametrize("variant", ["joint", "joint-ts"])
def test_joint_variants_need_a_provider_or_a_parallel_corpus(tmp_path, variant):
    err = error_of(
        tmp_path,
        f"name: x\nviews: {{target_lang: hi}}\nmethod: {{variant: {variant}}}\ndata: {{train: t.tsv}}\n",
    )
    assert err.key == "method.variant" and err.line == 3
    assert "add views.translation" in str(err) and "data.parallel" in str(err)


def test_target_lang_required_unless_en(tmp_path):
    err = error_of(tmp_path, FULL.replace("  target_lang: hi\n", ""))
    assert err.key == "views.target_lang" and err.line == 8 and "required for variant 'joint-ts'" in str(err)
    load_recipe(
        write(tmp_path, FULL.replace("  target_lang: hi\n", "").replace("variant: joint-ts", "variant: en"))
    )


def test_evaluate_entries(tmp_path):
    err = error_of(tmp_path, FULL.replace("  - test.tsv\n", "  - {view: 'romanize:hi'}\n"))
    assert err.key == "evaluate.0" and err.line == 40 and "needs a `path`" in str(err)
    err = error_of(tmp_path, FULL.replace("  - test.tsv\n", "  - 3\n"))
    assert err.key == "evaluate.0" and "expected a labelled set" in str(err)
    err = error_of(tmp_path, FULL.replace("name: test-romanized", "nam: test-romanized"))
    assert err.key == "evaluate.1.nam" and err.line == 41 and "did you mean 'name'?" in str(err)
    err = error_of(tmp_path, FULL[: FULL.index("evaluate:")] + "evaluate: test.tsv\n")
    assert err.key == "evaluate" and err.line == 39 and "expected a list" in str(err)


def test_duplicate_keys_are_errors(tmp_path):
    err = error_of(tmp_path, "name: x\nname: y\ndata: {train: t.tsv}\n")
    assert err.key == "name" and err.line == 2 and "duplicate key 'name' (first on line 1)" in str(err)


def test_invalid_yaml_has_a_line(tmp_path):
    err = error_of(tmp_path, "name: x\ndata:\n  train: [t.tsv\nmethod: {}\n")
    assert "not valid YAML" in str(err) and err.line is not None


def test_not_a_mapping_and_empty(tmp_path):
    assert "mapping of sections" in str(error_of(tmp_path, "- a\n- b\n"))
    assert "empty" in str(error_of(tmp_path, "# nothing\n"))


def test_safe_load_only(tmp_path):
    err = error_of(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\ndata: {train: t.tsv}\n")
    assert err.line == 1 and "safe_load" in str(err)
    err = error_of(tmp_path, "name: x\ndata: !!python/object:collections.OrderedDict {}\n")
    assert err.line == 2
    with pytest.raises(RecipeError):
        recipe_from_dict(MINIMAL, overrides=["name=!!python/object/apply:os.getcwd []"])


def test_missing_file_and_unknown_package_recipe(tmp_path, monkeypatch):
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.yaml")
    monkeypatch.setattr(rmod, "_package_root", lambda: tmp_path)
    (tmp_path / "recipes").mkdir()
    write(tmp_path / "recipes", "name: q\n", "quickstart.yaml")
    with pytest.raises(RecipeError, match="did you mean 'quickstart'.*package recipes: quickstart"):
        load_recipe("quikstart")


# ----------------------------------------------------------------------------------- overrides
def test_overrides_values(tmp_path):
    path = write(tmp_path, FULL)
    r = load_recipe(path, ["method.alpha=0.1", "train.epochs=5", "train.lr=1e-4", "labels=[a,b,c]",
                           "data.dev=null", "method.betas=[1,0,0]", "train.device=cuda:0",
                           "train.cache_frozen=true", "model.pooling=null"])  # fmt: skip
    assert r.method.alpha == 0.1 and r.train.epochs == 5 and r.train.lr == pytest.approx(1e-4)
    assert r.labels == ["a", "b", "c"] and r.data.dev is None and r.method.betas == (1.0, 0.0, 0.0)
    assert r.train.device == "cuda:0" and r.train.cache_frozen is True and r.model.pooling is None


def test_overrides_nested_and_new_keys_in_free_sections(tmp_path):
    r = load_recipe(write(tmp_path, FULL), [
        "data.train.limit=100", "data.dev.lang=hi", "views.translation.batch_size=16",
        "evaluate.0.view=romanize:hi", "evaluate.2.path=extra.tsv", "method.betas.2=0",
    ])  # fmt: skip
    assert r.data.train["limit"] == 100
    assert r.data.dev == {"path": "dev.tsv", "lang": "hi"}  # the string shorthand grew into a mapping
    assert r.views.translation.options["batch_size"] == 16
    assert r.evaluate[0] == {"path": "test.tsv", "view": "romanize:hi"}
    assert r.evaluate[2] == {"path": "extra.tsv"}
    assert r.method.betas == (1.0, 0.5, 0.0)


def test_overrides_create_missing_sections():
    r = recipe_from_dict({"name": "x", "data": {"train": "t.tsv"}},
                         overrides=["method.variant=en", "train.epochs=1", "data.train.limit=3"])  # fmt: skip
    assert r.method.variant == "en" and r.train.epochs == 1 and r.data.train == {"path": "t.tsv", "limit": 3}


def test_override_errors_name_the_override(tmp_path):
    path = write(tmp_path, FULL)
    with pytest.raises(RecipeError) as info:
        load_recipe(path, ["method.alpha=high"])
    err = info.value
    assert str(err) == f"{path} (--set method.alpha=high): method.alpha: expected a number >= 0, got 'high'"
    assert err.override == "method.alpha=high" and err.line is None
    with pytest.raises(RecipeError, match=r"--set method.betas=\[1,-1,1\]\): method.betas.1: expected"):
        load_recipe(path, ["method.betas=[1,-1,1]"])
    with pytest.raises(RecipeError, match=r"--set data.train=null\): data.train: required"):
        load_recipe(path, ["data.train=null"])
    # a later override of the parent takes the blame from an earlier one of the child
    with pytest.raises(RecipeError, match=r"--set method=\{alpha: -1\}\): method.alpha"):
        load_recipe(path, ["method.alpha=-2", "method={alpha: -1}"])
    # values from the file still point at their line
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, FULL.replace("epochs: 2", "epochs: 0"), "r2.yaml"), ["method.alpha=0.1"])
    assert info.value.line == 27 and info.value.override is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "method.alhpa=0.1",
            "unknown key 'alhpa' in method; did you mean 'alpha'? Valid keys: variant, alpha",
        ),
        ("trian.epochs=1", "unknown key 'trian' in the recipe; did you mean 'train'?"),
        ("model.spc=x", "did you mean 'spec'?"),
        ("data.tran.path=x", "did you mean 'train'?"),
        ("zzz=1", "unknown key 'zzz' in the recipe. Valid keys: name"),
        ("method.alpha.x=1", "method.alpha takes a value"),
        ("evaluate.5.path=x", "evaluate has 2 entries; index 0..1 (or 2 to add one)"),
        ("evaluate.first.path=x", "evaluate is a list; index it with a number"),
        ("method.alpha", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("method..alpha=1", "empty key part"),
        ("name=[unclosed", "not valid YAML"),
    ],
)
def test_override_errors(tmp_path, override, message):
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, FULL), [override])
    assert message in str(info.value) and info.value.override == override


def test_apply_overrides_is_pure():
    data = {"name": "x", "data": {"train": "t.tsv"}}
    out = apply_overrides(data, ["data.train.limit=2", "seed=3"])
    assert out == {"name": "x", "seed": 3, "data": {"train": {"path": "t.tsv", "limit": 2}}}
    assert data == {"name": "x", "data": {"train": "t.tsv"}}
    with pytest.raises(RecipeError, match="did you mean 'seed'"):
        apply_overrides(data, ["sede=1"])


# ----------------------------------------------------------------------------------- paths
def test_relative_and_home_paths(tmp_path, monkeypatch):
    r = load_recipe(write(tmp_path, FULL))
    assert resolve_path(r, "train.tsv") == tmp_path.resolve() / "train.tsv"
    assert resolve_path(r, "/abs/x.tsv") == Path("/abs/x.tsv")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_path(r, "~/x.tsv") == tmp_path / "home" / "x.tsv"
    assert resolve_path(recipe_from_dict(MINIMAL), "t.tsv") == Path("t.tsv")


def test_pkg_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(rmod, "_package_root", lambda: tmp_path / "pkg")
    r = recipe_from_dict(MINIMAL)
    assert (
        resolve_path(r, "pkg://demo/quickstart/train_en.tsv")
        == tmp_path / "pkg" / "demo/quickstart/train_en.tsv"
    )


def test_pkg_root_is_the_package():
    import scriptbridge

    assert rmod._package_root() == Path(scriptbridge.__file__).parent


def test_shared_paths(tmp_path, monkeypatch):
    import scriptbridge

    r = recipe_from_dict(MINIMAL)
    repo_side = Path(scriptbridge.__file__).resolve().parents[3] / "shared" / "data"
    if repo_side.is_dir():
        assert resolve_path(r, "shared://sib200/hin_Deva") == repo_side / "sib200/hin_Deva"
    # no folder next to the repository: the environment variable, else a clear error
    fake = tmp_path / "a" / "b" / "c" / "scriptbridge" / "__init__.py"
    monkeypatch.setattr(scriptbridge, "__file__", str(fake))
    monkeypatch.setenv("SCRIPTBRIDGE_SHARED_DATA", str(tmp_path / "data"))
    assert resolve_path(r, "shared://x/y.tsv") == tmp_path / "data" / "x/y.tsv"
    monkeypatch.delenv("SCRIPTBRIDGE_SHARED_DATA")
    with pytest.raises(
        RecipeError, match=r"no shared data folder at .* \$SCRIPTBRIDGE_SHARED_DATA is not set"
    ):
        resolve_path(r, "shared://x/y.tsv")
    (tmp_path / "a" / "shared" / "data").mkdir(parents=True)  # the folder next to the "repository" wins
    monkeypatch.setenv("SCRIPTBRIDGE_SHARED_DATA", str(tmp_path / "data"))
    assert resolve_path(r, "shared://x") == (tmp_path / "a" / "shared" / "data").resolve() / "x"


def test_resolve_side(tmp_path):
    r = load_recipe(write(tmp_path, FULL))
    base = tmp_path.resolve()
    assert resolve_side(r, "tatoeba.hin-eng.hin") == str(base / "tatoeba.hin-eng.hin")
    assert resolve_side(r, "romanize:hi") == "romanize:hi"
    assert resolve_side(r, "romanize:hi:iso@hi.txt") == f"romanize:hi:iso@{base / 'hi.txt'}"


def test_bare_name_loads_a_package_recipe(tmp_path, monkeypatch):
    root = tmp_path / "pkg"
    (root / "recipes").mkdir(parents=True)
    write(root / "recipes", """\
        name: quickstart
        views: {target_lang: hi}
        data:
          train: pkg://demo/quickstart/train_en.tsv
          parallel: {src: pkg://demo/parallel_en_hi.tsv}
        """, "quickstart.yaml")  # fmt: skip
    monkeypatch.setattr(rmod, "_package_root", lambda: root)
    monkeypatch.chdir(tmp_path)  # no file called "quickstart" here
    r = load_recipe("quickstart", ["train.epochs=1"])
    assert r.name == "quickstart" and r.train.epochs == 1
    assert r.base_dir == str((root / "recipes").resolve())
    assert r.source == str(root / "recipes" / "quickstart.yaml")
    assert resolve_path(r, r.data.train["path"]) == root / "demo/quickstart/train_en.tsv"
    assert rmod.package_recipes() == ["quickstart"]
    # an existing file of that name wins over the package recipe
    write(tmp_path, "name: local\nmethod: {variant: en}\ndata: {train: t.tsv}\n", "quickstart")
    assert load_recipe("quickstart").name == "local"


def test_check_files(tmp_path):
    path = write(tmp_path, FULL)
    r = load_recipe(path)
    with pytest.raises(RecipeError) as info:
        check_files(r)
    assert (
        info.value.key == "data.train.path" and info.value.line == 16 and "does not exist" in str(info.value)
    )
    for name in ("train.tsv", "dev.tsv", "test.tsv", "tatoeba.hin-eng.eng"):
        (tmp_path / name).write_text("x\n")
    with pytest.raises(RecipeError) as info:
        check_files(r)
    assert info.value.key == "data.parallel.tgt"
    (tmp_path / "tatoeba.hin-eng.hin").write_text("x\n")
    check_files(r)
    with pytest.raises(RecipeError) as info:
        check_files(load_recipe(path, ["evaluate.1.path=gone.tsv"]))
    assert info.value.key == "evaluate.1.path" and info.value.override == "evaluate.1.path=gone.tsv"


def test_the_documented_example_is_valid():
    import re

    import yaml

    doc = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"
    if not doc.is_file():
        pytest.skip("docs/recipes.md is not next to the tests")
    example = re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)[-1]
    r = recipe_from_dict(yaml.safe_load(example))
    assert r.name == "hi-sentiment" and r.method.variant == "joint-ts" and len(r.evaluate) == 3


# ------------------------------------------------------------------------------------ probe section
PROBE = """\
probe:
  src: heldout.eng
  tgt: romanize:hi@heldout.hin
  format: lines
  layers: "0,6,12"
  sample: 200
"""


def test_probe_section_loads_and_round_trips(tmp_path):
    r = load_recipe(write(tmp_path, FULL + PROBE))
    assert r.probe == {
        "src": "heldout.eng",
        "tgt": "romanize:hi@heldout.hin",
        "format": "lines",
        "layers": "0,6,12",
        "sample": 200,
    }
    assert recipe_from_dict(r.to_dict()) == r and load_recipe(write(tmp_path, r.dump(), "d.yaml")) == r
    assert load_recipe(write(tmp_path, FULL)).probe is None and "probe" in r.to_dict()
    # a plain string is {src: ...}; layers may be a number or a list; --set can create the section
    assert recipe_from_dict({**MINIMAL, "probe": "pairs.tsv"}).probe == {"src": "pairs.tsv"}
    for layers in ("all", "last", 3, [0, -1], "0, 6"):
        assert (
            recipe_from_dict({**MINIMAL, "probe": {"src": "p.tsv", "layers": layers}}).probe["layers"]
            == layers
        )
    r = recipe_from_dict(MINIMAL, overrides=["probe.src=pairs.tsv", "probe.sample=50"])
    assert r.probe == {"src": "pairs.tsv", "sample": 50}
    assert recipe_from_dict(r.to_dict(), overrides=["probe=null"]).probe is None


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("  sample: 200", "  sampel: 200", "probe.sampel", "did you mean 'sample'?"),
        ("  sample: 200", "  sample: 1", "probe.sample", "expected an integer >= 2 or null"),
        ('  layers: "0,6,12"', "  layers: middle", "probe.layers", "expected all, last, a layer number"),
        ('  layers: "0,6,12"', "  layers: [0, x]", "probe.layers", "expected all, last"),
        ("  layers: ", "  limit: 5\n  layers: ", "probe.limit", "unknown key 'limit' in probe"),
        ("  format: lines", "  format: weird", "probe.format", "expected one of auto"),
        ("  src: heldout.eng", "  source: heldout.eng", "probe.source", "did you mean 'src'?"),
    ],
)
def test_probe_section_errors(tmp_path, old, new, key, message):
    assert old in PROBE
    text = FULL + PROBE.replace(old, new, 1)
    err = error_of(tmp_path, text)
    assert err.key == key and message in str(err)
    assert err.line is not None and err.line > FULL.count("\n")
    err = error_of(tmp_path, FULL + "probe: {tgt: heldout.hin}\n")
    assert err.key == "probe" and "needs `src`" in str(err)


def test_check_files_covers_the_probe_sides(tmp_path):
    r = load_recipe(write(tmp_path, FULL + PROBE))
    for name in (
        "train.tsv",
        "dev.tsv",
        "test.tsv",
        "tatoeba.hin-eng.eng",
        "tatoeba.hin-eng.hin",
        "heldout.eng",
    ):
        (tmp_path / name).write_text("x\n")
    with pytest.raises(RecipeError) as info:
        check_files(r)
    assert info.value.key == "probe.tgt" and info.value.line == FULL.count("\n") + 3
    (tmp_path / "heldout.hin").write_text("x\n")
    check_files(r)
