"""The universal romanizer: output identical to the ``uroman`` package (Apache-2.0).

The reference is ``uroman.Uroman(cache_size=65536).romanize_string(text, lcode=...)``,
i.e. uroman with its token cache on (it then romanizes the pieces between spaces and
``.,;`` runs independently). The work is done by :mod:`scriptbridge.views.fast_uroman`,
a re-implementation over lazily loaded, pre-digested tables that hands what it does
not cover to the uroman package itself, so the output stays uroman's while start-up
drops from seconds to milliseconds. Large batches of new texts are split with one forked
worker process, which inherits the warm engine at no cost.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

from scriptbridge.views.langs import iso639_3
from scriptbridge.views.registry import Backend, register


@functools.lru_cache(maxsize=1)
def engine():
    """The process-wide engine (its caches are worth sharing)."""
    from scriptbridge.views.fast_uroman import FastUroman

    return FastUroman()


# Below this many new texts, a second process costs more than it saves.
PARALLEL_MIN_TEXTS = 2000


def _can_fork() -> bool:
    """Whether romanizing in a forked second process is safe and useful here.

    Forking copies the warm engine for free (tables, caches). It is not done where a fork
    is unsafe: without ``os.fork``, inside a daemon worker (which may not have children),
    or once torch is imported (its OpenMP thread pool does not survive a fork)."""
    import multiprocessing as mp
    import sys

    return (
        hasattr(os, "fork")
        and (os.cpu_count() or 1) > 1
        and "torch" not in sys.modules
        and not mp.current_process().daemon
        and not os.environ.get("SCRIPTBRIDGE_NO_FORK")
    )


def _romanize_chunk(args: tuple[list[str], str]) -> list[str]:
    texts, lcode = args
    rom = engine().romanize
    return [rom(t, lcode) for t in texts]


def _romanize_parallel(texts: list[str], lcode: str) -> list[str]:
    """Split ``texts`` between this process and one forked worker (2 cores: the common case)."""
    import multiprocessing as mp

    half = len(texts) // 2
    with mp.get_context("fork").Pool(1) as pool:
        pending = pool.map_async(_romanize_chunk, [(texts[half:], lcode)])
        first = _romanize_chunk((texts[:half], lcode))
        second = pending.get()[0]
    return first + second


def _load():
    eng = engine()

    def convert(texts: Sequence[str], lang: str) -> list[str]:
        lcode = iso639_3(lang)
        rom = eng.romanize
        new = [t for t in dict.fromkeys(texts) if (t, lcode) not in eng.line_cache]
        if len(new) >= PARALLEL_MIN_TEXTS and _can_fork():
            done = dict(zip(new, _romanize_parallel(new, lcode), strict=True))
            return [done[t] if t in done else rom(t, lcode) for t in texts]
        return [rom(t, lcode) for t in texts]

    return convert


register(
    Backend(
        kind="romanize",
        name="uroman",
        schemes=("uroman",),
        languages=None,
        load=_load,
        license="Apache-2.0",
        description="universal romanizer for any script (identical to the uroman package)",
        modules=("uroman",),
    )
)
