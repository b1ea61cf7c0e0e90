"""Keep the interface catalogues in step with the code: `make translations` runs this.

1. extract every message (Python gettext / lazy_gettext, Jinja templates, widget.js) into messages.pot;
2. update fr and en from it (new messages added empty, removed ones dropped);
3. English is the source language: a new message's English text is its id (edit en.po to reword);
4. compile the .mo files the app reads (committed, so that a fresh clone and `pip install .` work).

French translations are written by hand in fr/LC_MESSAGES/messages.po; tests/test_i18n.py fails
while one is missing or a .mo file is older than its .po.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "assistant/translations"


def pybabel(*args: str) -> None:
    """Run pybabel from this interpreter's environment."""
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)


def main() -> int:
    """Extract, update, fill the English source texts, compile; list the French messages still to write."""
    pot = CATALOGUES / "messages.pot"
    pybabel("extract", "-F", str(CATALOGUES / "babel.cfg"), "-k", "_l", "-k", "N_", "--no-location", "--sort-output",
            "--omit-header", "-o", str(pot), ".")
    pybabel("update", "-i", str(pot), "-d", str(CATALOGUES), "--no-fuzzy-matching", "--width", "110")
    en = CATALOGUES / "en/LC_MESSAGES/messages.po"
    with en.open("rb") as fh:
        catalogue = read_po(fh, locale="en")
    for message in catalogue:
        if message.id and not message.string:
            message.string = message.id
    with en.open("wb") as fh:
        write_po(fh, catalogue, width=110, no_location=True)
    pybabel("compile", "-d", str(CATALOGUES), "--statistics")
    with (CATALOGUES / "fr/LC_MESSAGES/messages.po").open("rb") as fh:
        missing = [m.id for m in read_po(fh, locale="fr") if m.id and not m.string]
    for message_id in missing:
        print(f"fr: to translate: {message_id!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
