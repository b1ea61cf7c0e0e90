"""Pure functions: text analysis, language detection, BM25, glossary expansion, RRF and dedup."""

import pytest

from assistant.retrieval.fusion import cut_keeping_leaders, dedupe_by_group, reciprocal_rank_fusion
from assistant.retrieval.glossary import Glossary, GlossaryEntry
from assistant.retrieval.lexical import BM25Index
from assistant.retrieval.text import analyze, detect_language, fold
from assistant.types import Chunk


@pytest.mark.parametrize("text,expected", [
    ("Données À Caractère Personnel", "donnees a caractere personnel"),
    ("cœur", "coeur"),
    ("l’article", "l'article"),
])
def test_fold(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("text,lang,expected", [
    ("Les données personnelles", "fr", ["donne", "personnel"]),
    ("the processing of personal data", "en", ["process", "person", "data"]),
])
def test_analyze_stems_and_drops_stopwords(text, lang, expected):
    assert analyze(text, lang) == expected


def test_accent_folding_makes_stems_match():
    assert analyze("délégué", "fr") == analyze("delegue", "fr")


@pytest.mark.parametrize("q,lang", [
    ("Qui doit désigner un délégué à la protection des données ?", "fr"),
    ("Le droit à la portabilité, comment ça marche ?", "fr"),
    ("on s'est fait pirater, on fait quoi", "fr"),
    ("What is the right to be forgotten?", "en"),
    ("Does the GDPR apply outside the European Union?", "en"),
    ("we got hacked what now", "en"),
])
def test_detect_language(q, lang):
    assert detect_language(q) == lang


def test_detect_language_default_when_unsure():
    assert detect_language("RGPD", default="en") == "en"
    assert detect_language("12345", default="fr") == "fr"


def test_bm25_ranks_the_matching_document_first():
    idx = BM25Index.build("en", [("a", "notification of a personal data breach within 72 hours"),
                                 ("b", "the right to erasure of personal data"),
                                 ("c", "designation of the data protection officer")])
    assert [cid for cid, _ in idx.search("breach notification", 3)][0] == "a"
    assert idx.search("zebra", 3) == []
    again = BM25Index.from_json(idx.to_json())
    assert again.search("erasure", 1)[0][0] == "b"


def _bm25_reference(idx, query, n, extra=()):
    """Okapi BM25 term by term, as the index computed it before it was vectorised."""
    from collections import Counter, defaultdict

    from assistant.retrieval.text import analyze

    weights = Counter({t: 1.0 for t in analyze(query, idx.lang)})
    for t in analyze(" ".join(extra), idx.lang):
        weights[t] = max(weights[t], 0.5)
    scores = defaultdict(float)
    for term, w in weights.items():
        for doc, tf in idx.postings.get(term, []):
            norm = idx.k1 * (1 - idx.b + idx.b * idx.lengths[doc] / idx.avgdl)
            scores[doc] += idx.idf[term] * w * tf * (idx.k1 + 1) / (tf + norm)
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(idx.ids[d], s) for d, s in best]


def test_bm25_scores_are_those_of_the_formula_to_the_last_bit_with_ties_in_index_order():
    docs = [(f"d{i}", text) for i, text in enumerate([
        "Notification d'une violation de données dans les 72 heures à la CNIL",
        "Le droit à l'effacement des données personnelles",
        "Le droit à l'effacement des données personnelles",  # a tie: index order decides
        "Désignation du délégué à la protection des données, les données des salariés",
        "Durée de conservation des données des candidats, des CV et des entretiens",
        "Vidéosurveillance des salariés : information, durée de conservation des images"])]
    idx = BM25Index.build("fr", docs)
    for query, n, extra in [("effacement des données", 10, ()), ("données", 3, ()),
                            ("conservation des CV", 5, ("durée",)), ("zèbre", 5, ())]:
        assert idx.search(query, n, list(extra)) == _bm25_reference(idx, query, n, extra)
    assert [cid for cid, _ in idx.search("effacement", 2)] == ["d1", "d2"]


def test_bm25_rebuilt_from_a_previous_build_s_term_counts_is_the_same_index(monkeypatch):
    """A re-index reuses the analysis of unchanged chunks: same scores, and only new text is analysed."""
    docs = [("a", "Notification d'une violation de données dans les 72 heures"),
            ("b", "Le droit à l'effacement des données personnelles"),
            ("c", "Désignation du délégué à la protection des données, les données des salariés")]
    fresh = BM25Index.build("fr", docs)
    known = BM25Index.from_json(fresh.to_json()).term_counts()
    assert [sum(known[i].values()) for i in "abc"] == fresh.lengths
    from assistant.retrieval import lexical

    analysed = []
    real = lexical.analyze
    monkeypatch.setattr(lexical, "analyze", lambda text, lang: analysed.append(text) or real(text, lang))
    changed = [*docs[:2], ("d", "Durée de conservation des données des candidats")]
    again = BM25Index.build("fr", changed, known)
    assert analysed == ["Durée de conservation des données des candidats"]
    reference = BM25Index.build("fr", changed)
    assert again.lengths == reference.lengths
    for q in ("violation 72 heures", "données", "conservation candidats", "effacement"):
        assert again.search(q, 3) == reference.search(q, 3)


def test_bm25_expansion_terms_widen_recall():
    idx = BM25Index.build("en", [("a", "personal data breach"), ("b", "data protection officer")])
    assert idx.search("fuite", 2) == []
    assert idx.search("fuite", 2, extra_terms=["data breach"])[0][0] == "a"


def test_glossary_expansion_both_ways():
    g = Glossary([GlossaryEntry("dpo", ("délégué à la protection des données", "DPO"),
                                ("data protection officer", "DPO")),
                  GlossaryEntry("breach", ("violation de données", "fuite de données"),
                                ("personal data breach", "data leak"))])
    assert g.expand("Qui doit désigner un délégué à la protection des données ?")["en"][0] == "data protection officer"
    assert g.expand("We had a data leak")["fr"] == ["violation de données", "fuite de données"]
    assert g.expand("Des fuites de données ?")["en"] == ["personal data breach", "data leak"]  # plural, stemmed
    assert g.expand("nothing relevant here") == {"fr": [], "en": []}
    assert Glossary.from_json(g.to_json()).expand("DPO")["en"] == ["data protection officer", "DPO"]
    assert Glossary(g.entries, generic={"dpo"}).expand("DPO") == {"fr": [], "en": []}


@pytest.mark.parametrize("rankings,k,expected_order", [
    ([(["a", "b", "c"], 1.0)], 60, ["a", "b", "c"]),
    ([(["a", "b"], 1.0), (["b", "a"], 1.0)], 60, None),  # tie: both equal
    ([(["a", "b", "c"], 1.0), (["c", "b", "a"], 1.0), (["b"], 1.0)], 60, ["b", "a", "c"]),
    ([(["a", "b"], 1.0), (["b", "a"], 3.0)], 60, ["b", "a"]),  # weights decide
    ([(["a", "b"], 0.0), (["b", "a"], 1.0)], 60, ["b", "a"]),  # weight 0 ignores a ranking
])
def test_rrf(rankings, k, expected_order):
    scores = reciprocal_rank_fusion(rankings, k=k)
    if expected_order is None:
        assert scores["a"] == pytest.approx(scores["b"])
    else:
        assert sorted(scores, key=lambda x: -scores[x]) == expected_order
    assert scores[next(iter(scores))] <= sum(w for _, w in rankings) / (k + 1)


def chunk(cid, group, lang):
    return Chunk(id=cid, doc_id=cid, kind="gdpr_article", lang=lang, title=cid, text=cid, search_text=cid,
                 url="https://eur-lex.europa.eu/x", page="/sources/x", updated="2016-04-27", article=1, group=group)


def test_the_cut_keeps_a_group_that_leads_one_ranking_only():
    """A coach's question matched one FAQ phrasing ("a yoga studio asking about injuries and pregnancy")
    second in the key ranking and nowhere else: the fused cut at 30 dropped the right item before the
    ranker saw it. Groups far down the fusion stay only when one ranking puts them near the top."""
    fused = [(chunk(f"c{i}", f"g{i}", "fr"), 1.0 - i / 100) for i in range(40)]
    ranks = {f"g{i}": {"dense": i + 1, "lexical_fr": i + 2} for i in range(30)}
    ranks["g33"] = {"keys_lex": 2}
    ranks["g35"] = {"keys_lex": 4, "titles": 9}
    ranks["g36"] = {"dense": 3}
    kept = cut_keeping_leaders(fused, ranks, depth=30, leader_rank=3)
    assert [c.group for c, _ in kept] == [f"g{i}" for i in range(30)] + ["g33", "g36"]
    assert cut_keeping_leaders(fused, ranks, depth=40, leader_rank=3) == fused


def test_dedupe_keeps_group_score_and_prefers_question_language():
    scored = [(chunk("en33", "art-33", "en"), 0.9), (chunk("fr33", "art-33", "fr"), 0.5),
              (chunk("en34", "art-34", "en"), 0.7)]
    out = dedupe_by_group(scored, "fr")
    assert [(c.id, s) for c, s in out] == [("fr33", 0.9), ("en34", 0.7)]
    out_en = dedupe_by_group(scored, "en")
    assert [c.id for c, _ in out_en] == ["en33", "en34"]


def test_chunk_stems_primed_from_the_lexical_index_are_the_analysis_of_the_text(monkeypatch):
    from assistant.retrieval import rerank
    from assistant.retrieval.text import analyze

    monkeypatch.setattr(rerank, "_STEMS", {})
    docs = {"fr": [("f1", "Durée de conservation des données des candidats"), ("f2", "Le droit d'opposition")],
            "en": [("e1", "Retention of candidates' data after recruitment")]}
    rerank.prime_chunk_stems({lang: BM25Index.build(lang, items) for lang, items in docs.items()})
    assert rerank._STEMS == {cid: set(analyze(text, lang)) for lang, items in docs.items() for cid, text in items}


def test_ranker_features_do_not_depend_on_string_hashing():
    """Feature sums run over sets of stems, whose order changes with each process's string hashing: two
    builds of the same corpus trained rankers that differed in their last digits. The sums are exact now."""
    import os
    import subprocess
    import sys

    code = ("from assistant.retrieval.rerank import FeatureSpace\n"
            "words = [f'mot{i}' for i in range(60)]\n"
            "f = FeatureSpace.__new__(FeatureSpace)\n"
            "f.idf = {'fr': {w: 1 / (i + 3) for i, w in enumerate(words)}}\n"
            "print(repr(f.coverage(words, set(words[::2]), 'fr')))")
    outs = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                           capture_output=True, text=True, check=True).stdout for seed in range(1, 7)}
    assert len(outs) == 1
