"""Citation verification (pure): an answer may only name articles and sanctions its sources support.

Checked in any answer text, composed or written by an LLM:
- every GDPR article mentioned ("art. 33", "Article 33(1)", "articles 33 et 34") must be the article
  of a citation, or be mentioned in the text of a retrieved source;
- every CNIL deliberation number (SAN-YYYY-NNN) must be a decision of the corpus;
- every [n] marker must point to an existing citation.
A sentence carrying a violation is removed; violations are counted for the metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ARTICLE_LIST = re.compile(
    r"\b(?:[Aa]rt(?:icle)?s?\.?)\s*(\d{1,3})((?:\s*\(\d+\))?(?:\s*\([a-z]\))?"
    r"(?:\s*(?:,|et|and|à|to|-|–)\s*\d{1,3}(?:\s*\(\d+\))?)*)")
NUMBER = re.compile(r"(?<![\d(])(\d{1,3})(?![\d)])")
FRENCH_LAW = re.compile(r"^\s*(?:\(\d+\)\s*)?(?:de la loi|du code|de la directive|of the French|of Directive|du CPCE|"
                        r"de la Charte|of the Charter|du traité|of the Treaty|TFUE|TFEU)", re.I)
DECISION = re.compile(r"\b(?:SAN|MED)-\d{4}-\d{3}\b")
MARKER = re.compile(r"\[(\d{1,3})\]")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý\[*_(])|\n+")


def mentioned_articles(text: str) -> set[int]:
    """GDPR article numbers named in a text (lists and ranges included, other laws excluded)."""
    found: set[int] = set()
    for m in ARTICLE_LIST.finditer(text):
        if FRENCH_LAW.match(text[m.end():m.end() + 40]):
            continue
        found.add(int(m.group(1)))
        for n in NUMBER.findall(m.group(2) or ""):
            found.add(int(n))
    return found


@dataclass
class Verification:
    """Outcome of a check: the cleaned text and what was removed."""

    text: str
    removed: list[str] = field(default_factory=list)
    unsupported_articles: set[int] = field(default_factory=set)
    unknown_decisions: set[str] = field(default_factory=set)
    bad_markers: set[int] = field(default_factory=set)

    @property
    def violations(self) -> int:
        """Number of unsupported references found."""
        return len(self.unsupported_articles) + len(self.unknown_decisions) + len(self.bad_markers)


def verify_answer(text: str, allowed_articles: set[int], known_decisions: set[str],
                  n_citations: int) -> Verification:
    """Remove every sentence naming an unsupported article, an unknown decision or a bad [n] marker."""
    result = Verification(text="")
    kept: list[str] = []
    for block in re.split(r"(\n)", text):
        if block == "\n":
            kept.append(block)
            continue
        pieces = SENTENCE.split(block)
        good = []
        for sentence in pieces:
            arts = mentioned_articles(sentence) - allowed_articles
            decisions = set(DECISION.findall(sentence)) - known_decisions
            markers = {int(n) for n in MARKER.findall(sentence) if not 1 <= int(n) <= n_citations}
            if arts or decisions or markers:
                result.unsupported_articles |= arts
                result.unknown_decisions |= decisions
                result.bad_markers |= markers
                result.removed.append(sentence)
            else:
                good.append(sentence)
        kept.append(" ".join(good))
    text = "".join(kept)
    # A list item whose only sentence was removed leaves its bare marker ("4.", "-"): drop the line.
    text = re.sub(r"(?m)^\s*(?:\d+[.)]|[-*•])\s*(?:\[\d+\]\s*)*$\n?", "", text)
    result.text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return result
