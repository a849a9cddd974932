"""``pretrain(recipe, output)``: alignment pretraining (MLM, TLM, TCM, TPP) in sequential stages.

One loop for every objective: a step gathers every sequence the stage's objectives need (MLM texts,
TLM pair concatenations, the two sides of each pair for TCM / TPP) into one batch, runs the encoder
once over all of them on packed tokens (no padding in the matrix products; ``train.packing: false``
runs one padded forward per view instead, the plain way ``bench/pretrain_speed.py`` compares with),
and sums the weighted losses.  A held-out parallel set is probed every ``eval_every`` steps; its
retrieval score (mean top-1 of both directions) keeps the best weights and stops a stage that no
longer improves, as the TPP paper does with SR-B.  Each stage starts from the best weights of the one
before and is saved as a normal checkpoint folder, which ``scriptbridge train`` and ``load_encoder``
accept.  Checkpoints at every probe let a killed run resume.

Under ``torchrun`` / ``accelerate launch`` each process takes its share of every batch, TCM gathers
negatives from all processes with gradients, and gradients are averaged before each update.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scriptbridge.train.run import TrainError, _log, optimizer_step, recipe_fingerprint, resolve_precision


class PretrainError(TrainError):
    """A pretraining run cannot start or continue; the message says why and what to do."""


@dataclass
class PretrainResult:
    output: Path
    metrics: dict[str, Any]
    resumed: bool


ROLES_OF = {"mlm": {"mlm"}, "tlm": {"tlm"}, "tcm": {"a"}, "tpp": {"a"}}


# ---------------------------------------------------------------------------------------- the model
def position_offset(model: Any) -> int:
    """Where position ids start: RoBERTa-family models count from ``padding_idx + 1``."""
    cfg = model.config
    if getattr(cfg, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"):
        return int(cfg.pad_token_id) + 1
    return 0


def pool_rows(
    states: torch.Tensor, lengths: torch.Tensor, nonspecial: torch.Tensor, rows: slice, pooling: str
) -> torch.Tensor:
    """Per-sequence vectors of ``rows`` from packed states: the mean over each sequence's
    non-special tokens (special tokens carry no meaning of the text), or its first token."""
    n = int(lengths.numel())
    starts = torch.cumsum(lengths, 0) - lengths
    if pooling == "cls":
        return states.index_select(0, starts[rows])
    seg = torch.repeat_interleave(torch.arange(n, device=states.device), lengths)
    inside = (seg >= rows.start) & (seg < rows.stop)
    w = (nonspecial & inside).to(states.dtype)
    sums = states.new_zeros(n, states.shape[1]).index_add(0, seg, states * w.unsqueeze(1))[rows]
    count = states.new_zeros(n).index_add(0, seg, w)[rows].clamp(min=1.0)
    return sums / count.unsqueeze(1)


class Forward:
    """The encoder over a :class:`~scriptbridge.tasks.pretraining.StepBatch`: packed states after
    the last layer, and after the layers in ``capture``, in the batch's row order."""

    def __init__(self, model: Any, *, packing: bool) -> None:
        from scriptbridge.train.layers import LayerStack
        from scriptbridge.train.packed import PackedTop

        self.model = model
        self.num_layers = int(model.config.num_hidden_layers)
        self.top = PackedTop.build(LayerStack(model), 0) if packing else None
        self.packing = packing

    @property
    def packed(self) -> bool:
        return self.top is not None

    def __call__(self, batch: Any, capture: set[int]) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        if self.top is not None:  # one pass over every sequence of the step, no padding
            keep = batch.attention_mask.bool()
            emb = self.model.embeddings(
                input_ids=batch.input_ids,
                token_type_ids=batch.token_type_ids,
                position_ids=batch.position_ids,
            )
            return self.top.forward_capture(emb[keep], batch.attention_mask.sum(1), capture)
        if self.packing:  # a model PackedTop does not cover: still one (padded) pass
            return self._padded(batch, capture)
        # the plain way: one padded pass per view, concatenated in the same row order
        lasts, states = [], {k: [] for k in capture}
        for role in batch.rows:
            last, st = self._padded(batch.select(role), capture)
            lasts.append(last)
            for k in capture:
                states[k].append(st[k])
        return torch.cat(lasts), {k: torch.cat(v) for k, v in states.items()}

    def _padded(self, batch: Any, capture: set[int]) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        keep = batch.attention_mask.bool()
        out = self.model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            token_type_ids=batch.token_type_ids,
            position_ids=batch.position_ids,
            output_hidden_states=bool(capture),
        )
        states = {k: out.hidden_states[k][keep] for k in capture}
        return out.last_hidden_state[keep], states


class Objectives(torch.nn.Module):
    """The loss modules of a run (created once, so the MLM head and the TPP projection carry over from
    stage to stage), and the weighted sum for one stage."""

    def __init__(self, model: Any, recipe: Any) -> None:
        super().__init__()
        from scriptbridge.objectives.mlm import MaskedLMLoss
        from scriptbridge.objectives.tpp import TranslationPairLoss
        from scriptbridge.objectives.word_mlm import WordMLMHead

        used = {o for s in recipe.stages for o in s.active()}
        cfg = model.config
        self.heads = torch.nn.ModuleDict()
        if used & {"mlm", "tlm"}:
            self.heads["mlm"] = WordMLMHead(
                model.get_input_embeddings(),
                layer_norm_eps=float(getattr(cfg, "layer_norm_eps", 1e-12)),
                initializer_range=float(getattr(cfg, "initializer_range", 0.02)),
            )
            self.mlm_loss = MaskedLMLoss(self.heads["mlm"])
        projection = any(
            s.objectives.get("tpp", {}).get("projection") for s in recipe.stages if "tpp" in s.active()
        )
        if "tpp" in used:
            self.heads["tpp"] = TranslationPairLoss(int(cfg.hidden_size), projection=projection)

    def stage_losses(
        self,
        stage: Any,
        batch: Any,
        last: torch.Tensor,
        captured: dict[int, torch.Tensor],
        *,
        pooling: str,
        tcm_layer: int,
        num_layers: int,
        tcm: Any,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        keep = batch.attention_mask.bool()
        lengths = batch.attention_mask.sum(1)
        parts: dict[str, torch.Tensor] = {}
        labels = batch.labels[keep]
        if "mlm" in batch.rows or "tlm" in batch.rows:
            seg = torch.repeat_interleave(torch.arange(lengths.numel(), device=last.device), lengths)
            for role in ("mlm", "tlm"):
                r = batch.rows.get(role)
                if r is None or stage.weight(role) <= 0:
                    continue
                role_labels = torch.where(
                    (seg >= r.start) & (seg < r.stop), labels, torch.full_like(labels, -100)
                )
                parts[role] = self.mlm_loss({"token_states": last}, role_labels)
        if "a" in batch.rows:
            nonspecial = (~batch.special)[keep]
            rows_a, rows_b = batch.rows["a"], batch.rows["b"]
            ids = {"a_ids": batch.a_ids.to(last.device), "b_ids": batch.b_ids.to(last.device)}
            if stage.weight("tcm") > 0:
                states = last if tcm_layer == num_layers else captured[tcm_layer]
                a = pool_rows(states, lengths, nonspecial, rows_a, pooling).float()
                b = pool_rows(states, lengths, nonspecial, rows_b, pooling).float()
                parts["tcm"] = tcm({"a": a, "b": b, **ids})
            if stage.weight("tpp") > 0:
                a = pool_rows(last, lengths, nonspecial, rows_a, pooling).float()
                b = pool_rows(last, lengths, nonspecial, rows_b, pooling).float()
                parts["tpp"] = self.heads["tpp"]({"a": a, "b": b, **ids, "generator": generator})
        total = sum(stage.weight(k) * v for k, v in parts.items())
        assert isinstance(total, torch.Tensor)
        return total, {k: float(v.detach()) for k, v in parts.items()}


# ----------------------------------------------------------------------------------------- helpers
def _stage_dir(output: Path, index: int, stage: Any) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in stage.name)
    return output / "stages" / f"{index + 1:02d}-{safe}"


def save_pretrained_folder(
    folder: Path, encoder: Any, objectives: Objectives, *, pooling: str, prefix: str, meta: dict[str, Any]
) -> None:
    """A normal checkpoint folder (``load_encoder(folder)`` and ``scriptbridge train`` take it), plus
    the pretraining heads (``pretrain_heads.safetensors``) so a later run continues with them."""
    from scriptbridge.models.embedded import _quiet_transformers
    from scriptbridge.train.checkpoint import save_tensors
    from scriptbridge.utils.io import atomic_write_text

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with _quiet_transformers():
        encoder.model.save_pretrained(tmp, safe_serialization=True)
    encoder.tokenizer.save_pretrained(tmp)
    heads = objectives.heads.state_dict()
    if heads:
        save_tensors(tmp / "pretrain_heads.safetensors", heads)
    info = {"format": "scriptbridge-pretrained", "pooling": pooling, "default_prefix": prefix, **meta}
    atomic_write_text(tmp / "scriptbridge.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _load_heads(folder: str | None, objectives: Objectives) -> bool:
    """The heads a previous pretraining run saved beside its model, where the shapes agree."""
    if not folder:
        return False
    file = Path(folder) / "pretrain_heads.safetensors"
    if not file.is_file():
        return False
    from safetensors.torch import load_file

    saved = load_file(str(file))
    own = objectives.heads.state_dict()
    usable = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    objectives.heads.load_state_dict({**own, **usable})
    return bool(usable)


# the masked-LM head of a checkpoint saved as *ForMaskedLM, by our WordMLMHead's names
_MLM_HEAD_KEYS = {
    "dense.weight": ("cls.predictions.transform.dense.weight", "lm_head.dense.weight"),
    "dense.bias": ("cls.predictions.transform.dense.bias", "lm_head.dense.bias"),
    "layer_norm.weight": ("cls.predictions.transform.LayerNorm.weight", "lm_head.layer_norm.weight"),
    "layer_norm.bias": ("cls.predictions.transform.LayerNorm.bias", "lm_head.layer_norm.bias"),
    "bias": ("cls.predictions.bias", "cls.predictions.decoder.bias", "lm_head.bias", "lm_head.decoder.bias"),
}


def _checkpoint_files(encoder: Any) -> list[Path]:
    """The safetensors files of the encoder's checkpoint: its folder, or its copy in the hub cache
    (never a download: the encoder itself is already loaded)."""
    folder = Path(encoder.path) if encoder.path else None
    if folder is not None and folder.is_dir():
        return sorted(folder.glob("*.safetensors"))
    if encoder.source == "hub":
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(encoder.spec, "model.safetensors")
        except Exception:  # noqa: BLE001 - no cache, an old huggingface_hub: start the head fresh
            return []
        return [Path(found)] if isinstance(found, str) else []
    return []


def load_pretrained_mlm_head(encoder: Any, head: torch.nn.Module) -> bool:
    """Start MLM from the checkpoint's own masked-LM head (BERT's ``cls.predictions``, RoBERTa and
    XLM-R's ``lm_head``) when it has one: ``load_encoder`` reads the encoder only, and a fresh head
    would first have to relearn what mBERT or XLM-R already predicts.  True when every tensor was
    found with the right shape."""
    from safetensors import safe_open

    own = head.state_dict()
    found: dict[str, torch.Tensor] = {}
    for file in _checkpoint_files(encoder):
        with safe_open(str(file), "pt") as f:
            keys = set(f.keys())
            for ours, theirs in _MLM_HEAD_KEYS.items():
                for name in theirs:
                    if ours not in found and name in keys:
                        tensor = f.get_tensor(name)
                        if tensor.shape == own[ours].shape:
                            found[ours] = tensor
    if set(found) != set(own):
        return False
    head.load_state_dict({k: v.to(own[k].device, own[k].dtype) for k, v in found.items()})
    return True


def _build_model(recipe: Any, output: Path, device: Any, log: Any, *, main: bool = True) -> Any:
    """The starting encoder: loaded (embedded, folder, hub), or built from scratch (a SentencePiece
    Unigram tokenizer trained on every text of the recipe, saved in ``OUTPUT/tokenizer``, and a
    small BERT)."""
    from scriptbridge.models import load_encoder
    from scriptbridge.train.pretrain_recipe import SCRATCH

    if recipe.model.spec != SCRATCH:
        return load_encoder(recipe.model.spec, device=device)
    from transformers import PreTrainedTokenizerFast

    from scriptbridge.models.loading import Encoder
    from scriptbridge.models.scratch import build_scratch_model, train_unigram_tokenizer
    from scriptbridge.tasks.pretraining import read_pairs, read_texts

    sc = recipe.model.scratch
    tok_dir = output / "tokenizer"
    from scriptbridge.utils import distributed as dist

    if dist.is_distributed() and not main:  # the first process trains the tokenizer; the others read it
        torch.distributed.barrier()
    if (tok_dir / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
        log(f"tokenizer: {tok_dir} ({len(tokenizer)} pieces)")
    else:
        corpus: list[str] = []
        for stage in recipe.stages:
            for src in stage.pairs:
                a, b = read_pairs(recipe, src, recipe.seed)
                corpus += a + b
            for src in stage.texts:
                corpus += read_texts(recipe, src)
        corpus = list(dict.fromkeys(corpus))
        log(f"training a SentencePiece Unigram tokenizer ({sc.vocab_size} pieces) on {len(corpus)} texts")
        tokenizer = train_unigram_tokenizer(corpus, sc.vocab_size, lowercase=sc.lowercase)
        tokenizer.model_max_length = recipe.model.max_length
        tokenizer.save_pretrained(str(tok_dir))
    if dist.is_distributed() and main:
        torch.distributed.barrier()
    torch.manual_seed(recipe.seed)
    config = sc
    model = build_scratch_model(config, tokenizer).to(device)
    log(
        f"model from scratch: {config.num_layers} layers, hidden {config.hidden_size}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters"
    )
    return Encoder(
        model,
        tokenizer,
        spec=SCRATCH,
        name=f"{recipe.name} (from scratch)",
        source="scratch",
        default_prefix="",
        default_pooling=recipe.model.pooling or "mean",
    )


def _prepare_output(output: Path, recipe: Any, overwrite: bool) -> bool:
    """Refuse to clobber finished or foreign runs; True when resuming an unfinished run of this recipe."""
    ckpt = output / "checkpoints"
    stamp = ckpt / "recipe.sha"
    if (output / "metrics.json").exists():
        if not overwrite:
            raise PretrainError(
                f"{output} holds a finished run; pass --overwrite to run again (nothing was changed)"
            )
        shutil.rmtree(output)
        return False
    if stamp.is_file():
        if stamp.read_text().strip() == recipe_fingerprint(recipe):
            return True
        if not overwrite:
            raise PretrainError(
                f"{output} holds an unfinished run of another recipe; pass --overwrite to start over"
            )
        shutil.rmtree(output)
        return False
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise PretrainError(f"{output} exists and is not empty; pass --overwrite or choose another --output")
    if output.exists() and overwrite:
        shutil.rmtree(output)
    return False


class HeldOutProbe:
    """The recipe's held-out parallel set(s), measured during training: the metrics of the first set
    at the top level (what the report shows), every set under ``sets`` by name, and ``score``: the
    mean over sets of (metric source->target + metric target->source) / 2 (the set's ``metric``,
    top-1 by default: SR-B's measure), which selects the best weights and stops a stage that no
    longer improves."""

    def __init__(self, recipe: Any, pooling: str, prefix: str, max_length: int) -> None:
        from scriptbridge.evaluate.probe import ParallelProbe
        from scriptbridge.train.recipe import load_pairs

        sets = recipe.probe if isinstance(recipe.probe, list) else [recipe.probe]
        self.probes: list[tuple[str, str, Any]] = []
        for i, spec in enumerate(sets):
            data = load_pairs(recipe, spec).sample(spec.get("sample"), recipe.seed)
            layer = spec.get("layer", "last")
            name = spec.get("name") or (f"set{i + 1}" if len(sets) > 1 else "probe")
            self.probes.append(
                (
                    name,
                    spec.get("metric", "top1"),
                    ParallelProbe(
                        data.src.texts,
                        data.tgt.texts,
                        layers="last" if layer == "last" else [int(layer)],
                        pooling=pooling,
                        prefix=prefix,
                        max_length=max_length,
                        name="probe",
                    ),
                )
            )

    def __call__(self, encoder: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        sets: dict[str, dict[str, float]] = {}
        for name, metric, probe in self.probes:
            found = probe(encoder)
            flat = {k.split("/", 1)[1]: v for k, v in found.items() if k.count("/") == 1}
            flat["score"] = 0.5 * (flat[f"{metric}_src2tgt"] + flat[f"{metric}_tgt2src"])
            sets[name] = flat
            if not out:
                out.update(flat)
        out["score"] = sum(v["score"] for v in sets.values()) / len(sets)
        if len(sets) > 1:
            out["sets"] = sets
        return out


# ------------------------------------------------------------------------------------------ the loop
def pretrain(
    recipe: Any, output: str | Path, *, overwrite: bool = False, progress: bool = True
) -> PretrainResult:
    """Run the pretraining ``recipe`` into ``output`` (resuming an unfinished run of it there)."""
    from scriptbridge.objectives.tcm import ContrastiveAlignmentLoss
    from scriptbridge.tasks.pretraining import build_stage_data, build_step, companion_plan, epoch_plan
    from scriptbridge.train.checkpoint import has_checkpoint, load_checkpoint, load_weights, save_checkpoint
    from scriptbridge.train.teacher_student import linear_warmup, now, write_json
    from scriptbridge.utils import distributed as dist
    from scriptbridge.utils.io import atomic_write_text
    from scriptbridge.utils.runinfo import run_record, seed_everything

    output = Path(output)
    distributed = dist.init_from_env()
    rank, world = dist.rank(), dist.world_size()
    main = rank == 0

    def log(message: str) -> None:
        if main:
            _log(message)

    from scriptbridge.train.pretrain_recipe import check_pretrain_files

    check_pretrain_files(recipe)  # a wrong path fails now, not after the model has loaded
    resumed = _prepare_output(output, recipe, overwrite) if main else True
    if distributed:
        torch.distributed.barrier()
    started = now()
    seed_everything(recipe.seed)
    ckpt_dir = output / "checkpoints"
    if main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ckpt_dir / "recipe.sha", recipe_fingerprint(recipe) + "\n")
    if distributed:
        torch.distributed.barrier()
    device = recipe.train.device
    if device is None and distributed and torch.cuda.is_available():
        device = f"cuda:{torch.cuda.current_device()}"
    encoder = _build_model(recipe, output, device, log, main=main)
    model, tokenizer = encoder.model, encoder.tokenizer
    device = encoder.device
    pooling = recipe.model.pooling or encoder.default_pooling
    prefix = encoder.default_prefix if recipe.model.prefix is None else recipe.model.prefix
    if tokenizer.mask_token_id is None and any({"mlm", "tlm"} & set(s.active()) for s in recipe.stages):
        raise PretrainError(f"{encoder.name}: its tokenizer has no mask token, so MLM and TLM cannot run")
    max_length = min(recipe.model.max_length, int(getattr(model.config, "max_position_embeddings", 512)) - 2)
    torch.manual_seed(recipe.seed)
    objectives = Objectives(model, recipe).to(device)
    if recipe.model.spec != "scratch" and _load_heads(encoder.path, objectives):
        log(f"continuing with the pretraining heads saved in {encoder.path}")
    elif "mlm" in objectives.heads and load_pretrained_mlm_head(encoder, objectives.heads["mlm"]):
        log(f"MLM starts from {encoder.name}'s own masked-LM head")
    torch.manual_seed(recipe.seed + rank)  # dropout differs across processes, as their data does
    heldout = HeldOutProbe(recipe, pooling, prefix, max_length) if recipe.probe else None
    offset = position_offset(model)
    num_layers = int(model.config.num_hidden_layers)

    loop: dict[str, Any] = {"stage": 0, "stages": []}
    state_file = ckpt_dir / "loop.json"
    if resumed and state_file.is_file():
        loop = json.loads(state_file.read_text(encoding="utf-8"))
        log(f"resuming {output} at stage {loop['stage'] + 1}")
    done_before = loop["stage"]

    def write_resume(optimizer: Any, scheduler: Any, state: dict[str, Any]) -> None:
        """The resume point: weights, heads, optimizer, scheduler and ``state`` (the stage's loop
        counters), then ``loop.json`` (last, so a half-written checkpoint is never read)."""
        if main:
            save_checkpoint(
                ckpt_dir / "last",
                model=model,
                head=objectives.heads,
                optimizer=optimizer,
                scheduler=scheduler,
                loop=state,
            )
            atomic_write_text(state_file, json.dumps(loop, indent=2, default=float) + "\n")
        if distributed:
            torch.distributed.barrier()

    def run_stage(index: int, stage: Any) -> None:
        cfg = stage.train
        log(f"stage {index + 1}/{len(recipe.stages)} {stage.name}: {', '.join(stage.active())}")
        data = build_stage_data(
            recipe, stage, tokenizer, prefix=prefix, max_length=max_length, seed=recipe.seed, log=log
        )
        roles: set[str] = set()
        for o in stage.active():
            roles |= ROLES_OF[o]
        pair_objectives = bool(roles & {"tlm", "a"})
        lengths = (
            np.asarray([data.length(a) + data.length(b) for a, b in data.pairs])
            if pair_objectives
            else np.asarray([data.length(int(t)) for t in data.mlm])
        )
        n_items = len(data.pairs) if pair_objectives else len(data.mlm)
        steps_per_epoch = len(
            epoch_plan(
                n_items, cfg.batch_size, recipe.seed, 0, lengths if cfg.length_grouping else None, world=world
            )
        )
        total = (
            steps_per_epoch * cfg.epochs
            if cfg.max_steps is None
            else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
        )
        opts = stage.objectives
        tcm = None
        tcm_layer = num_layers
        if stage.weight("tcm") > 0:
            tcm = ContrastiveAlignmentLoss(opts["tcm"]["similarity"], opts["tcm"]["temperature"])
            layer = opts["tcm"]["layer"]
            tcm_layer = num_layers if layer == "last" else int(layer)
            if tcm_layer > num_layers:
                raise PretrainError(
                    f"stage {stage.name}: objectives.tcm.layer is {tcm_layer} but the model has {num_layers} layers"
                )
        forward = Forward(model, packing=cfg.packing)
        precision = resolve_precision(cfg.precision, device)
        bf16 = precision == "bf16"
        params = [p for p in model.parameters() if p.requires_grad] + [
            p for p in objectives.parameters() if p.requires_grad
        ]
        params = list({id(p): p for p in params}.values())  # the tied decoder is the embedding matrix
        from scriptbridge.train.run import _fused_adamw

        optimizer = torch.optim.AdamW(
            params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=_fused_adamw(params)
        )
        scheduler = linear_warmup(optimizer, int(cfg.warmup_ratio * total), total)
        st: dict[str, Any] = loop.get("current") or {
            "epoch": 0,
            "in_epoch": 0,
            "step": 0,
            "best": None,
            "best_step": None,
            "bad": 0,
            "history": [],
            "probe_before": None,
        }
        if st["step"] > 0 and has_checkpoint(ckpt_dir / "last"):
            st = load_checkpoint(
                ckpt_dir / "last",
                model=model,
                head=objectives.heads,
                optimizer=optimizer,
                scheduler=scheduler,
            )
            log(f"resuming stage {stage.name} at step {st['step']}")
        elif has_checkpoint(ckpt_dir / "last"):  # a finished earlier stage: its best weights
            from safetensors.torch import load_file

            load_weights(model, objectives.heads, load_file(str(ckpt_dir / "last" / "weights.safetensors")))
        log(
            f"  {len(data.pairs)} pairs, {len(data.mlm) if 'mlm' in roles else 0} MLM texts, "
            f"{steps_per_epoch} steps an epoch "
            f"({cfg.batch_size * world} {'pairs' if pair_objectives else 'texts'} a step), {total} steps; "
            f"precision {precision}, "
            f"{'packed' if forward.packed else 'padded'} forward"
        )

        def run_probe() -> dict[str, float]:
            if heldout is None:
                return {}
            return heldout(encoder)

        if heldout is not None and st["probe_before"] is None:
            st["probe_before"] = run_probe()
            log(f"  probe before: top-1 {100 * st['probe_before']['score']:.1f}")

        def checkpoint() -> None:
            loop["current"] = st
            write_resume(optimizer, scheduler, st)

        def evaluate(sums: dict[str, float], count: int, seconds: float) -> bool:
            """Probe, keep the best, checkpoint; True when patience has run out."""
            entry: dict[str, Any] = {
                "step": st["step"],
                "epoch": st["epoch"] + 1,
                "seconds": round(seconds, 2),
                **{k: v / max(1, count) for k, v in sums.items()},
            }
            found = run_probe()
            stop = False
            if found:
                entry["probe"] = found
                score = found["score"]
                if st["best"] is None or score > st["best"]:
                    st.update(best=score, best_step=st["step"], bad=0)
                    if main:
                        from scriptbridge.train.run import _save_best

                        _save_best(ckpt_dir / "best", model, objectives.heads)
                else:
                    st["bad"] += 1
                    stop = st["bad"] > cfg.patience
            st["history"].append(entry)
            probe_text = f", probe top-1 {100 * found['score']:.1f}" if found else ""
            log(
                f"  step {st['step']}: loss {entry.get('loss', float('nan')):.4f}{probe_text}"
                + (" (best)" if found and st["best_step"] == st["step"] else "")
            )
            checkpoint()
            return stop

        from scriptbridge.commands.common import progress as progress_bar

        stop = False
        tstart = now()
        with progress_bar(transient=True) as bar:
            task_id = (
                bar.add_task(stage.name, total=total, completed=st["step"]) if progress and main else None
            )
            while st["epoch"] < cfg.epochs and not stop and st["step"] < total:
                epoch = st["epoch"]
                plan = epoch_plan(
                    n_items,
                    cfg.batch_size,
                    recipe.seed + index,
                    epoch,
                    lengths if cfg.length_grouping else None,
                    world=world,
                )
                companion = (
                    companion_plan(len(data.mlm), len(plan), recipe.seed + index, epoch)
                    if pair_objectives and "mlm" in roles
                    else None
                )
                objectives.train()
                model.train()
                sums: dict[str, float] = {}
                count = 0
                for b in range(st["in_epoch"], len(plan)):
                    rows = plan[b]
                    local = rows[rank::world] if world > 1 else rows
                    if pair_objectives:
                        pair_rows = data.pairs[local]
                        mlm_rows = (
                            data.mlm[companion[b][rank::world]] if companion is not None else data.mlm[:0]
                        )
                    else:
                        pair_rows, mlm_rows = data.pairs[:0], data.mlm[local]
                    gen = torch.Generator().manual_seed(
                        int(recipe.seed * 1_000_003 + index * 100_003 + st["step"] * 101 + rank)
                    )
                    batch = build_step(
                        data,
                        pair_rows,
                        mlm_rows,
                        tokenizer=tokenizer,
                        roles=roles,
                        generator=gen,
                        mlm_ratio=opts.get("mlm", {}).get("ratio", 0.15),
                        tlm_ratio=opts.get("tlm", {}).get("ratio", 0.15),
                        restart_positions=opts.get("tlm", {}).get("restart_positions", True),
                        position_offset=offset,
                        max_length=max_length,
                    ).to(device)
                    capture = {tcm_layer} if tcm is not None and tcm_layer != num_layers else set()
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                        last, captured = forward(batch, capture)
                        loss, parts = objectives.stage_losses(
                            stage,
                            batch,
                            last,
                            captured,
                            pooling=pooling,
                            tcm_layer=tcm_layer,
                            num_layers=num_layers,
                            tcm=tcm,
                            generator=gen,
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if distributed:
                        dist.average_gradients(params)
                    if cfg.grad_clip:
                        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    optimizer_step(optimizer)
                    scheduler.step()
                    st["step"] += 1
                    st["in_epoch"] = b + 1
                    count += 1
                    value = float(loss.detach())
                    if distributed:  # the losses of the whole batch: the mean over processes
                        both = torch.tensor([value, *parts.values()], dtype=torch.float64, device=device)
                        torch.distributed.all_reduce(both)
                        value, *rest = (both / world).tolist()
                        parts = dict(zip(parts, rest, strict=True))
                    for key, v in {"loss": value, **parts}.items():
                        sums[key] = sums.get(key, 0.0) + v
                    if task_id is not None:
                        bar.update(
                            task_id, advance=1, description=f"{stage.name} e{epoch + 1} loss {value:.3f}"
                        )
                    if cfg.eval_every and st["step"] % cfg.eval_every == 0 and st["step"] < total:
                        stop = evaluate(sums, count, now() - tstart)
                        sums, count = {}, 0
                        model.train()
                        objectives.train()
                        if stop:
                            break
                    if st["step"] >= total:
                        break
                if stop:
                    break
                st["epoch"] += 1
                st["in_epoch"] = 0
                # with eval_every, probes follow the global step count across epochs (no extra one at
                # an epoch's end, which would spend patience on a handful of steps); always at the end
                if not cfg.eval_every or st["step"] >= total:
                    stop = evaluate(sums, count, now() - tstart)
        model.eval()
        # the stage's result: its best weights by the probe (the last ones without a probe)
        if (ckpt_dir / "best" / "weights.safetensors").is_file() and st["best_step"] is not None:
            from safetensors.torch import load_file

            load_weights(model, objectives.heads, load_file(str(ckpt_dir / "best" / "weights.safetensors")))
            torch.nn.Module.zero_grad(model)
            with torch.no_grad():  # the encoder's fast CPU path keys its packed weights on versions
                for p in model.parameters():
                    torch.autograd.graph.increment_version(p)
        if distributed:  # every process has read the best weights before the first removes them
            torch.distributed.barrier()
        summary = {
            "name": stage.name,
            "objectives": {k: v for k, v in stage.objectives.items() if v["weight"] > 0},
            "data": data.described,
            "pairs": len(data.pairs),
            "mlm_texts": len(data.mlm) if "mlm" in roles else 0,
            "steps": st["step"],
            "best_step": st["best_step"],
            "best_score": st["best"],
            "stopped_early": stop,
            "probe_before": st["probe_before"],
            "history": st["history"],
            "seconds": round(now() - tstart, 1),
        }
        if main:
            save_pretrained_folder(
                _stage_dir(output, index, stage) / "model",
                encoder,
                objectives,
                pooling=pooling,
                prefix=prefix,
                meta={"name": f"{recipe.name}: {stage.name}", "recipe": recipe.name, "stage": stage.name},
            )
            shutil.rmtree(ckpt_dir / "best", ignore_errors=True)
        loop["stages"].append(summary)
        loop["stage"] = index + 1
        loop["current"] = None
        # the next stage starts from these weights (a resume reads them from here)
        write_resume(optimizer, scheduler, {"step": 0})
        log(
            f"stage {stage.name} done: {st['step']} steps"
            + (
                f", best probe top-1 {100 * st['best']:.1f} at step {st['best_step']}"
                if st["best"] is not None
                else ""
            )
        )

    for index, stage in enumerate(recipe.stages):
        if index >= done_before:
            run_stage(index, stage)

    metrics = {
        "recipe": recipe.name,
        "model": recipe.model.spec,
        "pooling": pooling,
        "stages": loop["stages"],
    }
    if main:
        final = output / "model"
        last_stage = _stage_dir(output, len(recipe.stages) - 1, recipe.stages[-1]) / "model"
        shutil.rmtree(final, ignore_errors=True)
        shutil.copytree(last_stage, final)
        atomic_write_text(output / "recipe.yaml", recipe.dump(include_base_dir=True))
        write_json(output / "metrics.json", metrics)
        atomic_write_text(output / "report.md", render_report(recipe, metrics))
        write_json(
            output / "run.json",
            run_record(
                seed=recipe.seed, seconds=round(now() - started, 1), resumed=resumed, world_size=world
            ),
        )
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    if distributed:
        torch.distributed.barrier()
    return PretrainResult(output, metrics, resumed)


def render_report(recipe: Any, metrics: dict[str, Any]) -> str:
    lines = [f"# {recipe.name}: alignment pretraining", "", f"Start: `{recipe.model.spec}`.", ""]
    for s in metrics["stages"]:
        objectives = ", ".join(f"{k} × {v['weight']:g}" for k, v in s["objectives"].items())
        lines += [
            f"## {s['name']} ({objectives})",
            "",
            f"{s['pairs']} pairs, {s['mlm_texts']} MLM texts, {s['steps']} steps in {s['seconds']:.0f} s"
            + (" (stopped early)" if s["stopped_early"] else "")
            + (f"; best step {s['best_step']}" if s["best_step"] is not None else "")
            + ".",
            "",
            "| step | loss | "
            + " | ".join(o for o in ("mlm", "tlm", "tcm", "tpp"))
            + " | probe top-1 s→t | t→s | gap |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        before = s.get("probe_before") or {}
        if before:
            lines.append(
                "| before | | | | | | "
                f"{100 * before['top1_src2tgt']:.1f} | {100 * before['top1_tgt2src']:.1f} | {before['gap']:.3f} |"
            )
        for h in s["history"]:
            p = h.get("probe") or {}
            cells = [f"{h[k]:.4f}" if k in h else "-" for k in ("mlm", "tlm", "tcm", "tpp")]
            probe = (
                [f"{100 * p['top1_src2tgt']:.1f}", f"{100 * p['top1_tgt2src']:.1f}", f"{p['gap']:.3f}"]
                if p
                else ["-", "-", "-"]
            )
            lines.append(
                f"| {h['step']} | {h.get('loss', float('nan')):.4f} | " + " | ".join(cells + probe) + " |"
            )
        lines.append("")
    return "\n".join(lines)
