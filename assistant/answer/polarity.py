"""Yes/no answers decided from the visitor's question against the source's question (pure).

An FAQ item answers its own title ("Faut-il le consentement pour prospecter des particuliers ?"
-> "Oui"). The visitor may ask the same thing the other way round ("Peut-on écrire à des
particuliers sans leur accord ?"), and then the right answer is the opposite word. We compare the
two questions' modality (permission or obligation) and negation; when the relation is clear the
source's yes/no is kept or flipped, otherwise no yes/no word is given and the rule itself leads.
"""

from __future__ import annotations

import re

from ..retrieval.query import asked_sentence
from ..retrieval.text import fold
from ..texts import N_

NEGATION = re.compile(r"\b(ne|n|pas|sans|aucun|aucune|jamais|plus\s+de|ni|not|no|without|never|cannot|can.t|"
                      r"don.t|doesn.t|isn.t|aren.t|won.t|shouldn.t|mustn.t|needn.t|non)\b")
PERMISSION = re.compile(r"\b(peut|peux|peuvent|pouvons|pouvez|puis|pouvoir|possible|"
                        r"(?:a|ai|as|avons|avez|ont|on\s+a|a[- ]t[- ]on|ai[- ]je)\s+le\s+droit|autorise[es]?|"
                        r"permis|legal|legale|licite|can|may|allowed|permitted|lawful|legal|ok|okay)\b")
OBLIGATION = re.compile(r"\b(doit|dois|doivent|devons|devez|faut|obligatoire|obligatoires|oblige[es]?|obligation|tenu|"
                        r"tenus|tenue|exige|imposee?|necessaire|must|need|needs|have\s+to|has\s+to|required|mandatory|"
                        r"obliged|compulsory|necessary|should)\b")
# Words that carry a negation in their meaning: "échappe au RGPD" / "is exempt from" ask whether something is
# NOT covered or NOT required; "interdit" / "forbidden" whether it is NOT allowed.
NOT_ALLOWED_WORDS = r"interdite?s?|interdi\w*|prohibe\w*|forbidden|prohibited|banned|illegal|illegale?s?|illicite?s?"
NOT_REQUIRED_WORDS = r"exempt\w*|dispense\w*"
COVERAGE = r"(?:du\s+|de\s+|the\s+)?(?:champ|rgpd|gdpr|perimetre|scope)"
NOT_COVERED_WORDS = (r"echappe\w*|escape\w*|hors\s+" + COVERAGE + r"|exclue?s?\s+(?:du|de)\s+" + COVERAGE +
                     r"|outside\s+" + COVERAGE + r"|excluded\s+from\s+" + COVERAGE)
# "Alone" asks "without anyone else": "un ado peut-il s'inscrire seul ?" is "sans ses parents ?". It is the
# same negation as a "sans" beside it, not a second one that cancels it. "Le seul", "un seul" mean "only".
ALONE = re.compile(r"\b(?:tout|toute|tous|toutes)\s+seule?s?\b|(?<!\ble )(?<!\bla )(?<!\bles )(?<!\bun )(?<!\bune )"
                   r"(?<!\bmon )(?<!\bson )(?<!\bnotre )(?<!\bvotre )(?<!\bleur )\bseule?s?\b|\balone\b|"
                   r"\bon\s+(?:his|her|their|its|my|our|your)\s+own\b|\bby\s+(?:him|her|them|my|our|your)sel(?:f|ves)\b")
NOT_ALLOWED = re.compile(r"\b(" + NOT_ALLOWED_WORDS + r")\b")
NOT_REQUIRED = re.compile(r"\b(" + NOT_REQUIRED_WORDS + r")\b")
NEGATIVE_PREDICATE = re.compile(r"\b(" + "|".join((NOT_ALLOWED_WORDS, NOT_REQUIRED_WORDS, NOT_COVERED_WORDS)) + r")\b")
QUALIFIER = (r"(?:en\s+principe|en\s+regle\s+generale|en\s+règle\s+générale|en\s+general|en\s+général|le\s+plus\s+souvent|"
             r"dans\s+la\s+plupart\s+des\s+cas|in\s+principle|as\s+a\s+rule|generally|in\s+most\s+cases|usually)")
YES_NO_START = re.compile(r"^\s*(\*\*)?(?:(" + QUALIFIER + r")\s*,?\s*)?(oui|non|yes|no)\b(\*\*)?\s*[,.:;!]?\s*"
                          r"(?:(" + QUALIFIER + r")\s*[,.:;]\s*)?", re.I)
YES = N_("Yes")  # translated where the answer is composed
NO = N_("No")


# Causal clauses give the visitor's reasons, not the question: "On peut refuser vu que c'est pas pour sa vie
# privée ?" asks whether one may refuse; the "pas" belongs to the reason.
CAUSAL = re.compile(r"[,;]?\s+\b(vu\s+que|parce\s+que|puisque|puisqu|car|etant\s+donne\s+qu\w*|because|since|given\s+that|"
                    r"so\s+that|so\s+we|so\s+i|pour\s+ne\s+pas|pour\s+pas|afin\s+de\s+ne\s+pas|pour\s+eviter)\b")
# "Do we need consent, or are these cookies exempt?", "c'est légal ou toujours interdit ?": an either-or
# question gets no bare yes/no.
ALTERNATIVE = re.compile(r"\b(ou|or)\s+(c.est|est[- ]ce|est[- ]il|est[- ]elle|is|are|do|does|toujours|bien|plutot|rather|"
                         r"on\s+(?:doit|peut|est|a)|il\s+faut|faut|je\s+(?:dois|peux)|nous\s+(?:devons|pouvons)|"
                         r"we\s+(?:must|have|need|should|can)|"
                         r"faut[- ]il|doit[- ]on|peut[- ]on|can|must|should|it.?s|it\s+is|ca)\b")
# "Is that OK?" / "c'est légal ?" after a description asks about the visitor's own practice (all calls
# recorded, kept forever), not the general case the source answers ("Can we record calls?" -> "Yes,
# occasionally and for a purpose"): a bare "Yes" would approve what the conditions may rule out.
PRACTICE = re.compile(r"\b(?:is\s+(?:that|this|it)|are\s+(?:these|those|they)|would\s+(?:that|this|it)\s+be|"
                      r"(?:est[- ]ce\s+que\s+)?(?:c\s*'?\s*est|ca\s+(?:passe|va)|cela\s+est)|ca\s+(?:passe|va))\s+"
                      r"(?:(?:bien|vraiment|really|actually|still|even|alors|du\s+coup)\s+)?"
                      r"(?:ok|okay|fine|legal|legale|lawful|allowed|permitted|compliant|conforme|autorise|permis|bon|jouable|possible)\b")
NUMBER_SIGN = re.compile(r"\bn\s*[°º]|\bno\.\s*(?=\d)")


def asked(question: str) -> str:
    """The clause that asks (folded): the last sentence ending with '?', without its causal clause.

    Long messages describe a situation first ("Personne en interne n'a le temps. Peut-on ...?"): the
    negations and modal verbs of that description say nothing about what is asked.
    """
    clause = asked_sentence(NUMBER_SIGN.sub(" numero ", " ".join(fold(question).split())))
    m = CAUSAL.search(clause)
    if m and m.start() > 0:
        clause = clause[:m.start()] + " ?"
    return clause


def modality(question: str) -> str:
    """'permission', 'obligation' or '' for a question."""
    q = asked(question)
    if NOT_REQUIRED.search(q):
        return "obligation"
    if NOT_ALLOWED.search(q):
        return "permission"
    if OBLIGATION.search(q):
        return "obligation"
    if PERMISSION.search(q):
        return "permission"
    return ""


TAGS = re.compile(r"\b(ou\s+pas|ou\s+non|oui\s+ou\s+non|or\s+not|yes\s+or\s+no|non\s*\?|n.est[- ]ce\s+pas|"
                  r"isn.t\s+it|aren.t\s+we|don.t\s+we|right\s*\?)")


def negated(question: str) -> bool:
    """Whether a question is asked in the negative ("sans leur accord", "not required").

    Question tags ("ou pas ?", "non ?", "isn't it?") ask for confirmation; they negate nothing.
    """
    q = TAGS.sub(" ", asked(question)).replace("n'", "n ")
    return (bool(NEGATION.search(q)) != bool(NEGATIVE_PREDICATE.search(q))) or bool(ALONE.search(q))


def source_answer(text: str) -> tuple[bool | None, str]:
    """The yes/no a source's answer starts with (None when it does not), and the text without it.

    A qualifier that goes with the word ("En principe, non", "Oui, en règle générale.") goes with it.
    """
    m = YES_NO_START.match(text)
    if not m:
        return None, text
    word = m.group(3).lower()
    rest = text[m.end():].lstrip()
    if rest:
        rest = rest[0].upper() + rest[1:]
    return word in ("oui", "yes"), rest


def qualifier(text: str) -> str:
    """The qualifier a source puts on its yes/no ("En principe"), to keep with the decided word."""
    m = YES_NO_START.match(text)
    if not m:
        return ""
    q = m.group(2) or m.group(5) or ""
    return q[:1].upper() + q[1:] if q else ""


def relate(visitor: str, source_question: str) -> str:
    """How the visitor's question relates to the source's: 'same', 'opposite' or 'unknown'."""
    if ALTERNATIVE.search(asked(visitor)) or PRACTICE.search(asked(visitor)):
        return "unknown"
    mv, ms = modality(visitor), modality(source_question)
    nv, ns = negated(visitor), negated(source_question)
    if mv == ms:
        if not mv and nv != ns and not (NEGATIVE_PREDICATE.search(asked(visitor)) or
                                        NEGATIVE_PREDICATE.search(asked(source_question))):
            # Without a modal verb on either side, a bare "not" does not show that the two ask the same
            # thing the other way round: "...so the CNIL cannot fine us much, right?" is not the opposite
            # of "Is the maximum fine 4 % of profit?". A word that means the negation ("échappe au RGPD",
            # "exempt") does. No word is safer than the wrong one: the source's own question is quoted.
            return "unknown"
        return "same" if nv == ns else "opposite"
    if {mv, ms} == {"permission", "obligation"} and nv != ns:
        # "Can we do it without X?" / "Can we not do X?" is the negation of "Is X required?".
        return "opposite"
    return "unknown"


def decide(visitor: str, source_question: str, source_text: str) -> tuple[bool | None, str]:
    """The yes/no answer to the visitor (None when undecidable) and the source text without its own word."""
    answer, rest = source_answer(source_text)
    if answer is None:
        return None, source_text
    relation = relate(visitor, source_question)
    if relation == "same":
        return answer, rest
    if relation == "opposite":
        return (not answer), rest
    return None, rest
