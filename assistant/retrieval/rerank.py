"""Learned reranking of the fused candidates: features of (question, source) pairs and a linear ranker.

The fusion finds the right source among its first candidates far more often than it puts it first.
The ranker orders the candidates with features a reader would use: how close the question is to
the source's own question(s) and title (dense and lexical), to its text, the glossary concepts both
name, whether the source states what the question type asks for (a deadline, an amount), the kind
of source, and the ranks the fusion gave it. Its weights are learned at index time from labelled
queries the corpus provides (assistant.retrieval.training); the model is a logistic regression,
stored as plain numbers in the index generation, deterministic and cheap to apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..types import Chunk
from .query import QuestionInfo, has_amount, has_duration
from .text import analyze, fold

FEATURES = (
    "fused", "rr_dense", "rr_lex", "rr_lex_other", "rr_titles", "rr_sanction", "rr_keys_dense", "rr_keys_lex",
    "dense_max", "dense_gap", "key_max", "key_gap", "key_title", "key_lex", "text_cov", "concepts",
    "kind_faq", "kind_guide", "kind_article", "kind_recital", "kind_decision", "same_lang",
    "article_named", "entity_named", "sanction_decision", "type_deadline", "type_amount", "type_definition",
)
KIND_FEATURE = {"faq": "kind_faq", "guide": "kind_guide", "gdpr_article": "kind_article",
                "gdpr_recital": "kind_recital", "cnil_decision": "kind_decision"}


@dataclass
class QueryContext:
    """A question as the features see it."""

    text: str
    lang: str
    vec: np.ndarray | None
    stems: list[str]
    concepts: set[str]
    info: QuestionInfo
    sanction: bool
    mask_key: str | None = None  # training: the key the query was taken from does not count


@dataclass
class Candidate:
    """One source group among the fused results."""

    group: str
    chunk: Chunk  # the representative chunk (in the question's language when there is one)
    fused: float
    ranks: dict = field(default_factory=dict)


class FeatureSpace:
    """Per-index lookups the features need, computed once per index generation."""

    def __init__(self, chunk_ids: list[str], chunks: dict[str, Chunk], keys: list, idf: dict[str, dict],
                 decision_names: dict[str, str], concepts_of):
        self.idf = idf
        self.group_rows: dict[str, list[int]] = {}
        for i, cid in enumerate(chunk_ids):
            self.group_rows.setdefault(chunks[cid].group or cid, []).append(i)
        self.key_rows: dict[str, list[int]] = {}
        self.key_texts: list[str] = []
        self.key_stems: list[set[str]] = []
        self.key_is_title: list[bool] = []
        self.group_concepts: dict[str, set[str]] = {}
        for i, k in enumerate(keys):
            self.key_rows.setdefault(k.group, []).append(i)
            self.key_texts.append(k.text)
            self.key_stems.append(set(analyze(k.text, k.lang)))
            self.key_is_title.append(k.source == "title")
            self.group_concepts.setdefault(k.group, set()).update(concepts_of(k.text, k.lang))
        self.key_langs = [k.lang for k in keys]
        self.decision_names = {g: fold(n) for g, n in decision_names.items()}
        self._duration: dict[str, bool] = {}
        self._amount: dict[str, bool] = {}

    def _flag(self, cache: dict, chunk: Chunk, test) -> bool:
        v = cache.get(chunk.id)
        if v is None:
            v = cache[chunk.id] = bool(test(chunk.text[:1200]))
        return v

    def coverage(self, stems: list[str], text_stems: set[str], lang: str) -> float:
        """IDF-weighted share of the question's stems found in a text."""
        idf = self.idf.get(lang, {})
        # math.fsum: exact, so independent of the set's iteration order (which changes with every
        # process's string hashing): a plain sum let two builds of the same corpus train rankers that
        # differed in their last digits.
        weights = {s: idf.get(s, 1.0) for s in set(stems)}
        total = math.fsum(weights.values())
        return math.fsum(w for s, w in weights.items() if s in text_stems) / total if total else 0.0

    def matrix(self, ctx: QueryContext, cands: list[Candidate], dense_sims: np.ndarray | None,
               key_sims: np.ndarray | None) -> np.ndarray:
        """One feature row per candidate (columns in FEATURES order)."""
        n = len(cands)
        X = np.zeros((n, len(FEATURES)), dtype=np.float64)
        if not n:
            return X
        col = {f: i for i, f in enumerate(FEATURES)}
        top_fused = max(c.fused for c in cands) or 1.0
        dense = [self._group_max(dense_sims, self.group_rows.get(c.group, ())) for c in cands]
        keyv, key_title = [], []
        for c in cands:
            rows = [r for r in self.key_rows.get(c.group, ()) if self.key_texts[r] != ctx.mask_key]
            keyv.append(self._group_max(key_sims, rows))
            key_title.append(self._group_max(key_sims, [r for r in rows if self.key_is_title[r]]))
        best_dense = max(dense) if dense else 0.0
        best_key = max(keyv) if keyv else 0.0
        q_stems = ctx.stems
        for i, c in enumerate(cands):
            row = X[i]
            row[col["fused"]] = c.fused / top_fused
            for name, f in (("dense", "rr_dense"), ("lexical_" + ctx.lang, "rr_lex"), ("titles", "rr_titles"),
                            ("sanction", "rr_sanction"), ("keys_dense", "rr_keys_dense"), ("keys_lex", "rr_keys_lex")):
                r = c.ranks.get(name)
                row[col[f]] = 1.0 / r if r else 0.0
            other = [r for k, r in c.ranks.items() if k.startswith("lexical_") and k != "lexical_" + ctx.lang]
            row[col["rr_lex_other"]] = 1.0 / min(other) if other else 0.0
            row[col["dense_max"]] = dense[i]
            row[col["dense_gap"]] = dense[i] - best_dense
            row[col["key_max"]] = keyv[i]
            row[col["key_gap"]] = keyv[i] - best_key if keyv[i] else -1.0
            row[col["key_title"]] = key_title[i]
            row[col["key_lex"]] = self._key_lex(ctx, c.group)
            chunk = c.chunk
            row[col["text_cov"]] = self._text_cov(q_stems, chunk, ctx.lang)
            gc = self.group_concepts.get(c.group, set())
            row[col["concepts"]] = len(ctx.concepts & gc) / len(ctx.concepts) if ctx.concepts else 0.0
            kf = KIND_FEATURE.get(chunk.kind)
            if kf:
                row[col[kf]] = 1.0
            row[col["same_lang"]] = 1.0 if chunk.lang == ctx.lang else 0.0
            row[col["article_named"]] = 1.0 if chunk.article is not None and chunk.article in ctx.info.articles else 0.0
            name = self.decision_names.get(c.group)
            row[col["entity_named"]] = 1.0 if name and _names(name, ctx.info.folded) else 0.0
            row[col["sanction_decision"]] = 1.0 if ctx.sanction and chunk.kind == "cnil_decision" else 0.0
            # A key fact asked in any part of the question counts ("...worst fine? Is there an SME scale?").
            if ctx.info.type == "deadline" or "deadline" in ctx.info.wants:
                row[col["type_deadline"]] = 1.0 if self._flag(self._duration, chunk, has_duration) else -1.0
            if ctx.info.type == "amount" or "amount" in ctx.info.wants:
                row[col["type_amount"]] = 1.0 if self._flag(self._amount, chunk, has_amount) else -1.0
            if ctx.info.type == "definition":
                row[col["type_definition"]] = 1.0 if chunk.article == 4 else 0.0
        return X

    @staticmethod
    def _group_max(sims: np.ndarray | None, rows) -> float:
        if sims is None or not len(rows):
            return 0.0
        return float(max(sims[r] for r in rows))

    def _key_lex(self, ctx: QueryContext, group: str) -> float:
        """Best IDF-weighted Dice overlap between the question's stems and one of the group's keys."""
        idf = self.idf.get(ctx.lang, {})
        q = set(ctx.stems)
        if not q:
            return 0.0
        best = 0.0
        for r in self.key_rows.get(group, ()):
            if self.key_langs[r] != ctx.lang or self.key_texts[r] == ctx.mask_key:
                continue
            k = self.key_stems[r]
            common = math.fsum(idf.get(s, 1.0) for s in q & k)  # fsum: see coverage
            if common:
                total = math.fsum(idf.get(s, 1.0) for s in q) + math.fsum(idf.get(s, 1.0) for s in k)
                best = max(best, 2 * common / total)
        return best

    def _text_cov(self, q_stems: list[str], chunk: Chunk, lang: str) -> float:
        if chunk.lang != lang:
            return 0.0
        stems = _chunk_stems(chunk)
        return self.coverage(q_stems, stems, lang)


_STEMS: dict[str, set[str]] = {}


def prime_chunk_stems(lexical: dict) -> None:
    """Fill the chunk stems from the lexical indexes' term counts (the same ``analyze`` of the same
    text), so the build's worker processes inherit them instead of each computing them again."""
    for idx in lexical.values():
        for cid, counts in idx.term_counts().items():
            _STEMS.setdefault(cid, set(counts))


def _chunk_stems(chunk: Chunk) -> set[str]:
    s = _STEMS.get(chunk.id)
    if s is None:
        s = _STEMS[chunk.id] = set(analyze(chunk.search_text, chunk.lang))
        if len(_STEMS) > 50_000:  # bounded: generations come and go in a long-running server
            _STEMS.clear()
    return s


def _names(name: str, question: str) -> bool:
    """True when the organisation's distinctive name occurs in the question."""
    words = [w for w in name.replace("-", " ").split() if len(w) > 2 and w not in
             ("societe", "sas", "sarl", "groupe", "france", "the", "and", "les", "des", "inc", "llc", "ltd")]
    # The first distinctive word: "Dedalus" names "Dedalus Biologie"; "Carrefour" names both
    # Carrefour decisions, and the visitor may mean either.
    return bool(words) and f" {words[0]}" in f" {question}"


# Features that can only make a source more relevant: the trees are kept monotone in them, so a
# quirk of the training data can never teach "naming the organisation makes a decision less likely".
MONOTONE = {"fused", "rr_dense", "rr_lex", "rr_titles", "rr_keys_dense", "rr_keys_lex", "dense_max", "key_max",
            "key_lex", "key_title", "text_cov", "concepts", "entity_named", "article_named", "sanction_decision",
            "type_deadline", "type_amount", "type_definition"}


class Ranker:
    """A LightGBM lambdarank model over FEATURES, with a logistic calibration of its scores."""

    def __init__(self, model_text: str, calibration: tuple[float, float] = (1.0, 0.0), info: dict | None = None):
        import lightgbm as lgb

        self.model_text = model_text
        self.booster = lgb.Booster(model_str=model_text)
        if self.booster.num_feature() != len(FEATURES):
            raise ValueError(f"ranker expects {self.booster.num_feature()} features, the code has {len(FEATURES)}")
        self.calibration = calibration
        self.info = info or {}

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Raw scores of feature rows (higher is more relevant)."""
        if X.shape[0] == 0:
            return np.zeros(0)
        return self.booster.predict(X, num_threads=1)

    def probability(self, score: float) -> float:
        """The score as a probability of relevance, in [0, 1] (logistic calibration on the training pairs)."""
        a, b = self.calibration
        z = max(-50.0, min(50.0, a * score + b))
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict:
        """Serialisable form (the trees as LightGBM's own text format)."""
        return {"features": list(FEATURES), "model": self.model_text, "calibration": list(self.calibration),
                "info": self.info}

    @classmethod
    def from_json(cls, d: dict) -> Ranker:
        """Inverse of ``to_json``; a model built for other features must be rebuilt."""
        if list(d.get("features", [])) != list(FEATURES):
            raise ValueError("the ranker was trained on other features")
        return cls(d["model"], tuple(d["calibration"]), d.get("info", {}))
