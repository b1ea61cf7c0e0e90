"""Corpus loading: valid documents, and malformed files rejected with file and field named."""

from pathlib import Path

import pytest

from assistant.corpus.loader import check_corpus, load_corpus, parse_document
from assistant.errors import CorpusError

GOOD = """---
id: faq-test-item-fr
kind: faq
lang: fr
translation_key: faq-test-item
title: "Une question ?"
questions: ["Autre formulation ?"]
articles: [33]
url: https://eur-lex.europa.eu/eli/reg/2016/679/oj/fra#art_33
updated: 2026-11-29
---
Une réponse directe et assez longue pour passer la validation du corps, avec l'art. 33.
"""


def write(tmp_path: Path, text: str, name: str = "item.md") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_document_parses(tmp_path):
    d = parse_document(write(tmp_path, GOOD))
    assert d.id == "faq-test-item-fr" and d.kind == "faq" and d.lang == "fr"
    assert d.articles == (33,) and d.article == 33
    assert d.extra["questions"] == ["Autre formulation ?"]
    assert d.body.startswith("Une réponse directe")


@pytest.mark.parametrize("old,new,needle", [
    ("kind: faq", "kind: blog", "field 'kind' must be one of"),
    ("lang: fr", "lang: de", "field 'lang' must be fr or en"),
    ("id: faq-test-item-fr", "id: Faq Item", "field 'id'"),
    ("translation_key: faq-test-item", "translation_key: other", "field 'translation_key'"),
    ("articles: [33]", "articles: [100]", "field 'articles'"),
    ("articles: [33]", "articles: 33", "field 'articles'"),
    ("url: https://eur-lex.europa.eu/eli/reg/2016/679/oj/fra#art_33", "url: https://example.com/x", "official source"),
    ("url: https://eur-lex.europa.eu/eli/reg/2016/679/oj/fra#art_33", "url: eur-lex", "well-formed"),
    ("updated: 2026-11-29", "updated: yesterday", "field 'updated' must be a date"),
    ('questions: ["Autre formulation ?"]\n', "", "field 'questions' is required"),
    ('title: "Une question ?"\n', "", "field 'title' is missing"),
    ("---\nid", "id", "no YAML front matter"),
    ("articles: [33]", "articles: [33", "not valid YAML"),
])
def test_malformed_documents_name_file_and_field(tmp_path, old, new, needle):
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new, 1), "broken.md")
    with pytest.raises(CorpusError) as e:
        parse_document(p)
    assert "broken.md" in e.value.message
    assert needle in e.value.message


def test_empty_body_is_rejected(tmp_path):
    text = GOOD.split("---\n", 2)
    p = write(tmp_path, "---\n" + text[1] + "---\n\n")
    with pytest.raises(CorpusError, match="body is empty"):
        parse_document(p)


def test_non_utf8_file_is_rejected(tmp_path):
    p = tmp_path / "latin1.md"
    p.write_bytes(GOOD.replace("réponse", "r\xe9ponse").encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        parse_document(p)


def test_load_corpus_reports_every_problem_and_duplicates(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", GOOD, "one.md")
    write(tmp_path / "a", GOOD, "two.md")  # same id
    write(tmp_path / "a", GOOD.replace("kind: faq", "kind: nope"), "three.md")
    with pytest.raises(CorpusError) as e:
        load_corpus(tmp_path)
    joined = "\n".join(e.value.problems)
    assert "three.md" in joined and "already used" in joined
    assert len(e.value.problems) == 2


def test_missing_corpus_dir(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_check_corpus_finds_missing_translation_and_bad_article(tmp_path):
    write(tmp_path, GOOD.replace("l'art. 33", "l'art. 133"), "x.md")
    report = check_corpus(load_corpus(tmp_path))
    text = "\n".join(report.problems)
    assert "no EN translation" in text
    assert "article 133" in text
    assert report.counts[("faq", "fr")] == 1


def test_french_code_articles_are_not_read_as_gdpr_articles(tmp_path):
    write(tmp_path, GOOD.replace("l'art. 33", "l'art. 33 et l'article 226-16-1 du Code pénal"), "x.md")
    assert not [p for p in check_corpus(load_corpus(tmp_path)).problems if "article 226" in p]


def test_fixture_corpus_is_valid():
    from conftest import FIXTURE_CORPUS

    docs = load_corpus(FIXTURE_CORPUS)
    report = check_corpus(docs)
    assert not [p for p in report.problems if "no guide for article" not in p]
    assert {d.kind for d in docs} == {"guide", "faq", "cnil_decision", "glossary"}
