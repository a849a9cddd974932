"""Optional copyleft romanizers, installed by ``pip install 'scriptbridge[copyleft]'``.

Installing them changes the license terms of the installed whole (AGPL-3.0 / GPL-3.0), so the
permissive backends stay the defaults: these are reached only by their own names (``romanize(t,
"hi", "aksharamukha")``). Asking for one that is not installed raises :class:`ViewError` with
the install hint (see ``Backend.converter``).

* ``aksharamukha`` (AGPL-3.0): Indic scripts, Urdu and Arabic. Three targets: ISO 15919
  (``aksharamukha``, with diacritics), ``aksharamukha-readable`` (ASCII, long vowels doubled:
  duniyaa) and ``aksharamukha-colloquial`` (ASCII, no length: duniya).
* ``pykakasi`` (GPL-3.0): Japanese Hepburn from a kanji dictionary without a tagger (reads kanji
  per word, not in context; 今日は comes out konnichiha).
* ``korean-romanizer`` (GPL-3.0): Korean RR per syllable, without most sound-change rules
  (백마 baekma where RR has baengma).
"""

from __future__ import annotations

from collections.abc import Sequence

from scriptbridge.views.registry import Backend, register

# aksharamukha's name for each language's usual script
_AKSHARAMUKHA_SCRIPT = {
    "hi": "Devanagari",
    "mr": "Devanagari",
    "ne": "Devanagari",
    "sa": "Devanagari",
    "bn": "Bengali",
    "as": "Assamese",
    "gu": "Gujarati",
    "pa": "Gurmukhi",
    "or": "Oriya",
    "ta": "Tamil",
    "te": "Telugu",
    "kn": "Kannada",
    "ml": "Malayalam",
    "si": "Sinhala",
    "ur": "Urdu",
    "ar": "Arab",
}


def _aksharamukha_loader(target: str):
    def load():
        import warnings

        from aksharamukha import transliterate

        def convert(texts: Sequence[str], lang: str) -> list[str]:
            source = _AKSHARAMUKHA_SCRIPT[lang]
            # Urdu without this option leaves some letters unconverted (نام -> "nāم"); with it,
            # unwritten short vowels are assumed absent, which reads Urdu as it is spelled
            pre = ["UrduShortNotShown"] if source == "Urdu" else []
            with warnings.catch_warnings():
                # it warns (rather than raises) about things it passes through; the hygiene
                # layer already deals with odd input
                warnings.simplefilter("ignore")
                return [transliterate.process(source, target, t, pre_options=pre) for t in texts]

        return convert

    return load


for _name, _target, _what in (
    ("aksharamukha", "ISO", "ISO 15919 with diacritics (namastē duniyā)"),
    ("aksharamukha-readable", "RomanReadable", "ASCII with doubled long vowels (namaste duniyaa)"),
    ("aksharamukha-colloquial", "RomanColloquial", "ASCII without vowel length (namaste duniya)"),
):
    register(
        Backend(
            kind="romanize",
            name=_name,
            schemes=(_name,),
            languages=frozenset(_AKSHARAMUKHA_SCRIPT),
            load=_aksharamukha_loader(_target),
            license="AGPL-3.0",
            description=f"aksharamukha: {_what}",
            extra="copyleft",
            modules=("aksharamukha",),
        )
    )


def _load_pykakasi():
    import pykakasi
    import regex

    from scriptbridge.views.backends.east_asian import join_pieces

    kks = pykakasi.kakasi()
    japanese = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}ー々]+")

    def line(t: str) -> str:
        # pykakasi garbles some non-Japanese runs (emoji become a copy of the run before), so it
        # only sees the Japanese runs; the rest passes through, spaced like the other CJK views
        pieces: list[tuple[bool, str]] = []
        pos = 0
        for m in japanese.finditer(t):
            if m.start() > pos:
                pieces.append((False, t[pos : m.start()]))
            pieces.extend((True, w["hepburn"]) for w in kks.convert(m.group()) if w["hepburn"].strip())
            pos = m.end()
        if pos < len(t):
            pieces.append((False, t[pos:]))
        return join_pieces(pieces)

    def convert(texts: Sequence[str], lang: str) -> list[str]:
        return [line(t) for t in texts]

    return convert


register(
    Backend(
        kind="romanize",
        name="pykakasi",
        schemes=("pykakasi",),
        languages=frozenset({"ja"}),
        load=_load_pykakasi,
        license="GPL-3.0-or-later",
        description="pykakasi: Japanese Hepburn from a kanji dictionary (no context tagger)",
        extra="copyleft",
        modules=("pykakasi",),
    )
)


def _load_korean_romanizer():
    from korean_romanizer.romanizer import Romanizer

    def one(text: str) -> str:
        try:
            return Romanizer(text).romanize()
        except (KeyError, IndexError):
            # its final-consonant table lacks some clusters (ㅀ in 잟): the text syllable by
            # syllable, uroman for the syllables it cannot read
            from scriptbridge.views import romanize

            out = []
            for ch in text:
                try:
                    out.append(Romanizer(ch).romanize())
                except (KeyError, IndexError):
                    out.append(romanize([ch], "ko", "uroman")[0])
            return "".join(out)

    def convert(texts: Sequence[str], lang: str) -> list[str]:
        return [one(t) for t in texts]

    return convert


register(
    Backend(
        kind="romanize",
        name="korean-romanizer",
        schemes=("korean-romanizer",),
        languages=frozenset({"ko"}),
        load=_load_korean_romanizer,
        license="GPL-3.0",
        description="korean-romanizer: Revised Romanization syllable by syllable",
        extra="copyleft",
        modules=("korean_romanizer",),
    )
)
