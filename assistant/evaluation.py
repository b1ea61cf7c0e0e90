"""Evaluation harness: answer quality and latency on a labelled question set (JSONL).

An item is ``{"id", "lang", "kind", "q", "articles", "facts", "should_refuse", "note", "entity"?}``:

- ``kind``: gdpr | cnil | trap | off_topic | abusive (older sets: ``out`` = off topic, ``referral``);
- ``articles``: the GDPR articles a right answer rests on (the lead source must be about one of them);
- ``facts``: strings the answer must contain, alternatives separated by ``|`` (matched case- and
  accent-insensitively);
- ``should_refuse``: true for off-topic and abusive requests;
- ``entity``: for a CNIL decision, the organisation's name.

Metrics (per kind and overall): hit@1 (the first citation, i.e. the source the answer leads with,
supports the answer), hit@5 (one of the first five citations does), facts (share of facts present
in the answer), facts@lead (present in the first paragraph, the one the visitor reads), refused
in-scope questions, refused off-topic/abusive requests, traps corrected (every fact present).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .retrieval.text import fold

KINDS = ("gdpr", "cnil", "trap", "off_topic", "abusive", "out", "referral")
REFUSE_KINDS = ("off_topic", "abusive", "out")


@dataclass
class EvalItem:
    """One labelled question."""

    id: str
    lang: str
    kind: str
    q: str
    articles: list[int] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    should_refuse: bool = False
    entity: str | None = None
    note: str = ""


def read_items(path: Path) -> list[EvalItem]:
    """Read a JSONL question set; errors name the line."""
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            kind = d["kind"]
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            facts = d.get("facts", [])
            if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
                raise ValueError("facts must be a list of non-empty strings")
            items.append(EvalItem(id=str(d["id"]), lang=d["lang"], kind=kind, q=d["q"],
                                  articles=[int(a) for a in d.get("articles", [])], facts=facts,
                                  should_refuse=bool(d.get("should_refuse", kind in REFUSE_KINDS)),
                                  entity=d.get("entity"), note=d.get("note", "")))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{n}: not a question record ({type(e).__name__}: {e})") from None
    if not items:
        raise InputError(f"{path}: no questions")
    return items


def fact_present(fact: str, text: str) -> bool:
    """True when one of the ``|`` alternatives of a fact occurs in the text (case and accents ignored)."""
    hay = _norm(text)
    return any(_norm(alt) in hay for alt in fact.split("|") if alt.strip())


def _norm(text: str) -> str:
    # Thin and non-breaking spaces, typographic apostrophes and repeated spaces do not count.
    text = fold(text).replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip()


def lead_paragraph(answer: str) -> str:
    """The first paragraph of an answer: what a visitor reads first."""
    for para in re.split(r"\n\s*\n", answer.strip()):
        if para.strip():
            return para
    return ""


def supports(citation: dict, item: EvalItem) -> bool:
    """Whether a citation (contract form) is a right source for the item."""
    if item.kind == "cnil":
        if citation["kind"] != "cnil_decision":
            return False
        if item.entity:
            return fold(item.entity) in fold(citation["title"] + " " + citation["ref"])
        return citation.get("article") in item.articles
    # A guide or FAQ item is about several articles (its first three count); a provision about one.
    about = citation.get("articles") or ([citation["article"]] if citation.get("article") is not None else [])
    return any(a in item.articles for a in about[:3])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    s = sorted(values)
    idx = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[idx]


def score_answer(item: EvalItem, answer: dict, retrieved: list[dict] | None = None) -> dict:
    """Per-item scores of one answer in the JSON contract's form.

    hit@1 is judged on the source the answer leads with (its first citation); hit@5 on the first
    five sources retrieved (``retrieved``, the answer's cards when not given).
    """
    cites = answer.get("citations", [])
    pool = retrieved if retrieved is not None else cites
    if retrieved and cites and cites[0]["ref"] == retrieved[0]["ref"]:
        cites = [retrieved[0], *cites[1:]]  # the lead, with the articles it is about
    refused = answer["status"] == "out_of_scope"
    row = {"id": item.id, "lang": item.lang, "kind": item.kind, "status": answer["status"],
           "refused": refused, "should_refuse": item.should_refuse,
           "lead": cites[0]["ref"] if cites else None,
           "cited": [c["ref"] for c in cites[:5]]}
    if item.articles and not item.should_refuse:
        row["hit1"] = bool(cites) and supports(cites[0], item)
        row["hit5"] = any(supports(c, item) for c in pool[:5]) or row["hit1"]
    if item.facts and not item.should_refuse:
        text = answer.get("answer", "")
        found = [fact_present(f, text) for f in item.facts]
        lead = [fact_present(f, lead_paragraph(text)) for f in item.facts]
        row["facts"] = sum(found) / len(found)
        row["facts_lead"] = sum(lead) / len(lead)
        row["missing"] = [f for f, ok in zip(item.facts, found, strict=True) if not ok]
    if item.kind == "referral":
        row["referral"] = answer.get("referral") is not None
    return row


def summarize(rows: list[dict]) -> dict:
    """Aggregate metrics of scored rows."""
    def mean(key, selected):
        vals = [r[key] for r in selected if key in r]
        return (sum(vals) / len(vals), len(vals)) if vals else (None, 0)

    in_scope = [r for r in rows if not r["should_refuse"]]
    out = {
        "hit@1": mean("hit1", rows),
        "hit@5": mean("hit5", rows),
        "facts": mean("facts", rows),
        "facts@lead": mean("facts_lead", rows),
        "in_scope_refused": ((sum(r["refused"] for r in in_scope) / len(in_scope)), len(in_scope))
        if in_scope else (None, 0),
        "refusals_right": mean("_refusal_ok", [{**r, "_refusal_ok": r["refused"]} for r in rows
                                               if r["should_refuse"]]),
        "traps_corrected": mean("_trap_ok", [{**r, "_trap_ok": r.get("facts") == 1.0} for r in rows
                                             if r["kind"] == "trap"]),
    }
    return {k: {"value": v, "n": n} for k, (v, n) in out.items()}


def run_answer_eval(ask, items: list[EvalItem]) -> dict:
    """Ask every question (``ask(q) -> (contract dict, retrieved list or None)``) and score the answers."""
    rows, latencies = [], []
    for it in items:
        t0 = time.perf_counter()
        answer, retrieved = ask(it.q)
        latencies.append((time.perf_counter() - t0) * 1000)
        row = score_answer(it, answer, retrieved)
        row["ms"] = latencies[-1]
        rows.append(row)
    groups = {"all": rows}
    for kind in KINDS:
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            groups[kind] = sel
    for lang in ("fr", "en"):
        sel = [r for r in rows if r["lang"] == lang]
        if sel:
            groups[lang] = sel
    return {"groups": {g: {"n": len(rs), **summarize(rs)} for g, rs in groups.items()},
            "latency_ms": {"p50": statistics.median(latencies) if latencies else 0.0,
                           "p95": percentile(latencies, 95), "n": len(latencies)},
            "items": rows}


def run_eval(service, items: list[EvalItem]) -> dict:
    """Answer-level evaluation of the answer service (warm: the model loads before the timings)."""
    service.ask("warm up: qu'est-ce que le RGPD ?")

    def ask(q):
        a = service.ask(q)
        return a.to_dict(), a.verification.get("retrieved")

    return run_answer_eval(ask, items)


METRICS = ("hit@1", "hit@5", "facts", "facts@lead", "in_scope_refused", "refusals_right", "traps_corrected")


def format_table(report: dict, title: str = "") -> str:
    """The per-group metrics as a text table."""
    head = f"{'group':<10}{'n':>4}" + "".join(f"{m:>17}" for m in METRICS)
    lines = [title] if title else []
    lines.append(head)
    for g, m in report["groups"].items():
        cells = []
        for name in METRICS:
            v = m[name]["value"]
            cells.append(f"{'-' if v is None else f'{v:.3f}'} ({m[name]['n']})".rjust(17))
        lines.append(f"{g:<10}{m['n']:>4}" + "".join(cells))
    lat = report["latency_ms"]
    lines.append(f"answer latency over {lat['n']} questions: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """The table and every failure (wrong lead, missing facts, wrong refusal), one line each."""
    lines = [format_table(report), ""]
    for r in report["items"]:
        problems = []
        if r["should_refuse"] != r["refused"]:
            problems.append("refused" if r["refused"] else f"not refused ({r['status']})")
        if r.get("hit1") is False:
            problems.append(f"lead {r['lead']}" + ("" if r.get("hit5") else " (none in top 5)"))
        if r.get("missing"):
            problems.append("missing " + "; ".join(r["missing"]))
        if problems:
            lines.append(f"  {r['id']} ({r['lang']}, {r['kind']}): " + ", ".join(problems))
    return "\n".join(lines)
