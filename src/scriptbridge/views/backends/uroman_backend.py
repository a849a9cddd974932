"""The universal romanizer: output identical to the ``uroman`` package (Apache-2.0)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from scriptbridge.views.langs import iso639_3
from scriptbridge.views.registry import Backend, register


@functools.lru_cache(maxsize=1)
def _uroman():
    import uroman

    return uroman.Uroman()


def _load():
    u = _uroman()

    def convert(texts: Sequence[str], lang: str) -> list[str]:
        lcode = iso639_3(lang)
        return [u.romanize_string(t, lcode=lcode) for t in texts]

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
