"""PII redaction (pure): what is stored, logged or sent to an LLM never carries e-mails, phone numbers,
IBANs, NIR, card numbers, SIREN/SIRET or IP addresses.

Candidates are found by pattern and confirmed by their checksum (python-stdnum: IBAN mod 97, NIR
key, Luhn for cards and SIREN/SIRET), so ordinary numbers ("article 33", "20 000 000 EUR", a file
number) stay. Spaces are normalised first (no-break and thin spaces from Word or the web become
plain spaces), letters are compared in any case, and separators may be spaces, dots or dashes. As a
fallback, a long run of digits (11 or more, or card-like groups of four) is masked as [NUMBER]
even when no checksum confirms it: a mistyped card or account number is still personal.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from stdnum import iban, luhn
from stdnum.fr import nir, siren, siret

# Unicode spaces that text pasted from Word or the web carries (no-break, figure, thin, narrow no-break...).
_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_SEP = r"[ .\-]?"


def _digits(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


def _valid_iban(s: str) -> bool:
    return iban.is_valid(_digits(s))


def _valid_nir(s: str) -> bool:
    return nir.is_valid(_digits(s))


def _valid_card(s: str) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and luhn.is_valid(d)


def _valid_siret(s: str) -> bool:
    return siret.is_valid(_digits(s))


def _valid_siren(s: str) -> bool:
    return siren.is_valid(_digits(s))


def _valid_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return sum(c.isalnum() for c in s) >= 2  # not a bare "::" in prose


# (label, candidate pattern, checksum or None), applied in this order: the most specific first.
PATTERNS: tuple[tuple[str, re.Pattern, Callable[[str], bool] | None], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:" + _SEP + r"[A-Z0-9]{4}){2,7}(?:" + _SEP + r"[A-Z0-9]{1,4})?\b",
                        re.IGNORECASE), _valid_iban),
    # NIR: sex, year, month, department (2A/2B in Corsica; 3 digits overseas), commune, order, key
    ("NIR", re.compile(r"\b[12](?:" + _SEP + r"[0-9AB]){12}" + _SEP + r"\d\d\b", re.IGNORECASE),
     _valid_nir),
    ("SIRET", re.compile(r"\b\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{5}\b"), _valid_siret),
    ("CARD", re.compile(r"\b\d(?:" + _SEP + r"\d){12,18}\b"), _valid_card),
    ("SIREN", re.compile(r"\b\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{3}\b"), _valid_siren),
    ("PHONE", re.compile(r"(?<![\w+])(?:(?:\+33|0033)" + _SEP + r"(?:\(0\)" + _SEP + r")?|0)[1-9](?:" + _SEP
                         + r"\d{2}){4}\b|\+\d{1,3}" + _SEP + r"(?:\(0\)" + _SEP + r")?\d{1,4}(?:" + _SEP
                         + r"\d{2,4}){2,5}\b"), None),
    ("IP", re.compile(r"(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})(?![\w:])",
                      re.IGNORECASE), _valid_ip),
    ("IP", re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\.?\d)"),
     None),
    ("NUMBER", re.compile(r"\b\d{11,}\b|\b\d{4}(?:[ .\-]\d{4}){2,}\b"), None),
)


def normalise_spaces(text: str) -> str:
    """No-break, thin and other Unicode spaces as plain spaces (what the patterns expect)."""
    return _SPACES.sub(" ", text)


def redact(text: str) -> tuple[str, int]:
    """Replace personal identifiers with [EMAIL], [PHONE]...; returns the text and the count replaced."""
    text = normalise_spaces(text)
    total = 0
    for label, pattern, valid in PATTERNS:
        replaced = 0

        def swap(m: re.Match, label=label, valid=valid) -> str:
            nonlocal replaced
            if valid is not None and not valid(m.group()):
                return m.group()
            replaced += 1
            return f"[{label}]"

        text = pattern.sub(swap, text)
        total += replaced
    return text, total
