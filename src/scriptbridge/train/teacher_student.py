"""Cross-script transfer for sentence classification: the teacher-student method and its baselines.

Training data are *views* of the labelled source set: ``en`` (the source), ``tr`` (its translation)
and ``tl`` (the translation romanized), all carrying the source label.  The student is the encoder
being trained, with a linear head on a pooled vector; the teacher is the starting encoder, frozen.
Because the teacher never changes, its vectors of the source sentences are computed once; because the
embeddings and the bottom ``k`` layers are frozen and kept in eval mode, their outputs are computed
once too (:class:`FrozenBottom`), and each step runs only the top layers.

Variants (the paper's tables): ``en`` / ``tr`` / ``tl`` (task loss on one view), ``en+tr+tl`` (the
three views as separate examples), ``joint`` (the three views of an example in one step, summed task
loss) and ``joint-ts`` (``joint`` + ``alpha * (b1 L_ts + b2 L_tr + b3 L_tl)``).  Without translations,
``joint-ts`` takes its alignment pairs from a separate parallel corpus (``data.parallel``): the
cosine losses run on those pairs and their romanized views, the task loss on the labelled English.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scriptbridge.objectives.classification import ClassificationHead, ClassificationLoss
from scriptbridge.objectives.teacher_student import TeacherStudentLoss
from scriptbridge.train.layers import LayerStack, pool
from scriptbridge.train.packed import PackedTop, packed_pool

VIEW_NAMES = ("en", "tr", "tl")


# ---------------------------------------------------------------------------- frozen bottom


def autocast(device: torch.device, bf16: bool) -> Any:
    """bfloat16 autocast on ``device`` when ``bf16`` (``train.precision: bf16``), else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


class FrozenBottom:
    """Hidden states after the frozen layer ``k`` for each distinct text, computed once.

    ``batch(ids)`` returns padded ``(hidden, mask)`` for the given text ids, ``packed(ids)`` the same
    states packed (``[tokens, hidden]`` and the lengths).  With nothing frozen (``k = -1``), with
    trainable embeddings (``freeze_embeddings: false``: the bottom's output then changes every step)
    or with caching off, the token ids are kept and the bottom runs every step instead -- with
    autograd when the embeddings are trainable, so they do learn.
    """

    def __init__(
        self,
        stack: LayerStack,
        tokenizer: Any,
        *,
        k: int,
        prefix: str,
        max_length: int,
        cache: bool,
        device: torch.device,
        encoder: Any = None,
        bf16: bool = False,
    ) -> None:
        self.stack, self.tokenizer, self.k = stack, tokenizer, k
        self.bf16 = bf16
        self.prefix, self.max_length, self.device = prefix, max_length, device
        # trainable embeddings (nothing frozen, or freeze_embeddings: false) change the bottom's
        # output every step: nothing to cache, and the bottom must run with autograd
        self.grad = any(p.requires_grad for p in stack.embeddings.parameters())
        self.cache = cache and k >= 0 and not self.grad
        # the Encoder's CPU path (oneDNN, about 2x the model's forward) computes the cache when given
        self.encoder = encoder
        self.index: dict[str, int] = {}
        self.texts: list[str] = []
        self.ids: list[list[int]] = []
        self.hidden: list[torch.Tensor] = []

    def add(self, texts: list[str]) -> list[int]:
        """Register texts; return their ids (duplicates share one)."""
        new = [t for t in dict.fromkeys(texts) if t not in self.index]
        if new:
            enc = self.tokenizer([self.prefix + t for t in new], truncation=True, max_length=self.max_length)
            for text, ids in zip(new, enc["input_ids"], strict=True):
                self.index[text] = len(self.ids)
                self.texts.append(text)
                self.ids.append(ids)
            if self.cache:
                self._compute(range(len(self.ids) - len(new), len(self.ids)))
        return [self.index[t] for t in texts]

    def _pad(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(self.ids[r]) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, : len(self.ids[r])] = torch.tensor(self.ids[r])
            mask[j, : len(self.ids[r])] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def _compute(self, rows: range) -> None:
        if self.encoder is not None and self.device.type == "cpu" and not self.bf16:
            self._compute_with_encoder(list(rows))
            return
        order = sorted(rows, key=lambda r: -len(self.ids[r]))
        for start in range(0, len(order), 64):
            chunk = order[start : start + 64]
            ids, mask = self._pad(chunk)
            with autocast(self.device, self.bf16):
                hidden = self.stack.bottom(ids, mask, self.k).float()
            for j, r in enumerate(chunk):
                while len(self.hidden) <= r:
                    self.hidden.append(torch.empty(0))
                self.hidden[r] = hidden[j, : len(self.ids[r])].clone()

    def _compute_with_encoder(self, rows: list[int]) -> None:
        """The same states through ``Encoder._run`` (which tokenizes identically: prefix, truncation)."""
        while len(self.hidden) < len(self.ids):
            self.hidden.append(torch.empty(0))
        texts = [self.texts[r] for r in rows]
        arrays: dict[int, np.ndarray] = {}
        for local, states, mask in self.encoder._run(
            texts, self.prefix, 64, self.max_length, False, {self.k}
        ):
            lengths = mask.sum(dim=1).tolist()
            for j, i in enumerate(local):
                r = rows[int(i)]
                if lengths[j] != len(self.ids[r]):
                    raise RuntimeError("internal: the encoder tokenized a cached text differently")
                arrays[r] = states[self.k][j, : lengths[j]].float().numpy().copy()
        # tensors only now: the generator runs under inference_mode, and inference tensors cannot
        # take part in autograd later
        for r, array in arrays.items():
            self.hidden[r] = torch.from_numpy(array)

    def batch(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden(k)`` and the mask for these text ids (no gradient through the frozen part)."""
        ids, mask = self._pad(rows)
        if not self.cache:
            with (
                torch.set_grad_enabled(self.grad and torch.is_grad_enabled()),
                autocast(self.device, self.bf16),
            ):
                return self.stack.bottom(ids, mask, max(self.k, 0)), mask
        width = ids.shape[1]
        hidden = torch.zeros((len(rows), width, self.hidden[rows[0]].shape[-1]), device=self.device)
        for j, r in enumerate(rows):
            hidden[j, : self.hidden[r].shape[0]] = self.hidden[r]
        return hidden, mask

    def packed(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden(k)`` of these text ids packed: ``[tokens, hidden]`` (the texts one after the
        other, no padding) and the token count of each."""
        lengths = torch.tensor([len(self.ids[r]) for r in rows], device=self.device)
        if self.cache:
            return torch.cat([self.hidden[r] for r in rows]).to(self.device), lengths
        hidden, mask = self.batch(rows)
        return hidden[mask.bool()], lengths

    def nbytes(self) -> int:
        return sum(h.numel() * h.element_size() for h in self.hidden)


# ---------------------------------------------------------------------------- the student


@dataclass
class Student:
    """The encoder being trained: frozen bottom (cached), trainable top, pooling, head."""

    stack: LayerStack
    bottom: FrozenBottom
    head: ClassificationHead
    pooling: str
    k: int
    frozen: list[torch.nn.Module] = field(default_factory=list)
    #: bfloat16 products (autocast) in the trainable layers (``train.precision: bf16``)
    bf16: bool = False
    #: run the trainable layers on packed tokens (:class:`~scriptbridge.train.packed.PackedTop`)
    #: where the model allows; False keeps the layers' own forward on padded batches
    packed: bool = True
    top: PackedTop | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.packed:
            self.top = PackedTop.build(self.stack, max(self.k, 0))

    def train_mode(self, on: bool) -> None:
        self.stack.model.train(on)
        self.head.train(on)
        for module in self.frozen:  # frozen layers stay in eval mode: their cached outputs stay exact
            module.eval()

    def vectors(self, rows: list[int]) -> torch.Tensor:
        """Pooled student vectors of these text ids (with autograd unless under no_grad), float32."""
        with autocast(self.bottom.device, self.bf16):
            if self.top is not None:
                x, lengths = self.bottom.packed(rows)
                return packed_pool(self.top.forward(x, lengths), lengths, self.pooling).float()
            hidden, mask = self.bottom.batch(rows)
            start = max(self.k, 0)
            top = self.stack.run(hidden, mask, start, self.stack.num_layers)
            return pool(top, mask, self.pooling).float()

    def vectors_of(self, groups: list[list[int]]) -> list[torch.Tensor]:
        """:meth:`vectors` of several lists of text ids (the views of a batch): on packed tokens in
        one forward pass, which costs no padding and makes the products bigger."""
        if self.top is None:
            return [self.vectors(rows) for rows in groups]
        flat = self.vectors([r for rows in groups for r in rows])
        return list(torch.split(flat, [len(rows) for rows in groups]))

    @torch.no_grad()
    def embed(self, rows: list[int], batch_size: int = 64) -> torch.Tensor:
        """Pooled vectors of these text ids in eval mode (length-sorted batches, input order kept).

        Called before the first update it gives the *teacher's* vectors: the teacher is the starting
        student, and its bottom is the cached frozen bottom, so only the top layers run."""
        self.train_mode(False)
        order = sorted(range(len(rows)), key=lambda i: -len(self.bottom.ids[rows[i]]))
        out = torch.empty((len(rows), self.stack.model.config.hidden_size), device=self.bottom.device)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self.vectors([rows[i] for i in chunk])
        return out

    @torch.no_grad()
    def predict(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Label ids for texts (eval mode; the caller restores the training mode)."""
        self.train_mode(False)
        rows = self.bottom.add(texts)
        out = np.zeros(len(texts), dtype=np.int64)
        order = sorted(range(len(texts)), key=lambda i: -len(self.bottom.ids[rows[i]]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            logits = self.head(self.vectors([rows[i] for i in chunk]))
            out[chunk] = logits.argmax(dim=-1).cpu().numpy()
        return out


# ---------------------------------------------------------------------------- steps


@dataclass
class TrainingData:
    """Text ids (in the :class:`FrozenBottom`) of every view, the label ids, and alignment pairs."""

    views: dict[str, list[int]]  # "en" / "tr" / "tl" -> text id per labelled example
    labels: torch.Tensor
    teacher: torch.Tensor | None = None  # [n, hidden] teacher vectors of the English sources
    pairs: dict[str, list[int]] | None = None  # alignment pairs from a parallel corpus
    pair_teacher: torch.Tensor | None = None


def step_items(variant: str, data: TrainingData) -> list[tuple[int, str | None]]:
    """What one epoch iterates over: (example, view) items; view None = all views of the example."""
    n = len(data.labels)
    if variant in VIEW_NAMES:
        return [(i, variant) for i in range(n)]
    if variant == "en+tr+tl":
        return [(i, v) for v in VIEW_NAMES if v in data.views for i in range(n)]
    return [(i, None) for i in range(n)]


def batch_loss(
    student: Student,
    data: TrainingData,
    items: list[tuple[int, str | None]],
    *,
    task: ClassificationLoss,
    align: TeacherStudentLoss | None,
    alpha: float,
    pair_rows: list[int] | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one batch and its parts (for the log)."""
    examples = [i for i, _ in items]
    labels = data.labels[examples]
    parts: dict[str, float] = {}
    if items[0][1] is not None:  # one view per item (en / tr / tl / en+tr+tl)
        rows = [data.views[v][i] for i, v in items]  # type: ignore[index]
        loss = task(student.vectors(rows), labels)
        parts["task"] = float(loss.detach())
        return loss, parts
    names = [v for v in VIEW_NAMES if v in data.views]
    groups = [[data.views[v][i] for i in examples] for v in names]
    on_pairs = align is not None and alpha > 0 and (data.teacher is None or len(names) < 3)
    if on_pairs:  # alignment on the parallel corpus: its views run in the same forward pass
        assert data.pairs is not None and data.pair_teacher is not None and pair_rows is not None
        groups += [[data.pairs[v][j] for j in pair_rows] for v in VIEW_NAMES]
    found = student.vectors_of(groups)
    vectors = dict(zip(names, found, strict=False))
    loss: torch.Tensor = sum(task(vec, labels) for vec in vectors.values())  # type: ignore[assignment]
    parts["task"] = float(loss.detach())
    if align is not None and alpha > 0:
        if on_pairs:
            pv = dict(zip(VIEW_NAMES, found[len(names) :], strict=True))
            terms = align.terms(data.pair_teacher[pair_rows], pv)  # type: ignore[index]
        else:
            terms = align.terms(data.teacher[examples], vectors)  # type: ignore[index]
        unsup = sum(align.betas[v] * t for v, t in terms.items())
        parts.update({f"L_{'ts' if v == 'en' else v}": float(t.detach()) for v, t in terms.items()})
        loss = loss + alpha * unsup
    return loss, parts


def linear_warmup(
    optimizer: torch.optim.Optimizer, warmup: int, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def epoch_batches(n_items: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """A fresh seeded shuffle per epoch (from seed and epoch alone, so a resumed run repeats it)."""
    order = np.random.default_rng([seed, epoch]).permutation(n_items)
    return [order[i : i + batch_size] for i in range(0, n_items, batch_size)]


def pair_batches(n_pairs: int, batch_size: int, seed: int, epoch: int, count: int) -> list[list[int]]:
    """``count`` batches of alignment pairs, cycling through a seeded shuffle."""
    order = np.random.default_rng([seed, epoch, 1]).permutation(n_pairs)
    reps = math.ceil(count * batch_size / max(1, n_pairs)) + 1
    flat = np.concatenate([order] * reps)
    return [flat[i * batch_size : (i + 1) * batch_size].tolist() for i in range(count)]


def history_line(epoch: int, metrics: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {"epoch": epoch, "seconds": round(seconds, 2), **metrics}


def write_json(path: Path, value: Any) -> None:
    from scriptbridge.utils.io import atomic_write_text

    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, default=float) + "\n")


def now() -> float:
    return time.perf_counter()
