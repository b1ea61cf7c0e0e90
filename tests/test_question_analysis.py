"""What a question asks, yes/no polarity against a source's question, and false premises (pure, table-driven)."""

import pytest

from assistant.answer import polarity
from assistant.answer.premises import check_articles, check_duration, check_misnamed_article
from assistant.retrieval.query import analyze_question, durations_in, has_amount, has_duration, is_age


@pytest.mark.parametrize("q,kind,yesno", [
    ("Dans quel délai notifier une fuite à la CNIL ?", "deadline", False),
    ("combien de temps on peut garder les cv", "deadline", False),
    ("How long do we have to answer an access request?", "deadline", False),
    ("C'est combien l'amende max ?", "amount", False),
    ("What's the maximum fine under the GDPR?", "amount", False),
    ("Honest question: what's the worst fine a small business like ours could get?", "amount", False),
    ("How much could the CNIL fine a shop like ours?", "amount", False),
    ("on risque quoi comme sanction si on n'a pas de registre ?", "amount", False),
    ("How much can a DPO cost us per year?", "other", False),
    ("Qui doit désigner un DPO ?", "who", False),
    ("Which organisations must designate a data protection officer?", "who", False),
    ("C'est quoi une donnée sensible ?", "definition", False),
    ("What is an adequacy decision?", "definition", False),
    ("Quelle différence entre responsable et sous-traitant ?", "comparison", False),
    ("Comment notifier une violation ?", "steps", False),
    ("What should we do after a ransomware attack?", "steps", False),
    ("Quelles sont les obligations d'un sous-traitant ?", "list", False),
    ("What must a breach notification contain?", "list", False),
    ("Faut-il un DPO dans une PME ?", "yesno", True),
    ("on doit avoir un dpo ?", "yesno", True),
    ("Une entreprise hors UE doit-elle désigner un représentant ?", "yesno", True),
    ("Can we refuse an access request?", "yesno", True),
    ("adresse mail pro = donnée perso ou pas ?", "yesno", True),
    ("Notre prestataire nous a prévenus 10 jours après, que faire ?", "steps", False),
    ("We have under 250 employees so we are exempt, right?", "yesno", True),
    ("Long story: we run a shop. We film the till. Can we keep the footage for a year?", "yesno", True),
])
def test_question_types(q, kind, yesno):
    info = analyze_question(q)
    assert (info.type, info.yesno) == (kind, yesno)


@pytest.mark.parametrize("text,hours", [
    ("72 heures", [72.0]), ("un mois", [730.0]), ("2 ans après le dernier contact", [17520.0]),
    ("within 72 hours or one month", [72.0, 730.0]), ("48h", [48.0]), ("article 33", []), ("20 000 000 €", []),
    ("we have 7 working days to declare", [168.0]), ("10 business days", [240.0]), ("7 jours ouvrés", [168.0]),
])
def test_durations(text, hours):
    assert durations_in(text) == hours


def test_key_fact_detectors():
    assert has_duration("dans un délai d'un mois") and not has_duration("article 12")
    assert has_amount("jusqu'à 20 millions d'euros ou 4 %") and not has_amount("le responsable du traitement")


@pytest.mark.parametrize("visitor,source,relation", [
    ("Faut-il le consentement pour prospecter des particuliers ?",
     "Faut-il le consentement pour envoyer des e-mails à des particuliers ?", "same"),
    ("Peut-on écrire à des particuliers sans leur accord ?",
     "Faut-il le consentement pour envoyer des e-mails à des particuliers ?", "opposite"),
    ("Est-ce qu'on n'est pas obligé de notifier ?", "Faut-il notifier la violation ?", "opposite"),
    ("Can we email consumers without consent?", "Is consent required to email consumers?", "opposite"),
    ("adresse mail pro = donnée perso ou pas ?", "Les contacts professionnels sont-ils des données personnelles ?",
     "same"),  # "ou pas" asks for confirmation, it negates nothing
    ("Peut-on filmer les salariés ?", "Faut-il informer les salariés ?", "unknown"),
    # Words that negate by their meaning: "échappe au RGPD" asks whether it is NOT covered.
    ("adresse mail pro genre prenom.nom@entreprise.fr = donnée perso ou pas ?",
     "Une adresse e-mail professionnelle comme prenom.nom@entreprise.fr échappe-t-elle au RGPD ?", "opposite"),
    ("Peut-on filmer les salariés en continu ?", "Est-il interdit de filmer les salariés en continu ?", "opposite"),
    ("Une TPE est-elle dispensée de registre ?", "Une TPE doit-elle tenir un registre ?", "opposite"),
    ("Are work emails outside the GDPR?", "Are work email addresses personal data?", "opposite"),
    ("Is it forbidden to record calls?", "Is it prohibited to record calls?", "same"),
    # No modal verb on either side: a bare "not" does not make the visitor's question the source's turned
    # round (the wrong "Yes" this gave: "zero profit, so the CNIL cannot fine us much, right?" -> "Yes").
    ("We have almost zero profit, so in practice the CNIL cannot fine us much, right?",
     "Is the maximum GDPR fine 4% of profit?", "unknown"),
    ("Isn't an IP address personal data?", "Is an IP address personal data?", "unknown"),
    # "Is that OK?" after a description asks about the visitor's practice, not the general case.
    ("IT set the phone system to record 100% of calls and keep them indefinitely. Is that OK under French rules?",
     "Can we record phone calls with customers?", "unknown"),
    ("On filme la caisse en continu, c'est légal ?", "Peut-on filmer les salariés à leur poste de travail ?",
     "unknown"),
    ("Can we record calls with customers?", "Can we record phone calls with customers?", "same"),
    # "Alone" means "without the parents": the same question as the "sans" beside it, not its opposite.
    ("Le RGPD dit que dès 13 ans un ado peut consentir tout seul, donc on peut collecter les données des 13-14 ans "
     "sans passer par les parents ?",
     "En France, un jeune de 13 ou 14 ans peut-il s'inscrire seul à un service en ligne ?", "same"),
    ("Can a 14-year-old sign up without their parents?",
     "In France, can a 13- or 14-year-old sign up to an online service alone?", "same"),
    ("Faut-il l'accord des parents pour inscrire un ado de 14 ans ?",
     "Un jeune de 14 ans peut-il s'inscrire seul à un service en ligne ?", "opposite"),
    ("Le registre est-il le seul document obligatoire ?", "Le registre est-il obligatoire ?", "same"),
])
def test_polarity_relation(visitor, source, relation):
    assert polarity.relate(visitor, source) == relation


def test_polarity_decide_keeps_or_flips_and_strips_the_source_word():
    src_q = "Faut-il le consentement pour envoyer des e-mails de prospection à des particuliers ?"
    text = "Oui, en principe : le consentement préalable est exigé."
    assert polarity.decide("Faut-il l'accord des particuliers pour leur écrire ?", src_q, text)[0] is True
    yn, rest = polarity.decide("Peut-on prospecter des particuliers sans leur accord ?", src_q, text)
    assert yn is False and rest.startswith("En principe") is False and not rest.lower().startswith("oui")
    assert polarity.decide("Peut-on filmer ?", src_q, text)[0] is None
    assert polarity.source_answer("En principe, non : rien.") == (False, "Rien.")
    assert polarity.qualifier("En principe, non : rien.") == "En principe"


def test_non_existent_article_is_corrected():
    info = analyze_question("D'après l'article 101 du RGPD on doit déclarer nos caméras, c'est quoi la démarche ?")
    c = check_articles(info, "fr", {})
    assert c and "99 articles" in c.text and "101 n'existe pas" in c.text
    assert check_articles(analyze_question("What does Article 33 require?"), "en", {}) is None


def test_misnamed_article_is_pointed_out_only_when_the_sources_disagree():
    info = analyze_question("L'article 45 oblige à informer les salariés filmés ?")
    c = check_misnamed_article(info, "fr", {13, 88}, {45: "Transferts fondés sur une décision d'adéquation"})
    assert c and "article 45" in c.text and "art. 13" in c.text and not c.contradicts
    assert check_misnamed_article(info, "fr", {45, 13}, {45: "x"}) is None


@pytest.mark.parametrize("question,answer,expected", [
    ("Il paraît qu'on a 48h pour notifier, c'est ça ?", "Notifiez au plus tard 72 heures après.", "48h"),
    ("La CNIL autorise 1 an de conservation des images, non ?", "Les images sont gardées un mois au plus.", "1 an"),
    ("We have 72 hours to notify, right?", "Notify within 72 hours.", None),  # the premise is right
    ("Notre prestataire nous a prévenus 10 jours après, que faire ?", "Notifiez sous 72 heures.", None),  # no claim
    ("I read that we have 7 working days to declare a lost laptop to the CNIL, right?", "Notify within 72 hours.",
     "7 working days"),
])
def test_wrong_duration_is_corrected(question, answer, expected):
    c = check_duration(question, analyze_question(question), "fr", answer)
    if expected is None:
        assert c is None
    else:
        assert c and expected in c.text and c.text.startswith("Non")


@pytest.mark.parametrize("question,yesno", [
    ("On développe une appli qui suit nos livreurs. Faut faire une AIPD ?", True),
    ("registre des traitements obligatoire si on a 15 salariés ?", True),
    ("le n° de sécu des salariés, on peut s'en servir comme identifiant ? c'est pratique", True),
    ("So basically, can we keep them?", True),
    ("la cnil peut débarquer dans nos locaux sans prévenir ?", True),
    ("Quelles données l'employeur peut-il demander ?", False),
    ("Dans quel délai faut-il notifier une violation de données à la CNIL ?", False),
    ("À partir de quel âge un mineur peut-il consentir seul ?", False),
    ("Au-delà des amendes, que peut faire la CNIL ?", False),
    ("If I just store files on a server for a client, is that 'processing'?", True),
    ("Si on stocke juste les fichiers d'un client, est-ce un traitement ?", True),
    ("Quelles mentions obligatoires sur un formulaire ?", False),
    ("comment on peut faire ?", False),
])
def test_colloquial_yes_no_questions(question, yesno):
    assert analyze_question(question).yesno is yesno


@pytest.mark.parametrize("visitor,source,relation", [
    # The situation told before the question, its reasons and "n°" negate nothing.
    ("Personne en interne n'a le temps. Peut-on confier le rôle de DPO à un prestataire ?",
     "Peut-on confier le rôle de DPO à un prestataire externe ?", "same"),
    ("On peut refuser vu que c'est pas pour protéger sa vie privée ?", "Peut-on refuser une demande d'accès ?", "same"),
    ("le n° de sécu des salariés, on peut s'en servir comme identifiant ?", "Peut-on utiliser le NIR ?", "same"),
    ("Un prestataire indien se connecte à la base. C'est un transfert hors UE ça ?",
     "L'accès à distance depuis l'Inde est-il un transfert ?", "same"),
    # A condition is part of the question: its negation counts.
    ("Peut-on prospecter si la personne n'a pas donné son accord ?", "Peut-on prospecter des particuliers ?",
     "opposite"),
    # Places are not negations; purpose clauses are not the question; either-or gets no yes/no.
    ("can I put a camera on my shop front that films the street?",
     "Can a business film the street or pavement outside its premises?", "same"),
    ("Can our HR director double up as the DPO so we don't have to hire anyone?",
     "Can the IT director be the DPO?", "same"),
    ("Do I need consent for audience stats, or are analytics cookies exempt?",
     "Do audience-measurement cookies need consent?", "unknown"),
    ("In 2022 the CNIL said GA was illegal. Is it still the case now or its ok?",
     "Can we still use Google Analytics on our website?", "unknown"),
    ("le analytics c'est legal en france maintenant ou toujours interdit par la cnil ?",
     "Peut-on encore utiliser Google Analytics sur son site ?", "unknown"),
    ("un client s'oppose a notre prospection. on peut continuer au nom de notre interet legitime ou on doit arreter ?",
     "Un client s'oppose à la prospection : faut-il arrêter de lui envoyer des offres ?", "unknown"),
    ("A customer objected to our mailings. Can we keep going on legitimate interest or we must stop?",
     "A customer objects to marketing: must we stop sending them offers?", "unknown"),
])
def test_polarity_reads_the_clause_that_asks(visitor, source, relation):
    assert polarity.relate(visitor, source) == relation


def test_no_correction_when_the_source_says_there_is_no_single_figure():
    q = "Is there a fixed retention period in the GDPR, like 5 years for everything?"
    info = analyze_question(q)
    assert check_duration(q, info, "en", "The GDPR sets no fixed figure. Benchmarks: CVs, 2 years.") is None
    assert check_duration(q, info, "en", "Keep them 2 years.") is not None  # a source giving one figure does


def test_misnamed_article_points_to_the_article_governing_the_lead_not_the_lowest():
    """'An access request under Article 17': the lead item is about access (art. 15); art. 12 (time
    limits) is among the sources too, but the right article to name is the lead's."""
    info = analyze_question("A former employee sent a subject access request under Article 17. Is that right?")
    c = check_misnamed_article(info, "en", {12, 15}, {17: "Right to erasure"}, governing=15)
    assert c and "Art. 15" in c.text, c
    assert "Art. 12" in check_misnamed_article(info, "en", {12, 15}, {17: "Right to erasure"}).text


def test_an_age_is_corrected_only_by_an_age_and_a_period_only_by_a_period():
    """'20 days to return a dress' answered from a source about a 14-year-old must not read
    'No: it is not 20 days but 14 years'; an age claim is still corrected by the source's age."""
    q = "Un client veut nous renvoyer un article après 20 jours, c'est son droit ?"
    assert check_duration(q, analyze_question(q), "fr",
                          "Un jeune de 13 ou 14 ans peut-il s'inscrire seul ? Non, la France a fixé l'âge à 15 ans.") is None
    q = "la majorité numérique c'est 13 ans, c'est ça ?"
    c = check_duration(q, analyze_question(q), "fr", "Non, en France la majorité numérique est fixée à 15 ans.")
    assert c and "13 ans" in c.text and "15 ans" in c.text, c
    q = "on a 48h pour notifier une fuite, c'est ça ?"
    c = check_duration(q, analyze_question(q), "fr", "Pour un mineur de moins de 15 ans, rien. La notification se fait "
                                                     "sous 72 heures.")
    assert c and "72 heures" in c.text and "15 ans" not in c.text, c


def test_the_end_of_a_range_is_not_a_claimed_figure():
    """'collégiens/lycéens (11-17 ans)' says who the users are: it got 'Non : ce n'est pas 17 ans, mais 15 ans'."""
    source = "En France, à 15 ans : en dessous, il faut l'accord des parents."
    q = "on developpe une appli pour collegiens/lyceens (11-17 ans). faut il demander l'autorisation des parents ?"
    assert check_duration(q, analyze_question(q), "fr", source) is None
    q = "On garde les CV entre 3 et 5 ans, c'est ça ?"
    assert check_duration(q, analyze_question(q), "fr", "La CNIL recommande 2 ans.") is None
    q = "Dès 13 ans un ado peut consentir seul, donc les 13-14 ans peuvent s'inscrire sans les parents ?"
    c = check_duration(q, analyze_question(q), "fr", source)
    assert c and "13 ans" in c.text and "15 ans" in c.text, c  # a single figure before the range still counts


def test_an_age_stated_without_age_words_right_before_it_is_still_an_age():
    """A source giving two ages in one sentence ("la France a fixé l'âge à 15 ans : le RGPD retient 16 ans
    par défaut") must not correct a period: a 2-year non-compete clause got "No: it is not 2 years but
    16 years". A period in a sentence about an age stays a period when its own words say so."""
    source = ("Non, la France a fixé l'âge à 15 ans : l'art. 8, paragraphe 1, du RGPD retient 16 ans par défaut "
              "et permet à chaque État membre de l'abaisser, sans descendre sous 13 ans.")
    assert is_age(source, "15 ans") and is_age(source, "16 ans") and is_age(source, "13 ans")
    q = "je veux une clause de non concurrence de 2 ans sur toute la France, est ce qu'il faut la payer ?"
    assert check_duration(q, analyze_question(q), "fr", source) is None
    assert not is_age("The age limit is 16 years and the files are kept 3 years.", "3 years")
    assert not is_age("On garde les CV 2 ans après le dernier contact.", "2 ans")
    q = "la majorité numérique c'est 14 ans en France, non ?"
    c = check_duration(q, analyze_question(q), "fr", source)
    assert c and "15 ans" in c.text, c


@pytest.mark.parametrize("question, sanction", [
    ("Our US vendor is 'Privacy Shield certified', so I assume sending our customer list is fine. Can you confirm?", False),
    ("Is it fine to keep CVs for two years?", False),
    ("We were fined by the CNIL last year, can we appeal?", True),
    ("How much could the CNIL fine us for a missing cookie banner?", True),
    ("What is the biggest GDPR fine so far?", True),
    ("Quelle amende pour un registre absent ?", True),
    ("La CNIL a sanctionné notre concurrent, on risque quoi ?", True),
    ("Quelles pénalités si on ne répond pas à une demande d'accès ?", True),
])
def test_fine_as_okay_is_not_a_question_about_sanctions(question, sanction):
    """"It's fine" once sent a question about a US transfer to the CNIL's sanctions."""
    from assistant.retrieval.query import asks_about_sanctions

    assert asks_about_sanctions(question) is sanction


def test_a_deadline_is_not_corrected_by_a_retention_period_nor_the_reverse():
    from assistant.retrieval.query import duration_kind

    q = "Is it true that we must delete a former customer's file within 48 hours, invoices included?"
    info = analyze_question(q)
    assert duration_kind(q, "48 hours") == "deadline"
    assert duration_kind("Invoices must be kept for 10 years.", "10 years") == "kept"
    assert duration_kind("Vous devez répondre dans un délai maximal d'un mois.", "un mois") == "deadline"
    assert check_duration(q, info, "en", "Invoices must be kept for 10 years under commercial law.") is None
    c = check_duration(q, info, "en", "Erase the data without undue delay, and within one month at the latest.")
    assert c is not None and "one month" in c.text and "48 hours" in c.text
    q = "On m'a dit qu'on peut garder les images de vidéosurveillance 6 mois, c'est bien ça ?"
    assert check_duration(q, analyze_question(q), "fr", "Répondez dans un délai d'un mois.") is None
    assert "un mois" in check_duration(q, analyze_question(q), "fr", "Les images sont conservées un mois au plus.").text
