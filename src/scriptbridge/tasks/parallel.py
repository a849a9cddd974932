"""Parallel text for probes and evaluators: two sides, row ``i`` of one translating row ``i`` of the other.

A *side* is given as a string:

- a file: Tatoeba pair files (``tatoeba.hin-eng.hin`` / ``tatoeba.hin-eng.eng``), a SIB-200 / FLORES
  language folder or split TSV (``sib200/hin_Deva`` or ``sib200/hin_Deva/test.tsv``, joined with the
  other side on ``index_id``), a plain file with one sentence a line, or a CSV / TSV / JSONL file;
- a *view* generated on the fly: ``romanize:LANG[:SCHEME][@FILE]`` or ``ipa:LANG[:BACKEND][@FILE]``.
  Without ``@FILE`` a view is taken of the other side, so ``--src tatoeba.hin-eng.hin --tgt
  romanize:hi`` compares Hindi with its own romanization and needs no extra file.

Shortcuts: a Tatoeba file alone brings its English partner; a two-column TSV/CSV/JSONL file alone gives
both sides (its first two columns, or ``columns=("hi", "en")``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from scriptbridge.utils.tables import TableError, read_table

FORMATS = ("auto", "tatoeba", "sib200", "tsv", "csv", "jsonl", "lines", "conllu")
VIEW_KINDS = ("romanize", "ipa")
_TATOEBA = re.compile(r"^tatoeba\.([a-z]{2,3})-([a-z]{2,3})\.([a-z]{2,3})$")
_SIB_SPLITS = ("train", "dev", "test")
# FLORES / SIB-200 folder names: "hin_Deva", "arb_Latn"
_FLORES_NAME = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")


class ParallelDataError(ValueError):
    """Parallel data could not be read or paired; the message names the file and the fix."""


@dataclass
class Side:
    """One side of a parallel set."""

    texts: list[str]
    label: str  # short, for tables and plots: "hin", "hin · romanize (uroman)"
    spec: str  # what the user wrote
    lang: str | None = None  # canonical code ("hi") when known
    script: str | None = None  # ISO 15924 ("Deva") when known
    view: str | None = None  # "romanize:hi:uroman" for generated sides
    source: str | None = None  # the file the texts (or the view's input) came from
    keys: list[str] | None = field(default=None, repr=False)  # SIB-200 index_id per row

    def describe(self) -> dict:
        return {
            "label": self.label,
            "spec": self.spec,
            "lang": self.lang,
            "script": self.script,
            "view": self.view,
            "source": self.source,
        }


@dataclass
class ParallelData:
    """Two aligned sides; ``src.texts[i]`` translates ``tgt.texts[i]``."""

    src: Side
    tgt: Side
    format: str
    notes: list[str] = field(default_factory=list)  # what was inferred or dropped, for the user

    def __post_init__(self) -> None:
        if len(self.src.texts) != len(self.tgt.texts):
            raise ParallelDataError(
                f"the sides differ in length: {self.src.label} has {len(self.src.texts)} rows, "
                f"{self.tgt.label} has {len(self.tgt.texts)}"
            )

    def __len__(self) -> int:
        return len(self.src.texts)

    def sample(self, n: int | None, seed: int = 0) -> ParallelData:
        """A seeded random subset of ``n`` pairs, in their original order (all pairs when ``n`` is None
        or not smaller than the set)."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ParallelDataError(f"--sample must be at least 1, got {n}")
        rows = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        note = f"sampled {n} of {len(self)} pairs (seed {seed})"
        return ParallelData(_take(self.src, rows), _take(self.tgt, rows), self.format, [*self.notes, note])

    @classmethod
    def from_texts(
        cls, src: list[str], tgt: list[str], src_label: str = "src", tgt_label: str = "tgt"
    ) -> ParallelData:
        return cls(Side(list(src), src_label, src_label), Side(list(tgt), tgt_label, tgt_label), "memory")


def _take(side: Side, rows: np.ndarray) -> Side:
    keys = [side.keys[i] for i in rows] if side.keys is not None else None
    return replace(side, texts=[side.texts[i] for i in rows], keys=keys)


def texts_fingerprint(texts: list[str]) -> str:
    """sha256 of the texts (with their order), for cache keys."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


# ---------------------------------------------------------------------------- views


@dataclass(frozen=True)
class ViewSpec:
    kind: str  # "romanize" | "ipa"
    lang: str | None
    scheme: str | None
    of: str | None  # the file it is a view of; None = the other side

    @property
    def name(self) -> str:
        return ":".join(p for p in (self.kind, self.lang, self.scheme) if p)


def parse_view(spec: str) -> ViewSpec | None:
    """``romanize:hi:colloquial@file.txt`` -> ViewSpec; None when ``spec`` is not a view."""
    head, _, of = spec.partition("@")
    parts = head.split(":")
    if parts[0] not in VIEW_KINDS:
        return None
    if len(parts) > 3:
        raise ParallelDataError(
            f"{spec!r}: a view is {parts[0]}:LANG[:SCHEME][@FILE], e.g. romanize:hi:uroman or ipa:zh"
        )
    lang = parts[1] if len(parts) > 1 and parts[1] else None
    scheme = parts[2] if len(parts) > 2 and parts[2] else None
    return ViewSpec(parts[0], lang, scheme, of or None)


def apply_view(view: ViewSpec, base: Side, spec: str) -> Side:
    """Generate the view of ``base`` (romanization or IPA) as a new side."""
    from scriptbridge.views import ViewError, default_scheme, romanize, to_ipa
    from scriptbridge.views.langs import UnknownLanguageError, canonical

    lang = view.lang or base.lang
    if lang is None:
        raise ParallelDataError(
            f"{spec!r}: cannot tell the language of {base.label}; name it, e.g. {view.kind}:hi"
        )
    try:
        lang = canonical(lang)
        scheme = view.scheme or default_scheme(view.kind, lang)  # type: ignore[arg-type]
        convert = romanize if view.kind == "romanize" else to_ipa
        texts = convert(base.texts, lang, scheme)
    except (ViewError, UnknownLanguageError) as e:
        raise ParallelDataError(f"{spec!r}: {e}") from e
    name = ":".join(p for p in (view.kind, lang, scheme) if p)
    what = "romanized" if view.kind == "romanize" else "IPA"
    label = f"{base.label} {what}" + (f" ({scheme})" if scheme else "")
    return Side(
        texts,
        label,
        spec,
        lang=lang,
        script="Latn" if view.kind == "romanize" else "Zyyy",
        view=name,
        source=base.source,
        keys=base.keys,
    )


# ---------------------------------------------------------------------------- files


def _lang_of(code: str) -> tuple[str | None, str | None]:
    from scriptbridge.views.langs import UnknownLanguageError, lang_script

    try:
        return lang_script(code)
    except UnknownLanguageError:
        return None, None


def detect_format(path: Path) -> str:
    """The format of a side's file or folder, from its name and shape."""
    if path.is_dir():
        if any((path / f"{s}.tsv").is_file() for s in _SIB_SPLITS):
            return "sib200"
        raise ParallelDataError(
            f"{path} is a folder but not a SIB-200 language folder (no train.tsv, dev.tsv or test.tsv)"
        )
    if _TATOEBA.match(path.name):
        return "tatoeba"
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        try:
            with path.open(encoding="utf-8") as f:
                header = f.readline().rstrip("\n").split("\t")
        except (OSError, UnicodeDecodeError):
            header = []
        return "sib200" if "index_id" in header and "text" in header else "tsv"
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".conllu": "conllu"}.get(suffix, "lines")


def _read_sib200(path: Path, spec: str) -> Side:
    files = (
        [path / f"{s}.tsv" for s in _SIB_SPLITS if (path / f"{s}.tsv").is_file()] if path.is_dir() else [path]
    )
    folder = path if path.is_dir() else path.parent
    texts: list[str] = []
    keys: list[str] = []
    seen: set[str] = set()
    for f in files:
        try:
            table = read_table(str(f), "tsv", "text")
        except TableError as e:
            raise ParallelDataError(
                f"{e} (SIB-200 files are TSV with columns index_id, category, text)"
            ) from e
        if "index_id" not in table.header:
            raise ParallelDataError(f"{f}:1: no index_id column; SIB-200 files have index_id, category, text")
        col = table.header.index("index_id")
        for line, (row, text) in enumerate(zip(table.rows, table.texts, strict=True), start=2):
            key = row[col]
            if key in seen:
                raise ParallelDataError(f"{f}:{line}: index_id {key} appears twice")
            seen.add(key)
            keys.append(key)
            texts.append(text)
    m = _FLORES_NAME.match(folder.name)
    lang, script = _lang_of(folder.name) if m else (None, None)
    split = "" if path.is_dir() else f"/{path.stem}"
    return Side(texts, f"{folder.name}{split}", spec, lang, script, source=str(path), keys=keys)


def _read_lines(path: Path, spec: str, label: str, lang: str | None) -> Side:
    try:
        table = read_table(str(path), "lines")
    except TableError as e:
        raise ParallelDataError(str(e)) from e
    script = None
    if lang:
        lang, script = _lang_of(lang)
    return Side(table.texts, label, spec, lang, script, source=str(path))


def _read_conllu(path: Path, spec: str) -> Side:
    """A UD treebank's sentences: its ``# text = ...`` lines (one per sentence); the language from
    the file name (``hi_pud-ud-test.conllu``)."""
    texts: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# text ="):
                texts.append(line[len("# text =") :].strip())
    if not texts:
        raise ParallelDataError(f"{path}: no '# text =' lines; is it a CoNLL-U treebank?")
    lang, script = _lang_of(path.name.split("_")[0].split("-")[0])
    return Side(texts, path.name, spec, lang, script, source=str(path))


def _read_columns(path: Path, fmt: str, columns: tuple[str, ...] | None, spec: str) -> list[Side]:
    """The text columns of a CSV/TSV/JSONL file: the named ``columns``, else its first two."""
    try:
        first = read_table(str(path), fmt, columns[0] if columns else "0" if fmt != "jsonl" else None)
    except TableError as e:
        if fmt == "jsonl" and not columns:
            raise ParallelDataError(f"{e}; for JSONL name both fields with --columns SRC,TGT") from e
        raise ParallelDataError(str(e)) from e
    names = list(columns) if columns else (first.header[:2] if fmt != "jsonl" else [])
    sides = []
    for name in names:
        try:
            table = read_table(str(path), fmt, name)
        except TableError as e:
            raise ParallelDataError(str(e)) from e
        lang, script = _lang_of(name)
        sides.append(Side(table.texts, name, f"{spec}#{name}", lang, script, source=str(path)))
    if not sides:
        sides.append(Side(first.texts, path.stem, spec, source=str(path)))
    return sides


def read_side_file(spec: str, fmt: str = "auto", columns: tuple[str, ...] | None = None) -> list[Side]:
    """The side(s) one file gives: one, or two for a two-column table.  ``FILE#COLUMN`` picks one
    column of a CSV/TSV/JSONL file (``pairs.tsv#hi``)."""
    path = Path(spec).expanduser()
    head, sep, column = spec.rpartition("#")
    if sep and not path.exists() and Path(head).expanduser().exists() and column:
        path, columns = Path(head).expanduser(), (column,)
        if (detect_format(path) if fmt == "auto" else fmt) not in ("tsv", "csv", "jsonl"):
            raise ParallelDataError(
                f"{spec}: #{column} picks a column, but {path.name} is not a CSV/TSV/JSONL file"
            )
    if not path.exists():
        hint = ""
        if ":" in spec and spec.split(":")[0] not in VIEW_KINDS:
            hint = f"; views are {' or '.join(k + ':LANG' for k in VIEW_KINDS)}"
        raise ParallelDataError(f"{spec}: no such file or folder{hint}")
    form = detect_format(path) if fmt == "auto" else fmt
    if form not in FORMATS:
        raise ParallelDataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if form == "sib200":
        return [_read_sib200(path, spec)]
    if form == "tatoeba":
        m = _TATOEBA.match(path.name)
        lang = m.group(3) if m else None
        return [_read_lines(path, spec, lang or path.name, lang)]
    if form == "lines":
        return [_read_lines(path, spec, path.name, None)]
    if form == "conllu":
        return [_read_conllu(path, spec)]
    return _read_columns(path, form, columns, spec)


def _tatoeba_partner(path: Path) -> Path | None:
    m = _TATOEBA.match(path.name)
    if not m:
        return None
    a, b, this = m.groups()
    other = b if this == a else a
    partner = path.with_name(f"tatoeba.{a}-{b}.{other}")
    return partner if partner.is_file() else None


def _join(src: Side, tgt: Side, notes: list[str]) -> tuple[Side, Side]:
    """Pair two sides: on SIB-200 ``index_id`` when both have keys, else row by row."""
    if src.keys is not None and tgt.keys is not None:
        where = {k: i for i, k in enumerate(tgt.keys)}
        rows_src = [i for i, k in enumerate(src.keys) if k in where]
        if not rows_src:
            raise ParallelDataError(
                f"{src.source} and {tgt.source} share no index_id: are they the same split of SIB-200?"
            )
        rows_tgt = [where[src.keys[i]] for i in rows_src]
        dropped = len(src.keys) + len(tgt.keys) - 2 * len(rows_src)
        if dropped:
            notes.append(f"joined on index_id: {len(rows_src)} pairs, {dropped} unmatched rows left out")
        return _take(src, np.asarray(rows_src)), _take(tgt, np.asarray(rows_tgt))
    if len(src.texts) != len(tgt.texts):
        raise ParallelDataError(
            f"{src.source or src.label} has {len(src.texts)} lines but {tgt.source or tgt.label} has "
            f"{len(tgt.texts)}: parallel files must be line-aligned"
        )
    return src, tgt


def load_parallel(
    src: str,
    tgt: str | None = None,
    *,
    fmt: str = "auto",
    columns: tuple[str, ...] | None = None,
) -> ParallelData:
    """Read a parallel set from side specs (files or views; see the module docstring)."""
    if fmt not in FORMATS:
        raise ParallelDataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    notes: list[str] = []
    src_view, tgt_view = parse_view(src), (parse_view(tgt) if tgt else None)
    if src_view and tgt_view and not (src_view.of or tgt_view.of):
        raise ParallelDataError(
            "both sides are views of each other; give one side as a file, or say what a view is of "
            "with @FILE (e.g. romanize:hi@tatoeba.hin-eng.hin)"
        )

    def base(spec: str, view: ViewSpec | None) -> list[Side] | None:
        if view is None:
            return read_side_file(spec, fmt, columns)
        if view.of:
            return read_side_file(view.of, fmt, columns)[:1]
        return None

    src_sides, tgt_sides = base(src, src_view), (base(tgt, tgt_view) if tgt else None)
    if tgt is None:
        if src_view is not None and not src_view.of:
            raise ParallelDataError(f"{src!r} is a view of the other side; give --tgt too")
        assert src_sides is not None
        if len(src_sides) == 2:
            data_src, data_tgt = src_sides
            notes.append(f"both sides from {src}: columns {data_src.label!r} and {data_tgt.label!r}")
        else:
            partner = _tatoeba_partner(Path(src_sides[0].source or src))
            if partner is None:
                raise ParallelDataError(
                    f"{src} gives one side only; pass --tgt (a file, or a view such as romanize:hi)"
                )
            data_src = src_sides[0]
            data_tgt = read_side_file(str(partner), "tatoeba")[0]
            notes.append(f"target side: {partner.name} (the Tatoeba partner of {Path(src).name})")
        if src_view is not None:
            data_src = apply_view(src_view, data_src, src)
        data_src, data_tgt = _join(data_src, data_tgt, notes)
        return ParallelData(data_src, data_tgt, _format_name(fmt, src), notes)

    for spec, sides in ((src, src_sides), (tgt, tgt_sides)):
        if sides is not None and len(sides) > 1:
            notes.append(f"{spec}: using its column {sides[0].label!r} (name another with --columns)")
    # a view without @FILE is a view of the other side, which must then be a file
    s = src_sides[0] if src_sides else None
    t = tgt_sides[0] if tgt_sides else None
    if s is not None and t is not None:
        s, t = _join(s, t, notes)
    if src_view is not None:
        s = apply_view(src_view, s if s is not None else t, src)  # type: ignore[arg-type]
    if tgt_view is not None:
        t = apply_view(tgt_view, t if t is not None else s, tgt)  # type: ignore[arg-type]
    assert s is not None and t is not None
    s, t = _join(s, t, notes)
    return ParallelData(s, t, _format_name(fmt, src if src_view is None else tgt), notes)


def _format_name(fmt: str, spec: str) -> str:
    if fmt != "auto":
        return fmt
    path = Path(spec.partition("@")[2] or spec) if parse_view(spec) else Path(spec)
    if not path.exists() and "#" in path.name:  # FILE#COLUMN
        path = path.with_name(path.name.rpartition("#")[0])
    try:
        return detect_format(path) if path.exists() else "view"
    except ParallelDataError:
        return "unknown"
