"""The monolingual corpora for skip-gram / joint training, per language, from ../shared/data.

    .venv/bin/python bench/static_corpora.py [--langs en,hi,ja,ko,zh,vi,ar,pl,uk] [--data DIR] [--json FILE]
    .venv/bin/python bench/static_corpora.py --args hi --side tgt   # "--tgt-corpus FILE ..." for the CLI

Every text in the language goes in, except:

* the MUSE dictionaries (they are the BLI training and test data);
* romanized text (Dakshina's ``roman`` side, the UMSAB Hindi tweets, SIB-200 ``arb_Latn``): another
  script, whose words would only add noise to the native-script vocabulary the dictionaries use;
* PhoneXL PAN-X Korean (one *character* a line: Korean's spaces between words are lost) and PhoneXL
  UDPOS Vietnamese (syllables glued together, ``hảiquân``, where MUSE and the UD treebank write
  ``hải quân``).  PAN-X Japanese/Chinese are character-level too, but those scripts have no spaces
  to lose: the characters are joined and cut again by the segmenter.

Tatoeba is included: BLI tests word translation, not sentence retrieval, and skip-gram never sees
which sentences are translations of each other (the lines are shuffled).  The same goes for SIB-200
(FLORES sentences, parallel across languages) and the PUD treebanks.  Reusing these vectors for a
Tatoeba retrieval evaluation would be a leak to state.  Sentences found in several files (the UD GSD
test sets also appear in PhoneXL's UDPOS files) are counted once (``dedupe``, the CLI default).

The token counts use scriptbridge's own tokenizer (the one static-vectors and joint-align use).
These corpora are small (tens to a few hundred thousand tokens a language), far from the
Wikipedia-sized corpora of the method's paper: expect low BLI coverage of MUSE's test words.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LANGS = ("en", "hi", "ja", "ko", "zh", "vi", "ar", "pl", "uk")
TATOEBA = {
    "hi": "hin",
    "ja": "jpn",
    "ko": "kor",
    "zh": "cmn",
    "vi": "vie",
    "ar": "ara",
    "pl": "pol",
    "uk": "ukr",
}
SIB = {
    "en": "eng_Latn",
    "hi": "hin_Deva",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "zh": "zho_Hans",
    "vi": "vie_Latn",
    "ar": "arb_Arab",
    "pl": "pol_Latn",
    "uk": "ukr_Cyrl",
}
UD = {
    "en": ["UD_English-EWT/en_ewt-ud-test.conllu", "UD_English-PUD/en_pud-ud-test.conllu"],
    "hi": ["UD_Hindi-PUD/hi_pud-ud-test.conllu", "UD_Hindi-HDTB_v1.2/hi-ud-test.conllu"],
    "ja": ["UD_Japanese-GSD/ja_gsd-ud-test.conllu", "UD_Japanese-PUD/ja_pud-ud-test.conllu"],
    "ko": ["UD_Korean-GSD/ko_gsd-ud-test.conllu", "UD_Korean-PUD/ko_pud-ud-test.conllu"],
    "zh": ["UD_Chinese-GSD/zh_gsd-ud-test.conllu", "UD_Chinese-PUD/zh_pud-ud-test.conllu"],
    "vi": ["UD_Vietnamese-VTB/vi_vtb-ud-test.conllu"],
    "ar": ["UD_Arabic-PUD/ar_pud-ud-test.conllu", "UD_Arabic-PADT_v1.3/ar-ud-test.conllu"],
    "pl": ["UD_Polish-PDB/pl_pdb-ud-test.conllu", "UD_Polish-PUD/pl_pud-ud-test.conllu"],
    "uk": ["UD_Ukrainian-IU/uk_iu-ud-test.conllu"],
}
PHONEXL = {  # (folder, split) pairs kept per language; see the docstring for what is left out and why
    "ja": [("panx", "dev"), ("udpos", "dev"), ("udpos", "test")],
    "ko": [("udpos", "dev"), ("udpos", "test")],
    "zh": [("panx", "dev"), ("panx", "test"), ("udpos", "dev"), ("udpos", "test")],
    "vi": [("panx", "dev"), ("panx", "test")],
}
UMSAB = {"en": "english", "ar": "arabic"}


def corpus_files(lang: str, data: Path = DATA) -> list[Path]:
    """The files that make up ``lang``'s corpus (those present under ``data``), in a fixed order."""
    if lang not in LANGS:
        raise ValueError(f"no corpus list for {lang!r}; known: {', '.join(LANGS)}")
    files = [data / "ud" / f for f in UD[lang]]
    files += [data / "sib200" / SIB[lang] / f"{split}.tsv" for split in ("train", "dev", "test")]
    if lang == "en":
        files += sorted((data / "tatoeba").glob("tatoeba.*-eng.eng"))
    else:
        files.append(data / "tatoeba" / f"tatoeba.{TATOEBA[lang]}-eng.{TATOEBA[lang]}")
    for folder, split in PHONEXL.get(lang, []):
        files.append(data / "cjkv_phonemic" / "download" / f"full_updated_{folder}" / f"{split}-{lang}.tsv")
    if lang in UMSAB:
        files += [
            data / "umsab_sentiment" / "data" / "sentiment" / UMSAB[lang] / f"{split}_text.txt"
            for split in ("train", "val", "test")
        ]
    if lang == "hi":
        files += [
            data / "dakshina" / "hi" / "hi.romanized.rejoined.dev.native.txt",
            data / "hiner" / "validation.conll",
        ]
    return [f for f in files if f.is_file()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, help="Also write the table (files and counts) as JSON.")
    ap.add_argument("--args", metavar="LANG", help="Print LANG's files as CLI flags (see --side) and exit.")
    ap.add_argument(
        "--side", choices=("src", "tgt", "none"), default="none",
        help="With --args: --src-corpus, --tgt-corpus (align-static) or --corpus (static-vectors) flags.",
    )  # fmt: skip
    args = ap.parse_args()
    if args.args:
        flag = {"src": "--src-corpus", "tgt": "--tgt-corpus", "none": "--corpus"}[args.side]
        print(" ".join(f"{flag} {f}" for f in corpus_files(args.args, args.data)))
        return 0

    from scriptbridge.models.skipgram import load_corpus

    rows = []
    print(
        "| lang | files | sentences | tokens | word types | types seen >= 5 | duplicates dropped | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lang in args.langs.split(","):
        files = corpus_files(lang, args.data)
        if not files:
            print(f"| {lang} | 0 | - | - | - | - | - | - |", file=sys.stderr)
            continue
        start = time.perf_counter()
        corpus = load_corpus(files, lang=lang)
        seconds = time.perf_counter() - start
        frequent = sum(1 for c in corpus.counts.values() if c >= 5)
        rows.append({**corpus.describe(), "types_min5": frequent, "seconds": round(seconds, 1)})
        print(
            f"| {lang} | {len(files)} | {len(corpus.lines)} | {corpus.tokens} | {len(corpus.counts)} | "
            f"{frequent} | {corpus.duplicates_dropped} | {seconds:.1f} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
