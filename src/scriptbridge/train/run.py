"""``train(recipe, output)``: one recipe, start to finish.

Builds the views of the labelled data (translation + romanization), the student (frozen bottom,
cached), the teacher vectors, then runs the one training loop with early stopping on the dev set,
checkpointing after each epoch (a killed run resumes from there), restores the best epoch and scores
every evaluation set.  Writes ``OUTPUT/model/`` (safetensors), ``recipe.yaml`` (resolved),
``metrics.json``, ``report.md`` and ``run.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from scriptbridge.train.checkpoint import has_checkpoint, load_checkpoint, load_weights, save_checkpoint
from scriptbridge.train.teacher_student import (
    FrozenBottom,
    Student,
    TrainingData,
    batch_loss,
    epoch_batches,
    history_line,
    linear_warmup,
    now,
    pair_batches,
    step_items,
    write_json,
)


class TrainError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


@dataclass
class TrainResult:
    output: Path
    metrics: dict[str, Any]
    best_epoch: int | None
    resumed: bool


def _log(message: str) -> None:
    from scriptbridge.commands.common import err_console

    err_console.print(message, highlight=False, markup=False)


def _spec(recipe: Any, entry: Any) -> dict[str, Any]:
    """A labelled-set mapping with ``pkg://`` / ``shared://`` / relative paths resolved."""
    from scriptbridge.train.recipe import resolve_path

    d = {"path": entry} if isinstance(entry, str) else dict(entry)
    for key in ("path", "labels_path"):
        if d.get(key):
            d[key] = str(resolve_path(recipe, d[key]))
    return d


def recipe_fingerprint(recipe: Any) -> str:
    # a recipe whose model became its own pretraining's result keeps the fingerprint of the recipe as given
    recipe = getattr(recipe, "_pretrained_from", None) or recipe
    return hashlib.sha256(recipe.dump().encode("utf-8")).hexdigest()[:16]


def _prepare_output(output: Path, recipe: Any, overwrite: bool) -> bool:
    """Refuse to clobber finished or foreign runs; return True when resuming."""
    ckpt = output / "checkpoints" / "last"
    stamp = output / "checkpoints" / "recipe.sha"
    if (output / "metrics.json").exists():
        if not overwrite:
            raise TrainError(
                f"{output} holds a finished run; pass --overwrite to train again (nothing was changed)"
            )
        shutil.rmtree(output)
        return False
    if has_checkpoint(ckpt):
        if stamp.is_file() and stamp.read_text().strip() == recipe_fingerprint(recipe):
            return True
        if not overwrite:
            raise TrainError(
                f"{output} holds an unfinished run of another recipe; pass --overwrite to start over"
            )
        shutil.rmtree(output)
        return False
    pretrained = output / "pretrain.sha"  # the recipe's pretraining ran (or began) here: it resumes
    if pretrained.is_file() and pretrained.read_text().strip() == recipe_fingerprint(recipe):
        return False
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise TrainError(f"{output} exists and is not empty; pass --overwrite or choose another --output")
    return False


def pretrain_first(recipe: Any, output: Path, *, progress: bool = True) -> Any:
    """Run the recipe's ``pretrain`` section into ``OUTPUT/pretrain`` (resuming it, or reusing it
    when finished) and return the recipe with ``model.spec`` pointing at the result; the recipe
    itself when it has no such section."""
    from scriptbridge.train.pretrain_recipe import pretrain_section
    from scriptbridge.utils.io import atomic_write_text

    section = pretrain_section(recipe)
    if section is None:
        return recipe
    from scriptbridge.train.pretrain import pretrain

    folder = output / "pretrain"
    if not ((folder / "metrics.json").is_file() and (folder / "model" / "config.json").is_file()):
        output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output / "pretrain.sha", recipe_fingerprint(recipe) + "\n")
        _log(f"pretraining first ({section.name}) into {folder}")
        pretrain(section, folder, progress=progress)
    else:
        _log(f"using the finished pretraining in {folder}")
    copy = replace(recipe, model=replace(recipe.model, spec=str(folder / "model")))
    copy._where = recipe._where
    copy._pretrained_from = recipe
    return copy


def train(recipe: Any, output: str | Path, *, overwrite: bool = False, progress: bool = True) -> TrainResult:
    """Run ``recipe`` into ``output`` (resuming an unfinished run of the same recipe there)."""
    if getattr(recipe, "task", "classification") == "token-classification":
        from scriptbridge.train.tokens import train_tokens

        return train_tokens(recipe, output, overwrite=overwrite, progress=progress)
    from scriptbridge.models import load_encoder
    from scriptbridge.objectives import ClassificationLoss, TeacherStudentLoss
    from scriptbridge.objectives.classification import ClassificationHead
    from scriptbridge.tasks.classification import classification_metrics, label_vocabulary, read_labelled
    from scriptbridge.train.layers import LayerStack
    from scriptbridge.utils.io import atomic_write_text
    from scriptbridge.utils.runinfo import run_record, seed_everything
    from scriptbridge.views import default_scheme, romanize
    from scriptbridge.views.translate import build_translator

    output = Path(output)
    resumed = _prepare_output(output, recipe, overwrite)
    recipe = pretrain_first(recipe, output, progress=progress)
    started = now()
    seed_everything(recipe.seed)
    method, cfg = recipe.method, recipe.train

    # ---- data and views
    train_set = read_labelled(_spec(recipe, recipe.data.train), seed=recipe.seed)
    dev_set = read_labelled(_spec(recipe, recipe.data.dev), seed=recipe.seed) if recipe.data.dev else None
    eval_sets = [read_labelled(_spec(recipe, e), seed=recipe.seed) for e in recipe.evaluate]
    labels = label_vocabulary(train_set, declared=recipe.labels)
    label_id = {name: i for i, name in enumerate(labels)}
    lang = recipe.views.target_lang
    scheme = recipe.views.romanize_scheme or (default_scheme("romanize", lang) if lang else None)
    from scriptbridge.train.recipe import resolve_path

    options = dict(recipe.views.translation.options)
    for key in ("path", "model"):  # pkg:// and shared:// paths; a hub id for `model` stays as it is
        value = options.get(key)
        if isinstance(value, str) and (
            key == "path" or value.startswith(("pkg://", "shared://", ".", "/", "~"))
        ):
            options[key] = str(resolve_path(recipe, value))
    translator = build_translator(
        {"provider": recipe.views.translation.provider, **options},
        base_dir=Path(recipe.base_dir) if recipe.base_dir else None,
    )
    texts: dict[str, list[str]] = {"en": train_set.texts}
    if translator is not None and method.variant != "en":  # `en` trains on the source alone
        _log(f"translating {len(train_set)} training sentences with {translator.name}")
        texts["tr"] = translator.translate(train_set.texts)
        texts["tl"] = romanize(texts["tr"], lang, scheme)
    pairs_text: dict[str, list[str]] | None = None
    if recipe.data.parallel and method.variant == "joint-ts" and translator is None:
        from scriptbridge.train.recipe import load_pairs

        # several corpora (e.g. eng-hin and eng-arb) are pooled; each romanizes its own language
        pairs_text = {"en": [], "tr": [], "tl": []}
        for par in recipe.data.parallel_sets():
            pdata = load_pairs(recipe, par).sample(par.get("limit"), recipe.seed)
            plang = par.get("lang") or lang
            pscheme = par.get("scheme") or (
                scheme if plang == lang else default_scheme("romanize", plang) if plang else None
            )
            pairs_text["en"] += pdata.src.texts
            pairs_text["tr"] += pdata.tgt.texts
            pairs_text["tl"] += romanize(pdata.tgt.texts, plang, pscheme)
            _log(
                f"alignment pairs: {len(pdata.src.texts)} from {par['src']} -> {par.get('tgt')} ({plang}, {pscheme})"
            )

    # ---- model: student, frozen bottom, head; teacher vectors
    encoder = load_encoder(recipe.model.spec, device=cfg.device)
    device = encoder.device
    pooling = recipe.model.pooling or encoder.default_pooling
    prefix = encoder.default_prefix if recipe.model.prefix is None else recipe.model.prefix
    stack = LayerStack(encoder.model)
    if method.freeze_layers > stack.num_layers:
        raise TrainError(
            f"method.freeze_layers={method.freeze_layers} but the model has {stack.num_layers} layers"
        )
    frozen = stack.freeze(method.freeze_layers, embeddings=method.freeze_embeddings)
    precision = resolve_precision(cfg.precision, device)
    _log(f"precision: {precision}" + (" (auto)" if cfg.precision == "auto" else ""))
    if precision == "bf16" and not native_bf16(device):
        _log(
            f"warning: train.precision is bf16 but {device} has no native bfloat16 products "
            "(CPU: AVX-512 BF16 or AMX): training will be slower than fp32, not faster"
        )
    bottom = FrozenBottom(
        stack,
        encoder.tokenizer,
        k=method.freeze_layers,
        prefix=prefix,
        max_length=recipe.model.max_length,
        cache=cfg.cache_frozen,
        device=device,
        encoder=encoder,
        bf16=precision == "bf16",
    )
    torch.manual_seed(recipe.seed)
    head = ClassificationHead(stack.model.config.hidden_size, len(labels)).to(device)
    student = Student(stack, bottom, head, pooling, method.freeze_layers, frozen, bf16=precision == "bf16")
    t0 = now()
    views = {v: bottom.add(t) for v, t in texts.items()}
    pair_rows = {v: bottom.add(t) for v, t in pairs_text.items()} if pairs_text else None
    data = TrainingData(views, torch.tensor([label_id[y] for y in train_set.labels], device=device))
    if method.variant == "joint-ts" and method.alpha > 0:
        # the teacher is the starting encoder: its vectors of the sources, once, before any update
        data.teacher = student.embed(views["en"])
        if pair_rows:
            data.pairs = pair_rows
            data.pair_teacher = student.embed(pair_rows["en"])
    _log(
        f"cached the frozen bottom ({method.freeze_layers} layers) of {len(bottom.ids)} texts in "
        f"{now() - t0:.1f} s ({bottom.nbytes() / 2**20:.0f} MiB)"
    )

    # ---- optimisation
    task = ClassificationLoss(head)
    align = TeacherStudentLoss(tuple(method.betas)) if method.variant == "joint-ts" else None
    alpha = method.alpha if method.variant == "joint-ts" else 0.0
    trainable = [p for p in stack.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": trainable, "lr": cfg.lr}, {"params": list(head.parameters()), "lr": cfg.head_lr}],
        weight_decay=cfg.weight_decay,
        fused=_fused_adamw(trainable + list(head.parameters())),
    )
    items = step_items(method.variant, data)
    steps_per_epoch = max(1, -(-len(items) // cfg.batch_size))
    total = (
        steps_per_epoch * cfg.epochs
        if cfg.max_steps is None
        else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    )
    scheduler = linear_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    ckpt_dir = output / "checkpoints"
    loop: dict[str, Any] = {
        "epoch": 0,
        "step": 0,
        "best": None,
        "best_epoch": None,
        "bad_epochs": 0,
        "history": [],
    }
    if resumed:
        loop = load_checkpoint(
            ckpt_dir / "last", model=stack.model, head=head, optimizer=optimizer, scheduler=scheduler
        )
        _log(f"resuming {output} after epoch {loop['epoch']} (step {loop['step']})")
    else:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ckpt_dir / "recipe.sha", recipe_fingerprint(recipe) + "\n")

    # the held-out parallel set of the recipe's `probe` section, measured after every epoch (and once
    # before training): does alignment improve while the task is learnt?
    heldout = _heldout_probe(recipe, pooling, prefix)

    def probe_now() -> dict[str, float]:
        if heldout is None:
            return {}
        found = heldout(encoder)
        return {
            k.split("/", 1)[1]: v
            for k, v in found.items()
            if k.count("/") == 1 and k.split("/")[1] in PROBE_KEYS
        }

    if heldout is not None and not loop.get("probe_before"):
        loop["probe_before"] = probe_now()

    def evaluate_dev() -> dict[str, Any]:
        if dev_set is None:
            return {}
        pred = student.predict(dev_set.texts)
        return classification_metrics(dev_set.labels, [labels[i] for i in pred], labels)

    from scriptbridge.commands.common import progress as progress_bar

    stop = False
    with progress_bar(transient=True) as bar:
        task_id = bar.add_task("training", total=total, completed=loop["step"]) if progress else None
        for epoch in range(loop["epoch"], cfg.epochs):
            if stop or (cfg.max_steps is not None and loop["step"] >= cfg.max_steps):
                break
            t_epoch = now()
            student.train_mode(True)
            batches = epoch_batches(len(items), cfg.batch_size, recipe.seed, epoch)
            pair_plan = (
                pair_batches(len(pairs_text["en"]), cfg.batch_size, recipe.seed, epoch, len(batches))
                if pairs_text
                else None
            )
            sums: dict[str, float] = {}
            for b, rows in enumerate(batches):
                loss, parts = batch_loss(
                    student,
                    data,
                    [items[i] for i in rows],
                    task=task,
                    align=align,
                    alpha=alpha,
                    pair_rows=pair_plan[b] if pair_plan else None,
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(trainable + list(head.parameters()), cfg.grad_clip)
                optimizer_step(optimizer)
                scheduler.step()
                loop["step"] += 1
                loss_value = float(loss.detach())
                for key, value in {"loss": loss_value, **parts}.items():
                    sums[key] = sums.get(key, 0.0) + value
                if task_id is not None:
                    bar.update(
                        task_id,
                        advance=1,
                        description=f"epoch {epoch + 1}/{cfg.epochs} loss {loss_value:.3f}",
                    )
                if cfg.max_steps is not None and loop["step"] >= cfg.max_steps:
                    break
            dev = evaluate_dev()
            entry = history_line(epoch + 1, {k: v / max(1, b + 1) for k, v in sums.items()}, now() - t_epoch)
            if dev:
                entry["dev"] = {k: dev[k] for k in ("accuracy", "macro_f1", "weighted_f1")}
            if heldout is not None:
                entry["probe"] = probe_now()
            score = dev.get(cfg.metric) if dev else -entry["loss"]
            stop = close_epoch(
                loop, entry, score, ckpt_dir, stack.model, head, optimizer, scheduler, cfg.patience
            )
            dev_text = f", dev {cfg.metric} {dev[cfg.metric]:.3f}" if dev else ""
            _log(
                f"epoch {epoch + 1}: loss {entry['loss']:.4f}{dev_text}"
                + (" (best)" if loop["best_epoch"] == epoch + 1 else "")
            )

    # ---- the best epoch, scored on every evaluation set
    from safetensors.torch import load_file

    if (ckpt_dir / "best" / "weights.safetensors").is_file():
        load_weights(stack.model, head, load_file(str(ckpt_dir / "best" / "weights.safetensors")))
    results: dict[str, Any] = {}
    predictions: dict[str, Any] = {}
    for ev in ([dev_set] if dev_set is not None else []) + eval_sets:
        pred = student.predict(ev.texts)
        key = ev.name if ev is not dev_set else f"dev: {ev.name}"
        # per-example predictions: what paired significance tests between runs need
        predictions[key] = {"gold": ev.labels, "pred": [labels[i] for i in pred]}
        results[key] = {
            **classification_metrics(ev.labels, [labels[i] for i in pred], labels),
            "view": ev.view,
            "lang": ev.lang,
        }
    student.train_mode(False)
    _save_model(output / "model", encoder, head, labels, pooling, prefix, recipe)
    atomic_write_text(output / "recipe.yaml", recipe.dump())
    metrics = {
        "recipe": recipe.name,
        "variant": method.variant,
        "labels": labels,
        "best_epoch": loop["best_epoch"],
        "precision": precision,
        "selection_metric": cfg.metric if dev_set is not None else "train loss",
        "sets": results,
        "history": loop["history"],
        "probe_before": loop.get("probe_before"),
    }
    write_json(output / "predictions.json", predictions)
    write_json(output / "metrics.json", metrics)  # last: its presence marks a finished run
    atomic_write_text(output / "report.md", render_report(recipe, metrics))
    write_json(
        output / "run.json",
        run_record(
            seed=recipe.seed,
            seconds=round(now() - started, 1),
            resumed=resumed,
            frozen_cache_mib=round(bottom.nbytes() / 2**20, 1),
            precision=precision,
        ),
    )
    shutil.rmtree(ckpt_dir / "last", ignore_errors=True)  # finished: the resume point is no longer needed
    return TrainResult(output, metrics, loop["best_epoch"], resumed)


PROBE_KEYS = ("top1_src2tgt", "top1_tgt2src", "csls_top1_src2tgt", "gap")


def _heldout_probe(recipe: Any, pooling: str, prefix: str) -> Any:
    """A :class:`ParallelProbe` on the recipe's ``probe`` pairs, or None without a ``probe`` section."""
    if not getattr(recipe, "probe", None):
        return None
    from scriptbridge.evaluate.probe import ParallelProbe
    from scriptbridge.train.recipe import load_pairs

    data = load_pairs(recipe, recipe.probe).sample(recipe.probe.get("sample"), recipe.seed)
    return ParallelProbe(
        data.src.texts, data.tgt.texts, layers="last", pooling=pooling, prefix=prefix, name="probe"
    )


def close_epoch(
    loop: dict[str, Any],
    entry: dict[str, Any],
    score: float,
    ckpt_dir: Path,
    model: torch.nn.Module,
    head: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    patience: int,
) -> bool:
    """The end of an epoch, for every training loop: record ``entry``, keep the best weights by
    ``score`` (higher is better), count epochs without improvement, write the resume checkpoint.
    Returns True when patience has run out."""
    epoch = len(loop["history"]) + 1
    loop["history"].append(entry)
    stop = False
    if loop["best"] is None or score > loop["best"]:
        loop.update(best=score, best_epoch=epoch, bad_epochs=0)
        _save_best(ckpt_dir / "best", model, head)
    else:
        loop["bad_epochs"] += 1
        stop = loop["bad_epochs"] > patience
    loop["epoch"] = epoch
    save_checkpoint(
        ckpt_dir / "last", model=model, head=head, optimizer=optimizer, scheduler=scheduler, loop=loop
    )
    return stop


def _save_best(folder: Path, model: torch.nn.Module, head: torch.nn.Module) -> None:
    from scriptbridge.train.checkpoint import save_tensors, trainable_state

    weights = {f"model.{k}": v for k, v in trainable_state(model).items()}
    weights.update({f"head.{k}": v for k, v in head.state_dict().items()})
    save_tensors(folder / "weights.safetensors", weights)


def _save_model(
    folder: Path,
    encoder: Any,
    head: torch.nn.Module,
    labels: list[str],
    pooling: str,
    prefix: str,
    recipe: Any,
) -> None:
    """A normal checkpoint folder (``load_encoder(folder)`` works) plus the head and the label map."""
    from scriptbridge.train.checkpoint import save_tensors
    from scriptbridge.utils.io import atomic_write_text

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    from scriptbridge.models.embedded import _quiet_transformers

    with _quiet_transformers():
        encoder.model.save_pretrained(tmp, safe_serialization=True)
    encoder.tokenizer.save_pretrained(tmp)
    save_tensors(tmp / "classifier_head.safetensors", head.state_dict())
    meta = {
        "format": "scriptbridge-classifier",
        "name": f"{recipe.name} ({recipe.method.variant})",
        "labels": labels,
        "pooling": pooling,
        "default_prefix": prefix,
        "recipe": recipe.name,
    }
    atomic_write_text(tmp / "scriptbridge.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def render_report(recipe: Any, metrics: dict[str, Any]) -> str:
    lines = [
        f"# {recipe.name}: {metrics['variant']}",
        "",
        f"Best epoch {metrics['best_epoch']} by {metrics['selection_metric']}. Labels: {', '.join(metrics['labels'])}.",
        "",
        "| set | view | n | accuracy | macro-F1 | weighted-F1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, m in metrics["sets"].items():
        lines.append(
            f"| {name} | {m.get('view') or 'as written'} | {m['n']} | {100 * m['accuracy']:.1f} | "
            f"{100 * m['macro_f1']:.1f} | {100 * m['weighted_f1']:.1f} |"
        )
    before = metrics.get("probe_before") or {}

    def top1(probe: dict) -> str:
        value = probe.get("top1_src2tgt")
        return "-" if value is None else f"{100 * value:.1f}"

    lines += [
        "",
        "| epoch | loss | task | L_ts | L_tr | L_tl | dev macro-F1 | held-out top-1 s→t |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if before:
        lines.append(f"| before | | | | | | | {top1(before)} |")
    for h in metrics["history"]:
        cells = [f"{h[k]:.4f}" if k in h else "-" for k in ("task", "L_ts", "L_tr", "L_tl")]
        dev = h.get("dev", {}).get("macro_f1")
        lines.append(
            f"| {h['epoch']} | {h['loss']:.4f} | "
            + " | ".join(cells)
            + f" | {'-' if dev is None else f'{100 * dev:.1f}'} | {top1(h.get('probe', {}))} |"
        )
    return "\n".join(lines) + "\n"


def native_bf16(device: torch.device) -> bool:
    """Does ``device`` compute bfloat16 products natively (CPU: oneDNN's own check for AVX-512 BF16
    or AMX; CUDA: compute capability 8.0 or newer)?"""
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        if device.type == "cpu":
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError, TypeError):
        return False
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``train.precision`` as run: ``auto`` is ``bf16`` where the device has native bfloat16
    products (where it makes training faster), else ``fp32``."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def _fused_adamw(params: list[torch.Tensor]) -> bool | None:
    """AdamW's fused kernel (one pass over all tensors: 3-4x faster steps on the CPU than the
    per-tensor loop) where PyTorch has it for these parameters; None lets PyTorch choose."""
    kinds = {(p.device.type, p.dtype) for p in params}
    return True if len(kinds) == 1 and kinds <= {("cpu", torch.float32), ("cuda", torch.float32)} else None


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``, then mark every updated parameter as modified in place.

    Why: the fused AdamW kernel writes the parameters without bumping their version counters, and
    ``Encoder``'s fast CPU path keys its pre-packed weights on those counters; without the bump, the
    held-out probe after an epoch (and any ``encode`` of the training model) would silently run the
    weights from before training."""
    optimizer.step()
    if any(group.get("fused") for group in optimizer.param_groups):
        with torch.no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        torch.autograd.graph.increment_version(p)
