"""Encoding speed of scriptbridge's ``Encoder`` against a plain transformers loop, on the CPU.

    .venv/bin/python bench/encode_speed.py [--pair hin] [--model embedded] [--repeats 3] [--json out.json]

Both sides of Tatoeba ``<pair>-eng`` (``tatoeba.<pair>-eng.<pair>`` and ``.eng``, 1000 + 1000
sentences) are encoded with the same ``"query: "`` prefix, mean pooling and the last layer:

* ``plain``: batches of 32 in file order, each padded to its longest sentence, under
  ``torch.no_grad()``: ``model(**tokenizer(batch, padding=True, return_tensors="pt"))`` then mean
  pooling over the attention mask;
* ``scriptbridge``: ``Encoder.encode(texts, prefix="query: ", pooling="mean")`` with its defaults
  (tokenized once, sorted by length, packed into token-budget batches);
* ``sb, model fwd``: the same with ``Encoder.cpu_fast_path = False`` (token-budget batches, but
  the model's own forward, i.e. MKL matrix products, instead of the oneDNN path);
* ``all layers``: ``Encoder.encode_all_layers`` (every layer pooled) and, to show the early stop,
  ``encode_all_layers(layers=range(0, L // 2 + 1))``.

The methods run in the same process, interleaved (the order rotates each repeat), and the table
shows median times.  A "matmul" measurement runs in every repeat too, so encoding and the machine's
matmul rate see the same background load: a square 2048 x 2048 product and a BERT-shaped
``[4096 x hidden] @ [hidden x 4 hidden]`` one, each through ``torch.mm`` (MKL's sgemm, which on AMD
processors does not use AVX-512) and through oneDNN (what scriptbridge's CPU path uses), each
timed for about half a second; the "matmul rate" is the best of the four (all exact float32).

"useful GFLOP/s" = 2 x (non-embedding parameters) x (non-pad tokens) / seconds: the parameters of
every weight matrix, bias and LayerNorm except the ``nn.Embedding`` tables (word, position and
token-type embeddings, whose "matmul" is a lookup); the tokens include the special tokens and the
prefix; attention's own ``QK^T`` / ``AV`` products are not counted (tiny for short sentences).

Targets: scriptbridge >= 2x the plain loop's sentences/s, and useful GFLOP/s >= 70% of the
matmul rate.  The exit status is 0 whatever the speed (this is a report); it is 1 if
scriptbridge's vectors differ from the plain loop's by 1e-4 or more for any sentence, or if
``encode_all_layers`` disagrees with ``encode``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tatoeba"
PREFIX = "query: "
PLAIN_BATCH = 32
from scriptbridge.utils.runinfo import cpu_model, load_average  # noqa: E402

TARGET_SPEEDUP = 2.0
TARGET_FRACTION = 0.70
ATOL = 1e-4


def read_pair(data_dir: Path, pair: str) -> list[str]:
    texts: list[str] = []
    for side in (pair, "eng"):
        path = data_dir / f"tatoeba.{pair}-eng.{side}"
        if not path.is_file():
            sys.exit(f"error: {path} not found (use --data-dir / --pair)")
        texts += path.read_text(encoding="utf-8").splitlines()
    return texts


def plain_loop(model: Any, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, int]:
    """The straightforward way: file order, batches of 32 padded to their longest; mean pooling."""
    import torch

    out, padded = [], 0
    with torch.no_grad():
        for i in range(0, len(texts), PLAIN_BATCH):
            batch = tokenizer(
                [PREFIX + t for t in texts[i : i + PLAIN_BATCH]], padding=True, return_tensors="pt"
            )
            padded += batch["input_ids"].numel()
            h = model(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
            out.append(((h * m).sum(dim=1) / m.sum(dim=1)).numpy())
    return np.concatenate(out), padded


def matmul_rates(hidden: int, seconds: float = 0.5) -> dict[str, float]:
    """GFLOP/s of a square 2048 product and of a BERT-shaped [4096 x h] @ [h x 4h] one, each through
    ``torch.mm`` (MKL's sgemm in x86 builds) and through oneDNN (``torch.ops.mkldnn._linear_pointwise``
    with a pre-packed weight, what scriptbridge's CPU path uses); average over about ``seconds`` each,
    after a warm-up."""
    import torch

    shapes = {
        "square 2048": (2048, 2048, 2048),
        f"bert 4096x{hidden}x{4 * hidden}": (4096, hidden, 4 * hidden),
    }
    onednn = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    rates = {}
    for name, (m, k, n) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        c = torch.empty(m, n)
        runs = {"torch.mm": functools.partial(torch.mm, a, b, out=c)}
        if onednn:
            packed = torch.ops.mkldnn._reorder_linear_weight(b.t().contiguous(), m)
            runs["oneDNN"] = functools.partial(
                torch.ops.mkldnn._linear_pointwise, a, packed, None, "none", [], ""
            )
        for how, fn in runs.items():
            fn()
            count, t0 = 0, time.perf_counter()
            while True:
                fn()
                count += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= seconds and count >= 3:
                    break
            rates[f"{how} {name}"] = 2.0 * m * k * n * count / elapsed / 1e9
    return rates


def model_forward(enc: Any, texts: list[str]) -> np.ndarray:
    """``Encoder.encode`` without its oneDNN CPU path (the model's own forward)."""
    enc.cpu_fast_path = False
    try:
        return enc.encode(texts, prefix=PREFIX, pooling="mean")
    finally:
        enc.cpu_fast_path = True


def embedding_parameters(model: Any) -> int:
    import torch

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=DATA, help=f"Tatoeba folder (default {DATA})")
    ap.add_argument("--pair", default="hin", help="Tatoeba language code paired with eng (default hin)")
    ap.add_argument("--model", default="embedded", help="encoder spec for load_encoder (default embedded)")
    ap.add_argument(
        "--repeats", type=int, default=3, help="interleaved repeats; medians are shown (default 3)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    import torch
    import transformers

    from scriptbridge.models import load_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    texts = read_pair(args.data_dir, args.pair)
    t0 = time.perf_counter()
    enc = load_encoder(args.model, device="cpu")
    load_s = time.perf_counter() - t0
    model, tok = enc.model, enc.tokenizer
    n = len(texts)

    n_params = sum(p.numel() for p in model.parameters())
    n_emb = embedding_parameters(model)
    non_emb = n_params - n_emb
    ids = tok([PREFIX + t for t in texts], truncation=True, max_length=enc.max_length)["input_ids"]
    tokens = sum(len(x) for x in ids)
    sb_padded = sum(b.size for _, b, _ in enc._batches(texts, PREFIX, 32, 512))
    n_batches = sum(1 for _ in enc._batches(texts, PREFIX, 32, 512))
    half = list(range(enc.num_layers // 2 + 1))

    methods = {
        "plain": lambda: plain_loop(model, tok, texts),
        "scriptbridge": lambda: enc.encode(texts, prefix=PREFIX, pooling="mean"),
        "sb, model fwd": lambda: model_forward(enc, texts),
        "all layers": lambda: enc.encode_all_layers(texts, prefix=PREFIX, pooling="mean"),
        f"layers 0..{half[-1]}": lambda: enc.encode_all_layers(
            texts, layers=half, prefix=PREFIX, pooling="mean"
        ),
    }
    # warm-up (allocator, thread pool, lazily installed hooks) on a slice
    warm = texts[:64]
    plain_loop(model, tok, warm)
    model_forward(enc, warm)
    enc.encode_all_layers(warm, layers=half, prefix=PREFIX)
    enc.encode(warm, prefix=PREFIX)

    times: dict[str, list[float]] = {k: [] for k in methods}
    mm: dict[str, list[float]] = {}
    results: dict[str, Any] = {}
    names = list(methods)
    for r in range(args.repeats):
        for name, rate in matmul_rates(enc.hidden_size).items():
            mm.setdefault(name, []).append(rate)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            results[name] = methods[name]()
            times[name].append(time.perf_counter() - t0)
        print(
            f"repeat {r + 1}/{args.repeats}: "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
            + f" | load {load_average()}",
            file=sys.stderr,
            flush=True,
        )

    plain_vecs, plain_padded = results["plain"]
    sb_vecs = results["scriptbridge"]
    per_sentence = np.maximum(
        np.abs(plain_vecs - sb_vecs).max(axis=1), np.abs(plain_vecs - results["sb, model fwd"]).max(axis=1)
    )
    all_layers = results["all layers"]
    first_half = results[f"layers 0..{half[-1]}"]
    layers_diff = max(
        float(np.abs(all_layers[-1] - sb_vecs).max()),
        float(np.abs(all_layers[: len(half)] - first_half).max()),
    )
    ok = bool(per_sentence.max() < ATOL) and layers_diff < 1e-5

    med = {k: statistics.median(v) for k, v in times.items()}
    mm_med = {k: statistics.median(v) for k, v in mm.items()}
    matmul_rate = max(mm_med.values())
    useful = {k: 2.0 * non_emb * tokens / med[k] / 1e9 for k in ("plain", "scriptbridge", "sb, model fwd")}
    speedup = med["plain"] / med["scriptbridge"]
    fraction = useful["scriptbridge"] / matmul_rate
    pad = {"plain": 1 - tokens / plain_padded, "scriptbridge": 1 - tokens / sb_padded}
    pad["sb, model fwd"] = pad["scriptbridge"]

    def row(cols: list[str]) -> str:
        return f"{cols[0]:<16}" + "".join(f"{c:>14}" for c in cols[1:])

    print(
        f"\nencode speed: Tatoeba {args.pair}-eng, {n} sentences ({tokens} tokens with '{PREFIX}' and specials)"
    )
    print(
        f"model {enc.name} ({enc.num_layers} layers, hidden {enc.hidden_size}; load {load_s:.1f}s), "
        f"attention {getattr(model.config, '_attn_implementation', '?')}"
    )
    print(
        f"parameters {n_params / 1e6:.2f}M, embedding tables {n_emb / 1e6:.2f}M, "
        f"counted (non-embedding) {non_emb / 1e6:.2f}M -> {2 * non_emb / 1e6:.1f} MFLOP per token"
    )
    print(
        f"CPU {cpu_model()}, torch {torch.__version__} ({torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs), transformers {transformers.__version__}, python {platform.python_version()}"
    )
    print(
        f"scriptbridge batches: {n_batches}, at most {enc._token_budget(32, enc.max_length)} tokens each "
        f"(cpu_tokens_per_thread={enc.cpu_tokens_per_thread}); oneDNN CPU path "
        f"{'in use' if enc._cpu_bert() is not None else 'NOT in use'}"
    )
    print(f"load average before {load_before}, after {load_average()}; repeats {args.repeats}, medians\n")
    print(row(["method", "seconds", "sentences/s", "vs plain", "GFLOP/s", "% matmul", "padding"]))
    for k in methods:
        g = useful.get(k)
        print(
            row(
                [
                    k,
                    f"{med[k]:.2f}",
                    f"{n / med[k]:.0f}",
                    f"{med['plain'] / med[k]:.2f}x",
                    f"{g:.1f}" if g else "-",
                    f"{100 * g / matmul_rate:.0f}%" if g else "-",
                    f"{100 * pad[k]:.1f}%" if k in pad else "-",
                ]
            )
        )
    print()
    for k, v in mm_med.items():
        print(f"matmul {k:<34} {v:7.1f} GFLOP/s  (repeats: {', '.join(f'{x:.0f}' for x in mm[k])})")
    print(f"matmul rate (the best)                   {matmul_rate:7.1f} GFLOP/s\n")
    t1 = speedup >= TARGET_SPEEDUP
    t2 = fraction >= TARGET_FRACTION
    print(
        f"target speedup >= {TARGET_SPEEDUP:.1f}x plain:          {speedup:.2f}x  {'PASS' if t1 else 'FAIL'}"
    )
    print(
        f"target useful >= {100 * TARGET_FRACTION:.0f}% of matmul rate:  {100 * fraction:.0f}%  {'PASS' if t2 else 'FAIL'}"
    )
    print(
        f"numerics: max |plain - scriptbridge| per sentence {per_sentence.max():.2e} (< {ATOL:g}), "
        f"encode_all_layers vs encode / early stop {layers_diff:.1e}: {'OK' if ok else 'FAILED'}"
    )

    if args.json:
        record = {
            "pair": args.pair,
            "model": enc.name,
            "sentences": n,
            "tokens": tokens,
            "non_embedding_parameters": non_emb,
            "embedding_parameters": n_emb,
            "threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "load_average": {"before": load_before, "after": load_average()},
            "times": times,
            "median_seconds": med,
            "sentences_per_second": {k: n / v for k, v in med.items()},
            "useful_gflops": useful,
            "matmul_gflops": mm,
            "matmul_rate": matmul_rate,
            "padding_fraction": pad,
            "speedup": speedup,
            "fraction_of_matmul": fraction,
            "targets": {"speedup": t1, "fraction_of_matmul": t2},
            "max_abs_diff": float(per_sentence.max()),
            "numerics_ok": ok,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
