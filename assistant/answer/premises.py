"""False premises (pure): a question that rests on something false gets a correction first.

Checked: an article number the GDPR does not have (it has 99), an article named for something it
is not about, and a duration the question asserts ("48 h to notify", "the CNIL allows one year")
that the source answering it contradicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieval.query import QuestionInfo, duration_kind, duration_spans, is_age, is_range_end
from ..retrieval.text import fold
from ..texts import N_, translate

# The visitor states something and asks for confirmation, or reports what they were told.
CLAIM = re.compile(r"(il\s+(parait|me\s+semble)|on\s+m.a\s+dit|j.ai\s+(lu|entendu)|quelqu.un\s+m.a\s+dit|d.apres|"
                   r"selon|c.est\s+(ca|bien\s+ca|vrai|juste|exact)|n.est[- ]ce\s+pas|non\s*\?|right\s*\?|correct\s*\?|"
                   r"isn.t\s+it|i\s+(heard|read|was\s+told|think)|apparently|according\s+to|is\s+that\s+(right|true|correct)|"
                   r"autorise|allows?|recommande|recommends?|on\s+a\s+\d|we\s+have\s+\d|la\s+cnil\s+\w+\s+jusqu|donc\s+on\s+peut|"
                   r"so\s+we\s+can|tranquille)")


@dataclass(frozen=True)
class Correction:
    """A correction to put before the answer, and whether it contradicts a yes/no question."""

    text: str
    contradicts: bool = True


def check_articles(info: QuestionInfo, lang: str, titles: dict[int, str]) -> Correction | None:
    """A non-existent article number named in the question."""
    missing = [n for n in info.articles if n > 99 or n < 1]
    if missing:
        n = missing[0]
        return Correction(translate(lang, N_("Note: the GDPR has only 99 articles; there is no Article %(number)s."),
                                    number=n))
    return None


def check_misnamed_article(info: QuestionInfo, lang: str, answer_articles: set[int],
                           titles: dict[int, str], governing: int | None = None) -> Correction | None:
    """An existing article named for a topic the answering sources put under other articles; the right
    one is the article governing the lead source when it is known, else the lowest of them."""
    named = [n for n in info.articles if 1 <= n <= 99]
    if not named or not answer_articles or any(n in answer_articles for n in named):
        return None
    n = named[0]
    title = titles.get(n)
    right = governing if governing in answer_articles else sorted(answer_articles)[0]
    if not title:
        return None
    return Correction(translate(lang, N_("Note: GDPR Article %(number)s is about something else (%(title)s); your "
                                         "question falls under Art. %(right)s."),
                                number=n, title=title.rstrip("."), right=right), contradicts=False)


# A source saying there is no single figure: its example durations contradict nothing.
NO_FIXED = re.compile(r"\b(pas\s+de\s+duree\s+(unique|fixe|generale)|aucune\s+duree\s+(unique|fixe|generale)|"
                      r"ne\s+fixe\s+(aucune|pas\s+de)\s+(duree|chiffre)|aucun\s+chiffre|no\s+(single|fixed|set|general)\s+"
                      r"(retention\s+)?(period|figure|duration)|sets\s+no\s+(fixed\s+)?(figure|period|duration)|"
                      r"no\s+one[- ]size)\b")
# A lead that says the step asked about does not exist or the practice is not allowed: a deadline or a
# retention period taken from another source would answer a question that should not arise ("how long
# does the CNIL take to validate our declaration?" after "prior formalities were abolished in 2018";
# "how long do we keep the fingerprints?" after "the CNIL judges biometrics disproportionate").
NO_SUCH_STEP = re.compile(r"\b(ont\s+ete\s+supprimees|a\s+ete\s+supprimee|n'existen?t?\s+plus|were\s+abolished|"
                          r"was\s+abolished|no\s+longer\s+exists?|disproportionn\w*|disproportionate|interdite?s?|"
                          r"prohibited|forbidden|n'approuve\s+pas|ne\s+valide\s+pas|does\s+not\s+(approve|validate|review))\b")


# Reported speech ("my partner says we have 15 days"): a claim too, but checked only against an item
# whose own question and answer cover the claim's topic (the lead may be about something else).
REPORTED = re.compile(r"\bdi(t|sent)\s+qu|\bsays?\s+(that|we)\b|\btold\s+(me|us)\b|\baffirme")


def check_duration(question: str, info: QuestionInfo, lang: str, answer_text: str,
                   reported: bool = False, same_kind: bool = False) -> Correction | None:
    """A duration the question asserts that the answer's source contradicts (``reported``: a duration
    someone is said to have stated counts as asserted; ``same_kind``: the claim must be read as a deadline
    or a retention period, and the source's figure must not be of the other kind)."""
    if not info.durations:
        return None
    if NO_FIXED.search(fold(answer_text)):
        return None
    q = fold(question)
    if not (CLAIM.search(q) or info.yesno or (reported and REPORTED.search(q))):
        return None
    # The first single figure the question states: the end of a range ("11-17 ans") claims nothing.
    claimed = next((w for _, w in duration_spans(question) if not is_range_end(question, w)), None)
    if claimed is None:
        return None
    age = is_age(question, claimed)  # an age is corrected by an age, a period by a period ("20 jours" ≠ "14 ans")
    kind = duration_kind(question, claimed)
    if same_kind and not kind:
        return None
    stated = [(h, w) for h, w in duration_spans(answer_text) if is_age(answer_text, w) == age and
              not (kind and duration_kind(answer_text, w) not in ("", kind))]
    if not stated:
        return None
    if any(abs(d - s) < 1e-6 for d in info.durations for s, _ in stated):
        return None
    actual = stated[0][1]
    return Correction(translate(lang, N_("No: it is not %(claimed)s but %(actual)s."), claimed=claimed, actual=actual))
