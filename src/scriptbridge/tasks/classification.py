"""Labelled sentences for classifiers: read a labelled set, take a view of it, score predictions.

A labelled set is given by a :class:`LabelledSpec` (or just a path):

- a CSV / TSV / JSONL file with a text column (default ``text``) and a label column (default ``label``,
  else ``category``);
- a SIB-200 split TSV (``sib200/hin_Deva/train.tsv``, columns index_id, category, text): its label is
  ``category`` and its language comes from the folder name;
- a plain texts file with one sentence a line plus a line-aligned labels file (``labels_path``), as in
  the umsab sentiment data (``hindi/train_text.txt`` + ``hindi/train_labels.txt``). When ``path`` ends
  with ``_text.txt`` and no ``labels_path`` is given, the sibling ``_labels.txt`` is used if it exists.

``view`` (``romanize:hi``, ``romanize:hi:uroman``, ``ipa:zh``) converts the texts before use, so a
classifier trained on native script can be evaluated on romanized text without a second file.
Labels stay strings (``"0"``, ``"sports"``); mapping them to ids is the model's business.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from scriptbridge.tasks.parallel import ParallelDataError, Side, apply_view, parse_view
from scriptbridge.utils.tables import TableError, read_table

FORMATS = ("auto", "csv", "tsv", "jsonl", "lines")
# FLORES / SIB-200 folder names: "hin_Deva", "arb_Latn"
_FLORES_NAME = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")
_INT = re.compile(r"^[+-]?\d+$")
_TEXT_SUFFIX = "_text.txt"
_LABELS_SUFFIX = "_labels.txt"


class LabelledDataError(ValueError):
    """A labelled set could not be read; the message names the file, the line and the fix."""


@dataclass
class LabelledSet:
    """Texts and their labels (label *names*, as strings), row ``i`` labelling text ``i``."""

    texts: list[str]
    labels: list[str]
    name: str  # short, for tables: "hin_Deva/test", "hindi/test", "hindi/test · romanized (colloquial)"
    source: str | None = None  # the file read
    lang: str | None = None  # canonical code ("hi") when known
    view: str | None = None  # "romanize:hi:colloquial" when a view was applied

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise LabelledDataError(
                f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels; they must pair up"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> dict[str, int]:
        """How many rows carry each label, labels in vocabulary order (numeric when all are integers)."""
        counts = Counter(self.labels)
        return {label: counts[label] for label in _sorted_labels(counts)}

    def sample(self, n: int | None, seed: int = 0) -> LabelledSet:
        """A seeded random subset of ``n`` rows, in their original order (the whole set when ``n`` is
        None or not smaller than the set). Not stratified."""
        if n is None or n >= len(self):
            return self
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise LabelledDataError(f"{self.name}: a sample needs at least 1 row, got {n!r}")
        rows = sorted(random.Random(seed).sample(range(len(self)), n))
        return replace(self, texts=[self.texts[i] for i in rows], labels=[self.labels[i] for i in rows])


@dataclass
class LabelledSpec:
    """What a recipe says about one labelled set; every field but ``path`` is optional."""

    path: str  # a CSV/TSV/JSONL file, a SIB-200 split TSV, or a texts file (with ``labels_path``)
    text: str | None = None  # text column/field; default "text"
    label: str | None = None  # label column/field; default "label", else "category"
    labels_path: str | None = None  # line-aligned labels for a plain texts file (umsab style)
    format: str = "auto"  # auto|csv|tsv|jsonl|lines
    lang: str | None = None  # canonical code; default: from a FLORES folder name such as hin_Deva
    view: str | None = (
        None  # "romanize:hi", "romanize:hi:uroman", "ipa:zh" (language: the view's or ``lang``)
    )
    name: str | None = None
    limit: int | None = None  # keep a seeded random subset of this many rows

    @classmethod
    def from_dict(cls, d: dict | str, where: str = "") -> LabelledSpec:
        """Build a spec from a recipe entry, strictly: unknown keys and wrong types are errors naming
        ``where`` (e.g. ``"recipe.yaml: train"``). A plain string means ``{"path": d}``."""
        at = f"{where}: " if where else ""
        if isinstance(d, (str, Path)):
            d = {"path": str(d)}
        if not isinstance(d, dict):
            raise LabelledDataError(
                f"{at}a labelled set is a path or a mapping with a 'path' key, got {type(d).__name__}"
            )
        allowed = [f.name for f in fields(cls)]
        unknown = [str(k) for k in d if k not in allowed]
        if unknown:
            raise LabelledDataError(
                f"{at}unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"a labelled set takes: {', '.join(allowed)}"
            )
        if d.get("path") in (None, ""):
            raise LabelledDataError(f"{at}a labelled set needs 'path' (a CSV/TSV/JSONL file or a texts file)")
        kw: dict = {}
        for key, value in d.items():
            if key == "limit":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                    raise LabelledDataError(
                        f"{at}'limit' must be a whole number of rows, at least 1; got {value!r}"
                    )
            elif key == "format":
                if value not in FORMATS:
                    raise LabelledDataError(f"{at}unknown format {value!r}; use one of {', '.join(FORMATS)}")
            elif value is not None:
                if isinstance(value, Path):
                    value = str(value)
                if not isinstance(value, str):
                    raise LabelledDataError(
                        f"{at}{key!r} must be a string, got {type(value).__name__} {value!r}"
                    )
            kw[key] = value
        return cls(**kw)


# ---------------------------------------------------------------------------- reading


def _resolve(path: str, base_dir: str | Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir).expanduser() / p
    return p


def _flores_lang(folder: Path) -> str | None:
    if not _FLORES_NAME.match(folder.name):
        return None
    from scriptbridge.views.langs import UnknownLanguageError, lang_script

    try:
        return lang_script(folder.name)[0]
    except UnknownLanguageError:
        return None


def _canonical_lang(code: str, where: str) -> str:
    from scriptbridge.views.langs import UnknownLanguageError, canonical

    try:
        return canonical(code)
    except UnknownLanguageError as e:
        raise LabelledDataError(f"{where}: lang {code!r}: {e}") from e


def _clean_label(value: str, name: str, line: int) -> str:
    label = value.strip()
    if not label:
        raise LabelledDataError(f"{name}:{line}: empty label; every row needs a label (or remove the row)")
    return label


def _read_lines(path: Path, what: str) -> list[str]:
    try:
        table = read_table(str(path), "lines")
    except TableError as e:
        raise LabelledDataError(f"{e} (the {what} file)") from e
    return [line[:-1] if line.endswith("\r") else line for line in table.texts]


def _read_label_file(path: Path) -> list[str]:
    return [_clean_label(v, str(path), i) for i, v in enumerate(_read_lines(path, "labels"), start=1)]


def _pick_column(
    explicit: str | None, defaults: tuple[str, ...], names: list[str], key: str, where: str
) -> str:
    """The column (or JSONL field) for ``key`` ("text" or "label"): ``explicit`` or the first default."""
    listed = ", ".join(names) if names else "(none)"
    if explicit is not None:
        if explicit not in names:
            raise LabelledDataError(
                f"{where}: no column {explicit!r}; columns are: {listed}; set {key!r} to one of them"
            )
        return explicit
    for name in defaults:
        if name in names:
            return name
    tried = " or ".join(repr(n) for n in defaults)
    raise LabelledDataError(f"{where}: no {tried} column; columns are: {listed}; set {key!r} to one of them")


def _read_delimited(path: Path, fmt: str, spec: LabelledSpec) -> tuple[list[str], list[str]]:
    try:
        table = read_table(str(path), fmt, "0")  # any column: we pick ours from the header
    except TableError as e:
        raise LabelledDataError(str(e)) from e
    where = f"{table.name}:1"
    text_col = _pick_column(spec.text, ("text",), table.header, "text", where)
    label_col = _pick_column(spec.label, ("label", "category"), table.header, "label", where)
    if text_col == label_col:
        raise LabelledDataError(f"{where}: the text and the label are both column {text_col!r}")
    ti, li = table.header.index(text_col), table.header.index(label_col)
    texts = [row[ti] for row in table.rows]
    labels = [_clean_label(row[li], table.name, i) for i, row in enumerate(table.rows, start=2)]
    return texts, labels


def _read_jsonl(path: Path, spec: LabelledSpec) -> tuple[list[str], list[str]]:
    try:
        table = read_table(str(path), "jsonl", spec.text or "text")
    except TableError as e:
        raise LabelledDataError(f"{e}; set 'text' to the text field") from e
    texts: list[str] = []
    labels: list[str] = []
    label_field: str | None = None
    for i, (obj, text) in enumerate(zip(table.rows, table.texts, strict=True), start=1):
        if obj is None:  # blank line: no row
            continue
        where = f"{table.name}:{i}"
        if label_field is None:
            label_field = _pick_column(spec.label, ("label", "category"), list(obj), "label", where)
        if label_field not in obj:
            raise LabelledDataError(
                f"{where}: no field {label_field!r}; fields are: {', '.join(obj)}; every row needs a label"
            )
        value = obj[label_field]
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise LabelledDataError(
                f"{where}: label {label_field!r} is {type(value).__name__} {value!r}; "
                "labels must be strings or whole numbers"
            )
        texts.append(text)
        labels.append(_clean_label(value, table.name, i))
    return texts, labels


def _auto_labels(path: Path) -> Path | None:
    if not path.name.endswith(_TEXT_SUFFIX):
        return None
    sibling = path.with_name(path.name[: -len(_TEXT_SUFFIX)] + _LABELS_SUFFIX)
    return sibling if sibling.is_file() else None


def _default_name(path: Path) -> str:
    folder = path.parent
    if _FLORES_NAME.match(folder.name):
        return f"{folder.name}/{path.stem}"
    if path.stem.endswith("_text") and len(path.stem) > len("_text"):
        stem = path.stem[: -len("_text")]
        return f"{folder.name}/{stem}" if folder.name else stem
    return path.stem


def read_labelled(
    spec: LabelledSpec | str | dict, *, base_dir: str | Path | None = None, seed: int = 0
) -> LabelledSet:
    """Read one labelled set (see the module docstring for what ``spec.path`` may be).

    Relative ``path`` and ``labels_path`` resolve against ``base_dir`` when given (recipes pass their
    own folder). A texts file ``X_text.txt`` without ``labels_path`` takes its labels from the sibling
    ``X_labels.txt`` when that exists. ``limit`` keeps a ``seed``-ed random subset (original order), and
    ``view`` converts the texts afterwards.
    """
    if not isinstance(spec, LabelledSpec):
        spec = LabelledSpec.from_dict(spec)
    if spec.format not in FORMATS:
        raise LabelledDataError(f"unknown format {spec.format!r}; use one of {', '.join(FORMATS)}")
    path = _resolve(spec.path, base_dir)
    if path.is_dir():
        splits = sorted(p.name for p in path.glob("*.tsv"))
        hint = f", e.g. {path / splits[0]}" if splits else ""
        raise LabelledDataError(f"{path} is a folder; give one split file{hint}")
    if not path.is_file():
        raise LabelledDataError(
            f"{path}: no such file" + (f" (resolved against {base_dir})" if base_dir else "")
        )

    fmt = spec.format
    if fmt == "auto":
        suffix = path.suffix.lower()
        fmt = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "lines")
    labels_path = _resolve(spec.labels_path, base_dir) if spec.labels_path else None
    if labels_path is None and fmt == "lines":
        labels_path = _auto_labels(path)

    if labels_path is not None:
        if spec.label is not None:
            raise LabelledDataError(
                f"{path}: give either 'labels_path' (a labels file) or 'label' (a column), not both"
            )
        if not labels_path.is_file():
            raise LabelledDataError(f"{labels_path}: no such labels file (the 'labels_path' of {path})")
        if fmt == "lines":
            if spec.text is not None:
                raise LabelledDataError(f"{path}: 'text' names a column, but this is a plain texts file")
            texts = _read_lines(path, "texts")
        else:
            try:
                texts = read_table(str(path), fmt, spec.text).texts
            except TableError as e:
                raise LabelledDataError(f"{e}; set 'text' to the text column") from e
        labels = _read_label_file(labels_path)
        if len(texts) != len(labels):
            raise LabelledDataError(
                f"{path} has {len(texts)} lines but {labels_path} has {len(labels)}: "
                "a texts file and its labels file must be line-aligned"
            )
        source = str(path)
    elif fmt in ("csv", "tsv"):
        texts, labels = _read_delimited(path, fmt, spec)
        source = str(path)
    elif fmt == "jsonl":
        texts, labels = _read_jsonl(path, spec)
        source = str(path)
    else:
        raise LabelledDataError(
            f"{path}: a plain texts file needs its labels: set 'labels_path' to a file with one label a "
            f"line (or name it {path.stem}{_LABELS_SUFFIX} next to a {path.stem}{_TEXT_SUFFIX}), "
            "or use a CSV/TSV/JSONL file with text and label columns"
        )

    lang = _canonical_lang(spec.lang, str(path)) if spec.lang else _flores_lang(path.parent)
    name = spec.name or _default_name(path)
    data = LabelledSet(texts, labels, name, source=source, lang=lang)
    if spec.limit is not None:
        data = data.sample(spec.limit, seed)
    if spec.view:
        data = _apply_view(data, spec.view, auto_name=spec.name is None)
    return data


def _apply_view(data: LabelledSet, view_spec: str, *, auto_name: bool) -> LabelledSet:
    try:
        view = parse_view(view_spec)
    except ParallelDataError as e:
        raise LabelledDataError(f"{data.source}: view {e}") from e
    if view is None:
        raise LabelledDataError(
            f"{data.source}: unknown view {view_spec!r}; use romanize:LANG[:SCHEME] or ipa:LANG[:BACKEND]"
        )
    if view.of:
        raise LabelledDataError(
            f"{data.source}: view {view_spec!r}: a labelled set's view is of its own texts; drop '@{view.of}'"
        )
    if view.lang is None and data.lang is None:
        raise LabelledDataError(
            f"{data.source}: view {view_spec!r} needs a language: write it into the view "
            f"({view.kind}:hi) or set 'lang'"
        )
    side = Side(list(data.texts), data.name, view_spec, lang=data.lang, source=data.source)
    try:
        out = apply_view(view, side, view_spec)
    except ParallelDataError as e:
        raise LabelledDataError(f"{data.source}: {e}") from e
    scheme = out.view.split(":")[2] if out.view and out.view.count(":") >= 2 else None
    what = "romanized" if view.kind == "romanize" else "IPA"
    name = data.name + (f" · {what}" + (f" ({scheme})" if scheme else "") if auto_name else "")
    return replace(data, texts=out.texts, name=name, lang=out.lang, view=out.view)


# ---------------------------------------------------------------------------- labels and scores


def _sorted_labels(labels) -> list[str]:
    """Labels sorted numerically when all are integers ("2" < "10"), else as strings."""
    labels = set(labels)
    if labels and all(_INT.match(str(x)) for x in labels):
        return sorted(labels, key=lambda x: (int(x), str(x)))
    return sorted(labels, key=str)


def label_vocabulary(*sets: LabelledSet, declared: Sequence[str] | None = None) -> list[str]:
    """The label names, in id order: ``declared`` (checked: every label of every set must be in it),
    else the sorted union of the sets' labels (numeric order when all are integers)."""
    if declared is not None:
        vocab = [str(x) for x in declared]
        dupes = sorted({x for x in vocab if vocab.count(x) > 1})
        if dupes:
            raise LabelledDataError(f"declared labels repeat {', '.join(map(repr, dupes))}")
        if not vocab:
            raise LabelledDataError("declared labels are empty; list at least two labels")
        known = set(vocab)
        for s in sets:
            extra = _sorted_labels(set(s.labels) - known)
            if extra:
                many = len(extra) > 1
                raise LabelledDataError(
                    f"{s.name}: label{'s' if many else ''} {', '.join(map(repr, extra))} not among the "
                    f"declared labels ({', '.join(vocab)}); "
                    f"declare {'them' if many else 'it'} or fix the data"
                )
        return vocab
    union: set[str] = set()
    for s in sets:
        union.update(s.labels)
    return _sorted_labels(union)


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict:
    """Accuracy, macro / weighted F1, per-class F1 and the confusion matrix, as plain JSON types.

    With ``labels``, the F1 averages and the confusion matrix cover exactly those labels, so a class
    absent from a small evaluation set still counts (with F1 0 unless never predicted nor present: 0 too).
    Without, they cover the labels seen in ``y_true`` and ``y_pred``.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    y_true, y_pred = [str(y) for y in y_true], [str(y) for y in y_pred]
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no predictions to score: the evaluation set is empty")
    vocab = [str(x) for x in labels] if labels is not None else _sorted_labels(set(y_true) | set(y_pred))
    per_class = f1_score(y_true, y_pred, labels=vocab, average=None, zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=vocab)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=vocab, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=vocab, average="weighted", zero_division=0)),
        "n": len(y_true),
        "per_class_f1": {label: float(f) for label, f in zip(vocab, per_class, strict=True)},
        "confusion": {"labels": vocab, "matrix": [[int(v) for v in row] for row in matrix]},
    }
