"""One small interface for every script view, and a registry of backends.

A *backend* turns a batch of texts in one language into another view of them:
romanized text (``kind="romanize"``) or IPA (``kind="ipa"``). Backends register
themselves with :func:`register`; importing a backend module must stay cheap, so
the heavy imports (a dictionary, a morphological analyzer) happen in ``load``,
once, the first time the backend is used.

A backend answers to its unique ``name`` and to the ``schemes`` it implements,
so ``romanize(texts, "hi", "colloquial")`` and ``romanize(texts, "ja",
"colloquial")`` reach different backends. Copyleft backends declare the pip
``extra`` that installs them; they are used only when asked for by name or
scheme and no permissive backend implements that scheme for the language.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scriptbridge.views.langs import canonical

Kind = Literal["romanize", "ipa"]
# (texts, canonical language code) -> one output per text
Converter = Callable[[Sequence[str], str], list[str]]
# (sentences as token lists, canonical language code) -> one output per token
TokenConverter = Callable[[Sequence[Sequence[str]], str], list[list[str]]]


class ViewError(ValueError):
    """A view cannot be produced as asked (unknown scheme, missing optional package...)."""


@dataclass
class Backend:
    kind: Kind
    name: str
    schemes: tuple[str, ...]
    languages: frozenset[str] | None  # None: any language
    load: Callable[[], Converter]
    license: str
    description: str
    extra: str | None = None  # pip extra that installs what it needs
    modules: tuple[str, ...] = ()  # modules that must be importable
    load_tokens: Callable[[], TokenConverter] | None = None  # context-aware token-level form
    _fn: Converter | None = field(default=None, repr=False)
    _tok_fn: TokenConverter | None = field(default=None, repr=False)

    def supports(self, lang: str) -> bool:
        return self.languages is None or lang in self.languages

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def install_hint(self) -> str:
        if self.extra:
            return f"pip install 'scriptbridge[{self.extra}]'"
        return "pip install " + " ".join(self.modules)

    def converter(self) -> Converter:
        if self._fn is None:
            if not self.available():
                raise ViewError(
                    f"backend {self.name!r} needs {', '.join(self.modules)} ({self.license}); "
                    f"install it with: {self.install_hint()}"
                )
            self._fn = self.load()
        return self._fn

    def token_converter(self) -> TokenConverter:
        if self._tok_fn is None:
            if self.load_tokens is not None:
                if not self.available():
                    self.converter()  # raises the helpful error
                self._tok_fn = self.load_tokens()
            else:
                fn = self.converter()

                def per_token(sentences: Sequence[Sequence[str]], lang: str) -> list[list[str]]:
                    flat = [t for s in sentences for t in s]
                    out = fn(flat, lang) if flat else []
                    res, i = [], 0
                    for s in sentences:
                        res.append(list(out[i : i + len(s)]))
                        i += len(s)
                    return res

                self._tok_fn = per_token
        return self._tok_fn


_BACKENDS: dict[Kind, list[Backend]] = {"romanize": [], "ipa": []}
# per-language default scheme, chosen for quality (see docs/views.md)
_DEFAULT_SCHEME: dict[Kind, dict[str, str]] = {"romanize": {}, "ipa": {}}
_BUILTINS_LOADED = False

# modules that register the built-in backends (imported lazily, once)
BUILTIN_MODULES = (
    "scriptbridge.views.backends.uroman_backend",
    "scriptbridge.views.backends.indic",
    "scriptbridge.views.backends.east_asian",
    "scriptbridge.views.backends.cyrillic",
    "scriptbridge.views.backends.arabic",
    "scriptbridge.views.backends.ipa",
    "scriptbridge.views.backends.copyleft",
)


def register(backend: Backend, default_for: Sequence[str] = ()) -> Backend:
    """Add ``backend``; make its first scheme the default for the languages in ``default_for``."""
    _BACKENDS[backend.kind] = [b for b in _BACKENDS[backend.kind] if b.name != backend.name]
    _BACKENDS[backend.kind].append(backend)
    for lang in default_for:
        _DEFAULT_SCHEME[backend.kind][canonical(lang)] = backend.schemes[0]
    return backend


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def backends(kind: Kind, lang: str | None = None) -> list[Backend]:
    _ensure_builtins()
    out = list(_BACKENDS[kind])
    if lang is not None:
        lang = canonical(lang)
        out = [b for b in out if b.supports(lang)]
    return out


def default_scheme(kind: Kind, lang: str) -> str:
    _ensure_builtins()
    lang = canonical(lang)
    if kind == "romanize":
        return _DEFAULT_SCHEME["romanize"].get(lang, "uroman")
    if lang in _DEFAULT_SCHEME["ipa"]:
        return _DEFAULT_SCHEME["ipa"][lang]
    cands = [b for b in _BACKENDS["ipa"] if b.supports(lang)]
    if not cands:
        raise ViewError(f"no IPA backend for language {lang!r}; known: {sorted(ipa_languages())}")
    return cands[0].schemes[0]


def ipa_languages() -> set[str]:
    _ensure_builtins()
    langs: set[str] = set()
    for b in _BACKENDS["ipa"]:
        if b.languages:
            langs |= b.languages
    return langs


def resolve(kind: Kind, lang: str, scheme: str | None = None) -> Backend:
    """The backend that produces view ``kind``/``scheme`` for ``lang``."""
    _ensure_builtins()
    lang = canonical(lang)
    scheme = scheme or default_scheme(kind, lang)
    cands = [b for b in _BACKENDS[kind] if (scheme == b.name or scheme in b.schemes) and b.supports(lang)]
    if not cands:
        known = sorted({s for b in _BACKENDS[kind] if b.supports(lang) for s in (b.name, *b.schemes)})
        raise ViewError(f"no {kind} scheme {scheme!r} for language {lang!r}; available for {lang!r}: {known}")
    named = [b for b in cands if b.name == scheme]
    if named:
        return named[0]
    permissive = [b for b in cands if b.extra is None]
    usable = [b for b in permissive if b.available()] or [b for b in cands if b.available()]
    return (usable or permissive or cands)[0]
