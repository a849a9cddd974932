"""Script views of a text: detect its script, romanize it, transcribe it to IPA.

>>> from scriptbridge.views import romanize, to_ipa, detect
>>> romanize("नमस्ते दुनिया", "hi")                 # default: colloquial Hindi
>>> romanize("नमस्ते दुनिया", "hi", "uroman")       # identical to the uroman package
>>> to_ipa("你好", "zh")
>>> detect("mera naam Ravi hai").scripts

(The registry listing is ``list_backends``: ``scriptbridge.views.backends`` is the
sub-package holding the built-in backends.)
"""

from scriptbridge.views.api import nfc, romanize, to_ipa, to_ipa_tokens, to_ipa_tokens_batch
from scriptbridge.views.detect import DetectResult, detect, looks_romanized, scripts_of
from scriptbridge.views.registry import Backend, ViewError, default_scheme, register, resolve
from scriptbridge.views.registry import backends as list_backends

__all__ = [
    "Backend",
    "DetectResult",
    "ViewError",
    "default_scheme",
    "detect",
    "list_backends",
    "looks_romanized",
    "nfc",
    "register",
    "resolve",
    "romanize",
    "scripts_of",
    "to_ipa",
    "to_ipa_tokens",
    "to_ipa_tokens_batch",
]
