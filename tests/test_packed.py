"""The packed trainable top (train/packed.py): same values and gradients as the layers' own forward."""

from __future__ import annotations

import pytest
import torch

from scriptbridge.train.layers import LayerStack, pool
from scriptbridge.train.packed import PackedTop, _onednn_available, _OneDnnLinear, packed_pool


def _fresh(tiny_encoder_dir):
    from scriptbridge.models import load_encoder

    return load_encoder(str(tiny_encoder_dir), device="cpu")


def _batch(hidden: int, lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    padded = torch.randn(len(lengths), max(lengths), hidden, generator=gen)
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for j, n in enumerate(lengths):
        mask[j, :n] = 1
    return padded, mask


@pytest.mark.skipif(not _onednn_available(), reason="this PyTorch build has no oneDNN")
def test_onednn_linear_matches_f_linear_forward_and_backward() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(13, 8, generator=gen, requires_grad=True)
    w = torch.randn(5, 8, generator=gen, requires_grad=True)
    b = torch.randn(5, generator=gen, requires_grad=True)
    up = torch.randn(13, 5, generator=gen)
    got = _OneDnnLinear.apply(x, w, b)
    (got * up).sum().backward()
    grads = [t.grad.clone() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    want = torch.nn.functional.linear(x, w, b)
    (want * up).sum().backward()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for g, t in zip(grads, (x, w, b), strict=True):
        torch.testing.assert_close(g, t.grad, atol=1e-5, rtol=1e-5)
    # an input that needs no gradient (the cached frozen states) gets none computed
    x2 = x.detach()
    out = _OneDnnLinear.apply(x2, w, b)
    out.sum().backward()
    assert x2.grad is None


@pytest.mark.parametrize("onednn", [False, True])
@pytest.mark.parametrize("start", [0, 1, 2])
def test_packed_top_equals_the_layers_forward_and_gradients(tiny_encoder_dir, start, onednn) -> None:
    if onednn and not _onednn_available():
        pytest.skip("this PyTorch build has no oneDNN")
    encoder = _fresh(tiny_encoder_dir)
    stack = LayerStack(encoder.model)
    top = PackedTop.build(stack, start)
    assert top is not None
    top.onednn = onednn
    stack.model.eval()  # dropout off: both paths are then deterministic
    padded, mask = _batch(stack.model.config.hidden_size, [6, 2, 4, 1])
    lengths = mask.sum(dim=1)
    weights = [p for layer in stack.layers[start:] for p in layer.parameters()]

    if start == stack.num_layers:  # nothing left to train: the states pass through
        torch.testing.assert_close(top.forward(padded[mask.bool()], lengths), padded[mask.bool()])
        return
    want = pool(stack.run(padded, mask, start, stack.num_layers), mask, "mean")
    want.pow(2).sum().backward()
    want_grads = [p.grad.clone() for p in weights]
    for p in weights:
        p.grad = None
    got = packed_pool(top.forward(padded[mask.bool()], lengths), lengths, "mean")
    got.pow(2).sum().backward()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for p, g in zip(weights, want_grads, strict=True):
        torch.testing.assert_close(p.grad, g, atol=1e-4, rtol=1e-4)


def test_packed_pool_matches_padded_pool() -> None:
    padded, mask = _batch(4, [3, 1, 5])
    x, lengths = padded[mask.bool()], mask.sum(dim=1)
    for pooling in ("mean", "cls"):
        torch.testing.assert_close(packed_pool(x, lengths, pooling), pool(padded, mask, pooling))


def test_packed_top_dropout_follows_training_mode(tiny_encoder_dir) -> None:
    encoder = _fresh(tiny_encoder_dir)
    stack = LayerStack(encoder.model)
    top = PackedTop.build(stack, 1)
    assert top is not None
    padded, mask = _batch(stack.model.config.hidden_size, [5, 3])
    x, lengths = padded[mask.bool()], mask.sum(dim=1)
    stack.model.eval()
    with torch.no_grad():
        assert torch.equal(top.forward(x, lengths), top.forward(x, lengths))
        stack.model.train()
        assert not torch.equal(top.forward(x, lengths), top.forward(x, lengths))
    # build() checked itself in eval mode and restored the training mode it found
    assert stack.model.training


def test_packed_top_refuses_layers_that_are_not_bert(tiny_encoder_dir) -> None:
    encoder = _fresh(tiny_encoder_dir)
    stack = LayerStack(encoder.model)
    stack.layers[1].attention.self.query = torch.nn.Identity()  # not the structure the path assumes
    assert PackedTop.build(stack, 0) is None


def test_packed_top_falls_back_when_it_disagrees(tiny_encoder_dir, monkeypatch) -> None:
    encoder = _fresh(tiny_encoder_dir)
    stack = LayerStack(encoder.model)
    monkeypatch.setattr(PackedTop, "forward", lambda self, x, lengths: x * 0)
    with pytest.warns(RuntimeWarning, match="disagree"):
        assert PackedTop.build(stack, 0) is None


def test_trainable_embeddings_learn(tiny_encoder_dir) -> None:
    """freeze_layers -1 (nothing frozen) and freeze_embeddings false: the bottom runs with autograd
    every step, so the embeddings get gradients (a cached bottom would silently freeze them)."""
    from scriptbridge.objectives.classification import ClassificationHead
    from scriptbridge.train.teacher_student import FrozenBottom, Student

    for k, freeze_embeddings in ((-1, True), (1, False)):
        encoder = _fresh(tiny_encoder_dir)
        stack = LayerStack(encoder.model)
        frozen = stack.freeze(k, embeddings=freeze_embeddings)
        bottom = FrozenBottom(
            stack, encoder.tokenizer, k=k, prefix="", max_length=16, cache=True, device=torch.device("cpu")
        )
        assert not bottom.cache
        head = ClassificationHead(stack.model.config.hidden_size, 2)
        student = Student(stack, bottom, head, "mean", k, frozen)
        assert student.top is not None
        rows = bottom.add(["the cat sat", "a dog ran far away"])
        student.train_mode(True)
        head(student.vectors(rows)).sum().backward()
        grad = stack.embeddings.word_embeddings.weight.grad
        assert grad is not None and grad.abs().sum() > 0
        if k >= 1:  # the frozen layers in between stay frozen
            assert all(p.grad is None for p in stack.layers[0].parameters())
