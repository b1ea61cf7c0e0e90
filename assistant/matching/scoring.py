"""Partner matching (pure, deterministic, explained): hard filters, a weighted score, fairness, reasons.

    rank(need, partners, similarities, today) -> [Match]   best first

1. Hard filters: the partner is active, speaks the visitor's language, covers the visitor's region
   when on-site work is needed, holds a valid DPO certification when one is required, and has lead
   capacity left this month. A partner failing one is never suggested, whatever its score.
2. Score in [0, 1]: the weighted sum of the components in ``WEIGHTS`` (each component in [0, 1]):

    sector        0.20  the visitor's sector is one the partner works in
    specialisms   0.25  share of the specialisms the need calls for that the partner has
    size          0.10  the partner serves companies of the visitor's headcount band
    certification 0.10  a DPO-skills certification that has not expired (an expired one counts 0)
    budget        0.10  the partner's price band fits the visitor's budget (1 same, 0.5 one band away)
    region        0.10  on-site coverage of the visitor's region
    text          0.15  cosine similarity of the need's text to the partner's profile (same embedder
                        as the answers), negative similarities counted as 0

   Specialisms weigh most because they are what the visitor asks for; text similarity catches what
   the fixed lists miss; the rest refine.
3. Fairness: partners whose scores lie within ``TIE_MARGIN`` of the best of their group are treated
   as equals and ordered by lowest current load (leads this month), then least recently assigned
   (never assigned first), then id: referrals spread among equals instead of always going to the
   same firm.
4. Reasons: the components that contributed most (up to three), as short texts for the visitor.

No database, no web, no model here: the service gives partner snapshots and similarities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from ..texts import N_, translate

PARTNER_KINDS = ("external_dpo", "consultant", "lawyer")
SECTORS = ("health", "retail", "industry", "finance", "public", "education", "tech", "nonprofit", "hospitality",
           "construction", "transport", "services")
SPECIALISMS = ("health", "hr", "marketing", "cctv", "minors", "transfers", "security", "ai")
COMPANY_SIZES = ("1-9", "10-49", "50-249", "250+")
# French regions (ISO 3166-2:FR codes of the 13 metropolitan regions) and the overseas departments.
REGIONS = ("ARA", "BFC", "BRE", "CVL", "COR", "GES", "HDF", "IDF", "NOR", "NAQ", "OCC", "PDL", "PAC", "DOM")
LANGUAGES = ("fr", "en", "de", "es", "it")
BUDGETS = ("low", "medium", "high")
PRICING_MODELS = ("hourly", "fixed", "subscription")
# Kinds of data a visitor can tick, and the specialism each one calls for.
DATA_KINDS = {"health": "health", "employees": "hr", "customers": "marketing", "video": "cctv", "children": "minors",
              "abroad": "transfers", "security": "security", "ai": "ai"}

WEIGHTS = {"sector": 0.20, "specialisms": 0.25, "size": 0.10, "certification": 0.10, "budget": 0.10,
           "region": 0.10, "text": 0.15}
TIE_MARGIN = 0.02
MAX_REASONS = 3

REASONS = {
    "sector": N_("Works with organisations in your sector"),
    "specialisms": N_("Specialised in what you need: %(items)s"),
    "size": N_("Used to companies of your size"),
    "certification": N_("Certified DPO skills (%(body)s, valid until %(until)s)"),
    "budget": N_("Pricing within your budget"),
    "region": N_("Can come on site in your region"),
    "text": N_("Profile close to the need you described"),
}
SPECIALISM_LABELS = {
    "health": N_("health data"), "hr": N_("HR and employee data"), "marketing": N_("marketing and customers"),
    "cctv": N_("video surveillance"), "minors": N_("children's data"), "transfers": N_("transfers outside the EU"),
    "security": N_("security and breaches"), "ai": N_("artificial intelligence"),
}


@dataclass(frozen=True)
class PartnerSnapshot:
    """What matching needs to know about one partner (read from the directory, no contact data)."""

    id: str
    name: str
    kind: str = "external_dpo"
    sectors: frozenset[str] = frozenset()
    specialisms: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()  # on-site coverage
    languages: frozenset[str] = frozenset({"fr"})
    sizes: frozenset[str] = frozenset()
    budget: str = "medium"
    certification_body: str | None = None
    certified_until: date | None = None
    capacity: int = 10  # leads a month
    active: bool = True
    load: int = 0  # leads offered this month
    last_assigned_at: datetime | None = None

    def certified(self, today: date) -> bool:
        """True when the partner holds a DPO-skills certification valid on ``today``."""
        return self.certified_until is not None and self.certified_until >= today


@dataclass(frozen=True)
class Need:
    """What the visitor asks for (validated by the form)."""

    sector: str | None = None  # None (a chat question): no partner gets the component
    size: str | None = None
    region: str | None = None
    language: str = "fr"
    specialisms: frozenset[str] = frozenset()
    budget: str | None = None
    on_site: bool = False
    certification_required: bool = False
    text: str = ""


@dataclass(frozen=True)
class Match:
    """One partner suggested for a need: score in [0, 1], the components behind it, the top reasons."""

    partner: PartnerSnapshot
    score: float
    components: dict[str, float] = field(hash=False, compare=False)
    reasons: tuple[str, ...] = ()  # component names, most important first

    @property
    def id(self) -> str:
        """The partner's id."""
        return self.partner.id

    def why(self, lang: str, need: Need | None = None, today: date | None = None) -> list[str]:
        """The reasons as texts in ``lang``."""
        out = []
        for r in self.reasons:
            if r == "specialisms":
                wanted = sorted(need.specialisms & self.partner.specialisms) if need else sorted(self.partner.specialisms)
                items = ", ".join(translate(lang, SPECIALISM_LABELS[s]) for s in wanted)
                out.append(translate(lang, REASONS[r], items=items))
            elif r == "certification":
                until = self.partner.certified_until.isoformat() if self.partner.certified_until else ""
                out.append(translate(lang, REASONS[r], body=self.partner.certification_body or "", until=until))
            else:
                out.append(translate(lang, REASONS[r]))
        return out

    def to_dict(self, lang: str, need: Need | None = None) -> dict:
        """The contract's ``{id, name, score, why}``."""
        return {"id": self.partner.id, "name": self.partner.name, "score": round(self.score, 2),
                "why": self.why(lang, need)}


# Words of a question or need that call for a specialism (accent-folded, lower case).
SPECIALISM_WORDS = {
    "health": r"sante|medical|patient|hopital|clinique|health|hospital|clinic",
    "hr": r"salarie|employe|recrutement|rh\b|ressources humaines|employee|staff|recruit|\bhr\b",
    "marketing": r"prospection|marketing|newsletter|cookie|client|customer|e-?commerce",
    "cctv": r"video|camera|cctv|surveillance",
    "minors": r"mineur|enfant|eleve|child|minor|pupil",
    "transfers": r"transfert|hors (de l.)?ue|etats-unis|transfer|outside the eu|cloud",
    "security": r"violation|fuite|pirat|rancon|securite|breach|hack|leak|ransom|security",
    "ai": r"\bia\b|intelligence artificielle|\bai\b|artificial intelligence|algorithm",
}
_SPECIALISM_RE = {k: re.compile(v) for k, v in SPECIALISM_WORDS.items()}


def specialisms_in(folded_text: str) -> frozenset[str]:
    """The specialisms an (accent-folded, lower-case) text calls for."""
    return frozenset(k for k, rx in _SPECIALISM_RE.items() if rx.search(folded_text))


def refusal(need: Need, p: PartnerSnapshot, today: date) -> str | None:
    """The hard filter ``p`` fails for ``need`` (a short code), or None when it may be suggested."""
    if not p.active:
        return "paused"
    if need.language not in p.languages:
        return "language"
    if need.on_site and need.region not in p.regions:
        return "region"
    if need.certification_required and not p.certified(today):
        return "certification"
    if p.load >= p.capacity:
        return "capacity"
    return None


def components(need: Need, p: PartnerSnapshot, similarity: float, today: date) -> dict[str, float]:
    """Each weighted component in [0, 1] for ``p`` and ``need``."""
    if need.specialisms:
        spec = len(need.specialisms & p.specialisms) / len(need.specialisms)
    else:
        spec = 0.0
    if need.budget is None:
        budget = 1.0  # no budget stated: every band fits
    else:
        gap = abs(BUDGETS.index(need.budget) - BUDGETS.index(p.budget))
        budget = 1.0 if gap == 0 else 0.5 if gap == 1 else 0.0
    return {
        "sector": 1.0 if need.sector in p.sectors else 0.0,
        "specialisms": spec,
        "size": 1.0 if need.size in p.sizes else 0.0,
        "certification": 1.0 if p.certified(today) else 0.0,
        "budget": budget,
        "region": 1.0 if need.region in p.regions else 0.0,
        "text": min(1.0, max(0.0, float(similarity))),
    }


def score_partner(need: Need, p: PartnerSnapshot, similarity: float, today: date) -> Match:
    """The weighted score of ``p`` for ``need`` with its top reasons (no filter applied)."""
    comps = components(need, p, similarity, today)
    total = sum(WEIGHTS[k] * v for k, v in comps.items())
    # Reasons: what contributed, biggest contribution first (ties in WEIGHTS order: stable).
    contributed = sorted((k for k, v in comps.items() if v > 0 and (k != "text" or v >= 0.3)),
                         key=lambda k: -WEIGHTS[k] * comps[k])
    if need.budget is None and "budget" in contributed:
        contributed.remove("budget")  # "within your budget" means nothing when none was given
    return Match(p, round(total, 6), comps, tuple(contributed[:MAX_REASONS]))


def fairness_key(m: Match) -> tuple:
    """Among equals: lowest load, then least recently assigned (never first), then id."""
    last = m.partner.last_assigned_at
    return (m.partner.load, 0 if last is None else 1, last.timestamp() if last else 0.0, m.partner.id)


def order_fairly(matches: list[Match], margin: float = TIE_MARGIN) -> list[Match]:
    """Best score first; scores within ``margin`` of their group's best are equals, ordered by ``fairness_key``."""
    rest = sorted(matches, key=lambda m: (-m.score, m.partner.id))
    out: list[Match] = []
    while rest:
        top = rest[0].score
        group = [m for m in rest if m.score >= top - margin - 1e-9]
        rest = rest[len(group):]
        out.extend(sorted(group, key=fairness_key))
    return out


def rank(need: Need, partners: list[PartnerSnapshot], similarities: dict[str, float] | None = None,
         today: date | None = None, limit: int = 3, exclude: frozenset[str] | set[str] = frozenset()) -> list[Match]:
    """The ``limit`` best partners for ``need`` that pass the hard filters, fairly ordered."""
    today = today or date.today()
    similarities = similarities or {}
    matches = [score_partner(need, p, similarities.get(p.id, 0.0), today) for p in partners
               if p.id not in exclude and refusal(need, p, today) is None]
    return order_fairly(matches)[:limit]
