"""A BM25 lexical index, one per language, with stemming and accent folding; stored as JSON."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

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
        self._norm = np.array([k1 * (1 - b + b * dl / self.avgdl) for dl in lengths], dtype=np.float64)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # term -> (doc indexes, term frequencies)

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
        # Vectorised over each term's postings, with the same floating-point operations in the same
        # order as the per-posting loop it replaces, so the scores are the same to the last bit.
        scores = np.zeros(len(self.ids), dtype=np.float64)
        touched = np.zeros(len(self.ids), dtype=bool)
        k1p = self.k1 + 1
        for term, w in weights.items():
            arrays = self._postings_arrays(term)
            if arrays is None:
                continue
            docs, tf = arrays
            scores[docs] += self.idf[term] * w * tf * k1p / (tf + self._norm[docs])
            touched[docs] = True
        found = np.flatnonzero(touched)
        # Best first; equal scores by index order (a stable, fixed tie-break).
        order = found[np.lexsort((found, -scores[found]))][:n]
        return [(self.ids[d], float(scores[d])) for d in order]

    def _postings_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        arrays = self._arrays.get(term)
        if arrays is None:
            plist = self.postings.get(term)
            if not plist:
                return None
            a = np.asarray(plist, dtype=np.int64)
            arrays = self._arrays[term] = (a[:, 0], a[:, 1].astype(np.float64))
        return arrays

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
