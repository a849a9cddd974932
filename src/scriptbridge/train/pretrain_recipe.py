"""Pretraining recipes (YAML): alignment objectives in sequential stages, for ``scriptbridge pretrain``.

A pretraining recipe says which encoder to start from (any encoder, the embedded default, or
``scratch``: a SentencePiece Unigram tokenizer and a small BERT trained here), the held-out parallel
set whose retrieval score selects and early-stops, and one or more stages.  Each stage names its
pairs (files or on-the-fly views: ``{src: tatoeba.hin-eng.hin, tgt: romanize:hi:uroman}``), optional
monolingual texts, the objectives with their weights, and may override any training value.  A stage
starts from the best checkpoint of the stage before it.

Errors are :class:`~scriptbridge.train.recipe.RecipeError`: file, line, key, problem and fix, the
same as training recipes (``docs/pretraining.md`` lists every key).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from scriptbridge.models.scratch import ScratchConfig
from scriptbridge.train.recipe import (
    _LEAF,
    PARALLEL_KEYS,
    POOLINGS,
    PRECISIONS,
    RecipeError,
    _Checker,
    _Free,
    _is_bare_name,
    _List,
    _show,
    _suggest,
    _Where,
    read_recipe_file,
)
from scriptbridge.train.recipe import (
    _from_data as _recipe_from_data,
)

OBJECTIVES = ("mlm", "tlm", "tcm", "tpp")
SIMILARITIES = ("cosine", "dot")
MLM_SIDES = ("both", "src")
PAIR_KEYS = (*PARALLEL_KEYS, "name")
TEXT_KEYS = ("path", "format", "limit", "name")
PROBE_KEYS = ("src", "tgt", "format", "columns", "sample", "layer", "name", "metric")
# what a probe set scores (the mean of both directions): top-1 by default; top-10 or MRR are steadier
# on small sets with weak models, where top-1 sits near chance and picks a step by noise
PROBE_METRICS = ("top1", "top5", "top10", "mrr", "csls_top1")
SCRATCH = "scratch"

# each objective's options and their defaults (the weight is `weight`, default 1)
OBJECTIVE_OPTIONS: dict[str, dict[str, Any]] = {
    "mlm": {"weight": 1.0, "ratio": 0.15},
    "tlm": {"weight": 1.0, "ratio": 0.15, "restart_positions": True},
    "tcm": {"weight": 1.0, "layer": "last", "similarity": "cosine", "temperature": 0.05},
    "tpp": {"weight": 1.0, "projection": False},
}


@dataclass
class PretrainModel:
    spec: str = "embedded"  # embedded | a folder | a hub id | scratch
    pooling: str | None = None  # the vector TCM/TPP compare and the probe measures (None: the model's)
    prefix: str | None = None  # None: the model's own (e5: "query: ")
    max_length: int = 128
    scratch: ScratchConfig = field(default_factory=ScratchConfig)


@dataclass
class PretrainTrain:
    lr: float = 5e-5
    batch_size: int = 32  # pairs per step (per process under torchrun / accelerate launch)
    epochs: int = 1
    max_steps: int | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int | None = None  # steps between probes (and checkpoints); None = once per epoch
    patience: int = 3  # probes without a better retrieval score before the stage stops
    precision: str = "auto"
    device: str | None = None
    packing: bool = True  # every view of a step in one packed forward pass (False: the plain way)
    length_grouping: bool = True  # batches of similar lengths (less padding inside attention)


@dataclass
class Stage:
    name: str
    pairs: list[dict] = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    objectives: dict[str, dict[str, Any]] = field(default_factory=dict)
    mlm_sides: str = "both"  # which sides of the pairs MLM sees besides `texts`: both | src
    train: PretrainTrain = field(default_factory=PretrainTrain)

    def weight(self, name: str) -> float:
        return float(self.objectives.get(name, {}).get("weight", 0.0))

    def active(self) -> list[str]:
        return [o for o in OBJECTIVES if self.weight(o) > 0]


@dataclass(kw_only=True)
class PretrainRecipe:
    name: str
    seed: int = 0
    model: PretrainModel = field(default_factory=PretrainModel)
    train: PretrainTrain = field(default_factory=PretrainTrain)
    # one held-out parallel set {src, tgt, sample, layer, name}, or a list of them (the score is the mean)
    probe: dict | list[dict] | None = None
    stages: list[Stage]
    source: str | None = field(default=None, compare=False)
    base_dir: str | None = field(default=None, compare=False)
    _where: Any = field(default=None, init=False, compare=False, repr=False)
    _raw: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def to_dict(self, *, include_base_dir: bool = False) -> dict:
        out: dict[str, Any] = {
            "kind": "pretrain",
            "name": self.name,
            "seed": self.seed,
            "model": {
                "spec": self.model.spec,
                "pooling": self.model.pooling,
                "prefix": self.model.prefix,
                "max_length": self.model.max_length,
                **(
                    {"scratch": {f.name: getattr(self.model.scratch, f.name) for f in fields(ScratchConfig)}}
                    if self.model.spec == SCRATCH
                    else {}
                ),
            },
            "train": {f.name: getattr(self.train, f.name) for f in fields(PretrainTrain)},
            "probe": copy.deepcopy(self.probe),
            "stages": [
                {
                    "name": s.name,
                    "pairs": copy.deepcopy(s.pairs),
                    "texts": copy.deepcopy(s.texts),
                    "objectives": copy.deepcopy(s.objectives),
                    "mlm_sides": s.mlm_sides,
                    "train": {f.name: getattr(s.train, f.name) for f in fields(PretrainTrain)},
                }
                for s in self.stages
            ],
        }
        if include_base_dir and self.base_dir is not None:
            out["base_dir"] = str(Path(self.base_dir).resolve())
        return out

    def dump(self, *, include_base_dir: bool = False) -> str:
        return yaml.safe_dump(
            self.to_dict(include_base_dir=include_base_dir), sort_keys=False, allow_unicode=True
        )


TOP_KEYS = ("kind", "name", "seed", "model", "train", "probe", "stages", "base_dir")
_TRAIN_SCHEMA = {f.name: _LEAF for f in fields(PretrainTrain)}
_SCHEMA: dict[str, Any] = {
    "kind": _LEAF,
    "name": _LEAF,
    "seed": _LEAF,
    "base_dir": _LEAF,
    "model": {
        **{f.name: _LEAF for f in fields(PretrainModel) if f.name != "scratch"},
        "scratch": {f.name: _LEAF for f in fields(ScratchConfig)},
    },
    "train": _TRAIN_SCHEMA,
    "probe": _Free("src"),  # (a list of sets is replaced whole: --set 'probe=[{src: A, tgt: B}]')
    "stages": _List(
        {
            "name": _LEAF,
            "pairs": _List(_Free("src")),
            "texts": _List(_Free("path")),
            "objectives": _Free(),
            "mlm_sides": _LEAF,
            "train": _TRAIN_SCHEMA,
        }
    ),
}


def is_pretrain_data(data: Any) -> bool:
    """Is this parsed YAML a pretraining recipe (``kind: pretrain``, or ``stages`` without ``data``)?"""
    return isinstance(data, Mapping) and (
        data.get("kind") == "pretrain" or ("stages" in data and "data" not in data)
    )


def _train_section(c: _Checker, path: tuple, value: Any, base: PretrainTrain) -> PretrainTrain:
    raw = c.mapping(path, value)
    valid = [f.name for f in fields(PretrainTrain)]
    c.known(path, raw, valid)
    out = copy.deepcopy(base)
    for key, v in raw.items():
        p = (*path, key)
        if key in ("lr", "weight_decay"):
            setattr(out, key, c.number(p, v, positive=key == "lr", minimum=None if key == "lr" else 0.0))
        elif key == "warmup_ratio":
            setattr(out, key, c.number(p, v, minimum=0.0, below=1.0))
        elif key == "grad_clip":
            setattr(out, key, c.number(p, v, minimum=0.0))
        elif key in ("batch_size", "epochs"):
            setattr(out, key, c.integer(p, v, minimum=2 if key == "batch_size" else 1))
        elif key in ("max_steps", "eval_every"):
            setattr(out, key, c.integer(p, v, minimum=1, optional=True))
        elif key == "patience":
            setattr(out, key, c.integer(p, v, minimum=0))
        elif key == "precision":
            setattr(out, key, c.choice(p, v, PRECISIONS))
        elif key == "device":
            setattr(out, key, c.string(p, v, optional=True))
        else:  # packing, length_grouping
            setattr(out, key, c.boolean(p, v))
    return out


def _objectives(c: _Checker, path: tuple, value: Any) -> dict[str, dict[str, Any]]:
    raw = c.mapping(path, value, what="a mapping of objectives, e.g. {mlm: 1.0, tcm: 1.0}")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        p = (*path, name)
        if name not in OBJECTIVES:
            raise c.fail(
                p,
                f"unknown objective {name!r}{_suggest(name, OBJECTIVES)}; objectives: {', '.join(OBJECTIVES)}",
            )
        opts = dict(OBJECTIVE_OPTIONS[name])
        if isinstance(spec, Mapping):
            c.known(p, dict(spec), list(opts))
            given = dict(spec)
        else:
            given = {"weight": spec}
        for key, v in given.items():
            q = (*p, key)
            if key == "weight":
                opts[key] = c.number(q, v, minimum=0.0)
            elif key == "ratio":
                opts[key] = c.number(q, v, positive=True, below=1.0)
            elif key == "temperature":
                opts[key] = c.number(q, v, positive=True)
            elif key == "similarity":
                opts[key] = c.choice(q, v, SIMILARITIES)
            elif key in ("restart_positions", "projection"):
                opts[key] = c.boolean(q, v)
            elif key == "layer":
                if not (v == "last" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)):
                    raise c.fail(q, f"expected last or a layer number >= 1, got {_show(v)}")
                opts[key] = v
        out[name] = opts
    if not any(o["weight"] > 0 for o in out.values()):
        raise c.fail(path, "no objective has a weight > 0; give at least one, e.g. {mlm: 1.0}")
    return out


def _text_source(c: _Checker, path: tuple, value: Any) -> dict:
    if isinstance(value, str):
        value = {"path": value}
    out = c.mapping(path, value, what="a text source: a path or view spec, or {path, format, limit}")
    c.known(path, out, TEXT_KEYS)
    if "path" not in out:
        raise c.fail(path, "a text source needs a `path` (a file, or a view such as romanize:hi@FILE)")
    c.string((*path, "path"), out["path"])
    if "format" in out:
        from scriptbridge.tasks.parallel import FORMATS

        c.choice((*path, "format"), out["format"], FORMATS)
    if "limit" in out:
        c.integer((*path, "limit"), out["limit"], minimum=1, optional=True)
    if "name" in out:
        c.string((*path, "name"), out["name"], optional=True)
    return out


def _sides(c: _Checker, path: tuple, value: Any, keys: Sequence[str], what: str) -> dict:
    """A mapping of two parallel sides (a plain string is its ``src``) with ``keys`` allowed; the
    sides, format and columns checked as ``data.parallel``'s."""
    if isinstance(value, str):
        value = {"src": value}
    out = c.mapping(path, value, what=what)
    c.known(path, out, keys)
    c.parallel(path, {k: v for k, v in out.items() if k in PARALLEL_KEYS and k not in ("lang", "scheme")})
    return out


def _pair_source(c: _Checker, path: tuple, value: Any) -> dict:
    out = _sides(c, path, value, PAIR_KEYS, "a pair source {src: SIDE, tgt: SIDE}")
    if "name" in out:
        c.string((*path, "name"), out["name"], optional=True)
    return out


def _probe_set(c: _Checker, path: tuple, raw: Any) -> dict:
    probe = _sides(c, path, raw, PROBE_KEYS, "a mapping {src: SIDE, tgt: SIDE, sample: N}")
    if "sample" in probe:
        c.integer((*path, "sample"), probe["sample"], minimum=2, optional=True)
    if "name" in probe:
        c.string((*path, "name"), probe["name"])
    if "metric" in probe:
        c.choice((*path, "metric"), probe["metric"], PROBE_METRICS)
    if "layer" in probe:
        v = probe["layer"]
        if not (v == "last" or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)):
            raise c.fail((*path, "layer"), f"expected last or a layer number, got {_show(v)}")
    return probe


def _build(data: Any, where: _Where, base_dir: str | Path | None) -> PretrainRecipe:
    c = _Checker(where)
    top = c.mapping((), data, what="a mapping of sections (name, model, train, probe, stages)")
    c.known((), top, TOP_KEYS)
    if "kind" in top and top["kind"] != "pretrain":
        raise c.fail(("kind",), f"a pretraining recipe has kind: pretrain, got {_show(top['kind'])}")
    name = c.string(("name",), top.get("name") or "pretrain")
    seed = c.integer(("seed",), top.get("seed", 0), minimum=0)

    m = c.mapping(("model",), top.get("model"))
    c.known(("model",), m, [f.name for f in fields(PretrainModel)])
    model = PretrainModel()
    if "spec" in m:
        model.spec = c.string(("model", "spec"), m["spec"])
    if "pooling" in m:
        model.pooling = c.choice(("model", "pooling"), m["pooling"], POOLINGS, optional=True)
    if "prefix" in m:
        if m["prefix"] is not None and not isinstance(m["prefix"], str):
            raise c.fail(("model", "prefix"), f"expected a string or null, got {_show(m['prefix'])}")
        model.prefix = m["prefix"]
    if "max_length" in m:
        model.max_length = c.integer(("model", "max_length"), m["max_length"], minimum=8)
    if "scratch" in m:
        if model.spec != SCRATCH:
            raise c.fail(("model", "scratch"), "model.scratch applies only with model.spec: scratch")
        s = c.mapping(("model", "scratch"), m["scratch"])
        c.known(("model", "scratch"), s, [f.name for f in fields(ScratchConfig)])
        for key, v in s.items():
            p = ("model", "scratch", key)
            if key == "dropout":
                setattr(model.scratch, key, c.number(p, v, minimum=0.0, below=1.0))
            elif key == "lowercase":
                setattr(model.scratch, key, c.boolean(p, v))
            else:
                setattr(model.scratch, key, c.integer(p, v, minimum=1))
        sc = model.scratch
        if sc.hidden_size % sc.num_heads:
            raise c.fail(
                ("model", "scratch", "num_heads"),
                f"hidden_size {sc.hidden_size} is not a multiple of num_heads {sc.num_heads}; "
                "change one (e.g. 256 and 4)",
            )
    if model.spec == SCRATCH and model.prefix is None:
        model.prefix = ""

    train = _train_section(c, ("train",), top.get("train"), PretrainTrain())

    probe = None
    if top.get("probe") is not None:
        raw = top["probe"]
        if isinstance(raw, list):
            if not raw:
                raise c.fail(("probe",), "an empty list; give one probe set {src, tgt} or several, or null")
            probe = [_probe_set(c, ("probe", i), item) for i, item in enumerate(raw)]
        else:
            probe = _probe_set(c, ("probe",), raw)

    raw_stages = top.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise c.fail(
            ("stages",),
            "a pretraining recipe needs `stages`: a list of at least one stage "
            "{name, pairs, texts, objectives}",
        )
    stages: list[Stage] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_stages):
        path = ("stages", i)
        st = c.mapping(path, raw, what="a stage {name, pairs, texts, objectives}")
        c.known(path, st, ("name", "pairs", "texts", "objectives", "mlm_sides", "train"))
        sname = c.string((*path, "name"), st.get("name") or f"stage{i + 1}")
        if sname in names:
            raise c.fail((*path, "name"), f"two stages are named {sname!r}; names must differ")
        names.add(sname)
        pairs_raw = st.get("pairs") or []
        texts_raw = st.get("texts") or []
        for key, v in (("pairs", pairs_raw), ("texts", texts_raw)):
            if not isinstance(v, list):
                raise c.fail((*path, key), f"expected a list, got {_show(v)}")
        pairs = [_pair_source(c, (*path, "pairs", j), p) for j, p in enumerate(pairs_raw)]
        texts = [_text_source(c, (*path, "texts", j), t) for j, t in enumerate(texts_raw)]
        if "objectives" not in st:
            raise c.fail((*path, "objectives"), "a stage needs `objectives`, e.g. {mlm: 1.0, tcm: 1.0}")
        objectives = _objectives(c, (*path, "objectives"), st["objectives"])
        stage = Stage(
            sname,
            pairs,
            texts,
            objectives,
            c.choice((*path, "mlm_sides"), st.get("mlm_sides", "both"), MLM_SIDES),
            _train_section(c, (*path, "train"), st.get("train"), train),
        )
        needs_pairs = [o for o in ("tlm", "tcm", "tpp") if stage.weight(o) > 0]
        if needs_pairs and not pairs:
            raise c.fail(
                (*path, "pairs"),
                f"{', '.join(needs_pairs)} need pairs; add `pairs: [{{src: FILE, tgt: FILE or romanize:LANG}}]`",
            )
        if not pairs and not texts:
            raise c.fail(path, "the stage has neither `pairs` nor `texts`: nothing to train on")
        if stage.weight("mlm") == 0 and not needs_pairs:
            raise c.fail((*path, "objectives"), "no objective uses the stage's data")
        stages.append(stage)

    recipe = PretrainRecipe(
        name=name,
        seed=seed,
        model=model,
        train=train,
        probe=probe,
        stages=stages,
        source=where.source,
        base_dir=str(base_dir) if base_dir is not None else (top.get("base_dir") or None),
    )
    recipe._where = where
    return recipe


def pretrain_recipe_from_dict(
    data: Mapping,
    *,
    source: str = "<dict>",
    base_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> PretrainRecipe:
    return _from_data(data, source=source, base_dir=base_dir, overrides=overrides, lines={})


def _from_data(data: Any, *, source: str, base_dir, overrides: Sequence[str], lines: dict) -> PretrainRecipe:
    return _recipe_from_data(
        data, source=source, base_dir=base_dir, overrides=overrides, lines=lines, schema=_SCHEMA, build=_build
    )


def load_pretrain_recipe(path: str | Path, overrides: Sequence[str] = ()) -> PretrainRecipe:
    """Read, override and validate a pretraining recipe file (or a shipped one by bare name)."""
    data, lines, source, folder = read_recipe_file(path)
    if isinstance(data, Mapping) and "data" in data and "stages" not in data:
        raise RecipeError(
            "this is a training recipe (it has `data`), not a pretraining one (`stages`); run it with "
            "scriptbridge train, or give scriptbridge pretrain a recipe with kind: pretrain",
            source=source,
        )
    return _from_data(data, source=source, base_dir=folder, overrides=overrides, lines=lines)


def pretrain_section(recipe: Any) -> PretrainRecipe | None:
    """The pretraining recipe a training recipe's ``pretrain`` key names (a path relative to the
    training recipe, a shipped name, or the mapping inline), validated; None without the key."""
    section = getattr(recipe, "pretrain", None)
    if section is None:
        return None
    if isinstance(section, str):
        if _is_bare_name(section):
            return load_pretrain_recipe(section)
        path = Path(section).expanduser()
        if not path.is_absolute() and recipe.base_dir:
            path = Path(recipe.base_dir) / path
        return load_pretrain_recipe(path)
    return pretrain_recipe_from_dict(
        section, source=f"{recipe.source or '<recipe>'} (pretrain section)", base_dir=recipe.base_dir
    )


def check_pretrain_files(recipe: PretrainRecipe) -> None:
    """Every file the recipe reads exists (pairs, texts, probe sets; a view's ``@FILE``), before any
    model loads: a :class:`RecipeError` names the first missing one with its key path and line."""
    from scriptbridge.train.recipe import check_paths_exist

    probes = recipe.probe if isinstance(recipe.probe, list) else ([recipe.probe] if recipe.probe else [])
    places: list[tuple[tuple, str, bool]] = []
    for i, p in enumerate(probes):
        key = ("probe", i) if isinstance(recipe.probe, list) else ("probe",)
        places += [((*key, side), p[side], True) for side in ("src", "tgt") if p.get(side)]
    for s, stage in enumerate(recipe.stages):
        for j, p in enumerate(stage.pairs):
            places += [
                (("stages", s, "pairs", j, side), p[side], True) for side in ("src", "tgt") if p.get(side)
            ]
        places += [(("stages", s, "texts", j, "path"), t["path"], True) for j, t in enumerate(stage.texts)]
    check_paths_exist(recipe, places)
