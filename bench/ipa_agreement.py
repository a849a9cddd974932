"""Agreement of ``to_ipa_tokens`` with the IPA column of the PhoneXL CJKV data, and IPA speed.

The PhoneXL data (``cjkv_phonemic/download/full_updated_{panx,udpos}/{dev,test}-{zh,ja,ko,vi}.tsv``)
has one token a line, ``token <TAB> label <TAB> ipa <TAB> romanization``, and a blank line between
sentences. For each language we convert every sentence's tokens in context and compare token by
token, over the tokens that contain a letter of the language's script (Latin letters for vi; for
zh/ja/ko a non-Latin letter): punctuation and digits are copied through on both sides and would
only inflate the numbers, and Latin words inside zh/ja/ko text are copied by scriptbridge but
English-pronounced or letter-by-letter converted in the data, which is no question of zh/ja/ko IPA:

* exact: share of tokens whose IPA equals the reference (tone letters included);
* PER: phone error rate, the Levenshtein distance between phone sequences over reference phones
  (phones split with panphon's segmenter so that t͡ɕ or ˧˩˧ count as one symbol).

Usage:
    .venv/bin/python bench/ipa_agreement.py [--data-dir ../shared/data] [--max-sentences 2000]
    .venv/bin/python bench/ipa_agreement.py --speed   # sentences/s on SIB-200 test texts
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import unicodedata
from pathlib import Path

import regex

from scriptbridge.evaluate.text_metrics import levenshtein
from scriptbridge.views.api import to_ipa, to_ipa_tokens_batch

REPO = Path(__file__).resolve().parents[1]
LANGS = ("zh", "ja", "ko", "vi")
SIB_LANGS = (
    "hin_Deva",
    "urd_Arab",
    "mal_Mlym",
    "jpn_Jpan",
    "kor_Hang",
    "zho_Hans",
    "vie_Latn",
    "arb_Arab",
    "ukr_Cyrl",
)
_TONE = set("˥˦˧˨˩ˀ")
# a token counts when it has a letter of the language's own script
_SCRIPT = {
    "zh": regex.compile(r"\p{Han}"),
    "ja": regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]"),
    "ko": regex.compile(r"\p{Hangul}"),
    "vi": regex.compile(r"\p{Latin}"),
}


def read_sentences(path: Path) -> list[list[tuple[str, str]]]:
    """(token, reference IPA) per token, grouped in sentences."""
    sents: list[list[tuple[str, str]]] = []
    cur: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if cur:
                sents.append(cur)
            cur = []
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            cur.append((parts[0], parts[2]))
    if cur:
        sents.append(cur)
    return sents


def phones(ipa: str) -> list[str]:
    """Split IPA into phones: a base symbol with its diacritics/tie bars; a tone contour is one."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", ipa.replace(" ", "")):
        if not out:
            out.append(ch)
        elif ch in _TONE and out[-1][-1] in _TONE:
            out[-1] += ch  # a tone contour (˧˩˧) is one symbol
        elif unicodedata.combining(ch) or ch in "ːʰʲʷˤ" or out[-1].endswith("\u0361"):
            out[-1] += ch  # diacritic, length, tie bar and what follows it
        else:
            out.append(ch)
    return out


def agreement(data_dir: Path, max_sentences: int) -> None:
    root = data_dir / "cjkv_phonemic" / "download"
    print(f"{'lang':5} {'sents':>6} {'tokens':>7} {'exact':>7} {'PER':>7} {'PER-notone':>10}")
    for lang in LANGS:
        files = sorted(root.glob(f"full_updated_*/*-{lang}.tsv"))
        sents = [s for f in files for s in read_sentences(f)][:max_sentences]
        if not sents:
            print(f"{lang:5} no data under {root}")
            continue
        hyp = to_ipa_tokens_batch([[t for t, _ in s] for s in sents], lang)
        n = exact = errs = ref_len = errs_nt = ref_len_nt = 0
        for s, h in zip(sents, hyp, strict=True):
            for (tok, ref), out in zip(s, h, strict=True):
                if not ref or not _SCRIPT[lang].search(tok):
                    continue
                n += 1
                exact += out.replace(" ", "") == ref.replace(" ", "")
                r, o = phones(ref), phones(out)
                errs += levenshtein(o, r)
                ref_len += len(r)
                r_nt, o_nt = [p for p in r if p[0] not in _TONE], [p for p in o if p[0] not in _TONE]
                errs_nt += levenshtein(o_nt, r_nt)
                ref_len_nt += len(r_nt)
        print(
            f"{lang:5} {len(sents):6d} {n:7d} {exact / max(n, 1):7.1%} {errs / max(ref_len, 1):7.1%} "
            f"{errs_nt / max(ref_len_nt, 1):10.1%}"
        )


def speed(data_dir: Path, max_sentences: int) -> None:
    print(f"{'lang':9} {'sents':>6} {'first call s':>12} {'sents/s':>9}")
    for code in SIB_LANGS:
        path = data_dir / "sib200" / code / "test.tsv"
        if not path.exists():
            print(f"{code:9} missing {path}")
            continue
        with path.open(encoding="utf-8") as f:
            texts = [row["text"] for row in csv.DictReader(f, delimiter="\t")][:max_sentences]
        t0 = time.perf_counter()
        to_ipa(texts[:1], code)  # loads the backend (epitran map, dictionaries, tagger)
        t1 = time.perf_counter()
        to_ipa(texts, code)
        t2 = time.perf_counter()
        print(f"{code:9} {len(texts):6d} {t1 - t0:12.2f} {len(texts) / (t2 - t1):9.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--max-sentences", type=int, default=2000)
    ap.add_argument("--speed", action="store_true", help="measure sentences/s on SIB-200 test texts instead")
    args = ap.parse_args(argv)
    if args.speed:
        speed(args.data_dir, args.max_sentences)
    else:
        agreement(args.data_dir, args.max_sentences)
    return 0


if __name__ == "__main__":
    sys.exit(main())
