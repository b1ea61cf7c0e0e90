"""Import the official GDPR text from EUR-Lex XHTML (Regulation (EU) 2016/679, FR and EN).

The Official Journal rendering marks recitals ``rct_N``, articles ``art_N``, chapters ``cpt_X``
and sections ``cpt_X.sct_N``; numbered paragraphs are ``NNN.NNN`` divs and points (a), (b)...
sit in two-column tables. Footnote call markers (``a[id^=ntc]``) are dropped.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from ..errors import OfficialTextError

ELI = "http://data.europa.eu/eli/reg/2016/679/oj"
CELEX = "32016R0679"
EXPECTED_ARTICLES = 99
EXPECTED_RECITALS = 173
LANG_CODES = {"fr": "fra", "en": "eng"}
PARA_ID = re.compile(r"^(\d{3})\.(\d{3})$")
LEADING_NUMBER = re.compile(r"^\s*\d+\.\s+")


def article_url(lang: str, number: int) -> str:
    """The EUR-Lex ELI page of the regulation, anchored on one article."""
    return f"https://eur-lex.europa.eu/eli/reg/2016/679/oj/{LANG_CODES[lang]}#art_{number}"


def recital_url(lang: str, number: int) -> str:
    """The EUR-Lex ELI page of the regulation, anchored on one recital."""
    return f"https://eur-lex.europa.eu/eli/reg/2016/679/oj/{LANG_CODES[lang]}#rct_{number}"


@dataclass
class Paragraph:
    """A paragraph of an article; ``number`` is None for unnumbered text."""

    number: str | None
    text: str


@dataclass
class Article:
    """One article with its place in the structure and its ELI URL."""

    number: int
    title: str
    chapter: str
    chapter_title: str
    section: str | None
    section_title: str | None
    url: str
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole article as plain text."""
        return "\n".join(p.text for p in self.paragraphs)


@dataclass
class Recital:
    """One recital of the preamble."""

    number: int
    text: str
    url: str


@dataclass
class OfficialText:
    """The parsed regulation in one language."""

    lang: str
    source: str
    imported: str
    articles: list[Article]
    recitals: list[Recital]
    celex: str = CELEX
    eli: str = ELI

    def to_json(self) -> dict:
        """Serialisable form stored in the data dir."""
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> OfficialText:
        """Inverse of ``to_json``."""
        arts = [Article(**{**a, "paragraphs": [Paragraph(**p) for p in a["paragraphs"]]}) for a in d["articles"]]
        return cls(lang=d["lang"], source=d["source"], imported=d["imported"], articles=arts,
                   recitals=[Recital(**r) for r in d["recitals"]], celex=d.get("celex", CELEX), eli=d.get("eli", ELI))


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\xa0", " ")).strip()


def _text_of(el) -> str:
    """Text of an element without footnote call markers."""
    parts = []

    def walk(node):
        if node.tag == "a" and (node.get("id") or "").startswith("ntc"):
            if node.tail:
                parts.append(node.tail)
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
        if node is not el and node.tail:
            parts.append(node.tail)

    walk(el)
    return _clean("".join(parts))


def _block_lines(container) -> list[str]:
    """Lines of a block: paragraphs as they are, table rows as 'label text' (points)."""
    lines = []
    for child in container:
        tag = child.tag if isinstance(child.tag, str) else ""
        cls = child.get("class") or ""
        if tag == "p" and "oj-normal" in cls:
            t = _text_of(child)
            if t:
                lines.append(t)
        elif tag == "table":
            for row in child.xpath("./tbody/tr | ./tr"):
                cells = [c for c in row if c.tag == "td"]
                if len(cells) >= 2:
                    label = _text_of(cells[0])
                    rest = " ".join(filter(None, (_join_lines(_block_lines(c)) for c in cells[1:])))
                    lines.append(f"{label} {rest}".strip())
        elif tag == "div" and not cls.startswith("eli-title"):
            lines.extend(_block_lines(child))
    return lines


def _join_lines(lines: list[str]) -> str:
    return "\n".join(lines)


def _detect_lang(root, raw: str) -> str:
    meta = root.xpath("//meta[@name='WT.z_usr_lan']/@content")
    if meta and meta[0].strip().lower() in LANG_CODES:
        return meta[0].strip().lower()
    first = root.xpath("//p[contains(@class,'oj-ti-art')]")
    if first:
        t = _text_of(first[0]).lower()
        if "premier" in t:
            return "fr"
        if t.startswith("article"):
            return "en" if "the european parliament" in raw.lower()[:200000] else "fr"
    raise OfficialTextError("cannot tell the language of this EUR-Lex file (expected French or English)")


def parse_eurlex(data: bytes | str, source: str = "", complete: bool = True) -> OfficialText:
    """Parse the EUR-Lex XHTML of the GDPR; raise OfficialTextError when it is not complete.

    ``complete=False`` accepts an excerpt (unit-test fixtures); imports always require the whole text.
    """
    from lxml import etree, html

    raw = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if not raw.strip():
        raise OfficialTextError(f"{source or 'input'}: the file is empty")
    try:
        root = html.document_fromstring(raw.encode("utf-8"))
    except (etree.ParserError, ValueError) as e:
        raise OfficialTextError(f"{source or 'input'}: not an HTML/XHTML document ({e})") from None
    if "2016/679" not in raw and "32016R0679" not in raw and "2016119" not in raw:
        raise OfficialTextError(f"{source or 'input'}: this is not Regulation (EU) 2016/679 (GDPR) from EUR-Lex")
    article_divs = root.xpath("//div[starts-with(@id,'art_') and not(contains(@id,'.'))]")
    if not article_divs:
        raise OfficialTextError(f"{source or 'input'}: no article found: not the EUR-Lex XHTML of the GDPR")
    lang = _detect_lang(root, raw)

    articles = []
    for div in article_divs:
        articles.append(_parse_article(div, lang, source))
    recitals = []
    for div in root.xpath("//div[starts-with(@id,'rct_') and not(contains(@id,'.'))]"):
        n = int(div.get("id")[4:])
        lines = _block_lines(div)
        text = re.sub(r"^\(\d+\)\s*", "", " ".join(lines))
        recitals.append(Recital(number=n, text=text, url=recital_url(lang, n)))
    articles.sort(key=lambda a: a.number)
    recitals.sort(key=lambda r: r.number)
    where = source or "input"
    if complete and [a.number for a in articles] != list(range(1, EXPECTED_ARTICLES + 1)):
        raise OfficialTextError(
            f"{where}: found {len(articles)} articles, expected articles 1 to {EXPECTED_ARTICLES}: "
            "the file is truncated or not the EUR-Lex XHTML of the GDPR (run `gdpr-assistant corpus fetch`)")
    if complete and [r.number for r in recitals] != list(range(1, EXPECTED_RECITALS + 1)):
        raise OfficialTextError(
            f"{where}: found {len(recitals)} recitals, expected {EXPECTED_RECITALS}: the file is truncated or corrupt")
    empty = [a.number for a in articles if not a.paragraphs or not all(p.text for p in a.paragraphs)]
    if empty:
        raise OfficialTextError(f"{where}: article(s) {empty} have no text: the file is corrupt")
    return OfficialText(lang=lang, source=source, imported=date.today().isoformat(),
                        articles=articles, recitals=recitals)


def _parse_article(div, lang: str, source: str) -> Article:
    number = int(div.get("id")[4:])
    titles = div.xpath("./div[contains(@class,'eli-title')]//p")
    title = _text_of(titles[0]) if titles else ""
    chapter = section = None
    chapter_title = section_title = None
    for anc in div.iterancestors("div"):
        aid = anc.get("id") or ""
        m = re.match(r"^cpt_([IVXLC]+)(?:\.sct_(\d+))?$", aid)
        if not m:
            continue
        t = anc.xpath("./div[contains(@class,'eli-title')]//p")
        heading = _text_of(t[0]) if t else ""
        if m.group(2) and section is None:
            section, section_title = m.group(2), heading
        elif not m.group(2):
            chapter, chapter_title = m.group(1), heading
            break
    paragraphs = []
    numbered = [c for c in div if c.tag == "div" and PARA_ID.match(c.get("id") or "")]
    if numbered:
        for c in numbered:
            num = str(int(PARA_ID.match(c.get("id")).group(2)))
            lines = _block_lines(c)
            if lines:
                lines[0] = LEADING_NUMBER.sub("", lines[0], count=1)
            paragraphs.append(Paragraph(number=num, text="\n".join(lines)))
    else:
        # Unnumbered article: each loose sentence is a paragraph; tables labelled "1)" or "(1)" are
        # numbered definitions (art. 4); tables labelled "a)" / "(a)" are points of the previous paragraph.
        for child in div:
            cls = child.get("class") or ""
            if child.tag not in ("p", "table", "div") or "eli-title" in cls or "oj-ti-art" in cls:
                continue
            for line in _block_lines([child]):
                m = re.match(r"^\(?(\d+)\)\s+(.*)$", line, re.S)
                if m and child.tag == "table":
                    paragraphs.append(Paragraph(number=m.group(1), text=m.group(2)))
                elif child.tag == "table" and paragraphs:
                    paragraphs[-1].text += "\n" + line
                else:
                    paragraphs.append(Paragraph(number=None, text=line))
    if chapter is None:
        raise OfficialTextError(f"{source or 'input'}: article {number} is outside any chapter: the file is corrupt")
    return Article(number=number, title=title, chapter=chapter, chapter_title=chapter_title or "",
                   section=section, section_title=section_title, url=article_url(lang, number),
                   paragraphs=paragraphs)


def import_file(path: Path, official_dir: Path) -> OfficialText:
    """Parse one EUR-Lex file and store it (atomically) as ``official_dir/gdpr-<lang>.json``."""
    path = Path(path)
    if not path.is_file():
        raise OfficialTextError(f"{path}: no such file (download it with `gdpr-assistant corpus fetch`)")
    text = parse_eurlex(path.read_bytes(), source=str(path))
    save_official(text, official_dir)
    return text


def save_official(text: OfficialText, official_dir: Path) -> Path:
    """Write the parsed text atomically (a failed write leaves the previous import)."""
    official_dir.mkdir(parents=True, exist_ok=True)
    target = official_dir / f"gdpr-{text.lang}.json"
    fd, tmp = tempfile.mkstemp(dir=official_dir, prefix=".gdpr-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(text.to_json(), f, ensure_ascii=False)
    os.replace(tmp, target)
    return target


def load_official(official_dir: Path) -> list[OfficialText]:
    """Every imported official text in the data dir (may be empty)."""
    out = []
    for lang in ("fr", "en"):
        p = Path(official_dir) / f"gdpr-{lang}.json"
        if p.exists():
            out.append(OfficialText.from_json(json.loads(p.read_text(encoding="utf-8"))))
    return out
