"""The one Markdown renderer of every surface: markdown-it-py (raw HTML off) then the nh3 sanitiser.

Answers (``answer_html`` of /api/chat and of the stream's ``done`` event), source pages and the
chat page and widget all show HTML made here, so they agree. CommonMark parsing means underscores
inside words and URLs stay text; bare URLs become links only with http(s)://; ``[n]`` markers
become links to the n-th citation card (``#<cite_prefix><n>``); links may only be http(s), our own
pages (``/sources/...``) or in-page anchors. nh3 then keeps only the tags and attributes listed
here, whatever the Markdown produced.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup

TAGS = {"p", "br", "strong", "em", "code", "pre", "a", "ul", "ol", "li", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
ALLOWED_CLASSES = {"a": {"cite"}}
MARKER = re.compile(r"\[(\d{1,2})\](?![(\[:])")
SAFE_HREF = re.compile(r"^(https?://|/(?!/)|#)", re.IGNORECASE)

_cleaner = nh3.Cleaner(tags=TAGS, attributes=ATTRIBUTES, allowed_classes=ALLOWED_CLASSES,
                       url_schemes={"http", "https"}, link_rel="noopener noreferrer",
                       clean_content_tags={"script", "style"})


def _citation_markers(state: StateInline, silent: bool) -> bool:
    """``[n]`` (n = 1..the number of citations) becomes a link to the n-th citation card."""
    if state.src[state.pos] != "[":
        return False
    env = state.env
    m = MARKER.match(state.src, state.pos)
    if not m or env.get("cite_prefix") is None or not 1 <= int(m.group(1)) <= env.get("citations", 0):
        return False
    if not silent:
        n = m.group(1)
        link = state.push("link_open", "a", 1)
        link.attrs = {"href": f"#{env['cite_prefix']}{n}", "class": "cite"}
        text = state.push("text", "", 0)
        text.content = f"[{n}]"
        state.push("link_close", "a", -1)
    state.pos = m.end()
    return True


def _validate_link(url: str) -> bool:
    """http(s) links, our own pages and in-page anchors only (no javascript:, data:, mailto:...)."""
    return bool(SAFE_HREF.match(url.strip()))


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["linkify", "table", "strikethrough"])
    # Only explicit http(s):// URLs: "example.fr" or "www.x.fr" in a sentence stay text.
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    md.validateLink = _validate_link
    md.inline.ruler.before("link", "citation_markers", _citation_markers)
    return md


_md = _build()


def _shift_headings(tokens, offset: int) -> None:
    """The page owns <h1> (and the chat its message headings): Markdown headings move down ``offset``."""
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(int(tok.tag[1]) + offset, 6)}"


def render_markdown(text: str, cite_prefix: str | None = None, citations: int = 0,
                    heading_offset: int = 1) -> Markup:
    """Safe HTML of ``text``; with ``cite_prefix``, markers [1]..[citations] link to ``#<cite_prefix><n>``."""
    env = {"cite_prefix": cite_prefix, "citations": citations}
    tokens = _md.parse(text or "", env)
    _shift_headings(tokens, heading_offset)
    html = _md.renderer.render(tokens, _md.options, env)
    return Markup(_cleaner.clean(html).strip())


def answer_html(answer: dict, cite_prefix: str) -> str:
    """``answer_html`` of an answer in its JSON form: its text rendered, markers linked to its citations."""
    return str(render_markdown(answer.get("answer", ""), cite_prefix=cite_prefix,
                               citations=len(answer.get("citations") or ()), heading_offset=2))
