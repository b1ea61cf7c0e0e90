"""PII redaction (pure): what is stored or logged never carries e-mails, phone numbers, IBANs, NIR or cards."""

from __future__ import annotations

import re

PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")),
    # French social security number (NIR): 1 or 2, then 12 digits, then a 2-digit key, spaces allowed
    ("NIR", re.compile(r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}\b")),
    ("CARD", re.compile(r"\b(?:\d[ -]?){13,16}\b")),
    ("PHONE", re.compile(r"(?<![\w+])(?:\+33[ .-]?|0033[ .-]?|0)[1-9](?:[ .-]?\d{2}){4}\b|\+\d{1,3}(?:[ .-]?\d{2,4}){3,5}\b")),
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
)


def redact(text: str) -> tuple[str, int]:
    """Replace personal identifiers with [EMAIL], [PHONE]...; returns the text and the count replaced."""
    total = 0
    for label, pattern in PATTERNS:
        text, n = pattern.subn(f"[{label}]", text)
        total += n
    return text, total
