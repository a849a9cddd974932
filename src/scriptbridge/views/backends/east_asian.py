"""Colloquial romanizations for Japanese, Chinese and Korean (all permissive).

* Japanese ``hepburn`` (also ``colloquial``; default for ``ja``), ``kunrei``, ``nihon-shiki``:
  cutlet (MIT) on fugashi + unidic-lite, which reads kanji in context (今日 -> kyou).
* Chinese ``pinyin`` (also ``colloquial``; default for ``zh``) and ``pinyin-tones``: pypinyin (MIT)
  with its phrase dictionary for polyphones (银行 yinhang, 行走 xingzou); words are found by jieba
  (MIT) when it is installed, and Traditional text is read through OpenCC's t2s tables
  (opencc-python-reimplemented, Apache-2.0) when that is installed.
* Korean ``rr`` (also ``colloquial``; default for ``ko``): Revised Romanization of Korean (2000),
  implemented here from the official rules, including the sound changes RR writes across
  syllables (국물 gungmul, 신라 silla, 좋고 joko, 해돋이 haedoji).

All three lower-case their output (an encoder view should not depend on sentence position or on
a tagger's proper-noun guess) and pass through what is not in their script: Latin words, digits,
emoji. Full-width forms and CJK punctuation are folded to ASCII, as people type romanized text.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Sequence

import regex

from scriptbridge.views.registry import Backend, register

# --- shared width / punctuation folding --------------------------------------------------------

# CJK punctuation -> what someone typing romanized text would write
_PUNCT = {
    "\u3000": " ",
    "。": ".",
    "、": ",",
    "，": ",",
    "．": ".",
    "・": " ",
    "·": " ",
    "「": '"',
    "」": '"',
    "『": '"',
    "』": '"',
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "《": '"',
    "》": '"',
    "〈": '"',
    "〉": '"',
    "【": "[",
    "】": "]",
    "〔": "(",
    "〕": ")",
    "〖": "[",
    "〗": "]",
    "…": "...",
    "‥": "..",
    "—": "-",
    "―": "-",
    "～": "~",
    "〜": "~",
}
# punctuation that attaches to the word before it (no space before) / after it (no space after);
# the ASCII double quote is either, told apart by counting (see join_pieces)
_ATTACH_LEFT = set(",.!?;:)]}%…、。，．！？；：）】』」”’》〉〕〗")
_ATTACH_RIGHT = set("([{（【『「“‘《〈〔〖")


def _fold_char(ch: str) -> str:
    o = ord(ch)
    if 0xFF01 <= o <= 0xFF5E:  # full-width ASCII variants (ＡＢＣ１２３！)
        return chr(o - 0xFEE0)
    return _PUNCT.get(ch, ch)


def fold_width(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


def join_pieces(pieces: list[tuple[bool, str]]) -> str:
    """Join romanized words (``True``) and passed-through runs (``False``) with sensible spacing.

    Words are separated by one space; a passed-through run gets a space on a side unless it
    already has whitespace there or has punctuation there that attaches to the neighbouring word.
    Attachment is decided on the original characters (“ opens, ” closes) before folding, since
    both fold to the same ASCII quote; an ASCII " opens when an even number came before it.
    """
    out: list[str] = []
    prev_word = False  # did the previous piece end in a romanized word?
    glue = True  # may the next word follow without a space?
    quotes = 0  # ASCII double quotes seen so far
    for is_word, text in pieces:
        if is_word:
            if out and not glue:
                out.append(" ")
            out.append(text)
            prev_word, glue = True, False
            continue
        first, last = text[0], text[-1]
        closes = first in _ATTACH_LEFT or (first == '"' and quotes % 2 == 1)
        if prev_word and not (first.isspace() or closes):
            out.append(" ")
        quotes += text.count('"')
        opens = last in _ATTACH_RIGHT or (last == '"' and quotes % 2 == 1)
        out.append(fold_width(text))
        prev_word = False
        glue = last.isspace() or opens
    return regex.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


# --- Japanese: cutlet ----------------------------------------------------------------------------

_JA_SCRIPT = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
# Words whose unidic-lite reading is formal or archaic where everyday Japanese says otherwise,
# given in kana so each system spells them its own way. Only whole tokens can be overridden.
_JA_READINGS = {
    "日本": "にほん",  # unidic reads the formal "nippon"; "nihon" is what people say and type
    "私": "わたし",  # unidic: watakushi
    "こんにちは": "こんにちわ",  # the particle は is "wa" here, the tagger sees one interjection
    "こんばんは": "こんばんわ",
}
# cutlet's table has no entry for う + small vowel, so ウェブ came out "ebu" (u[:-1] + e)
_JA_KANA_FIXES = {"うぃ": "wi", "うぇ": "we", "うぉ": "wo"}


@functools.lru_cache(maxsize=1)
def _ja_tagger():
    import fugashi  # unidic-lite is found automatically

    return fugashi.Tagger()


@functools.cache
def _cutlet(system: str):
    """One configured cutlet per system; all share one fugashi tagger (slow to build)."""
    import cutlet

    # Foreign spelling off: unidic's English lemmas are often wrong ("smart fond" for
    # スマートフォン) and the kana reading is what the text says. ensure_ascii off: emoji,
    # Hangul, Cyrillic... pass through instead of becoming "?".
    cut = cutlet.Cutlet(system, use_foreign_spelling=False, ensure_ascii=False)
    cut.tagger = _ja_tagger()
    for kana, roma in _JA_KANA_FIXES.items():
        cut.update_mapping(kana, roma)
    for word, kana in _JA_READINGS.items():
        cut.add_exception(word, cut.map_kana(kana))
    return cut


def _japanese_line(cut, line: str) -> str:
    from cutlet.cutlet import normalize_text  # NFKC + full-width Latin to ASCII + half-width kana

    text = normalize_text(line)
    words = cut.tagger(text)
    tokens = cut.romaji_tokens(words, capitalize=False, title=False)
    # cutlet title-cases proper nouns; lower-case every token read from Japanese, but leave
    # passed-through Latin (and other scripts) as written. romaji_tokens is one token per word.
    for word, tok in zip(words, tokens, strict=True):
        if _JA_SCRIPT.search(word.surface):
            tok.surface = tok.surface.lower()
    return "".join(str(t) for t in tokens).strip()


def _japanese_loader(system: str):
    def load():
        cut = _cutlet(system)
        # The reading of a word depends on its sentence, so the cache is per line; it still pays
        # off on corpora with repeated lines (titles, boilerplate).
        line_cache = functools.lru_cache(maxsize=1 << 16)(lambda line: _japanese_line(cut, line))

        def convert(texts: Sequence[str], lang: str) -> list[str]:
            return [line_cache(t) for t in texts]

        return convert

    return load


register(
    Backend(
        kind="romanize",
        name="cutlet",
        schemes=("hepburn", "colloquial"),
        languages=frozenset({"ja"}),
        load=_japanese_loader("hepburn"),
        license="MIT (cutlet, fugashi); BSD-3-Clause (unidic-lite)",
        description="Japanese Hepburn romaji, kanji read in context (cutlet + unidic-lite); lower-case",
        modules=("cutlet", "fugashi", "unidic_lite"),
    ),
    default_for=("ja",),
)
register(
    Backend(
        kind="romanize",
        name="cutlet-kunrei",
        schemes=("kunrei",),
        languages=frozenset({"ja"}),
        load=_japanese_loader("kunrei"),
        license="MIT (cutlet, fugashi); BSD-3-Clause (unidic-lite)",
        description="Japanese Kunrei-shiki romaji (ISO 3602), kanji read in context",
        modules=("cutlet", "fugashi", "unidic_lite"),
    )
)
register(
    Backend(
        kind="romanize",
        name="cutlet-nihon",
        schemes=("nihon-shiki",),
        languages=frozenset({"ja"}),
        load=_japanese_loader("nihon"),
        license="MIT (cutlet, fugashi); BSD-3-Clause (unidic-lite)",
        description="Japanese Nihon-shiki romaji (strictly one spelling per kana)",
        modules=("cutlet", "fugashi", "unidic_lite"),
    )
)


# --- Chinese: pypinyin ---------------------------------------------------------------------------

_HAN_RUN = regex.compile(r"\p{Han}+")


@functools.lru_cache(maxsize=1)
def _t2s():
    """Traditional -> Simplified text conversion, or identity when OpenCC is not installed.

    pypinyin's phrase dictionary is Simplified: 銀行 alone reads "yin xing", 银行 "yin hang".
    OpenCC's t2s leaves Simplified text unchanged (checked on a test set), so it is applied to
    every line rather than guessing the variant.
    """
    try:
        import opencc  # opencc-python-reimplemented (Apache-2.0), module name "opencc"

        conv = opencc.OpenCC("t2s")
        return conv.convert
    except Exception:  # noqa: BLE001 - missing or a different "opencc" package: read as is
        logging.getLogger(__name__).info("OpenCC not available: Traditional Chinese read without t2s")
        return lambda s: s


@functools.lru_cache(maxsize=1)
def _segmenter():
    """A function that cuts a run of Han characters into words.

    jieba's words are better than pypinyin's own maximum matching for both the spacing and the
    polyphones (都会 dou hui, 人参加 ren canjia: 4 of 5,000 syllables differ on SIB-200, all
    fixed by jieba). Without jieba, pypinyin's phrase-dictionary segmentation is used.
    """
    try:
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its dictionary build at DEBUG
        tok = jieba.Tokenizer()
        tok.initialize()
        return lambda run: list(tok.cut(run, HMM=True))
    except ImportError:
        from pypinyin.seg.mmseg import seg

        return lambda run: list(seg.cut(run))


def _syllable_starts_with_vowel(syl: str) -> bool:
    return bool(syl) and unicodedata.normalize("NFD", syl[0])[0] in "aoe"


def _pinyin_loader(tones: bool):
    def load():
        from pypinyin import Style, lazy_pinyin

        style = Style.TONE if tones else Style.NORMAL
        t2s, segment = _t2s(), _segmenter()

        @functools.lru_cache(maxsize=1 << 17)
        def word(w: str) -> str:
            # A word's reading does not depend on its neighbours once the sentence is segmented,
            # so it is cached per word. pypinyin still applies its phrase dictionary inside w.
            syls = lazy_pinyin(w, style=style, v_to_u=True)
            out = syls[0] if syls else ""
            for s in syls[1:]:
                # pinyin orthography: an apostrophe before a, o, e inside a word (xi'an, nü'er)
                out += ("'" if _syllable_starts_with_vowel(s) else "") + s
            return out

        @functools.lru_cache(maxsize=1 << 16)
        def line(text: str) -> str:
            simp = t2s(text)
            pieces: list[tuple[bool, str]] = []
            pos = 0
            for m in _HAN_RUN.finditer(simp):
                if m.start() > pos:
                    pieces.append((False, simp[pos : m.start()]))
                pieces.extend((True, word(w)) for w in segment(m.group()))
                pos = m.end()
            if pos < len(simp):
                pieces.append((False, simp[pos:]))
            return join_pieces(pieces)

        def convert(texts: Sequence[str], lang: str) -> list[str]:
            return [line(t) for t in texts]

        return convert

    return load


register(
    Backend(
        kind="romanize",
        name="pypinyin",
        schemes=("pinyin", "colloquial"),
        languages=frozenset({"zh"}),
        load=_pinyin_loader(tones=False),
        license="MIT (pypinyin, jieba); Apache-2.0 (opencc-python-reimplemented)",
        description="Mandarin Hanyu Pinyin without tones, one word per segmented word (yinhang)",
        modules=("pypinyin",),
    ),
    default_for=("zh",),
)
register(
    Backend(
        kind="romanize",
        name="pypinyin-tones",
        schemes=("pinyin-tones",),
        languages=frozenset({"zh"}),
        load=_pinyin_loader(tones=True),
        license="MIT (pypinyin, jieba); Apache-2.0 (opencc-python-reimplemented)",
        description="Mandarin Hanyu Pinyin with tone marks (yínháng)",
        modules=("pypinyin",),
    )
)


# --- Korean: Revised Romanization ---------------------------------------------------------------

# Hangul syllable arithmetic (Unicode ch. 3.12): syllable = 0xAC00 + (L * 21 + V) * 28 + T
_S_BASE, _N_V, _N_T = 0xAC00, 21, 28
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
# ㅇ is silent as an initial (its "ng" is a final's)
_INITIAL_RR = dict(
    zip(
        _INITIALS,
        (
            "g",
            "kk",
            "n",
            "d",
            "tt",
            "r",
            "m",
            "b",
            "pp",
            "s",
            "ss",
            "",
            "j",
            "jj",
            "ch",
            "k",
            "t",
            "p",
            "h",
        ),
        strict=True,
    )
)
_VOWEL_RR = (
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
)
_VOWEL_I = 20  # ㅣ, which palatalizes a preceding ㄷ/ㅌ
# a final consonant is written by its representative sound (RR rule: k, t, p before a consonant
# or at the end of a word)
_FINAL_RR = {
    "": "",
    "ㄱ": "k",
    "ㄲ": "k",
    "ㄳ": "k",
    "ㄴ": "n",
    "ㄵ": "n",
    "ㄶ": "n",
    "ㄷ": "t",
    "ㄹ": "l",
    "ㄺ": "k",
    "ㄻ": "m",
    "ㄼ": "l",
    "ㄽ": "l",
    "ㄾ": "l",
    "ㄿ": "p",
    "ㅀ": "l",
    "ㅁ": "m",
    "ㅂ": "p",
    "ㅄ": "p",
    "ㅅ": "t",
    "ㅆ": "t",
    "ㅇ": "ng",
    "ㅈ": "t",
    "ㅊ": "t",
    "ㅋ": "k",
    "ㅌ": "t",
    "ㅍ": "p",
    "ㅎ": "t",
}
# a double final splits before a vowel: its second consonant is pronounced with the next syllable
_CLUSTER = {
    "ㄳ": ("ㄱ", "ㅅ"),
    "ㄵ": ("ㄴ", "ㅈ"),
    "ㄺ": ("ㄹ", "ㄱ"),
    "ㄻ": ("ㄹ", "ㅁ"),
    "ㄼ": ("ㄹ", "ㅂ"),
    "ㄽ": ("ㄹ", "ㅅ"),
    "ㄾ": ("ㄹ", "ㅌ"),
    "ㄿ": ("ㄹ", "ㅍ"),
    "ㅄ": ("ㅂ", "ㅅ"),
}
# which sound a final has before a consonant: the obstruent classes nasalize as a whole
_K_CLASS = set("ㄱㄲㅋㄳㄺ")
_T_CLASS = set("ㄷㅅㅆㅈㅊㅌㅎ")
_P_CLASS = set("ㅂㅍㅄㄿ")
_L_CLASS = set("ㄹㄼㄽㄾㅀ")
_NASALIZED = {
    **dict.fromkeys(_K_CLASS, "ㅇ"),
    **dict.fromkeys(_T_CLASS, "ㄴ"),
    **dict.fromkeys(_P_CLASS, "ㅁ"),
}
_ASPIRATED = {"ㄱ": "ㅋ", "ㄷ": "ㅌ", "ㅈ": "ㅊ"}
# ㄴ+ㄹ is normally ㄹㄹ (신라 silla), but ㄴㄴ when ㄹ starts a Sino-Korean morpheme appended to a
# longer word (신문로 sinmunno, 생산량, 공권력). Without morphology: ㄴ not in the first syllable
# and ㄹ in one of these bound morphemes.
_LN_MORPHEMES = set("로란량력론료류례")
# compatibility jamo typed on their own (ㅋㅋ, ㅠㅠ): consonants by their initial sound
_COMPAT_RR = {
    **{c: _INITIAL_RR[c] or "ng" for c in _INITIALS},
    "ㄳ": "gs",
    "ㄵ": "nj",
    "ㄶ": "nh",
    "ㄺ": "lg",
    "ㄻ": "lm",
    "ㄼ": "lb",
    "ㄽ": "ls",
    "ㄾ": "lt",
    "ㄿ": "lp",
    "ㅀ": "lh",
    "ㅄ": "bs",
    "ㄹ": "r",
    **dict(zip("ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ", _VOWEL_RR, strict=True)),
}
_HANGUL_RUN = regex.compile(r"[\uAC00-\uD7A3]+")
_COMPAT_RUN = regex.compile(r"[\u3131-\u3163\uFFA0-\uFFDC]+")


def _decompose(syllable: str) -> list:
    idx = ord(syllable) - _S_BASE
    return [_INITIALS[idx // (_N_V * _N_T)], (idx // _N_T) % _N_V, _FINALS[idx % _N_T]]


def _boundary(prev: list, nxt: list, prev_pos: int, nxt_char: str) -> None:
    """Apply RR's sound changes between a syllable's final and the next syllable's initial, in place."""
    f, i = prev[2], nxt[0]
    if not f:
        return
    if i == "ㅇ":  # next syllable starts with a vowel: the final is pronounced with it (liaison)
        if f == "ㅇ":
            return
        if f == "ㅎ":  # 좋아 joa
            prev[2] = ""
        elif f in ("ㄶ", "ㅀ"):  # 많이 mani, 싫어 sireo
            prev[2], nxt[0] = "", ("ㄴ" if f == "ㄶ" else "ㄹ")
        elif f in _CLUSTER:  # 읽어 ilgeo, 값이 gapsi
            prev[2], nxt[0] = _CLUSTER[f]
        else:
            prev[2], nxt[0] = "", f
        # palatalization: ㄷ/ㅌ before 이 become ㅈ/ㅊ (해돋이 haedoji, 같이 gachi)
        if nxt[1] == _VOWEL_I and nxt[0] in ("ㄷ", "ㅌ"):
            nxt[0] = "ㅈ" if nxt[0] == "ㄷ" else "ㅊ"
        return
    if f in ("ㅎ", "ㄶ", "ㅀ"):  # a final ㅎ aspirates ㄱ ㄷ ㅈ (좋고 joko, 놓다 nota, 많다 manta)
        rest = {"ㅎ": "", "ㄶ": "ㄴ", "ㅀ": "ㄹ"}[f]
        if i in _ASPIRATED:
            prev[2], nxt[0] = rest, _ASPIRATED[i]
            return
        if i == "ㅅ":  # 좋소 joso (tensing is not written)
            prev[2] = rest
            return
        if i == "ㄴ":  # 놓는 nonneun, 않는 anneun, 싫네 sille
            prev[2] = rest or "ㄴ"
            if rest == "ㄹ":
                nxt[0] = "ㄹ"
            return
        prev[2] = rest or "ㄷ"
        f = prev[2]
    if i == "ㅎ" and f in _T_CLASS:
        # ㄷ-class + ㅎ is aspirated (못하다 motada) and palatalized before 이 (굳히다 guchida).
        # After ㄱ and ㅂ, RR keeps the h in nouns (묵호 Mukho, 집현전 Jiphyeonjeon), which is the
        # common case in text (Sino-Korean nouns: 축하 chukha, 입학 iphak), so those are left.
        prev[2], nxt[0] = "", ("ㅊ" if nxt[1] == _VOWEL_I else "ㅌ")
        return
    if f == "ㄺ" and i == "ㄱ":  # 맑게 malge
        prev[2] = "ㄹ"
        return
    if f == "ㄼ":  # 넓다 neolda: ㄼ is pronounced ㄹ before a consonant
        prev[2] = f = "ㄹ"
    if f == "ㄵ":
        prev[2] = f = "ㄴ"
    if f == "ㄻ":
        prev[2] = f = "ㅁ"
    if i == "ㄹ":
        if f in ("ㅁ", "ㅇ"):  # 종로 jongno, 침략 chimnyak
            nxt[0] = "ㄴ"
        elif f in _NASALIZED:  # 왕십리 wangsimni, 백로 baengno, 독립 dongnip
            prev[2], nxt[0] = _NASALIZED[f], "ㄴ"
        elif f == "ㄴ":  # 신라 silla, but 신문로 sinmunno (see _LN_MORPHEMES)
            if prev_pos > 0 and nxt_char in _LN_MORPHEMES:
                nxt[0] = "ㄴ"
            else:
                prev[2] = "ㄹ"
        elif f in _L_CLASS:
            prev[2] = "ㄹ"
        return
    if i in ("ㄴ", "ㅁ"):
        if f in _NASALIZED:  # 국물 gungmul, 백마 baengma, 앞문 ammun
            prev[2] = _NASALIZED[f]
        elif f in _L_CLASS:
            prev[2] = "ㄹ"
            if i == "ㄴ":  # 별내 byeollae
                nxt[0] = "ㄹ"


@functools.lru_cache(maxsize=1 << 17)
def _rr_word(word: str) -> str:
    """Revised Romanization of a run of Hangul syllables (a word: rules apply inside it only)."""
    syls = [_decompose(c) for c in word]
    for k in range(len(syls) - 1):
        _boundary(syls[k], syls[k + 1], k, word[k + 1])
    out = []
    prev_final = ""
    for ini, vow, fin in syls:
        # ㄹ is r before a vowel, l when it doubles a final ㄹ (ㄹㄹ -> ll)
        out.append("l" if ini == "ㄹ" and prev_final == "ㄹ" else _INITIAL_RR[ini])
        out.append(_VOWEL_RR[vow])
        out.append(_FINAL_RR[fin])
        prev_final = fin
    return "".join(out)


def _compat_jamo(run: str) -> str:
    out = []
    for c in run:
        if "\uffa0" <= c <= "\uffdc":
            # half-width jamo decompose to the compatibility jamo ("<narrow> 3131"); NFKC would go
            # one step further, to conjoining jamo, which the table does not use
            dec = unicodedata.decomposition(c).split()
            c = chr(int(dec[-1], 16)) if dec else c
        out.append(_COMPAT_RR.get(c, c))
    return "".join(out)


@functools.lru_cache(maxsize=1 << 16)
def _rr_line(line: str) -> str:
    line = _COMPAT_RUN.sub(lambda m: _compat_jamo(m.group()), line)
    # Korean separates words with spaces already, so romanized words replace Hangul in place
    return fold_width(_HANGUL_RUN.sub(lambda m: _rr_word(m.group()), line)).strip()


def _load_rr():
    def convert(texts: Sequence[str], lang: str) -> list[str]:
        return [_rr_line(t) for t in texts]

    return convert


register(
    Backend(
        kind="romanize",
        name="hangul-rr",
        schemes=("rr", "colloquial"),
        languages=frozenset({"ko"}),
        load=_load_rr,
        license="Apache-2.0 (scriptbridge's own implementation)",
        description="Korean Revised Romanization (2000) with its sound-change rules (gungmul, silla)",
    ),
    default_for=("ko",),
)
