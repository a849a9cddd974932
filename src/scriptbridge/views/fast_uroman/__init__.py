"""A fast romanizer whose output is identical to the ``uroman`` package's.

See :mod:`.engine` for how, :mod:`.tables` for the data it reads.
"""

from scriptbridge.views.fast_uroman.engine import FastUroman, Unsupported

__all__ = ["FastUroman", "Unsupported"]
