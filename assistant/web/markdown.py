"""A small, safe Markdown renderer (pure): the text is HTML-escaped first, so no raw HTML ever passes."""

from __future__ import annotations

import html
import re

from markupsafe import Markup

LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)\"'<>]{1,500})\)")
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITALIC = re.compile(r"(?<![\w*])[_*](?!\s)(.+?)(?<!\s)[_*](?![\w*])")
CODE = re.compile(r"`([^`\n]+)`")
MARKER = re.compile(r"\[(\d{1,2})\](?!\()")


def inline(text: str, cite_prefix: str | None = None) -> str:
    """Inline Markdown of one escaped line."""
    out = html.escape(text, quote=True)
    out = CODE.sub(r"<code>\1</code>", out)
    out = LINK.sub(lambda m: f'<a href="{m.group(2)}" rel="noopener noreferrer">{m.group(1)}</a>', out)
    out = BOLD.sub(r"<strong>\1</strong>", out)
    out = ITALIC.sub(r"<em>\1</em>", out)
    if cite_prefix is not None:
        out = MARKER.sub(lambda m: f'<a class="cite" href="#{cite_prefix}{m.group(1)}">[{m.group(1)}]</a>', out)
    return out


def render_markdown(text: str, cite_prefix: str | None = None) -> Markup:
    """Headings, lists, paragraphs, emphasis, code and http(s) links; everything else is text."""
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush():
        nonlocal para, items, list_tag
        if para:
            blocks.append("<p>" + "<br>".join(inline(p, cite_prefix) for p in para) + "</p>")
            para = []
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{inline(i, cite_prefix)}</li>" for i in items)
                          + f"</{list_tag}>")
            items, list_tag = [], ""

    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        m_head = re.match(r"^(#{1,4})\s+(.*)$", stripped)
        m_ul = re.match(r"^[-*•]\s+(.*)$", stripped)
        m_ol = re.match(r"^\d{1,3}[.)]\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif m_head:
            flush()
            level = min(len(m_head.group(1)) + 1, 5)  # the page owns <h1>
            blocks.append(f"<h{level}>{inline(m_head.group(2), cite_prefix)}</h{level}>")
        elif m_ul or m_ol:
            tag = "ul" if m_ul else "ol"
            if para or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append((m_ul or m_ol).group(1))
        else:
            if items:
                flush()
            para.append(stripped)
    flush()
    return Markup("\n".join(blocks))
