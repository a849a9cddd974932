"""Entity and tag scores, checked by hand and against seqeval (entities) and scikit-learn (tags)."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scriptbridge.evaluate.token_metrics import (
    entity_scores,
    entity_spans,
    format_token_report,
    tag_scores,
    token_classification_metrics,
)
from scriptbridge.tasks.tokens import labels_to_iob2

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TOLERANCE = 1e-9


# ---------------------------------------------------------------------------- entity spans by hand


@pytest.mark.parametrize(
    ("labels", "strict", "conlleval"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], {("PER", 0, 2), ("LOC", 3, 4)}, {("PER", 0, 2), ("LOC", 3, 4)}),
        # an entity opening with I-: no entity in strict mode, one in conlleval mode
        (["O", "I-PER", "I-PER"], set(), {("PER", 1, 3)}),
        (["I-PER", "B-PER", "I-PER"], {("PER", 1, 3)}, {("PER", 0, 1), ("PER", 1, 3)}),
        # a type change inside an entity ends it; the stray I-LOC run is an entity only when lenient
        (["B-PER", "I-PER", "I-LOC", "I-LOC"], {("PER", 0, 2)}, {("PER", 0, 2), ("LOC", 2, 4)}),
        (["B-PER", "B-PER"], {("PER", 0, 1), ("PER", 1, 2)}, {("PER", 0, 1), ("PER", 1, 2)}),
        (["B-ORG-X", "I-ORG-X"], {("ORG-X", 0, 2)}, {("ORG-X", 0, 2)}),
        ([], set(), set()),
        (["O", "O"], set(), set()),
    ],
)
def test_entity_spans_by_hand(labels, strict, conlleval):
    assert entity_spans(labels) == strict
    assert entity_spans(labels, mode="strict") == strict
    assert entity_spans(labels, mode="conlleval") == conlleval


def test_conlleval_mode_reads_iobes():
    assert entity_spans(["B-PER", "I-PER", "E-PER", "S-LOC", "I-LOC"], mode="conlleval") == {
        ("PER", 0, 3),
        ("LOC", 3, 4),
        ("LOC", 4, 5),
    }


def test_bad_labels_and_modes_are_errors():
    with pytest.raises(ValueError, match="gold sentence 0, token 1: label 'PER' is not O or B-TYPE/I-TYPE"):
        entity_scores([["O", "PER"]], [["O", "O"]])
    with pytest.raises(ValueError, match="token 0: label 'S-PER'"):
        entity_spans(["S-PER"], mode="strict")
    with pytest.raises(ValueError, match="unknown mode 'lenient'"):
        entity_spans(["O"], mode="lenient")


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    scores = entity_scores(gold, pred)
    # 2 of 4 predicted entities are right (PER, ORG in sentence 1), 2 of 3 gold entities found
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert scores["support"] == 3 and scores["mode"] == "strict"
    assert scores["per_label"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert scores["per_label"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["per_label"]["ORG"]["precision"] == pytest.approx(0.5)
    assert list(scores["per_label"]) == ["LOC", "ORG", "PER"]


def test_no_entities_anywhere_scores_zero():
    scores = entity_scores([["O", "O"]], [["O", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"], scores["support"]) == (0.0, 0.0, 0.0, 0)
    assert scores["per_label"] == {}


def test_entities_do_not_cross_sentences():
    # I-PER opening sentence 1 does not continue sentence 0's entity, even in conlleval mode
    gold = [["B-PER"], ["I-PER"]]
    assert entity_scores(gold, [["B-PER"], ["B-PER"]], mode="conlleval")["f1"] == 1.0
    assert entity_scores(gold, [["B-PER"], ["O"]], mode="strict")["f1"] == 1.0


def test_shape_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match="sentence 1: 2 gold labels but 1 predicted"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        tag_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0: expected a list of labels"):
        token_classification_metrics(["NOUN"], [["NOUN"]])


# ---------------------------------------------------------------------------- against seqeval

TYPES = ("PER", "LOC", "ORG")
IOB_LABELS = ["O", *(f"{p}-{t}" for t in TYPES for p in "BI")]
IOBES_LABELS = IOB_LABELS + [f"{p}-{t}" for t in TYPES for p in "ES"]


def _sentences(alphabet: list[str]):
    # mostly-O sentences look like real NER; the rest of the alphabet makes invalid sequences often
    label = st.one_of(st.just("O"), st.sampled_from(alphabet))
    return st.lists(st.lists(label, min_size=0, max_size=12), min_size=1, max_size=6)


def _paired(alphabet: list[str]):
    return _sentences(alphabet).flatmap(
        lambda gold: st.tuples(
            st.just(gold),
            st.tuples(
                *(st.lists(st.sampled_from(alphabet), min_size=len(s), max_size=len(s)) for s in gold)
            ).map(list),
        )
    )


def _seqeval(gold, pred, strict: bool) -> dict:
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    kw = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0/0 warnings: both sides define it as 0
        report = classification_report(gold, pred, output_dict=True, **kw)
        return {
            "precision": precision_score(gold, pred, **kw),
            "recall": recall_score(gold, pred, **kw),
            "f1": f1_score(gold, pred, **kw),
            "per_label": {
                k: v for k, v in report.items() if k not in ("micro avg", "macro avg", "weighted avg")
            },
        }


def _assert_matches_seqeval(gold, pred, mode: str) -> None:
    ours = entity_scores(gold, pred, mode=mode)
    reference = _seqeval(gold, pred, strict=mode == "strict")
    for key in ("precision", "recall", "f1"):
        assert ours[key] == pytest.approx(float(reference[key]), abs=TOLERANCE), key
    assert set(ours["per_label"]) == set(reference["per_label"])
    for kind, theirs in reference["per_label"].items():
        mine = ours["per_label"][kind]
        assert mine["precision"] == pytest.approx(float(theirs["precision"]), abs=TOLERANCE)
        assert mine["recall"] == pytest.approx(float(theirs["recall"]), abs=TOLERANCE)
        assert mine["f1"] == pytest.approx(float(theirs["f1-score"]), abs=TOLERANCE)
        assert mine["support"] == int(theirs["support"])


@settings(max_examples=300, deadline=None)
@given(_paired(IOB_LABELS))
def test_strict_mode_matches_seqeval_strict_iob2(pair):
    _assert_matches_seqeval(*pair, mode="strict")


@settings(max_examples=300, deadline=None)
@given(_paired(IOB_LABELS))
def test_conlleval_mode_matches_seqeval_default(pair):
    _assert_matches_seqeval(*pair, mode="conlleval")


@settings(max_examples=200, deadline=None)
@given(_paired(IOBES_LABELS))
def test_conlleval_mode_matches_seqeval_default_on_iobes(pair):
    _assert_matches_seqeval(*pair, mode="conlleval")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(IOB_LABELS), max_size=15))
def test_iob2_repair_makes_strict_read_what_conlleval_reads(labels):
    # labels_to_iob2 turns every entity conlleval sees into a well-formed B-X I-X... one
    repaired = labels_to_iob2(labels)
    assert entity_spans(repaired, mode="strict") == entity_spans(labels, mode="conlleval")
    assert labels_to_iob2(repaired) == repaired


# ---------------------------------------------------------------------------- tags (POS)


def test_tag_scores_by_hand():
    gold = [["NOUN", "VERB", "NOUN"], ["ADJ"]]
    pred = [["NOUN", "NOUN", "NOUN"], ["ADV"]]
    scores = tag_scores(gold, pred)
    assert scores["accuracy"] == pytest.approx(0.5) and scores["n_tokens"] == 4
    assert scores["per_label"]["NOUN"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    # ADV is only predicted: it still counts in the macro average, with F1 0
    assert list(scores["per_label"]) == ["ADJ", "ADV", "NOUN", "VERB"]
    assert scores["macro_f1"] == pytest.approx(0.8 / 4)
    assert scores["weighted_f1"] == pytest.approx(0.8 * 2 / 4)


@settings(max_examples=100, deadline=None)
@given(_paired(["NOUN", "VERB", "ADJ", "PUNCT", "X"]))
def test_tag_scores_match_scikit_learn(pair):
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    gold, pred = pair
    flat_gold = [t for s in gold for t in s]
    flat_pred = [t for s in pred for t in s]
    scores = tag_scores(gold, pred)
    if not flat_gold:
        assert scores["accuracy"] == 0.0 and scores["n_tokens"] == 0
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert scores["accuracy"] == pytest.approx(accuracy_score(flat_gold, flat_pred), abs=TOLERANCE)
        assert scores["macro_f1"] == pytest.approx(
            f1_score(flat_gold, flat_pred, average="macro"), abs=TOLERANCE
        )
        weighted = f1_score(flat_gold, flat_pred, average="weighted")
        assert scores["weighted_f1"] == pytest.approx(weighted, abs=TOLERANCE)
        tags = sorted(set(flat_gold) | set(flat_pred))
        p, r, f, support = precision_recall_fscore_support(flat_gold, flat_pred, labels=tags, zero_division=0)
    for i, tag in enumerate(tags):
        mine = scores["per_label"][tag]
        assert (mine["precision"], mine["recall"], mine["f1"]) == pytest.approx(
            (p[i], r[i], f[i]), abs=TOLERANCE
        )
        assert mine["support"] == support[i]


# ---------------------------------------------------------------------------- the combined metrics


def test_token_classification_metrics_detects_ner():
    gold = [["I-PER", "I-PER", "O"], ["B-LOC", "O", "O"]]
    pred = [["I-PER", "I-PER", "O"], ["B-LOC", "O", "B-ORG"]]
    metrics = token_classification_metrics(gold, pred)
    assert metrics["scheme"] == "iob2" and metrics["n"] == 2 and metrics["n_tokens"] == 6
    # strict: only the LOC entity exists in gold; conlleval also sees the IOB1-style PER entity
    assert metrics["support"] == 1 and metrics["recall"] == 1.0 and metrics["precision"] == pytest.approx(0.5)
    assert metrics["f1_conlleval"] == pytest.approx(0.8)
    assert metrics["precision_conlleval"] == pytest.approx(2 / 3) and metrics["recall_conlleval"] == 1.0
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert set(metrics["per_label"]) == {"LOC", "ORG"} and set(metrics["per_label_conlleval"]) == {
        "PER",
        "LOC",
        "ORG",
    }


def test_token_classification_metrics_for_tags_and_forced_schemes():
    gold = [["NOUN", "VERB"]]
    metrics = token_classification_metrics(gold, [["NOUN", "NOUN"]])
    assert metrics["scheme"] == "tags" and metrics["n"] == 1 and metrics["accuracy"] == 0.5
    assert "macro_f1" in metrics and "f1_conlleval" not in metrics
    forced = token_classification_metrics([["B-PER", "O"]], [["B-PER", "O"]], scheme="tags")
    assert forced["scheme"] == "tags" and forced["per_label"]["B-PER"]["f1"] == 1.0
    with pytest.raises(ValueError, match="unknown scheme 'bio'"):
        token_classification_metrics(gold, gold, scheme="bio")


def test_format_token_report():
    ner = format_token_report(token_classification_metrics([["B-PER", "O", "B-LOC"]], [["B-PER", "O", "O"]]))
    assert "entity F1 0.667 (strict IOB2), 0.667 (conlleval)" in ner
    assert "| PER | 1.000 | 1.000 | 1.000 | 1 |" in ner
    assert "| LOC | 0.000 | 0.000 | 0.000 | 1 |" in ner
    assert "| **all (micro)** | 1.000 | 0.500 | 0.667 | 2 |" in ner
    pos = format_token_report(token_classification_metrics([["NOUN", "VERB"]], [["NOUN", "NOUN"]]))
    assert pos.startswith("accuracy 0.500; macro F1 0.333")
    assert "| NOUN | 0.500 | 1.000 | 0.667 | 1 |" in pos


# ---------------------------------------------------------------------------- real data


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return path


def _perturb(gold: list[list[str]], seed: int = 0) -> list[list[str]]:
    """Predictions a plausible tagger could make: about 20% of entities change type, some boundaries
    shift, some B- become I- (invalid IOB2), some entities are missed, some spurious ones appear."""
    rng = random.Random(seed)
    types = sorted({label[2:] for s in gold for label in s if label != "O"})
    pred = []
    for sentence in gold:
        out = list(sentence)
        for kind, start, end in sorted(entity_spans(sentence, mode="conlleval"), key=lambda e: e[1]):
            roll = rng.random()
            if roll < 0.2:
                new = rng.choice([t for t in types if t != kind] or [kind])
                out[start:end] = [f"B-{new}"] + [f"I-{new}"] * (end - start - 1)
            elif roll < 0.3 and end < len(out):
                out[end] = f"I-{kind}"  # one token too long
            elif roll < 0.4 and end - start > 1:
                out[end - 1] = "O"  # one token too short
            elif roll < 0.5:
                out[start] = f"I-{kind}"  # IOB1-style start: strict and conlleval disagree
            elif roll < 0.55:
                out[start:end] = ["O"] * (end - start)
        for i, label in enumerate(out):
            if label == "O" and rng.random() < 0.02:
                out[i] = f"{rng.choice('BI')}-{rng.choice(types)}"
        pred.append(out)
    return pred


@pytest.mark.slow
@pytest.mark.parametrize(
    ("relative", "limit"),
    [
        ("cjkv_phonemic/download/full_updated_panx/test-vi.tsv", None),
        # character-level Chinese PAN-X: its gold has entities opening with I- after a '#' space token
        ("cjkv_phonemic/download/full_updated_panx/test-zh.tsv", 2000),
        ("hiner/validation.conll", 3000),
    ],
)
def test_real_ner_against_seqeval(relative, limit):
    from scriptbridge.tasks.tokens import read_tokens

    data = read_tokens(_shared(relative), limit=limit)
    pred = _perturb(data.labels)
    for mode in ("strict", "conlleval"):
        _assert_matches_seqeval(data.labels, pred, mode)
    metrics = token_classification_metrics(data.labels, pred)
    assert metrics["scheme"] == "iob2" and metrics["n"] == len(data)
    assert 0.3 < metrics["f1"] < 0.95 and 0.3 < metrics["f1_conlleval"] < 0.95
    # a perfect tagger scores 1 in both modes
    perfect = token_classification_metrics(data.labels, data.labels)
    assert perfect["f1"] == 1.0 and perfect["f1_conlleval"] == 1.0 and perfect["accuracy"] == 1.0


UPOS = ["NOUN", "VERB", "ADJ", "ADP", "PUNCT", "SCONJ", "SYM", "INTJ", "PROPN", "X", "O", "B-PER", "I-PER"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.integers(min_value=1, max_value=7).flatmap(
            lambda n: st.tuples(
                st.lists(st.sampled_from(UPOS), min_size=n, max_size=n),
                st.lists(st.sampled_from(UPOS), min_size=n, max_size=n),
            )
        ),
        min_size=1,
        max_size=5,
    )
)
def test_seqeval_tag_f1_equals_seqeval_on_raw_tags(pairs) -> None:
    """The "POS F1" of XTREME / PhoneXL: seqeval's default mode applied to un-prefixed tags."""
    from seqeval.metrics import f1_score

    from scriptbridge.evaluate.token_metrics import seqeval_tag_f1

    gold = [list(g) for g, _ in pairs]
    pred = [list(p) for _, p in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = f1_score(gold, pred)
    assert seqeval_tag_f1(gold, pred) == pytest.approx(expected, abs=1e-9)


def test_seqeval_tag_f1_merges_runs_of_one_tag() -> None:
    from scriptbridge.evaluate.token_metrics import seqeval_tag_f1, tag_scores

    gold = [["NOUN", "NOUN", "VERB"]]
    # one token wrong splits the NOUN run: of the 2 gold chunks only VERB is found among 3 predicted
    assert seqeval_tag_f1(gold, [["NOUN", "ADJ", "VERB"]]) == pytest.approx(
        2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)
    )
    assert tag_scores(gold, gold)["f1_seqeval"] == 1.0
