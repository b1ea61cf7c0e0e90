"""Hybrid retrieval: glossary expansion, dense (Chroma) + lexical (BM25 FR and EN), weighted RRF, dedup."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..errors import IndexMissingError
from ..types import Hit
from .fusion import dedupe_by_group, reciprocal_rank_fusion, to_hits
from .index import BUILD_COMMAND, IndexData, load_index
from .text import detect_language, fold

# Questions about sanctions are routed to the CNIL decisions too (an extra ranking of decisions only).
SANCTION_QUERY = re.compile(r"\b(sanction\w*|amendes?|condamn\w*|penalit\w*|fined?|fines|penalt\w*|penalised|"
                            r"penalized|deliberation|san-\d{4})", re.I)


@dataclass(frozen=True)
class Retrieval:
    """The result of one retrieval: ranked hits and what was used to get them."""

    hits: list[Hit]
    language: str
    expansions: dict
    best_similarity: float
    best_lexical: float
    timings_ms: dict = field(default_factory=dict)


class HybridRetriever:
    """Retrieves the chunks that answer a question, one per article or corpus item."""

    def __init__(self, settings, embedder, store, index: IndexData | None = None):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.index = index or load_index(settings.index_dir)
        built_with = self.index.info.get("embedder")
        if built_with and built_with != embedder.name:
            raise IndexMissingError(
                f"the index was built with embedder {built_with}, not {embedder.name}: rebuild it with `{BUILD_COMMAND}`")

    def retrieve(self, question: str, k: int | None = None, language: str | None = None,
                 context: str = "") -> Retrieval:
        """Best ``k`` hits for a question; ``context`` (a previous turn) widens the search for follow-ups."""
        s = self.settings
        k = k or s.top_k
        t0 = time.perf_counter()
        lang = language or detect_language(question, s.default_language)
        query = f"{context}\n{question}".strip() if context else question
        expansions = self.index.glossary.expand(query, lang)
        t1 = time.perf_counter()
        dense_text = " ".join([query] + expansions["en"])
        dense = [(cid, sim) for cid, sim in self.store.query(self.embedder.embed_query(dense_text), s.candidates * 2)
                 if cid in self.index.chunks][: s.candidates]
        t2 = time.perf_counter()
        # In the question's language: its own words plus synonyms. In the other language only the
        # glossary translations: the question's words, stemmed for the wrong language, are noise.
        lexical = {}
        for lg, idx in self.index.lexical.items():
            if lg == lang:
                lexical[lg] = idx.search(query, s.candidates, extra_terms=expansions[lg])
            elif expansions[lg]:
                lexical[lg] = idx.search(" ".join(expansions[lg]), s.candidates)
            else:
                lexical[lg] = []
        t3 = time.perf_counter()
        titles = self.index.titles.get(lang)
        title_hits = titles.search(query, s.candidates, extra_terms=expansions[lang]) if titles else []
        # Titles and alternative questions of FAQ items and guides are a short and telling field of their own.
        named = [("dense", dense, s.dense_weight)]
        named += [(f"lexical_{lg}", res, s.lexical_weight) for lg, res in lexical.items()]
        named.append(("titles", title_hits, s.lexical_weight))
        rankings = [([cid for cid, _ in res], weight) for _, res, weight in named]
        if SANCTION_QUERY.search(fold(question)):
            pool = [cid for res in (dense, *lexical.values()) for cid, _ in res]
            decisions = list(dict.fromkeys(c for c in pool if self.index.chunks[c].kind == "cnil_decision"))
            rankings.append((decisions, 2 * s.lexical_weight))  # the user asks about sanctions
        fused = reciprocal_rank_fusion(rankings, k=s.rrf_k)
        similarities = dict(dense)
        ranks: dict[str, dict] = {}
        for name, res, _ in named:
            for rank, (cid, _) in enumerate(res, start=1):
                ranks.setdefault(cid, {})[name] = rank
        scored = [(self.index.chunks[cid], score) for cid, score in fused.items()]
        deduped = dedupe_by_group(scored, lang)[:k]
        hits = to_hits(deduped, similarities, ranks)
        t4 = time.perf_counter()
        best_lex = max((res[0][1] for res in lexical.values() if res), default=0.0)
        return Retrieval(
            hits=hits, language=lang, expansions=expansions,
            best_similarity=max((sim for _, sim in dense), default=0.0), best_lexical=best_lex,
            timings_ms={"expand": (t1 - t0) * 1000, "dense": (t2 - t1) * 1000, "lexical": (t3 - t2) * 1000,
                        "fuse": (t4 - t3) * 1000, "retrieve": (t4 - t0) * 1000},
        )
