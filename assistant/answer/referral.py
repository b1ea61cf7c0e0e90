"""Referral trigger (pure): when should a visitor be offered a partner DPO, and why."""

from __future__ import annotations

import re

from ..retrieval.query import asked_sentence
from ..retrieval.text import fold
from ..texts import N_, translate

INTENT = re.compile(r"""(
    (trouver|cherch\w*|besoin|recommand\w*|conseill\w*\s+moi|mettre?\s+en\s+relation|mise?\s+en\s+relation|contacter|
     embaucher|recruter|externalis\w*|faire\s+appel|accompagn\w*|aide[rz]?\s+(moi|nous)|un\s+devis|
     find|need|looking\s+for|recommend|hire|outsourc\w*|external|put\s+me\s+in\s+touch|connect\s+me|get\s+help|quote)
    .{0,60}
    (dpo|dpd|delegue|consultant|avocat|juriste|expert|professionnel|cabinet|prestataire|
     data\s+protection\s+officer|lawyer|attorney|adviser|advisor|specialist|professional|firm)
  | (dpo|data\s+protection\s+officer|delegue\s+a\s+la\s+protection\s+des\s+donnees)\s+(externe|mutualise|external|outsourced|a\s+temps\s+partage)
)""", re.X)

# "Do we need a DPO?" asks whether the law requires one (art. 37), not for a professional: the referral
# then says what a partner DPO can do if one must (or is chosen to) be appointed.
DESIGNATION = re.compile(r"""(
    \b(do|does|would)\s+(we|i|you|my|our|a|an|the|small|every|each)\b.{0,40}\bneed\b.{0,25}\b(a|an)?\s*(dpo|data\s+protection\s+officer)\b
  | \b(is|are)\s+(we|i)\s+(required|obliged)\b.{0,30}\b(dpo|data\s+protection\s+officer)\b
  | \b(avons|ai|a)[- ](nous|je|t[- ]on)\s+besoin\b.{0,25}\b(dpo|dpd|delegue)
  | \b(faut[- ]il|doit[- ]on|dois[- ]je|devons[- ]nous|on\s+doit|je\s+dois|nous\s+devons|est[- ]ce\s+qu.(on|il\s+faut))\b.{0,40}\b(dpo|dpd|delegue)
  | \b(dpo|dpd)\s+(est\s+)?obligatoire
)""", re.X)

# Words of a search for a professional: with them, "do we need a DPO? can you find us one?" is a request.
SEEKING = re.compile(r"\b(trouver|cherch\w*|recommand\w*|conseill\w*\s+(moi|nous)|mise?\s+en\s+relation|mettre\s+en\s+relation|"
                     r"contacter|embaucher|recruter|faire\s+appel|devis|find|looking\s+for|recommend|hire|put\s+(me|us)\s+in\s+touch|"
                     r"connect\s+(me|us)|quote)\b")

# What makes a request for a professional a data-protection one (a lawyer for a divorce is not).
DATA_PROTECTION = re.compile(r"\b(dpo|dpd|rgpd|gdpr|cnil|delegue\s+a\s+la\s+protection|data\s+protection|"
                             r"protection\s+des\s+donnees|donnees\s+personnelles|personal\s+data|privacy)\b")

HIGH_STAKES = {
    "health": re.compile(r"(donnees\s+de\s+sante|donnees\s+medicales|health\s+data|medical\s+data|patients?)"
                         r".{0,80}(grande\s+echelle|large\s+scale|hopital|clinique|hospital|clinic|milliers|thousands)"
                         r"|(grande\s+echelle|large\s+scale).{0,60}(sante|health|medical)"),
    "breach": re.compile(r"(on\s+s.est\s+fait\s+(pirater|hacker|voler)|nous\s+avons\s+ete\s+(pirates|hackes)|"
                         r"fuite\s+(de\s+donnees\s+)?en\s+cours|rancongiciel|ransomware|cyberattaque|cyber-?attack|"
                         r"we(\s+have|'ve|\s+ve)?\s+(been|were|got)\s+(hacked|breached)|breach\s+(in\s+progress|just\s+happened)|"
                         r"(data|donnees).{0,40}(may\s+have\s+)?(leaked|been\s+stolen|ont\s+fuite|ont\s+ete\s+volees)|"
                         r"(our|nos|notre)\s+(donnees|data|serveur|server|site).{0,40}(pirat|hack|vol|stolen|leak|fuit))"),
    "dpia": re.compile(r"\b(aipd|dpia|pia|analyse\s+d.impact|impact\s+assessment)\b"),
    "transfer": re.compile(r"(transf\w+.{0,60}(hors\s+(de\s+l.)?ue|pays\s+tiers|etats?-unis|usa|chine|inde|third\s+countr|"
                           r"outside\s+the\s+(eu|eea|european)|united\s+states)|clauses\s+contractuelles\s+types|"
                           r"standard\s+contractual\s+clauses|\bbcr\b|binding\s+corporate\s+rules)"),
    "inspection": re.compile(r"(controle\s+(de\s+la\s+)?cnil|cnil\s+(inspection|audit|control)|inspection\s+(by|de)\s+the\s+cnil|"
                             r"mise\s+en\s+demeure|formal\s+notice|convoqu\w+\s+par\s+la\s+cnil|la\s+cnil\s+(nous|m).{0,20}"
                             r"(controle|contacte|ecrit|convoque)|the\s+cnil\s+(is\s+)?(inspecting|contacted|wrote))"),
}

REASONS = {
    "intent": N_("You are looking for a professional: here are partner DPOs who can help."),
    "designation": N_("If you must appoint a DPO, or choose to, a partner DPO can take on the role."),
    "low_confidence": N_("I have no reliable answer: a partner DPO can look at your situation."),
    "health": N_("Health data at scale calls for professional support (DPIA, hosting, DPO)."),
    "breach": N_("A data breach in progress is urgent (72 hours to notify the authority): get help now."),
    "dpia": N_("A data protection impact assessment (DPIA) is best done with a professional."),
    "transfer": N_("Transfers outside the EU need a case-by-case legal analysis."),
    "inspection": N_("Facing a CNIL inspection or formal notice, get professional support."),
}


def asks_for_dpo(question: str) -> bool:
    """True when the visitor asks to be put in touch with a data-protection professional (always in scope)."""
    q = fold(question)
    return bool(INTENT.search(q) and DATA_PROTECTION.search(q))


def seeks_dpo(question: str) -> bool:
    """True when the message asks for a data-protection professional, not merely mentions one: the intent is
    in the sentence that asks, or a seeking word is there ("on cherche un DPO externe"). "We pay an outsourced
    DPO: is it tax-deductible?" mentions one and asks about tax."""
    q = fold(question)
    return asks_for_dpo(asked_sentence(q)) or (asks_for_dpo(q) and bool(SEEKING.search(q)))


def referral_reason(question: str, status: str) -> str | None:
    """The reason code to offer a partner DPO (intent, high-stakes topic, low confidence), or None."""
    q = fold(question)
    if DESIGNATION.search(q):
        return "intent" if SEEKING.search(q) else "designation"
    if INTENT.search(q):
        return "intent"
    for topic, pattern in HIGH_STAKES.items():
        if pattern.search(q):
            return topic
    if status == "no_answer":
        return "low_confidence"
    return None


def build_referral(question: str, status: str, lang: str, partners: list[dict] | None = None) -> dict | None:
    """The contract's ``referral`` block (partners come from the matching module when it is wired)."""
    reason = referral_reason(question, status)
    if reason is None:
        return None
    return {"reason": translate(lang, REASONS[reason]), "code": reason, "partners": partners or []}
