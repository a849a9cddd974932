"""Scores for token classification: entity F1 for NER (IOB2 labels), accuracy and tag F1 for POS.

Entities are read from label sequences in one of two ways, matching the two modes of seqeval (the
reference the tests compare against):

- ``strict`` (seqeval ``mode="strict", scheme=IOB2``): an entity is a ``B-X`` and the ``I-X`` labels
  right after it. An ``I-X`` that does not continue an ``X`` entity (after ``O``, after another type, at
  the sentence start) belongs to no entity, so a tagger that never learnt to write ``B-`` scores 0.
- ``conlleval`` (seqeval's default, the behaviour of the CoNLL ``conlleval`` script, and what the PhoneXL
  paper reported): every non-``O`` label is part of an entity; a label starts a new one unless it is an
  ``I-X`` / ``E-X`` right after a ``B-X`` / ``I-X`` of the same type. IOBES labels (``E-``, ``S-``) are
  read too.

Scores are micro-averaged over entities (an entity counts when type, start and end all match), 0/0 is
taken as 0 as seqeval does, and entities never cross a sentence boundary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

MODES = ("strict", "conlleval")
SCHEMES = ("iob2", "tags")
_STRICT_PREFIXES = ("B", "I")
_LENIENT_PREFIXES = ("B", "I", "E", "S")


def _parse(label: str, allowed: tuple[str, ...], where: str) -> tuple[str, str] | None:
    """(prefix, type) for an entity label, None for ``O``; anything else is an error naming ``where``."""
    if label == "O":
        return None
    if len(label) > 2 and label[1] == "-" and label[0] in allowed:
        return label[0], label[2:]
    raise ValueError(
        f"{where}: label {label!r} is not O or {'/'.join(p + '-TYPE' for p in allowed)}; entity scores need "
        "IOB2 labels (use tag_scores for POS tags, labels_to_iob2 for IOB1 data)"
    )


def entity_spans(
    labels: Sequence[str], mode: str = "strict", *, where: str = "labels"
) -> set[tuple[str, int, int]]:
    """The entities of one sentence as ``(type, start, end_exclusive)``; see the module docstring for
    ``mode``. ``where`` names the sentence in error messages."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    strict = mode == "strict"
    allowed = _STRICT_PREFIXES if strict else _LENIENT_PREFIXES
    spans: set[tuple[str, int, int]] = set()
    open_type: str | None = None  # type of the entity the previous label belongs to, if any
    open_start = 0
    previous_prefix: str | None = None
    for i, label in enumerate(labels):
        parsed = _parse(label, allowed, f"{where}, token {i}")
        prefix, kind = parsed if parsed is not None else (None, None)
        continues = (
            open_type is not None
            and kind == open_type
            and prefix in ("I", "E")
            and previous_prefix in ("B", "I")
        )
        if not continues:
            if open_type is not None:
                spans.add((open_type, open_start, i))
            # strict: only B- opens an entity; a stray I- belongs to none
            opens = prefix == "B" if strict else prefix is not None
            open_type, open_start = (kind, i) if opens else (None, i)
        previous_prefix = prefix if open_type is not None else None
    if open_type is not None:
        spans.add((open_type, open_start, len(labels)))
    return spans


def _check_shapes(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted; they must pair up")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(g, str) or isinstance(p, str):
            raise ValueError(
                f"sentence {i}: expected a list of labels, got a string; pass lists of sentences"
            )
        if len(g) != len(p):
            raise ValueError(
                f"sentence {i}: {len(g)} gold labels but {len(p)} predicted; one label per token"
            )


def _prf(correct: int, predicted: int, true: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": true}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "strict") -> dict:
    """Micro-averaged entity precision, recall and F1, and the same per entity type (the types found in
    gold or predicted entities). ``support`` counts gold entities."""
    _check_shapes(gold, pred)
    gold_entities: set[tuple[int, str, int, int]] = set()
    pred_entities: set[tuple[int, str, int, int]] = set()
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        gold_entities.update((i, *span) for span in entity_spans(g, mode, where=f"gold sentence {i}"))
        pred_entities.update((i, *span) for span in entity_spans(p, mode, where=f"predicted sentence {i}"))
    correct = gold_entities & pred_entities
    n_gold = Counter(e[1] for e in gold_entities)
    n_pred = Counter(e[1] for e in pred_entities)
    n_correct = Counter(e[1] for e in correct)
    per_label = {
        kind: _prf(n_correct[kind], n_pred[kind], n_gold[kind]) for kind in sorted(set(n_gold) | set(n_pred))
    }
    return {
        **_prf(len(correct), len(pred_entities), len(gold_entities)),
        "per_label": per_label,
        "mode": mode,
    }


def tag_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Token accuracy, and precision / recall / F1 per tag; ``macro_f1`` averages the tags found in gold
    or predictions equally, ``weighted_f1`` by their gold counts (scikit-learn's macro and weighted)."""
    _check_shapes(gold, pred)
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_correct: Counter[str] = Counter()
    for g, p in zip(gold, pred, strict=True):
        n_gold.update(g)
        n_pred.update(p)
        n_correct.update(a for a, b in zip(g, p, strict=True) if a == b)
    n_tokens = sum(n_gold.values())
    per_label = {
        tag: _prf(n_correct[tag], n_pred[tag], n_gold[tag]) for tag in sorted(set(n_gold) | set(n_pred))
    }
    f1s = [s["f1"] for s in per_label.values()]
    return {
        "accuracy": sum(n_correct.values()) / n_tokens if n_tokens else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "weighted_f1": sum(s["f1"] * s["support"] for s in per_label.values()) / n_tokens
        if n_tokens
        else 0.0,
        "n_tokens": n_tokens,
        "per_label": per_label,
        "f1_seqeval": seqeval_tag_f1(gold, pred),
    }


def _raw_tag_chunks(labels: Sequence[str]) -> set[tuple[str, int, int]]:
    """The chunks seqeval's default mode finds in a sequence of arbitrary labels.

    seqeval reads any label as prefix = its first character and type = the rest after an optional
    '-', then applies the conlleval chunk rules. For un-prefixed POS tags that makes a chunk of each
    run of one tag ("NOUN NOUN VERB" = two chunks), except that tags starting with B or S (none in
    UPOS but SCONJ, SYM) open a chunk at every token, and one-letter tags like X (type "_", the same
    as O's) never open one, so a chunk can reach back to an earlier start: reproduced as is."""
    chunks: set[tuple[str, int, int]] = set()
    prev_tag, prev_type, begin = "O", "", 0
    for i, label in enumerate([*labels, "O"]):
        tag = label[0] if label else "O"
        kind = label[1:].split("-", maxsplit=1)[-1] or "_"
        ends = (
            prev_tag in ("E", "S")
            or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
            or (prev_tag not in ("O", ".") and prev_type != kind)
        )
        if ends:
            chunks.add((prev_type, begin, i - 1))
        starts = (
            tag in ("B", "S")
            or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
            or (tag not in ("O", ".") and prev_type != kind)
        )
        if starts:
            begin = i
        prev_tag, prev_type = tag, kind
    return chunks


def seqeval_tag_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Micro F1 over :func:`_raw_tag_chunks`: what ``seqeval.metrics.f1_score`` returns on raw POS
    tags (its sentences joined with an ``O`` after each, as seqeval does). XTREME's and PhoneXL's
    scripts report this as "POS F1"; it is here only to put numbers next to theirs (token accuracy and
    per-tag F1 are the meaningful POS scores)."""
    _check_shapes(gold, pred)
    true = _raw_tag_chunks([label for sentence in gold for label in [*sentence, "O"]])
    found = _raw_tag_chunks([label for sentence in pred for label in [*sentence, "O"]])
    return _prf(len(true & found), len(found), len(true))["f1"]


def token_classification_metrics(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, scheme: str | None = None
) -> dict:
    """All the scores a token task reports, by ``scheme``:

    - ``"iob2"`` (NER): strict entity ``precision`` / ``recall`` / ``f1`` / ``support`` / ``per_label``,
      the conlleval-mode ``f1_conlleval`` / ``precision_conlleval`` / ``recall_conlleval`` /
      ``per_label_conlleval`` (comparable with the PhoneXL paper) and token ``accuracy``;
    - ``"tags"`` (POS): :func:`tag_scores`;
    - ``None``: ``"iob2"`` when every gold label is ``O``, ``B-X`` or ``I-X``, else ``"tags"``.

    Both carry ``scheme``, ``n`` (sentences) and ``n_tokens``."""
    from scriptbridge.tasks.tokens import is_iob2_labels

    _check_shapes(gold, pred)
    if scheme is None:
        scheme = "iob2" if is_iob2_labels(gold) else "tags"
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)} (or None to detect it)")
    tags = tag_scores(gold, pred)
    if scheme == "tags":
        return {"scheme": scheme, "n": len(gold), **tags}
    strict = entity_scores(gold, pred, mode="strict")
    lenient = entity_scores(gold, pred, mode="conlleval")
    return {
        "scheme": scheme,
        "n": len(gold),
        "n_tokens": tags["n_tokens"],
        "precision": strict["precision"],
        "recall": strict["recall"],
        "f1": strict["f1"],
        "support": strict["support"],
        "per_label": strict["per_label"],
        "f1_conlleval": lenient["f1"],
        "precision_conlleval": lenient["precision"],
        "recall_conlleval": lenient["recall"],
        "per_label_conlleval": lenient["per_label"],
        "accuracy": tags["accuracy"],
    }


def format_token_report(metrics: dict, *, digits: int = 3) -> str:
    """A markdown summary line and per-label table of :func:`token_classification_metrics` output."""

    def number(x: float) -> str:
        return f"{x:.{digits}f}"

    per_label = metrics.get("per_label", {})
    if metrics.get("scheme") == "iob2":
        summary = (
            f"entity F1 {number(metrics['f1'])} (strict IOB2), {number(metrics['f1_conlleval'])} (conlleval); "
            f"token accuracy {number(metrics['accuracy'])}; {metrics['n']} sentences, "
            f"{metrics['support']} gold entities"
        )
        first = "entity type"
        total = ("all (micro)", metrics["precision"], metrics["recall"], metrics["f1"], metrics["support"])
    else:
        summary = (
            f"accuracy {number(metrics['accuracy'])}; macro F1 {number(metrics['macro_f1'])}, weighted F1 "
            f"{number(metrics['weighted_f1'])}; {metrics['n']} sentences, {metrics['n_tokens']} tokens"
        )
        first = "tag"
        total = None
    lines = [summary, "", f"| {first} | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, s in per_label.items():
        lines.append(
            f"| {label} | {number(s['precision'])} | {number(s['recall'])} | {number(s['f1'])} | {s['support']} |"
        )
    if total is not None:
        name, p, r, f, n = total
        lines.append(f"| **{name}** | {number(p)} | {number(r)} | {number(f)} | {n} |")
    return "\n".join(lines)
