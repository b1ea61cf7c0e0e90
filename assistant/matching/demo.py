"""A demo directory of clearly fictional partners (`gdpr-assistant partners load-demo`, run by `make run`).

Every name ends in "(fictif)" and every address is at example.org (RFC 2606: never a real mailbox).
Loading is idempotent: a demo partner already there (same e-mail) is left as it is.
"""

from __future__ import annotations

from datetime import date

DEMO_PARTNERS = [
    dict(name="Exemple Conseil (fictif)", kind="external_dpo", email="dpo@exemple-conseil.example.org",
         profile="DPO externe pour cliniques, cabinets médicaux et laboratoires : registre, AIPD, hébergement de "
                 "données de santé (HDS), sécurité.",
         sectors=["health", "services"], specialisms=["health", "security"], regions=["IDF", "HDF"],
         languages=["fr", "en"], sizes=["1-9", "10-49", "50-249"], pricing_model="subscription", budget_band="medium",
         certification_body="AFNOR Certification", certification_number="DPO-0001-FICTIF",
         certified_until=date(2028, 6, 30), capacity=20),
    dict(name="Cabinet Démo Avocats (fictif)", kind="lawyer", email="contact@demo-avocats.example.org",
         profile="Avocats en droit des données : contrôles et mises en demeure de la CNIL, transferts hors UE, "
                 "contrats de sous-traitance, contentieux.",
         sectors=["finance", "tech", "industry"], specialisms=["transfers", "security", "ai"], regions=["IDF", "ARA"],
         languages=["fr", "en"], sizes=["50-249", "250+"], pricing_model="hourly", budget_band="high",
         certification_body=None, certification_number=None, certified_until=None, capacity=10),
    dict(name="Atelier RGPD Ouest (fictif)", kind="consultant", email="bonjour@atelier-rgpd-ouest.example.org",
         profile="Mise en conformité des TPE et PME : commerces, artisans, associations ; prospection, "
                 "newsletters, cookies, vidéosurveillance.",
         sectors=["retail", "nonprofit", "hospitality", "construction"], specialisms=["marketing", "cctv"],
         regions=["BRE", "PDL", "NOR"], languages=["fr"], sizes=["1-9", "10-49"], pricing_model="fixed",
         budget_band="low", certification_body="Bureau Veritas", certification_number="BV-DPO-42-FICTIF",
         certified_until=date(2027, 9, 30), capacity=30),
    dict(name="Sud Données Protection (fictif)", kind="external_dpo", email="equipe@sud-donnees.example.org",
         profile="DPO mutualisé pour collectivités, écoles et associations : données des élèves, ressources "
                 "humaines, sécurité des systèmes.",
         sectors=["public", "education", "nonprofit"], specialisms=["minors", "hr", "security"],
         regions=["OCC", "PAC", "COR"], languages=["fr"], sizes=["10-49", "50-249", "250+"],
         pricing_model="subscription", budget_band="medium", certification_body="AFNOR Certification",
         certification_number="DPO-0077-FICTIF", certified_until=date(2027, 3, 31), capacity=15),
    dict(name="Example Privacy Partners (fictitious)", kind="consultant", email="hello@privacy-partners.example.org",
         profile="English-speaking privacy consultants for start-ups and software companies: AI, cloud transfers, "
                 "security and breach response, employee data.",
         sectors=["tech", "services", "finance"], specialisms=["ai", "transfers", "security", "hr"],
         regions=["IDF"], languages=["en", "fr", "de"], sizes=["1-9", "10-49", "50-249"], pricing_model="hourly",
         budget_band="medium", certification_body="IAPP (CIPP/E)", certification_number="IAPP-DEMO-FICTITIOUS",
         certified_until=date(2027, 12, 31), capacity=12),
    dict(name="Est Conformité (fictif)", kind="external_dpo", email="dpo@est-conformite.example.org",
         profile="DPO externe pour l'industrie et le transport : salariés, géolocalisation des véhicules, "
                 "vidéosurveillance des sites, cybersécurité.",
         sectors=["industry", "transport", "construction"], specialisms=["hr", "cctv", "security"],
         regions=["GES", "BFC"], languages=["fr", "de"], sizes=["10-49", "50-249", "250+"],
         pricing_model="subscription", budget_band="medium", certification_body="AFNOR Certification",
         certification_number="DPO-0123-FICTIF", certified_until=date(2025, 1, 31), capacity=10),  # expired
    dict(name="Centre Val RGPD (fictif)", kind="consultant", email="contact@centre-val-rgpd.example.org",
         profile="Accompagnement des cabinets de santé, pharmacies et laboratoires : registre, information des "
                 "patients, sous-traitants.",
         sectors=["health", "retail"], specialisms=["health", "marketing"], regions=["CVL", "NAQ"],
         languages=["fr"], sizes=["1-9", "10-49"], pricing_model="fixed", budget_band="low",
         certification_body="Bureau Veritas", certification_number="BV-DPO-99-FICTIF",
         certified_until=date(2028, 1, 31), capacity=25),
]


def load_demo(service) -> tuple[int, int]:
    """Add the demo partners missing from the directory; returns (added, already there)."""
    added = present = 0
    for data in DEMO_PARTNERS:
        if service.save_partner({**data, "demo": True}, if_absent=True):
            added += 1
        else:
            present += 1
    return added, present
