"""Scope check before retrieval (pure): greetings, thanks, off-topic requests and injection attempts.

A question is in scope when it uses data-protection vocabulary. Without such vocabulary, a question
that matches an off-topic pattern (cooking, sport, divorce, tax, creative writing...) is out of scope
at once; anything else is decided after retrieval, by how close the nearest source is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieval.text import fold

# Prompt-injection and jailbreak attempts: never answered, whatever else the message says.
INJECTION = re.compile(r"""(
    \b(ignore|disregard|forget|oublie[zr]?|ignore[zr]?)\b.{0,40}\b(instructions?|consignes?|regles?|rules|prompt|previous|precedent|above|ci-dessus)\b
  | \b(system|systeme)\s*prompt\b | \bprompt\s+(systeme|system)\b
  | \b(print|show|reveal|repeat|display|affiche[zr]?|montre[zr]?|revele[zr]?|donne[zr]?(-moi)?|repete[zr]?)\b.{0,30}\b(your|tes|vos|ton|votre)\s+(instructions?|consignes?|prompt|configuration|rules|regles)\b
  | \b(you\s+are\s+now|tu\s+es\s+maintenant|vous\s+etes\s+maintenant|act\s+as|pretend\s+(to\s+be|you)|fais\s+semblant|joue\s+le\s+role)\b
  | \bjailbreak\b | \bDAN\b | \bdeveloper\s+mode\b | \bmode\s+developpeur\b
  | <\s*/?\s*(system|script|assistant)\b | \[\s*(system|inst)\s*\]
)""", re.I | re.X)

GREETING = re.compile(r"^\s*(bonjour|bonsoir|salut|coucou|hello|hi|hey|good\s+(morning|afternoon|evening)|yo)\b[\s!.,?]*"
                      r"((comment\s+(ca|vas?[- ]tu|allez[- ]vous)\s+va\??|how\s+are\s+you\??|ca\s+va\s*\??)[\s!.,?]*)?$", re.I)
THANKS = re.compile(r"^\s*(merci|thanks?|thank\s+you|super|parfait|top|great|ok|d'accord|cool)\b"
                    r"([\s!.,]*(beaucoup|a\s+vous|a\s+toi|bien|very\s+much|a\s+lot|so\s+much|merci))*[\s!.,]*$", re.I)

# Data-protection vocabulary (folded, matched as word prefixes). Any hit puts a question in scope.
DOMAIN = re.compile(r"\b(" + "|".join(r"""
    rgpd gdpr cnil dpo dpd delegue[a-z]*\s+a\s+la\s+protection data\s+protection privacy vie\s+privee
    donnees? data personnel[a-z]* personal informatique\s+et\s+libertes loi\s+informatique
    cookies? traceurs? trackers? bandeau consentement consent[a-z]* opt[- ]?in opt[- ]?out desinscri[a-z]* unsubscri[a-z]*
    newsletters? prospection prospect[a-z]* demarchage marketing e-?mailing mailing sms\s+publicitaires? bloctel
    videosurveillance videoprotection cameras? filmer film[eé]s? cctv surveillance geolocali[a-z]* biometri[a-z]* badgeuse
    cv candidat[a-z]* recrutement salarie[a-z]* employe[a-z]* employees? staff rh\b hr\b
    fichiers?\s+clients? base\s+de\s+donnees database crm registre register\s+of\s+processing records\s+of\s+processing
    aipd dpia pia analyse\s+d.impact impact\s+assessment violation[a-z]* breach[a-z]* fuite[a-z]* leak[a-z]* piratage pirat[a-z]* hack[a-z]*
    rancongiciel ransomware phishing hameconnage messagerie courriels? e-?mails? espion[a-z]* keyloggers? badges?
    sous[- ]traitan[a-z]* processors? controllers? responsable\s+du\s+traitement responsable\s+de\s+traitement traitements? processing
    droit\s+d.acces right\s+of\s+access droit\s+a\s+l.oubli right\s+to\s+be\s+forgotten effacement erasure portabilit[a-z]*
    rectification opposition\s+au\s+traitement right\s+to\s+object limitation\s+du\s+traitement restriction\s+of\s+processing
    transferts?\s+(de\s+donnees|hors|vers) transfers?\s+(of\s+data|outside|to) adequa[a-z]* clauses\s+contractuelles standard\s+contractual
    pseudonymi[a-z]* anonymi[a-z]* chiffrement encryption mots?\s+de\s+passe passwords?
    sanctions?\s+(de\s+la\s+)?cnil amendes?\s+(de\s+la\s+)?cnil amendes?\s+administratives? administrative\s+fines? mise\s+en\s+demeure
    controles?\s+(de\s+la\s+)?cnil inspection profilage profiling decision\s+automatisee automated\s+decision
    donnees\s+de\s+sante health\s+data donnees\s+sensibles special\s+categor[a-z]* nir numero\s+de\s+securite\s+sociale
    conservation retention duree\s+de\s+conservation archivage
    mentions?\s+d.information privacy\s+(notice|policy) politique\s+de\s+confidentialite information\s+notice
    interet\s+legitime legitimate\s+interest base\s+legale lawful\s+basis legal\s+basis
    """.split()) + r")", re.I)

OFF_TOPIC = re.compile(r"\b(" + "|".join(r"""
    recettes? recipe cuisine[rz]? cooking cook bake gateau cake
    football foot rugby tennis match sport[a-z]* score
    divorce[a-z]* garde\s+(de|des)\s+(mes|ses|nos)\s+enfants custody pension\s+alimentaire alimony mariage wedding
    impots? impot\s+sur tax\s+return income\s+tax tva\s+(taux|rate) declaration\s+de\s+revenus
    meteo weather capitale capital\s+of president\s+(de|of) elections?
    poemes? poems? poesie poetry chansons? songs? blagues? jokes? histoires?\s+droles? story\s+about
    horoscope film\s+(a\s+voir|to\s+watch) movie series?\s+tv voyages? travel vacances holidays
    """.split()) + r")", re.I)

REPLIES = {
    ("greeting", "fr"): ("Bonjour ! Je réponds aux questions sur le RGPD et la protection des données personnelles "
                         "(obligations, droits, CNIL). Posez-moi votre question."),
    ("greeting", "en"): ("Hello! I answer questions about the GDPR and personal data protection (obligations, "
                         "rights, the CNIL). What would you like to know?"),
    ("thanks", "fr"): "Avec plaisir. N'hésitez pas si vous avez une autre question sur le RGPD.",
    ("thanks", "en"): "You're welcome. Ask me anything else about the GDPR.",
    ("off_topic", "fr"): ("Je ne peux répondre qu'aux questions sur le RGPD et la protection des données "
                          "personnelles. Pour ce sujet, adressez-vous à un professionnel compétent."),
    ("off_topic", "en"): ("I can only answer questions about the GDPR and personal data protection. For this "
                          "topic, please ask a qualified professional."),
    ("injection", "fr"): ("Je ne peux pas faire cela. Je réponds uniquement aux questions sur le RGPD et la "
                          "protection des données personnelles."),
    ("injection", "en"): ("I can't do that. I only answer questions about the GDPR and personal data protection."),
}


@dataclass(frozen=True)
class ScopeDecision:
    """``verdict`` is in_scope, undecided (check retrieval), or one of greeting/thanks/off_topic/injection."""

    verdict: str
    domain_terms: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        """True when the question gets a fixed reply and no retrieval."""
        return self.verdict in ("greeting", "thanks", "off_topic", "injection")


def check_scope(question: str) -> ScopeDecision:
    """Classify a question before retrieval."""
    q = fold(question)
    if INJECTION.search(q):
        return ScopeDecision("injection")
    if GREETING.match(q):
        return ScopeDecision("greeting")
    if THANKS.match(q):
        return ScopeDecision("thanks")
    terms = tuple(m.group(0) for m in DOMAIN.finditer(q))
    if terms:
        return ScopeDecision("in_scope", terms)
    if OFF_TOPIC.search(q):
        return ScopeDecision("off_topic")
    return ScopeDecision("undecided")


def fixed_reply(verdict: str, lang: str) -> str:
    """The polite fixed reply for a refused question, in the user's language."""
    key = "off_topic" if verdict == "undecided" else verdict
    return REPLIES[(key, lang)]
