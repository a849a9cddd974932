"""Word pooling, the word_ids bridge from a real fast tokenizer, and the token classification head
(linear and CRF): losses against hand computations, decoding shapes, config and state_dict round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scriptbridge.objectives.crf import iob2_allowed_transitions
from scriptbridge.objectives.token_classification import (
    TokenClassificationHead,
    TokenClassificationLoss,
    pool_words,
    word_ids_tensor,
    words_present,
)

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def random_word_ids(batch: int, seq_len: int, n_words: int, generator: torch.Generator) -> torch.Tensor:
    """Rows like ``-1 0 0 1 2 2 2 -1 -1``: specials, words of 1-3 subwords, -1 gaps, padding,
    and sometimes fewer words than ``n_words`` (truncation)."""
    rows = torch.full((batch, seq_len), -1, dtype=torch.long)
    for b in range(batch):
        s = 1  # position 0 is a [CLS]-like special
        for word in range(n_words):
            pieces = int(torch.randint(1, 4, (1,), generator=generator))
            if s + pieces > seq_len:
                break
            rows[b, s : s + pieces] = word
            s += pieces + int(torch.rand(1, generator=generator) < 0.2)  # an occasional -1 gap
    return rows


def hand_pool(hidden: torch.Tensor, word_ids: torch.Tensor, n_words: int, mode: str) -> torch.Tensor:
    out = torch.zeros(hidden.shape[0], n_words, hidden.shape[2], dtype=hidden.dtype)
    for b in range(hidden.shape[0]):
        for w in range(n_words):
            positions = [s for s in range(hidden.shape[1]) if word_ids[b, s] == w]
            if positions:
                out[b, w] = hidden[b, positions[0]] if mode == "first" else hidden[b, positions].mean(0)
    return out


@pytest.mark.parametrize("mode", ["first", "mean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pool_words_matches_a_hand_loop(mode: str, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    n_words = 6
    word_ids = random_word_ids(4, 14, n_words, generator)
    hidden = torch.randn(4, 14, 5, generator=generator)
    pooled = pool_words(hidden, word_ids, n_words, mode=mode)
    assert pooled.shape == (4, n_words, 5)
    assert torch.allclose(pooled, hand_pool(hidden, word_ids, n_words, mode), atol=1e-6)
    # Words that lost all their subwords are zero vectors, and words_present says which they are.
    present = words_present(word_ids, n_words)
    assert torch.equal(present, torch.stack([(word_ids == w).any(1) for w in range(n_words)], dim=1))
    assert (pooled[~present] == 0).all()


def test_pool_words_gradients_reach_the_right_subwords() -> None:
    hidden = torch.randn(1, 6, 3, requires_grad=True)
    word_ids = torch.tensor([[-1, 0, 0, 1, -1, -1]])
    pool_words(hidden, word_ids, 2, mode="first").sum().backward()
    # Only the first subword of each word (positions 1 and 3) feeds the output.
    assert hidden.grad.abs().sum(-1)[0].nonzero().flatten().tolist() == [1, 3]
    hidden.grad = None
    pool_words(hidden, word_ids, 2, mode="mean").sum().backward()
    assert torch.allclose(hidden.grad[0, :, 0], torch.tensor([0.0, 0.5, 0.5, 1.0, 0.0, 0.0]))


def test_pool_words_ignores_ids_past_n_words_and_keeps_bf16() -> None:
    hidden = torch.randn(1, 4, 2).bfloat16()
    word_ids = torch.tensor([[0, 1, 2, 3]])
    for mode in ("first", "mean"):
        pooled = pool_words(hidden, word_ids, 2, mode=mode)
        assert pooled.dtype == torch.bfloat16
        assert torch.equal(pooled[0], hidden[0, :2])
    with pytest.raises(ValueError):
        pool_words(hidden, word_ids, 2, mode="max")


def test_word_ids_tensor_from_a_real_fast_tokenizer(tiny_encoder_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder_dir))
    sentences = [["the", "cat", "sat", "teatrain"], ["hello", "world"]]
    encoded = tokenizer(sentences, is_split_into_words=True, padding=True, return_tensors="pt")
    seq_len = encoded["input_ids"].shape[1]
    word_ids = word_ids_tensor([encoded.word_ids(i) for i in range(len(sentences))], seq_len)

    assert word_ids.shape == (2, seq_len)
    for i, words in enumerate(sentences):
        expected = [-1 if w is None else w for w in encoded.word_ids(i)]
        assert word_ids[i].tolist() == expected
        # Exactly the specials and the padding are -1; every word is there, with as many subwords as
        # it tokenizes to on its own.
        special_ids = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
        is_special = [token in special_ids for token in encoded["input_ids"][i].tolist()]
        assert (word_ids[i] == -1).tolist() == is_special
        for w, word in enumerate(words):
            assert (word_ids[i] == w).sum().item() == len(tokenizer.tokenize(word))
    assert (word_ids[0] == 3).sum() > 1  # the made-up word "teatrain" really is split into subwords

    hidden = torch.randn(2, seq_len, 4)
    pooled = pool_words(hidden, word_ids, 4, mode="mean")
    assert torch.allclose(pooled, hand_pool(hidden, word_ids, 4, "mean"), atol=1e-6)
    assert words_present(word_ids, 4).tolist() == [[True] * 4, [True, True, False, False]]


def test_word_ids_tensor_pads_and_rejects_overlong_rows() -> None:
    assert word_ids_tensor([[None, 0, 1, None], [None, 0, None]], 5).tolist() == [
        [-1, 0, 1, -1, -1],
        [-1, 0, -1, -1, -1],
    ]
    assert word_ids_tensor([[]], 2).tolist() == [[-1, -1]]
    with pytest.raises(ValueError):
        word_ids_tensor([[None, 0, 0, None]], 3)


# -- the head ---------------------------------------------------------------------------------------


def test_linear_head_loss_is_cross_entropy_over_masked_labelled_words() -> None:
    torch.manual_seed(0)
    head = TokenClassificationHead(8, 5, dropout=0.0).eval()
    states = torch.randn(2, 4, 8)
    labels = torch.tensor([[0, 3, -100, 1], [2, 4, 0, 0]])
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    logits = head(states)
    assert logits.shape == (2, 4, 5)
    keep = [(0, 0), (0, 1), (0, 3), (1, 0), (1, 1)]  # -100 and mask=False positions are skipped
    expected = torch.stack(
        [torch.nn.functional.cross_entropy(logits[b, w], labels[b, w]) for b, w in keep]
    ).mean()
    assert head.loss(states, labels, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    # Changing what sits at ignored positions changes nothing.
    changed = labels.clone()
    changed[1, 2:] = 3
    assert head.loss(states, changed, mask).item() == pytest.approx(expected.item(), rel=1e-6)

    decoded = head.decode(states, mask)
    assert [len(p) for p in decoded] == [4, 2]
    assert decoded[0] == logits[0].argmax(-1).tolist()


def test_linear_head_with_nothing_to_learn_gives_zero_not_nan() -> None:
    head = TokenClassificationHead(8, 3)
    states = torch.randn(2, 3, 8, requires_grad=True)
    loss = head.loss(states, torch.full((2, 3), -100), torch.ones(2, 3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(states.grad).all()


def test_crf_head_loss_decode_and_constraints() -> None:
    torch.manual_seed(0)
    head = TokenClassificationHead(8, 5, dropout=0.0, crf=True, labels=NER_LABELS).eval()
    start, trans, end = iob2_allowed_transitions(NER_LABELS)
    assert torch.equal(head.crf.allowed_transitions, trans) and torch.equal(head.crf.allowed_start, start)

    states = torch.randn(3, 5, 8, requires_grad=True)
    labels = torch.tensor([[1, 2, 0, 3, 4], [0, 1, 2, -100, -100], [-100] * 5])
    mask = labels != -100
    loss = head.loss(states, labels, mask)
    expected = head.crf(head(states), labels, mask, reduction="none").mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() > 0
    loss.backward()
    assert states.grad.abs().sum() > 0 and head.crf.transitions.grad is not None
    assert head.loss(states, labels).item() == pytest.approx(loss.item())  # mask defaults to labels != -100

    decoded = head.decode(states, mask)
    assert [len(p) for p in decoded] == [5, 3, 0]
    for path in decoded:
        for previous, tag in zip([0, *path], path, strict=False):
            if NER_LABELS[tag].startswith("I-"):
                assert NER_LABELS[previous][2:] == NER_LABELS[tag][2:] and NER_LABELS[previous] != "O"

    with pytest.raises(ValueError, match="-100"):
        head.loss(states, labels, torch.ones(3, 5, dtype=torch.bool))


def test_crf_constraints_only_for_iob2_labels_when_asked() -> None:
    pos = TokenClassificationHead(8, 3, crf=True, labels=["NOUN", "VERB", "ADJ"])
    assert pos.crf.allowed_transitions.all()
    unconstrained = TokenClassificationHead(8, 5, crf=True, labels=NER_LABELS, constrain_iob2=False)
    assert unconstrained.crf.allowed_transitions.all()
    assert TokenClassificationHead(8, 5, labels=NER_LABELS).crf is None
    with pytest.raises(ValueError):
        TokenClassificationHead(8, 4, labels=NER_LABELS)


@pytest.mark.parametrize("crf", [False, True])
def test_config_and_state_dict_round_trip(crf: bool, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    head = TokenClassificationHead(8, 5, dropout=0.2, crf=crf, labels=NER_LABELS)
    cfg = json.loads(json.dumps(head.config()))
    assert cfg == {
        "hidden_size": 8,
        "num_labels": 5,
        "crf": crf,
        "labels": NER_LABELS,
        "dropout": 0.2,
        "constrain_iob2": True,
    }
    save_file(head.state_dict(), tmp_path / "head.safetensors")
    restored = TokenClassificationHead.from_config(cfg)
    restored.load_state_dict(load_file(tmp_path / "head.safetensors"), strict=True)

    head.eval()
    restored.eval()
    states = torch.randn(2, 4, 8)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    assert torch.equal(head(states), restored(states))
    assert head.decode(states, mask) == restored.decode(states, mask)


def test_token_classification_loss_reads_features() -> None:
    torch.manual_seed(0)
    head = TokenClassificationHead(8, 3, dropout=0.0)
    objective = TokenClassificationLoss(head)
    states = torch.randn(2, 3, 8)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    labels = torch.tensor([[0, 1, 2], [2, -100, -100]])
    loss = objective({"word_states": states, "word_mask": mask}, labels)
    assert loss.item() == pytest.approx(head.loss(states, labels, mask).item())
    assert objective({"word_states": states}, labels).item() == pytest.approx(loss.item())


def test_crf_head_trains_end_to_end_from_pooled_subwords() -> None:
    """Subword states -> pool_words -> CRF head: a few steps of Adam fit a small tagging set."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    word_ids = random_word_ids(16, 12, 5, generator)
    n_words = 5
    present = words_present(word_ids, n_words)
    hidden = torch.randn(16, 12, 8, generator=generator)
    states = pool_words(hidden, word_ids, n_words, mode="first")
    # The gold tag is a linear function of the word's first-subword state, so a perfect fit exists.
    teacher = torch.randn(8, 3, generator=generator) * 3
    labels = (states @ teacher).argmax(-1).masked_fill(~present, -100)
    # POS-like names: the CRF is unconstrained, any tag sequence is possible.
    head = TokenClassificationHead(8, 3, dropout=0.0, crf=True, labels=["NOUN", "VERB", "ADJ"])
    objective = TokenClassificationLoss(head)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
    features = {"word_states": states, "word_mask": present}
    first = objective(features, labels).item()
    for _ in range(200):
        optimizer.zero_grad()
        loss = objective(features, labels)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first
    gold = [row[: int(n)] for row, n in zip(labels.tolist(), present.sum(1), strict=True)]
    assert head.decode(states, present) == gold
