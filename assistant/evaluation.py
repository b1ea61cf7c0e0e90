"""Evaluation harness: retrieval quality and latency on a labelled question set (JSONL)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

KS = (1, 3, 5, 10)


@dataclass
class EvalItem:
    """One labelled question."""

    id: str
    lang: str
    kind: str
    q: str
    articles: list[int] = field(default_factory=list)
    entity: str | None = None


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
            items.append(EvalItem(id=str(d["id"]), lang=d["lang"], kind=d["kind"], q=d["q"],
                                  articles=[int(a) for a in d.get("articles", [])], entity=d.get("entity")))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{n}: not a question record ({type(e).__name__}: {e})") from None
    if not items:
        raise InputError(f"{path}: no questions")
    return items


def first_relevant_rank(hits, item: EvalItem) -> int | None:
    """1-based rank of the first hit supporting one of the expected articles (or naming the entity)."""
    for rank, h in enumerate(hits, start=1):
        c = h.chunk
        if item.kind == "gdpr" and c.article is not None and c.article in item.articles:
            return rank
        if item.kind == "cnil" and item.entity and item.entity.lower() in (c.title + " " + c.text).lower():
            return rank
    return None


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    s = sorted(values)
    idx = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[idx]


def retrieval_metrics(ranks: list[int | None]) -> dict:
    """hit@k and MRR@10 from first-relevant ranks."""
    n = len(ranks)
    out = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS} if n else {}
    if n:
        out["mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    out["n"] = n
    return out


def run_eval(service, items: list[EvalItem]) -> dict:
    """Retrieval metrics (top-10) and answer metrics (status, citations, referral) for each question."""
    retriever = service.retriever
    retriever.retrieve("warm up")  # load the model outside the timings
    per_item, latencies, answer_latencies = [], [], []
    for it in items:
        t0 = time.perf_counter()
        r = retriever.retrieve(it.q, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        rank = first_relevant_rank(r.hits, it) if it.kind in ("gdpr", "cnil") else None
        t1 = time.perf_counter()
        a = service.ask(it.q)
        answer_latencies.append((time.perf_counter() - t1) * 1000)
        cited = [c.article for c in a.citations]
        per_item.append({"id": it.id, "lang": it.lang, "kind": it.kind, "rank": rank,
                         "top": [h.chunk.ref for h in r.hits[:5]], "status": a.status,
                         "answer_language": a.language, "cited_articles": cited,
                         "correct_citation": bool(set(cited) & set(it.articles)),
                         "referral": a.referral is not None})
    report = {"retrieval": {}, "latency_ms": {"p50": statistics.median(latencies),
                                              "p95": percentile(latencies, 95), "n": len(latencies)},
              "answer_latency_ms": {"p50": statistics.median(answer_latencies),
                                    "p95": percentile(answer_latencies, 95)},
              "answers": answer_metrics(per_item), "items": per_item}
    for kind in ("gdpr", "cnil"):
        rows = [p for p in per_item if p["kind"] == kind]
        if not rows:
            continue
        groups = {"overall": rows} | {lg: [p for p in rows if p["lang"] == lg] for lg in ("fr", "en")}
        report["retrieval"][kind] = {g: retrieval_metrics([p["rank"] for p in rs]) for g, rs in groups.items() if rs}
    return report


def answer_metrics(rows: list[dict]) -> dict:
    """Refusal accuracy (kind out), answered-with-a-correct-article (kind gdpr), referral rate (kind referral)."""
    def share(selected, pred):
        return (sum(1 for r in selected if pred(r)) / len(selected), len(selected)) if selected else (None, 0)

    gdpr = [r for r in rows if r["kind"] == "gdpr"]
    out = {
        "refusal_accuracy": share([r for r in rows if r["kind"] == "out"], lambda r: r["status"] == "out_of_scope"),
        "answered_with_correct_article": share(gdpr, lambda r: r["status"] == "answered" and r["correct_citation"]),
        "answer_in_question_language": share(gdpr, lambda r: r["answer_language"] == r["lang"]),
        "referral_rate": share([r for r in rows if r["kind"] == "referral"], lambda r: r["referral"]),
        "false_refusals": share(gdpr, lambda r: r["status"] == "out_of_scope"),
    }
    return {k: {"value": v[0], "n": v[1]} for k, v in out.items()}


def format_report(report: dict) -> str:
    """The report as text tables."""
    lines = []
    for kind, groups in report["retrieval"].items():
        lines.append(f"retrieval ({kind} items)")
        lines.append(f"{'':<9}{'n':>4}" + "".join(f"{f'hit@{k}':>8}" for k in KS) + f"{'MRR@10':>8}")
        for g, m in groups.items():
            lines.append(f"{g:<9}{m['n']:>4}" + "".join(f"{m[f'hit@{k}']:>8.3f}" for k in KS) + f"{m['mrr@10']:>8.3f}")
        lines.append("")
    lines.append("answers")
    for name, m in report["answers"].items():
        value = "n/a" if m["value"] is None else f"{m['value']:.3f}"
        lines.append(f"  {name:<32}{value:>7}  (n={m['n']})")
    lines.append("")
    lat, alat = report["latency_ms"], report["answer_latency_ms"]
    lines.append(f"retrieval latency over {lat['n']} questions: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    lines.append(f"answer latency (end to end): p50 {alat['p50']:.1f} ms, p95 {alat['p95']:.1f} ms")
    misses = [p for p in report["items"] if p["kind"] in ("gdpr", "cnil") and (p["rank"] is None or p["rank"] > 5)]
    wrong = [p for p in report["items"] if (p["kind"] == "out") != (p["status"] == "out_of_scope")
             or (p["kind"] == "referral" and not p["referral"])]
    if wrong:
        lines.append("")
        lines.append("wrong status or missing referral:")
        for p in wrong:
            lines.append(f"  {p['id']} ({p['lang']}, {p['kind']}): status {p['status']}, referral {p['referral']}")
    if misses:
        lines.append("")
        lines.append("not in the top 5:")
        for p in misses:
            lines.append(f"  {p['id']} ({p['lang']}): rank {p['rank']}; top: {', '.join(p['top'][:3])}")
    return "\n".join(lines)
