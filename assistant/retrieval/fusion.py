"""Rank fusion and per-group deduplication (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from ..types import Chunk, Hit


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[str], float]], k: int = 60) -> dict[str, float]:
    """Weighted RRF: score(d) = sum over rankings of weight / (k + rank), ranks from 1."""
    scores: dict[str, float] = {}
    for ids, weight in rankings:
        if weight <= 0:
            continue
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return scores


def fusion_ceiling(rankings: Sequence[tuple[Sequence[str], float]], k: int = 60) -> float:
    """The highest score ``reciprocal_rank_fusion`` can give here: first in every ranking that counted.

    Rankings that are empty (dense search without a vector store, the other language without
    glossary terms) or weighted 0 add nothing to any score, so they add nothing to the ceiling.
    """
    return sum(weight for ids, weight in rankings if weight > 0 and len(ids)) / (k + 1)


def dedupe_by_group(scored: Sequence[tuple[Chunk, float]], lang: str) -> list[tuple[Chunk, float]]:
    """Keep one chunk per group (an article, a recital, one corpus item in either language).

    The group keeps the score of its best chunk; it is represented by its best chunk in the
    question's language when there is one, so a French question is answered with French text.
    """
    order: list[str] = []
    best: dict[str, tuple[Chunk, float]] = {}
    best_in_lang: dict[str, Chunk] = {}
    for chunk, score in sorted(scored, key=lambda cs: (-cs[1], cs[0].id)):
        g = chunk.group or chunk.id
        if g not in best:
            order.append(g)
            best[g] = (chunk, score)
        if chunk.lang == lang and g not in best_in_lang:
            best_in_lang[g] = chunk
    return [(best_in_lang.get(g, best[g][0]), best[g][1]) for g in order]


def cut_keeping_leaders(deduped: Sequence[tuple[Chunk, float]], ranks: dict[str, dict], depth: int,
                        leader_rank: int) -> list[tuple[Chunk, float]]:
    """The first ``depth`` fused groups, plus any later group ranked ``leader_rank`` or better by one of
    the rankings (``ranks``: group -> {ranking: rank}).

    The fusion's order favours groups that several rankings agree on; a group at the top of one ranking
    only (a visitor's question matching one FAQ phrasing word for word, say) stays a candidate for the
    ranker to weigh, instead of being cut before any of its features is read.
    """
    kept = list(deduped[:depth])
    for chunk, score in deduped[depth:]:
        if min(ranks.get(chunk.group or chunk.id, {}).values(), default=leader_rank + 1) <= leader_rank:
            kept.append((chunk, score))
    return kept


def to_hits(scored: Sequence[tuple[Chunk, float]], similarities: dict[str, float],
            ranks: dict[str, dict]) -> list[Hit]:
    """Wrap fused results as hits carrying their dense similarity and source ranks."""
    return [Hit(chunk=c, score=s, dense_similarity=similarities.get(c.id), ranks=ranks.get(c.id, {}))
            for c, s in scored]
