"""The trainable top layers of a BERT-family encoder, run on packed tokens (no padding).

Why: with the bottom cached (:mod:`scriptbridge.train.layers`), a training step is the top layers'
forward and backward, and almost all of that is six matrix products per layer.  Two things make
those products cheaper without changing the arithmetic:

- **Packing.**  The products see only real tokens: the sentences of a batch (all views at once)
  are concatenated into one ``[tokens, hidden]`` matrix; only attention, which mixes tokens within
  a sentence, scatters them into a padded ``[batch, width, ...]`` layout and back.  Padded positions
  never reach the pooled vector, so the result is the same, for 20-40% fewer multiply-adds on
  sentence-classification batches.
- **oneDNN products on the CPU.**  PyTorch's CPU ``nn.Linear`` and its backward call MKL's sgemm,
  which on AMD processors does not use AVX-512; oneDNN (``torch.ops.mkldnn._linear_pointwise``, in
  every x86 PyTorch build) does, about 2.2x faster in exact float32 (see ``models/loading.py``'s
  ``_CpuBert``, which does the same for inference).  :class:`_OneDnnLinear` is that product with its
  backward (``dX = dY W``, ``dW = dY^T X``, ``db = sum dY``) written as oneDNN products too.

:meth:`PackedTop.build` accepts only layers with exactly the BERT structure (BERT, RoBERTa, XLM-R,
e5...), and only after checking, on a probe batch, that it reproduces the model's own layers; any
other model keeps the padded path through the layers' own forward.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

F = torch.nn.functional


def _onednn_available() -> bool:
    ops = getattr(torch.ops, "mkldnn", None)
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(ops, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


def _dnn(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x @ w.T + b`` for 2-D contiguous float32 CPU tensors, through oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")


class _OneDnnLinear(torch.autograd.Function):
    """``F.linear`` with its forward and backward products through oneDNN (CPU, float32, 2-D)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        return _dnn(x, weight.contiguous(), bias)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, Any, Any]:
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        gx = gw = gb = None
        # transposed operands go in as strided views: oneDNN reads them in place, which is faster
        # than copying them contiguous first (about 10% per product here)
        if ctx.needs_input_grad[0]:
            gx = _dnn(grad, weight.t(), None)  # [T, out] @ [out, in]
        if ctx.needs_input_grad[1]:
            gw = _dnn(x.t(), grad.t(), None).t()  # ([in, T] @ [T, out]).T
        if ctx.needs_input_grad[2]:
            gb = grad.sum(dim=0)
        return gx, gw, gb


def _dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout with the mask from ``rand >= p``: the same distribution as ``F.dropout``
    (each element kept with probability ``1 - p``, scaled by ``1 / (1 - p)``), about twice as fast
    on the CPU, where ``bernoulli_`` dominates ``F.dropout``."""
    if p <= 0.0:
        return x
    keep = torch.rand_like(x) >= p
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


def _is_bert_layer(layer: Any, hidden: int) -> bool:
    from scriptbridge.models.loading import _is_bert_layer as check

    return check(layer, hidden)


class PackedTop:
    """Layers ``start..N`` of a BERT-family encoder over packed tokens, with autograd.

    ``forward(x, lengths)``: ``x`` is ``[tokens, hidden]``, the sentences' states one after the
    other, ``lengths`` their token counts; returns the states after the last layer, same layout.
    Dropout follows each module's training mode, as in the model's own forward.
    """

    def __init__(self, model: Any, layers: list[Any], start: int, *, onednn: bool) -> None:
        self.model = model
        self.layers = layers
        self.start = start
        self.onednn = onednn
        self.hidden = int(model.config.hidden_size)

    # ------------------------------------------------------------------ building and checking

    @classmethod
    def build(cls, stack: Any, start: int, *, check: bool = True) -> PackedTop | None:
        """The packed top of ``stack`` (a :class:`~scriptbridge.train.layers.LayerStack`) from layer
        ``start`` (0 = right after the embeddings), or None where the model's layers are not plain
        BERT layers or the packed path does not reproduce them."""
        model, cfg = stack.model, stack.model.config
        layers = list(stack.layers[start:])
        hidden = int(getattr(cfg, "hidden_size", 0) or 0)
        if not layers:  # everything frozen: the cached states are the output
            return cls(model, [], start, onednn=False)
        if (
            getattr(cfg, "is_decoder", False)
            or getattr(cfg, "add_cross_attention", False)
            or getattr(cfg, "position_embedding_type", "absolute") not in (None, "absolute")
            or not all(_is_bert_layer(layer, hidden) for layer in layers)
        ):
            return None
        params = [p for layer in layers for p in layer.parameters()]
        on_cpu = all(p.device.type == "cpu" for p in params)
        onednn = on_cpu and all(p.dtype == torch.float32 for p in params) and _onednn_available()
        top = cls(model, layers, start, onednn=onednn)
        if check and not top.matches_layers(stack):
            warnings.warn(
                f"{type(model).__name__}: the packed top layers disagree with the model's own; "
                "training through the layers' forward instead",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        return top

    @torch.no_grad()
    def matches_layers(self, stack: Any) -> bool:
        """The packed path against ``stack.run`` (the layers' own forward) on a random padded batch,
        in eval mode (dropout off); the model's training mode is restored."""
        was_training = self.model.training
        self.model.eval()
        try:
            gen = torch.Generator().manual_seed(0)
            lengths = [7, 3, 5]
            width = max(lengths)
            device = next(self.layers[0].parameters()).device
            dtype = next(self.layers[0].parameters()).dtype
            padded = torch.randn(len(lengths), width, self.hidden, generator=gen).to(device, dtype)
            mask = torch.zeros(len(lengths), width, dtype=torch.long, device=device)
            for j, n in enumerate(lengths):
                mask[j, :n] = 1
            want = stack.run(padded, mask, self.start, stack.num_layers)[mask.bool()]
            got = self.forward(padded[mask.bool()], torch.tensor(lengths, device=device))
            return bool(torch.allclose(got.float(), want.float(), atol=1e-4, rtol=1e-4))
        finally:
            self.model.train(was_training)

    # ------------------------------------------------------------------ forward

    def _linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        # under autocast (train.precision: bf16) F.linear runs the bfloat16 product (oneDNN on the CPU)
        if self.onednn and not torch.is_autocast_enabled(x.device.type):
            return _OneDnnLinear.apply(x, weight, bias)
        return F.linear(x, weight, bias)

    @staticmethod
    def _drop(module: Any, x: torch.Tensor) -> torch.Tensor:
        """The layer's dropout module, applied with :func:`_dropout` (its ``p``, its training mode)."""
        if isinstance(module, torch.nn.Dropout):
            return _dropout(x, module.p) if module.training else x
        return module(x)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.forward_capture(x, lengths)[0]

    def forward_capture(
        self, x: torch.Tensor, lengths: torch.Tensor, capture: set[int] | frozenset[int] = frozenset()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """:meth:`forward`, plus the states after each layer number in ``capture`` (1-based over the
        whole model, so layer ``k`` is the output of the model's k-th layer; ``start`` = the input)."""
        states: dict[int, torch.Tensor] = {}
        if self.start in capture:
            states[self.start] = x
        if not self.layers:
            return x, states
        batch = int(lengths.numel())
        width = int(lengths.max())
        # where each packed token sits in the padded [batch * width] layout
        starts = torch.arange(batch, device=x.device) * width
        within = torch.arange(x.shape[0], device=x.device) - torch.repeat_interleave(
            torch.cumsum(lengths, 0) - lengths, lengths
        )
        where = torch.repeat_interleave(starts, lengths) + within
        keep = torch.zeros(batch * width, dtype=torch.bool, device=x.device)
        keep[where] = True
        attn_mask = keep.view(batch, 1, 1, width)
        for i, layer in enumerate(self.layers, start=self.start + 1):
            x = self._layer(layer, x, where, attn_mask, batch, width)
            if i in capture:
                states[i] = x
        return x, states

    def _layer(
        self,
        layer: Any,
        x: torch.Tensor,
        where: torch.Tensor,
        attn_mask: torch.Tensor,
        batch: int,
        width: int,
    ) -> torch.Tensor:
        att, att_out = layer.attention.self, layer.attention.output
        heads, size = int(att.num_attention_heads), int(att.attention_head_size)
        scale = float(getattr(att, "scaling", size**-0.5))
        qkv_w = torch.cat([att.query.weight, att.key.weight, att.value.weight])
        qkv_b = torch.cat([att.query.bias, att.key.bias, att.value.bias])
        qkv = self._linear(x, qkv_w, qkv_b)  # [T, 3H]
        padded = qkv.new_zeros(batch * width, qkv.shape[1]).index_copy(0, where, qkv)
        q, k, v = padded.view(batch, width, 3, heads, size).permute(2, 0, 3, 1, 4)
        p = att.dropout.p if att.training else 0.0
        if p > 0.0:  # attention by hand, to drop out the probabilities with the faster mask
            scores = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)
            scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)
            a = torch.matmul(_dropout(scores.softmax(dim=-1), p), v)
        else:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
        a = a.transpose(1, 2).reshape(batch * width, self.hidden).index_select(0, where)
        a = self._drop(att_out.dropout, self._linear(a, att_out.dense.weight, att_out.dense.bias))
        ln = att_out.LayerNorm
        a = F.layer_norm(a + x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        f = layer.intermediate.intermediate_act_fn(
            self._linear(a, layer.intermediate.dense.weight, layer.intermediate.dense.bias)
        )
        out = layer.output
        f = self._drop(out.dropout, self._linear(f, out.dense.weight, out.dense.bias))
        ln = out.LayerNorm
        return F.layer_norm(f + a, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def packed_pool(x: torch.Tensor, lengths: torch.Tensor, pooling: str) -> torch.Tensor:
    """Per-sentence vectors from packed states: the mean over each sentence's tokens, or its first."""
    starts = torch.cumsum(lengths, 0) - lengths
    if pooling == "cls":
        return x.index_select(0, starts)
    segment = torch.repeat_interleave(torch.arange(lengths.numel(), device=x.device), lengths)
    sums = x.new_zeros(lengths.numel(), x.shape[1]).index_add(0, segment, x)
    return sums / lengths.to(x.dtype).unsqueeze(1).clamp(min=1.0)
