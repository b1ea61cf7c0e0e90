"""Chunking: structure, metadata, stable content-hash ids."""

from assistant.corpus.chunking import chunk_all, chunk_document, chunk_official, split_sections
from assistant.corpus.eurlex import parse_eurlex
from assistant.corpus.loader import load_corpus

from conftest import FIXTURE_CORPUS, FIXTURES

EXCERPT = parse_eurlex((FIXTURES / "eurlex_excerpt_en.html").read_text(encoding="utf-8"), complete=False)


def test_official_chunks_one_per_paragraph_and_recital():
    chunks = chunk_official(EXCERPT)
    arts = [c for c in chunks if c.kind == "gdpr_article"]
    assert [(c.article, c.paragraph) for c in arts] == [(1, "1"), (1, "2"), (2, None), (2, "1"), (2, "2"), (3, None)]
    c = arts[1]
    assert c.ref == "GDPR Art. 1(2)"
    assert c.title == "Article 1 – Subject matter of the test"
    assert "(b) a second point." in c.text
    assert c.url == "https://eur-lex.europa.eu/eli/reg/2016/679/oj/eng#art_1"
    assert c.page == "/sources/gdpr-en-art-1" and c.lang == "en" and c.group == "art-1"
    assert "General test provisions" in c.search_text
    rct = [c for c in chunks if c.kind == "gdpr_recital"]
    assert [(c.recital, c.ref) for c in rct] == [(1, "GDPR Recital 1"), (2, "GDPR Recital 2")]


def test_ids_are_stable_and_unique():
    a, b = chunk_official(EXCERPT), chunk_official(EXCERPT)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_changed_text_changes_only_its_chunk_id():
    before = {(c.article, c.paragraph, c.recital): c.id for c in chunk_official(EXCERPT)}
    EXCERPT2 = parse_eurlex((FIXTURES / "eurlex_excerpt_en.html").read_text(encoding="utf-8")
                            .replace("The first paragraph of the test.", "A changed first paragraph."),
                            complete=False)
    after = {(c.article, c.paragraph, c.recital): c.id for c in chunk_official(EXCERPT2)}
    changed = [k for k in before if before[k] != after[k]]
    assert changed == [(1, "1", None)]


def test_corpus_documents():
    docs = {d.id: d for d in load_corpus(FIXTURE_CORPUS)}
    faq = chunk_document(docs["faq-breach-72-hours-fr"])
    assert len(faq) == 1
    c = faq[0]
    assert (c.kind, c.lang, c.article, c.ref) == ("faq", "fr", 33, "FAQ")
    # Other phrasings are question keys of their own, not part of the item's text (assistant.retrieval.keys).
    assert "On s'est fait pirater" not in c.search_text and "On s'est fait pirater" not in c.text
    assert c.title in c.search_text
    assert c.page == "/sources/faq-breach-72-hours-fr"
    dec = chunk_document(docs["decision-cnil-2022-dedalus-biologie-fr"])[0]
    assert dec.ref == "CNIL SAN-2022-009" and dec.kind == "cnil_decision"
    assert "Dedalus Biologie" in dec.search_text
    guide = chunk_document(docs["guide-art-037-en"])
    assert guide[0].ref == "GDPR guide, Art. 37" and guide[0].article == 37
    assert chunk_document(docs["glossary-dpo-fr"]) == []


def test_long_guides_are_split_by_section():
    docs = {d.id: d for d in load_corpus(FIXTURE_CORPUS)}
    d = docs["guide-art-037-fr"]
    from dataclasses import replace

    long_doc = replace(d, body=d.body + "\n\n## Encore\n\n" + ("Un long paragraphe. " * 80 + "\n\n") * 3)
    chunks = chunk_document(long_doc)
    assert len(chunks) > 2
    assert all(c.search_text.startswith(d.title) for c in chunks)
    assert all(len(c.text) <= 2000 for c in chunks)


def test_split_sections():
    assert split_sections("Lead.\n\n## A\ntext a\n## B\ntext b") == [("", "Lead."), ("A", "text a"), ("B", "text b")]


def test_chunk_all_combines_and_dedupes():
    docs = load_corpus(FIXTURE_CORPUS)
    chunks = chunk_all(docs + docs[:1], [EXCERPT])
    assert len({c.id for c in chunks}) == len(chunks)
    assert {c.kind for c in chunks} == {"gdpr_article", "gdpr_recital", "guide", "faq", "cnil_decision"}


def test_a_decision_is_about_the_articles_it_found_breached_first():
    import dataclasses
    docs = {d.id: d for d in load_corpus(FIXTURE_CORPUS)}
    doc = docs["decision-cnil-2022-dedalus-biologie-fr"]
    cites_definitions = dataclasses.replace(doc, articles=(4, 28, 29, 32),
                                            extra={**doc.extra, "articles_breached": [32, 28]})
    dec = chunk_document(cites_definitions)[0]
    assert dec.article == 32 and dec.articles == (32, 28, 4, 29)
