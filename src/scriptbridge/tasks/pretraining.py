"""The data of one pretraining stage: its texts tokenized once, its pairs and its MLM corpus as text
ids, the per-epoch batch plans, and the step batch (every sequence a step needs, in one tensor).

Texts are deduplicated: a text is stored once and named by its id, so "is this candidate the same
text as my partner?" (duplicates must not count as negatives in TCM and TPP) is an integer compare.

Sources:

- pairs: anything :func:`~scriptbridge.tasks.parallel.load_parallel` reads (Tatoeba, SIB-200 joined
  on ``index_id``, TSV/CSV/JSONL columns, line-aligned files) and views made on the fly, so
  ``{src: tatoeba.hin-eng.hin, tgt: romanize:hi:uroman}`` pairs Hindi with its romanization;
- texts (MLM only): a file of the same kinds (a CoNLL-U treebank gives its ``# text =`` lines), or a view
  of a file, ``romanize:ur:uroman@ud/UD_Urdu-UDTB/ur_udtb-ud-test.conllu``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scriptbridge.tasks.parallel import ParallelDataError, Side, apply_view, parse_view, read_side_file


@dataclass
class StageData:
    """One stage's data.  ``ids[t]`` are text ``t``'s token ids without special tokens (truncated to
    leave room for them); ``pairs`` is ``[N, 2]`` text ids; ``mlm`` the text ids MLM reads."""

    texts: list[str]
    ids: list[list[int]]
    pairs: np.ndarray
    mlm: np.ndarray
    described: list[dict] = field(default_factory=list)

    def length(self, t: int) -> int:
        return len(self.ids[t])


def _read_file_side(path: Path, spec: str, fmt: str) -> Side:
    return read_side_file(str(path), fmt)[0]


def read_texts(recipe: Any, source: dict) -> list[str]:
    """The texts of a ``texts`` entry: a file, or a view of a file (``romanize:hi:uroman@FILE``)."""
    from scriptbridge.train.recipe import resolve_path

    spec, fmt = source["path"], source.get("format", "auto")
    view = parse_view(spec)
    if view is None:
        side = _read_file_side(resolve_path(recipe, spec), spec, fmt)
    else:
        if not view.of:
            raise ParallelDataError(
                f"{spec!r}: a text source that is a view needs its file: {spec}@FILE "
                "(a pair source can take a view of its other side instead)"
            )
        base = _read_file_side(resolve_path(recipe, view.of), view.of, fmt)
        side = apply_view(view, base, spec)
    texts = [t for t in side.texts if t and t.strip()]
    limit = source.get("limit")
    return texts[:limit] if limit else texts


def read_pairs(recipe: Any, source: dict, seed: int) -> tuple[list[str], list[str]]:
    from scriptbridge.train.recipe import load_pairs

    data = load_pairs(recipe, source).sample(source.get("limit"), seed)
    keep = [
        i
        for i, (a, b) in enumerate(zip(data.src.texts, data.tgt.texts, strict=True))
        if a.strip() and b.strip()
    ]
    return [data.src.texts[i] for i in keep], [data.tgt.texts[i] for i in keep]


def build_stage_data(
    recipe: Any,
    stage: Any,
    tokenizer: Any,
    *,
    prefix: str,
    max_length: int,
    seed: int,
    log: Any = None,
) -> StageData:
    """Read every source of ``stage``, deduplicate, tokenize (once, in batches)."""
    index: dict[str, int] = {}
    texts: list[str] = []

    def tid(text: str) -> int:
        found = index.get(text)
        if found is None:
            found = index[text] = len(texts)
            texts.append(text)
        return found

    pairs: list[tuple[int, int]] = []
    mlm: list[int] = []
    described = []
    for i, src in enumerate(stage.pairs):
        a, b = read_pairs(recipe, src, seed)
        if not a:
            raise ParallelDataError(f"stage {stage.name}: pair source {i} ({src['src']}) has no pairs")
        rows = [(tid(x), tid(y)) for x, y in zip(a, b, strict=True)]
        pairs += rows
        mlm += [r[0] for r in rows]
        if stage.mlm_sides == "both":
            mlm += [r[1] for r in rows]
        described.append(
            {"kind": "pairs", "name": src.get("name") or f"{src['src']} | {src.get('tgt')}", "n": len(rows)}
        )
        if log:
            log(f"  pairs {described[-1]['name']}: {len(rows)}")
    for src in stage.texts:
        found = read_texts(recipe, src)
        if not found:
            raise ParallelDataError(f"stage {stage.name}: text source {src['path']} has no texts")
        mlm += [tid(t) for t in found]
        described.append({"kind": "texts", "name": src.get("name") or src["path"], "n": len(found)})
        if log:
            log(f"  texts {described[-1]['name']}: {len(found)}")
    # room for the special tokens of a single sequence (a pair for TLM is truncated again there)
    from scriptbridge.objectives.tlm import single_template

    room = max(1, max_length - sum(kind == "S" for kind, _, _ in single_template(tokenizer)))
    ids = tokenize(tokenizer, [prefix + t for t in texts], room)
    return StageData(
        texts,
        ids,
        np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        np.asarray(mlm, dtype=np.int64),
        described,
    )


def tokenize(tokenizer: Any, texts: list[str], room: int, chunk: int = 4096) -> list[list[int]]:
    out: list[list[int]] = []
    for i in range(0, len(texts), chunk):
        enc = tokenizer(texts[i : i + chunk], add_special_tokens=False, truncation=True, max_length=room)
        out += [list(x) for x in enc["input_ids"]]
    return out


def epoch_plan(
    n: int, batch: int, seed: int, epoch: int, lengths: np.ndarray | None = None, *, world: int = 1
) -> list[np.ndarray]:
    """The batches of one epoch over ``n`` items, ``batch * world`` a step.

    With ``lengths``, items are grouped by length (shuffle, sort within windows of 50 batches, cut,
    shuffle the batches): similar lengths share a batch, so attention pads little, while the order of
    batches and their members stays random from epoch to epoch.  Under several processes every batch
    is a multiple of ``world`` (the remainder is dropped) so each process holds the same number of
    rows, which gathering across them needs.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    step = batch * world
    if lengths is not None and n > step:
        window = step * 50
        order = np.concatenate(
            [w[np.argsort(-lengths[w], kind="stable")] for w in np.array_split(order, math.ceil(n / window))]
        )
    batches = [order[i : i + step] for i in range(0, n, step)]
    if world > 1:
        batches = [b[: len(b) - len(b) % world] for b in batches]
        batches = [b for b in batches if len(b)]
    if lengths is not None and len(batches) > 1:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def companion_plan(n: int, steps: int, seed: int, epoch: int, salt: int = 1) -> list[np.ndarray]:
    """``steps`` batches that together pass once over ``n`` items (the MLM corpus beside the pairs)."""
    if n == 0 or steps == 0:
        return [np.zeros(0, dtype=np.int64)] * steps
    rng = np.random.default_rng([seed, epoch, salt])
    order = rng.permutation(n)
    return list(np.array_split(order, steps))


@dataclass
class StepBatch:
    """Every sequence of one step, padded to one tensor; ``rows[role]`` says which rows hold which
    inputs (``mlm``, ``tlm``, ``a``, ``b``)."""

    input_ids: torch.Tensor  # [S, L]
    attention_mask: torch.Tensor  # [S, L]
    token_type_ids: torch.Tensor
    position_ids: torch.Tensor
    special: torch.Tensor  # [S, L] True at special tokens and padding
    labels: torch.Tensor  # [S, L] MLM targets, -100 elsewhere
    rows: dict[str, slice]
    a_ids: torch.Tensor  # [B] text ids of the pairs' two sides
    b_ids: torch.Tensor

    def to(self, device: Any) -> StepBatch:
        for name in ("input_ids", "attention_mask", "token_type_ids", "position_ids", "special", "labels"):
            setattr(self, name, getattr(self, name).to(device, non_blocking=True))
        return self

    def select(self, role: str) -> StepBatch:
        """The rows of one role only, trimmed to their own longest (the plain, one-pass-per-view way)."""
        r = self.rows[role]
        width = int(self.attention_mask[r].sum(1).max()) if r.stop > r.start else 1
        part = {
            name: getattr(self, name)[r, :width]
            for name in ("input_ids", "attention_mask", "token_type_ids", "position_ids", "special", "labels")
        }
        return StepBatch(**part, rows={role: slice(0, r.stop - r.start)}, a_ids=self.a_ids, b_ids=self.b_ids)


def build_step(
    data: StageData,
    pair_rows: np.ndarray,
    mlm_rows: np.ndarray,
    *,
    tokenizer: Any,
    roles: set[str],
    generator: torch.Generator,
    mlm_ratio: float,
    tlm_ratio: float,
    restart_positions: bool,
    position_offset: int,
    max_length: int,
) -> StepBatch:
    """The step's sequences: MLM texts, TLM pair concatenations, and the two sides of each pair as
    plain sequences (for TCM / TPP), masked where MLM or TLM read them."""
    from scriptbridge.objectives.mlm import mask_tokens
    from scriptbridge.objectives.tlm import concat_pair, single_sequence, tlm_swap_flags

    seqs: list[list[int]] = []
    types: list[list[int]] = []
    positions: list[list[int]] = []
    specials: list[list[bool]] = []
    rows: dict[str, slice] = {}

    def single(t: int) -> None:
        ids, special = single_sequence(data.ids[t], tokenizer)
        seqs.append(ids)
        types.append([0] * len(ids))
        positions.append([position_offset + i for i in range(len(ids))])
        specials.append(special)

    start = 0
    if "mlm" in roles:
        for t in mlm_rows:
            single(int(t))
        rows["mlm"] = slice(start, len(seqs))
        start = len(seqs)
    if "tlm" in roles:
        swaps = tlm_swap_flags(len(pair_rows), generator)
        for (a, b), swap in zip(pair_rows, swaps, strict=True):
            built = concat_pair(
                data.ids[int(a)],
                data.ids[int(b)],
                tokenizer,
                swap=swap,
                restart_positions=restart_positions,
                position_offset=position_offset,
                max_length=max_length,
            )
            seqs.append(built["input_ids"])
            types.append(built["token_type_ids"])
            positions.append(built["position_ids"])
            specials.append([bool(s) for s in built["special"]])
        rows["tlm"] = slice(start, len(seqs))
        start = len(seqs)
    if "a" in roles:
        for a, _ in pair_rows:
            single(int(a))
        rows["a"] = slice(start, len(seqs))
        start = len(seqs)
        for _, b in pair_rows:
            single(int(b))
        rows["b"] = slice(start, len(seqs))
    width = max((len(s) for s in seqs), default=1)
    n = len(seqs)
    pad = int(tokenizer.pad_token_id or 0)
    input_ids = torch.full((n, width), pad, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    token_type = torch.zeros((n, width), dtype=torch.long)
    position = torch.full((n, width), position_offset, dtype=torch.long)
    special = torch.ones((n, width), dtype=torch.bool)
    for i, (s, t, p, sp) in enumerate(zip(seqs, types, positions, specials, strict=True)):
        k = len(s)
        input_ids[i, :k] = torch.tensor(s)
        mask[i, :k] = 1
        token_type[i, :k] = torch.tensor(t)
        position[i, :k] = torch.tensor(p)
        special[i, :k] = torch.tensor(sp)
    labels = torch.full((n, width), -100, dtype=torch.long)
    vocab = len(tokenizer)
    for role, ratio in (("mlm", mlm_ratio), ("tlm", tlm_ratio)):
        r = rows.get(role)
        if r is None or r.stop == r.start:
            continue
        masked, lab = mask_tokens(
            input_ids[r],
            special[r],
            mask_token_id=int(tokenizer.mask_token_id),
            vocab_size=vocab,
            generator=generator,
            ratio=ratio,
        )
        input_ids[r] = masked
        labels[r] = lab
    a_ids = torch.as_tensor(pair_rows[:, 0] if len(pair_rows) else np.zeros(0, dtype=np.int64))
    b_ids = torch.as_tensor(pair_rows[:, 1] if len(pair_rows) else np.zeros(0, dtype=np.int64))
    return StepBatch(input_ids, mask, token_type, position, special, labels, rows, a_ids, b_ids)
