"""WCAG AA contrast (4.5:1) of the text colours the stylesheet pairs with their backgrounds."""

import re

import pytest

from assistant.config import PROJECT_ROOT

CSS = (PROJECT_ROOT / "web/static/site.css").read_text(encoding="utf-8")
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("fg,bg", [
    ("ink", "bg"), ("brand", "bg"), ("muted", "bg"), ("muted", "bot"), ("warn", "warn-bg"), ("brand", "user"),
    ("brand", "bot"), ("ink", "user"), ("ink", "bot"),
])
def test_palette_pairs_meet_aa(fg, bg):
    assert contrast(VARS[fg], VARS[bg]) >= 4.5, (fg, bg)


def test_fixed_colours_meet_aa():
    assert contrast("#ffffff", VARS["brand"]) >= 4.5  # send button
    assert contrast("#a40000", VARS["bot"]) >= 4.5  # error text
    assert contrast("#243a66", VARS["soft"]) >= 4.5  # badges
