"""A fast re-implementation of uroman's romanizer with identical output.

``uroman.Uroman.romanize_string`` (with its cache on) cuts a string at the delimiter
pattern ``[.,; ]*[ 。་][.,; ]*`` and romanizes every piece on its own with
``romanize_string_core`` (a lattice of candidate edges, then a best path). A piece's
romanization depends only on the piece and the language code, so a piece cache
keyed by ``(piece, lcode)`` is exact (and so is a whole-line cache).

:class:`FastUroman` does the same cut, then romanizes each new piece by the first
of three paths that covers it:

1. the *simple path* (:meth:`FastUroman._simple`, ~95% of the pieces of Hindi, Urdu,
   Malayalam, Arabic, Cyrillic or Latin text): when no character of the piece is a
   numeral, has a relevant decomposition, or belongs to a script with special
   handling, every lattice edge comes from rules, and an edge's text is a function
   of its key, the *features* of its neighbours and two word-boundary flags; that
   function is memoized, and the best path is read off per start position;
2. :class:`_Lattice`, a line-by-line port of uroman's ``Lattice`` (same steps, same
   order, same tie-breaking: numbers, decompositions, Hangul, kana...) over the
   compact tables of :mod:`.tables`;
3. the uroman package itself, loaded the first time it is needed, for the parts
   not ported (Tibetan vowel picking, Braille, Thai syllable rules, Coptic, Chinese
   fraction connectors, rules without a target, spans where uroman's choice
   between two edges depends on set order): :class:`Unsupported`.

So the output is always uroman's; the paths only decide how fast.
``bench/uroman_identity.py`` checks this on every text of the shared data sets.
"""

from __future__ import annotations

import re
import unicodedata as ud

from scriptbridge.views.fast_uroman.tables import (
    C_MEDIAL,
    C_VIRAMA,
    C_VOWEL_SIGN,
    F_NOT_END,
    F_NOT_START,
    F_ONLY_END,
    F_ONLY_START,
    F_WHOLE,
    Tables,
)

# uroman.Uroman.romanize_string's delimiter: runs of .,; around a space, 。 or ་
_DELIM_SPLIT = re.compile(r"([.,; ]*[ 。་][.,; ]*)").split
# uroman's own loop, used verbatim when a line break makes the finditer shortcut unsafe
_DELIM_LOOP = re.compile(r"(.*?)([.,; ]*[ 。་][.,; ]*)(.*)$")
# scripts whose special rules are not ported: their pieces go to uroman itself
UNSUPPORTED_SCRIPTS = frozenset({"Tibetan", "Thai", "Coptic", "Braille"})
_TAIL = re.compile(r"\+(m|ng|n|h|r)")
_CONS_RUN = re.compile(r"[bcdfghjklmnpqrstvwxyz]+$")
_R_VOWEL = re.compile(r"r[aeiou]")
_VOWELS = re.compile(r"[aeiou]+$")
_DOUBLE_CONS = re.compile(r"(ch|[bcdfghjklmnpqrstwz])")
_DIGIT = re.compile(r"\d")
_DIGIT_END = re.compile(r"\d$")
_CONS_I = re.compile(r"[bcdfghjklmnpqrstvwxyz]i$")
_HANGUL_LEADS = [
    "g",
    "gg",
    "n",
    "d",
    "dd",
    "r",
    "m",
    "b",
    "bb",
    "s",
    "ss",
    "-",
    "j",
    "jj",
    "c",
    "k",
    "t",
    "p",
    "h",
]
_HANGUL_VOWELS = [
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
    "wai",
    "oe",
    "yo",
    "u",
    "weo",
    "we",
    "wi",
    "yu",
    "eu",
    "yi",
    "i",
]
_HANGUL_TAILS = [
    "-",
    "g",
    "gg",
    "gs",
    "n",
    "nj",
    "nh",
    "d",
    "l",
    "lg",
    "lm",
    "lb",
    "ls",
    "lt",
    "lp",
    "lh",
    "m",
    "b",
    "bs",
    "s",
    "ss",
    "ng",
    "j",
    "c",
    "k",
    "t",
    "p",
    "h",
]


class Unsupported(Exception):
    """The piece needs a part of uroman that is not ported; romanize it with uroman."""


def _first_non_none(*args):
    for a in args:
        if a is not None:
            return a
    return None


def _decomp_matters(c: str) -> bool:
    """Whether Lattice.decomp_rom could add an edge for ``c``."""
    d = ud.decomposition(c)
    if not d:
        return False
    first = d.split()[0]
    return first.startswith("<") and first not in ("<super>", "<sub>", "<noBreak>", "<compat>")


class Edge:
    __slots__ = ("start", "end", "txt", "type")

    def __init__(self, start: int, end: int, txt: str, annotation: str | None = None):
        self.start, self.end, self.txt, self.type = start, end, txt, annotation


class NumEdge(Edge):
    """uroman's NumEdge: ``txt`` is derived from value / fraction by :meth:`update`."""

    __slots__ = (
        "orig_txt",
        "value",
        "fraction",
        "num_base",
        "base_multiplier",
        "script",
        "is_large_power",
        "active",
        "n_decimals",
        "value_s",
    )

    def __init__(self, start: int, end: int, s: str, num_props: dict | None, active: bool = False):
        Edge.__init__(self, start, end, s)
        self.orig_txt = s
        self.value = self.fraction = self.num_base = self.base_multiplier = None
        self.type = self.script = None
        self.is_large_power = False
        self.active = active
        self.n_decimals = self.value_s = None
        if start + 1 == end and (d := num_props.get(s[0]) if num_props is not None else None):
            self.active = True
            self.value = d.get("value")
            fl = d.get("fraction")
            if fl:
                from fractions import Fraction  # rare: imported on first use

                self.fraction = Fraction(fl[0], fl[1])
            self.num_base = d.get("base")
            self.base_multiplier = d.get("mult")
            self.type = d.get("type")
            self.script = d.get("script")
            self.is_large_power = d.get("is-large-power")
            self.update()

    def update(
        self,
        value=None,
        value_s=None,
        fraction=None,
        n_decimals=None,
        num_base=None,
        base_multiplier=None,
        script=None,
        e_type=None,
        orig_txt=None,
    ) -> str:
        self.value = _first_non_none(value, self.value)
        self.value_s = _first_non_none(value_s, self.value_s)
        self.fraction = _first_non_none(fraction, self.fraction)
        self.n_decimals = _first_non_none(n_decimals, self.n_decimals)
        self.num_base = _first_non_none(num_base, self.num_base)
        self.base_multiplier = _first_non_none(base_multiplier, self.base_multiplier)
        self.script = _first_non_none(script, self.script)
        self.type = _first_non_none(e_type, self.type)
        self.orig_txt = _first_non_none(orig_txt, self.orig_txt)
        if self.value_s is not None:
            value_s = self.value_s
        elif self.value is None:
            value_s = ""
        elif isinstance(self.value, float) and self.n_decimals is not None:
            value_s = f"{self.value:0.{self.n_decimals}f}"
        else:
            value_s = str(self.value)
        fraction_s = "" if self.fraction is None else f"{self.fraction.numerator}/{self.fraction.denominator}"
        delimiter_s = " " if value_s and fraction_s else ""
        self.txt = (value_s + delimiter_s + fraction_s) or self.orig_txt
        return self.txt


def _char_name(c: str, chars: dict) -> str:
    try:
        return ud.name(c)
    except (ValueError, TypeError):
        info = chars.get(c)
        return info[2] if info else ""


class _Lattice:
    """One piece's lattice; method names follow uroman's ``Lattice``."""

    def __init__(self, eng: FastUroman, s: str, lcode: str | None):
        self.eng = eng
        t = eng.tables
        self.rules = t.rules
        self.prefixes = t.prefixes
        self.chars = t.chars
        self.s = s
        self.n = len(s)
        self.lcode = lcode
        self.spans: dict[tuple[int, int], list[Edge]] = {}
        self.right: dict[int, set[int]] = {}
        self.left: dict[int, set[int]] = {}
        self.top_cache: dict[tuple[int, int], str] = {}
        self.preceded_by_alpha: dict[int, bool] = {}
        self.followed_by_alpha: dict[int, bool] = {}

    # ------------------------------------------------------------ helpers
    def script(self, c: str) -> str:
        info = self.chars.get(c)
        return info[0] if info else ""

    def cflag(self, c: str, bit: int) -> bool:
        info = self.chars.get(c)
        return bool(info and info[1] & bit)

    def add_edge(self, edge: Edge) -> None:
        key = (edge.start, edge.end)
        lst = self.spans.get(key)
        if lst is None:
            self.spans[key] = [edge]
            self.right.setdefault(edge.start, set()).add(edge.end)
            self.left.setdefault(edge.end, set()).add(edge.start)
        elif edge not in lst:
            lst.append(edge)

    # ------------------------------------------------------------ word context
    def is_at_start_of_word(self, position: int) -> bool:
        cached = self.preceded_by_alpha.get(position)
        if cached is not None:
            return not cached
        if position and self.s[position - 1].isalpha():
            self.preceded_by_alpha[position] = True
            return False
        for start in self.left.get(position, ()):
            for edge in self.spans[(start, position)]:
                if edge.txt and edge.txt[-1].isalpha():
                    self.preceded_by_alpha[position] = True
                    return False
        self.preceded_by_alpha[position] = False
        return True

    def is_at_end_of_word(self, position: int) -> bool:
        cached = self.followed_by_alpha.get(position)
        if cached is not None:
            return not cached
        s, n = self.s, self.n
        start = position
        if start < n and s[start].isalpha():
            self.followed_by_alpha[position] = True
            return False
        while start + 1 < n and ud.category(s[start]) == "Mn" and "NUKTA" in _char_name(s[start], self.chars):
            start += 1
        prefixes, rules = self.prefixes, self.rules
        for end in range(start + 1, n + 1):
            sub = s[start:end]
            if sub not in prefixes:
                break
            for rule in rules.get(sub, ()):
                t = rule[0]
                if not rule[3] & F_ONLY_START:
                    if t is None:  # uroman raises a TypeError here (regex on None)
                        raise Unsupported("rule without target")
                    if any(ch.isalpha() for ch in t):  # regex \pL == str.isalpha per char
                        self.followed_by_alpha[position] = True
                        return False
        self.followed_by_alpha[position] = False
        return True

    # ------------------------------------------------------------ candidates
    def cand_is_valid(self, rule: list, start: int, end: int) -> bool:
        if rule[0] is None:
            return False
        if rule[1]:  # some restriction
            flags = rule[3]
            if flags & F_NOT_START and self.is_at_start_of_word(start):
                return False
            if flags & F_ONLY_START and not self.is_at_start_of_word(start):
                return False
            if flags & F_NOT_END and self.is_at_end_of_word(end):
                return False
            if flags & F_ONLY_END and not self.is_at_end_of_word(end):
                return False
            if flags & F_WHOLE and not (self.is_at_start_of_word(start) and self.is_at_end_of_word(end)):
                return False
            if rule[2] and self.lcode not in rule[2]:
                return False
        return True

    def top_candidate(self, start: int, end: int, simple_search: bool = False) -> str | None:
        if start < 0 or end > self.n:
            return None
        key = (start, end)
        cached = self.top_cache.get(key)
        if cached is not None:
            return cached
        best_cand, best_n, best_rule = None, None, None
        for rule in self.rules.get(self.s[start:end], ()):
            if self.cand_is_valid(rule, start, end):
                n_restr = rule[1]
                if best_n is None or n_restr > best_n:
                    best_cand, best_n, best_rule = rule[0], n_restr, rule
        if simple_search:
            return best_cand
        if best_rule is not None and best_rule[4] is not None:
            raise Unsupported("t-end-of-syllable (Thai)")
        self.top_cache[key] = best_cand
        return best_cand

    def first_rule_target(self, s: str) -> str | None:
        rules = self.rules.get(s)
        return rules[0][0] if rules else None

    # ------------------------------------------------------------ abugida vowel
    def add_default_abugida_vowel(self, rom: str, start: int, end: int, annotation: str) -> str:
        s = self.s
        script_name = self.script(s[start])
        entry = self.eng.tables.scripts.get(script_name.lower())
        if not entry or not entry[1]:
            return rom
        vowels = entry[1]
        single = start + 1 == end
        key = (entry[0], rom, single and rom[:1].isalpha())
        cached = self.eng.abugida_cache.get(key)
        if cached is None:
            m1 = re.match(rf"([cfghkmnqrstxy]?y)({'|'.join(v + '+' for v in vowels)})-?$", rom)
            mod_rom = rom
            if m1:
                base_rom, base_plus = m1.group(1), m1.group(1) + m1.group(2)
            elif m := re.match(rf"([bcdfghjklmnpqrstvwxyz]+)({'|'.join(vowels)})-?$", rom):
                base_rom, base_plus = m.group(1), m.group(1) + m.group(2)
                if rom.endswith("-") and single and rom[0].isalpha():
                    mod_rom = rom[:-1]
            else:
                base_rom, base_plus = rom, rom + vowels[0]
            if not _CONS_RUN.match(base_rom):
                base_rom = base_plus = None
            cached = (base_rom, base_plus, mod_rom)
            self.eng.abugida_cache[key] = cached
        base_rom, base_plus, rom = cached
        if base_rom is None or "tail" in annotation:
            return rom
        n = self.n
        prev_c = s[start - 1] if start >= 1 else ""
        next_c = s[end] if n > end else ""
        next2_c = s[end + 1] if n > end + 1 else ""
        if next_c and (base_rom in "bcdfghklmnpqrstvwz" or base_rom == "ng") and next_c in "យ":
            return base_rom
        if self.cflag(next_c, C_VOWEL_SIGN) or self.cflag(next_c, C_MEDIAL):
            return base_rom
        if "SUBJOINED LETTER" in _char_name(next_c, self.chars):
            return base_rom
        next_mn = len(next_c) == 1 and ud.category(next_c) == "Mn"
        if next_mn and self.cflag(next2_c, C_VOWEL_SIGN):
            return base_rom
        if self.cflag(next_c, C_VIRAMA):
            return base_rom
        if next_mn and self.cflag(next2_c, C_VIRAMA):
            return base_rom
        if self.cflag(prev_c, C_VIRAMA):
            return base_plus
        if self.is_at_start_of_word(start) and not _R_VOWEL.search(rom):
            return base_plus
        if self.is_at_end_of_word(end):
            if script_name == "Devanagari" and self.lcode != "san":
                return rom
            if self.lcode in ("asm", "ben", "guj", "kas", "pan"):
                return rom
            return base_plus
        if self.script(prev_c) != script_name:
            return base_plus
        if "VOCALIC" in _char_name(s[end - 1], self.chars):
            return base_rom
        if self.script(next_c) == script_name:
            return base_plus
        return rom

    # ------------------------------------------------------------ context expansion
    def expand_rom_with_special_chars(self, rom: str, start: int, end: int):
        if rom == "":
            return rom, start, end, None
        s, n = self.s, self.n
        orig_start = start
        annot = None
        prev_c = s[start - 1] if start >= 1 else ""
        last_c = s[end - 1]
        next_c = s[end] if end < n else ""
        if start + 1 == end and rom.isupper() and next_c.islower():
            rom = rom.capitalize()
        # Japanese small tsu and Gurmukhi addak double the next consonant
        if prev_c and prev_c in "っッ\u0a71" and (m := _DOUBLE_CONS.match(rom)):
            if prev_c in "っッ":
                rom = m.group(1).replace("ch", "t") + rom
            else:
                rom = m.group(1).replace("ch", "c") + rom
            start -= 1
            prev_c = s[start - 1] if start >= 1 else ""
        # Japanese small y: ki + small ya = kya
        if (
            next_c
            and next_c in "ゃゅょャュョ"
            and self.script(last_c) == self.script(next_c)
            and _CONS_I.search(rom)
            and (y_rom := self.first_rule_target(next_c))
            and not self.top_candidate(orig_start, end + 1)
            and not self.top_candidate(start, end + 1)
        ):
            rom = rom[:-1] + y_rom
            end += 1
            last_c = s[end - 1]
            next_c = s[end] if end < n else ""
            annot = "rom exp"
        # Japanese vowel lengthener
        if next_c == "ー" and self.script(last_c) in ("Hiragana", "Katakana") and rom[-1] in "aeiou":
            return rom + rom[-1], start, end + 1, "rom exp"
        if self.cflag(next_c, C_VIRAMA):
            return rom, start, end + 1, "rom exp"
        if rom.startswith(" ") and (start == 0 or prev_c == " "):
            rom = rom[1:]
        if rom.endswith(" ") and next_c == " ":  # uroman's other test (end == len + 1) never holds
            rom = rom[:-1]
        return rom, start, end, annot

    # ------------------------------------------------------------ passes
    def decomp_rom(self, pos: int) -> str | None:
        s = self.s
        char = s[pos]
        rom = None
        if ud_decomp_s := ud.decomposition(char):
            format_comps, other_comps, decomp_s = [], [], ""
            for elem in ud_decomp_s.split():
                if elem.startswith("<"):
                    format_comps.append(elem)
                else:
                    try:
                        decomp_s += chr(int(elem, 16))
                    except ValueError:
                        other_comps.append(elem)
            if (
                format_comps
                and format_comps[0] not in ("<super>", "<sub>", "<noBreak>", "<compat>")
                and not other_comps
                and decomp_s
            ):
                rom = self.eng.romanize(decomp_s, self.lcode)
            if rom and ud.numeric(char, None):
                rom = rom.replace("⁄", "/")
                if pos >= 1 and ud.numeric(s[pos - 1], None):
                    rom = " " + rom
                if pos + 1 < len(s) and ud.numeric(s[pos + 1], None):
                    rom += " "
        return rom

    def add_romanization(self) -> None:
        s, n, prefixes = self.s, self.n, self.prefixes
        for start in range(n):
            for end in range(start + 1, n + 1):
                if s[start:end] not in prefixes:
                    break
                rom = self.top_candidate(start, end)
                if rom is None:
                    continue
                annotation = "rom"
                if _TAIL.match(rom):
                    rom, annotation = rom[1:], "rom tail"
                new_rom = self.add_default_abugida_vowel(rom, start, end, annotation)
                if new_rom.startswith(rom):
                    suffix = new_rom[len(rom) :]
                    if suffix and _VOWELS.match(suffix):
                        annotation += f" c:{rom} s:{suffix}"
                rom, start2, end2, exp_annotation = self.expand_rom_with_special_chars(new_rom, start, end)
                self.add_edge(Edge(start2, end2, rom, exp_annotation or annotation))
            char = s[start]
            cp = ord(char)
            if 0xAC00 <= cp <= 0xD7A3:
                code = cp - 0xAC00
                rom = (
                    _HANGUL_LEADS[code // 588] + _HANGUL_VOWELS[(code // 28) % 21] + _HANGUL_TAILS[code % 28]
                )
                if rom := rom.replace("-", ""):
                    self.add_edge(Edge(start, start + 1, rom, "rom"))
            if cp >= 0xA0 and (rom_decomp := self.decomp_rom(start)):  # ASCII has no decompositions
                self.add_edge(Edge(start, start + 1, rom_decomp, "rom decomp"))

    @staticmethod
    def edge_is_digit(edge: Edge | None) -> bool:
        return (
            isinstance(edge, NumEdge)
            and edge.value is not None
            and isinstance(edge.value, int)
            and edge.type == "digit"
            and 0 <= edge.value <= 9
            and edge.end - edge.start == 1
        )

    @staticmethod
    def is_gap_null_edge(edge: Edge) -> bool:
        return isinstance(edge, NumEdge) and edge.orig_txt in ("零", "〇")

    def _add_num_edge(self, num_edges: list, sub_edges: list, value, e_type: str) -> list:
        """A number edge spanning ``sub_edges`` with ``value`` (uroman's G1-G4 combination steps:
        a product for G1/G3, a sum for G2/G4); it replaces them in ``num_edges``."""
        new_edge = NumEdge(sub_edges[0].start, sub_edges[-1].end, str(value), None, active=True)
        new_edge.update(
            value=value,
            num_base=sub_edges[-1].num_base,
            e_type=e_type,
            orig_txt="".join(e.orig_txt for e in sub_edges),
            script=sub_edges[-1].script,
        )
        self.add_edge(new_edge)
        return self.update_edge_list(num_edges, new_edge, sub_edges)

    @staticmethod
    def update_edge_list(edges: list, new_edge: Edge, old_edges: list) -> list:
        added = False
        result = []
        for edge in edges:
            if edge in old_edges:
                edge.active = False
                if not added:
                    result.append(new_edge)
                    added = True
            else:
                result.append(edge)
        if not added:
            result.append(new_edge)
        return result

    def add_numbers(self, num_props: dict) -> None:  # noqa: C901 - a faithful port of uroman's add_numbers
        s = self.s
        num_edges: list = []
        for start in range(len(s)):
            char = s[start]
            if num_props.get(char):
                e = NumEdge(start, start + 1, char, num_props)
                num_edges.append(e)
                self.add_edge(e)
        if num_edges:
            self._combine_numbers(num_edges)
        for start in range(len(s)):
            start_char = s[start]
            best = self.best_edge_in_span(start, start + 1)
            if best is not None and isinstance(best, NumEdge):
                continue
            try:
                num_f = ud.numeric(start_char)
            except (ValueError, TypeError):
                continue
            num = int(num_f) if num_f.is_integer() else num_f
            if "DIGIT" in _char_name(start_char, self.chars) and isinstance(num, int) and 0 <= num <= 9:
                self.add_edge(Edge(start, start + 1, str(num), "num"))

    def _combine_numbers(self, num_edges: list) -> None:  # noqa: C901
        s = self.s
        # D1 sequence of digits 1234 (with at most one decimal point)
        for edge in num_edges:
            if self.edge_is_digit(edge) and edge.active:
                n_decimal_points = 0
                n_decimals = None
                new_value_s = str(edge.value)
                sub_edges = [edge]
                prev_edge = edge
                while True:
                    right_edge = self.best_right_neighbor_edge(prev_edge.end)
                    if self.edge_is_digit(right_edge):
                        sub_edges.append(right_edge)
                        new_value_s += str(right_edge.value)
                        if n_decimals is not None:
                            n_decimals += 1
                        prev_edge = right_edge
                    elif (
                        prev_edge.end < len(s)
                        and s[prev_edge.end] == "."
                        and n_decimal_points == 0
                        and (right_edge2 := self.best_right_neighbor_edge(prev_edge.end + 1))
                        and self.edge_is_digit(right_edge2)
                    ):
                        if right_edge is None:
                            right_edge = Edge(
                                prev_edge.end, prev_edge.end + 1, s[prev_edge.end], "decimal period"
                            )
                            self.add_edge(right_edge)
                        sub_edges.append(right_edge)
                        sub_edges.append(right_edge2)
                        new_value_s += "." + str(right_edge2.value)
                        n_decimal_points += 1
                        n_decimals = 1
                        prev_edge = right_edge2
                    else:
                        break
                if len(sub_edges) >= 2:
                    new_value = float(new_value_s) if "." in new_value_s else int(new_value_s)
                    new_edge = NumEdge(
                        sub_edges[0].start, sub_edges[-1].end, str(new_value), None, active=True
                    )
                    new_edge.update(
                        value=new_value,
                        value_s=new_value_s,
                        n_decimals=n_decimals,
                        num_base=1,
                        e_type="D1",
                        script=sub_edges[-1].script,
                    )
                    self.add_edge(new_edge)
                    num_edges = self.update_edge_list(num_edges, new_edge, sub_edges)
        # G1 combine (*) single digits: 2*100=200
        for edge in num_edges:
            if (
                isinstance(edge, NumEdge)
                and edge.active
                and edge.num_base == 1
                and isinstance(edge.value, int)
                and edge.value >= 1
            ):
                right_edge = self.best_right_neighbor_edge(edge.end)
                if (
                    right_edge
                    and isinstance(right_edge, NumEdge)
                    and right_edge.active
                    and isinstance(right_edge.value, int)
                    and right_edge.num_base > 1
                    and not right_edge.is_large_power
                ):
                    new_value = edge.value * right_edge.value
                    num_edges = self._add_num_edge(num_edges, [edge, right_edge], new_value, "G1")
        # G2 combine (+) G1 blocks: 200+30+4=234
        for edge in num_edges:
            if (
                isinstance(edge, NumEdge)
                and edge.active
                and isinstance(edge.value, int)
                and not edge.is_large_power
            ):
                sub_edges = [edge]
                prev_edge = edge
                prev_non_edge = edge
                while (
                    prev_edge
                    and (right_edge := self.best_right_neighbor_edge(prev_edge.end))
                    and isinstance(right_edge, NumEdge)
                    and right_edge.active
                    and isinstance(right_edge.value, int)
                    and not right_edge.is_large_power
                    and (
                        self.is_gap_null_edge(prev_non_edge)
                        or (
                            prev_non_edge.num_base > right_edge.value
                            and prev_non_edge.num_base > right_edge.num_base
                        )
                    )
                ):
                    sub_edges.append(right_edge)
                    prev_edge = right_edge
                    if not self.is_gap_null_edge(right_edge):
                        prev_non_edge = right_edge
                if len(sub_edges) >= 2:
                    num_edges = self._add_num_edge(
                        num_edges, sub_edges, sum(e.value for e in sub_edges), "G2"
                    )
        # G3 combine (*) with large powers: 234*1000
        for edge in num_edges:
            if (
                isinstance(edge, NumEdge)
                and edge.active
                and not edge.is_large_power
                and isinstance(edge.value, (int, float))
            ):
                right_edge = self.best_right_neighbor_edge(edge.end)
                if (
                    right_edge
                    and isinstance(right_edge, NumEdge)
                    and right_edge.active
                    and isinstance(right_edge.value, int)
                    and right_edge.num_base > 1
                    and right_edge.is_large_power
                ):
                    new_value = round(edge.value * right_edge.value, 5)
                    if isinstance(new_value, float) and new_value.is_integer():
                        new_value = int(new_value)
                    num_edges = self._add_num_edge(num_edges, [edge, right_edge], new_value, "G3")
        # G4 combine (+) G3 blocks: 234000+567
        for edge in num_edges:
            if isinstance(edge, NumEdge) and edge.active and isinstance(edge.value, int):
                sub_edges = [edge]
                while (
                    (prev_edge := sub_edges[-1])
                    and (right_edge := self.best_right_neighbor_edge(prev_edge.end))
                    and isinstance(right_edge, NumEdge)
                    and right_edge.active
                    and isinstance(right_edge.value, int)
                    and prev_edge.num_base > right_edge.value
                    and prev_edge.num_base > right_edge.num_base
                ):
                    if (
                        prev_edge.script == "CJK"
                        and prev_edge.num_base >= 1000
                        and "tag" not in prev_edge.type
                        and re.match("10+$", str(prev_edge.num_base))
                        and 1 <= right_edge.value <= 9
                        and right_edge.start + 1 == right_edge.end
                    ):
                        new_num_base = prev_edge.num_base // 10
                        right_edge.value = new_num_base * right_edge.value
                        right_edge.num_base = new_num_base
                        right_edge.type = "G4tag"
                    sub_edges.append(right_edge)
                if len(sub_edges) >= 2:
                    num_edges = self._add_num_edge(
                        num_edges, sub_edges, sum(e.value for e in sub_edges), "G4"
                    )
        # G5 (Chinese fractions) is not ported: pieces with a fraction connector never get here
        # G6 plus/minus signs
        tables = self.eng.tables
        for edge in num_edges:
            for sign, mark in [(m, "-") for m in tables.minus] + [(p, "+") for p in tables.plus]:
                if s[edge.start - len(sign) : edge.start] == sign:
                    self.add_edge(
                        Edge(edge.start - len(sign), edge.end, f"{mark}{edge.txt}", f"{edge.type} {mark}")
                    )
        # F1 cushion with a space or middle dot: 23½ -> 23 1/2
        for edge in num_edges:
            if isinstance(edge, NumEdge) and _DIGIT.match(edge.txt):
                left_edge = self.best_left_neighbor_edge(edge.start)
                if left_edge and _DIGIT_END.search(left_edge.txt):
                    edge.txt = (" " if edge.fraction else "·") + edge.txt
        # exceptions: mostly some single-character numbers
        for edge in num_edges:
            if (
                isinstance(edge, NumEdge)
                and edge.active
                and edge.value is not None
                and (
                    (edge.value > 1000 and edge.start + 1 == edge.end)
                    or edge.orig_txt in "兩參参伍陆陸什"
                    or edge.orig_txt in ("京兆",)
                )
            ):
                edge.active = False

    def add_rom_fall_back_singles(self) -> None:
        s, spans = self.s, self.spans
        for start in range(self.n):
            end = start + 1
            if (start, end) in spans:
                continue
            c = s[start]
            rom, annotation = c, "orig"
            cat = ud.category(c)
            if cat == "Mn" or cat == "Cf" or cat == "Co":
                rom, annotation = "", cat
            elif c == " ":
                pass
            elif (rom2 := self.top_candidate(start, end)) is not None:
                rom = rom2[1:] if _TAIL.match(rom2) else rom2
                annotation = "rom single"
            self.add_edge(Edge(start, end, rom, annotation))

    # ------------------------------------------------------------ best path
    def best_edge_in_span(self, start: int, end: int) -> Edge | None:
        edges = self.spans.get((start, end))
        if not edges:
            return None
        decomp_edge = other_edge = rom_edge = None
        for edge in edges:
            if isinstance(edge, NumEdge) and edge.active:
                return edge
            t = edge.type
            if t.startswith("rom decomp"):
                if decomp_edge is None:
                    decomp_edge = edge
            elif t.startswith(("rom", "num")):
                if rom_edge is None:
                    rom_edge = edge
                elif rom_edge.txt != edge.txt:
                    # uroman keeps a span's edges in a set of objects hashed by address:
                    # which one it picks is not defined, so leave the piece to uroman
                    raise Unsupported("ambiguous span")
            elif other_edge is None:
                other_edge = edge
        return rom_edge or decomp_edge or other_edge

    def best_right_neighbor_edge(self, start: int) -> Edge | None:
        for end in sorted(self.right.get(start, ()), reverse=True):
            if best := self.best_edge_in_span(start, end):
                return best
        return None

    def best_left_neighbor_edge(self, end: int) -> Edge | None:
        for start in sorted(self.left.get(end, ())):
            if best := self.best_edge_in_span(start, end):
                return best
        return None

    def romanize(self) -> str:
        self.add_romanization()
        num_props = self.eng.tables.num
        s = self.s
        # add_numbers only ever adds edges for numeric characters: skip it when there are none
        if any(c in num_props or ud.numeric(c, None) is not None for c in s):
            self.add_numbers(num_props)
        self.add_rom_fall_back_singles()
        out = []
        pos = 0
        while pos < self.n:
            best = self.best_right_neighbor_edge(pos)
            if best is not None:
                out.append(best.txt)
                pos = best.end
            else:  # uroman: "should not happen"
                pos += 1
        return "".join(out)


class FastUroman:
    """``romanize(text, lcode)`` == ``uroman.Uroman(cache_size=...).romanize_string(text, lcode=lcode)``."""

    def __init__(self, cache_size: int = 1 << 17, tables: Tables | None = None, fallback=None):
        """``fallback``: a ``uroman.Uroman`` to hand unported pieces to (default: one made
        on first need, with the reference's cache setting)."""
        self.tables = tables or Tables()
        self.cache: dict[tuple[str, str | None], str] = {}
        self.cache_size = cache_size
        self.abugida_cache: dict = {}
        self._uroman = fallback
        self.line_cache: dict[tuple[str, str | None], str] = {}
        self.line_cache_size = 1 << 14
        self.recs: dict[str, tuple] = {}
        self.edge_memo: dict[tuple, tuple[str, int]] = {}
        self.reps: dict[tuple, str] = {}
        self.n_simple = 0  # pieces romanized by the simple path (cache misses only)
        self.n_fast = 0  # pieces romanized by the full lattice port
        self.n_fallback = 0  # pieces handed to the uroman package

    # the real uroman, for what the port does not cover
    def uroman(self):
        if self._uroman is None:
            import uroman

            # the same cache setting as the reference, so its own recursive calls cut alike
            self._uroman = uroman.Uroman(cache_size=65536)
        return self._uroman

    def piece_supported(self, piece: str) -> bool:
        """Whether the lattice port covers ``piece`` (it may still raise :class:`Unsupported`)."""
        t = self.tables
        t.ensure(piece)
        chars = t.chars
        for c in piece:
            info = chars.get(c)
            if info and info[0] in UNSUPPORTED_SCRIPTS:
                return False
            if "\u2800" <= c <= "\u28ff":
                return False
        return not any(fc in piece for fc in t.fraction_connectors)

    # ------------------------------------------------------------ the simple path
    def char_rec(self, c: str) -> tuple:
        """What the simple path needs to know about ``c``: (ok, isalpha, is nukta, a one-character
        rule with a letter in its target, longer rules start with it, fallback-single text)."""
        rec = self.recs.get(c)
        if rec is not None:
            return rec
        t = self.tables
        t.ensure(c)
        info = t.chars.get(c)
        cat = ud.category(c)
        ok = not (
            (info and info[0] in UNSUPPORTED_SCRIPTS)
            or "\u2800" <= c <= "\u28ff"
            or c in "っッ\u0a71ゃゅょャュョー"
            or 0xAC00 <= ord(c) <= 0xD7A3  # Hangul syllables: the lattice adds a second edge
            or c in t.num
            or ud.numeric(c, None) is not None
            or c in t.bad_first  # restricted rules, rules without target, Thai syllable rules
            or _decomp_matters(c)
        )
        rules = t.rules.get(c, ())
        fw1 = any(
            r[0] is not None and not r[3] & F_ONLY_START and any(ch.isalpha() for ch in r[0]) for r in rules
        )
        multi = any(len(k) > 1 for k in t.prefixes_by_first.get(c, ()))
        if cat in ("Mn", "Cf", "Co"):
            single = ""
        elif c == " ":
            single = " "
        else:
            # no edge starts here, so the one-character rules (if any) were all rejected, and
            # the fallback's re-judging (same cached word flags) rejects them again: the character
            single = c
        name = _char_name(c, t.chars)
        nukta = cat == "Mn" and "NUKTA" in name
        # As a neighbour, a character matters to an edge's text only through these
        # features (see add_default_abugida_vowel and expand_rom_with_special_chars);
        # characters that share them share a representative in the edge memo.
        flags = info[1] if info else 0
        feats = (
            flags,
            cat == "Mn",
            "SUBJOINED LETTER" in name,
            info[0] if info else "",
            c == " ",
            c == "យ",
            c.islower(),
        )
        rep = self.reps.setdefault(feats, c)
        rec = (ok, c.isalpha(), nukta, fw1, multi, single, rep, cat == "Mn", None, c)
        self.recs[c] = rec
        return rec

    def _end_of_word(self, s: str, n: int, pos: int, recs: list) -> bool:
        """Lattice.is_at_end_of_word for a piece of simple characters."""
        if pos >= n:
            return True
        rec = recs[pos]
        if rec[1]:
            return False
        while pos + 1 < n and recs[pos][2]:
            pos += 1
        rec = recs[pos]
        if rec[3]:
            return False
        if not rec[4]:
            return True
        prefixes, rules = self.tables.prefixes, self.tables.rules
        for end in range(pos + 2, n + 1):
            sub = s[pos:end]
            if sub not in prefixes:
                break
            for rule in rules.get(sub, ()):
                if not rule[3] & F_ONLY_START and any(ch.isalpha() for ch in rule[0]):
                    return False
        return True

    def _simple(self, s: str, lcode: str | None) -> str | None:
        """The lattice of a piece whose characters all pass :meth:`char_rec`: only unrestricted
        rules, no numbers, decompositions or script-specific expansions. Then every edge comes
        from add_romanization, and an edge's text depends only on its key, its neighbours
        (through their features) and two word-boundary flags, which makes it memoizable.
        None: use the full lattice."""
        n = len(s)
        recs_get, char_rec = self.recs.get, self.char_rec
        recs = [recs_get(c) or char_rec(c) for c in s]
        for rec in recs:
            if not rec[0]:
                return None
        rules_get, prefixes = self.tables.rules.get, self.tables.prefixes
        memo_get, memo, edge_text = self.edge_memo.get, self.edge_memo, self._edge_text
        end_of_word = self._end_of_word
        alpha_end = [False] * (n + 2)  # some add_romanization edge ending here ends in a letter
        # per start: the longest edge (the only one the best path can take from there), and
        # a span that holds two edges with different texts (uroman's pick would be undefined)
        best_end = [0] * n
        best_txt = [""] * n
        clash = [0] * n
        prev_c, prev_alpha = "", False
        for i in range(n):
            rec = recs[i]
            # start of word: the previous character is a letter, or an edge ending here ends in one
            sow = not (prev_alpha or alpha_end[i])
            e = i + 1
            key = rec[9]
            # one-character key first; longer keys only where some start with this character
            while True:
                if rules_get(key):
                    if e < n:
                        nrec = recs[e]
                        next_c = nrec[6]
                        # the character after next matters only behind a nonspacing mark
                        next2_c = recs[e + 1][6] if nrec[7] and e + 1 < n else ""
                        eow = False if nrec[1] else end_of_word(s, n, e, recs)
                    else:
                        next_c = next2_c = ""
                        eow = True
                    mkey = (key, prev_c, next_c, next2_c, sow, eow, lcode)
                    res = memo_get(mkey)
                    if res is None:
                        res = memo[mkey] = edge_text(key, prev_c, next_c, next2_c, sow, eow, lcode)
                    txt = res[0]
                    if txt is not None:
                        end2 = e + res[1]
                        if end2 > best_end[i]:
                            best_end[i], best_txt[i] = end2, txt
                        elif end2 == best_end[i] and txt != best_txt[i]:
                            clash[i] = end2
                        if txt and txt[-1].isalpha():
                            alpha_end[end2] = True
                if not rec[4] or e >= n:
                    break
                e += 1
                key = s[i:e]
                if key not in prefixes:
                    break
            prev_c, prev_alpha = rec[6], rec[1]
        out = []
        pos = 0
        while pos < n:
            end = best_end[pos]
            if end:
                if clash[pos] == end:
                    return None
                out.append(best_txt[pos])
                pos = end
            else:
                out.append(recs[pos][5])
                pos += 1
        return "".join(out)

    def _edge_text(
        self, key: str, prev_c: str, next_c: str, next2_c: str, sow: bool, eow: bool, lcode: str | None
    ) -> tuple[str | None, int]:
        """add_romanization's edge for ``key`` in this context: (text or None for no edge,
        1 if the edge swallows a following virama else 0). Restricted rules are judged
        on the given start/end-of-word flags, as cand_is_valid would."""
        lat = _Lattice(self, prev_c + key + next_c + next2_c, lcode)
        start, end = len(prev_c), len(prev_c) + len(key)
        lat.preceded_by_alpha[start] = not sow
        lat.followed_by_alpha[end] = not eow
        rom = lat.top_candidate(start, end)
        if rom is None:
            return None, 0
        annotation = "rom"
        if _TAIL.match(rom):
            rom, annotation = rom[1:], "rom tail"
        new_rom = lat.add_default_abugida_vowel(rom, start, end, annotation)
        rom2, _s2, end2, _a = lat.expand_rom_with_special_chars(new_rom, start, end)
        return rom2, end2 - end

    def romanize_piece(self, piece: str, lcode: str | None) -> str:
        key = (piece, lcode)
        cache = self.cache
        out = cache.get(key)
        if out is not None:
            return out
        out = self._simple(piece, lcode)
        if out is not None:
            self.n_simple += 1
        elif self.piece_supported(piece):
            try:
                out = _Lattice(self, piece, lcode).romanize()
                self.n_fast += 1
            except Unsupported:
                out = None
        if out is None:
            import uroman

            out = self.uroman().romanize_string_core(piece, lcode, uroman.RomFormat.STR)
            self.n_fallback += 1
        if len(cache) >= self.cache_size:
            cache.pop(next(iter(cache)))  # oldest first: dicts keep insertion order
        cache[key] = out
        return out

    @staticmethod
    def pieces(s: str) -> list[str]:
        """uroman's cut of ``s``: pre, delimiter, pre, delimiter, ..., rest."""
        if "\n" not in s:
            # uroman's loop takes the leftmost delimiter match, then goes on after it:
            # exactly what a split on the pattern does (``(.*)$`` always matches the rest)
            return _DELIM_SPLIT(s)
        # ``.`` stops at a line break, so ``(.*)$`` can fail there: run uroman's loop as is
        out = []
        rest = s
        while m := _DELIM_LOOP.match(rest):
            pre, delim, rest = m.group(1, 2, 3)
            out += [pre, delim]
        out.append(rest)
        return out

    def romanize(self, s: str, lcode: str | None = None) -> str:
        key = (s, lcode)
        out = self.line_cache.get(key)
        if out is not None:
            return out
        cache_get, rp = self.cache.get, self.romanize_piece
        parts = []
        for p in self.pieces(s):
            if p:
                r = cache_get((p, lcode))
                parts.append(r if r is not None else rp(p, lcode))
        out = "".join(parts)
        lc = self.line_cache
        if len(lc) >= self.line_cache_size:
            lc.pop(next(iter(lc)))  # oldest first: dicts keep insertion order
        lc[key] = out
        return out
