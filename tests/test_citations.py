"""Citation verification and the grounded composer: only supported articles and decisions leave."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer.citations import mentioned_articles, verify_answer
from assistant.answer.composer import Composer
from assistant.retrieval.query import analyze_question
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


def chunk(i, kind, article, text, lang="fr", section="", title=None, doc_id=None):
    return Chunk(id=f"c{i}", doc_id=doc_id or f"d{i}", kind=kind, lang=lang, title=title or f"T{i}", text=text,
                 search_text=text, url="https://eur-lex.europa.eu/x", page=f"/sources/d{i}", updated="2026-11-29",
                 article=article, group=f"g{i}", section=section, ref=f"REF {i}",
                 articles=(article,) if article else ())


def composer_for(hits, extra=()):
    chunks = [h.chunk for h in hits] + list(extra)
    by_doc = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    return Composer(by_doc, {"fr": {}, "en": {}})


KINDS = st.sampled_from(["gdpr_article", "gdpr_recital", "guide", "faq", "cnil_decision"])
TEXT = st.lists(st.sampled_from(["Le responsable notifie.", "Voir art. 34.", "Article 6 s'applique.",
                                 "Sanction SAN-2022-009.", "Délai d'un mois.", "Art. 5(1)(e) et art. 17.",
                                 "Oui, dans les 72 heures.", "- une ligne de liste ;", "1. Une étape."]),
                min_size=1, max_size=4).map(" ".join)
QUESTIONS = st.sampled_from(["Faut-il notifier ?", "Combien de temps ?", "Qui doit le faire ?",
                             "Peut-on le faire sans accord ?", "What is it?", "d'après l'article 120, c'est ça ?"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(KINDS, st.one_of(st.none(), st.integers(1, 99)), TEXT), min_size=1, max_size=8),
       st.sampled_from(["fr", "en"]), QUESTIONS)
def test_composer_output_passes_verification(specs, lang, question):
    """Whatever is retrieved, the answer names only retrieved articles and cites only the sources it uses."""
    hits = [Hit(chunk=chunk(i, k, a, t, lang), score=1.0 / (i + 1)) for i, (k, a, t) in enumerate(specs)]
    comp = composer_for(hits).compose(question, analyze_question(question), lang, hits)
    allowed = {h.chunk.article for h in hits if h.chunk.article} | set().union(
        *(mentioned_articles(h.chunk.text) for h in hits)) | set().union(*(mentioned_articles(c) for c in
                                                                          comp.corrections))
    v = verify_answer(comp.text, allowed, {"SAN-2022-009"}, len(comp.used))
    assert v.violations == 0, comp.text
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", comp.text)]
    assert sorted(set(markers)) == list(range(1, len(comp.used) + 1))  # every card is cited, in order
    assert not re.search(r"\*\*[^*]+\*\*\s*$", comp.text.split("\n\n")[0])  # no heading left empty


FAQ = ("Oui, dans les 72 heures après en avoir pris connaissance. Passé ce délai, il faut expliquer le retard.\n\n"
       "## En détail\n\n- Le délai court à partir de la prise de connaissance.\n- Notification en deux temps possible.\n\n"
       "## Sources\n\n- art. 33")


def breach_hits(lang="fr"):
    faq = chunk(0, "faq", 33, FAQ, title="Faut-il notifier une violation de données à la CNIL ?")
    art = chunk(1, "gdpr_article", 33, "En cas de violation de données à caractère personnel, le responsable du "
                "traitement en notifie la violation à l'autorité de contrôle dans les meilleurs délais et, si possible, "
                "72 heures au plus tard après en avoir pris connaissance.", doc_id="gdpr-fr-art-33",
                title="Article 33 – Notification d'une violation")
    guide = chunk(2, "guide", 33, "1. Préparez une procédure.\n2. Contenez l'incident.\n3. Évaluez le risque.\n"
                  "4. Notifiez.", section="En pratique pour une PME", doc_id="guide-art-033-fr")
    return [Hit(faq, 0.9), Hit(art, 0.8), Hit(guide, 0.7)]


def test_composer_leads_with_the_answer_then_explains_quotes_and_cites_what_it_uses():
    hits = breach_hits()
    q = "Comment notifier une violation de données à la CNIL ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    first, *rest = comp.text.split("\n\n")
    assert first.startswith("Dans les 72 heures") and first.endswith("[1]")  # not a yes/no question: no "Oui"
    assert "- Le délai court à partir de la prise de connaissance." in comp.text
    assert "**Ce que dit le texte**\n- REF 1 (Notification d'une violation) : « En cas de violation" in comp.text
    assert "**En pratique**\n1. Préparez une procédure.\n2. Contenez l'incident." in comp.text
    assert comp.text.endswith("_Information générale, pas un conseil juridique._")
    assert [c.id for c in comp.used] == ["c0", "c1", "c2"]
    assert "Sources" not in comp.text  # the FAQ's own source list is not pasted in


@pytest.mark.parametrize("question,starts", [
    ("Faut-il notifier une violation de données à la CNIL ?", "Oui, dans les 72 heures"),  # the source's question
    ("Peut-on ne pas notifier une violation de données à la CNIL ?", "Non. Dans les 72 heures"),  # asked the other way
    ("Dans quel délai notifier une violation ?", "Dans les 72 heures"),  # not a yes/no question: no Oui
])
def test_yes_no_is_decided_from_the_question_not_copied(question, starts):
    hits = breach_hits()
    comp = composer_for(hits).compose(question, analyze_question(question), "fr", hits)
    assert comp.text.startswith(starts), comp.text


def test_yes_no_needs_a_confident_lead():
    hits = breach_hits()
    hits[0] = Hit(hits[0].chunk, 0.3)  # the ranker is unsure this item answers the question
    q = "Peut-on ne pas notifier une violation de données à la CNIL ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    assert not comp.text.startswith(("Oui", "Non")) and comp.yes_no is None


@pytest.mark.parametrize("question,expected", [
    ("Il paraît qu'on a 48h pour notifier une fuite, c'est ça ?", "Non : ce n'est pas 48h, mais 72 heures."),
    ("D'après l'article 120 du RGPD il faut notifier, c'est ça ?",
     "Attention : le RGPD ne compte que 99 articles, l'article 120 n'existe pas."),
])
def test_false_premise_is_corrected_first(question, expected):
    hits = breach_hits()
    comp = composer_for(hits).compose(question, analyze_question(question), "fr", hits)
    assert comp.text.startswith(expected), comp.text
    assert not comp.text.startswith(expected + " Oui")  # the source's own "Oui" does not follow a "Non"


def test_numbering_survives_dropped_steps_and_headers_never_hang():
    body = ("Réponse directe sur le registre.\n\n## En détail\n\nÉtapes :\n1. Lister les fichiers clients.\n"
            "2. Sans rapport aucun.\n3. Noter les durées de conservation des fichiers clients.\n"
            "Autres points :\n- rien de pertinent ici ;\n- toujours rien ;\n- encore rien ;\n- fin ;\n- vraiment fin.")
    hits = [Hit(chunk(0, "faq", 30, body, title="Comment tenir le registre ?"), 0.9)]
    q = "Quelles durées de conservation noter pour les fichiers clients ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    numbers = re.findall(r"(?m)^(\d+)\. ", comp.text)
    assert numbers == [str(i) for i in range(1, len(numbers) + 1)]
    lines = comp.text.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(":") and not line.startswith("-"):
            assert i + 1 < len(lines) and re.match(r"^(- |\d+\. )", lines[i + 1]), comp.text


def test_a_key_fact_brought_up_into_the_lead_is_not_repeated_as_a_detail():
    body = ("Il faut informer les personnes et limiter la durée de conservation.\n\n## En détail\n\n"
            "- **Durée** : les images sont conservées au maximum un mois, sauf procédure en cours.\n"
            "- **Affichage** : un panneau à l'entrée indique la présence de caméras et le responsable.\n"
            "- **Accès** : seules les personnes habilitées regardent les images enregistrées.")
    hits = [Hit(chunk(0, "faq", 13, body, title="Vidéosurveillance : quelles règles ?"), 0.9)]
    q = "Combien de temps peut-on garder les images de vidéosurveillance ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    lead, details = comp.text.split("\n\n")[:2]
    assert "au maximum un mois" in lead  # the deadline asked for leads
    assert "un mois" not in details and "**Affichage**" in details, comp.text


def faq_hits(*items: tuple[int, str, str, float]) -> list[Hit]:
    """Ranked FAQ hits from (article, direct answer, question, score)."""
    return [Hit(chunk(i, "faq", article, text, title=title), score)
            for i, (article, text, title, score) in enumerate(items)]


def test_a_misnamed_article_is_corrected_towards_the_topic_the_visitor_named():
    """"Article 30 obliges us to do a DPIA": the correction names the DPIA's article, not the lead source's."""
    hits = [Hit(chunk(0, "faq", 2, "Oui, le RGPD s'applique aussi aux associations.",
                      title="Le RGPD s'applique-t-il à ma petite association ?"), 0.4),
            Hit(chunk(1, "faq", 7, "Une case à cocher non pré-cochée.", title="Comment recueillir les inscriptions ?"), 0.2),
            Hit(chunk(2, "faq", 35, "Seulement si le traitement présente un risque élevé.",
                      title="Faut-il faire une AIPD pour chaque fichier ?"), 0.1)]
    register = chunk(3, "gdpr_article", 30, "Chaque responsable du traitement tient un registre.",
                     title="Article 30 – Registre des activités de traitement", doc_id="gdpr-fr-art-30")
    q = "On m'a dit que l'article 30 oblige à faire une AIPD pour chaque fichier, vous avez un modèle ?"
    comp = composer_for(hits, extra=[register]).compose(q, analyze_question(q), "fr", hits)
    assert "Registre des activités de traitement" in comp.text and "art. 35" in comp.text, comp.text
    assert "art. 2." not in comp.text.split("\n")[0].split("Référence")[0]


def test_a_claimed_duration_is_checked_against_the_item_about_the_claim_not_the_lead():
    """The lead is about the situation (cameras in a shop); the claim ("we keep the footage 90 days") is
    about retention, which another top item answers: the correction comes from it, with its marker."""
    hits = faq_hits((6, "Un commerçant peut filmer les entrées et la caisse, en informant les clients.",
                     "Un commerce peut-il installer des caméras ?", 0.6),
                    (5, "Les images sont conservées au maximum un mois, sauf procédure en cours.",
                     "Combien de temps garder les images de vidéosurveillance ?", 0.3))
    q = "On installe des caméras dans la boutique, et on m'a dit qu'on peut garder les images 90 jours, c'est bien ça ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    first = comp.text.split("\n")[0]
    assert first.startswith("Non : ce n'est pas 90 jours, mais un mois. [1]"), comp.text
    assert [c.id for c in comp.used][:2] == [hits[1].chunk.id, hits[0].chunk.id]  # cards in order of use

    unrelated = [hits[0], Hit(chunk(1, "faq", 5, "Le registre est tenu à jour ; comptez deux mois pour le rédiger.",
                                    title="Comment tenir le registre des traitements ?"), 0.3)]
    comp = composer_for(unrelated).compose(q, analyze_question(q), "fr", unrelated)
    assert not comp.corrections, comp.text  # an item about something else corrects nothing


def test_a_claim_is_matched_to_its_item_through_the_items_other_phrasings_when_its_kind_is_clear():
    """"The installer says I can keep the recordings 6 months": the retention item's own question ("how long
    may the images be kept") shares no word with the claim, one of its phrasings does ("maximum time to keep
    the recordings"). A claim whose kind is unclear is not corrected through a phrasing."""
    hits = faq_hits((6, "Un commerçant peut filmer les entrées et la caisse, en informant les clients.",
                     "Un commerce peut-il installer des caméras ?", 0.6),
                    (5, "La durée ne doit pas dépasser un mois, sauf procédure en cours.",
                     "Combien de temps conserver les images de vidéosurveillance ?", 0.3))
    comp = composer_for(hits)
    q = "J'ai deux caméras. Le vendeur de l'installation me dit que je peux garder les enregistrements 6 mois. C'est ok ?"
    assert not comp.compose(q, analyze_question(q), "fr", hits).corrections  # no phrasing known: no match
    comp.questions[(hits[1].chunk.group, "fr")] = ["Caméras de la supérette : durée maximale pour garder les enregistrements ?"]
    text = comp.compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("Non : ce n'est pas 6 mois, mais un mois. [1]"), text
    q = "J'ai deux caméras. Le vendeur de l'installation me dit que les enregistrements c'est 6 mois. C'est ok ?"
    assert not comp.compose(q, analyze_question(q), "fr", hits).corrections  # kind unclear: left alone


def test_an_article_misnamed_in_a_claimed_deadline_points_to_the_deadlines_article():
    """"My partner says article 17 gives us 15 days to answer": the deadline item (art. 12) corrects both
    the figure and the article, even when the lead is about something else."""
    hits = faq_hits((21, "Vous pouvez prospecter vos clients par e-mail sous conditions.",
                     "Peut-on envoyer des offres par e-mail à ses clients ?", 0.5),
                    (12, "Vous devez répondre dans un délai maximal d'un mois après réception de la demande.",
                     "Combien de temps a-t-on pour répondre à une demande d'accès ?", 0.3))
    erasure = chunk(2, "gdpr_article", 17, "La personne a le droit d'obtenir l'effacement.",
                    title="Article 17 – Droit à l'effacement", doc_id="gdpr-fr-art-17")
    q = "Un client nous demande ses données. Mon associé dit que l'article 17 nous donne 15 jours pour répondre, on fait comment ?"
    comp = composer_for(hits, extra=[erasure]).compose(q, analyze_question(q), "fr", hits)
    first = comp.text.split("\n")[0]
    assert first.startswith("Non : ce n'est pas 15 jours, mais un mois. [1]"), comp.text
    assert "Droit à l'effacement" in first and "relève de l'art. 12." in first, first


def test_an_article_given_a_subject_is_corrected_towards_the_article_with_that_title():
    """"Under article 17 of the GDPR on the right of access": the visitor says which right they mean, so the
    correction names Art. 15, even when the best-covering source is the employee-file item (art. 5)."""
    hits = faq_hits((5, "Le dossier du salarié ne contient que les données utiles à la relation de travail.",
                     "Que peut contenir le dossier personnel d'un salarié ?", 0.6),
                    (15, "Oui, les notes rédigées sur une personne lui sont communiquées.",
                     "Faut-il communiquer les notes internes lors d'une demande d'accès ?", 0.3))
    articles = [chunk(2 + i, "gdpr_article", n, "Texte.", title=f"Article {n} – {t}", doc_id=f"gdpr-fr-art-{n}")
                for i, (n, t) in enumerate(((5, "Principes relatifs au traitement des données à caractère personnel"),
                                            (15, "Droit d'accès de la personne concernée"),
                                            (17, "Droit à l'effacement («droit à l'oubli»)")))]
    q = ("Un salarié me réclame une copie de tout son dossier perso 'en vertu de l'article 17 du RGPD sur le droit "
         "d'accès'. Je dois tout lui donner ?")
    first = composer_for(hits, extra=articles).compose(q, analyze_question(q), "fr", hits).text.split("\n")[0]
    assert "Droit à l'effacement" in first and "relève de l'art. 15." in first, first
    q = "Un salarié réclame une copie de son dossier perso en vertu de l'article 17, je dois tout lui donner ?"
    first = composer_for(hits, extra=articles).compose(q, analyze_question(q), "fr", hits).text.split("\n")[0]
    assert "relève de l'art. 15." not in first  # no subject stated: the sources decide, as before


def test_an_article_named_for_its_own_topic_is_not_corrected():
    """"Article 30 requires a register": right, even when the top three sources are about other articles."""
    hits = [Hit(chunk(0, "faq", 2, "Oui, le RGPD s'applique aussi aux associations.",
                      title="Le RGPD s'applique-t-il à ma petite association ?"), 0.4),
            Hit(chunk(1, "faq", 7, "Une case à cocher non pré-cochée.", title="Comment recueillir les inscriptions ?"), 0.2),
            Hit(chunk(2, "faq", 6, "Le contrat ou l'intérêt légitime.", title="Quelle base légale choisir ?"), 0.15),
            Hit(chunk(3, "faq", 30, "Oui, sauf exceptions.", title="Faut-il tenir un registre des traitements ?"), 0.1)]
    register = chunk(4, "gdpr_article", 30, "Chaque responsable du traitement tient un registre.",
                     title="Article 30 – Registre des activités de traitement", doc_id="gdpr-fr-art-30")
    q = "On m'a dit que l'article 30 oblige à tenir un registre des traitements, que doit-il contenir ?"
    comp = composer_for(hits, extra=[register]).compose(q, analyze_question(q), "fr", hits)
    assert not comp.corrections, comp.corrections


def test_long_provisions_are_quoted_by_whole_sentences():
    long = " ".join(f"Phrase numéro {i} sur un autre sujet." for i in range(30)) + \
        " Le responsable notifie la violation dans les 72 heures."
    art = chunk(1, "gdpr_article", 33, long, doc_id="gdpr-fr-art-33", title="Article 33 – Notification")
    faq = chunk(0, "faq", 33, "Notifiez la violation dans les 72 heures.", title="Délai de notification ?")
    hits = [Hit(faq, 0.9), Hit(art, 0.8)]
    q = "Le responsable notifie la violation dans quel délai ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    quote = re.search(r"« (.*) »", comp.text).group(1)
    assert "Le responsable notifie la violation dans les 72 heures." in quote
    for part in quote.split(" (…) "):
        assert part.endswith((".", "(…)")), part


def test_provisions_are_quoted_in_the_questions_language():
    hits = breach_hits("en")
    en_art = chunk(5, "gdpr_article", 33, "In the case of a personal data breach, the controller shall notify it "
                   "without undue delay and, where feasible, not later than 72 hours after having become aware of it.",
                   lang="en", doc_id="gdpr-en-art-33", title="Article 33 – Notification of a breach")
    comp = composer_for(hits, [en_art]).compose("How fast must we notify a personal data breach?",
                                                analyze_question("How fast?"), "en", hits)
    assert "“In the case of a personal data breach" in comp.text and "« En cas" not in comp.text


def test_a_nearly_as_relevant_second_faq_item_is_answered_under_its_own_question():
    """A situation spanning two questions gets both answers; the second item's Oui/Non reads under its title."""
    hits = breach_hits()
    second = chunk(3, "faq", 12, "Non, la personne n'a pas à motiver sa demande d'accès. Un refus n'est possible que "
                   "si la demande est manifestement infondée ou excessive.\n\n## En détail\n\n- Preuve à votre charge.",
                   title="Faut-il motiver une demande d'accès ?")
    far = chunk(4, "faq", 17, "Oui, sous conditions.", title="Peut-on effacer ?")
    q = "Un salarié veut notifier une violation et demande l'accès à ses données sans motiver sa demande, on peut refuser ?"
    close = [hits[0], Hit(second, 0.8), hits[1]]
    comp = composer_for(close).compose(q, analyze_question(q), "fr", close)
    assert "**Faut-il motiver une demande d'accès ?**\nNon, la personne n'a pas à motiver sa demande d'accès." in comp.text
    assert "manifestement infondée ou excessive. [2]" in comp.text and comp.used[1].id == "c3"
    assert "Preuve à votre charge" not in comp.text  # only its direct answer, not its details
    # Far behind the lead, or of the same item: not added.
    far_hits = [hits[0], Hit(far, 0.2), hits[1]]
    comp = composer_for(far_hits).compose(q, analyze_question(q), "fr", far_hits)
    assert "Peut-on effacer" not in comp.text and all(c.id != "c4" for c in comp.used)


def test_a_yes_with_an_exception_asked_the_other_way_round_becomes_a_no_that_keeps_it():
    """'Can we e-mail consumers without their consent?' against 'Is consent needed? Oui, sauf ...'."""
    faq = chunk(0, "faq", 6, "Oui, le consentement préalable est nécessaire pour envoyer des e-mails de prospection à des "
                "particuliers, sauf pour des produits analogues vendus à vos clients. Il doit être libre.",
                title="Faut-il le consentement pour envoyer des e-mails de prospection à des particuliers ?")
    hits = [Hit(faq, 0.9)]
    q = "Peut-on envoyer des e-mails de prospection à des particuliers sans leur consentement ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    assert comp.yes_no is False and comp.text.startswith("Non"), comp.text
    assert "sauf pour des produits analogues" in comp.text.split("\n\n")[0]


def test_a_key_fact_from_another_source_is_its_headline_figure_not_a_special_case():
    """'Worst fine for a small business?' led by another item: the figure added is the fine item's own
    answer (20 M€ or 4 %), not the cap of the simplified procedure in its details."""
    lead = chunk(0, "faq", 32, "Le RGPD exige des mesures de sécurité adaptées au risque pour une petite entreprise.",
                 title="Quelles mesures de sécurité pour une petite entreprise ?")
    fines = chunk(1, "faq", 83, "Il y a deux plafonds d'amende : 10 millions d'euros ou 2 % du chiffre d'affaires "
                  "mondial, et 20 millions d'euros ou 4 % pour les manquements les plus graves.\n\n## En détail\n\n"
                  "- **Procédure simplifiée** : pour une petite entreprise et un cas simple, l'amende est plafonnée "
                  "à 20 000 euros.", title="Quelle est l'amende RGPD maximale ?")
    hits = [Hit(lead, 0.8), Hit(fines, 0.6)]
    q = "Quelle amende maximale risque une petite entreprise comme la nôtre ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    head = comp.text.split("\n\n")[0]
    assert "20 millions" in head and "20 000 euros" not in head, head


def test_a_key_fact_is_not_borrowed_from_a_source_the_ranker_finds_far_less_relevant():
    """"Laptop stolen: what to do and how fast?" led by the encryption item: the retention item, far down the
    ranking, must not lend its 3 years as the answer to "how fast"; a close second source may."""
    lead = chunk(0, "faq", 32, "The CNIL expects encryption for laptops and phones that hold customer files.",
                 title="Must we encrypt laptops?", lang="en")
    retention = chunk(1, "faq", 5, "For a customer, data may be used for marketing for up to 3 years after the "
                      "relationship ends.", title="How long can we keep customer data?", lang="en")
    q = "A laptop with our customer file was stolen. What do we do and how fast?"
    far = [Hit(lead, 0.9), Hit(retention, 0.1)]
    text = composer_for(far).compose(q, analyze_question(q), "en", far).text
    assert "3 years" not in text.split("\n\n")[0], text
    close = [Hit(lead, 0.9), Hit(retention, 0.5)]
    text = composer_for(close).compose(q, analyze_question(q), "en", close).text
    assert text.startswith("For a customer"), text  # a comparable source still gives its figure first


def test_an_undecided_yes_no_keeps_the_source_s_answer_under_its_own_question():
    """Too unsure that the visitor asks the source's question to say Oui/Non for them (a weak match):
    the source's own answer word stays, under the source's own question, instead of being dropped."""
    faq = chunk(0, "faq", 58, "Oui, la CNIL peut contrôler sur place sans prévenir, entre 6 h et 21 h.",
                title="La CNIL peut-elle venir contrôler l'entreprise sans prévenir ?")
    q = "la cnil peut débarquer dans nos locaux sans prévenir ?"
    weak = [Hit(faq, 0.45)]  # below YES_NO_CONFIDENCE
    comp = composer_for(weak).compose(q, analyze_question(q), "fr", weak)
    assert comp.yes_no is None
    assert comp.text.startswith("« La CNIL peut-elle venir contrôler l'entreprise sans prévenir ? » Oui, la CNIL")
    q = "Dans quel délai la CNIL prévient-elle avant un contrôle ?"  # not a yes/no question: the fact leads
    comp = composer_for(weak).compose(q, analyze_question(q), "fr", weak)
    assert comp.text.startswith("La CNIL peut contrôler sur place"), comp.text


def composed(answer: str, title: str, question: str, lang: str = "fr", score: float = 0.9, article: int = 0):
    """The composition for ``question`` of one FAQ item (its direct answer and its own question) as the lead."""
    hits = [Hit(chunk(0, "faq", article, answer, title=title), score)]
    return composer_for(hits).compose(question, analyze_question(question), lang, hits)


def test_a_yes_whose_rest_cannot_stand_alone_keeps_its_word_under_its_question():
    """Asked "what is an EU representative?", a source answering "Yes, when it offers goods..." to its own
    question must not lead with "When it offers goods...", an answer to nothing: its question is quoted."""
    comp = composed("Yes, when it offers goods or services to people who are in the EU. It must then appoint a "
                    "representative in the EU.", "Does a company based outside the EU have to comply with the GDPR?",
                    "We have no office in Europe. Someone told us we need an 'EU representative', what is this?", "en")
    assert comp.text.startswith("“Does a company based outside the EU have to comply with the GDPR?” Yes, when it "
                                "offers"), comp.text
    comp = composed("Oui, tout organisme peut désigner un DPO de sa propre initiative.",
                    "Peut-on désigner un DPO sans y être obligé ?",
                    "Quel est l'intérêt de désigner un DPO quand ce n'est pas obligatoire ?")  # a sentence of its own
    assert comp.text.startswith("Tout organisme peut désigner un DPO"), comp.text


def test_a_quoted_source_question_stays_with_its_answer_when_the_key_fact_is_brought_first():
    """A deadline asked of an item that answers "Oui, si ..." to its own question: the quote and its answer
    are one sentence for the key-fact ordering (the answer once opened with "» Oui, si l'appareil...")."""
    comp = composed("Oui, si l'appareil n'était pas chiffré : c'est une violation, à notifier dans les 72 heures. "
                    "Prévenez aussi les personnes en cas de risque élevé.",
                    "Ordinateur portable perdu ou volé : faut-il notifier ?",
                    "L'ordi d'un commercial a été volé avec le fichier clients. On fait quoi et dans quel délai ?",
                    article=33)
    assert comp.text.startswith("« Ordinateur portable perdu ou volé : faut-il notifier ? » Oui, si l'appareil"), comp.text


def test_a_quoted_lead_after_a_correction_gets_no_second_yes_no_word():
    """'Can you quote Article 105?' read "Note: ... there is no Article 105. No. “Are small companies
    exempt?” No, ...": the quoted item answers with its own word, a second one before it blurs both."""
    comp = composed("No, the only rule tied to the 250-employee threshold is Art. 30(5).",
                    "Are companies with fewer than 250 employees exempt from the GDPR?",
                    "My partner says Article 105 of the GDPR exempts companies under 10 employees. Can you quote "
                    "Article 105?", "en", score=0.45, article=30)
    assert "Article 105" in comp.text and "No. “" not in comp.text, comp.text
    assert "“Are companies with fewer than 250 employees exempt from the GDPR?” No, the only rule" in comp.text


def test_a_key_fact_sentence_that_refers_back_is_never_moved_to_the_front():
    """"Ce délai peut être allongé de six semaines" opened an answer: moved first, a sentence that refers
    back to what came before it answers with an antecedent the visitor never read."""
    lead = chunk(0, "faq", 30, "Les formalités préalables auprès de la CNIL ont été supprimées en 2018.",
                 title="Faut-il déclarer ses fichiers à la CNIL ?")
    other = chunk(1, "faq", 36, "La consultation préalable concerne les traitements à risque élevé résiduel. Ce délai "
                  "peut être allongé de six semaines selon la complexité du traitement.",
                  title="Consultation préalable de la CNIL : quels délais ?")
    hits = [Hit(lead, 0.8), Hit(other, 0.6)]
    q = "Il faut déclarer notre fichier à la CNIL, ça prend combien de temps ?"
    comp = composer_for(hits).compose(q, analyze_question(q), "fr", hits)
    assert not comp.text.startswith("Ce délai"), comp.text
    assert comp.text.startswith("Les formalités préalables"), comp.text


def test_no_figure_from_another_source_before_a_lead_that_says_the_step_does_not_exist():
    """"How long does the CNIL take to validate our declaration?" opened with the eight weeks of a prior
    consultation, before the lead saying prior formalities were abolished; "how long do we keep the
    fingerprints?" with payslips' five years, before "the CNIL judges biometrics disproportionate". A lead
    that says the step does not exist or the practice is not allowed answers alone; a lead that merely
    lacks the figure still gets it from the next source."""
    consult = chunk(1, "faq", 36, "La CNIL rend un avis écrit au plus tard huit semaines après la demande de "
                    "consultation.", title="Consultation préalable de la CNIL : quels délais ?")
    abolished = chunk(0, "faq", 30, "Les formalités préalables auprès de la CNIL ont été supprimées le 25 mai 2018 : "
                      "vous tenez un registre.", title="Faut-il déclarer ses fichiers à la CNIL ?")
    q = "Il faut déclarer notre fichier à la CNIL et attendre la validation, ça prend combien de temps ?"
    hits = [Hit(abolished, 0.5), Hit(consult, 0.3)]
    text = composer_for(hits).compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("Les formalités préalables") and "huit semaines" not in text.split("\n\n")[0], text
    payslips = chunk(3, "faq", 5, "L'employeur conserve un double des bulletins de paie pendant 5 ans.",
                     title="Combien de temps garder les données des salariés ?")
    biometrics = chunk(2, "faq", 9, "Une badgeuse classique convient. La CNIL juge la biométrie disproportionnée "
                       "pour contrôler les horaires.", title="Pointeuse biométrique : est-ce permis ?")
    q = "On veut une pointeuse à empreinte digitale, on garde les empreintes combien de temps ?"
    hits = [Hit(biometrics, 0.6), Hit(payslips, 0.2)]
    text = composer_for(hits).compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("Une badgeuse classique") and "5 ans" not in text, text
    # The same figure still comes forward when the lead only lacks it.
    plain = chunk(4, "faq", 5, "Les données des salariés se gardent le temps nécessaire à la gestion du "
                  "personnel.", title="Combien de temps garder les données des salariés ?")
    q = "On garde les fiches de paie des salariés combien de temps ?"
    hits = [Hit(plain, 0.6), Hit(payslips, 0.4)]
    text = composer_for(hits).compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("L'employeur conserve un double des bulletins de paie pendant 5 ans"), text


def test_an_example_figure_leads_only_when_it_is_about_what_the_visitor_named():
    """"Bulletins de paie, combien de temps ?" opened with "Il n'y a pas de durée unique" before the five
    years that answer it. A figure given as an example leads when it is about what the question names and
    the no-single-period sentence is not; for a question as general as that sentence, it still must not."""
    hr = chunk(0, "faq", 5, "Il n'y a pas de durée unique : chaque document a la sienne. Par exemple, l'employeur "
               "conserve un double des bulletins de paie pendant 5 ans. Le reste est archivé puis supprimé.",
               title="Combien de temps garder les données des salariés ?")
    hits = [Hit(hr, 0.8)]
    # The corpus's own weights of these words (rarer words weigh more).
    idf = {"bulletin": 5.0, "pai": 3.0, "salar": 2.5, "donne": 0.4, "employeur": 3.7, "gard": 3.0, "combien": 4.1}
    composer = Composer({hr.doc_id: [hr]}, {"fr": idf, "en": {}})
    q = "bulletins de paie on doit les garder combien de temps"
    text = composer.compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("L'employeur conserve un double des bulletins de paie pendant 5 ans."), text
    q = "les données des salariés on doit les garder combien de temps ?"
    text = composer.compose(q, analyze_question(q), "fr", hits).text
    assert text.startswith("Il n'y a pas de durée unique"), text


def test_of_faq_items_ranked_nearly_alike_the_one_asking_the_visitors_question_leads():
    """"On a un site avec Matomo pour les stats, faut-il un bandeau cookies ?" led with how to withdraw
    consent (ranked 0.47) over the statistics-cookies item (0.45). When FAQ items are that close, the one
    whose own question shares clearly more of the visitor's words leads; a clear ranking is kept."""
    idf = {"cooki": 2.0, "bandeau": 3.0, "stat": 4.0, "matomo": 5.0, "retir": 3.0, "consent": 1.5, "mesur": 3.0,
           "audienc": 3.5, "oblig": 1.0}
    withdraw = chunk(0, "faq", 7, "Le site doit offrir un moyen simple de revenir sur son choix.",
                     title="Comment retirer son consentement aux cookies ?")
    stats = chunk(1, "faq", 7, "Oui, sauf outils de statistiques exemptés.",
                  title="Faut-il un bandeau cookies pour des statistiques de mesure d'audience ?")
    composer = Composer({c.doc_id: [c] for c in (withdraw, stats)}, {"fr": idf, "en": {}})
    q = "On utilise Matomo juste pour les stats, on est obligé d'avoir un bandeau cookies ?"
    hits = [Hit(withdraw, 0.47), Hit(stats, 0.45)]
    comp = composer.compose(q, analyze_question(q), "fr", hits)
    assert comp.used[0].id == stats.id, comp.text
    hits = [Hit(withdraw, 0.6), Hit(stats, 0.45)]  # not a close call: the ranker's order stands
    assert composer.compose(q, analyze_question(q), "fr", hits).used[0].id == withdraw.id


def test_the_lead_names_its_governing_article_as_a_reference():
    """A lawyer reads the basis with the answer: a lead that cites no article ends with the article its
    FAQ item is about, as a reference of its own (not vouching for one sentence); never when the item
    rests first on French law, nor twice."""
    dpo = chunk(0, "faq", 37, "Non, un DPO n'est obligatoire que pour certaines activités. La taille ne compte pas."
                "\n\n## Sources\n\n- RGPD, art. 37", title="Une PME doit-elle désigner un DPO ?")
    q = "on doit avoir un dpo ?"
    head = composer_for([Hit(dpo, 0.9)]).compose(q, analyze_question(q), "fr", [Hit(dpo, 0.9)]).text.split("\n\n")[0]
    assert "certaines activités. La taille ne compte pas. Référence : art. 37 du RGPD. [1]" in head, head
    q = "do we need a DPO?"
    en = chunk(1, "faq", 37, "No, only for some core activities.\n\n## Sources\n\n- GDPR Art. 37", lang="en")
    assert "activities. Reference: GDPR Art. 37. [1]" in composer_for([Hit(en, 0.9)]).compose(
        q, analyze_question(q), "en", [Hit(en, 0.9)]).text
    cookies = chunk(2, "faq", 7, "Oui, il faut l'accord de l'internaute avant de déposer un traceur.\n\n## Sources\n\n"
                    "- Article 82 de la loi Informatique et Libertés\n- RGPD, art. 4 et 7")
    already = chunk(3, "faq", 33, "Oui, sous 72 heures (art. 33).\n\n## Sources\n\n- RGPD, art. 33")
    for c in (cookies, already):
        q = "faut-il le faire ?"
        text = composer_for([Hit(c, 0.9)]).compose(q, analyze_question(q), "fr", [Hit(c, 0.9)]).text
        assert "Référence" not in text, text
