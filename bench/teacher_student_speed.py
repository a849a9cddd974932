"""Teacher-student training speed: scriptbridge's ``joint-ts`` against a straightforward loop, on the CPU.

    .venv/bin/python bench/teacher_student_speed.py [--steps N] [--k 10] [--repeats 2] [--threads N]
        [--padded] [--bf16] [--profile] [--json out.json]

Data: the quickstart's 240 labelled English sentences (``demo/quickstart/train_en.tsv``) and their
three views: ``en``, ``tr`` = word-by-word translation into Hindi with the MUSE dictionary
``../shared/data/muse/en-hi.0-5000.txt`` (``DictionaryTranslator``; without that file the English
itself stands in, and the output says so) and ``tl`` = ``romanize(tr, "hi")`` (the default,
colloquial scheme).  The embedded encoder (multilingual-e5-small, 12 layers), ``joint-ts`` with
alpha 0.5 and betas 1, 1, 1, batch size 16 in the seeded order of ``epoch_batches``, AdamW (lr 3e-5,
head 1e-3, weight decay 0.01), linear warm-up over 10% of the steps, gradient clipping at 1.0,
``"query: "`` prefix, mean pooling, max_length 64 (the quickstart recipe's settings).

* ``scriptbridge``: exactly what ``scriptbridge.train.run.train`` builds -- ``LayerStack``,
  ``freeze(k)``, ``FrozenBottom(cache=True, encoder=...)`` (the hidden states after layer ``k`` of every text
  of every view, once, through the encoder's oneDNN path), ``ClassificationHead``, the teacher's
  vectors of the English sources once from those cached states (``Student.embed`` before any
  update: only the top layers run), then ``batch_loss`` per step (only layers ``k+1..N`` run, on
  packed tokens of all three views at once, with oneDNN products: ``train/packed.py``), fused
  AdamW.  In float32 (``train.precision: fp32``).
* ``--padded``: the same, but the top layers run through their own forward on padded batches, one
  view at a time (what scriptbridge did before ``train/packed.py``): splits the gain into caching
  and packing + oneDNN.
* ``--bf16``: the same as ``scriptbridge`` with ``train.precision: bf16`` (what ``auto`` picks on a
  CPU with AVX-512 BF16): the frozen bottom, the teacher's vectors and the top layers in bfloat16
  autocast; the dropout-free check then also reports how far its losses are from float32.
* ``plain``: a fresh model from the same checkpoint; the teacher is ``copy.deepcopy(model).eval()``
  with ``requires_grad=False`` and runs a full forward on the batch's English every step; the
  student runs a full forward on each view every step, the embeddings and layers ``1..k`` frozen by
  ``requires_grad=False`` only (and kept in eval mode, as scriptbridge keeps them), so they are
  still computed every step.

Timing starts once the model is loaded and the views are built (both sides need those) and covers
everything else: scriptbridge's one-off caching (frozen bottom + teacher vectors) is included.
samples/s = labelled examples processed (steps x 16) / total seconds.  Each measurement runs in a
fresh subprocess (``--only sb|plain``), so its peak RSS (``ru_maxrss``) is its own; the repeats are
interleaved, the order alternating, and the table shows medians.

Agreement: a separate subprocess (``--only check``) runs both paths for ``--check-steps`` steps with
every dropout set to 0 and asserts the per-step losses agree to ``--rtol`` (relative).  With dropout
on, both paths draw the same dropout masks in the same order (same seed, same shapes: a batch is
padded to its longest text either way) only on the padded path; the packed top draws them in
other shapes, so with dropout on the timed runs' losses differ by dropout noise (reported only).

``--threads N`` sets torch's thread count in every run (default: torch's own, the core count).  On a
machine shared with other busy processes, 2 threads on 2 cores make every small op wait for a
descheduled OpenMP thread (a 16 x 21 x 384 ``add`` took ~10 ms instead of ~10 us here), which slows
both paths 3-4x and skews the ratio; ``--threads 1`` gives steadier numbers there.  ``--profile``
splits scriptbridge's step time into FrozenBottom.batch, the top layers' forward, the losses, the
backward pass and clipping + AdamW.

Targets: scriptbridge >= 5x the plain loop's samples/s, peak RSS <= 2.5 GB.  The exit status is 0
whatever the speed; 1 if the losses disagree.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "src" / "scriptbridge" / "demo" / "quickstart"
MUSE = ROOT.parent / "shared" / "data" / "muse" / "en-hi.0-5000.txt"
SEED = 0
BATCH = 16
MAX_LENGTH = 64
LR, HEAD_LR, WEIGHT_DECAY, WARMUP, CLIP = 3e-5, 1e-3, 0.01, 0.1, 1.0
ALPHA, BETAS = 0.5, (1.0, 1.0, 1.0)
from scriptbridge.utils.runinfo import cpu_model, load_average  # noqa: E402

TARGET_SPEEDUP = 5.0
TARGET_RSS_GB = 2.5


def rss_gb() -> float:
    """Current resident set size (GB), from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return float("nan")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


# ---------------------------------------------------------------------------- data


def build_views() -> tuple[dict[str, list[str]], list[int], list[str], str]:
    """The three views of the labelled English, the label ids, the label names, the translator used."""
    from scriptbridge.tasks.classification import label_vocabulary, read_labelled
    from scriptbridge.views import default_scheme, romanize
    from scriptbridge.views.translate import DictionaryTranslator, GivenTranslations

    train_set = read_labelled({"path": str(QUICKSTART / "train_en.tsv")}, seed=SEED)
    labels = label_vocabulary(train_set)
    label_id = {name: i for i, name in enumerate(labels)}
    if MUSE.is_file():
        translator: Any = DictionaryTranslator(MUSE)
        note = translator.name
    else:
        translator = GivenTranslations(list(train_set.texts))
        note = "STAND-IN: the English itself (no MUSE en-hi dictionary found)"
    texts = {"en": list(train_set.texts)}
    texts["tr"] = translator.translate(texts["en"])
    texts["tl"] = romanize(texts["tr"], "hi", default_scheme("romanize", "hi"))
    return texts, [label_id[y] for y in train_set.labels], labels, note


def schedule(n: int, steps: int) -> list[list[int]]:
    """The example ids of each step: ``epoch_batches`` epoch after epoch, cut at ``steps``."""
    from scriptbridge.train.teacher_student import epoch_batches

    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < steps:
        plan += [b.tolist() for b in epoch_batches(n, BATCH, SEED, epoch)]
        epoch += 1
    return plan[:steps]


def no_dropout(*modules: Any) -> None:
    import torch

    for module in modules:
        for m in module.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0


# ---------------------------------------------------------------------------- scriptbridge


def run_scriptbridge(
    encoder: Any,
    texts: dict[str, list[str]],
    label_ids: list[int],
    n_labels: int,
    plan: list[list[int]],
    k: int,
    *,
    dropout: bool = True,
    profile: bool = False,
    packed: bool = True,
    bf16: bool = False,
) -> dict[str, Any]:
    """What ``train()`` builds for joint-ts with translations, then ``len(plan)`` steps."""
    import torch

    from scriptbridge.objectives import ClassificationLoss, TeacherStudentLoss
    from scriptbridge.objectives.classification import ClassificationHead
    from scriptbridge.train.layers import LayerStack
    from scriptbridge.train.run import _fused_adamw, optimizer_step
    from scriptbridge.train.teacher_student import (
        FrozenBottom,
        Student,
        TrainingData,
        batch_loss,
        linear_warmup,
        step_items,
    )

    t0 = time.perf_counter()
    device = encoder.device
    pooling, prefix = encoder.default_pooling, encoder.default_prefix
    stack = LayerStack(encoder.model)
    frozen = stack.freeze(k)
    bottom = FrozenBottom(
        stack,
        encoder.tokenizer,
        k=k,
        prefix=prefix,
        max_length=MAX_LENGTH,
        cache=True,
        device=device,
        encoder=encoder,
        bf16=bf16,
    )
    torch.manual_seed(SEED)
    head = ClassificationHead(stack.model.config.hidden_size, n_labels).to(device)
    if not dropout:
        no_dropout(stack.model, head)
    student = Student(stack, bottom, head, pooling, k, frozen, packed=packed, bf16=bf16)
    if packed and student.top is None:
        raise SystemExit("error: the packed top was refused for the embedded encoder")
    views = {v: bottom.add(t) for v, t in texts.items()}
    t_bottom = time.perf_counter()
    data = TrainingData(views, torch.tensor(label_ids, device=device))
    data.teacher = student.embed(views["en"])  # the starting student is the teacher
    t_teacher = time.perf_counter()
    task = ClassificationLoss(head)
    align = TeacherStudentLoss(BETAS)
    trainable = [p for p in stack.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": trainable, "lr": LR}, {"params": list(head.parameters()), "lr": HEAD_LR}],
        weight_decay=WEIGHT_DECAY,
        fused=_fused_adamw(trainable + list(head.parameters())),  # as train() does
    )
    items = step_items("joint-ts", data)
    scheduler = linear_warmup(optimizer, int(WARMUP * len(plan)), len(plan))
    student.train_mode(True)
    losses: list[float] = []
    prof = {"vectors": 0.0, "loss": 0.0, "backward": 0.0, "clip+opt": 0.0, "batch()": 0.0}
    t_steps = time.perf_counter()
    if profile:  # time FrozenBottom.batch / .packed inside the step, by wrapping it
        inner = bottom.packed if packed else bottom.batch

        def timed_batch(rows: list[int]) -> Any:
            s = time.perf_counter()
            out = inner(rows)
            prof["batch()"] += time.perf_counter() - s
            return out

        if packed:
            bottom.packed = timed_batch  # type: ignore[method-assign]
        else:
            bottom.batch = timed_batch  # type: ignore[method-assign]
        inner_vectors = student.vectors

        def timed_vectors(rows: list[int]) -> Any:
            s = time.perf_counter()
            out = inner_vectors(rows)
            prof["vectors"] += time.perf_counter() - s
            return out

        student.vectors = timed_vectors  # type: ignore[method-assign]
    for rows in plan:
        s = time.perf_counter()
        loss, _ = batch_loss(
            student, data, [items[i] for i in rows], task=task, align=align, alpha=ALPHA, pair_rows=None
        )
        s1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        s2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable + list(head.parameters()), CLIP)
        optimizer_step(optimizer)  # as train() does
        scheduler.step()
        losses.append(float(loss.detach()))
        s3 = time.perf_counter()
        prof["loss"] += s1 - s
        prof["backward"] += s2 - s1
        prof["clip+opt"] += s3 - s2
    end = time.perf_counter()
    prof["loss"] -= prof["vectors"]  # batch_loss minus the student forward = losses + bookkeeping
    prof["vectors"] -= prof["batch()"]  # the top layers + pooling alone
    return {
        "losses": losses,
        "setup_s": t_steps - t0,
        "bottom_s": t_bottom - t0,
        "teacher_s": t_teacher - t_bottom,
        "steps_s": end - t_steps,
        "total_s": end - t0,
        "cached_texts": len(bottom.ids),
        "cache_mib": bottom.nbytes() / 2**20,
        "trainable_params": sum(p.numel() for p in trainable) + sum(p.numel() for p in head.parameters()),
        "profile": prof if profile else None,
    }


# ---------------------------------------------------------------------------- the plain loop


def run_plain(
    model: Any,
    tokenizer: Any,
    texts: dict[str, list[str]],
    label_ids: list[int],
    n_labels: int,
    plan: list[list[int]],
    k: int,
    prefix: str,
    *,
    dropout: bool = True,
) -> dict[str, Any]:
    """Teacher forward and full-depth student forwards every step."""
    import torch
    import torch.nn.functional as F

    from scriptbridge.objectives.classification import ClassificationHead

    def mean_pool(out: Any, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
        return (out.last_hidden_state * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

    def tokens(batch: list[str]) -> Any:
        return tokenizer(
            [prefix + t for t in batch],
            padding=True,
            truncation=True,
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )

    t0 = time.perf_counter()
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    frozen = [model.embeddings, *model.encoder.layer[:k]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    torch.manual_seed(SEED)
    head = ClassificationHead(model.config.hidden_size, n_labels)
    if not dropout:
        no_dropout(model, head)
    labels_all = torch.tensor(label_ids)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": trainable, "lr": LR}, {"params": list(head.parameters()), "lr": HEAD_LR}],
        weight_decay=WEIGHT_DECAY,
    )
    from scriptbridge.train.teacher_student import linear_warmup

    scheduler = linear_warmup(optimizer, int(WARMUP * len(plan)), len(plan))
    model.train()
    head.train()
    for module in frozen:
        module.eval()
    losses: list[float] = []
    t_steps = time.perf_counter()
    for rows in plan:
        labels = labels_all[rows]
        en = tokens([texts["en"][i] for i in rows])
        with torch.no_grad():
            target = mean_pool(teacher(**en), en["attention_mask"])
        vectors = {}
        for v in ("en", "tr", "tl"):
            enc = en if v == "en" else tokens([texts[v][i] for i in rows])
            vectors[v] = mean_pool(model(**enc), enc["attention_mask"])
        loss = sum(F.cross_entropy(head(vec), labels) for vec in vectors.values())
        cos = {
            v: (1.0 - F.cosine_similarity(target, vec, dim=-1, eps=1e-8)).mean() for v, vec in vectors.items()
        }
        loss = loss + ALPHA * sum(b * cos[v] for v, b in zip(("en", "tr", "tl"), BETAS, strict=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable + list(head.parameters()), CLIP)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    end = time.perf_counter()
    return {
        "losses": losses,
        "setup_s": t_steps - t0,
        "steps_s": end - t_steps,
        "total_s": end - t0,
    }


# ---------------------------------------------------------------------------- one subprocess


def child(
    only: str, steps: int, k: int, check_steps: int, profile: bool, threads: int, bf16: bool = False
) -> dict[str, Any]:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from scriptbridge.models import load_encoder

    t = time.perf_counter()
    texts, label_ids, labels, note = build_views()
    views_s = time.perf_counter() - t
    t = time.perf_counter()
    encoder = load_encoder("embedded", device="cpu")
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {
        "only": only,
        "views_s": views_s,
        "load_s": load_s,
        "translator": note,
        "threads": torch.get_num_threads(),
        "rss_after_load_gb": rss_gb(),
    }
    prefix = encoder.default_prefix
    if only == "check":
        plan = schedule(len(label_ids), check_steps)
        pristine = copy.deepcopy(encoder.model)
        pristine2 = copy.deepcopy(encoder.model)
        sb = run_scriptbridge(encoder, texts, label_ids, len(labels), plan, k, dropout=False)
        plain = run_plain(
            pristine, encoder.tokenizer, texts, label_ids, len(labels), plan, k, prefix, dropout=False
        )
        out.update(sb_losses=sb["losses"], plain_losses=plain["losses"])
        if bf16:
            encoder.model = pristine2
            encoder.__dict__.pop("_fast", None)
            half = run_scriptbridge(encoder, texts, label_ids, len(labels), plan, k, dropout=False, bf16=True)
            out.update(bf16_losses=half["losses"])
    elif only in ("sb", "sbpad", "sbbf16"):
        plan = schedule(len(label_ids), steps)
        out.update(
            run_scriptbridge(
                encoder,
                texts,
                label_ids,
                len(labels),
                plan,
                k,
                profile=profile,
                packed=only != "sbpad",
                bf16=only == "sbbf16",
            )
        )
    elif only == "plain":
        plan = schedule(len(label_ids), steps)
        out.update(
            run_plain(encoder.model, encoder.tokenizer, texts, label_ids, len(labels), plan, k, prefix)
        )
    else:
        raise SystemExit(f"unknown --only {only!r}")
    out["samples"] = len(plan) * BATCH
    out["peak_rss_gb"] = peak_rss_gb()
    return out


def spawn(only: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--only",
        only,
        "--steps",
        str(args.steps),
        "--k",
        str(args.k),
        "--check-steps",
        str(args.check_steps),
        "--threads",
        str(args.threads),
    ]
    if args.profile:
        cmd.append("--profile")
    if args.bf16:
        cmd.append("--bf16")
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"error: the {only} subprocess failed (exit {res.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def rel_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in zip(a, b, strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=15, help="training steps per run (15 = one epoch)")
    ap.add_argument("--k", type=int, default=10, help="frozen layers (default 10 of 12)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats of each path")
    ap.add_argument("--check-steps", type=int, default=4, help="steps of the dropout-free agreement check")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the agreement check")
    ap.add_argument("--profile", action="store_true", help="break scriptbridge's step time down")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in each run (0 = torch's default)")
    ap.add_argument(
        "--padded",
        action="store_true",
        help="also time scriptbridge with the padded top (the layers' own forward), to split the gain",
    )
    ap.add_argument(
        "--bf16",
        action="store_true",
        help="also time scriptbridge with train.precision: bf16 (and report how far its losses move)",
    )
    ap.add_argument("--json", type=Path, help="write all measurements here")
    ap.add_argument("--only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:
        print(
            "RESULT "
            + json.dumps(
                child(args.only, args.steps, args.k, args.check_steps, args.profile, args.threads, args.bf16)
            )
        )
        return 0

    load_before = load_average()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; load average before: {load_before}")
    print(f"{args.steps} steps x batch {BATCH}, k = {args.k}, {args.repeats} interleaved repeats")

    check = spawn("check", args)
    worst = rel_diff(check["sb_losses"], check["plain_losses"])
    agree = worst <= args.rtol
    print(
        f"agreement (dropout 0, {args.check_steps} steps): max relative loss difference {worst:.2e} "
        f"({'ok' if agree else 'FAIL'}, rtol {args.rtol:g})"
    )
    for i, (a, b) in enumerate(zip(check["sb_losses"], check["plain_losses"], strict=True)):
        print(f"  step {i + 1}: scriptbridge {a:.6f}  plain {b:.6f}")
    if args.bf16:
        print(
            "bf16 (dropout 0): max relative loss difference to float32 "
            f"{rel_diff(check['bf16_losses'], check['plain_losses']):.2e} (rounding, not a bug: reported only)"
        )
    print(f"translation view: {check['translator']}; torch threads: {check['threads']}")

    paths = ("sb", "plain") + (("sbpad",) if args.padded else ()) + (("sbbf16",) if args.bf16 else ())
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    for r in range(args.repeats):
        for only in paths if r % 2 == 0 else paths[::-1]:
            res = spawn(only, args)
            runs[only].append(res)
            print(
                f"  repeat {r + 1} {only:5s}: total {res['total_s']:.2f} s (setup {res['setup_s']:.2f}, "
                f"steps {res['steps_s']:.2f}), peak RSS {res['peak_rss_gb']:.2f} GB, load {load_average()}",
                flush=True,
            )
    load_after = load_average()

    def med(path: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[path])

    samples = runs["sb"][0]["samples"]
    steps = args.steps
    sb_total, pl_total = med("sb", "total_s"), med("plain", "total_s")
    sb_steps, pl_steps = med("sb", "steps_s"), med("plain", "steps_s")
    speedup = pl_total / sb_total
    step_speedup = pl_steps / sb_steps
    rss = {p: max(r["peak_rss_gb"] for r in runs[p]) for p in paths}
    sb_rss, pl_rss = rss["sb"], rss["plain"]
    dropout_diff = max(rel_diff(a["losses"], b["losses"]) for a in runs["sb"] for b in runs["plain"])

    print()
    print("| path | one-off s | steps s | total s | samples/s | per-step ms | speed-up | peak RSS GB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    names = {
        "plain": "plain loop",
        "sbpad": f"scriptbridge, padded top (layers' own forward), k={args.k}",
        "sb": f"scriptbridge joint-ts (packed top, oneDNN), k={args.k}",
        "sbbf16": f"scriptbridge joint-ts, `train.precision: bf16`, k={args.k}",
    }
    for path in ("plain", "sbpad", "sb", "sbbf16"):
        if path not in runs:
            continue
        total, st = med(path, "total_s"), med(path, "steps_s")
        sp = pl_total / total
        print(
            f"| {names[path]} | {med(path, 'setup_s'):.2f} | {st:.2f} | {total:.2f} | {samples / total:.1f} | "
            f"{1000 * st / steps:.0f} | {sp:.2f}x (steps only {pl_steps / st:.2f}x) | {rss[path]:.2f} |"
        )
    sb0 = runs["sb"][0]
    print()
    print(
        f"scriptbridge one-off: frozen bottom of {sb0['cached_texts']} texts {med('sb', 'bottom_s'):.2f} s "
        f"({sb0['cache_mib']:.0f} MiB), teacher vectors {med('sb', 'teacher_s'):.2f} s; "
        f"views built in {med('sb', 'views_s'):.2f} s (not timed, both paths need them); "
        f"model load {med('sb', 'load_s'):.1f} s; RSS after load {sb0['rss_after_load_gb']:.2f} GB"
    )
    if args.profile:
        keys = list(sb0["profile"])
        prof = {key: statistics.median(r["profile"][key] for r in runs["sb"]) for key in keys}
        print(
            "scriptbridge step time: "
            + ", ".join(f"{key} {1000 * v / steps:.1f} ms" for key, v in prof.items())
            + " per step"
        )
    print(
        f"losses with dropout on (timed runs): max relative difference {dropout_diff:.2e} (the packed "
        "top draws its dropout masks in other shapes, so these differ by dropout noise; the dropout-free "
        "check above is the agreement test)"
    )
    ok_speed = speedup >= TARGET_SPEEDUP
    ok_rss = sb_rss <= TARGET_RSS_GB
    print(
        f"targets: speed-up {speedup:.2f}x >= {TARGET_SPEEDUP:g}x: {'PASS' if ok_speed else 'MISS'} "
        f"(steps only {step_speedup:.2f}x); peak RSS {sb_rss:.2f} GB <= {TARGET_RSS_GB:g} GB: "
        f"{'PASS' if ok_rss else 'MISS'}; losses agree: {'PASS' if agree else 'FAIL'}"
    )
    if "sbbf16" in runs:
        bf_total = med("sbbf16", "total_s")
        print(
            f"with train.precision: bf16: speed-up {pl_total / bf_total:.2f}x "
            f"(steps only {pl_steps / med('sbbf16', 'steps_s'):.2f}x), peak RSS {rss['sbbf16']:.2f} GB"
        )
    print(f"load average before: {load_before}; after: {load_after}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cpu": cpu_model(),
                    "load_before": load_before,
                    "load_after": load_after,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "check": check,
                    "runs": runs,
                    "speedup": speedup,
                    "step_speedup": step_speedup,
                    "sb_peak_rss_gb": sb_rss,
                    "plain_peak_rss_gb": pl_rss,
                    "agreement_rel": worst,
                    "dropout_on_rel": dropout_diff,
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
