"""A BM25 lexical index, one per language, with stemming and accent folding; stored as JSON."""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict

from .text import analyze


class BM25Index:
    """Okapi BM25 over the chunks of one language."""

    def __init__(self, lang: str, ids: list[str], postings: dict[str, list[list[int]]],
                 lengths: list[int], k1: float = 1.2, b: float = 0.75):
        self.lang = lang
        self.ids = ids
        self.postings = postings  # term -> [[doc index, term frequency], ...]
        self.lengths = lengths
        self.k1, self.b = k1, b
        n = len(ids)
        self.avgdl = (sum(lengths) / n) if n else 1.0
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        # Each document's length normalisation, computed once (the same floats as inline).
        self._norm = [k1 * (1 - b + b * dl / self.avgdl) for dl in lengths]

    @classmethod
    def build(cls, lang: str, items: list[tuple[str, str]],
              known: dict[str, Counter] | None = None) -> BM25Index:
        """Index (chunk id, text) pairs, all in ``lang``.

        ``known`` gives the term counts of ids already analysed (a previous build's, see ``term_counts``):
        ids derive from the content, so a re-index analyses only the chunks that changed.
        """
        ids, lengths = [], []
        postings: dict[str, list[list[int]]] = defaultdict(list)
        known = known or {}
        for i, (cid, text) in enumerate(items):
            counts = known.get(cid)
            if counts is None:
                counts = Counter(analyze(text, lang))
            ids.append(cid)
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term].append([i, tf])
        return cls(lang, ids, dict(postings), lengths)

    def term_counts(self) -> dict[str, Counter]:
        """Each indexed id's term counts (what ``build`` computed), recovered from the postings."""
        out: dict[str, Counter] = {i: Counter() for i in self.ids}
        for term, plist in self.postings.items():
            for doc, tf in plist:
                out[self.ids[doc]][term] = tf
        return out

    def search(self, query: str, n: int, extra_terms: list[str] | None = None) -> list[tuple[str, float]]:
        """The ``n`` best chunks for a query (with optional expansion text), best first."""
        terms = analyze(query, self.lang)
        weights = Counter({t: 1.0 for t in terms})
        # Expansion terms count half: they widen recall without drowning the user's own words.
        for t in analyze(" ".join(extra_terms or []), self.lang):
            weights[t] = max(weights[t], 0.5)
        scores: dict[int, float] = defaultdict(float)
        k1p, norm = self.k1 + 1, self._norm
        for term, w in weights.items():
            plist = self.postings.get(term)
            if not plist:
                continue
            idf = self.idf[term] * w
            for doc, tf in plist:
                scores[doc] += idf * tf * k1p / (tf + norm[doc])
        best = heapq.nsmallest(n, scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(self.ids[d], s) for d, s in best]

    def share_containing(self, stems: list[str]) -> float:
        """Share of the indexed chunks that contain every one of ``stems``."""
        if not self.ids or not stems:
            return 0.0
        sets = [{d for d, _ in self.postings.get(s, [])} for s in stems]
        return len(set.intersection(*sets)) / len(self.ids)

    def to_json(self) -> dict:
        """Serialisable form."""
        return {"lang": self.lang, "ids": self.ids, "postings": self.postings, "lengths": self.lengths}

    @classmethod
    def from_json(cls, d: dict) -> BM25Index:
        """Inverse of ``to_json``."""
        return cls(d["lang"], d["ids"], d["postings"], d["lengths"])
