"""Citation verification and the grounded composer: only supported articles and decisions leave."""

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer.citations import mentioned_articles, verify_answer
from assistant.answer.composer import compose_grounded
from assistant.types import Chunk, Hit


def test_mentioned_articles_lists_ranges_and_other_laws():
    text = ("Voir art. 33 et 34, Article 5(1)(e), articles 12 à 22, Art. 83(4) ; mais l'article 82 de la "
            "loi Informatique et Libertés et l'article L. 34-5 du CPCE ne sont pas le RGPD.")
    assert mentioned_articles(text) == {33, 34, 5, 12, 22, 83}


def test_verify_removes_unsupported_sentences_and_counts_them():
    text = ("Notifiez la CNIL sous 72 heures (art. 33) [1]. Voir aussi l'art. 99 [2]. "
            "La sanction SAN-2022-009 est connue. La SAN-2031-001 n'existe pas.\nUne ligne [7].")
    v = verify_answer(text, {33, 34}, {"SAN-2022-009"}, 3)
    assert v.text == "Notifiez la CNIL sous 72 heures (art. 33) [1]. La sanction SAN-2022-009 est connue."
    assert v.unsupported_articles == {99} and v.unknown_decisions == {"SAN-2031-001"} and v.bad_markers == {7}
    assert v.violations == 3


def test_verify_drops_bare_list_markers():
    v = verify_answer("1. Faites ceci (art. 33).\n2. Voir art. 98.\n3. Fin.", {33}, set(), 0)
    assert v.text == "1. Faites ceci (art. 33).\n3. Fin."


def chunk(i, kind, article, text, lang="fr", section=""):
    return Chunk(id=f"c{i}", doc_id=f"d{i}", kind=kind, lang=lang, title=f"T{i}", text=text, search_text=text,
                 url="https://eur-lex.europa.eu/x", page=f"/sources/d{i}", updated="2026-11-29",
                 article=article, group=f"g{i}", section=section, ref=f"REF {i}")


KINDS = st.sampled_from(["gdpr_article", "gdpr_recital", "guide", "faq", "cnil_decision"])
TEXT = st.lists(st.sampled_from(["Le responsable notifie.", "Voir art. 34.", "Article 6 s'applique.",
                                 "Sanction SAN-2022-009.", "Délai d'un mois.", "Art. 5(1)(e) et art. 17."]),
                min_size=1, max_size=4).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(KINDS, st.one_of(st.none(), st.integers(1, 99)), TEXT), min_size=1, max_size=8),
       st.sampled_from(["fr", "en"]))
def test_composer_output_passes_verification(specs, lang):
    """Whatever is retrieved, the composed answer cites only retrieved articles and existing [n]."""
    hits = [Hit(chunk=chunk(i, k, a, t, lang), score=1.0 / (i + 1)) for i, (k, a, t) in enumerate(specs)]
    comp = compose_grounded(hits, lang, {})
    allowed = {h.chunk.article for h in hits if h.chunk.article} | set().union(
        *(mentioned_articles(h.chunk.text) for h in hits))
    v = verify_answer(comp.text, allowed, {"SAN-2022-009"}, len(hits))
    assert v.violations == 0, comp.text
    assert all(1 <= n <= len(hits) for n in comp.used)


def test_composer_structure():
    hits = [Hit(chunk(0, "faq", 33, "Dans les 72 heures.\n\n## En détail\n\nPlus de détails (art. 34)."), 0.9),
            Hit(chunk(1, "gdpr_article", 33, "In the case of a personal data breach, the controller shall notify."), 0.8),
            Hit(chunk(2, "guide", 33, "1. Préparez une procédure.\n2. Notifiez.", section="En pratique pour une PME"), 0.7)]
    text = compose_grounded(hits, "fr", {"d2": [hits[2].chunk]}).text
    assert text.startswith("**En bref** : Dans les 72 heures. [1]")
    assert "**Ce que dit le texte**" in text and "[2]" in text
    assert "**En pratique**\n1. Préparez une procédure.\n2. Notifiez. [3]" in text
    assert text.endswith("_Information générale, pas un conseil juridique._")
