"""Alignment pretraining speed: a TCM + MLM step as ``scriptbridge pretrain`` runs it against the same
objectives written the plain way, in one run.

    .venv/bin/python bench/pretrain_speed.py [--steps 12] [--batch-size 32] [--precision auto|fp32|bf16]
        [--threads N] [--model embedded] [--json out.json]

Data: Tatoeba's 1000 Hindi sentences (``../shared/data/tatoeba/tatoeba.hin-eng.hin``) paired with
their uroman romanization (made on the fly), the pairs of ``tcm_hindi_roman``; the MLM corpus is
both sides.  Objectives: TCM (cosine, temperature 0.05, last layer, mean pooling without special
tokens) + MLM (15%, 80/10/10) with weights 1 and 1; ``batch_size`` pairs and as many MLM texts a
step; the embedded encoder (multilingual-e5-small), max_length 64, AdamW + linear warm-up.

* ``scriptbridge``: what ``train/pretrain.py`` runs -- batches of similar lengths
  (``epoch_plan(lengths=...)``), every sequence of the step (MLM texts, then both sides of each pair)
  in one forward pass over packed tokens (``PackedTop``: no padding in the matrix products, oneDNN
  products in float32), the losses from that one output.
* ``plain``: the same objectives, the usual way -- random batches, one padded forward through the
  model's own ``forward`` per view (the MLM texts, the pairs' first sides, their second sides), each
  padded to its longest text.

Both use the same model weights at the start, the same masking and the same optimizer; each step's
tokens (real, unpadded) are counted the same way.  tokens/s = tokens / seconds over ``--steps``
timed steps after 2 warm-up steps each; the two are timed in alternating blocks of 3 steps so load
on the machine hits both alike.  A dropout-free check first asserts that both ways give the same
losses on the same batch (float32, relative 1e-3).

Target: scriptbridge >= 1.5x the plain way's tokens/s.  The exit status is 0 whatever the speed, 1
if the losses disagree.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_recipe(batch_size: int, precision: str, model: str):
    from scriptbridge.train.pretrain_recipe import pretrain_recipe_from_dict

    hin = SHARED / "tatoeba" / "tatoeba.hin-eng.hin"
    if not hin.is_file():
        sys.exit(f"needs {hin} (the shared data folder beside the repository)")
    return pretrain_recipe_from_dict(
        {
            "kind": "pretrain",
            "name": "speed",
            "model": {"spec": model, "max_length": 64},
            "train": {"batch_size": batch_size, "lr": 2e-5, "precision": precision},
            "stages": [
                {
                    "name": "tcm+mlm",
                    "pairs": [{"src": str(hin), "tgt": "romanize:hi:uroman"}],
                    "objectives": {"mlm": 1.0, "tcm": 1.0},
                }
            ],
        }
    )


class Runner:
    """One way of running the steps: its own copy of the model, heads and optimizer."""

    def __init__(self, encoder, recipe, data, *, fast: bool, precision: str) -> None:
        from scriptbridge.objectives.tcm import ContrastiveAlignmentLoss
        from scriptbridge.train.pretrain import Forward, Objectives, position_offset
        from scriptbridge.train.run import _fused_adamw

        self.model = copy.deepcopy(encoder.model)
        self.tokenizer = encoder.tokenizer
        self.recipe, self.data, self.fast = recipe, data, fast
        self.stage = recipe.stages[0]
        torch.manual_seed(0)
        self.objectives = Objectives(self.model, recipe)
        self.tcm = ContrastiveAlignmentLoss("cosine", 0.05)
        self.forward = Forward(self.model, packing=fast)
        self.offset = position_offset(self.model)
        self.layers = int(self.model.config.num_hidden_layers)
        params = list({id(p): p for p in [*self.model.parameters(), *self.objectives.parameters()]}.values())
        self.params = params
        self.optimizer = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.01, fused=_fused_adamw(params))
        self.bf16 = precision == "bf16"
        from scriptbridge.tasks.pretraining import epoch_plan

        lengths = np.asarray([data.length(a) + data.length(b) for a, b in data.pairs])
        bs = recipe.train.batch_size
        self.plan = epoch_plan(len(data.pairs), bs, 0, 0, lengths if fast else None)
        self.companion = [self.data.pairs[b].reshape(-1) for b in self.plan]  # MLM: both sides of the pairs

    def batch(self, i: int):
        from scriptbridge.tasks.pretraining import build_step

        rows = self.plan[i % len(self.plan)]
        return build_step(
            self.data,
            self.data.pairs[rows],
            self.companion[i % len(self.plan)],
            tokenizer=self.tokenizer,
            roles={"mlm", "a"},
            generator=torch.Generator().manual_seed(i),
            mlm_ratio=0.15,
            tlm_ratio=0.15,
            restart_positions=True,
            position_offset=self.offset,
            max_length=64,
        )

    def loss(self, batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            last, captured = self.forward(batch, set())
            return self.objectives.stage_losses(
                self.stage,
                batch,
                last,
                captured,
                pooling="mean",
                tcm_layer=self.layers,
                num_layers=self.layers,
                tcm=self.tcm,
                generator=torch.Generator().manual_seed(0),
            )

    def step(self, i: int) -> tuple[int, float]:
        from scriptbridge.train.run import optimizer_step

        t0 = time.perf_counter()
        batch = self.batch(i)
        loss, _ = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        optimizer_step(self.optimizer)
        return int(batch.attention_mask.sum()), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from scriptbridge.models import load_encoder
    from scriptbridge.tasks.pretraining import build_stage_data
    from scriptbridge.train.run import resolve_precision

    encoder = load_encoder(args.model, device="cpu")
    precision = resolve_precision(args.precision, encoder.device)
    recipe = make_recipe(args.batch_size, precision, args.model)
    data = build_stage_data(
        recipe, recipe.stages[0], encoder.tokenizer, prefix=encoder.default_prefix, max_length=64, seed=0
    )
    fast = Runner(encoder, recipe, data, fast=True, precision=precision)
    plain = Runner(encoder, recipe, data, fast=False, precision=precision)

    # the two ways compute the same losses (dropout off, float32)
    fast.model.eval()
    plain.model.eval()
    batch = fast.batch(0)
    with torch.no_grad():
        fast.bf16 = plain.bf16 = False
        got = fast.loss(batch)[1]
        want = plain.loss(batch)[1]
        fast.bf16 = plain.bf16 = precision == "bf16"
    agree = all(abs(got[k] - want[k]) <= 1e-3 * abs(want[k]) for k in want)
    print(f"losses, one batch, dropout off: scriptbridge {got}  plain {want}  agree: {agree}")
    fast.model.train()
    plain.model.train()

    for runner in (fast, plain):  # warm-up (oneDNN primitives, allocator)
        for i in range(2):
            runner.step(1000 + i)
    totals = {"scriptbridge": [0, 0.0], "plain": [0, 0.0]}
    done = 0
    while done < args.steps:
        block = min(3, args.steps - done)
        for name, runner in (("scriptbridge", fast), ("plain", plain)):
            for i in range(done, done + block):
                tokens, seconds = runner.step(i)
                totals[name][0] += tokens
                totals[name][1] += seconds
        done += block
    rate = {k: v[0] / v[1] for k, v in totals.items()}
    ratio = rate["scriptbridge"] / rate["plain"]
    print(
        f"\nTCM + MLM, {encoder.name}, batch {args.batch_size} pairs + {2 * args.batch_size} MLM texts, "
        f"{args.steps} steps, precision {precision}, threads {torch.get_num_threads()}"
    )
    print("| way | tokens | seconds | tokens/s | s/step |")
    print("|---|---:|---:|---:|---:|")
    for name, (tokens, seconds) in totals.items():
        print(f"| {name} | {tokens} | {seconds:.1f} | {tokens / seconds:.0f} | {seconds / args.steps:.2f} |")
    print(f"\nscriptbridge / plain: {ratio:.2f}x (target >= 1.5x)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"rate": rate, "ratio": ratio, "precision": precision, "agree": agree, "totals": totals}
            )
        )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
