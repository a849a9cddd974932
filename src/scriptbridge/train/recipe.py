"""Training recipes: a YAML file that names every component of a run, validated before any work.

A recipe has one section per part of the run (``model``, ``views``, ``data``, ``method``, ``train``)
plus ``name``, ``labels``, ``evaluate``, ``seed`` and an optional ``probe`` (a held-out parallel set for
alignment diagnostics, used by ``scriptbridge compare``); ``docs/recipes.md`` documents every key.

    recipe = load_recipe("recipes/hi_sentiment.yaml", overrides=["method.alpha=0.1"])
    recipe = load_recipe("quickstart")          # a recipe shipped in the package
    path = resolve_path(recipe, recipe.data.train["path"])

Every problem is a :class:`RecipeError` naming the file, the line (when the value came from the file)
or the ``--set`` override it came from, the key path, and the fix::

    recipe.yaml:12: method.alpha: expected a number >= 0, got 'high'

Only ``yaml.safe_load`` reads recipes, so a recipe can never construct Python objects.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "VARIANTS",
    "TOKEN_VARIANTS",
    "TASKS",
    "METRICS",
    "TOKEN_METRICS",
    "POOLINGS",
    "PROVIDERS",
    "LABELLED_KEYS",
    "PARALLEL_KEYS",
    "PROBE_KEYS",
    "ModelConfig",
    "TranslationConfig",
    "ViewsConfig",
    "DataConfig",
    "MethodConfig",
    "TrainConfig",
    "Recipe",
    "RecipeError",
    "load_recipe",
    "recipe_from_dict",
    "apply_overrides",
    "resolve_path",
    "resolve_side",
    "check_files",
    "package_recipes",
]

VARIANTS = ("en", "tr", "tl", "en+tr+tl", "joint", "joint-ts")
METRICS = ("accuracy", "macro_f1", "weighted_f1")
POOLINGS = ("mean", "cls")
PROVIDERS = ("none", "given", "dictionary", "hf")
# variants that train on labelled translations: a parallel corpus (no labels) cannot stand in for them
TRANSLATED_VARIANTS = ("tr", "tl", "en+tr+tl")
# variants that align each example with its translation: a provider or a parallel corpus will do
JOINT_VARIANTS = ("joint", "joint-ts")

TASKS = ("classification", "token-classification")
# token classification (NER, POS): the plain tagger, the CoSDA-ML code-switching baseline, and PhoneXL
# built up one piece at a time: word-level inputs without phonemes, + phonemic embeddings, + each
# objective, and the full method (see docs/token_classification.md)
TOKEN_VARIANTS = ("plain", "cosda", "words", "pe", "align", "mlm", "xmlm", "full")
PHONEMIC_VARIANTS = ("pe", "align", "mlm", "xmlm", "full")
DICTIONARY_VARIANTS = ("cosda", "xmlm", "full")
# auto: entity F1 (strict IOB2) for NER data, token accuracy for tag sets like UPOS
TOKEN_METRICS = ("auto", "f1", "f1_conlleval", "accuracy", "macro_f1")
HEADS = ("linear", "crf")
WORD_POOLINGS = ("first", "mean")
IPA_SOURCES = ("data", "regenerate")
# keys of a token-level set (data.train, data.dev, evaluate entries of a token-classification recipe)
TOKEN_SET_KEYS = ("path", "format", "lang", "view", "name", "limit", "skip", "column", "ipa")
TOKEN_FORMATS = ("auto", "conllu", "conll", "phonexl")
# method.contextual_map: a folder of per-layer maps (align-contextual) and the layer whose output is mapped
CONTEXTUAL_MAP_KEYS = ("path", "layer")
# the taggers whose encoder runs over subwords, where a map of its hidden states applies
CONTEXTUAL_MAP_VARIANTS = ("plain", "cosda")

# keys of a labelled-set mapping (data.train, data.dev, evaluate entries)
LABELLED_KEYS = ("path", "text", "label", "labels_path", "format", "lang", "view", "name", "limit")
# keys of data.parallel (sides as in scriptbridge.tasks.parallel.load_parallel)
PARALLEL_KEYS = ("src", "tgt", "format", "columns", "limit", "lang", "scheme")
# keys of the top-level probe section: a held-out parallel set (sides as in load_parallel) and what to probe
PRECISIONS = ("auto", "fp32", "bf16")
PROBE_KEYS = ("src", "tgt", "format", "columns", "layers", "sample")

PKG_PREFIX = "pkg://"
SHARED_PREFIX = "shared://"
SHARED_ENV = "SCRIPTBRIDGE_SHARED_DATA"


# ----------------------------------------------------------------------------------------- the schema
@dataclass
class ModelConfig:
    """The encoder: a Hugging Face name or folder, or ``embedded`` (the offline default)."""

    spec: str = "embedded"
    pooling: str | None = None  # mean | cls | None (the model's own default)
    prefix: str | None = None  # prepended to every text (e5 models want "query: ")
    max_length: int = 128


@dataclass
class TranslationConfig:
    """Where the target-language view of each English training example comes from.

    ``provider`` is validated here; every other key of the mapping (``path``, ``column``, ``model``,
    ``src_lang``, ``tgt_lang``, ``batch_size``, ``cache``...) is kept verbatim in ``options`` for
    ``views.translate.build_translator``.
    """

    provider: str = "none"  # none | given | dictionary | hf
    options: dict = field(default_factory=dict)


@dataclass
class ViewsConfig:
    target_lang: str | None = None
    romanize_scheme: str | None = None
    translation: TranslationConfig = field(default_factory=TranslationConfig)


@dataclass
class DataConfig:
    """``train``/``dev`` are labelled-set mappings (keys in :data:`LABELLED_KEYS`; a plain string in
    the YAML means ``{path: ...}``); ``parallel`` is ``{src, tgt?, format?, columns?, limit?}``."""

    train: dict
    dev: dict | None = None
    parallel: dict | list[dict] | None = None

    def parallel_sets(self) -> list[dict]:
        """``data.parallel`` as a list of corpora (one mapping, or a list of them, in the recipe)."""
        if self.parallel is None:
            return []
        return list(self.parallel) if isinstance(self.parallel, list) else [self.parallel]


@dataclass
class MethodConfig:
    variant: str = "joint-ts"
    alpha: float = 0.3
    betas: tuple[float, float, float] = (1.0, 1.0, 1.0)
    freeze_layers: int = 8
    freeze_embeddings: bool = True
    # token classification only (task: token-classification); defaults are the paper's PAN-X zh->vi
    # row of Table 5 (PhoneXL) and a CRF head as the paper uses
    head: str = "crf"  # linear | crf
    word_pooling: str = "first"  # first | mean: subwords -> word vectors (plain and cosda)
    lambda_align: float = 0.01
    beta_mlm: float = 0.01
    gamma_xmlm: float = 0.01
    mask_ratio: float = 0.2
    cs_ratio: float = 0.4
    dictionary: str | None = (
        None  # muse:zh-vi (bridged through English when needed) | phonexl:PATH:zh-vi | PATH
    )
    extend_vocabulary: bool = True  # add the IPA symbols the tokenizer lacks (the paper's extension)
    language_embedding: bool = True
    ipa: str = "data"  # data: the files' IPA column when present | regenerate: always from the views layer
    # {path: DIR, layer: N | "auto"}: train on source-language states of layer N moved by the map in DIR
    contextual_map: dict | None = None

    def token_dict(self) -> dict:
        out = {f: getattr(self, f) for f in TOKEN_METHOD_FIELDS}
        if out["contextual_map"] is None:
            # only when set: token recipes without it keep their dumps (and fingerprints)
            del out["contextual_map"]
        else:
            out["contextual_map"] = dict(out["contextual_map"])
        return out

    def freeze_plan(self) -> tuple[bool, int]:
        """``(freeze the embeddings?, number of bottom encoder layers frozen)``.

        ``freeze_layers: k`` freezes the embeddings and encoder layers 1..k (0 = the embeddings only,
        -1 = nothing); ``freeze_embeddings: false`` leaves the embeddings trainable even when k >= 0.
        """
        if self.freeze_layers < 0:
            return False, 0
        return self.freeze_embeddings, self.freeze_layers


TOKEN_METHOD_FIELDS = (
    "head",
    "word_pooling",
    "lambda_align",
    "beta_mlm",
    "gamma_xmlm",
    "mask_ratio",
    "cs_ratio",
    "dictionary",
    "extend_vocabulary",
    "language_embedding",
    "ipa",
    "contextual_map",
)


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2
    metric: str = "macro_f1"  # accuracy | macro_f1 | weighted_f1
    max_steps: int | None = None
    grad_clip: float = 1.0  # 0 = no clipping
    device: str | None = None  # None = cuda when available, else cpu
    cache_frozen: bool = True
    precision: str = "auto"  # auto | fp32 | bf16 (autocast: bfloat16 products, float32 weights)


@dataclass(kw_only=True)
class Recipe:
    name: str
    task: str = "classification"
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    data: DataConfig
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    labels: list[str] | None = None
    evaluate: list[dict] = field(default_factory=list)
    seed: int = 0
    # {src, tgt?, format?, columns?, layers?, sample?}: alignment diagnostics before/after (compare)
    probe: dict | None = None
    # alignment pretraining before the task: a pretraining recipe (path or shipped name) or its
    # mapping inline; ``train`` runs it into OUTPUT/pretrain and fine-tunes the result
    pretrain: str | dict | None = None
    # where the recipe came from: not part of its meaning, so not compared
    source: str | None = field(default=None, compare=False)
    base_dir: str | None = field(default=None, compare=False)
    # where each key came from (file lines, --set overrides), for later errors (check_files)
    _where: Any = field(default=None, init=False, compare=False, repr=False)

    def to_dict(self, *, include_base_dir: bool = False) -> dict:
        """A plain, YAML-able dict that :func:`recipe_from_dict` turns back into an equal recipe.

        ``include_base_dir=True`` adds ``base_dir`` (absolute), so a copy of the recipe saved
        elsewhere (a run folder) still resolves its relative paths against the original folder.
        """
        translation = self.views.translation
        out: dict[str, Any] = {
            "name": self.name,
            **({"task": self.task} if self.task != "classification" else {}),
            "seed": self.seed,
            "model": {
                "spec": self.model.spec,
                "pooling": self.model.pooling,
                "prefix": self.model.prefix,
                "max_length": self.model.max_length,
            },
            "views": {
                "target_lang": self.views.target_lang,
                "romanize_scheme": self.views.romanize_scheme,
                "translation": {"provider": translation.provider, **copy.deepcopy(translation.options)},
            },
            "data": {
                "train": copy.deepcopy(self.data.train),
                "dev": copy.deepcopy(self.data.dev),
                "parallel": copy.deepcopy(self.data.parallel),
            },
            "labels": list(self.labels) if self.labels is not None else None,
            "method": {
                "variant": self.method.variant,
                "alpha": self.method.alpha,
                "betas": list(self.method.betas),
                "freeze_layers": self.method.freeze_layers,
                "freeze_embeddings": self.method.freeze_embeddings,
                # token-only keys stay out of sentence recipes, whose dumps (and so the
                # fingerprints that resume runs and reuse finished ones) are unchanged
                **(self.method.token_dict() if self.task == "token-classification" else {}),
            },
            "train": {f.name: getattr(self.train, f.name) for f in fields(TrainConfig)},
            "evaluate": copy.deepcopy(self.evaluate),
            "probe": copy.deepcopy(self.probe),
            # only when set: recipes without it keep their dumps (and fingerprints)
            **({"pretrain": copy.deepcopy(self.pretrain)} if self.pretrain is not None else {}),
        }
        if include_base_dir and self.base_dir is not None:
            out["base_dir"] = str(Path(self.base_dir).resolve())
        return out

    def dump(self, *, include_base_dir: bool = False) -> str:
        """The recipe as YAML text (every key, defaults included)."""
        return yaml.safe_dump(
            self.to_dict(include_base_dir=include_base_dir), sort_keys=False, allow_unicode=True
        )


_SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "views": ViewsConfig,
    "data": DataConfig,
    "method": MethodConfig,
    "train": TrainConfig,
}
TOP_KEYS = (
    "name",
    "task",
    "seed",
    "model",
    "views",
    "data",
    "labels",
    "method",
    "train",
    "evaluate",
    "probe",
    "pretrain",
    "base_dir",
)


# ------------------------------------------------------------------------------------------ the error
class RecipeError(ValueError):
    """A recipe problem: ``str(err)`` is ``"FILE:LINE: KEY.PATH: problem and fix"``.

    ``err.source``, ``err.line``, ``err.key``, ``err.override`` and ``err.problem`` hold the parts.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        key: str | None = None,
        line: int | None = None,
        override: str | None = None,
    ) -> None:
        self.problem, self.source, self.key, self.line, self.override = problem, source, key, line, override
        where = source or "<recipe>"
        if override is not None:
            where += f" (--set {override})"
        elif line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: Any, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(key: Any, valid: Sequence[str], where: str | None = None) -> str:
    place = f" in {where}" if where else ""
    hint = _suggest(key, valid) or "."
    return f"unknown key {str(key)!r}{place}{hint} Valid keys: {', '.join(valid)}"


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)


class _Where:
    """Turns a key path into a location: the ``--set`` that last wrote it (or a parent), else the line
    of the deepest key of it that the file has."""

    def __init__(self, source: str, lines: dict | None = None, overrides: dict | None = None) -> None:
        self.source = source
        self.lines: dict[tuple, int] = lines or {}
        self.overrides: dict[tuple, str] = overrides or {}

    def locate(self, path: tuple) -> tuple[int | None, str | None]:
        for n in range(len(path), 0, -1):
            if path[:n] in self.overrides:
                return None, self.overrides[path[:n]]
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]], None
        return None, None

    def error(self, path: tuple, problem: str) -> RecipeError:
        line, override = self.locate(path)
        return RecipeError(problem, source=self.source, key=_dotted(path), line=line, override=override)


# ------------------------------------------------------------------------------------- YAML and lines
def _line_map(node: yaml.Node, source: str) -> dict[tuple, int]:
    """Key path -> 1-based line of the key (mapping values) or of the item (sequence items)."""
    lines: dict[tuple, int] = {}

    def walk(n: yaml.Node, path: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in n.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in seen:
                    raise RecipeError(
                        f"duplicate key {key!r} (first on line {seen[key]}); keep one of them",
                        source=source,
                        key=_dotted((*path, key)),
                        line=line,
                    )
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(node, ())
    return lines


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.constructor.ConstructorError):
            problem += " (recipes are read with yaml.safe_load: plain values only, no Python tags)"
        raise RecipeError(
            f"not valid YAML: {problem}", source=source, line=mark.line + 1 if mark else None
        ) from None
    return data, (_line_map(node, source) if node is not None else {})


# ----------------------------------------------------------------------------------------- overrides
class _Leaf:
    pass


class _Free:
    """A free-form mapping; ``primary`` is the key a plain string stands for (``{path: ...}``)."""

    def __init__(self, primary: str | None = None) -> None:
        self.primary = primary


class _List:
    def __init__(self, item: Any) -> None:
        self.item = item


_LEAF, _FREE = _Leaf(), _Free()


def _section_schema(cls: type) -> dict:
    return {f.name: _LEAF for f in fields(cls)}


_SCHEMA: dict[str, Any] = {
    "name": _LEAF,
    "seed": _LEAF,
    "base_dir": _LEAF,
    "labels": _List(_LEAF),
    "evaluate": _List(_Free("path")),
    "model": _section_schema(ModelConfig),
    "views": {"target_lang": _LEAF, "romanize_scheme": _LEAF, "translation": _FREE},
    "data": {"train": _Free("path"), "dev": _Free("path"), "parallel": _Free("src")},
    "method": {**_section_schema(MethodConfig), "betas": _List(_LEAF), "contextual_map": _Free("path")},
    "train": _section_schema(TrainConfig),
    "probe": _Free("src"),
    "pretrain": _Free(),
}


def _apply(
    data: dict, overrides: Sequence[str], source: str, schema_root: Any = None
) -> tuple[dict, dict[tuple, str]]:
    data = copy.deepcopy(data)
    where: dict[tuple, str] = {}
    for text in overrides:
        key, sep, raw = str(text).partition("=")
        key = key.strip()

        def fail(problem: str, path: str = key, text: str = text) -> RecipeError:
            return RecipeError(problem, source=source, key=path or None, override=text)

        if not sep or not key:
            raise fail("expected KEY=VALUE, e.g. --set method.alpha=0.1 or --set data.dev=null")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise fail(f"the value is not valid YAML: {getattr(exc, 'problem', exc)}") from None
        segs = key.split(".")
        if any(not s for s in segs):
            raise fail("empty key part; write keys as a.b.c, e.g. method.alpha")
        node: Any = data
        schema: Any = _SCHEMA if schema_root is None else schema_root
        path: list[str | int] = []
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            here = ".".join(segs[:i])
            slot: str | int
            if isinstance(node, list):
                if not seg.isdigit():
                    raise fail(f"{here or 'the recipe'} is a list; index it with a number, e.g. {here}.0")
                slot = int(seg)
                if slot > len(node):
                    raise fail(
                        f"{here} has {len(node)} entries; index 0..{len(node) - 1} "
                        f"(or {len(node)} to add one)"
                    )
                child_schema = schema.item if isinstance(schema, _List) else _FREE
            elif isinstance(node, dict):
                if isinstance(schema, dict) and seg not in schema:
                    valid = list(schema)
                    raise fail(_unknown(seg, valid, here or "the recipe"), path=".".join(segs[: i + 1]))
                if isinstance(schema, (_Leaf, _List)):
                    raise fail(f"{here} takes a value; it has no key {seg!r}")
                slot = seg
                child_schema = schema[seg] if isinstance(schema, dict) else _FREE
            else:
                raise fail(f"{here} is {_show(node)}, not a mapping or a list; cannot set {seg!r} in it")
            path.append(slot)
            if last:
                if isinstance(node, list) and slot == len(node):
                    node.append(value)
                else:
                    node[slot] = value  # type: ignore[index]
                break
            child = node.get(slot) if isinstance(node, dict) else (node[slot] if slot < len(node) else None)
            nxt = segs[i + 1]
            if child is None:
                child = [] if isinstance(child_schema, _List) or nxt.isdigit() else {}
            elif isinstance(child, str) and isinstance(child_schema, _Free) and child_schema.primary:
                child = {child_schema.primary: child}
            elif isinstance(child_schema, _Leaf):
                raise fail(f"{'.'.join(segs[: i + 1])} takes a value; it has no key {nxt!r}")
            if isinstance(node, list) and slot == len(node):
                node.append(child)
            else:
                node[slot] = child  # type: ignore[index]
            node, schema = child, child_schema
        # this override now owns the key and everything under it
        owned = tuple(path)
        for old in [p for p in where if p[: len(owned)] == owned]:
            del where[old]
        where[owned] = text
    return data, where


def apply_overrides(data: dict, overrides: Sequence[str], *, source: str | None = None) -> dict:
    """A copy of ``data`` with ``--set`` style overrides applied, in order.

    ``"method.alpha=0.1"``, ``"labels=[neg,pos]"``, ``"data.dev=null"``, ``"evaluate.0.view=romanize:hi"``:
    values are parsed with ``yaml.safe_load``. Keys of the fixed sections must exist in the schema; new
    keys can be created only in free-form mappings (under ``data.train``/``dev``/``parallel``,
    ``views.translation``, ``probe``, and ``evaluate.N``, where ``N`` = the list's length adds an entry).
    """
    if not isinstance(data, Mapping):
        raise RecipeError("a recipe is a mapping of sections", source=source or "<dict>")
    return _apply(dict(data), overrides, source or "<dict>")[0]


# ---------------------------------------------------------------------------------------- validation
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


class _Checker:
    def __init__(self, where: _Where) -> None:
        self.where = where

    def fail(self, path: tuple, problem: str) -> RecipeError:
        return self.where.error(path, problem)

    def mapping(self, path: tuple, value: Any, *, what: str = "a mapping") -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected {what}, got {_show(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail((*path, key), f"keys must be strings, got {_show(key)}; quote it")
        return dict(value)

    def known(self, path: tuple, value: dict, valid: Sequence[str]) -> None:
        for key in value:
            if key not in valid:
                raise self.fail((*path, key), _unknown(key, valid, _dotted(path) or "the recipe"))

    def string(self, path: tuple, value: Any, *, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_show(value)}")
        return value

    def integer(self, path: tuple, value: Any, *, minimum: int | None = None, optional: bool = False):
        if value is None and optional:
            return None
        bound = f" >= {minimum}" if minimum is not None else ""
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            extra = " or null" if optional else ""
            raise self.fail(path, f"expected an integer{bound}{extra}, got {_show(value)}")
        return value

    def number(
        self,
        path: tuple,
        value: Any,
        *,
        minimum: float | None = None,
        positive: bool = False,
        below: float | None = None,
    ) -> float:
        # YAML 1.1 reads "2e-5" (no dot) as a string: accept numeric strings
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            value = float(value)
        bound = " > 0" if positive else (f" >= {minimum:g}" if minimum is not None else "")
        if below is not None:
            bound = f" in [{minimum:g}, {below:g})"
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        if ok and (
            (positive and value <= 0)
            or (minimum is not None and value < minimum)
            or (below is not None and value >= below)
            or value in (float("inf"), float("-inf"))
        ):
            ok = False
        if not ok:
            raise self.fail(path, f"expected a number{bound}, got {_show(value)}")
        return float(value)

    def boolean(self, path: tuple, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_show(value)}")
        return value

    def choice(self, path: tuple, value: Any, choices: Sequence[str], *, optional: bool = False):
        if value is None and optional:
            return None
        if value not in choices:
            extra = " or null" if optional else ""
            raise self.fail(
                path,
                f"expected one of {', '.join(choices)}{extra}, got {_show(value)}{_suggest(value, choices)}",
            )
        return value

    def labelled(self, path: tuple, value: Any) -> dict:
        """A labelled-set mapping (``data.train``, ``data.dev``, ``evaluate.N``); a string is its path."""
        if isinstance(value, str):
            value = {"path": value}
        out = self.mapping(path, value, what="a labelled set: a path, or a mapping with a `path` key")
        self.known(path, out, LABELLED_KEYS)
        if "path" not in out:
            raise self.fail(path, "a labelled set needs a `path` (the file to read)")
        self.string((*path, "path"), out["path"])
        for key in ("labels_path", "format", "lang", "view", "name"):
            if key in out:
                self.string((*path, key), out[key], optional=True)
        for key in ("text", "label"):  # a column name, or a column index
            if key in out and out[key] is not None and not isinstance(out[key], int):
                self.string((*path, key), out[key])
        if "limit" in out:
            self.integer((*path, "limit"), out["limit"], minimum=1, optional=True)
        return out

    def token_set(self, path: tuple, value: Any) -> dict:
        """A token-level set (``task: token-classification``): a path, or a mapping with ``path`` and
        optionally ``format``, ``lang``, ``view``, ``name``, ``skip`` / ``limit`` (sentences, in file
        order: ``skip`` drops the first ones, so one file splits into training and held-out parts),
        ``column`` (CoNLL-U: upos | xpos | deprel) and ``ipa`` (data | regenerate)."""
        if isinstance(value, str):
            value = {"path": value}
        out = self.mapping(path, value, what="a token-level set: a path, or a mapping with a `path` key")
        self.known(path, out, TOKEN_SET_KEYS)
        if "path" not in out:
            raise self.fail(path, "a token-level set needs a `path` (a .conllu, CoNLL or PhoneXL .tsv file)")
        self.string((*path, "path"), out["path"])
        for key in ("lang", "view", "name"):
            if key in out:
                self.string((*path, key), out[key], optional=True)
        if "format" in out:
            self.choice((*path, "format"), out["format"], TOKEN_FORMATS)
        if "column" in out:
            self.choice((*path, "column"), out["column"], ("upos", "xpos", "deprel"))
        if "ipa" in out:
            self.choice((*path, "ipa"), out["ipa"], IPA_SOURCES, optional=True)
        if "limit" in out:
            self.integer((*path, "limit"), out["limit"], minimum=1, optional=True)
        if "skip" in out:
            self.integer((*path, "skip"), out["skip"], minimum=0)
        return out

    def parallel_sets(self, path: tuple, value: Any) -> dict | list[dict] | None:
        """``data.parallel``: one corpus, or a list of them (each aligned with its own ``lang`` and
        romanization ``scheme``, default ``views.target_lang`` / ``views.romanize_scheme``)."""
        if isinstance(value, list):
            if not value:
                raise self.fail(path, "an empty list; give one corpus {src, tgt} or several, or null")
            return [self.parallel((*path, i), item, corpus=True) for i, item in enumerate(value)]  # type: ignore[misc]
        return self.parallel(path, value, corpus=True)

    def parallel(self, path: tuple, value: Any, *, corpus: bool = False) -> dict | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = {"src": value}
        out = self.mapping(path, value, what="a mapping {src: SIDE, tgt: SIDE}")
        self.known(path, out, PARALLEL_KEYS)
        if "src" not in out:
            raise self.fail(
                path, "a parallel corpus needs `src` (and usually `tgt`): sides as in load_parallel"
            )
        self.string((*path, "src"), out["src"])
        if "tgt" in out:
            self.string((*path, "tgt"), out["tgt"], optional=True)
        if "format" in out:
            from scriptbridge.tasks.parallel import FORMATS

            self.choice((*path, "format"), out["format"], FORMATS)
        if "columns" in out and out["columns"] is not None:
            cols = out["columns"]
            if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
                raise self.fail((*path, "columns"), f"expected a list of column names, got {_show(cols)}")
        if "limit" in out:
            self.integer((*path, "limit"), out["limit"], minimum=1, optional=True)
        for key in ("lang", "scheme"):
            if key in out:
                if not corpus:
                    raise self.fail((*path, key), f"`{key}` belongs to data.parallel corpora, not here")
                self.string((*path, key), out[key], optional=True)
        return out

    def probe(self, path: tuple, value: Any) -> dict | None:
        """The ``probe`` section: a parallel set like ``data.parallel`` plus ``layers`` and ``sample``."""
        if value is None:
            return None
        if isinstance(value, str):
            value = {"src": value}
        out = self.mapping(path, value, what="a mapping {src: SIDE, tgt: SIDE, layers: last}")
        self.known(path, out, PROBE_KEYS)
        # the sides, format and columns are checked exactly like data.parallel's
        self.parallel(path, {k: v for k, v in out.items() if k in PARALLEL_KEYS})
        if "layers" in out:
            self.layers((*path, "layers"), out["layers"])
        if "sample" in out:
            self.integer((*path, "sample"), out["sample"], minimum=2, optional=True)
        return out

    def layers(self, path: tuple, value: Any) -> None:
        # the model's depth is unknown until it loads, so only the form is checked here
        problem = f"expected all, last, a layer number or numbers like '0,6,12', got {_show(value)}"
        if isinstance(value, bool):
            raise self.fail(path, problem)
        if isinstance(value, int):
            return
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return
        if isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            if text in ("all", "last") or re.fullmatch(r"-?\d+(,-?\d+)*", text):
                return
        raise self.fail(path, problem)


def _build(data: Any, where: _Where, base_dir: str | Path | None) -> Recipe:
    c = _Checker(where)
    top = c.mapping((), data, what="a mapping of sections (name, model, views, data, method, train...)")
    if data is None:
        raise where.error((), "the recipe is empty; it needs at least `name` and `data.train`")
    c.known((), top, TOP_KEYS)

    if "name" not in top:
        raise c.fail(("name",), "required: give the run a name, e.g. name: hi-sentiment")
    name = c.string(("name",), top["name"])
    seed = c.integer(("seed",), top.get("seed", 0))
    task = c.choice(("task",), top.get("task", "classification"), TASKS)
    tokens = task == "token-classification"
    labelled = c.token_set if tokens else c.labelled

    sec = {s: c.mapping((s,), top.get(s), what=f"the {s} section (a mapping)") for s in _SECTIONS}
    for s, cls in _SECTIONS.items():
        c.known((s,), sec[s], [f.name for f in fields(cls)])

    m = sec["model"]
    model = ModelConfig(
        spec=c.string(("model", "spec"), m.get("spec", "embedded")),
        pooling=c.choice(("model", "pooling"), m.get("pooling"), POOLINGS, optional=True),
        prefix=_prefix(c, m.get("prefix")),
        max_length=c.integer(("model", "max_length"), m.get("max_length", 128), minimum=1),
    )

    v = sec["views"]
    t = c.mapping(("views", "translation"), v.get("translation"), what="a mapping with a `provider` key")
    translation = TranslationConfig(
        provider=c.choice(("views", "translation", "provider"), t.get("provider", "none"), PROVIDERS),
        options={k: val for k, val in t.items() if k != "provider"},
    )
    views = ViewsConfig(
        target_lang=c.string(("views", "target_lang"), v.get("target_lang"), optional=True),
        romanize_scheme=c.string(("views", "romanize_scheme"), v.get("romanize_scheme"), optional=True),
        translation=translation,
    )

    d = sec["data"]
    if d.get("train") is None:
        raise c.fail(
            ("data", "train"),
            "required: the labelled training set, e.g. data: {train: {path: train.tsv, text: text, label: label}}",
        )
    data_cfg = DataConfig(
        train=labelled(("data", "train"), d["train"]),
        dev=None if d.get("dev") is None else labelled(("data", "dev"), d["dev"]),
        parallel=c.parallel_sets(("data", "parallel"), d.get("parallel")),
    )

    me = sec["method"]
    betas = me.get("betas", [1.0, 1.0, 1.0])
    if not isinstance(betas, (list, tuple)) or len(betas) != 3:
        raise c.fail(
            ("method", "betas"),
            f"expected three non-negative numbers [b1, b2, b3] (weights of L_ts, L_tr, L_tl), got {_show(betas)}",
        )
    if not tokens:
        for key in TOKEN_METHOD_FIELDS:
            if key in me:
                raise c.fail(
                    ("method", key), f"`{key}` is for token classification; add task: token-classification"
                )
    mpath = ("method",)
    method = MethodConfig(
        variant=c.choice(
            ("method", "variant"),
            me.get("variant", "plain" if tokens else "joint-ts"),
            TOKEN_VARIANTS if tokens else VARIANTS,
        ),
        alpha=c.number(("method", "alpha"), me.get("alpha", 0.3), minimum=0),
        betas=tuple(c.number(("method", "betas", i), b, minimum=0) for i, b in enumerate(betas)),  # type: ignore[arg-type]
        # a tagger fine-tunes every layer by default (the PhoneXL paper does); sentence recipes freeze 8
        freeze_layers=c.integer(
            ("method", "freeze_layers"), me.get("freeze_layers", 0 if tokens else 8), minimum=-1
        ),
        freeze_embeddings=c.boolean(("method", "freeze_embeddings"), me.get("freeze_embeddings", True)),
        head=c.choice((*mpath, "head"), me.get("head", "crf"), HEADS),
        word_pooling=c.choice((*mpath, "word_pooling"), me.get("word_pooling", "first"), WORD_POOLINGS),
        lambda_align=c.number((*mpath, "lambda_align"), me.get("lambda_align", 0.01), minimum=0),
        beta_mlm=c.number((*mpath, "beta_mlm"), me.get("beta_mlm", 0.01), minimum=0),
        gamma_xmlm=c.number((*mpath, "gamma_xmlm"), me.get("gamma_xmlm", 0.01), minimum=0),
        mask_ratio=c.number((*mpath, "mask_ratio"), me.get("mask_ratio", 0.2), minimum=0, below=1),
        cs_ratio=c.number((*mpath, "cs_ratio"), me.get("cs_ratio", 0.4), minimum=0, below=1.000001),
        dictionary=c.string((*mpath, "dictionary"), me.get("dictionary"), optional=True),
        extend_vocabulary=c.boolean((*mpath, "extend_vocabulary"), me.get("extend_vocabulary", True)),
        language_embedding=c.boolean((*mpath, "language_embedding"), me.get("language_embedding", True)),
        ipa=c.choice((*mpath, "ipa"), me.get("ipa", "data"), IPA_SOURCES),
        contextual_map=_contextual_map(c, me.get("contextual_map")),
    )

    tr = sec["train"]
    train = TrainConfig(
        epochs=c.integer(("train", "epochs"), tr.get("epochs", 3), minimum=1),
        batch_size=c.integer(("train", "batch_size"), tr.get("batch_size", 32), minimum=1),
        lr=c.number(("train", "lr"), tr.get("lr", 2e-5), positive=True),
        head_lr=c.number(("train", "head_lr"), tr.get("head_lr", 1e-3), positive=True),
        weight_decay=c.number(("train", "weight_decay"), tr.get("weight_decay", 0.01), minimum=0),
        warmup_ratio=c.number(("train", "warmup_ratio"), tr.get("warmup_ratio", 0.1), minimum=0, below=1),
        patience=c.integer(("train", "patience"), tr.get("patience", 2), minimum=0),
        metric=c.choice(
            ("train", "metric"),
            tr.get("metric", "auto" if tokens else "macro_f1"),
            TOKEN_METRICS if tokens else METRICS,
        ),
        max_steps=c.integer(("train", "max_steps"), tr.get("max_steps"), minimum=1, optional=True),
        grad_clip=c.number(("train", "grad_clip"), tr.get("grad_clip", 1.0), minimum=0),
        device=c.string(("train", "device"), tr.get("device"), optional=True),
        cache_frozen=c.boolean(("train", "cache_frozen"), tr.get("cache_frozen", True)),
        precision=c.choice(("train", "precision"), tr.get("precision", "auto"), PRECISIONS),
    )

    labels = top.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not labels:
            raise c.fail(
                ("labels",), f"expected a non-empty list of label names or null, got {_show(labels)}"
            )
        for i, lab in enumerate(labels):
            if isinstance(lab, bool) or not isinstance(lab, (str, int)):
                raise c.fail(("labels", i), f"expected a label name, got {_show(lab)}")
        labels = [str(lab) for lab in labels]
        dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dupes:
            raise c.fail(("labels",), f"duplicate labels: {', '.join(dupes)}; list each once")

    ev = top.get("evaluate")
    if ev is None:
        ev = []
    if not isinstance(ev, list):
        raise c.fail(("evaluate",), f"expected a list of labelled sets (paths or mappings), got {_show(ev)}")
    evaluate = [labelled(("evaluate", i), e) for i, e in enumerate(ev)]
    probe = c.probe(("probe",), top.get("probe"))
    pretrain = top.get("pretrain")
    if pretrain is not None:
        if isinstance(pretrain, str):
            c.string(("pretrain",), pretrain)
        elif not isinstance(pretrain, Mapping):
            raise c.fail(
                ("pretrain",),
                f"expected a pretraining recipe (a path or shipped name) or its mapping, got {_show(pretrain)}",
            )
        else:
            pretrain = dict(pretrain)

    variant_path = ("method", "variant")
    if tokens:
        if data_cfg.parallel is not None:
            raise c.fail(
                ("data", "parallel"), "token-classification recipes take no parallel corpus; remove it"
            )
        if method.variant in DICTIONARY_VARIANTS:
            if method.dictionary is None:
                raise c.fail(
                    ("method", "dictionary"),
                    f"variant {method.variant!r} code-switches training words with a bilingual dictionary: "
                    "set method.dictionary, e.g. muse:zh-vi (bridged through English) or phonexl:PATH:zh-vi",
                )
            if views.target_lang is None:
                raise c.fail(
                    ("views", "target_lang"),
                    f"required for variant {method.variant!r}: the language words are switched into, e.g. vi",
                )
        # (word_pooling shapes plain and cosda only: PhoneXL's word-level inputs are always mean-pooled)
        if method.contextual_map is not None:
            _check_contextual_map(c, method)
    # the data each sentence-classification variant needs
    has_provider = translation.provider != "none"
    if not tokens and method.variant in TRANSLATED_VARIANTS and not has_provider:
        extra = (
            " (data.parallel is not enough: its pairs carry no labels, and this variant trains the "
            "task on translated labelled examples)"
            if data_cfg.parallel is not None
            else ""
        )
        raise c.fail(
            variant_path,
            f"variant {method.variant!r} trains on labelled translations of data.train, so it needs "
            f"views.translation.provider set to given, dictionary or hf{extra}",
        )
    if not tokens and method.variant in JOINT_VARIANTS and not has_provider and data_cfg.parallel is None:
        raise c.fail(
            variant_path,
            f"variant {method.variant!r} needs target-language text to align with: add views.translation "
            "(provider: given, dictionary or hf) or a parallel corpus under data.parallel "
            "(src: ..., tgt: ...); or use variant: en",
        )
    if not tokens and method.variant != "en" and views.target_lang is None:
        raise c.fail(
            ("views", "target_lang"),
            f"required for variant {method.variant!r}: the language code of the translations and "
            "their romanized views, e.g. views.target_lang: hi",
        )

    explicit_base = top.get("base_dir")
    if explicit_base is not None:
        c.string(("base_dir",), explicit_base)
        b = Path(explicit_base).expanduser()
        base_dir = b if b.is_absolute() or base_dir is None else Path(base_dir) / b

    recipe = Recipe(
        name=name,  # type: ignore[arg-type]
        task=task,  # type: ignore[arg-type]
        model=model,
        views=views,
        data=data_cfg,
        method=method,
        train=train,
        labels=labels,
        evaluate=evaluate,
        seed=seed,  # type: ignore[arg-type]
        probe=probe,
        pretrain=pretrain,
        source=where.source,
        base_dir=str(base_dir) if base_dir is not None else None,
    )
    recipe._where = where
    return recipe


def _contextual_map(c: _Checker, value: Any) -> dict | None:
    """``method.contextual_map``: a folder (a string) or ``{path: DIR, layer: N | auto}``, normalised to
    the mapping with ``layer`` (default ``auto``: the highest frozen layer)."""
    key = ("method", "contextual_map")
    if value is None:
        return None
    if isinstance(value, str):
        value = {"path": value}
    out = c.mapping(key, value, what="a maps folder, or a mapping {path: DIR, layer: N or auto}")
    c.known(key, out, CONTEXTUAL_MAP_KEYS)
    if "path" not in out:
        raise c.fail(key, "needs `path`: the folder `scriptbridge align-contextual -o DIR` wrote")
    c.string((*key, "path"), out["path"])
    layer = out.get("layer", "auto")
    if layer != "auto":
        c.integer((*key, "layer"), layer, minimum=0)
    return {"path": out["path"], "layer": layer}


def _check_contextual_map(c: _Checker, method: MethodConfig) -> None:
    """A map applies to the subword tagger's hidden states, and only while the layers under it stay
    as they were when the map was learnt (frozen); the model's depth is checked when it loads."""
    key = ("method", "contextual_map")
    if method.variant not in CONTEXTUAL_MAP_VARIANTS:
        raise c.fail(
            key,
            f"a contextual map applies to the subword tagger's hidden states (variant plain or cosda); "
            f"variant {method.variant!r} runs the encoder over word-level inputs, so remove "
            "method.contextual_map or use variant: plain",
        )
    layer = method.contextual_map["layer"]  # type: ignore[index]
    if method.freeze_layers < 0 or not method.freeze_embeddings:
        raise c.fail(
            key,
            "the map was learnt on the encoder's own states, so the embeddings and the layers up to the "
            f"mapped one must stay frozen (method.freeze_layers is {method.freeze_layers}, freeze_embeddings "
            f"{str(method.freeze_embeddings).lower()}); set method.freeze_layers: "
            f"{layer if layer != 'auto' else 'N'} (or more) and freeze_embeddings: true",
        )
    if layer != "auto" and layer > method.freeze_layers:
        raise c.fail(
            (*key, "layer"),
            f"the map is applied to the output of layer {layer}, but method.freeze_layers is "
            f"{method.freeze_layers}, so layers {method.freeze_layers + 1}..{layer} would train under it and "
            f"the map would go stale; set method.freeze_layers: {layer} (or more), or map a layer <= "
            f"{method.freeze_layers} (layer: auto maps the highest frozen one)",
        )


def _prefix(c: _Checker, value: Any) -> str | None:
    # a prefix may be whitespace-ish ("query: "), so only its type is checked
    if value is not None and not isinstance(value, str):
        raise c.fail(("model", "prefix"), f"expected a string or null, got {_show(value)}")
    return value


# ------------------------------------------------------------------------------------------- loading
def recipe_from_dict(
    data: Mapping,
    *,
    source: str = "<dict>",
    base_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> Recipe:
    """Validate a recipe given as a dict (overrides applied first); no file, so no line numbers."""
    return _from_data(data, source=source, base_dir=base_dir, overrides=overrides, lines={})


def _from_data(
    data: Any,
    *,
    source: str,
    base_dir,
    overrides: Sequence[str],
    lines: dict,
    schema: Any = None,
    build: Any = None,
) -> Any:
    """Overrides applied (by ``schema``, default the training recipe's), then ``build`` (default
    :func:`_build`): the one path from parsed YAML to a validated recipe of either kind."""
    where = _Where(source, lines)
    if overrides:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise where.error((), f"expected a mapping of sections, got {_show(data)}")
        data, where.overrides = _apply(dict(data), overrides, source, schema)
    return (build or _build)(data, where, base_dir)


def _package_root() -> Path:
    """The installed ``scriptbridge`` package folder (``pkg://`` paths resolve inside it)."""
    return Path(str(resources.files("scriptbridge")))


def _shared_data_dir() -> Path | None:
    """``../shared/data`` next to the repository, else ``$SCRIPTBRIDGE_SHARED_DATA``, else None."""
    import scriptbridge

    repo_side = Path(scriptbridge.__file__).resolve().parents[3] / "shared" / "data"
    if repo_side.is_dir():
        return repo_side
    env = os.environ.get(SHARED_ENV)
    return Path(env).expanduser() if env else None


def package_recipes() -> list[str]:
    """Names of the recipes shipped in the package (``load_recipe(name)`` loads one)."""
    folder = _package_root() / "recipes"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _is_bare_name(text: str) -> bool:
    return (
        "/" not in text
        and os.sep not in text
        and (os.altsep is None or os.altsep not in text)
        and not text.endswith((".yaml", ".yml"))
        and not Path(text).exists()
    )


def read_recipe_file(path: str | Path) -> tuple[Any, dict[tuple, int], str, Path]:
    """A recipe file, or a package recipe given by bare name, parsed: ``(data, lines, source, folder)``
    (``lines`` maps key paths to line numbers; ``folder`` is where relative paths start)."""
    text_path = str(path)
    if _is_bare_name(text_path):
        folder = _package_root() / "recipes"
        file = folder / f"{text_path}.yaml"
        if not file.is_file():
            known = package_recipes()
            listing = f"package recipes: {', '.join(known)}" if known else "the package ships no recipes"
            raise RecipeError(
                f"no recipe file {text_path!r} and no package recipe of that name{_suggest(text_path, known)} "
                f"({listing}); give a path to a .yaml file",
                source=text_path,
            )
    else:
        file = Path(text_path).expanduser()
        if not file.is_file():
            raise RecipeError("no such recipe file; check the path", source=text_path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read the recipe: {exc}", source=source) from None
    data, lines = _parse_yaml(text, source)
    return data, lines, source, file.resolve().parent


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read, override and validate a recipe file, or a package recipe given by bare name
    (``load_recipe("quickstart")`` reads ``scriptbridge/recipes/quickstart.yaml``)."""
    data, lines, source, folder = read_recipe_file(path)
    if isinstance(data, Mapping) and data.get("kind") == "pretrain":
        raise RecipeError(
            "this is a pretraining recipe (kind: pretrain): run it with scriptbridge pretrain, or name it "
            "in a training recipe's `pretrain:` key",
            source=source,
        )
    return _from_data(data, source=source, base_dir=folder, overrides=overrides, lines=lines)


# ------------------------------------------------------------------------------------------- paths
def resolve_path(recipe: Recipe, path: str | Path) -> Path:
    """A path named in the recipe, as a filesystem path.

    ``pkg://REL`` is inside the installed ``scriptbridge`` package; ``shared://REL`` is inside the
    shared data folder (``../shared/data`` next to the repository, else ``$SCRIPTBRIDGE_SHARED_DATA``);
    ``~`` is expanded; other relative paths are relative to ``recipe.base_dir`` (the recipe's folder).
    """
    text = str(path)
    if text.startswith(PKG_PREFIX):
        return _package_root() / text[len(PKG_PREFIX) :]
    if text.startswith(SHARED_PREFIX):
        root = _shared_data_dir()
        if root is None:
            import scriptbridge

            repo_side = Path(scriptbridge.__file__).resolve().parents[3] / "shared" / "data"
            raise RecipeError(
                f"cannot resolve {text!r}: there is no shared data folder at {repo_side} and "
                f"${SHARED_ENV} is not set; set {SHARED_ENV} to the folder that holds the shared data",
                source=recipe.source,
            )
        return root / text[len(SHARED_PREFIX) :]
    p = Path(text).expanduser()
    if p.is_absolute() or recipe.base_dir is None:
        return p
    return Path(recipe.base_dir) / p


def resolve_side(recipe: Recipe, spec: str) -> str:
    """A parallel side spec with its file part resolved: ``romanize:hi@rel.txt`` ->
    ``romanize:hi@/abs/rel.txt``; a view of the other side (``romanize:hi``) is returned as is."""
    from scriptbridge.tasks.parallel import parse_view

    view = parse_view(spec)
    if view is None:
        return str(resolve_path(recipe, spec))
    if not view.of:
        return spec
    head = spec[: len(spec) - len(view.of)]
    return head + str(resolve_path(recipe, view.of))


def load_pairs(recipe: Recipe, spec: Mapping) -> Any:
    """The parallel corpus a ``data.parallel`` entry or the ``probe`` section describes, its sides
    resolved against the recipe (``pkg://``, ``shared://``, relative paths, a view's ``@FILE``)."""
    from scriptbridge.tasks.parallel import load_parallel

    return load_parallel(
        resolve_side(recipe, spec["src"]),
        resolve_side(recipe, spec["tgt"]) if spec.get("tgt") else None,
        fmt=spec.get("format", "auto"),
        columns=tuple(spec["columns"]) if spec.get("columns") else None,
    )


def check_paths_exist(recipe: Any, places: Sequence[tuple[tuple, str, bool]]) -> None:
    """Each ``(key path, value, may_be_view)``: the file it names exists (a parallel side may be a view
    of the other side, which names no file, or of ``@FILE``; ``FILE#COLUMN`` names ``FILE``), else a
    :class:`RecipeError` with the key path and line of the first missing one.  Training and pretraining
    recipes both check their files with it before any model loads."""
    from scriptbridge.tasks.parallel import ParallelDataError, parse_view

    where = recipe._where or _Where(recipe.source or "<recipe>")
    for key, value, may_be_view in places:
        file: str | None = value
        if may_be_view:
            try:
                view = parse_view(value)
            except ParallelDataError as exc:
                raise where.error(key, str(exc)) from None
            file = value if view is None else view.of
        if not file:
            continue
        resolved = resolve_path(recipe, file)
        if not resolved.exists() and "#" in resolved.name:  # a parallel side's FILE#COLUMN
            resolved = resolved.with_name(resolved.name.rpartition("#")[0])
        if not resolved.exists():
            raise where.error(
                key,
                f"{value!r} does not exist (looked for {resolved}); fix the path (relative paths are "
                f"relative to {recipe.base_dir or 'the working folder'})",
            )


def check_files(recipe: Recipe) -> None:
    """Check that the files the recipe reads exist (training, dev, evaluation sets, label lists and
    the files of parallel sides, in ``data.parallel`` and ``probe``), before any model is loaded; a
    :class:`RecipeError` names the first missing one with its key path and line."""
    places: list[tuple[tuple, str, bool]] = []
    sets: list[tuple[tuple, dict]] = [(("data", "train"), recipe.data.train)]
    if recipe.data.dev is not None:
        sets.append((("data", "dev"), recipe.data.dev))
    sets += [(("evaluate", i), e) for i, e in enumerate(recipe.evaluate)]
    for key, entry in sets:
        places += [((*key, name), entry[name], False) for name in ("path", "labels_path") if entry.get(name)]
    corpora: list[tuple[tuple, dict | None]] = [
        (("data", "parallel", i) if isinstance(recipe.data.parallel, list) else ("data", "parallel"), p)
        for i, p in enumerate(recipe.data.parallel_sets())
    ]
    for key, corpus in [*corpora, (("probe",), recipe.probe)]:
        if corpus is not None:
            places += [((*key, side), corpus[side], True) for side in ("src", "tgt") if corpus.get(side)]
    if recipe.method.contextual_map is not None:
        places.append((("method", "contextual_map", "path"), recipe.method.contextual_map["path"], False))
    check_paths_exist(recipe, places)
