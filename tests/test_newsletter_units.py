"""The newsletter's pure parts: address and topic checks, consent hash, e-mails (parts, links, RFC 8058 headers),
the digest of the newest decisions and FAQ items, the growth chart's points."""

from pathlib import Path

import pytest

from assistant.corpus.loader import load_corpus
from assistant.errors import InputError
from assistant.newsletter.digest import build_digest
from assistant.newsletter.emails import confirmation_email, issue_email, rights_email, unsubscribe_headers
from assistant.newsletter.service import consent_hash, consent_text, parse_topics, token_hash, validate_email
from assistant.web.newsletter import growth_chart

CORPUS = Path(__file__).parent / "fixtures/corpus"


@pytest.mark.parametrize("address, expected", [
    ("Alice@Example.FR", "Alice@example.fr"),
    ("  bob@example.com ", "bob@example.com"),
])
def test_valid_addresses_are_normalised(address, expected):
    assert validate_email(address) == expected


@pytest.mark.parametrize("address, code", [
    ("", "email_required"), ("   ", "email_required"), ("not-an-address", "invalid_email"),
    ("a@b", "invalid_email"), ("a@@example.fr", "invalid_email"), ("x" * 250 + "@example.fr", "invalid_email"),
    ("a b@example.fr", "invalid_email"), ("alice@example.fr\nBcc: eve@example.fr", "invalid_email"),
])
def test_malformed_addresses_are_refused_with_a_code(address, code):
    with pytest.raises(InputError) as e:
        validate_email(address)
    assert e.value.code == code and e.value.http_status == 422


def test_topics_keep_known_keys_in_order_and_refuse_unknown_ones():
    assert parse_topics(["security", "decisions", ""]) == ("decisions", "security")
    with pytest.raises(InputError, match="Unknown topic 'crypto'"):
        parse_topics(["decisions", "crypto"])


def test_consent_text_differs_by_language_and_its_hash_is_stable():
    assert consent_text("fr") != consent_text("en")
    assert "unsubscribe" in consent_text("en")
    assert consent_hash("fr") == consent_hash("fr") and len(consent_hash("fr")) == 64
    assert consent_hash("fr") != consent_hash("en")


def test_tokens_are_stored_as_sha256():
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_confirmation_email_has_both_parts_and_the_link_in_each():
    url = "https://assistant.example.fr/newsletter/confirm/TOKEN"
    for lang, word in (("fr", "Confirmez"), ("en", "Confirm")):
        mail = confirmation_email(lang, url)
        assert word in mail.subject
        assert url in mail.text and f'href="{url}"' in mail.html
        assert "7" in mail.text  # says when it expires
        assert f'lang="{lang}"' in mail.html
        assert "List-Unsubscribe" not in mail.headers  # nothing to unsubscribe from yet


def test_issue_email_carries_the_one_click_headers_and_a_visible_link():
    unsub = "https://assistant.example.fr/newsletter/unsubscribe/pid.sig"
    mail = issue_email("en", "Issue 1", "# Title\n\nSome **news**.", "<h1>Title</h1><p>Some <strong>news</strong>.</p>",
                       unsub, mailto="unsubscribe@example.fr")
    assert mail.headers["List-Unsubscribe"] == f"<{unsub}>, <mailto:unsubscribe@example.fr?subject=unsubscribe>"
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Some **news**." in mail.text and unsub in mail.text
    assert "<strong>news</strong>" in mail.html and f'<a href="{unsub}">{unsub}</a>' in mail.html


def test_html_parts_escape_what_they_are_given():
    mail = rights_email("en", 'https://x.fr/r/"><script>alert(1)</script>')
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html


def test_unsubscribe_headers_without_mailto():
    assert unsubscribe_headers("https://a.fr/u/t") == {"List-Unsubscribe": "<https://a.fr/u/t>",
                                                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_digest_lists_the_newest_decisions_and_faq_items_of_the_language(lang):
    docs = load_corpus(CORPUS)
    subject, body = build_digest(docs, lang, decisions=2, faq=2, origin="https://a.fr")
    assert subject
    decisions = sorted((d for d in docs if d.kind == "cnil_decision" and d.lang == lang),
                       key=lambda d: str(d.extra["decision_date"]), reverse=True)
    assert decisions, "the fixture corpus has decisions"
    assert decisions[0].title.split(":")[0].replace("_", "\\_") in body
    for d in decisions[2:]:
        assert d.title.replace("_", "\\_") not in body  # only the newest two
    faq = [d for d in docs if d.kind == "faq" and d.lang == lang]
    assert any(f"https://a.fr/sources/{d.id}" in body for d in faq)
    other = "en" if lang == "fr" else "fr"
    assert not any(d.title in body for d in docs if d.lang == other and d.kind == "cnil_decision")


def test_digest_refuses_an_unknown_language():
    with pytest.raises(ValueError, match="fr, en"):
        build_digest([], "de")


def test_growth_chart_points_go_up_and_down_with_the_net_figures():
    from datetime import date, timedelta

    d0 = date(2026, 1, 1)
    rows = [(d0, 2, 0), (d0 + timedelta(days=1), 0, 1), (d0 + timedelta(days=2), 3, 0)]
    chart = growth_chart(rows, height=100)
    ys = [float(p.split(",")[1]) for p in chart["points"].split()]
    assert (chart["low"], chart["high"]) == (1, 4)
    assert ys[0] < ys[1] and ys[2] < ys[0]  # SVG y grows downwards: higher count, smaller y
    assert chart["first"] == d0 and chart["last"] == d0 + timedelta(days=2)
