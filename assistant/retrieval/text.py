"""Text analysis shared by the lexical index and query expansion (pure): folding, tokens, stems, language."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

TOKEN = re.compile(r"[a-z0-9]+")

STOPWORDS = {
    "fr": set("""a au aux avec ce ces cet cette dans de des du elle en et est etre eux il ils je la le les leur
        leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta
        te tes toi ton tu un une vos votre vous y d l j m n s t c qu quel quelle quels quelles comment quoi est-ce
        sont ete etait fait faire peut peuvent doit doivent dois faut il y ai as avons avez ont suis es sommes etes
        ca cela ceci tout tous toute toutes plus tres si non oui alors donc car ni soit""".split()),
    "en": set("""a an the and or of to in on at by for with from is are was were be been being it its this that
        these those as i you he she we they me my our your their them what which who whom how when where why do
        does did done can could shall should will would may might must has have had having not no yes if then so
        than there here about into over under any all some such each other only own same too very just also""".split()),
}

FRENCH_MARKERS = set("""le la les des du un une est et pour dans que qui sur pas ne mes mon ma nos notre vous nous
    je j c qu quelles quels quelle comment peut doit faut entreprise donnees donnee personnelles caractere
    delai droit droits salaries salarie traitement responsable sous-traitant ou au aux avec sans""".split())
ENGLISH_MARKERS = set("""the is are what which who how does do can must should of to for and a an my our your
    data personal controller processor right rights company employees processing breach notify when where
    with without any""".split())


def fold(text: str) -> str:
    """Lowercase and strip accents (é -> e, œ -> oe) so 'Données' and 'donnees' match."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("’", "'")
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in nfkd if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Folded word tokens."""
    return TOKEN.findall(fold(text))


_LOCAL = threading.local()


def _stemmer(lang: str):
    # A Snowball stemmer keeps state between calls: one instance per thread, never shared.
    stemmers = getattr(_LOCAL, "stemmers", None)
    if stemmers is None:
        stemmers = _LOCAL.stemmers = {}
    st = stemmers.get(lang)
    if st is None:
        st = stemmers[lang] = snowballstemmer.stemmer("french" if lang == "fr" else "english")
    return st


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str) -> str:
    """The Snowball stem of one folded word (cached: the pure-Python stemmer is the hot spot)."""
    return _stemmer(lang).stemWord(word)


# Everyday and clipped words visitors type, mapped to the word the corpus uses (applied to the
# corpus and to questions alike, like a synonym filter): "donnée perso", "le boulot", "la sécu".
COLLOQUIAL = {
    "fr": {"perso": "personnel", "persos": "personnel", "pro": "professionnel", "pros": "professionnel",
           "boulot": "travail", "bosser": "travailler", "bossent": "travaillent", "bosse": "travaille",
           "secu": "securite", "mail": "email", "mails": "email", "courriel": "email", "courriels": "email",
           "appli": "application", "applis": "application", "infos": "information", "info": "information",
           "dpd": "dpo", "boite": "entreprise", "boites": "entreprise", "taf": "travail", "pc": "ordinateur",
           "ordi": "ordinateur", "camera": "camera", "cams": "camera", "video": "video", "pub": "publicite",
           "pubs": "publicite", "promo": "publicite", "promos": "publicite", "sms": "sms"},
    "en": {"e-mail": "email", "emails": "email", "mails": "email", "mail": "email", "info": "information",
           "app": "application", "apps": "application", "cctv": "camera", "cameras": "camera",
           "dpd": "dpo", "ads": "advertising", "ad": "advertising", "promo": "advertising"},
}


def analyze(text: str, lang: str) -> list[str]:
    """Tokens without stopwords, stemmed for ``lang``: the terms of the lexical index."""
    stop = STOPWORDS[lang]
    colloquial = COLLOQUIAL[lang]
    return [stem(colloquial.get(t, t), lang) for t in tokens(text) if t not in stop and (len(t) > 1 or t.isdigit())]


def detect_language(text: str, default: str = "fr") -> str:
    """'fr' or 'en' from marker words and accents; ``default`` when it cannot tell."""
    toks = tokens(text)
    fr = sum(t in FRENCH_MARKERS for t in toks)
    en = sum(t in ENGLISH_MARKERS for t in toks)
    fr += sum(ch in "éèêàùçôîœ" for ch in text.lower()) * 0.5
    fr += 0.5 * len(re.findall(r"\b[ldjcnsmt]'", text.lower()))
    if fr > en:
        return "fr"
    if en > fr:
        return "en"
    return default
