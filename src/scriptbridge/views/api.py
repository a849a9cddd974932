"""The public view functions: ``romanize``, ``to_ipa``, ``to_ipa_tokens``.

They share one Unicode hygiene layer, so every backend sees the same input:
texts are NFC-normalized (zero-width joiner and non-joiner are kept: in Indic
scripts they select a different rendering, e.g. a Malayalam chillu), empty and
whitespace-only texts come back unchanged, a text with several lines is
converted line by line so its line structure survives, and no input raises:
a backend that fails on a text is retried on that text alone, and if it still
fails the text falls back to the universal romanizer (``uroman``) with a
warning, rather than losing a batch.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import overload

from scriptbridge.views.langs import canonical
from scriptbridge.views.registry import Backend, Converter, resolve

log = logging.getLogger(__name__)


_SURROGATE = re.compile("[\ud800-\udfff]")


def nfc(text: str) -> str:
    # lone surrogates cannot be encoded or normalized meaningfully: replace them
    # (a compiled regex: this runs on every text, a per-character Python loop showed in profiles)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if text.isascii():
        return text  # ASCII is always NFC
    return unicodedata.normalize("NFC", text)


def _run_guarded(backend: Backend, fn: Converter, texts: list[str], lang: str) -> list[str]:
    try:
        out = fn(texts, lang)
        if len(out) == len(texts):
            return list(out)
        log.warning(
            "%s returned %d outputs for %d texts; retrying one by one", backend.name, len(out), len(texts)
        )
    except Exception as e:  # noqa: BLE001 - the contract is: never raise on input text
        if len(texts) == 1:
            return [_fallback(backend, texts[0], lang, e)]
    res = []
    for t in texts:
        try:
            o = fn([t], lang)
            res.append(o[0] if len(o) == 1 else _fallback(backend, t, lang, None))
        except Exception as e:  # noqa: BLE001
            res.append(_fallback(backend, t, lang, e))
    return res


def _fallback(backend: Backend, text: str, lang: str, err: Exception | None) -> str:
    log.warning("backend %s failed on %r (%s); falling back to uroman", backend.name, text[:80], err)
    if backend.name == "uroman":
        return text
    try:
        return resolve("romanize", lang, "uroman").converter()([text], lang)[0]
    except Exception:  # noqa: BLE001
        return text


def _convert(backend: Backend, texts: Sequence[str], lang: str) -> list[str]:
    fn = backend.converter()
    # split every text into lines; convert the non-blank lines in one batch
    lines: list[str] = []
    shape: list[list[int | str]] = []  # per text: for each line, index into `lines` or the blank line itself
    for t in texts:
        parts: list[int | str] = []
        for line in nfc(t).split("\n"):
            if line.strip():
                parts.append(len(lines))
                lines.append(line)
            else:
                parts.append(line)
        shape.append(parts)
    converted = _run_guarded(backend, fn, lines, lang) if lines else []
    return ["\n".join(converted[p] if isinstance(p, int) else p for p in parts) for parts in shape]


@overload
def romanize(texts: str, lang: str, scheme: str | None = None) -> str: ...
@overload
def romanize(texts: Sequence[str], lang: str, scheme: str | None = None) -> list[str]: ...
def romanize(texts, lang, scheme=None):
    """Romanize ``texts`` (a string or a list of strings) written in ``lang``.

    ``scheme`` is a scheme name (``uroman``, ``colloquial``, ``itrans``, ``iast``,
    ``hepburn``, ``pinyin``, ``rr``, ``national``...) or a backend name; ``None``
    picks the language's default (see ``scriptbridge romanize --list``).
    """
    lang = canonical(lang)
    backend = resolve("romanize", lang, scheme)
    if isinstance(texts, str):
        return _convert(backend, [texts], lang)[0]
    return _convert(backend, list(texts), lang)


@overload
def to_ipa(texts: str, lang: str, backend: str | None = None) -> str: ...
@overload
def to_ipa(texts: Sequence[str], lang: str, backend: str | None = None) -> list[str]: ...
def to_ipa(texts, lang, backend=None):
    """Broad phonemic (IPA) transcription of ``texts`` written in ``lang``."""
    lang = canonical(lang)
    b = resolve("ipa", lang, backend)
    if isinstance(texts, str):
        return _convert(b, [texts], lang)[0]
    return _convert(b, list(texts), lang)


def to_ipa_tokens(tokens: Sequence[str], lang: str, backend: str | None = None) -> list[str]:
    """One IPA string per token of one sentence; the sentence context is used where it matters
    (Chinese polyphones, Japanese readings). Empty tokens give empty strings."""
    return to_ipa_tokens_batch([tokens], lang, backend)[0]


def to_ipa_tokens_batch(
    sentences: Sequence[Sequence[str]], lang: str, backend: str | None = None
) -> list[list[str]]:
    """:func:`to_ipa_tokens` over many sentences at once (faster: one backend call)."""
    lang = canonical(lang)
    b = resolve("ipa", lang, backend)
    fn = b.token_converter()
    clean = [[nfc(t) for t in s] for s in sentences]
    try:
        out = fn(clean, lang)
        if len(out) == len(clean) and all(len(o) == len(s) for o, s in zip(out, clean, strict=True)):
            return [
                [o if t.strip() else "" for o, t in zip(os_, s, strict=True)]
                for os_, s in zip(out, clean, strict=True)
            ]
    except Exception as e:  # noqa: BLE001
        log.warning("token IPA backend %s failed (%s); converting token by token", b.name, e)
    # per-token fallback keeps the one-output-per-token contract
    flat = [t for s in clean for t in s]
    conv = _convert(b, flat, lang)
    res, i = [], 0
    for s in clean:
        res.append(conv[i : i + len(s)])
        i += len(s)
    return res
