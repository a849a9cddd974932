"""BLI from skip-gram vectors trained on the corpora at hand, English -> eight languages: the
alignment baseline (two monolingual spaces, Procrustes on MUSE 0-5000, then CSLS refinement), joint
training, and joint-align (reallocation + Procrustes, or RCSLS).

    .venv/bin/python bench/joint_tables.py [--langs hi,ja,ko,zh,vi,ar,pl,uk] [--dim 300] [--epochs 10]
                                           [--min-count 2] [--tau 0.9] [--json out.json]

Corpora: ``bench/static_corpora.py`` (every text of the language in ../shared/data except the
dictionaries and romanized text; tens to a few hundred thousand tokens).  fastText skip-gram, one
thread (deterministic for the seed).  BLI: CSLS (k = 10), P@1 on MUSE 5000-6500; "drop" counts only
the test words that have vectors (MUSE's policy, the usual number), "strict" counts the others wrong,
so it compares methods whose vocabularies differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from static_corpora import corpus_files  # noqa: E402

MUSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "muse"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", default="hi,ja,ko,zh,vi,ar,pl,uk")
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--tau", type=float, default=0.9)
    ap.add_argument("--refine", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from scriptbridge.align.joint import joint_align, joint_spaces, train_joint
    from scriptbridge.align.static import align_procrustes, dictionary_pairs
    from scriptbridge.evaluate.bli import bli, read_dictionary
    from scriptbridge.models.skipgram import load_corpus, train_skipgram

    sg = {"dim": args.dim, "epochs": args.epochs, "min_count": args.min_count, "threads": 1}

    def score(src, tgt, test):
        drop = bli(src, tgt, test, method="csls")
        strict = bli(src, tgt, test, method="csls", oov="strict")
        return {"drop": drop, "strict": strict}

    def cell(s):
        return f"{100 * s['drop']['p@1']:.1f} / {100 * s['strict']['p@1']:.1f} ({s['drop']['queries']})"

    t0 = time.perf_counter()
    en = load_corpus(corpus_files("en"), lang="en")
    en_vec = train_skipgram(en, seed=args.seed, **sg).embeddings.normalized()
    print(f"en: {en.tokens} tokens, {len(en_vec)} words with vectors ({time.perf_counter() - t0:.0f} s)")
    rows = []
    print(
        "\n| en → | tokens (en / xx) | mono + Procrustes | mono + refined | joint | joint-align (Procrustes) "
        "| joint-align (RCSLS) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lang in args.langs.split(","):
        t = time.perf_counter()
        train = read_dictionary(str(MUSE / f"en-{lang}.0-5000.txt"))
        test = read_dictionary(str(MUSE / f"en-{lang}.5000-6500.txt"))
        corpus = load_corpus(corpus_files(lang), lang=lang)
        mono = train_skipgram(corpus, seed=args.seed, **sg).embeddings.normalized()
        seed_pairs = dictionary_pairs(en_vec, mono, train)
        w0, _ = align_procrustes(en_vec, mono, seed_pairs)
        w, _ = align_procrustes(en_vec, mono, seed_pairs, refine=args.refine)
        joint = train_joint(en, corpus, seed=args.seed, **sg)
        js, jt = joint_spaces(joint.embeddings.normalized(), joint.src_counts, joint.tgt_counts)
        row = {
            "lang": lang,
            "tokens": {"en": en.tokens, lang: corpus.tokens},
            "seed_pairs_mono": int(len(seed_pairs)),
            "mono_procrustes": score(en_vec.mapped(w0), mono, test),
            "mono_refined": score(en_vec.mapped(w), mono, test),
            "joint": score(js, jt, test),
        }
        for method in ("procrustes", "rcsls"):
            src, tgt, info = joint_align(
                joint.embeddings, joint.src_counts, joint.tgt_counts, train, tau=args.tau, method=method
            )
            info.pop("map")
            row[f"joint_align_{method}"] = score(src, tgt, test)
            row[f"joint_align_{method}_info"] = info
        row["seconds"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(
            f"| {lang} | {en.tokens // 1000}k / {corpus.tokens // 1000}k | {cell(row['mono_procrustes'])} | "
            f"{cell(row['mono_refined'])} | {cell(row['joint'])} | {cell(row['joint_align_procrustes'])} | "
            f"{cell(row['joint_align_rcsls'])} |",
            flush=True,
        )
    print("\ncells: P@1 with MUSE's drop policy / strict (unknown words wrong), (test words with vectors)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
