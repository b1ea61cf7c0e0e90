"""Hybrid retrieval: glossary expansion, exact dense search, BM25 (FR and EN), weighted RRF, learned reranking.

Vectors live in Chroma; the retriever loads those of its index generation once and searches them
exactly in memory (a few thousand rows: well under a millisecond), so the same question always
gets the same sources. When the vector store cannot be reached the retriever answers from the
lexical indexes alone and says so (``Retrieval.degraded``).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import IndexMissingError, VectorStoreUnavailable
from ..types import Chunk, Hit
from .embeddings import limit_blas_threads
from .fusion import cut_keeping_leaders, dedupe_by_group, fusion_ceiling, reciprocal_rank_fusion
from .index import BUILD_COMMAND, IndexData, load_index
from .query import analyze_question, asks_about_sanctions
from .rerank import Candidate, FeatureSpace, QueryContext, Ranker
from .text import analyze, detect_language, fold

log = logging.getLogger(__name__)

RERANK_DEPTH = 30  # candidates (one per source group) the ranker orders
ALWAYS_KEEP_RANK = 3  # a group this high in any single ranking is a candidate whatever its fused rank
# Questions about sanctions (``asks_about_sanctions``) are routed to the CNIL decisions too: an extra
# ranking of decisions only.


@dataclass(frozen=True)
class Retrieval:
    """The result of one retrieval: ranked hits and what was used to get them."""

    hits: list[Hit]
    language: str
    expansions: dict
    best_similarity: float
    best_lexical: float
    timings_ms: dict = field(default_factory=dict)
    best_key_similarity: float = 0.0
    degraded: str = ""  # why retrieval ran without part of its machinery ("" when complete)
    reranked: bool = False


class HybridRetriever:
    """Retrieves the sources that answer a question, one per article or corpus item."""

    def __init__(self, settings, embedder, store, index: IndexData | None = None):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.index = index or load_index(settings.index_dir)
        built_with = self.index.info.get("embedder")
        if built_with and built_with != embedder.name:
            raise IndexMissingError(
                f"the index was built with embedder {built_with}, not {embedder.name}: rebuild it with `{BUILD_COMMAND}`")
        ix = self.index
        limit_blas_threads()
        self.chunk_ids = list(ix.chunks)
        self.degraded = ""
        self.chunk_vectors, self.key_vectors = self._load_vectors(ix)
        groups = {c.group for c in ix.chunks.values() if c.kind == "cnil_decision"}
        names = {c.group: c.title.split(":")[0].split("(")[0] for c in ix.chunks.values() if c.group in groups}
        self.features = FeatureSpace(self.chunk_ids, ix.chunks, ix.keys,
                                     {lg: idx.idf for lg, idx in ix.lexical.items()}, names,
                                     lambda text, lang: {e.key for e in ix.glossary.matches(text, lang)})
        self.ranker: Ranker | None = ix.ranker
        self.named_decisions = _distinctive_names(names, ix.chunks.values())
        # The chunk that stands for a group in a key ranking: its first chunk in each language.
        self.group_rep: dict[tuple[str, str], str] = {}
        for cid, c in ix.chunks.items():
            self.group_rep.setdefault((c.group or cid, c.lang), cid)

    def _load_vectors(self, ix: IndexData):
        """The generation's chunk and key vectors, from the vector store (rows in index order)."""
        if ix.vectors is not None:  # given in memory (index build)
            return ix.vectors
        if self.store is None:
            self.degraded = "vector store unavailable: lexical search only"
            log.error("no vector store: dense retrieval disabled, lexical only")
            return None, None
        try:
            chunks = self.store.vectors(self.chunk_ids)
            keys = self.store.sibling("texts").vectors([k.id for k in ix.keys]) if ix.keys else None
            return chunks, keys
        except VectorStoreUnavailable as e:
            self.degraded = f"vector store unavailable: {e.message}"
            log.error("dense retrieval disabled, lexical only: %s", e.message)
            return None, None

    # -- steps ----------------------------------------------------------------------------------------
    def query_context(self, question: str, lang: str, context: str = "", mask_key: str | None = None) -> QueryContext:
        """How the features see a question (with the previous turn for a follow-up)."""
        query = f"{context}\n{question}".strip() if context else question
        concepts = {e.key for e in self.index.glossary.matches(query, lang)}
        return QueryContext(text=query, lang=lang, vec=None, stems=analyze(query, lang), concepts=concepts,
                            info=analyze_question(question), sanction=asks_about_sanctions(question),
                            mask_key=mask_key)

    def dense_text(self, query: str, expansions: dict | None = None) -> str:
        """What is embedded for a question: its own words. (Appending the glossary's English terms, tried
        first, ranked no better on the tuning questions and needed a second embedding of every FAQ
        phrasing at index time; the glossary still widens the lexical search.)"""
        return query

    def candidates(self, question: str, lang: str, context: str = "", qvec: np.ndarray | None = None,
                   mask_key: str | None = None, depth: int = RERANK_DEPTH):
        """Fused candidates (one per group, best first) with everything the ranker needs."""
        s = self.settings
        ix = self.index
        ctx = self.query_context(question, lang, context, mask_key)
        expansions = ix.glossary.expand(ctx.text, lang)
        t0 = time.perf_counter()
        dense: list[tuple[str, float]] = []
        dense_sims = key_sims = None
        if self.chunk_vectors is not None:
            if qvec is None:
                qvec = self.embedder.embed_query(self.dense_text(ctx.text, expansions))
            ctx.vec = qvec
            dense_sims = self.chunk_vectors @ qvec
            if self.key_vectors is not None and len(self.key_vectors):
                key_sims = self.key_vectors @ qvec
            n = min(s.candidates, len(dense_sims))
            top = np.argpartition(-dense_sims, n - 1)[:n] if n else []
            # Ties broken by position in the index: the same question always gets the same order.
            order = sorted(top, key=lambda i: (-float(dense_sims[i]), int(i)))
            dense = [(self.chunk_ids[i], float(dense_sims[i])) for i in order]
        t1 = time.perf_counter()
        # In the question's language: its own words plus synonyms. In the other language only the
        # glossary translations: the question's words, stemmed for the wrong language, are noise.
        lexical = {}
        for lg, idx in ix.lexical.items():
            if lg == lang:
                lexical[lg] = idx.search(ctx.text, s.candidates, extra_terms=expansions[lg])
            elif expansions[lg]:
                lexical[lg] = idx.search(" ".join(expansions[lg]), s.candidates)
            else:
                lexical[lg] = []
        titles = ix.titles.get(lang)
        title_hits = titles.search(ctx.text, s.candidates, extra_terms=expansions[lang]) if titles else []
        key_dense, key_lex = self._key_rankings(ctx, key_sims, lang, s.candidates)
        t2 = time.perf_counter()
        named = [("dense", dense, s.dense_weight), ("keys_dense", key_dense, s.dense_weight),
                 ("keys_lex", key_lex, s.lexical_weight)]
        named += [(f"lexical_{lg}", res, s.lexical_weight) for lg, res in lexical.items()]
        named.append(("titles", title_hits, s.lexical_weight))
        if ctx.sanction:
            pool = [cid for res in (dense, *lexical.values()) for cid, _ in res]
            decisions = list(dict.fromkeys(c for c in pool if ix.chunks[c].kind == "cnil_decision"))
            named.append(("sanction", [(c, 0.0) for c in decisions], 2 * s.lexical_weight))
        rankings = [([cid for cid, _ in res], weight) for _, res, weight in named]
        fused = reciprocal_rank_fusion(rankings, k=s.rrf_k)
        ranks: dict[str, dict] = {}
        for name, res, _ in named:
            for rank, (cid, _) in enumerate(res, start=1):
                g = ix.chunks[cid].group or cid
                if rank < ranks.setdefault(g, {}).get(name, 10**9):
                    ranks[g][name] = rank
        scored = [(ix.chunks[cid], score) for cid, score in fused.items()]
        deduped = cut_keeping_leaders(dedupe_by_group(scored, lang), ranks, depth, ALWAYS_KEEP_RANK)
        cands = [Candidate(group=c.group or c.id, chunk=c, fused=score, ranks=ranks.get(c.group or c.id, {}))
                 for c, score in deduped]
        info = {"expansions": expansions, "dense": dense, "lexical": lexical, "dense_sims": dense_sims,
                "key_sims": key_sims, "ceiling": fusion_ceiling(rankings, k=s.rrf_k),
                "timings": {"dense": (t1 - t0) * 1000, "lexical": (t2 - t1) * 1000}}
        return ctx, cands, info

    def _key_rankings(self, ctx: QueryContext, key_sims, lang: str, n: int):
        """Groups ranked by their best question key, dense and lexical (the masked key never counts)."""
        keys = self.index.keys
        dense: list[tuple[str, float]] = []
        if key_sims is not None and len(key_sims):
            seen = set()
            for i in np.lexsort((np.arange(len(key_sims)), -key_sims)):  # best first, ties by position
                k = keys[i]
                if k.text == ctx.mask_key or k.group in seen:
                    continue
                seen.add(k.group)
                rep = self.group_rep.get((k.group, lang)) or self.group_rep.get((k.group, k.lang))
                if rep:
                    dense.append((rep, float(key_sims[i])))
                if len(dense) >= n:
                    break
        lexical: list[tuple[str, float]] = []
        idx = self.index.key_lexical.get(lang)
        if idx is not None:
            seen = set()
            for kid, score in idx.search(ctx.text, n + 5):
                k = keys[int(kid)]
                if k.text == ctx.mask_key or k.group in seen:
                    continue
                seen.add(k.group)
                rep = self.group_rep.get((k.group, lang)) or self.group_rep.get((k.group, k.lang))
                if rep:
                    lexical.append((rep, score))
        return dense, lexical[:n]

    def rank(self, ctx: QueryContext, cands: list[Candidate], info: dict) -> tuple[list[Candidate], list[float]]:
        """Candidates in the ranker's order with their relevance in [0, 1] (fusion order without a ranker)."""
        if not cands:
            return [], []
        if self.ranker is None:
            # Normalised by the rankings the fusion actually used: 1.0 = first in every one of them.
            ceiling = info["ceiling"] or 1.0
            return cands, [min(1.0, c.fused / ceiling) for c in cands]
        X = self.features.matrix(ctx, cands, info["dense_sims"], info["key_sims"])
        scores = self.ranker.scores(X)
        order = sorted(range(len(cands)), key=lambda i: (-round(float(scores[i]), 9), i))
        return [cands[i] for i in order], [self.ranker.probability(float(scores[i])) for i in order]

    def query_vector(self, question: str, lang: str) -> np.ndarray | None:
        """The question's embedding as retrieval uses it (None when dense retrieval is unavailable)."""
        if self.chunk_vectors is None:
            return None
        return self.embedder.embed_query(self.dense_text(question))

    def retrieve(self, question: str, k: int | None = None, language: str | None = None,
                 context: str = "", qvec: np.ndarray | None = None) -> Retrieval:
        """Best ``k`` hits for a question; ``context`` (a previous turn) widens the search for follow-ups."""
        s = self.settings
        k = k or s.top_k
        t0 = time.perf_counter()
        lang = language or detect_language(question, s.default_language)
        ctx, cands, info = self.candidates(question, lang, context, qvec=qvec)
        t1 = time.perf_counter()
        ordered, probs = self.rank(ctx, cands, info)
        ordered, probs = self._named_decision_first(question, lang, ordered, probs, ctx.sanction)
        t2 = time.perf_counter()
        hits = [Hit(chunk=c.chunk, score=p, dense_similarity=_group_best(info["dense_sims"], self, c.group),
                    ranks=c.ranks) for c, p in zip(ordered[:k], probs[:k], strict=True)]
        best_lex = max((res[0][1] for res in info["lexical"].values() if res), default=0.0)
        key_sims = info["key_sims"]
        return Retrieval(
            hits=hits, language=lang, expansions=info["expansions"],
            best_similarity=max((sim for _, sim in info["dense"]), default=0.0), best_lexical=best_lex,
            best_key_similarity=float(key_sims.max()) if key_sims is not None and len(key_sims) else 0.0,
            degraded=self.degraded, reranked=self.ranker is not None,
            timings_ms={**info["timings"], "rank": (t2 - t1) * 1000, "retrieve": (t2 - t0) * 1000},
        )

    def _named_decision_first(self, question: str, lang: str, ordered: list[Candidate], probs: list[float],
                              about_sanctions: bool):
        """A question naming the organisation of a CNIL decision ("Spartoo s'est fait sanctionner ?") gets
        that decision first, whatever the ranker thought of the rest of the question. A name made of
        common words ("Google", "Free Mobile") counts only in a question about sanctions: "Google
        Analytics" is not the Google decision."""
        words = set(re.findall(r"[a-z0-9]+", fold(question)))
        folded = " ".join(re.findall(r"[a-z0-9]+", fold(question)))
        named = [g for g, (distinct, phrase) in self.named_decisions.items()
                 if (distinct and distinct <= words) or
                 (about_sanctions and phrase and f" {phrase} " in f" {folded} ")]
        if not named:
            return ordered, probs
        position = {c.group: i for i, c in enumerate(ordered)}
        # Of several decisions named alike (Carrefour France, Carrefour Banque), the best ranked one.
        group = min(named, key=lambda g: (position.get(g, len(ordered)), g))
        top = probs[0] if probs else 1.0
        if group in position:
            i = position[group]
            if i == 0:
                return ordered, probs
            return [ordered[i]] + ordered[:i] + ordered[i + 1:], [max(top, probs[i])] + probs[:i] + probs[i + 1:]
        cid = self.group_rep.get((group, lang)) or next((v for (g, _), v in self.group_rep.items() if g == group), None)
        if cid is None:
            return ordered, probs
        c = self.index.chunks[cid]
        return [Candidate(group=group, chunk=c, fused=0.0, ranks={})] + ordered, [top] + probs

    def group_chunks(self, group: str) -> list[Chunk]:
        """Every chunk of a source group (both languages), in index order."""
        return [self.index.chunks[self.chunk_ids[i]] for i in self.features.group_rows.get(group, ())]


def _group_best(sims, retriever: HybridRetriever, group: str) -> float | None:
    if sims is None:
        return None
    rows = retriever.features.group_rows.get(group, ())
    return float(max(sims[r] for r in rows)) if rows else None


def _distinctive_names(names: dict[str, str], chunks) -> dict[str, tuple[frozenset[str], str]]:
    """For each decision group, the first word of its organisation's name when no other source uses it
    ("spartoo", "dedalus"), and the whole name as a phrase ("free mobile": "free" is a common word)."""
    vocabulary: set[str] = set()
    for c in chunks:
        if c.kind != "cnil_decision":
            vocabulary.update(re.findall(r"[a-z0-9]+", fold(c.text)))
    out = {}
    for group, name in names.items():
        words = re.findall(r"[a-z0-9]+", fold(name))
        # The brand comes first ("Dedalus Biologie"): later words are often ordinary ones ("biologie").
        distinct = frozenset(words[:1]) if words and len(words[0]) >= 4 and words[0] not in vocabulary else frozenset()
        out[group] = (distinct, " ".join(words) if len(" ".join(words)) >= 4 else "")
    return out
