"""Training the ranker at index time, on labelled queries the corpus itself provides.

Queries and the source each should find:
- every FAQ item's question and each of its other phrasings -> that item (the phrasing's own key is
  masked, so the model cannot learn "identical key wins");
- each glossary term asked as "c'est quoi ... ?" / "what is ...?" -> sources on the term's article;
- each CNIL decision asked by its organisation's name -> that decision.
For every query the retriever's fused candidates are computed exactly as for a visitor, each is
labelled relevant or not, and a logistic regression learns the feature weights (each query weighs
the same). Deterministic: fixed query order, a deterministic solver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..types import SourceDoc
from .rerank import FEATURES, Ranker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingQuery:
    """A labelled query: the groups that answer it, and the key it was taken from (masked)."""

    text: str
    lang: str
    positive_groups: frozenset[str] = frozenset()
    positive_article: int | None = None
    mask_key: str | None = None


def corpus_queries(docs: list[SourceDoc], groups: dict[str, str]) -> list[TrainingQuery]:
    """Labelled queries from the corpus: FAQ phrasings, glossary terms, decision names."""
    out: list[TrainingQuery] = []
    for d in docs:
        group = groups.get(d.id)
        if d.kind == "faq" and group:
            # Only the other phrasings: the title is also in the item's text, a query taken from it
            # would find itself. Each phrasing's own key is masked for the same reason.
            for text in d.extra.get("questions", []):
                text = " ".join(str(text).split())
                out.append(TrainingQuery(text, d.lang, frozenset({group}), mask_key=text))
        elif d.kind == "cnil_decision" and group:
            org = str(d.extra["organisation"]).title()
            text = f"sanction CNIL contre {org}" if d.lang == "fr" else f"CNIL fine against {org}"
            out.append(TrainingQuery(text, d.lang, frozenset({group})))
        elif d.kind == "glossary" and d.articles:
            term = str(d.extra["terms"][0])
            text = f"c'est quoi {term} ?" if d.lang == "fr" else f"what is {term}?"
            out.append(TrainingQuery(text, d.lang, positive_article=d.articles[0]))
    return out


def training_matrix(retriever, queries: list[TrainingQuery], texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and sample weights of every (query, candidate) pair with a positive among them."""
    vectors = texts([retriever.dense_text(q.text, retriever.index.glossary.expand(q.text, q.lang)) for q in queries])
    rows, labels, weights = [], [], []
    for q, vec in zip(queries, vectors, strict=True):
        ctx, cands, info = retriever.candidates(q.text, q.lang, qvec=vec, mask_key=q.mask_key)
        y = np.array([1.0 if (c.group in q.positive_groups or
                              (q.positive_article is not None and c.chunk.article == q.positive_article
                               and c.chunk.kind in ("faq", "guide", "gdpr_article"))) else 0.0 for c in cands])
        if not len(y) or y.sum() == 0 or y.sum() == len(y):
            continue  # nothing to learn from this query
        X = retriever.features.matrix(ctx, cands, info["dense_sims"], info["key_sims"])
        pos, neg = y.sum(), len(y) - y.sum()
        w = np.where(y > 0, 0.5 / pos, 0.5 / neg)  # each query weighs one, half on its positives
        rows.append(X)
        labels.append(y)
        weights.append(w)
    if not rows:
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0)
    return np.vstack(rows), np.concatenate(labels), np.concatenate(weights)


def fit_ranker(X: np.ndarray, y: np.ndarray, w: np.ndarray, C: float = 1.0, info: dict | None = None) -> Ranker:
    """A logistic regression over standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000, solver="lbfgs")
    model.fit((X - mean) / scale, y, sample_weight=w)
    return Ranker(features=FEATURES, weights=tuple(float(v) for v in model.coef_[0]),
                  mean=tuple(float(v) for v in mean), scale=tuple(float(v) for v in scale),
                  bias=float(model.intercept_[0]), info=info or {})


def train_ranker(settings, embedder, store, data, docs: list[SourceDoc], texts, C: float = 1.0) -> Ranker:
    """Train the ranker for an index being built (``data`` holds its chunks and vectors in memory)."""
    from .retriever import HybridRetriever

    retriever = HybridRetriever(settings, embedder, store, index=data)
    groups = {c.doc_id: c.group for c in data.chunks.values()}
    queries = corpus_queries(docs, groups)
    X, y, w = training_matrix(retriever, queries, texts)
    if len(y) == 0:
        log.warning("no training queries: the fused order serves unchanged")
        return Ranker(features=("fused",), weights=(1.0,), mean=(0.0,), scale=(1.0,), bias=0.0,
                      info={"queries": 0})
    info = {"queries": len(queries), "pairs": int(len(y)), "positives": int(y.sum()), "C": C}
    return fit_ranker(X, y, w, C=C, info=info)
