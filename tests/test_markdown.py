"""The one Markdown renderer (markdown-it-py + nh3): what it keeps, what it never lets through."""

from html.parser import HTMLParser

import pytest

from assistant.web.markdown import TAGS, answer_html, render_markdown


def elements(html: str) -> list[tuple[str, dict]]:
    """Every start tag of ``html`` with its attributes (what a browser would build)."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


@pytest.mark.parametrize("text,expected", [
    # underscores inside URLs and words stay text
    ("See https://eur-lex.europa.eu/eli/reg/2016/679/oj_fr_x",
     '<a href="https://eur-lex.europa.eu/eli/reg/2016/679/oj_fr_x" rel="noopener noreferrer">'
     "https://eur-lex.europa.eu/eli/reg/2016/679/oj_fr_x</a>"),
    ("[the text](https://x.fr/a_b_c_d)", '<a href="https://x.fr/a_b_c_d" rel="noopener noreferrer">the text</a>'),
    ("snake_case_word", "snake_case_word"),
    ("**bold** and _em_", "<strong>bold</strong> and <em>em</em>"),
    # our own source pages
    ("[art. 33](/sources/gdpr-fr-art-33)", '<a href="/sources/gdpr-fr-art-33" rel="noopener noreferrer">art. 33</a>'),
])
def test_kept(text, expected):
    assert expected in render_markdown(text)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](mailto:someone@example.fr)",
    "[x](//evil.example/path)",
    "www.example.fr",  # linkify only explicit http(s)://
    "contact@example.fr",
    '<a href="https://x.fr" onclick="alert(1)">x</a>',
    "ftp://files.example.fr/x",
    "[x](https://x.fr \"title\" onmouseover=alert(1))",
    "![image](https://x.fr/pixel.png)",
])
def test_nothing_unsafe_passes(text):
    for tag, attrs in elements(render_markdown(text)):
        assert tag in TAGS and tag not in ("script", "img")
        assert not [a for a in attrs if a.startswith("on") or a in ("style", "src")]
        href = attrs.get("href")
        assert href is None or href.startswith(("https://", "http://", "/sources/", "#")), href
    assert "href" not in render_markdown(text) or text.startswith(("<a", "[x](https://x.fr"))


def test_citation_markers_link_to_their_cards_only_when_the_card_exists():
    html = render_markdown("Notify within 72 hours [1], see also [2] and [3]; a list [x] and [1](https://x.fr).",
                           cite_prefix="cite-abc-", citations=2)
    assert '<a href="#cite-abc-1" class="cite"' in html and '<a href="#cite-abc-2" class="cite"' in html
    assert "#cite-abc-3" not in html and "[3]" in html  # no third citation: stays text
    assert '<a href="https://x.fr" rel="noopener noreferrer">1</a>' in html  # a real link stays a link
    assert "#cite" not in render_markdown("[1]")  # without citations, markers are text


def test_headings_move_below_the_page_title():
    assert "<h2>Title</h2>" in render_markdown("# Title")
    assert "<h3>Title</h3>" in render_markdown("# Title", heading_offset=2)
    assert "<h6>" in render_markdown("###### deep", heading_offset=2)


def test_lists_and_paragraphs():
    html = render_markdown("Intro\n\n- one\n- two\n\n1. first\n2. second")
    assert "<p>Intro</p>" in html and "<ul>" in html and "<ol>" in html and html.count("<li>") == 4


def test_answer_html_uses_the_answers_citations():
    answer = {"answer": "Within 72 hours [1] [2].", "citations": [{"ref": "GDPR Art. 33"}]}
    html = answer_html(answer, "cite-x-")
    assert 'href="#cite-x-1"' in html and "#cite-x-2" not in html
