"""The alignment-pretraining reproductions of docs/pretraining.md, next to the papers.

    .venv/bin/python bench/pretrain_tables.py translit --recipe translit_hi_ur --output out/translit-hi-ur
        [--variants M1,M2,M3,M4,M5] [--set KEY=VALUE ...] [--threads N]
    .venv/bin/python bench/pretrain_tables.py tcm --model out/tcm-hi/model
    .venv/bin/python bench/pretrain_tables.py tpp --tpp out/tpp/model --output out/tpp-transfer [--seeds 0,1,2]
        [--tasks pos,sentiment] [--set KEY=VALUE ...]

``translit``: the five models of "How transliterations improve crosslingual alignment" (M1 MLM on the
original texts, M2 MLM on original + uroman transliterations, M3 + TCM, M4 + TLM, M5 + TCM + TLM), each
trained from scratch by ``scriptbridge pretrain`` into OUTPUT/M1..M5 (a finished one is reused), then
probed on SIB-200 test (204 pairs, never trained on): top-1 and top-10 retrieval in both directions and
the matched-vs-random cosine gap, at the last layer and at the best layer; and each language against
its own transliteration (the "intermediary" the paper describes).

``tcm``: Tatoeba hin-eng (1000 pairs) with the Hindi side romanized (uroman and colloquial) and as
written, for the embedded encoder and for the model given (``tcm_hindi_roman``'s output): top-1 in both
directions.

``tpp``: zero-shot transfer with and without TPP: UD POS trained on English EWT and tested on Hindi,
Japanese and Arabic PUD (``pos_ewt_pud``), and UMSAB sentiment trained on English and tested on Arabic
and Hindi (``teacher_student_umsab`` with ``method.variant=en``: plain English fine-tuning), each from
the embedded encoder and from the TPP model, for every seed; mean ± std over seeds (runs in
OUTPUT/TASK/{base,tpp}/seedK, reused when finished).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

VARIANTS = {
    "M1": ["stages.0.mlm_sides=src"],
    "M2": [],
    "M3": ["stages.0.objectives.tcm=1.0"],
    "M4": ["stages.0.objectives.tlm=1.0"],
    "M5": ["stages.0.objectives.tcm=1.0", "stages.0.objectives.tlm=1.0"],
}
DESCRIBED = {
    "M1": "MLM, original only",
    "M2": "MLM, original + transliterated",
    "M3": "M2 + TCM",
    "M4": "M2 + TLM",
    "M5": "M2 + TCM + TLM",
}
PAPER_NOTE = (
    "The paper (Liu et al. 2024: Glot500-c, 30k pieces, 8 GPUs) finds that auxiliary transliteration "
    "objectives, TCM above all, improve sentence-level alignment (retrieval) by separating matched from "
    "random pairs, with the transliterations as an intermediary; and that better alignment does not "
    "always carry over to downstream tasks."
)


def _probe(encoder, src: str, tgt: str, layers="last") -> dict:
    from scriptbridge.evaluate.probe import ParallelProbe

    return ParallelProbe.from_files(src, tgt, layers=layers)(encoder)


def translit(args: argparse.Namespace) -> None:
    from scriptbridge.models import load_encoder
    from scriptbridge.train.pretrain import pretrain
    from scriptbridge.train.pretrain_recipe import load_pretrain_recipe

    recipe0 = load_pretrain_recipe(args.recipe, args.set or [])
    probe_src, probe_tgt = recipe0.probe["src"], recipe0.probe["tgt"]

    def test_side(spec: str) -> str:  # the recipe's probe is the dev split: evaluate on test
        return str(SHARED / spec.replace("shared://", "").replace("/dev.tsv", "/test.tsv"))

    src, tgt = test_side(probe_src), test_side(probe_tgt)
    lang_src = recipe0.stages[0].pairs[0]["tgt"].split(":")[1]
    lang_tgt = recipe0.stages[0].pairs[1]["tgt"].split(":")[1]
    rows = []
    for name in args.variants.split(","):
        out = Path(args.output) / name
        recipe = load_pretrain_recipe(args.recipe, [*(args.set or []), *VARIANTS[name]])
        if not (out / "metrics.json").is_file():
            print(f"== {name}: {DESCRIBED[name]} -> {out}", flush=True)
            pretrain(recipe, out)
        metrics = json.loads((out / "metrics.json").read_text())
        enc = load_encoder(str(out / "model"), device="cpu")
        last = _probe(enc, src, tgt)
        every = _probe(enc, src, tgt, layers="all")
        per_layer = {
            int(k.split("/")[1][1:]): v
            for k, v in every.items()
            if k.count("/") == 2 and k.endswith("/top1_src2tgt")
        }
        best = max(per_layer, key=lambda layer: per_layer[layer] + every[f"probe/L{layer}/top1_tgt2src"])
        own_src = _probe(enc, src, f"romanize:{lang_src}:uroman")
        own_tgt = _probe(enc, tgt, f"romanize:{lang_tgt}:uroman")
        stage = metrics["stages"][0]
        rows.append(
            {
                "variant": name,
                "what": DESCRIBED[name],
                "steps": stage["steps"],
                "best_step": stage["best_step"],
                "seconds": stage["seconds"],
                "top1_s2t": last["probe/top1_src2tgt"],
                "top1_t2s": last["probe/top1_tgt2src"],
                "top10_s2t": last["probe/top10_src2tgt"],
                "top10_t2s": last["probe/top10_tgt2src"],
                "gap": last["probe/gap"],
                "best_layer": best,
                "best_top1_s2t": every[f"probe/L{best}/top1_src2tgt"],
                "best_top1_t2s": every[f"probe/L{best}/top1_tgt2src"],
                "own_src": 0.5 * (own_src["probe/top1_src2tgt"] + own_src["probe/top1_tgt2src"]),
                "own_tgt": 0.5 * (own_tgt["probe/top1_src2tgt"] + own_tgt["probe/top1_tgt2src"]),
            }
        )
        (Path(args.output) / "table.json").write_text(json.dumps(rows, indent=2))
    a, b = lang_src, lang_tgt
    print(f"\n{recipe0.name}: SIB-200 test ({Path(src).parent.name} vs {Path(tgt).parent.name}), last layer")
    print(
        f"| model | objectives | steps (best) | top-1 {a}→{b} | top-1 {b}→{a} | top-10 {a}→{b} | top-10 {b}→{a} "
        f"| gap | best layer: top-1 {a}→{b} / {b}→{a} | {a} vs {a}-Latn | {b} vs {b}-Latn |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['what']} | {r['steps']} ({r['best_step']}) | {100 * r['top1_s2t']:.1f} | "
            f"{100 * r['top1_t2s']:.1f} | {100 * r['top10_s2t']:.1f} | {100 * r['top10_t2s']:.1f} | "
            f"{r['gap']:.3f} | L{r['best_layer']}: {100 * r['best_top1_s2t']:.1f} / {100 * r['best_top1_t2s']:.1f} | "
            f"{100 * r['own_src']:.1f} | {100 * r['own_tgt']:.1f} |"
        )
    print(f"\n{PAPER_NOTE}")


def tcm(args: argparse.Namespace) -> None:
    from scriptbridge.models import load_encoder

    hin = str(SHARED / "tatoeba" / "tatoeba.hin-eng.hin")
    eng = str(SHARED / "tatoeba" / "tatoeba.hin-eng.eng")
    sides = {
        "Hindi romanized (uroman)": f"romanize:hi:uroman@{hin}",
        "Hindi romanized (colloquial)": f"romanize:hi:colloquial@{hin}",
        "Hindi as written": hin,
    }
    results = {}
    for label, spec in (("embedded", "embedded"), ("after TCM", args.model)):
        enc = load_encoder(spec, device="cpu")
        for side, hi in sides.items():
            found = _probe(enc, eng, hi)
            results[(label, side)] = (found["probe/top1_src2tgt"], found["probe/top1_tgt2src"])
    print("Tatoeba hin-eng (1000 pairs), last layer, top-1 eng→hin / hin→eng")
    print("| Hindi side | embedded e5 | after TCM |")
    print("|---|---:|---:|")
    for side in sides:
        cells = [
            f"{100 * results[(m, side)][0]:.1f} / {100 * results[(m, side)][1]:.1f}"
            for m in ("embedded", "after TCM")
        ]
        print(f"| {side} | " + " | ".join(cells) + " |")


TASKS = {
    # the paper's three target languages (and English), not all of pos_ewt_pud's sets: a CPU's budget
    "pos": (
        "pos_ewt_pud",
        ["hi PUD", "ja PUD", "ar PUD", "en PUD"],
        "accuracy",
        [
            "evaluate=["
            + ", ".join(
                f"{{path: shared://ud/UD_{folder}-PUD/{code}_pud-ud-test.conllu, lang: {code}, name: {code} PUD}}"
                for folder, code in (("English", "en"), ("Hindi", "hi"), ("Japanese", "ja"), ("Arabic", "ar"))
            )
            + "]"
        ],
    ),
    "sentiment": (
        "teacher_student_umsab",
        ["arabic tweets", "hindi tweets (romanized by their authors)", "english (source)"],
        "macro_f1",
        ["method.variant=en"],
    ),
}


def tpp(args: argparse.Namespace) -> None:
    from scriptbridge.train.recipe import load_recipe
    from scriptbridge.train.run import train

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    for task in args.tasks.split(","):
        recipe_name, sets, metric, extra = TASKS[task]
        scores: dict[str, dict[str, list[float]]] = {"base": {}, "tpp": {}}
        for model_name, spec in (("base", "embedded"), ("tpp", args.tpp)):
            for seed in seeds:
                out = Path(args.output) / task / model_name / f"seed{seed}"
                overrides = [*extra, *(args.set or []), f"model.spec={spec}", f"seed={seed}"]
                if not (out / "metrics.json").is_file():
                    print(f"== {task} {model_name} seed {seed} -> {out}", flush=True)
                    train(load_recipe(recipe_name, overrides), out, overwrite=True)
                m = json.loads((out / "metrics.json").read_text())["sets"]
                for s in sets:
                    scores[model_name].setdefault(s, []).append(m[s][metric])
        print(f"\n{task} ({recipe_name}, {metric}), seeds {seeds}: mean ± std")
        print("| set | without TPP | with TPP | Δ |")
        print("|---|---:|---:|---:|")
        for s in sets:
            a, b = scores["base"][s], scores["tpp"][s]

            def ms(v: list[float]) -> str:
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                return f"{100 * statistics.mean(v):.1f} ± {100 * sd:.1f}"

            print(f"| {s} | {ms(a)} | {ms(b)} | {100 * (statistics.mean(b) - statistics.mean(a)):+.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("translit")
    t.add_argument("--recipe", default="translit_hi_ur")
    t.add_argument("--output", required=True)
    t.add_argument("--variants", default="M1,M2,M3,M4,M5")
    t.add_argument("--set", action="append")
    t.add_argument("--threads", type=int)
    c = sub.add_parser("tcm")
    c.add_argument("--model", required=True)
    c.add_argument("--threads", type=int)
    p = sub.add_parser("tpp")
    p.add_argument("--tpp", required=True, help="the TPP model folder (scriptbridge pretrain -r tpp_sib200)")
    p.add_argument("--output", required=True)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tasks", default="pos,sentiment")
    p.add_argument("--set", action="append")
    p.add_argument("--threads", type=int)
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    {"translit": translit, "tcm": tcm, "tpp": tpp}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
