"""BLI with static word vectors derived from the embedded encoder, English -> eight languages, on the
MUSE dictionaries: unaligned, Procrustes on the 0-5000 training dictionary, and refined.

    .venv/bin/python bench/bli_tables.py [--langs hi,ja,ko,zh,vi,ar,pl,uk] [--refine 3] [--json out.json]

Vocabularies: every word of the language pair's two MUSE files (0-5000 and 5000-6500), each encoded
alone by multilingual-e5-small (mean pooling, "query: ", last layer); no corpus is needed.  Retrieval
is over that vocabulary (a few thousand words a side), so the absolute numbers are not comparable
with MUSE's 200k-word setting: they compare the methods with each other.  CSLS (k = 10), P@1,
MUSE's out-of-vocabulary policy (drop).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MUSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "muse"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", default="hi,ja,ko,zh,vi,ar,pl,uk")
    ap.add_argument("--refine", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from scriptbridge.align.static import align_procrustes, dictionary_pairs
    from scriptbridge.evaluate.bli import bli, read_dictionary
    from scriptbridge.models import load_encoder
    from scriptbridge.models.static import encoder_word_vectors

    encoder = load_encoder("embedded")
    rows = []
    print("| en → | test words covered | unaligned P@1 | Procrustes P@1 | refined P@1 | P@10 refined |")
    print("|---|---:|---:|---:|---:|---:|")
    for lang in args.langs.split(","):
        train = read_dictionary(str(MUSE / f"en-{lang}.0-5000.txt"))
        test = read_dictionary(str(MUSE / f"en-{lang}.5000-6500.txt"))
        src = encoder_word_vectors(encoder, [s for s, _ in train + test]).normalized()
        tgt = encoder_word_vectors(encoder, [t for _, t in train + test]).normalized()
        before = bli(src, tgt, test)
        seed = dictionary_pairs(src, tgt, train)
        w0, _ = align_procrustes(src, tgt, seed)
        w, history = align_procrustes(src, tgt, seed, refine=args.refine, max_rank=len(src))
        proc = bli(src.mapped(w0), tgt, test)
        refined = bli(src.mapped(w), tgt, test)
        row = {
            "lang": lang,
            "src_words": len(src),
            "tgt_words": len(tgt),
            "unaligned": before,
            "procrustes": proc,
            "refined": refined,
            "rounds": history,
        }
        rows.append(row)
        print(
            f"| {lang} | {before['queries']} / {before['dictionary_words']} | {100 * before['p@1']:.1f} | "
            f"{100 * proc['p@1']:.1f} | {100 * refined['p@1']:.1f} | {100 * refined['p@10']:.1f} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
