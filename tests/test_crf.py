"""The linear-chain CRF against brute force: every tag path of a tiny problem is enumerated, so
``log Z``, path scores and the Viterbi path are checked exactly, with and without IOB2 constraints."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from scriptbridge.objectives.crf import CRF, iob2_allowed_transitions, looks_like_iob2, parse_iob2

SEEDS = [0, 1, 2]


def random_crf(num_tags: int, *, allowed=None, scale: float = 1.0) -> CRF:
    """A CRF whose scores are far from the near-zero init, so the transitions actually matter."""
    crf = CRF(num_tags, allowed=allowed)
    with torch.no_grad():
        for param in (crf.start_transitions, crf.transitions, crf.end_transitions):
            param.normal_(0.0, scale)
    return crf


def random_mask(lengths: list[int], time: int) -> torch.Tensor:
    return torch.arange(time)[None, :] < torch.tensor(lengths)[:, None]


def hand_path_score(emissions: list[list[float]], path: tuple[int, ...], crf: CRF, forbidden: float) -> float:
    """``s(path)`` written out term by term, forbidden moves scoring ``forbidden``."""
    start = crf.start_transitions.tolist()
    trans = crf.transitions.tolist()
    end = crf.end_transitions.tolist()
    allowed_start = crf.allowed_start.tolist()
    allowed_trans = crf.allowed_transitions.tolist()
    allowed_end = crf.allowed_end.tolist()
    if not path:
        return 0.0
    total = start[path[0]] if allowed_start[path[0]] else forbidden
    for t, tag in enumerate(path):
        total += emissions[t][tag]
        if t > 0:
            total += trans[path[t - 1]][tag] if allowed_trans[path[t - 1]][tag] else forbidden
    total += end[path[-1]] if allowed_end[path[-1]] else forbidden
    return total


def all_paths(num_tags: int, length: int):
    return itertools.product(range(num_tags), repeat=length)


def brute_log_partition(emissions, length, crf, forbidden=-1e4) -> float:
    scores = [hand_path_score(emissions, p, crf, forbidden) for p in all_paths(crf.num_tags, length)]
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores))


def is_valid_iob2(names: list[str]) -> bool:
    previous = ("O", "")
    for name in names:
        prefix, kind = parse_iob2(name)
        if prefix == "I" and (previous[0] == "O" or previous[1] != kind):
            return False
        previous = (prefix, kind)
    return True


# -- exactness against enumeration ----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_log_partition_score_and_viterbi_match_brute_force(seed: int) -> None:
    torch.manual_seed(seed)
    for num_tags in (2, 3, 4):
        for time in (1, 2, 3, 4):
            crf = random_crf(num_tags)
            lengths = [time] + torch.randint(1, time + 1, (2,)).tolist()
            mask = random_mask(lengths, time)
            emissions = torch.randn(len(lengths), time, num_tags) * 2
            tags = torch.randint(0, num_tags, (len(lengths), time)).masked_fill(~mask, -100)

            log_z = crf.log_partition(emissions, mask)
            scores = crf.score(emissions, tags, mask)
            paths = crf.decode(emissions, mask)
            for b, n in enumerate(lengths):
                em = emissions[b].tolist()
                assert log_z[b].item() == pytest.approx(brute_log_partition(em, n, crf), abs=1e-4)
                gold = tuple(tags[b, :n].tolist())
                assert scores[b].item() == pytest.approx(hand_path_score(em, gold, crf, -1e4), abs=1e-4)
                best = max(all_paths(num_tags, n), key=lambda p, em=em: hand_path_score(em, p, crf, -1e4))
                assert paths[b] == list(best)


@pytest.mark.parametrize("seed", SEEDS)
def test_constrained_crf_decodes_the_best_valid_iob2_path(seed: int) -> None:
    torch.manual_seed(seed)
    # The last set has an I-Y with no B-Y: it can never be decoded.
    for labels in (["O", "B-X", "I-X"], ["O", "B-X", "I-X", "B-Y"], ["B-X", "I-X", "O", "I-Y"]):
        num_tags = len(labels)
        crf = random_crf(num_tags, allowed=iob2_allowed_transitions(labels), scale=2.0)
        for time in (1, 2, 3, 4):
            lengths = [time, max(1, time - 1), max(1, time - 2)]
            mask = random_mask(lengths, time)
            # Strong emissions favouring I- tags everywhere: unconstrained Viterbi would pick invalid paths.
            emissions = torch.randn(3, time, num_tags) * 3
            paths = crf.decode(emissions, mask)
            log_z = crf.log_partition(emissions, mask)
            for b, n in enumerate(lengths):
                em = emissions[b].tolist()
                valid = [p for p in all_paths(num_tags, n) if is_valid_iob2([labels[i] for i in p])]
                best = max(valid, key=lambda p, em=em: hand_path_score(em, p, crf, -1e4))
                assert is_valid_iob2([labels[i] for i in paths[b]])
                assert paths[b] == list(best)
                # Invalid paths carry exp(-1e4) ~ 0 mass: log Z is the log-sum over the valid ones.
                valid_scores = [hand_path_score(em, p, crf, -1e4) for p in valid]
                top = max(valid_scores)
                expected = top + math.log(sum(math.exp(s - top) for s in valid_scores))
                assert log_z[b].item() == pytest.approx(expected, abs=1e-4)


def test_constraints_win_even_against_huge_emissions() -> None:
    labels = ["O", "B-X", "I-X"]
    crf = CRF(3, allowed=iob2_allowed_transitions(labels))
    emissions = torch.tensor([[[0.0, 0.0, 1e6], [1e6, 0.0, 0.0], [0.0, 0.0, 1e6]]])
    path = crf.decode(emissions, torch.ones(1, 3, dtype=torch.bool))[0]
    assert is_valid_iob2([labels[i] for i in path])
    # A gold path through forbidden moves (noisy data): a huge but finite loss, finite gradients.
    moderate = (emissions / 1e5).requires_grad_(True)
    nll = crf(moderate, torch.tensor([[2, 0, 2]]), reduction="none")
    assert torch.isfinite(nll).all() and nll.item() > 1e4
    nll.sum().backward()
    assert torch.isfinite(moderate.grad).all()


def test_iob2_allowed_transitions_table() -> None:
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, trans, end = iob2_allowed_transitions(labels)
    assert start.tolist() == [True, True, False, True, False]
    assert end.all()
    allowed_into_i_per = {labels[i] for i in range(5) if trans[i, 2]}
    assert allowed_into_i_per == {"B-PER", "I-PER"}
    allowed_into_i_loc = {labels[i] for i in range(5) if trans[i, 4]}
    assert allowed_into_i_loc == {"B-LOC", "I-LOC"}
    # Moves into O and B-* are unrestricted.
    assert trans[:, [0, 1, 3]].all()
    assert looks_like_iob2(labels)
    assert not looks_like_iob2(["NOUN", "VERB", "ADJ"])
    assert not looks_like_iob2(["O", "I-PER"])  # IOB1-like, no B-


def test_allowed_accepts_a_square_matrix_with_start_and_end_rows() -> None:
    start, trans, end = iob2_allowed_transitions(["O", "B-X", "I-X"])
    big = torch.ones(5, 5, dtype=torch.bool)  # indices 3 = START, 4 = END
    big[:3, :3] = trans
    big[3, :3] = start
    big[:3, 4] = end
    from_big = CRF(3, allowed=big)
    from_triple = CRF(3, allowed=(start, trans, end))
    for name in ("allowed_start", "allowed_transitions", "allowed_end"):
        assert torch.equal(getattr(from_big, name), getattr(from_triple, name))
    with pytest.raises(ValueError):
        CRF(3, allowed=torch.ones(4, 4, dtype=torch.bool))


# -- gradients, edge cases, dtypes ----------------------------------------------------------------


def test_gradcheck_float64() -> None:
    torch.manual_seed(0)
    crf = random_crf(3, allowed=iob2_allowed_transitions(["O", "B-X", "I-X"])).double()
    emissions = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = random_mask([3, 2], 3)
    tags = torch.tensor([[1, 2, 0], [0, 1, -100]])
    names = ("start_transitions", "transitions", "end_transitions")
    params = tuple(getattr(crf, n).detach().clone().requires_grad_(True) for n in names)

    def nll(em, *p):
        state = dict(zip(names, p, strict=True))
        return torch.func.functional_call(crf, state, (em, tags, mask), {"reduction": "none"})

    assert torch.autograd.gradcheck(nll, (emissions, *params))


def test_zero_length_sequences() -> None:
    crf = random_crf(3)
    emissions = torch.randn(3, 4, 3, requires_grad=True)
    mask = random_mask([0, 4, 0], 4)
    tags = torch.tensor([[-100] * 4, [0, 1, 2, 1], [-100] * 4])
    nll = crf(emissions, tags, mask, reduction="none")
    assert nll[0].item() == 0.0 and nll[2].item() == 0.0 and nll[1].item() > 0
    nll.sum().backward()
    assert torch.isfinite(emissions.grad).all()
    assert emissions.grad[0].abs().sum() == 0  # an empty sequence gets no gradient
    assert crf.decode(emissions, mask) == [[], crf.decode(emissions[1:2])[0], []]
    # No time steps at all.
    empty = torch.zeros(2, 0, 3)
    assert crf.decode(empty, torch.zeros(2, 0, dtype=torch.bool)) == [[], []]
    assert crf(empty, torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0, dtype=torch.bool)).item() == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_nll_is_non_negative_and_reductions_agree(seed: int) -> None:
    torch.manual_seed(seed)
    crf = random_crf(4, allowed=iob2_allowed_transitions(["O", "B-X", "I-X", "B-Y"]))
    mask = random_mask([5, 3, 1, 0], 5)
    emissions = torch.randn(4, 5, 4) * 3
    tags = torch.randint(0, 4, (4, 5))
    per_sentence = crf(emissions, tags, mask, reduction="none")
    assert (per_sentence >= -1e-5).all()
    assert crf(emissions, tags, mask, reduction="sum").item() == pytest.approx(per_sentence.sum().item())
    assert crf(emissions, tags, mask).item() == pytest.approx(per_sentence.mean().item())
    with pytest.raises(ValueError):
        crf(emissions, tags, mask, reduction="max")


def test_padding_content_never_matters() -> None:
    torch.manual_seed(0)
    crf = random_crf(3)
    mask = random_mask([4, 2], 4)
    emissions = torch.randn(2, 4, 3, requires_grad=True)
    junk = emissions.detach().clone()
    junk[1, 2:] = float("-inf")  # some callers pad with -inf
    junk.requires_grad_(True)
    tags = torch.tensor([[0, 1, 2, 0], [2, 1, -100, -100]])
    clean_nll = crf(emissions, tags, mask, reduction="none")
    junk_nll = crf(junk, tags, mask, reduction="none")
    assert torch.allclose(clean_nll, junk_nll)
    junk_nll.sum().backward()
    assert torch.isfinite(junk.grad).all()
    assert crf.decode(junk, mask) == crf.decode(emissions, mask)


def test_mask_must_be_left_aligned() -> None:
    crf = CRF(2)
    mask = torch.tensor([[False, True, True]])
    with pytest.raises(ValueError, match="left-aligned"):
        crf.log_partition(torch.randn(1, 3, 2), mask)


def test_bf16_emissions_are_handled_in_float32() -> None:
    torch.manual_seed(0)
    crf = random_crf(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.randint(0, 3, (2, 4))
    reference = crf(emissions.bfloat16().float(), tags, reduction="none")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = crf(emissions.bfloat16(), tags, reduction="none")
    assert nll.dtype == torch.float32
    assert torch.allclose(nll, reference)


# -- learning ---------------------------------------------------------------------------------------


def make_span_data(n: int, time: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Words are "entity" (1) or "other" (0); an entity run is tagged B-X I-X I-X ... and runs are
    separated by an "other" word. The word alone cannot tell B from I: only the transitions can."""
    words = torch.zeros(n, time, dtype=torch.long)
    tags = torch.zeros(n, time, dtype=torch.long)
    for b in range(n):
        t = 0
        while t < time:
            run = int(torch.randint(0, 4, (1,), generator=generator))
            for k in range(min(run, time - t)):
                words[b, t + k], tags[b, t + k] = 1, (1 if k == 0 else 2)
            t += run + 1  # the separating "other" word (tag O) stays 0
    return words, tags


def test_training_learns_transitions_that_emissions_cannot_express() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    words, tags = make_span_data(64, 8, generator)
    lengths = torch.randint(3, 9, (64,), generator=generator)
    mask = torch.arange(8)[None, :] < lengths[:, None]
    assert (tags[mask] == 2).any() and (tags[mask] == 1).any()

    emit = torch.nn.Embedding(2, 3)  # per-word scores, blind to context
    crf = CRF(3)  # no constraints given: the structure has to be learned
    optimizer = torch.optim.Adam([*emit.parameters(), *crf.parameters()], lr=0.1)
    first_loss = None
    for _ in range(200):
        optimizer.zero_grad()
        loss = crf(emit(words), tags, mask)
        loss.backward()
        optimizer.step()
        first_loss = loss.item() if first_loss is None else first_loss
    assert loss.item() < 0.05 * first_loss
    decoded = crf.decode(emit(words), mask)
    gold = [row[:n] for row, n in zip(tags.tolist(), lengths.tolist(), strict=True)]
    assert decoded == gold
