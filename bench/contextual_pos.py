"""Zero-shot POS, English EWT -> Hindi / Japanese PUD, with and without a contextual map.

    .venv/bin/python bench/contextual_pos.py [--out out/contextual-pos] [--seeds 0] [--settings f8,f12]
                                             [--pairs argmax]

Steps (each skipped when its output folder is already complete, so a killed run resumes):

1. ``scriptbridge align-contextual`` on the SIB-200 *training* sentences (701 FLORES pairs) en-hi and
   en-ja: word pairs by mutual argmax (or the MUSE 0-5000 dictionary with ``--pairs dictionary``),
   one orthogonal map per layer.  PUD is never used to learn a map: it is the test set.
2. ``scriptbridge train -r pos_ewt_pud`` with the same freezing three times: no map, the en->hi map,
   the en->ja map.  Settings: ``f8`` = embeddings and layers 1-8 frozen, map at layer 8, the top 4
   layers and the head trained; ``f12`` = the whole encoder frozen, map at the last layer, only the
   linear head trained (5 epochs).
3. A table of token accuracy: "hi PUD" read from the en->hi run, "ja PUD" from the en->ja run, each
   against the unmapped run of the same setting; English PUD shows what the map costs the source.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIB = ROOT.parent / "shared" / "data" / "sib200"
MUSE = ROOT.parent / "shared" / "data" / "muse"
TARGETS = {"hi": "hin_Deva", "ja": "jpn_Jpan"}
SETTINGS = {
    "f8": ["--set", "method.freeze_layers=8"],
    "f12": ["--set", "method.freeze_layers=12", "--set", "train.epochs=5"],
}
LAYER = {"f8": 8, "f12": 12}


def run(cmd: list[str], log: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    with log.open("a") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}); see {log}")


def accuracy(folder: Path, name: str) -> float:
    sets = json.loads((folder / "metrics.json").read_text())["sets"]
    (key,) = [k for k in sets if k.split(": ", 1)[-1] == name]
    return 100 * sets[key]["accuracy"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "contextual-pos")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--settings", default="f8,f12")
    ap.add_argument("--pairs", default="argmax", choices=("argmax", "dictionary"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    exe = [sys.executable, "-m", "scriptbridge"]

    maps = {}
    for lang, sib in TARGETS.items():
        folder = out / f"maps-en-{lang}-{args.pairs}"
        maps[lang] = folder
        if (folder / "maps.safetensors").exists():
            continue
        cmd = [*exe, "align-contextual", "-s", str(SIB / "eng_Latn" / "train.tsv"), "-t"]
        cmd += [str(SIB / sib / "train.tsv"), "--pairs", args.pairs, "-o", str(folder), "--overwrite"]
        if args.pairs == "dictionary":
            cmd += ["--dict", str(MUSE / f"en-{lang}.0-5000.txt")]
        run(cmd, log)

    rows = []
    for setting in args.settings.split(","):
        for seed in args.seeds.split(","):
            runs = {}
            for name, lang in (("none", None), ("hi", "hi"), ("ja", "ja")):
                tag = "none" if lang is None else f"{lang}-{args.pairs}"
                folder = out / f"pos-{setting}-{tag}-s{seed}"
                runs[name] = folder
                if (folder / "metrics.json").exists():
                    continue
                cmd = [*exe, "train", "-r", "pos_ewt_pud", "-o", str(folder), "--overwrite", "--set"]
                cmd += [f"seed={seed}", *SETTINGS[setting]]
                if lang is not None:
                    cmd += ["--set", f"method.contextual_map={{path: {maps[lang]}, layer: {LAYER[setting]}}}"]
                run(cmd, log)
            row = {
                "setting": setting,
                "seed": int(seed),
                "pairs": args.pairs,
                "hi_none": accuracy(runs["none"], "hi PUD"),
                "hi_map": accuracy(runs["hi"], "hi PUD"),
                "ja_none": accuracy(runs["none"], "ja PUD"),
                "ja_map": accuracy(runs["ja"], "ja PUD"),
                "en_none": accuracy(runs["none"], "en PUD"),
                "en_map_hi": accuracy(runs["hi"], "en PUD"),
            }
            rows.append(row)

    print(
        "\n| setting | seed | pairs | hi PUD no map | hi PUD en→hi map | ja PUD no map | ja PUD en→ja map |"
        " en PUD no map / with en→hi map |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['setting']} | {r['seed']} | {r['pairs']} | {r['hi_none']:.1f} | {r['hi_map']:.1f} | "
            f"{r['ja_none']:.1f} | {r['ja_map']:.1f} | {r['en_none']:.1f} / {r['en_map_hi']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
