"""Token-level labelled data (NER, POS): read it, take a view of its words, build its label vocabulary.

A :class:`TokenSet` holds sentences as lists of words with one label per word. Three file formats:

- CoNLL-U (Universal Dependencies): :func:`read_conllu`, the label is the UPOS (or XPOS / DEPREL)
  column; comments, multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped, so the
  words are the syntactic words the tags belong to.
- CoNLL / IOB2 NER (CoNLL-2003, HiNER): :func:`read_conll`, a token column and a label column
  separated by tabs or spaces, a blank line between sentences, ``-DOCSTART-`` lines skipped.
- PhoneXL TSV (``token<TAB>label<TAB>ipa<TAB>romanization``): :func:`read_phonexl_tsv`, which also
  keeps the IPA and romanization of every word.

:func:`read_tokens` picks the reader from the file. ``limit`` on a reader keeps the *first* sentences
(reading stops there, which matters for 10,000-sentence files); :meth:`TokenSet.sample` draws a seeded
random subset instead.

:func:`apply_token_view` converts every word (``romanize:hi``, ``romanize:hi:uroman``) or regenerates
the IPA column (``ipa:zh``), keeping the labels, so a tagger trained on native script can be scored on
romanized words without a second file.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

FORMATS = ("auto", "conllu", "conll", "phonexl")
# CoNLL-U: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC
CONLLU_COLUMNS = {"upos": 3, "xpos": 4, "deprel": 7}
_CONLLU_WIDTH = 10
_PHONEXL_WIDTH = 4
# IOB-style prefixes: B(egin) I(nside) and, for IOBES data, E(nd) S(ingle)
_PREFIX_ORDER = {"B": 0, "I": 1, "E": 2, "S": 3}
# file names that carry their language: PhoneXL "test-vi.tsv", UD "hi_pud-ud-test.conllu"
_PHONEXL_NAME = re.compile(r"^(?:train|dev|test|valid|validation)-([a-z]{2,3})$")
_UD_NAME = re.compile(r"^([a-z]{2,3})_[a-z0-9]+-ud-(?:train|dev|test)$")


class TokenDataError(ValueError):
    """Token-level data could not be read or used; the message names the file, the line and the fix."""


@dataclass
class TokenSet:
    """Sentences of words with one label per word; ``labels[i][j]`` labels ``tokens[i][j]``."""

    name: str  # short, for tables: "test-vi", "hi_pud-ud-test", "validation (romanized, colloquial)"
    tokens: list[list[str]]
    labels: list[list[str]]  # UPOS tags ("NOUN") or IOB2 tags ("B-PER", "I-PER", "O")
    lang: str | None = None  # canonical code ("hi") when known
    ipa: list[list[str]] | None = None  # one IPA string per word ("" where the source had none)
    roman: list[list[str]] | None = None  # one romanization per word (PhoneXL's fourth column)
    path: str | None = None  # the file read
    view: str | None = None  # "romanize:hi:colloquial" / "ipa:zh:pinyin-ipa" once a view was applied

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.labels):
            raise TokenDataError(
                f"{self.name}: {len(self.tokens)} sentences of tokens but {len(self.labels)} of labels; "
                "every sentence needs its labels"
            )
        for what, column in (("labels", self.labels), ("ipa", self.ipa), ("roman", self.roman)):
            if column is None:
                continue
            if len(column) != len(self.tokens):
                raise TokenDataError(
                    f"{self.name}: {len(self.tokens)} sentences of tokens but {len(column)} of {what}"
                )
            for i, (words, values) in enumerate(zip(self.tokens, column, strict=True)):
                if len(words) != len(values):
                    raise TokenDataError(
                        f"{self.name}: sentence {i} has {len(words)} tokens but {len(values)} {what}; "
                        f"give one {what} entry per token"
                    )

    def __len__(self) -> int:
        return len(self.tokens)

    def n_tokens(self) -> int:
        return sum(len(s) for s in self.tokens)

    def label_counts(self) -> dict[str, int]:
        """How many words carry each label, labels in :func:`token_label_vocabulary` order."""
        counts = Counter(label for sentence in self.labels for label in sentence)
        return {label: counts[label] for label in _vocabulary_order(counts)}

    def sample(self, n: int | None, seed: int = 0) -> TokenSet:
        """A seeded random subset of ``n`` sentences, in their original order (the whole set when ``n``
        is None or not smaller than the set)."""
        if n is None or n >= len(self):
            return self
        _check_count(n, self.name, "a sample")
        return self._take(sorted(random.Random(seed).sample(range(len(self)), n)), self.name)

    def head(self, n: int) -> TokenSet:
        """The first ``n`` sentences; the name says which (``dev-vi[:1000]``)."""
        _check_count(n, self.name, "head")
        return self if n >= len(self) else self._take(range(n), f"{self.name}[:{n}]")

    def tail(self, n: int) -> TokenSet:
        """The last ``n`` sentences, disjoint from ``head(len - n)``; the name says which (``dev-vi[-500:]``)."""
        _check_count(n, self.name, "tail")
        return self if n >= len(self) else self._take(range(len(self) - n, len(self)), f"{self.name}[-{n}:]")

    def _take(self, rows: Sequence[int], name: str) -> TokenSet:
        def pick(column: list[list[str]] | None) -> list[list[str]] | None:
            return None if column is None else [column[i] for i in rows]

        return replace(
            self,
            name=name,
            tokens=pick(self.tokens),
            labels=pick(self.labels),
            ipa=pick(self.ipa),
            roman=pick(self.roman),
        )


def _check_count(n: object, name: str, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TokenDataError(f"{name}: {what} needs a whole number of sentences, at least 1; got {n!r}")


# ---------------------------------------------------------------------------- reading


@dataclass
class _Line:
    number: int  # 1-based, as editors show it
    text: str  # without the line break (and without a stray "\r")


def _blocks(path: Path, *, skip: tuple[str, ...] = ()) -> Iterator[list[_Line]]:
    """Non-empty lines grouped into sentences at blank lines. A missing final blank line, Windows line
    ends, a byte-order mark and runs of several blank lines are all tolerated."""
    block: list[_Line] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise TokenDataError(f"{path}: cannot read it ({e.strerror or e}); check the path") from e
    with handle:
        for number, raw in enumerate(_utf8_lines(handle, path), start=1):
            text = raw.rstrip("\n").replace("\r", "")
            if not text.strip():
                if block:
                    yield block
                    block = []
                continue
            if skip and text.startswith(skip):
                continue
            block.append(_Line(number, text))
    if block:
        yield block


def _utf8_lines(handle, path: Path) -> Iterator[str]:
    try:
        yield from handle
    except UnicodeDecodeError as e:
        raise TokenDataError(
            f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8"
        ) from e


def _path_and_name(path: str | Path, name: str | None) -> tuple[Path, str]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise TokenDataError(f"{p}: no such file; check the path (relative paths start at {Path.cwd()})")
    return p, name or p.stem


def _lang(lang: str | None, path: Path) -> str | None:
    """The canonical language: the one given, else one a PhoneXL or UD file name carries."""
    from scriptbridge.views.langs import UnknownLanguageError, canonical

    if lang is None:
        for pattern in (_PHONEXL_NAME, _UD_NAME):
            match = pattern.match(path.stem)
            if match:
                lang = match.group(1)
                break
        else:
            return None
    try:
        return canonical(lang)
    except UnknownLanguageError as e:
        raise TokenDataError(f"{path}: {e}") from e


def _check_limit(limit: int | None, path: Path) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise TokenDataError(
            f"{path}: 'limit' must be a whole number of sentences, at least 1; got {limit!r}"
        )


def _finish(path: Path, name: str, lang: str | None, tokens: list, labels: list, **columns) -> TokenSet:
    if not tokens:
        raise TokenDataError(f"{path}: no sentences found; is it empty, or in another format?")
    return TokenSet(name, tokens, labels, lang=_lang(lang, path), path=str(path), **columns)


def read_conllu(
    path: str | Path,
    *,
    column: str = "upos",
    name: str | None = None,
    lang: str | None = None,
    limit: int | None = None,
) -> TokenSet:
    """Read a CoNLL-U file: the words (FORM) of each sentence labelled by ``column`` (upos, xpos or
    deprel). Multiword tokens (``1-2``) are skipped because the tags belong to the words they contain;
    empty nodes (``1.1``) are skipped because they are not in the text."""
    p, name = _path_and_name(path, name)
    _check_limit(limit, p)
    if column not in CONLLU_COLUMNS:
        raise TokenDataError(
            f"{p}: unknown CoNLL-U column {column!r}; use one of {', '.join(CONLLU_COLUMNS)}"
        )
    at = CONLLU_COLUMNS[column]
    tokens: list[list[str]] = []
    labels: list[list[str]] = []
    for block in _blocks(p, skip=("#",)):
        words: list[str] = []
        tags: list[str] = []
        for line in block:
            fields = line.text.split("\t")
            if len(fields) != _CONLLU_WIDTH:
                raise TokenDataError(
                    f"{p}:{line.number}: expected {_CONLLU_WIDTH} tab-separated columns, found {len(fields)}; "
                    "CoNLL-U separates its columns with tabs (was the file re-saved with spaces?) and "
                    "writes '_' for an empty field"
                )
            word_id = fields[0]
            if "-" in word_id or "." in word_id:
                continue
            if not word_id.isdigit():
                raise TokenDataError(
                    f"{p}:{line.number}: word ID {word_id!r} is not a number, a range (1-2) or an empty "
                    "node (1.1); is this a CoNLL-U file?"
                )
            words.append(fields[1])
            tags.append(fields[at])
        if words:  # a block of comments alone is no sentence
            tokens.append(words)
            labels.append(tags)
            if limit is not None and len(tokens) >= limit:
                break
    return _finish(p, name, lang, tokens, labels)


def read_conll(
    path: str | Path,
    *,
    token_column: int = 0,
    label_column: int = -1,
    name: str | None = None,
    lang: str | None = None,
    limit: int | None = None,
) -> TokenSet:
    """Read a CoNLL-style NER file: one token a line, columns separated by tabs (or, when a line has no
    tab, by spaces), a blank line between sentences, ``-DOCSTART-`` lines skipped. Labels are kept as
    written; IOB1 files (an entity opening with ``I-``) can be repaired with :func:`labels_to_iob2`."""
    p, name = _path_and_name(path, name)
    _check_limit(limit, p)
    tokens: list[list[str]] = []
    labels: list[list[str]] = []
    for block in _blocks(p, skip=("-DOCSTART-",)):
        words: list[str] = []
        tags: list[str] = []
        for line in block:
            # tabs when there are any, so a tab-separated token may hold a space
            fields = line.text.split("\t") if "\t" in line.text else line.text.split()
            try:
                word, tag = fields[token_column], fields[label_column]
            except IndexError:
                raise TokenDataError(
                    f"{p}:{line.number}: found {len(fields)} column(s) but token_column={token_column} and "
                    f"label_column={label_column}; each line is a token and its label, e.g. 'Delhi\\tB-LOC'"
                ) from None
            if len(fields) < 2 or not tag.strip():
                raise TokenDataError(
                    f"{p}:{line.number}: a token without a label; write 'TOKEN<TAB>LABEL' (O outside entities)"
                )
            words.append(word)
            tags.append(tag.strip())
        tokens.append(words)
        labels.append(tags)
        if limit is not None and len(tokens) >= limit:
            break
    return _finish(p, name, lang, tokens, labels)


def read_phonexl_tsv(
    path: str | Path, *, name: str | None = None, lang: str | None = None, limit: int | None = None
) -> TokenSet:
    """Read a PhoneXL TSV file: ``token<TAB>label<TAB>ipa<TAB>romanization`` a line, blank lines between
    sentences; the language comes from a name such as ``test-vi.tsv`` unless ``lang`` is given.

    Empty IPA fields are kept as ``""`` (the Korean files have thousands, for quotes and apostrophes the
    IPA tool had no output for). Lines with only the token and label, or with the romanization missing,
    are accepted and the missing fields read as ``""``; when no line has a field, its column is None. A
    ``#`` token is a word (the Chinese and Japanese PAN-X files write spaces as ``#``), not a comment.
    """
    p, name = _path_and_name(path, name)
    _check_limit(limit, p)
    tokens: list[list[str]] = []
    labels: list[list[str]] = []
    ipa: list[list[str]] = []
    roman: list[list[str]] = []
    seen_ipa = seen_roman = False
    for block in _blocks(p):
        columns: tuple[list[str], ...] = ([], [], [], [])
        for line in block:
            fields = line.text.split("\t")
            if not 2 <= len(fields) <= _PHONEXL_WIDTH:
                raise TokenDataError(
                    f"{p}:{line.number}: expected {_PHONEXL_WIDTH} tab-separated columns (token, label, IPA, "
                    f"romanization), found {len(fields)}; a PhoneXL line is 'TOKEN<TAB>LABEL<TAB>IPA<TAB>ROMAN'"
                )
            if not fields[1].strip():
                raise TokenDataError(f"{p}:{line.number}: empty label; every token needs one (O or a tag)")
            seen_ipa = seen_ipa or len(fields) > 2
            seen_roman = seen_roman or len(fields) > 3
            fields += [""] * (_PHONEXL_WIDTH - len(fields))
            for values, value in zip(columns, fields, strict=True):
                values.append(value)
        words, tags, sounds, romans = columns
        tokens.append(words)
        labels.append([t.strip() for t in tags])
        ipa.append(sounds)
        roman.append(romans)
        if limit is not None and len(tokens) >= limit:
            break
    return _finish(
        p, name, lang, tokens, labels, ipa=ipa if seen_ipa else None, roman=roman if seen_roman else None
    )


def read_tokens(path: str | Path, fmt: str = "auto", **kw) -> TokenSet:
    """Read token-level data in ``fmt`` (auto, conllu, conll, phonexl); ``kw`` go to the reader.

    ``auto``: ``.conllu`` files are CoNLL-U; otherwise the first line that is not a comment decides:
    10 tab-separated columns starting with a word ID is CoNLL-U, a ``.tsv`` file with 4 tab-separated
    columns is PhoneXL, anything else CoNLL."""
    readers = {"conllu": read_conllu, "conll": read_conll, "phonexl": read_phonexl_tsv}
    if fmt not in FORMATS:
        raise TokenDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = _sniff(_path_and_name(path, None)[0])
    return readers[fmt](path, **kw)


def _sniff(path: Path) -> str:
    if path.suffix.lower() == ".conllu":
        return "conllu"
    for block in _blocks(path):
        for line in block:
            # a CoNLL-U comment has no tab; a PhoneXL line may start with a '#' token
            if line.text.startswith("#") and "\t" not in line.text:
                continue
            fields = line.text.split("\t")
            if len(fields) == _CONLLU_WIDTH and re.fullmatch(r"\d+(?:[-.]\d+)?", fields[0]):
                return "conllu"
            if len(fields) == _PHONEXL_WIDTH and path.suffix.lower() == ".tsv":
                return "phonexl"
            return "conll"
    raise TokenDataError(f"{path}: no data lines found; is the file empty?")


def read_label_list(path: str | Path) -> list[str]:
    """Labels one a line (HiNER's ``label_list``), in file order, for ``token_label_vocabulary(declared=)``."""
    p, _ = _path_and_name(path, None)
    labels = [line.text.strip() for block in _blocks(p) for line in block]
    duplicates = sorted(label for label, n in Counter(labels).items() if n > 1)
    if duplicates:
        raise TokenDataError(f"{p}: label(s) listed twice: {', '.join(duplicates)}; list each label once")
    if not labels:
        raise TokenDataError(f"{p}: no labels; write one label a line")
    return labels


# ---------------------------------------------------------------------------- labels


def _split_prefix(label: str) -> tuple[str, str] | None:
    """("B", "PER") for "B-PER"; None for "O" and labels without an IOB/IOBES prefix."""
    if len(label) > 2 and label[1] == "-" and label[0] in _PREFIX_ORDER:
        return label[0], label[2:]
    return None


def labels_to_iob2(labels: Sequence[str]) -> list[str]:
    """IOB1 (or any tagging where an entity may open with ``I-``) to IOB2: an ``I-X`` that does not
    continue an ``X`` entity (sentence start, after ``O``, after another type) becomes ``B-X``. Other
    labels are kept, so IOB2 input comes back unchanged."""
    out: list[str] = []
    previous_type: str | None = None
    for label in labels:
        parts = _split_prefix(label)
        if parts is not None and parts[0] == "I" and parts[1] != previous_type:
            out.append("B-" + parts[1])
        else:
            out.append(label)
        previous_type = parts[1] if parts is not None and parts[0] in ("B", "I") else None
    return out


def is_iob2_labels(labels: Sequence[str] | Sequence[Sequence[str]]) -> bool:
    """True when every label (of a flat list, or of a list of sentences) is ``O`` or starts with ``B-`` /
    ``I-``: entity metrics apply. An all-``O`` list counts (a shard without entities is still NER data,
    and predicted entities in it are false positives); an empty one and POS tags do not."""
    flat = [x for item in labels for x in ([item] if isinstance(item, str) else item)]
    for label in flat:
        if label == "O":
            continue
        parts = _split_prefix(label)
        if parts is None or parts[0] not in ("B", "I"):
            return False
    return bool(flat)


def _vocabulary_order(labels) -> list[str]:
    labels = set(labels)
    rest = labels - {"O"}
    split = {label: _split_prefix(label) for label in rest}
    if rest and all(parts is not None for parts in split.values()):
        ordered = sorted(rest, key=lambda x: (split[x][1], _PREFIX_ORDER[split[x][0]]))  # type: ignore[index]
    else:
        ordered = sorted(rest)
    return (["O"] if "O" in labels else []) + ordered


def token_label_vocabulary(
    *sets: TokenSet | Sequence[Sequence[str]], declared: Sequence[str] | None = None
) -> list[str]:
    """The labels of ``sets`` (TokenSets or lists of label sentences), for a classifier's output layer.

    Without ``declared``: ``O`` first when present, then the entity labels grouped by type (types sorted,
    ``B-`` before ``I-``), or for tags without IOB prefixes (POS) all labels sorted. With ``declared``
    (e.g. :func:`read_label_list`): every label must be in it, and its order is kept, so ids stay the
    same across runs and files."""
    seen: dict[str, str] = {}  # label -> the set it was first seen in, for the error
    for k, data in enumerate(sets):
        label_sentences = data.labels if isinstance(data, TokenSet) else data
        where = data.name if isinstance(data, TokenSet) else f"set {k}"
        for sentence in label_sentences:
            if isinstance(sentence, str):
                raise TokenDataError(f"{where}: labels must be lists of sentences, got a string {sentence!r}")
            for label in sentence:
                seen.setdefault(label, where)
    if declared is None:
        return _vocabulary_order(seen)
    declared = list(declared)
    if len(set(declared)) != len(declared):
        raise TokenDataError(f"declared labels repeat a label: {declared}; list each label once")
    known = set(declared)
    for label, where in seen.items():
        if label not in known:
            raise TokenDataError(
                f"{where}: label {label!r} is not among the declared labels ({', '.join(declared)}); "
                "add it to the label list or fix the data"
            )
    return declared


# ---------------------------------------------------------------------------- views


def apply_token_view(data: TokenSet, view: str) -> TokenSet:
    """``data`` with a view of its words; the labels stay.

    ``romanize:LANG[:SCHEME]`` replaces every word with its romanization (one batched call for the whole
    set). ``ipa:LANG[:BACKEND]`` keeps the words and regenerates the ``ipa`` column, one IPA string per
    word with each sentence as context (Chinese polyphones, Japanese readings). LANG may be left out
    (``romanize``) when ``data.lang`` is known. The name gets a suffix such as ``(romanized, colloquial)``
    and ``view`` records the full view (``romanize:hi:colloquial``)."""
    from scriptbridge.tasks.parallel import ParallelDataError, parse_view
    from scriptbridge.views import ViewError, default_scheme, resolve, romanize, to_ipa_tokens_batch
    from scriptbridge.views.langs import UnknownLanguageError, canonical

    where = data.path or data.name
    try:
        spec = parse_view(view)
    except ParallelDataError as e:
        raise TokenDataError(f"{where}: view {e}") from e
    if spec is None:
        raise TokenDataError(
            f"{where}: unknown view {view!r}; use romanize:LANG[:SCHEME] or ipa:LANG[:BACKEND]"
        )
    if spec.of:
        raise TokenDataError(
            f"{where}: view {view!r}: a token set's view is of its own words; drop '@{spec.of}'"
        )
    lang = spec.lang or data.lang
    if lang is None:
        raise TokenDataError(
            f"{where}: view {view!r} needs a language: write it into the view ({spec.kind}:hi) or read the "
            "file with lang=..."
        )
    try:
        lang = canonical(lang)
        if spec.kind == "romanize":
            scheme = spec.scheme or default_scheme("romanize", lang)
            flat = [word for sentence in data.tokens for word in sentence]
            converted = romanize(flat, lang, scheme)
        else:
            scheme = resolve("ipa", lang, spec.scheme).name
            ipa = to_ipa_tokens_batch(data.tokens, lang, scheme)
    except (ViewError, UnknownLanguageError) as e:
        raise TokenDataError(f"{where}: view {view!r}: {e}") from e
    full_view = f"{spec.kind}:{lang}:{scheme}"
    if spec.kind == "romanize":
        if len(converted) != len(flat):
            raise TokenDataError(
                f"{where}: view {view!r} returned {len(converted)} words for {len(flat)}; the backend "
                "must give one output per word"
            )
        words, start = [], 0
        for sentence in data.tokens:
            words.append(list(converted[start : start + len(sentence)]))
            start += len(sentence)
        return replace(
            data, tokens=words, lang=lang, view=full_view, name=f"{data.name} (romanized, {scheme})"
        )
    return replace(data, ipa=ipa, lang=lang, view=full_view, name=f"{data.name} (IPA, {scheme})")
