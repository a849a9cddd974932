"""uroman's data files as compact per-block tables, built once into scriptbridge's cache.

``uroman.Uroman()`` parses all of its data files (about 60,000 rules) with a couple
of dozen regular expressions per line, which takes seconds. The fast engine needs
only the rules and character properties of the scripts in the text at hand, so:

* :func:`build_tables` re-reads uroman's data files with a one-pass slot parser that
  reproduces ``Uroman.load_*`` exactly (same overwrite/append order, the same
  quirks: ``second_rom_filter``, ``dequote_string``, the Thai cancellation rules
  added after every rule file), and splits the result into one JSON shard per
  256-code-point block (keyed by the first character of a rule's source string);
* :class:`Tables` loads the global part (scripts, sign lists) and then a block shard
  only when a character of that block is first seen.

The shards live in ``cache_dir()/uroman/<key>/`` where ``key`` hashes the uroman
version and the content of the data files, so an upgraded uroman never reads
stale tables. They are written atomically; JSON only (never pickle).
``tests/test_uroman_fast.py`` checks the rules against the real ``Uroman`` tables.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata as ud
import zlib
from pathlib import Path

from scriptbridge.utils.io import atomic_write_text, cache_dir

FORMAT_VERSION = 1  # bump when the shard layout changes
BLOCK_SHIFT = 8  # 256 code points per shard

# the data files Uroman.load_resource_files reads, in its order
DATA_FILES = (
    "romanization-auto-table.txt",
    "UnicodeDataOverwrite.txt",
    "romanization-table.txt",
    "Chinese_to_Pinyin.txt",
    "Scripts.txt",
    "NumProps.jsonl",
    "UnicodeDataProps.txt",
    "UnicodeDataPropsCJK.txt",
    "UnicodeDataPropsHangul.txt",
)

# rule flags (bit set), mirroring RomRule's boolean restrictions
F_ONLY_START = 1  # use-only-at-start-of-word
F_NOT_START = 2  # dont-use-at-start-of-word
F_ONLY_END = 4  # use-only-at-end-of-word
F_NOT_END = 8  # dont-use-at-end-of-word
F_WHOLE = 16  # use-only-for-whole-word

# character flags
C_VOWEL_SIGN = 1
C_MEDIAL = 2
C_VIRAMA = 4

_SLOT_START = re.compile(r"(?:^|(?<=\s))::(\S+)")
_SLOT_BOUNDARY = re.compile(r"\s+::\S")
_COMMENT = re.compile(r"\s{2,}#.*$")
_BLANK = re.compile(r"\s*$")
_DEQUOTE = re.compile(r"""\s*(['"“])(.*)(['"”])\s*$""")
_LIST_SPLIT = re.compile(r"[,;]\s*")


def data_dir() -> Path:
    """uroman's data folder, found without importing uroman (importing it costs time)."""
    spec = importlib.util.find_spec("uroman")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("uroman is not installed", name="uroman")
    return Path(spec.origin).parent / "data"


def uroman_version() -> str:
    """The installed uroman's ``__version__``, read from its source (no import, no metadata scan)."""
    m = re.search(
        r"""__version__\s*=\s*['"]([^'"]+)""", (data_dir().parent / "uroman.py").read_text(encoding="utf-8")
    )
    return m.group(1) if m else "unknown"


def _sources(ddir: Path) -> list[Path]:
    # uroman.py too: its version string, and any change to the loader, must invalidate the tables
    return [ddir.parent / "uroman.py"] + [ddir / name for name in DATA_FILES]


def tables_key(ddir: Path | None = None) -> str:
    """Cache key: format version plus a CRC-32 of uroman.py (which holds the version) and of
    every data file read. (zlib's CRC, not hashlib: hashlib's import alone costs ~10 ms.)"""
    ddir = ddir or data_dir()
    parts = [f"f{FORMAT_VERSION}"]
    for p in _sources(ddir):
        data = p.read_bytes() if p.exists() else b""
        parts.append(f"{len(data):x}-{zlib.crc32(data):08x}")
    return f"{zlib.crc32('|'.join(parts).encode()):08x}{zlib.adler32('|'.join(parts).encode()):08x}"


def _stat_signature(ddir: Path) -> str:
    sig = []
    for p in _sources(ddir):
        try:
            st = p.stat()
            sig.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            sig.append(f"{p.name}:-")
    return "|".join(sig)


def cached_tables_key(root: Path, ddir: Path) -> str:
    """:func:`tables_key`, remembered per file-stat signature in ``root/index.json`` so a warm
    start stats the files instead of reading 2 MB of them."""
    sig = _stat_signature(ddir)
    index_path = root / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    key = index.get(sig)
    if key is None:
        key = tables_key(ddir)
        index = {sig: key}  # only the current installation matters
        atomic_write_text(index_path, json.dumps(index))
    return key


# ---------------------------------------------------------------- parsing
def _slots(line: str) -> dict[str, str]:
    """All ``::slot value`` pairs of a line, as ``slot_value_in_double_colon_del_list`` reads them.

    That function matches ``(?:.*\\s)?::slot(|\\s+\\S.*?)(?:\\s+::\\S.*|\\s*)$``: the *last*
    ``::slot`` that starts the line or follows whitespace, and is followed by whitespace
    or the end; its value runs to the next ``<whitespace>::<non-space>`` (empty if one
    follows at once), stripped. Later occurrences overwrite earlier ones here, which
    gives the same "last one wins".
    """
    out: dict[str, str] = {}
    for m in _SLOT_START.finditer(line):
        name = m.group(1)
        pos = m.end()
        b = _SLOT_BOUNDARY.match(line, pos)
        if b is not None:  # the empty alternative wins: "::s2 ::cost" -> ''
            out[name] = ""
            continue
        nb = _SLOT_BOUNDARY.search(line, pos + 1)
        out[name] = line[pos : nb.start() if nb else len(line)].strip()
    return out


def _dequote(s: str | None) -> str | None:
    if isinstance(s, str):
        m = _DEQUOTE.match(s)
        if m and (m.group(1) + m.group(3)) in ("''", '""', "“”"):
            return m.group(2)
    return s


def _char_name(c: str, names: dict[str, str]) -> str:
    try:
        return ud.name(c)
    except (ValueError, TypeError):
        return names.get(c, "")


def _second_rom_filter(c: str | None, rom: str | None, names: dict[str, str]) -> str | None:
    """Uroman.second_rom_filter: fix up targets that contain spaces."""
    if rom and " " in rom:
        name = _char_name(c, names)  # type: ignore[arg-type]
        if "MYANMAR VOWEL SIGN KAYAH" in name and (m := re.search(r"kayah\s+(\S+)\s*$", rom)):
            return m.group(1)
        if "MENDE KIKAKUI SYLLABLE" in name and (m := re.search(r"m\d+\s+(\S+)\s*$", rom)):
            return m.group(1)
        if re.search(r"\S\s+\S", rom):
            return c
    return None


def _content_lines(path: Path, strip_comment: bool = True):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or _BLANK.match(line):
                continue
            yield _COMMENT.sub("", line) if strip_comment else line


class _Builder:
    """Re-creates the parts of Uroman's state the engine reads."""

    def __init__(self, ddir: Path):
        self.ddir = ddir
        # rules[s] = list of [t, n_restr, lcodes | None, flags, t_end_of_syllable, prov]
        self.rules: dict[str, list[list]] = {}
        self.names: dict[str, str] = {}
        self.syllable_info: dict[str, str] = {}
        self.tone_mark: dict[str, str] = {}
        self.minus: list[str] = []
        self.plus: list[str] = []
        self.fraction_connectors: list[str] = []
        self.scripts: dict[str, list] = {}  # lower name -> [script name, abugida default vowels]
        self.num_props: dict[str, dict] = {}
        self.script_of: dict[str, str] = {}
        self.cflags: dict[str, int] = {}

    @staticmethod
    def _add_unique(lst: list[str], s) -> None:
        # Uroman keeps these as dict keys: insertion order, no duplicates
        if s not in lst:
            lst.append(s)

    def load_rom_file(self, name: str, prov: str, u2r: bool) -> None:
        for line in _content_lines(self.ddir / name):
            sl = _slots(line)
            t_eos = None
            if u2r:
                u = _dequote(sl.get("u"))
                try:
                    s = chr(int(u, 16))  # type: ignore[arg-type]
                except ValueError:
                    continue
                t = _dequote(sl.get("r"))
                if v := sl.get("name"):
                    self.names[s] = v
                if v := sl.get("tone-mark"):
                    self.tone_mark[s] = v
                if v := sl.get("syllable-info"):
                    self.syllable_info[s] = v
            else:
                s = _dequote(sl.get("s"))
                t = _dequote(sl.get("t"))
                t_eos = _dequote(sl.get("t-end-of-syllable"))
            if "is-minus-sign" in sl:
                self._add_unique(self.minus, s)
            if "is-plus-sign" in sl:
                self._add_unique(self.plus, s)
            if sl.get("fraction-connector"):
                self._add_unique(self.fraction_connectors, s)
            lcode_s = sl.get("lcode")
            lcodes = _LIST_SPLIT.split(lcode_s) if lcode_s else []
            flags = 0
            for slot, bit in (
                ("use-only-at-start-of-word", F_ONLY_START),
                ("dont-use-at-start-of-word", F_NOT_START),
                ("use-only-at-end-of-word", F_ONLY_END),
                ("dont-use-at-end-of-word", F_NOT_END),
                ("use-only-for-whole-word", F_WHOLE),
            ):
                if slot in sl:
                    flags |= bit
            t_mod = _second_rom_filter(s, t, self.names)
            if t_mod and t_mod != t:
                t = t_mod
            if s is None:
                continue
            # Uroman registers every line with a source (its any_not_none test always holds,
            # since the is-*-sign flags are booleans, never None)
            n_restr = (1 if lcodes else 0) + bin(flags).count("1")
            rule = [t, n_restr, lcodes or None, flags, t_eos, prov]
            old = self.rules.get(s)
            if old and len(old) == 1 and old[0][5] in ("ud", "ow") and not (lcodes or flags):
                self.rules[s] = [rule]  # overwrite
            elif old:
                old.append(rule)
            else:
                self.rules[s] = [rule]
        self._thai_cancellation()

    def _thai_cancellation(self) -> None:
        # Uroman adds these after each rule file, only where no rule exists yet
        mark = "\u0e4c"
        for cp in range(0x0E01, 0x0E4C):
            s = chr(cp) + mark
            if not self.rules.get(s):
                self.rules[s] = [["", 0, None, 0, None, "auto cancel letter"]]
        vowel_mods = ["\u0e31", "\u0e47"] + [chr(cp) for cp in range(0x0E33, 0x0E3B)]
        for c1 in map(chr, range(0x0E01, 0x0E2F)):
            for v in vowel_mods:
                s = c1 + v + mark
                if not self.rules.get(s):
                    self.rules[s] = [["", 0, None, 0, None, "auto cancel syllable"]]

    @staticmethod
    def _de_accent_pinyin(s: str) -> str:
        result = ""
        for char in s:
            if decomp := ud.decomposition(char).split():
                try:
                    decomp_chars = [chr(int(x, 16)) for x in decomp]
                    letters = [x for x in decomp_chars if ud.category(x).startswith("L")]
                except ValueError:
                    continue
                if len(letters) == 1:
                    result += letters[0]
            else:
                result += char
        return result.replace("ü", "u")

    def load_pinyin(self) -> None:
        with open(self.ddir / "Chinese_to_Pinyin.txt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or _BLANK.match(line):
                    continue
                try:
                    chinese, pinyin = line.rstrip().split()
                    rom = self._de_accent_pinyin(pinyin)
                except ValueError:
                    continue
                self.rules.setdefault(chinese, []).append([rom, 0, None, 0, None, "rom pinyin"])

    def load_scripts(self) -> None:
        for line in _content_lines(self.ddir / "Scripts.txt"):
            sl = _slots(line)
            if not (name := sl.get("script-name")):
                continue
            if name.lower() in self.scripts:
                continue
            v = sl.get("abugida-default-vowel")
            entry = [name, _LIST_SPLIT.split(v) if v else []]
            self.scripts[name.lower()] = entry
            alt = sl.get("alt-script-name")
            for a in _LIST_SPLIT.split(alt) if alt else []:
                self.scripts.setdefault(a.lower(), entry)

    def load_num_props(self) -> None:
        with open(self.ddir / "NumProps.jsonl", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or _BLANK.match(line):
                    continue
                d = json.loads(line)
                if isinstance(d, dict) and (txt := d.get("txt")):
                    self.num_props[txt] = d

    def load_props(self, name: str) -> None:
        for line in _content_lines(self.ddir / name):
            sl = _slots(line)
            if not (script := sl.get("script-name")):
                continue
            for c in sl.get("char", ""):
                self.script_of[c] = script
            for c in sl.get("numeral", ""):
                self.script_of[c] = script
            for slot, bit in (
                ("vowel-sign", C_VOWEL_SIGN),
                ("medial-consonant-sign", C_MEDIAL),
                ("sign-virama", C_VIRAMA),
            ):
                for c in sl.get(slot, ""):
                    self.cflags[c] = self.cflags.get(c, 0) | bit

    def build(self, full: bool = True) -> None:
        """Load like Uroman.load_resource_files; ``full=False`` skips the three big CJK/Hangul
        files (two thirds of the parsing time), which only touch :func:`deferred_blocks`."""
        self.load_rom_file("romanization-auto-table.txt", "ud", u2r=False)
        self.load_rom_file("UnicodeDataOverwrite.txt", "ow", u2r=True)
        self.load_rom_file("romanization-table.txt", "man", u2r=False)
        if full:
            self.load_pinyin()
        self.load_scripts()
        self.load_num_props()
        for name in ("UnicodeDataProps.txt", "UnicodeDataPropsCJK.txt", "UnicodeDataPropsHangul.txt"):
            if full or name == "UnicodeDataProps.txt":
                self.load_props(name)

    def shards(self) -> tuple[dict, dict[int, dict]]:
        blocks: dict[int, dict] = {}

        def block(c: str) -> dict:
            b = ord(c) >> BLOCK_SHIFT
            if b not in blocks:
                blocks[b] = {"rules": {}, "chars": {}, "num": {}}
            return blocks[b]

        for s, rules in self.rules.items():
            if s and rules:
                # the provenance only mattered while loading (overwrite rule); drop it
                block(s[0])["rules"][s] = [r[:5] for r in rules]
        chars = (
            set(self.script_of)
            | set(self.cflags)
            | set(self.names)
            | set(self.syllable_info)
            | set(self.tone_mark)
        )
        for c in chars:
            if len(c) != 1:
                continue
            block(c)["chars"][c] = [
                self.script_of.get(c, ""),
                self.cflags.get(c, 0),
                self.names.get(c, ""),
                self.syllable_info.get(c, ""),
                self.tone_mark.get(c, ""),
            ]
        for txt, d in self.num_props.items():
            if len(txt) == 1:  # the lattice looks num_props up one character at a time
                block(txt)["num"][txt] = d
        meta = {
            "format": FORMAT_VERSION,
            "uroman": uroman_version(),
            "scripts": self.scripts,
            "minus": [m for m in self.minus if m],
            "plus": [p for p in self.plus if p],
            "fraction_connectors": [f for f in self.fraction_connectors if f],
            "blocks": sorted(blocks),
        }
        return meta, blocks


def deferred_blocks(ddir: Path) -> set[int]:
    """Blocks with a character anywhere in the CJK/Hangul-only files (pinyin, CJK and Hangul
    properties). Every entry those files make is about such a character, so every other
    block comes out the same without them."""
    chars: set[str] = set()
    with open(ddir / "Chinese_to_Pinyin.txt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#") and (parts := line.split()):
                chars.add(parts[0][0])  # a rule's key; its prefixes share the first character
    for name in ("UnicodeDataPropsCJK.txt", "UnicodeDataPropsHangul.txt"):
        for line in _content_lines(ddir / name):
            sl = _slots(line)
            if sl.get("script-name"):
                for slot in ("char", "numeral", "vowel-sign", "medial-consonant-sign", "sign-virama"):
                    chars.update(sl.get(slot, ""))
    return {ord(c) >> BLOCK_SHIFT for c in chars}


def build_tables(out: Path, ddir: Path | None = None, full: bool = False) -> dict:
    """Parse uroman's data files and write the shards into ``out``; return the meta table.

    Unless ``full``, the blocks the CJK/Hangul files touch are left out and listed as
    ``deferred`` in the meta table: the first character from one of them triggers a full
    build (once; a cold start on, say, Hindi text does not pay for Chinese)."""
    ddir = ddir or data_dir()
    deferred = set() if full else deferred_blocks(ddir)
    b = _Builder(ddir)
    b.build(full=full)
    meta, blocks = b.shards()
    meta["deferred"] = sorted(deferred)
    for num, shard in blocks.items():
        if num in deferred:
            continue
        atomic_write_text(
            out / f"b{num:05x}.json", json.dumps(shard, ensure_ascii=False, separators=(",", ":"))
        )
    # meta last: its presence marks a complete build
    atomic_write_text(out / "meta.json", json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
    return meta


class Tables:
    """Lazily loaded tables: the meta part at once, a block shard when first needed."""

    def __init__(self, root: Path | None = None):
        ddir = data_dir()
        if root is None:
            base = cache_dir() / "uroman"
            root = base / cached_tables_key(base, ddir)
        self.dir = root
        meta_path = self.dir / "meta.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.built_now = False
        else:
            meta = build_tables(self.dir, ddir)
            self.built_now = True
        self._ddir = ddir
        self._deferred = set(meta.get("deferred", ()))
        self.scripts: dict[str, list] = meta["scripts"]
        self.minus: list[str] = meta["minus"]
        self.plus: list[str] = meta["plus"]
        self.fraction_connectors: list[str] = meta["fraction_connectors"]
        self._have = set(meta["blocks"])
        self._loaded: set[int] = set()
        # merged views of the loaded shards
        self.rules: dict[str, list[list]] = {}
        self.prefixes: set[str] = set()
        self.chars: dict[str, list] = {}
        self.num: dict[str, dict] = {}
        self.prefixes_by_first: dict[str, set[str]] = {}
        # first characters of keys with a rule the simple path does not handle
        self.bad_first: set[str] = set()

    def ensure(self, text: str) -> None:
        """Load the shards of every block that ``text`` uses."""
        loaded = self._loaded
        for c in text:
            b = ord(c) >> BLOCK_SHIFT
            if b not in loaded:
                self._load_block(b)

    def _load_block(self, b: int) -> None:
        if b in self._deferred:
            meta = build_tables(self.dir, self._ddir, full=True)
            self._deferred = set()
            self._have = set(meta["blocks"])
            self.built_now = True
        self._loaded.add(b)
        if b not in self._have:
            return
        shard = json.loads((self.dir / f"b{b:05x}.json").read_text(encoding="utf-8"))
        rules = shard["rules"]
        self.rules.update(rules)
        pre = self.prefixes
        by_first = self.prefixes_by_first
        for s, rs in rules.items():
            by_first.setdefault(s[0], set()).add(s)
            for i in range(1, len(s) + 1):
                pre.add(s[:i])
            if any(r[0] is None or r[4] is not None for r in rs):
                self.bad_first.add(s[0])
        self.chars.update(shard["chars"])
        self.num.update(shard["num"])
