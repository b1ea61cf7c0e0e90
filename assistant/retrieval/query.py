"""What a question asks (pure): its type, the articles and figures it names, whether it is yes/no.

Used by the ranker (a deadline question prefers a source stating a deadline) and by the composer
(lead with the sentence that answers the type asked). Patterns work on folded text (no accents,
lower case), so "Délai ?", "delai" and "DELAI" are one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import fold

# A question about sanctions, in folded text. "Fine" counts as a penalty ("a fine", "fined", "fine us"),
# not as "okay" ("I assume it's fine"): the adjective once sent a question about a US transfer to the
# CNIL's sanctions.
_FINE_PENALTY = (r"fine[sd]\b|(?:a|the|any|no|big|bigger|biggest|huge|heavy|max|maximum|gdpr|cnil|possible|potential|"
                 r"first|such|what|which|this|that)\s+fine\b|fine\s+(?:of|for|from|against|us|them|me|you|companies)\b")
SANCTION_QUERY = re.compile(r"\b(sanction\w*|amendes?|condamn\w*|penalit\w*|" + _FINE_PENALTY + r"|penalt\w*|penalised|"
                            r"penalized|deliberation|san-\d{4})", re.I)


def asks_about_sanctions(question: str) -> bool:
    """Whether a question is about sanctions or fines (the retriever then ranks the CNIL decisions
    too, and the composer adds the closest decision)."""
    return bool(SANCTION_QUERY.search(fold(question)))


TYPES = ("amount", "deadline", "comparison", "definition", "who", "steps", "list", "yesno", "other")

_AMOUNT = re.compile(
    r"\b(combien\s+(d.amende|ca\s+(coute|peut\s+couter)|risque|on\s+risque|je\s+risque|coute)|quel(le)?s?\s+montants?|"
    r"montant|amendes?\s+(max|maximale|encourue)|jusqu.a\s+combien|how\s+much\s+(is|was|could|can|would|did|does|do|are)?"
    r"\s*(the\s+|a\s+|we\s+|i\s+|they\s+|it\s+)?(fine|penalt|risk|cost|pay|get\s+fined)|how\s+big|max(imum)?\s+(gdpr\s+)?fine|"
    r"(fine|amende|sanction)s?\s+(max|maximum)|what\s+(fine|penalt)|quelle\s+(amende|sanction)|"
    r"(worst|biggest|highest|largest|heaviest)\s+(possible\s+)?(gdpr\s+)?(fine|penalt)|"
    r"how\s+much\s+(can|could|would|will|might)\s+(the\s+cnil|they|the\s+regulator|an?\s+\w+)\s+fine|"
    r"risque\w*\s+quoi\s+comme\s+(sanction|amende)|amendes?\s+(la\s+plus|maxi\w*|record))")
_DEADLINE = re.compile(
    r"\b(combien\s+de\s+(temps|jours|mois|ans|annees|heures|semaines)|(quel|dans\s+quel(s)?|sous\s+quel)\s+delais?|"
    r"delais?|jusqu.a\s+quand|quelle\s+duree|duree\s+(de|max)|a\s+partir\s+de\s+quand|des\s+quand|"
    r"how\s+long|how\s+much\s+time|how\s+many\s+(days|hours|weeks|months|years)|deadline|time\s*limit|"
    r"within\s+how|by\s+when|how\s+quickly|how\s+soon|how\s+fast|retention\s+period|garder\s+combien|keep\s+.{0,40}\s+for\s+how)")
# "... and when?", "et quand ?": a multi-part question that also asks for a deadline.
_WHEN = re.compile(r"\b((and|et|mais)\s+(when|quand|dans\s+quel\s+delai|sous\s+quel\s+delai|en\s+combien\s+de\s+temps)|"
                   r"when\s+exactly|by\s+when|a\s+partir\s+de\s+quand)\b")
_COMPARISON = re.compile(r"\b(difference|differences|distinguer|versus|vs\.?|compare[rz]?|comparison|ou\s+bien)\b")
_DEFINITION = re.compile(
    r"^(c.est\s+quoi|qu.est[- ]ce\s+qu|que\s+(veut|signifie)|ca\s+veut\s+dire\s+quoi|what\s+is\s+(an?\s+|the\s+)?"
    r"(?!the\s+(deadline|time|fine|difference))|what\s+does\s+.{1,40}\s+mean|what.s\s+an?\s)|"
    r"\b(definition|definir|c.est\s+quoi|veut\s+dire\s+quoi|meaning\s+of|what\s+counts\s+as|qu.appelle[- ]t[- ]on)\b")
_WHO = re.compile(r"^(qui|who|a\s+qui|to\s+whom|which\s+(organi[sz]ations?|companies|bodies|businesses|firms)|"
                  r"quel(le)?s?\s+(entreprises|organismes|structures|societes))\b|\b(qui\s+doit|who\s+(must|has\s+to|should|needs?\s+to))\b")
_STEPS = re.compile(r"\b(comment(?!\s+(s.appelle|dire))|que\s+(faire|dois[- ]je\s+faire|doit[- ]on\s+faire)|"
                    r"quelles?\s+(etapes|demarches|mesures)|how\s+(do|can|should|must)\s+(i|we|you)|what\s+(should|must|do)\s+"
                    r"(i|we)\s+do|what\s+steps|procedure|step\s+by\s+step|marche\s+a\s+suivre)\b")
_LIST = re.compile(r"\b(quels?\s+sont|quelles?\s+sont|what\s+are\s+the|which|quelles?\s+(informations|mentions|clauses|"
                   r"donnees|obligations|droits)|quels?\s+(documents|droits|elements)|que\s+doit\s+contenir|"
                   r"what\s+(must|should|does|do)\s+.{1,80}\s+(contain|include|say)|what\s+(information|rights|obligations))\b")
_YESNO = re.compile(
    r"^(est[- ]ce\s+qu|est\s+ce\s+qu|peut[- ]on|puis[- ]je|pouvons[- ]nous|peut[- ]il|peut[- ]elle|dois[- ]je|doit[- ]on|"
    r"devons[- ]nous|faut[- ]il|a[- ]t[- ]on|ai[- ]je|suis[- ]je|sommes[- ]nous|y\s+a[- ]t[- ]il|on\s+(peut|doit|a|est)|"
    r"je\s+(peux|dois|suis|n.ai|ne\s+suis)|nous\s+(pouvons|devons|sommes)|mon|ma|mes|notre|nos|il\s+faut|c.est|"
    r"is\s+(it|there|this|that|a|an|my|our|the)|are\s+(we|you|they|there|our|my)|am\s+i|can\s+(i|we|my|our|a|an|the|you|they|he|she)|"
    r"may\s+(i|we)|do\s+(i|we|you|they)|does|did|should\s+(i|we)|must\s+(i|we)|have\s+(i|we)\s+to|do\s+we\s+have\s+to|"
    r"would|will|has|have|need\s+we|is)\b"
    r"|(-t-(il|elle|on|ils|elles)|-(je|on|il|elle|ils|elles|nous|vous)\b).*\?\s*$"
    r"|\b(ou\s+pas|oui\s+ou\s+non|c.est\s+(obligatoire|legal|permis|autorise|interdit|grave|legal)|ai[- ]je\s+le\s+droit|"
    r"a[- ]t[- ]on\s+le\s+droit|on\s+a\s+le\s+droit|le\s+droit\s+de|est[- ]ce\s+(legal|obligatoire)|"
    r"isn.t\s+it|is\s+that\s+(ok|right|legal|allowed)|or\s+not|allowed\s+to)\b"
    r"|\b(right|correct|true|vrai|exact|c.est\s+ca|non)\s*\?\s*$"
    # Colloquial: "faut faire une AIPD ?", "registre obligatoire si on a 15 salariés ?", "..., on peut refuser ?"
    r"|^(faut|fo)\b"
    r"|\b(obligatoires?|necessaires?|interdite?s?|autorisee?s?|legale?s?|mandatory|required|compulsory|allowed|"
    r"permitted|lawful)\b[^?]*\?\s*$"
    r"|\b(peut|peux|peuvent|pouvons|doit|dois|doivent|devons|a\s+le\s+droit)\b[^?]*\?\s*$"
    r"|\b(can|may|must|should)\s+(we|i)\b[^?]*\?\s*$"
    # After a condition: "If we only store files, is that processing?", "si on ..., est-ce un transfert ?"
    r"|,\s*(is|are|can|do|does|must|should|would)\s+(that|it|this|we|i|they|there)\b[^?]*\?\s*$"
    r"|,\s*(est[- ]ce|c.est|peut[- ]on|faut[- ]il|doit[- ]on)\b[^?]*\?\s*$")
# Open questions that start like yes/no ones: "c'est quoi...", "c'est combien", "is there a way to".
_OPEN = re.compile(r"\b(c.est\s+(quoi|qui|combien|comment|quand|ou)|quel(le)?s?\s+(est|sont)|what\s+(is|are|should|must|do)|"
                   r"which|how\s+(do|can|should|long|much|many|to)|que\s+faire|quoi\s+faire|on\s+fait\s+quoi|"
                   r"comment|pourquoi|combien|a\s+qui|aupres\s+de\s+qui|quand\s+(doit|faut|est)|"
                   r"quel|quelle|quels|quelles|lequel|laquelle|que\s+(peut|doit|faut|va|risque))\b")
_WH = re.compile(r"^(qui|que|quoi|quel|quelle|quels|quelles|comment|combien|pourquoi|ou|quand|who|what|which|how|why|"
                 r"where|when)\b")

# Articles named in a question: "art. 33", "article 101", "l'article 8 du RGPD", "Art 22"
ARTICLE_MENTION = re.compile(r"\b(?:art(?:icle)?s?\.?)\s*(\d{1,3})\b(?!\s*(?:du\s+code|de\s+la\s+loi|of\s+the\s+french|c\.|l\.))", re.I)
# Figures a question asserts: durations, money, percentages, ages and headcounts.
DURATION = re.compile(
    r"\b(\d{1,4}|un|une|deux|trois|quatre|cinq|six|sept|huit|dix|douze|quinze|trente|one|two|three|four|five|six|"
    r"seven|eight|ten|twelve|fifteen|thirty)\s*[- ]?\s*(?:(?:working|business|calendar|clear|full)\s+)?(h|heures?|hours?|hrs?|jours?|days?|semaines?|weeks?|mois|months?|"
    r"ans?|annees?|years?)\b")
MONEY = re.compile(r"(\d[\d\s.,]*)\s*(k€|m€|millions?|milliards?|billion|million|€|eur|euros?)\b|€\s*(\d[\d.,]*)\s*(m|k|million)?")
PERCENT = re.compile(r"\b(\d{1,2}(?:[.,]\d)?)\s*(%|pour\s*cent|percent)")

WORD_NUMBERS = {"un": 1, "une": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3, "quatre": 4, "four": 4,
                "cinq": 5, "five": 5, "six": 6, "sept": 7, "seven": 7, "huit": 8, "eight": 8, "dix": 10, "ten": 10,
                "douze": 12, "twelve": 12, "quinze": 15, "fifteen": 15, "trente": 30, "thirty": 30}
UNIT_HOURS = {"h": 1, "heure": 1, "heures": 1, "hour": 1, "hours": 1, "hr": 1, "hrs": 1, "jour": 24, "jours": 24,
              "day": 24, "days": 24, "semaine": 168, "semaines": 168, "week": 168, "weeks": 168, "mois": 730,
              "month": 730, "months": 730, "an": 8760, "ans": 8760, "annee": 8760, "annees": 8760, "year": 8760,
              "years": 8760}


@dataclass(frozen=True)
class QuestionInfo:
    """What a question asks: its main type, whether it expects yes or no, what it names."""

    type: str
    yesno: bool
    articles: tuple[int, ...]
    durations: tuple[float, ...]  # in hours
    folded: str
    wants: frozenset = frozenset()  # every key fact asked for, also in other parts: {"deadline", "amount"}


def question_type(question: str) -> str:
    """The main type of a question (one of TYPES)."""
    return analyze_question(question).type


def asked_sentence(folded: str) -> str:
    """The sentence that asks: the last one ending with '?', else the last one.

    Long situational messages tell the situation first ("We are ... . Can we ...?").
    """
    parts = [p for p in re.split(r"(?<=[.!?])\s+", folded) if p.strip()]
    return next((p for p in reversed(parts) if p.rstrip().endswith("?")), parts[-1] if parts else folded)


def analyze_question(question: str) -> QuestionInfo:
    """Type, yes/no expectation, named articles and asserted durations of a question."""
    q = " ".join(fold(question).split())
    asked = asked_sentence(q)
    kind = "other"
    for name, pattern in (("amount", _AMOUNT), ("deadline", _DEADLINE), ("comparison", _COMPARISON),
                          ("definition", _DEFINITION), ("who", _WHO), ("steps", _STEPS), ("list", _LIST)):
        if pattern.search(asked) if name not in ("definition", "who") else (pattern.search(asked.strip())):
            kind = name
            break
    yesno = bool(_YESNO.search(asked.strip())) and not _WH.match(asked.strip()) and not _OPEN.search(asked)
    if kind == "other" and yesno:
        kind = "yesno"
    wants = {name for name, pattern in (("deadline", _DEADLINE), ("amount", _AMOUNT)) if pattern.search(q)}
    if _WHEN.search(q):
        wants.add("deadline")
    return QuestionInfo(type=kind, yesno=yesno, articles=tuple(int(n) for n in ARTICLE_MENTION.findall(q)),
                        durations=tuple(durations_in(q)), folded=q, wants=frozenset(wants))


def duration_spans(text: str) -> list[tuple[float, str]]:
    """Durations named in a text, in hours, with the words that say them: [(72.0, '72 heures'), ...]."""
    folded = fold(text)
    same_positions = len(folded) == len(text)
    out = []
    for m in DURATION.finditer(folded):
        num, unit = m.group(1), m.group(2)
        n = WORD_NUMBERS.get(num)
        if n is None:
            try:
                n = int(num)
            except ValueError:
                continue
        hours = float(n * UNIT_HOURS.get(unit, 0))
        if hours > 0:
            out.append((hours, text[m.start():m.end()] if same_positions else m.group(0)))
    return out


# An age ("un jeune de 14 ans", "under 15", "a 13-year-old") is a number of years but not a period.
_AGE_BEFORE = re.compile(r"\b(age|aged|agee?s?|enfants?|jeunes?|mineurs?|ados?|adolescents?|eleves?|minors?|"
                         r"child(ren)?|kids?|teens?|teenagers?|majorite(\s+numerique)?)\s+"
                         r"((de|of|a|is|est|c.est|fixee?|set|at)\s+){0,3}((moins|plus)\s+de\s+|under\s+|over\s+)?"
                         r"(\d{1,2}\s+(ou|or|a|to)\s+)?$")


def is_age(text: str, words: str) -> bool:
    """Whether the years named by ``words`` (a span of ``text``) are someone's age rather than a period."""
    folded, span = fold(text), fold(words)
    if not re.search(r"\b(ans?|annees?|years?)\b", span):
        return False
    at = folded.find(span)
    if at < 0:
        return False
    if _AGE_BEFORE.search(folded[max(0, at - 40):at]) or \
            folded[at + len(span):at + len(span) + 4].startswith(("-old", " old")):
        return True
    # A small number of years in a sentence about an age ("la France a fixe l'age a 15 ans : le RGPD
    # retient 16 ans par defaut") is an age too, even where the words just before it do not say so.
    number = re.match(r"\d+", span)
    if not number or int(number.group()) > 21:
        return False
    kind = duration_kind(text, words)
    if kind == "kept" or (kind == "deadline" and not _UNDER_BEFORE.search(folded[max(0, at - 12):at])):
        return False  # "kept 3 years", "within 2 years": a period, whatever the sentence is about
    stops = [m.end() for m in _SENTENCE_END.finditer(folded, 0, at)]
    end = _SENTENCE_END.search(folded, at)
    return bool(_AGE_WORD.search(folded[stops[-1] if stops else 0:end.start() if end else len(folded)]))


_AGE_WORD = re.compile(r"\b(l.age|ages?|majorite|years?\s+old|year-olds?|ans\s+revolus)\b")
_SENTENCE_END = re.compile(r"(?<!\bart)(?<!\bal)(?<!\bp)\.(?=\s|$)|[;?!\n]")
_UNDER_BEFORE = re.compile(r"\b(sous|under)\s*$")  # "sans descendre sous 13 ans": an age, not a deadline


# What a duration measures, from the words before it: a deadline to act ("within 72 hours", "sous 15 jours")
# or how long something is kept ("kept for 10 years", "conserver 3 ans"). A deadline never corrects a
# retention period, nor the reverse.
_DEADLINE_BEFORE = re.compile(r"\b(within|under|no\s+later\s+than|sous|dans|d.ici|au\s+plus\s+tard|delai|deadline)"
                              r"(\s+(un|une|les|le|la|a|the|de|d.un|d.une|maximal|maximum|of))*\s*(d.)?$")
_KEPT_BEFORE = re.compile(r"\b(kept|keep|keeping|retain\w*|stored?|garde\w*|conserv\w*|archiv\w*)\b[^.;:]{0,45}$"
                          r"|\b(for|pendant|durant|during)(\s+(un|une|les|le|la|a|the|de|up\s+to|jusqu.a))*\s*$")


# The end of a range ("collégiens/lycéens (11-17 ans)", "entre 3 et 5 ans") describes who or what: it states
# no single figure of its own.
_RANGE_BEFORE = re.compile(r"(\d+\s*(-|–|a|to)\s*|entre\s+\d+\s+et\s+|between\s+\d+\s+and\s+|from\s+\d+\s+to\s+)$")


def is_range_end(text: str, words: str) -> bool:
    """Whether the duration ``words`` in ``text`` closes a range ("11-17 ans", "between 3 and 5 years")."""
    folded, span = fold(text), fold(words)
    at = folded.find(span)
    return at >= 0 and bool(_RANGE_BEFORE.search(folded[max(0, at - 20):at]))


def duration_kind(text: str, words: str) -> str:
    """'deadline', 'kept' or '' (unknown) for the duration ``words`` in ``text``."""
    folded, span = fold(text), fold(words)
    at = folded.find(span)
    if at < 0:
        return ""
    before = folded[max(0, at - 60):at]
    if _DEADLINE_BEFORE.search(before):
        return "deadline"
    if _KEPT_BEFORE.search(before):
        return "kept"
    return ""


def durations_in(text: str) -> list[float]:
    """Durations named in a text, in hours: '72 heures' -> 72, 'un mois' -> 730."""
    return [h for h, _ in duration_spans(text)]


def has_duration(text: str) -> bool:
    """True when a text states a duration or deadline."""
    return bool(DURATION.search(fold(text)))


def has_amount(text: str) -> bool:
    """True when a text states a sum of money or a percentage."""
    t = fold(text)
    return bool(MONEY.search(t) or PERCENT.search(t))
