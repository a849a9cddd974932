"""BLI and RCSLS at MUSE's scale on the CPU: time and peak memory.

    .venv/bin/python bench/bli_scale.py [--words 200000] [--dim 300] [--queries 1500] [--chunk-size 1024]
                                        [--rcsls-pairs 5000 --max-neg 50000 --rcsls-iters 10] [--skip-rcsls]

Synthetic float32 spaces (``--words`` x ``--dim``, the target a noisy rotation of the source), then:
BLI by nearest neighbour and by CSLS for ``--queries`` test words over the whole target vocabulary
(CSLS's target-side density ``r_S`` is the mean similarity of *every* target word to its 10 nearest
source words, as MUSE computes it: a ``words x words`` product, done in chunks), then RCSLS on
``--rcsls-pairs`` dictionary pairs with ``--max-neg`` neighbours.  Peak memory is the process's
``ru_maxrss`` after each stage (it only grows); the spaces themselves take ``2 x words x dim x 4``
bytes plus their normalised copies.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def peak_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=200000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--queries", type=int, default=1500)
    ap.add_argument("--chunk-size", type=int, default=1024)
    ap.add_argument("--rcsls-pairs", type=int, default=5000)
    ap.add_argument("--max-neg", type=int, default=50000)
    ap.add_argument("--rcsls-iters", type=int, default=10)
    ap.add_argument("--skip-rcsls", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import torch

    from scriptbridge.align.rcsls import rcsls
    from scriptbridge.evaluate.bli import bli
    from scriptbridge.models.static import StaticEmbeddings
    from scriptbridge.utils.runinfo import cpu_model, load_average

    print(f"CPU: {cpu_model()}, torch threads {torch.get_num_threads()}, load {load_average()}")
    print(f"start: peak RSS {peak_mb():.0f} MB")
    rng = np.random.default_rng(0)
    n, d = args.words, args.dim
    x = rng.standard_normal((n, d), dtype=np.float32)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    y = x @ q.astype(np.float32)
    y += 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    src = StaticEmbeddings([f"s{i}" for i in range(n)], x @ q.astype(np.float32))  # already mapped
    tgt = StaticEmbeddings([f"t{i}" for i in range(n)], y)
    del x, y
    print(f"spaces {n} x {d} float32 built: peak RSS {peak_mb():.0f} MB")
    test = [(f"s{i}", f"t{i}") for i in rng.choice(n, size=args.queries, replace=False)]
    for method in ("nn", "csls"):
        start = time.perf_counter()
        result = bli(src, tgt, test, method=method, chunk_size=args.chunk_size)
        print(
            f"BLI {method:4s}: {time.perf_counter() - start:6.1f} s, P@1 {result['p@1']:.3f}, "
            f"peak RSS {peak_mb():.0f} MB"
        )
    if not args.skip_rcsls:
        pairs = np.stack([np.arange(args.rcsls_pairs)] * 2, axis=1)
        s_norm, t_norm = src.normalized(), tgt.normalized()
        start = time.perf_counter()
        _, history = rcsls(
            s_norm.vectors, t_norm.vectors, pairs, max_neg=args.max_neg, niter=args.rcsls_iters,
            chunk_size=args.chunk_size,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        steps = len(history)
        print(
            f"RCSLS {args.rcsls_pairs} pairs, {args.max_neg} neighbours, {args.rcsls_iters} steps: {seconds:.1f} s "
            f"({seconds / steps:.1f} s per loss+gradient), loss {history[0]['loss']:.3f} -> "
            f"{min(h['loss'] for h in history):.3f}, peak RSS {peak_mb():.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
