"""EUR-Lex importer: our own excerpt fixture (structure) and the real files (both languages)."""

import json

import pytest

from assistant.corpus.eurlex import import_file, load_official, parse_eurlex
from assistant.errors import OfficialTextError

from conftest import EURLEX_FILES, FIXTURES

EXCERPT = (FIXTURES / "eurlex_excerpt_en.html").read_text(encoding="utf-8")


def test_excerpt_structure():
    t = parse_eurlex(EXCERPT, complete=False)
    assert t.lang == "en"
    a1, a2, a3 = t.articles
    assert (a1.number, a1.title, a1.chapter, a1.chapter_title) == (1, "Subject matter of the test", "I",
                                                                   "General test provisions")
    assert [p.number for p in a1.paragraphs] == ["1", "2"]
    assert a1.paragraphs[1].text == "The second paragraph lists:\n(a) a first point;\n(b) a second point."
    assert a1.url == "https://eur-lex.europa.eu/eli/reg/2016/679/oj/eng#art_1"
    assert [p.number for p in a2.paragraphs] == [None, "1", "2"]
    assert a2.paragraphs[2].text == "‘term two’ means either:\n(a) one thing; or\n(b) another thing."
    assert (a3.section, a3.section_title, a3.chapter) == ("1", "A test section", "II")
    assert t.recitals[0].text == "First test recital about the protection of people and their data."


def test_excerpt_is_refused_as_a_full_import():
    with pytest.raises(OfficialTextError, match="found 3 articles, expected articles 1 to 99"):
        parse_eurlex(EXCERPT, source="x.html")


@pytest.mark.parametrize("data,needle", [
    ("", "empty"),
    ("<html><body><p>Hello</p></body></html>", r"not Regulation \(EU\) 2016/679"),
    ("<html><body>Regulation (EU) 2016/679 <p>no articles</p></body></html>", "no article found"),
])
def test_bad_files(data, needle):
    with pytest.raises(OfficialTextError, match=needle):
        parse_eurlex(data, source="bad.html")


def test_truncated_real_file_is_refused_and_keeps_previous_import(eurlex_dir, tmp_path):
    good = eurlex_dir / EURLEX_FILES["en"]
    import_file(good, tmp_path / "official")
    before = (tmp_path / "official" / "gdpr-en.json").read_bytes()
    raw = good.read_bytes()
    cut = tmp_path / "cut.html"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(OfficialTextError, match="truncated"):
        import_file(cut, tmp_path / "official")
    assert (tmp_path / "official" / "gdpr-en.json").read_bytes() == before


def test_missing_file_names_the_fetch_command(tmp_path):
    with pytest.raises(OfficialTextError, match="corpus fetch"):
        import_file(tmp_path / "nope.html", tmp_path / "official")


@pytest.mark.official
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_real_file_counts_and_structure(official_texts, lang):
    t = official_texts[lang]
    assert t.lang == lang
    assert [a.number for a in t.articles] == list(range(1, 100))
    assert [r.number for r in t.recitals] == list(range(1, 174))
    a33 = t.articles[32]
    assert [p.number for p in a33.paragraphs] == ["1", "2", "3", "4", "5"]
    assert "72" in a33.paragraphs[0].text
    assert a33.paragraphs[2].text.count("\n") == 4  # points (a) to (d)
    assert (a33.chapter, a33.section) == ("IV", "2")
    a4 = t.articles[3]
    assert [p.number for p in a4.paragraphs] == [None] + [str(i) for i in range(1, 27)]
    assert a4.url.endswith("#art_4")
    assert t.articles[98].paragraphs[1].text.endswith("2018.")  # "applies from 25 May 2018."
    assert not any("(1)" in r.text[:4] for r in t.recitals)


@pytest.mark.official
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_real_file_matches_independent_extraction(official_texts, lang):
    """Paragraph numbering and text agree with the independent JSON extraction in shared/data."""
    from difflib import SequenceMatcher

    from assistant.config import Settings

    ref_path = Settings.from_env().eurlex_dir.parent / f"gdpr_{lang}.json"
    if not ref_path.exists():
        pytest.skip(f"{ref_path} not available")
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    t = official_texts[lang]
    checked = 0
    for a, ra in zip(t.articles, ref["articles"], strict=True):
        assert a.title == ra["title"] and a.chapter == ra["chapter"] and a.section == ra["section"]
        if a.number == 50:  # we keep art. 50's points inside one unnumbered paragraph
            continue
        assert [p.number for p in a.paragraphs] == [p["number"] for p in ra["paragraphs"]], a.number
        for p, rp in zip(a.paragraphs, ra["paragraphs"], strict=True):
            assert SequenceMatcher(None, p.text, rp["text"]).ratio() > 0.99, (a.number, p.number)
            checked += 1
    assert checked > 400


@pytest.mark.official
def test_import_stores_both_languages(eurlex_dir, tmp_path):
    for name in EURLEX_FILES.values():
        import_file(eurlex_dir / name, tmp_path)
    texts = load_official(tmp_path)
    assert [t.lang for t in texts] == ["fr", "en"]
    assert texts[0].articles[0].title == "Objet et objectifs"
