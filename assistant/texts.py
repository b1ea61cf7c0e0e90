"""The engine's own texts (fixed replies, refusals, labels, corrections) from the gettext catalogues.

The web pages and the engine share one catalogue (assistant/translations, English as the source
language, French written by hand): ``make translations`` extracts the messages marked with ``N_``
here and in the engine, and tests/test_i18n.py fails while one lacks its French. The engine never
imports Flask: it reads the compiled catalogues with Babel directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CATALOGUES = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown (``translate``)."""
    return message


@lru_cache(maxsize=4)
def _catalogue(lang: str):
    from babel.support import Translations

    return Translations.load(str(CATALOGUES), [lang], domain="messages")


def translate(lang: str, message: str, **values) -> str:
    """``message`` (English, as marked with N_) in ``lang``, with its %(name)s placeholders filled."""
    # Every engine message is a Python format string ("4 %%" for a percent sign), placeholders or not.
    return _catalogue(lang).gettext(message) % values
