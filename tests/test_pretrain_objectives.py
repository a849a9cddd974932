"""Alignment pretraining objectives: MLM masking and loss, TLM pair inputs, TCM (contrastive, also under
torch.distributed with two gloo processes), TPP, and the torch.distributed helpers."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

from scriptbridge.objectives import ContrastiveAlignmentLoss, MaskedLMLoss, TranslationPairLoss, WordMLMHead
from scriptbridge.objectives.mlm import mask_tokens
from scriptbridge.objectives.tlm import concat_pair, pair_template, tlm_swap_flags
from scriptbridge.utils import distributed as du

# ---------------------------------------------------------------------------------------------- masking


def _big_batch(n: int = 200_000) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, 100, (n,), generator=g)
    special = torch.rand(n, generator=g) < 0.2
    ids[special] = 3  # a "special" id where special
    return ids, special


def test_mask_tokens_rates_and_labels():
    ids, special = _big_batch()
    pool = torch.arange(1000, 2000)  # disjoint from the inputs: a random replacement is recognisable
    masked, labels = mask_tokens(
        ids,
        special,
        mask_token_id=4,
        vocab_size=5000,
        generator=torch.Generator().manual_seed(0),
        random_ids=pool,
    )
    chosen = labels != -100
    assert masked.shape == ids.shape and labels.shape == ids.shape
    # special positions are never chosen nor changed
    assert not chosen[special].any()
    assert torch.equal(masked[special], ids[special])
    # labels: the original id exactly at the chosen positions; unchosen tokens unchanged
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])
    # 15% of the maskable tokens (about 160k here: binomial sd ~ 0.1%)
    rate = chosen.sum().item() / (~special).sum().item()
    assert abs(rate - 0.15) < 0.01
    # 80 / 10 / 10 among the chosen (~24k: sd ~ 0.3%)
    n = chosen.sum().item()
    to_mask = (masked[chosen] == 4).sum().item() / n
    to_random = ((masked[chosen] >= 1000) & (masked[chosen] < 2000)).sum().item() / n
    kept = (masked[chosen] == ids[chosen]).sum().item() / n
    assert abs(to_mask - 0.8) < 0.015 and abs(to_random - 0.1) < 0.01 and abs(kept - 0.1) < 0.01
    assert math.isclose(to_mask + to_random + kept, 1.0)
    # random replacements come from the pool only, and cover it
    replaced = masked[chosen & (masked != 4) & (masked != ids)]
    assert ((replaced >= 1000) & (replaced < 2000)).all()
    assert replaced.unique().numel() > 900


def test_mask_tokens_default_uniform_vocab_deterministic_and_shapes():
    ids = torch.randint(5, 50, (4, 3000), generator=torch.Generator().manual_seed(2))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    kwargs = dict(mask_token_id=1, vocab_size=60, ratio=0.5, replace=(0.0, 1.0, 0.0))
    m1, l1 = mask_tokens(ids, special, generator=torch.Generator().manual_seed(7), **kwargs)
    m2, l2 = mask_tokens(ids, special, generator=torch.Generator().manual_seed(7), **kwargs)
    m3, _ = mask_tokens(ids, special, generator=torch.Generator().manual_seed(8), **kwargs)
    assert torch.equal(m1, m2) and torch.equal(l1, l2)
    assert not torch.equal(m1, m3)
    assert not (l1[:, 0] != -100).any()
    chosen = l1 != -100
    # replace=(0, 1, 0): every chosen token is a uniform draw over the whole vocabulary [0, 60)
    assert m1[chosen].min() >= 0 and m1[chosen].max() < 60 and m1[chosen].unique().numel() == 60
    # ratio 0 chooses nothing, ratio 1 everything maskable
    _, none = mask_tokens(ids, special, mask_token_id=1, vocab_size=60, generator=None, ratio=0.0)
    assert (none == -100).all()
    _, every = mask_tokens(ids, special, mask_token_id=1, vocab_size=60, generator=None, ratio=1.0)
    assert torch.equal(every != -100, ~special)


def test_mask_tokens_validates():
    ids = torch.zeros(5, dtype=torch.long)
    special = torch.zeros(5, dtype=torch.bool)
    with pytest.raises(ValueError):
        mask_tokens(ids, special, mask_token_id=1, vocab_size=10, generator=None, ratio=1.5)
    with pytest.raises(ValueError):
        mask_tokens(ids, special, mask_token_id=1, vocab_size=10, generator=None, replace=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError):
        mask_tokens(ids, special[:4], mask_token_id=1, vocab_size=10, generator=None)
    with pytest.raises(ValueError):
        mask_tokens(
            ids, special, mask_token_id=1, vocab_size=10, generator=None, random_ids=torch.tensor([10])
        )


# -------------------------------------------------------------------------------------------- MLM loss


def _mlm_head(vocab: int = 11, hidden: int = 8) -> tuple[nn.Embedding, WordMLMHead]:
    torch.manual_seed(0)
    emb = nn.Embedding(vocab, hidden)
    head = WordMLMHead(emb)
    nn.init.normal_(head.dense.weight, std=0.5)
    nn.init.normal_(head.bias, std=0.5)
    return emb, head


def test_masked_lm_loss_matches_full_logits():
    emb, head = _mlm_head()
    loss_fn = MaskedLMLoss(head)
    states = torch.randn(9, 8, generator=torch.Generator().manual_seed(3), requires_grad=True)
    labels = torch.full((9,), -100)
    labels[[1, 4, 5, 8]] = torch.tensor([3, 0, 10, 3])
    loss = loss_fn({"token_states": states}, labels)
    # brute force: logits for every row, the softmax written out, mean over the targets
    h = head.layer_norm(nn.functional.gelu(head.dense(states)))
    logits = (h @ emb.weight.T + head.bias).double()
    rows = [1, 4, 5, 8]
    expected = sum(-torch.log_softmax(logits[r], dim=-1)[labels[r]] for r in rows) / len(rows)
    assert torch.allclose(loss.double(), expected, atol=1e-6)
    loss.backward()
    assert emb.weight.grad is not None and states.grad is not None
    assert torch.all(states.grad[[0, 2, 3, 6, 7]] == 0) and states.grad[1].abs().sum() > 0
    # padded [B, L, H] gives the same loss
    batched = loss_fn({"token_states": states.detach().reshape(3, 3, 8)}, labels.reshape(3, 3))
    assert torch.allclose(batched, loss.detach())


def test_masked_lm_loss_without_targets_is_zero_with_grad():
    _, head = _mlm_head()
    states = torch.randn(5, 8, requires_grad=True)
    loss = MaskedLMLoss(head)({"token_states": states}, torch.full((5,), -100))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(states.grad, torch.zeros_like(states))


# ------------------------------------------------------------------------------------------- TLM inputs

WORDS = ["a1", "a2", "a3", "a4", "a5", "a6", "b1", "b2", "b3"]


def _fast_tokenizer(style: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if style == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    else:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {t: i for i, t in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=specials[1] if style == "bert" else "<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if style == "bert":  # as in bert-base-multilingual-cased's tokenizer.json
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
            mask_token="[MASK]",
        )  # fmt: skip
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))  # as in xlm-roberta-base's
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )  # fmt: skip


class _PythonXLMRLike:
    """A tokenizer known only through the three layout methods (transformers 4's XLMRobertaTokenizer code)."""

    cls_token_id, sep_token_id = 0, 2

    def build_inputs_with_special_tokens(self, first, second=None):
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        return cls + first + sep if second is None else cls + first + sep + sep + second + sep

    def get_special_tokens_mask(self, first, second=None, already_has_special_tokens=False):
        assert not already_has_special_tokens
        if second is None:
            return [1] + [0] * len(first) + [1]
        return [1] + [0] * len(first) + [1, 1] + [0] * len(second) + [1]

    def create_token_type_ids_from_sequences(self, first, second=None):
        return [0] * (len(first) + 2 + (0 if second is None else len(second) + 2))


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_concat_pair_bert_layout():
    tok = _fast_tokenizer("bert")
    a, b = _ids(tok, "a1 a2"), _ids(tok, "b1 b2 b3")
    out = concat_pair(a, b, tok, swap=False, restart_positions=False)
    assert out["input_ids"] == [2, *a, 3, *b, 3]
    assert out["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert out["special"] == [True, False, False, True, False, False, False, True]
    assert out["position_ids"] == list(range(8))
    # the same as the tokenizer's own pair encoding
    ref = tok("a1 a2", "b1 b2 b3", return_token_type_ids=True)
    assert out["input_ids"] == ref["input_ids"] and out["token_type_ids"] == ref["token_type_ids"]
    restarted = concat_pair(a, b, tok, swap=False, restart_positions=True)
    assert restarted["position_ids"] == [0, 1, 2, 3, 0, 1, 2, 3]  # [CLS] a a [SEP] | b b b [SEP]
    swapped = concat_pair(a, b, tok, swap=True, restart_positions=True, position_offset=1)
    assert swapped["input_ids"] == [2, *b, 3, *a, 3]
    assert swapped["token_type_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert swapped["position_ids"] == [1, 2, 3, 4, 5, 1, 2, 3]


def test_concat_pair_xlmr_layout():
    tok = _fast_tokenizer("xlmr")
    a, b = _ids(tok, "a1 a2"), _ids(tok, "b1 b2")
    out = concat_pair(a, b, tok, swap=False, restart_positions=True, position_offset=2)
    assert out["input_ids"] == [0, *a, 2, 2, *b, 2]  # <s> A </s></s> B </s>
    assert out["input_ids"] == tok("a1 a2", "b1 b2")["input_ids"]
    assert out["token_type_ids"] == [0] * 8
    assert out["special"] == [True, False, False, True, True, False, False, True]
    # the second segment starts after both separators, counting from padding_idx + 1 = 2
    assert out["position_ids"] == [2, 3, 4, 5, 6, 2, 3, 4]
    plain = concat_pair(a, b, tok, swap=False, restart_positions=False, position_offset=2)
    assert plain["position_ids"] == list(range(2, 10))
    # the same layout from a tokenizer known only through its methods, and from a bare tokenizers.Tokenizer
    for other in (_PythonXLMRLike(), tok.backend_tokenizer):
        assert concat_pair(a, b, other, swap=False, restart_positions=True, position_offset=2) == out
    assert [kind for kind, _, _ in pair_template(_PythonXLMRLike())] == ["S", "A", "S", "S", "B", "S"]


def test_concat_pair_truncates_longest_first():
    bert, xlmr = _fast_tokenizer("bert"), _fast_tokenizer("xlmr")
    long, short = _ids(bert, "a1 a2 a3 a4 a5 a6"), _ids(bert, "b1 b2")
    out = concat_pair(long, short, bert, swap=False, restart_positions=True, max_length=8)  # 3 specials
    assert out["input_ids"] == [2, *long[:3], 3, *short, 3]
    assert out["position_ids"] == [0, 1, 2, 3, 4, 0, 1, 2]
    swapped = concat_pair(long, short, bert, swap=True, restart_positions=False, max_length=8)
    assert swapped["input_ids"] == [2, *short, 3, *long[:3], 3]
    # the lengths kept are those of the tokenizer's own longest_first truncation (on a tie the second text
    # keeps the extra token of an odd budget)
    texts_a = [" ".join(WORDS[:n]) for n in range(1, 7)]  # ("" would be no second text at all)
    texts_b = [" ".join((WORDS[6:] * 2)[:n]) for n in range(1, 6)]
    for text_a in texts_a:
        for text_b in texts_b:
            for max_length in (4, 5, 6, 7, 9, 12):
                ids_a, ids_b = _ids(xlmr, text_a), _ids(xlmr, text_b)
                out = concat_pair(
                    ids_a, ids_b, xlmr, swap=False, restart_positions=False, max_length=max_length
                )
                ref = xlmr(text_a, text_b, truncation="longest_first", max_length=max_length)["input_ids"]
                assert out["input_ids"] == ref, (text_a, text_b, max_length)
    a, b = _ids(xlmr, "a1 a2 a3 a4"), _ids(xlmr, "b1 b2 b3")
    out = concat_pair(a, b + b[:1], xlmr, swap=False, restart_positions=False, max_length=9)  # 4 specials
    assert out["input_ids"] == [0, *a[:2], 2, 2, *b, 2]
    # nothing to cut: unchanged; too short for the specials: an error
    assert concat_pair(a, b, xlmr, swap=False, restart_positions=False, max_length=64)["input_ids"] == [
        0, *a, 2, 2, *b, 2,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        concat_pair(a, b, xlmr, swap=False, restart_positions=False, max_length=3)
    # an empty second text still restarts where it would begin
    empty = concat_pair(a, [], xlmr, swap=False, restart_positions=True)
    assert empty["input_ids"] == [0, *a, 2, 2, 2] and empty["position_ids"] == [0, 1, 2, 3, 4, 5, 6, 0]


def test_tlm_swap_flags():
    flags = tlm_swap_flags(4000, torch.Generator().manual_seed(0))
    assert len(flags) == 4000 and all(isinstance(f, bool) for f in flags)
    assert abs(sum(flags) / 4000 - 0.5) < 0.03
    assert flags == tlm_swap_flags(4000, torch.Generator().manual_seed(0))


# -------------------------------------------------------------------------------------------------- TCM


def _tcm_reference(a, b, a_ids, b_ids, similarity: str, temperature: float) -> torch.Tensor:
    """The NT-Xent loss written out anchor by anchor, in float64, with explicit candidate lists."""
    a, b = a.double(), b.double()
    if similarity == "cosine":
        a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    z = torch.cat([a, b])
    n = a.shape[0]
    ids = None if a_ids is None else torch.cat([a_ids, b_ids]).tolist()
    total = torch.zeros((), dtype=torch.float64)
    for i in range(2 * n):
        p = i + n if i < n else i - n
        candidates = []
        for j in range(2 * n):
            if j == i:
                continue
            if j != p and ids is not None and ids[j] in (ids[i], ids[p]):
                continue  # the same text as the anchor or its partner: not a negative
            candidates.append(j)
        scores = torch.stack([z[i] @ z[j] / temperature for j in candidates])
        total = total - (z[i] @ z[p] / temperature - torch.logsumexp(scores, dim=0))
    return total / (2 * n)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_contrastive_loss_matches_reference(similarity: str):
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    loss_fn = ContrastiveAlignmentLoss(similarity=similarity, temperature=0.5)
    loss = loss_fn({"a": a, "b": b})
    assert torch.allclose(loss.double(), _tcm_reference(a, b, None, None, similarity, 0.5), atol=1e-5)
    assert torch.allclose(loss, loss_fn.compute_loss_from_embeddings(a, b))


def test_contrastive_loss_masks_duplicates_and_flows_to_both_sides():
    g = torch.Generator().manual_seed(5)
    a = torch.randn(4, 6, generator=g, requires_grad=True)
    b = torch.randn(4, 6, generator=g, requires_grad=True)
    a_ids = torch.tensor([10, 11, 12, 13])
    b_ids = torch.tensor([20, 21, 22, 21])  # pairs 1 and 3 have the same second text
    loss_fn = ContrastiveAlignmentLoss(similarity="cosine", temperature=0.1)
    loss = loss_fn({"a": a, "b": b, "a_ids": a_ids, "b_ids": b_ids})
    expected = _tcm_reference(a.detach(), b.detach(), a_ids, b_ids, "cosine", 0.1)
    assert torch.allclose(loss.double(), expected, atol=1e-5)
    unmasked = loss_fn({"a": a, "b": b})
    assert not torch.allclose(loss, unmasked, atol=1e-3)  # the duplicate did count as a negative before
    # distinct ids change nothing
    distinct = loss_fn({"a": a, "b": b, "a_ids": a_ids, "b_ids": torch.tensor([20, 21, 22, 23])})
    assert torch.allclose(distinct, unmasked)
    loss.backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


# -------------------------------------------------------------------------------------------------- TPP


def test_translation_pair_negatives_are_never_known_pairs():
    a_ids = torch.tensor([0, 1, 2, 0, 4, 5, 6, 7])
    b_ids = torch.tensor([10, 11, 12, 13, 11, 15, 16, 10])  # a text 0 has two translations, b texts repeat
    known = {(int(x), int(y)) for x, y in zip(a_ids, b_ids, strict=True)}
    seen = set()
    for seed in range(50):
        j = TranslationPairLoss.sample_negatives(8, a_ids, b_ids, torch.Generator().manual_seed(seed))
        for i in range(8):
            assert j[i] >= 0 and j[i] != i
            assert (int(a_ids[i]), int(b_ids[j[i]])) not in known
            assert b_ids[j[i]] != b_ids[i] and a_ids[j[i]] != a_ids[i]
            seen.add((i, int(j[i])))
    # (0, 7) would pair text 0 with text 10, its own translation; (3, 0) text 0 with 10 through pair 0
    assert (0, 7) not in seen and (3, 0) not in seen and (3, 7) not in seen
    assert len(seen) > 30  # random, not a fixed choice
    # no valid partner: -1
    same = TranslationPairLoss.sample_negatives(3, torch.tensor([1, 1, 1]), torch.tensor([2, 3, 4]))
    assert same.tolist() == [-1, -1, -1]


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(x))


def test_translation_pair_loss_by_hand():
    a = torch.tensor([[1.0, 0.5], [-0.3, 0.2]])
    b = torch.tensor([[0.4, -1.0], [0.7, 0.1]])
    loss = TranslationPairLoss()({"a": a, "b": b})
    # B = 2: the negatives are (a0, b1) and (a1, b0); BCE(label 1) = softplus(-x), BCE(label 0) = softplus(x)
    pos = [a[0] @ b[0], a[1] @ b[1]]
    neg = [a[0] @ b[1], a[1] @ b[0]]
    expected = (sum(_softplus(-x) for x in pos) + sum(_softplus(x) for x in neg)) / 4
    assert torch.allclose(loss, expected)
    # a fixed generator: the negatives drawn are those of sample_negatives with the same seed
    g = torch.Generator().manual_seed(3)
    a4, b4 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    ids = torch.arange(4)
    j = TranslationPairLoss.sample_negatives(4, ids, ids + 10, torch.Generator().manual_seed(9))
    got = TranslationPairLoss()(
        {"a": a4, "b": b4, "a_ids": ids, "b_ids": ids + 10, "generator": torch.Generator().manual_seed(9)}
    )
    by_hand = sum(_softplus(-(a4[i] @ b4[i])) + _softplus(a4[i] @ b4[j[i]]) for i in range(4)) / 8
    assert torch.allclose(got, by_hand)
    # a batch of one, or no valid negative: the positives only
    assert torch.allclose(TranslationPairLoss()({"a": a[:1], "b": b[:1]}), _softplus(-(a[0] @ b[0])))
    dup = TranslationPairLoss()(
        {"a": a, "b": b, "a_ids": torch.tensor([5, 5]), "b_ids": torch.tensor([6, 7])}
    )
    assert torch.allclose(dup, (_softplus(-pos[0]) + _softplus(-pos[1])) / 2)


def test_translation_pair_projection():
    assert sum(p.numel() for p in TranslationPairLoss().parameters()) == 0
    loss_fn = TranslationPairLoss(hidden_size=3, projection=True)
    assert sum(p.numel() for p in loss_fn.parameters()) == 3 * 3 + 3
    a = torch.randn(1, 3, requires_grad=True)
    b = torch.randn(1, 3)
    loss = loss_fn({"a": a, "b": b})
    f = loss_fn.projection
    assert torch.allclose(loss, _softplus(-(f(a)[0] @ f(b)[0])))
    loss.backward()
    assert f.weight.grad is not None and a.grad is not None
    with pytest.raises(ValueError):
        TranslationPairLoss(projection=True)


# ------------------------------------------------------------------------------------------ distributed


def test_distributed_helpers_single_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert du.init_from_env() is False
    assert du.world_size() == 1 and du.rank() == 0 and not du.is_distributed()
    x = torch.randn(3, 2)
    assert du.gather_with_grad(x) is x and du.gather_no_grad(x) is x
    p = nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 3.0)
    du.average_gradients([p])
    assert torch.equal(p.grad, torch.full((2,), 3.0))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain_gather(x: torch.Tensor) -> torch.Tensor:
    """The classic mistake: all_gather into plain buffers (the other ranks' rows carry no gradient)."""
    parts = [torch.empty_like(x) for _ in range(du.world_size())]
    torch.distributed.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def _tcm_step(encoder: nn.Linear, data: dict, rows: slice) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    loss_fn = ContrastiveAlignmentLoss(similarity="cosine", temperature=0.1)
    features = {
        "a": encoder(data["xa"][rows]),
        "b": encoder(data["xb"][rows]),
        "a_ids": data["a_ids"][rows],
        "b_ids": data["b_ids"][rows],
    }
    loss = loss_fn(features)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in encoder.named_parameters()}


def _distributed_worker(rank: int, port: int, data_path: str, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    assert du.init_from_env("gloo") and du.world_size() == 2 and du.rank() == rank
    data = torch.load(data_path)
    rows = slice(rank * 4, rank * 4 + 4)
    results = {}
    try:
        for variant in ("differentiable", "plain"):
            encoder = nn.Linear(6, 4)
            encoder.load_state_dict(data["state"])
            original = du.gather_with_grad
            if variant == "plain":
                du.gather_with_grad = _plain_gather
            try:
                loss, _ = _tcm_step(encoder, data, rows)
            finally:
                du.gather_with_grad = original
            du.average_gradients(encoder.parameters())
            results[variant] = {"loss": loss, **{n: p.grad.clone() for n, p in encoder.named_parameters()}}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_contrastive_gradients_match_single_process(tmp_path: Path):
    g = torch.Generator().manual_seed(6)
    xa, xb = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    a_ids, b_ids = torch.arange(8), torch.arange(100, 108)
    xb[6], b_ids[6] = xb[1], b_ids[1]  # one second text on both ranks: masked through gather_no_grad
    encoder = nn.Linear(6, 4)
    data = {"xa": xa, "xb": xb, "a_ids": a_ids, "b_ids": b_ids, "state": encoder.state_dict()}
    torch.save(data, tmp_path / "data.pt")

    import torch.multiprocessing as mp

    mp.spawn(_distributed_worker, args=(_free_port(), str(tmp_path / "data.pt"), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    loss, grads = _tcm_step(encoder, data, slice(0, 8))  # one process, the whole batch of 8
    assert not du.is_distributed()
    good = [r["differentiable"] for r in ranks]
    assert torch.allclose((good[0]["loss"] + good[1]["loss"]) / 2, loss, atol=1e-6)
    for name, grad in grads.items():
        assert torch.allclose(good[0][name], good[1][name])  # averaged: the same on both ranks
        assert torch.allclose(good[0][name], grad, atol=1e-6), name
    # the plain gather loses the candidates' gradient: the test can tell
    plain = [r["plain"] for r in ranks]
    assert torch.allclose((plain[0]["loss"] + plain[1]["loss"]) / 2, loss, atol=1e-6)
    assert not torch.allclose(plain[0]["weight"], grads["weight"], atol=1e-4)
