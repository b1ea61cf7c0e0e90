"""Load and validate the bundled corpus: Markdown files with YAML front matter (see corpus/README.md)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import yaml

from ..errors import CorpusError
from ..types import KINDS, LANGS, SourceDoc

OFFICIAL_HOSTS = ("eur-lex.europa.eu", "data.europa.eu", "www.cnil.fr", "cnil.fr",
                  "www.legifrance.gouv.fr", "legifrance.gouv.fr")
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: 10x faster, same result
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*-(fr|en)$")
# "art. 33", "Art. 33", "article 33", "articles 33" (the number that follows is a GDPR article)
BODY_ARTICLE_RE = re.compile(r"\b(?:[Aa]rt\.|[Aa]rticles?)\s+(\d+)\b(?![-‑]\d)(?!\s*(?:de la loi|du code|of the French))")
REQUIRED = ("id", "kind", "lang", "translation_key", "title", "articles", "url", "updated")
KIND_FIELDS = {
    "guide": ("article",),
    "faq": ("questions",),
    "cnil_decision": ("decision_number", "decision_date", "organisation", "amount_eur",
                      "articles_breached", "sector"),
    "glossary": ("terms",),
}
MINIMUMS = {"guide": 99, "faq": 150, "cnil_decision": 40, "glossary": 150}


def parse_document(path: Path, root: Path | None = None) -> SourceDoc:
    """Parse and validate one corpus file; raise CorpusError naming the file and field."""
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)

    def fail(msg: str):
        raise CorpusError(f"{shown}: {msg}", [f"{shown}: {msg}"])

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail("not UTF-8 text")
    m = FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if not m:
        fail("no YAML front matter (the file must start with a '---' line and close it with another)")
    try:
        fm = yaml.load(m.group(1), Loader=SAFE_LOADER)
    except yaml.YAMLError as e:
        fail(f"front matter is not valid YAML ({str(e).splitlines()[0]})")
    if not isinstance(fm, dict):
        fail("front matter must be a mapping of fields")
    body = m.group(2).strip()
    for key in REQUIRED:
        if key not in fm or fm[key] in (None, ""):
            fail(f"field '{key}' is missing")
    kind, lang = fm["kind"], fm["lang"]
    if kind not in KINDS:
        fail(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    if lang not in LANGS:
        fail(f"field 'lang' must be fr or en, got {lang!r}")
    doc_id = str(fm["id"])
    if not ID_RE.match(doc_id) or not doc_id.endswith("-" + lang):
        fail(f"field 'id' must be lowercase [a-z0-9-] ending in '-{lang}', got {doc_id!r}")
    if fm["translation_key"] + "-" + lang != doc_id:
        fail(f"field 'translation_key' must be the id without '-{lang}', got {fm['translation_key']!r}")
    articles = _int_list(fm["articles"], 1, 99)
    if articles is None:
        fail("field 'articles' must be a list of GDPR article numbers between 1 and 99")
    recitals = _int_list(fm.get("recitals", []) or [], 1, 173)
    if recitals is None:
        fail("field 'recitals' must be a list of recital numbers between 1 and 173")
    url = str(fm["url"])
    problem = url_problem(url)
    if problem:
        fail(f"field 'url' {problem}")
    updated = fm["updated"]
    if not isinstance(updated, date):
        fail(f"field 'updated' must be a date YYYY-MM-DD, got {updated!r}")
    for key in KIND_FIELDS[kind]:
        if key not in fm or fm[key] is None:
            fail(f"field '{key}' is required for kind {kind}")
    extra = {k: fm[k] for k in KIND_FIELDS[kind]}
    if kind == "guide":
        if not isinstance(fm["article"], int) or fm["article"] not in articles:
            fail("field 'article' must be an integer also listed in 'articles'")
    elif kind == "faq":
        qs = fm["questions"]
        if not isinstance(qs, list) or not qs or not all(isinstance(q, str) and q.strip() for q in qs):
            fail("field 'questions' must be a non-empty list of questions")
    elif kind == "glossary":
        terms = fm["terms"]
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) and t.strip() for t in terms):
            fail("field 'terms' must be a non-empty list of terms")
    elif kind == "cnil_decision":
        if not isinstance(fm["decision_date"], date):
            fail("field 'decision_date' must be a date YYYY-MM-DD")
        if not isinstance(fm["amount_eur"], int) or fm["amount_eur"] < 0:
            fail("field 'amount_eur' must be a non-negative integer (euros)")
        if _int_list(fm["articles_breached"], 1, 99) is None:
            fail("field 'articles_breached' must be a list of GDPR article numbers")
        if not re.match(r"^(SAN|MED)-\d{4}-\d{3}$", str(fm["decision_number"])):
            fail(f"field 'decision_number' must look like SAN-2022-009, got {fm['decision_number']!r}")
    if len(body) < 40:
        fail("body is empty or too short (at least a first paragraph is needed)")
    return SourceDoc(
        id=doc_id, kind=kind, lang=lang, translation_key=str(fm["translation_key"]),
        title=str(fm["title"]).strip(), articles=tuple(articles), url=url, updated=updated,
        body=body, path=shown, recitals=tuple(recitals), extra=extra,
    )


def url_problem(url: str) -> str | None:
    """Why a URL is not an acceptable official source, or None."""
    u = urlparse(url)
    if u.scheme != "https" or not u.hostname or " " in url:
        return f"must be a well-formed https:// URL, got {url!r}"
    if u.hostname not in OFFICIAL_HOSTS:
        return f"must point to an official source ({', '.join(OFFICIAL_HOSTS)}), got host {u.hostname!r}"
    return None


def _int_list(value, lo: int, hi: int) -> list[int] | None:
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value):
        return None
    return list(value)


def load_corpus(root: Path) -> list[SourceDoc]:
    """Load every document under ``root``; raise one CorpusError listing all problems."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus directory {root} does not exist (set ASSISTANT_CORPUS_DIR)")
    docs, problems = [], []
    for path in sorted(root.rglob("*.md")):
        if path.name == "README.md":
            continue
        try:
            docs.append(parse_document(path, root))
        except CorpusError as e:
            problems.extend(e.problems or [e.message])
    seen: dict[str, str] = {}
    for d in docs:
        if d.id in seen:
            problems.append(f"{d.path}: field 'id' {d.id!r} is already used by {seen[d.id]}")
        seen[d.id] = d.path
    if problems:
        head = problems[0] if len(problems) == 1 else f"{len(problems)} problems in the corpus, first: {problems[0]}"
        raise CorpusError(head, problems)
    return docs


@dataclass
class CorpusReport:
    """Counts and cross-document checks printed by `corpus check`."""

    counts: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A text table of counts by kind and language, with the minimums."""
        lines = [f"{'kind':<15}{'fr':>6}{'en':>6}{'minimum':>9}"]
        for kind in KINDS:
            fr, en = self.counts[(kind, "fr")], self.counts[(kind, "en")]
            ok = "" if min(fr, en) >= MINIMUMS[kind] else "  below minimum"
            lines.append(f"{kind:<15}{fr:>6}{en:>6}{MINIMUMS[kind]:>9}{ok}")
        return "\n".join(lines)


def check_corpus(docs: list[SourceDoc]) -> CorpusReport:
    """Cross-document checks: translations exist, body article references are real, guides cover 1..99."""
    report = CorpusReport()
    by_key: dict[tuple[str, str], SourceDoc] = {}
    for d in docs:
        report.counts[(d.kind, d.lang)] += 1
        by_key[(d.translation_key, d.lang)] = d
        for n in BODY_ARTICLE_RE.findall(d.body):
            if not 1 <= int(n) <= 99:
                report.problems.append(f"{d.path}: body cites GDPR article {n}, which does not exist")
    for (key, lang), d in by_key.items():
        other = "en" if lang == "fr" else "fr"
        if (key, other) not in by_key:
            report.problems.append(f"{d.path}: no {other.upper()} translation (translation_key {key!r})")
    for lang in ("fr", "en"):
        covered = {d.extra["article"] for d in docs if d.kind == "guide" and d.lang == lang}
        missing = sorted(set(range(1, 100)) - covered)
        if missing and covered:
            report.problems.append(f"guides ({lang}): no guide for article(s) {_ranges(missing)}")
    return report


def _ranges(nums: list[int]) -> str:
    out, start, prev = [], None, None
    for n in nums + [None]:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = n
    return ", ".join(out)
