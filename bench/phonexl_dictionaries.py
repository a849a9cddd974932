"""MUSE dictionaries bridged through English vs the dictionaries released with PhoneXL, for code-switching.

PhoneXL (Nguyen et al. 2023, section 5.2) and its CoSDA-ML baseline code-switch zh/ja training words into
vi/ko with zh-vi and ja-ko dictionaries built by bridging MUSE through English. This compares our bridges
(``load_dictionary("muse:zh-vi")``: the 0-5000 splits; ``@all``: both MUSE splits merged; and the 0-5000
bridge with ``keep_pivot_copies=False``; at most 5 translations a word) with the paper's
``zh-vi-dict.txt`` / ``ja-ko-dict.txt``:

* size: source words and (word, translation) pairs;
* overlap: source words in both our dictionary and the paper's; agreement: share of those whose
  translation sets intersect;
* quirks: pairs whose translation is the word itself, source words in Latin script (English words in a
  zh/ja dictionary), and pairs whose "translation" is one of the word's English pivots (MUSE en-vi/en-ko
  map many English words to themselves, so the English passes through the bridge; counted for source
  words that MUSE zh-en/ja-en knows, so a lower bound for the paper's dictionaries);
* coverage of the PhoneXL source dev sets (PAN-X and UDPOS; PAN-X zh/ja tokens are single characters):
  share of word tokens / word types (with a letter) that have a translation other than themselves.

Usage:
    .venv/bin/python bench/phonexl_dictionaries.py [--data-dir ../shared/data] [--output FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import regex

from scriptbridge.views.code_switch import (
    BilingualDictionary,
    bridge,
    load_dictionary,
    read_phonexl_dictionary,
)

REPO = Path(__file__).resolve().parents[1]
PAIRS = (("zh", "vi"), ("ja", "ko"))
DEV_SETS = (("PAN-X", "full_updated_panx"), ("UDPOS", "full_updated_udpos"))
_LATIN_WORD = regex.compile(r"^[\p{Latin}\p{N}'.\-]+$")


def read_dev_tokens(path: Path) -> list[list[str]]:
    """The tokens of a PhoneXL TSV file (token, label, ipa, romanization; blank line between sentences)."""
    from ipa_agreement import read_sentences  # the bench folder is on sys.path when run as a script

    return [[token for token, _ipa in sentence] for sentence in read_sentences(path)]


def pairs_of(d: BilingualDictionary) -> int:
    return sum(len(t) for t in d.entries.values())


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def quirks(d: BilingualDictionary, pivots: BilingualDictionary) -> tuple[int, int, int, int]:
    """Pairs translating a word to itself; Latin-script source words; pairs whose translation is an
    English pivot of the word, and the pairs that could be checked for it."""
    identity = sum(t == w for w, ts in d.entries.items() for t in ts)
    latin = sum(bool(_LATIN_WORD.match(w)) for w in d.entries)
    english = checked = 0
    for word, translations in d.entries.items():
        english_words = {p.casefold() for p in pivots.lookup(word)}
        if english_words:
            checked += len(translations)
            english += sum(t.casefold() in english_words for t in translations)
    return identity, latin, english, checked


def build_page(data_dir: Path) -> str:
    muse_dir = data_dir / "muse"
    cjkv = data_dir / "cjkv_phonemic"
    stats_rows: list[str] = []
    coverage_rows: list[str] = []
    for src, tgt in PAIRS:
        paper = read_phonexl_dictionary(cjkv / f"{src}-{tgt}-dict.txt", src, tgt)
        dictionaries = [
            (f"MUSE {src}→en→{tgt} (0-5000)", load_dictionary(f"muse:{src}-{tgt}", muse_dir=muse_dir)),
            (
                f"MUSE {src}→en→{tgt} (all splits)",
                load_dictionary(f"muse:{src}-{tgt}@all", muse_dir=muse_dir),
            ),
            (
                f"MUSE {src}→en→{tgt} (0-5000, pivot copies dropped)",
                bridge(
                    load_dictionary(f"muse:{src}-en", muse_dir=muse_dir),
                    load_dictionary(f"muse:en-{tgt}", muse_dir=muse_dir),
                    keep_pivot_copies=False,
                ),
            ),
            (f"PhoneXL `{src}-{tgt}-dict.txt`", paper),
        ]
        pivots = load_dictionary(f"muse:{src}-en@all", muse_dir=muse_dir)
        dev = {
            name: read_dev_tokens(cjkv / "download" / folder / f"dev-{src}.tsv")
            for name, folder in DEV_SETS
            if (cjkv / "download" / folder / f"dev-{src}.tsv").is_file()
        }
        for name, d in dictionaries:
            pairs = pairs_of(d)
            identity, latin, english, checked = quirks(d, pivots)
            if d is paper:
                overlap_cell = agreement_cell = "-"
            else:
                common = [w for w in d.entries if w in paper.entries]
                agree = sum(bool(set(d.entries[w]) & set(paper.entries[w])) for w in common)
                overlap_cell = (
                    f"{len(common):,} ({percent(len(common), len(d))} of ours, "
                    f"{percent(len(common), len(paper))} of the paper's)"
                )
                agreement_cell = percent(agree, len(common))
            stats_rows.append(
                f"| {name} | {len(d):,} | {pairs:,} | {pairs / len(d):.2f} | {overlap_cell} | {agreement_cell} "
                f"| {identity:,} ({percent(identity, pairs)}) | {latin:,} ({percent(latin, len(d))}) "
                f"| {english:,} ({percent(english, checked)}) |"
            )
            cells = []
            for set_name, _folder in DEV_SETS:
                if set_name in dev:
                    cov = d.coverage(dev[set_name])
                    cells.append(f"{100 * cov['token_coverage']:.1f}% / {100 * cov['type_coverage']:.1f}%")
                else:
                    cells.append("n/a")
            coverage_rows.append(f"| {name} | " + " | ".join(cells) + " |")

    dev_header = " | ".join(f"{name} dev (zh or ja): tokens / types" for name, _ in DEV_SETS)
    return "\n".join(
        [
            "## Code-switching dictionaries: bridged MUSE vs PhoneXL's",
            "",
            "Produced by `.venv/bin/python bench/phonexl_dictionaries.py`. Bridged dictionaries keep at most 5",
            "translations a word. Overlap and agreement are against the paper's dictionary of the same pair;",
            "agreement = share of common source words whose translation sets intersect.",
            "",
            "| dictionary | source words | pairs | translations/word | overlap with paper | agreement "
            "| identity pairs | Latin source words | English-pivot translations |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *stats_rows,
            "",
            "Coverage of the PhoneXL source-language dev sets: share of word tokens / types (with a letter)",
            "that have a translation other than themselves (what code-switching can use). PAN-X zh/ja",
            "tokens are single characters, and MUSE ja-en has no one-character words: a word dictionary",
            "switches no PAN-X ja token unless the text is re-segmented into words first.",
            "",
            f"| dictionary | {dev_header} |",
            "|---|---:|---:|",
            *coverage_rows,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="holds muse/ and cjkv_phonemic/",
    )
    ap.add_argument("--output", type=Path, help="write the Markdown here (default: stdout)")
    args = ap.parse_args(argv)
    for needed in (args.data_dir / "muse", args.data_dir / "cjkv_phonemic"):
        if not needed.is_dir():
            print(
                f"missing {needed}; pass --data-dir (the folder holding muse/ and cjkv_phonemic/)",
                file=sys.stderr,
            )
            return 2
    page = build_page(args.data_dir)
    if args.output:
        from scriptbridge.utils.io import atomic_write_text

        atomic_write_text(args.output, page)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
