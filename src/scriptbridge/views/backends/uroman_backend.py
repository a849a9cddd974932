"""The universal romanizer: output identical to the ``uroman`` package (Apache-2.0).

The reference is ``uroman.Uroman(cache_size=65536).romanize_string(text, lcode=...)``,
i.e. uroman with its token cache on (it then romanizes the pieces between spaces and
``.,;`` runs independently). The work is done by :mod:`scriptbridge.views.fast_uroman`,
a re-implementation over lazily loaded, pre-digested tables that hands what it does
not cover to the uroman package itself, so the output stays uroman's while start-up
drops from seconds to milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from scriptbridge.views.langs import iso639_3
from scriptbridge.views.registry import Backend, register


@functools.lru_cache(maxsize=1)
def engine():
    """The process-wide engine (its caches are worth sharing)."""
    from scriptbridge.views.fast_uroman import FastUroman

    return FastUroman()


def _load():
    eng = engine()

    def convert(texts: Sequence[str], lang: str) -> list[str]:
        lcode = iso639_3(lang)
        rom = eng.romanize
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
