"""Training the ranker at index time, on labelled queries.

Queries and the sources each should find:
- every FAQ item's other phrasings -> that item (the phrasing's own key is masked, and phrasings
  are not part of the item's text, so no query finds itself);
- each glossary term asked as "c'est quoi ... ?" / "what is ...?" -> sources on the term's article;
- each CNIL decision asked about by the organisation's name, three ways -> that decision;
- situational questions in visitors' words written for each FAQ item (``data/paraphrases.jsonl``,
  kept apart from the item's own phrasings, so they are not keys) -> that item;
- the labelled questions in users' own words bundled in ``data/labelled_queries.jsonl`` (the
  tuning half of the project's dev set; the report half is never used) -> sources on their articles.
For every query the retriever's candidates are computed exactly as for a visitor and labelled; a
LightGBM lambdarank model (small trees, monotone in the features that can only add relevance,
deterministic, one thread) learns to order them. Its scores are calibrated to probabilities with a
logistic regression on the same pairs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..types import SourceDoc
from .parallel import split_map
from .rerank import FEATURES, MONOTONE, Ranker, prime_chunk_stems
from .text import detect_language, fold

log = logging.getLogger(__name__)
LABELLED = Path(__file__).parent / "data" / "labelled_queries.jsonl"
PARAPHRASES = Path(__file__).parent / "data" / "paraphrases.jsonl"
PARAMS = {"num_leaves": 7, "n_estimators": 150, "learning_rate": 0.05, "min_child_samples": 50}
USER_QUERY_WEIGHT = 3
MIN_QUERIES = 300  # fewer labelled queries (a test corpus) teach trees noise: the fused order serves  # a question in a user's own words counts as three corpus phrasings


@dataclass(frozen=True)
class TrainingQuery:
    """A labelled query: the groups that answer it, and the key it was taken from (masked)."""

    text: str
    lang: str
    positive_groups: frozenset[str] = frozenset()
    positive_article: int | None = None
    positive_articles: tuple[int, ...] = ()  # a user question: any source about one of these articles
    entity: str = ""  # a user question about a CNIL decision: the organisation's name
    mask_key: str | None = None
    weight: int = 1

    def is_positive(self, chunk, group: str) -> bool:
        """Whether a candidate answers this query."""
        if group in self.positive_groups:
            return True
        if self.positive_article is not None:
            return chunk.article == self.positive_article and chunk.kind in ("faq", "guide", "gdpr_article")
        if self.entity:
            return chunk.kind == "cnil_decision" and fold(self.entity) in fold(chunk.title)
        if self.positive_articles:
            about = chunk.articles or ((chunk.article,) if chunk.article is not None else ())
            return any(a in self.positive_articles for a in about[:3])
        return False


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
            asks = ((f"sanction CNIL contre {org}", f"pourquoi {org} a été sanctionné par la CNIL ?",
                     f"combien {org} a payé d'amende ?") if d.lang == "fr" else
                    (f"CNIL fine against {org}", f"why was {org} fined by the CNIL?", f"how much was {org} fined?"))
            out += [TrainingQuery(text, d.lang, frozenset({group})) for text in asks]
        elif d.kind == "glossary" and d.articles:
            term = str(d.extra["terms"][0])
            text = f"c'est quoi {term} ?" if d.lang == "fr" else f"what is {term}?"
            out.append(TrainingQuery(text, d.lang, positive_article=d.articles[0]))
    return out


def paraphrase_queries(groups: set[str], path: Path = PARAPHRASES) -> list[TrainingQuery]:
    """Situational questions written the way visitors write, each labelled with the FAQ item answering it."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            group = f"faq-{d['faq']}"
            if group in groups:  # an item removed from the corpus leaves its paraphrases unused
                out.append(TrainingQuery(d["q"], d["lang"], frozenset({group})))
    return out


def user_queries(path: Path = LABELLED) -> list[TrainingQuery]:
    """The bundled questions in users' words, labelled with the articles (or organisation) they are about."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(TrainingQuery(d["q"], d.get("lang") or detect_language(d["q"]),
                                     positive_articles=tuple(d.get("articles", ())), entity=d.get("entity", ""),
                                     weight=USER_QUERY_WEIGHT))
    return out


def training_blocks(retriever, queries: list[TrainingQuery], texts, workers: int = 0
                    ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(features, labels, weight) of each query with both relevant and irrelevant candidates.

    The queries are embedded here (torch, every core), then their candidates are computed in forked
    worker processes (``parallel.split_map``): the same blocks, in the same order, as one process.
    """
    vectors = texts([retriever.dense_text(q.text) for q in queries])
    return split_map(partial(_blocks, retriever), list(zip(queries, vectors, strict=True)), workers)


def _blocks(retriever, pairs) -> list[tuple[np.ndarray, np.ndarray, int]]:
    blocks = []
    for q, vec in pairs:
        ctx, cands, info = retriever.candidates(q.text, q.lang, qvec=vec, mask_key=q.mask_key)
        y = np.array([1.0 if q.is_positive(c.chunk, c.group) else 0.0 for c in cands])
        if not len(y) or y.sum() == 0 or y.sum() == len(y):
            continue  # nothing to learn from this query
        blocks.append((retriever.features.matrix(ctx, cands, info["dense_sims"], info["key_sims"]), y, q.weight))
    return blocks


def fit_ranker(blocks: list[tuple[np.ndarray, np.ndarray, int]], info: dict | None = None,
               params: dict | None = None) -> Ranker:
    """A lambdarank model over the blocks (a block of weight w counts w times), with its calibration."""
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression

    expanded = [(X, y) for X, y, w in blocks for _ in range(w)]
    X = np.vstack([b[0] for b in expanded])
    y = np.concatenate([b[1] for b in expanded])
    model = lgb.LGBMRanker(objective="lambdarank", deterministic=True, force_row_wise=True, num_threads=1,
                           verbose=-1, random_state=0,
                           monotone_constraints=[1 if f in MONOTONE else 0 for f in FEATURES],
                           **(params or PARAMS))
    model.fit(X, y, group=[len(b[1]) for b in expanded])
    text = model.booster_.model_to_string()
    raw = model.booster_.predict(X, num_threads=1).reshape(-1, 1)
    cal = LogisticRegression(max_iter=1000).fit(raw, y)
    return Ranker(text, (float(cal.coef_[0][0]), float(cal.intercept_[0])), info or {})


def ranker_blocks(settings, embedder, store, data, docs: list[SourceDoc], texts) -> tuple[list, dict]:
    """The labelled blocks to train the ranker of an index being built (``data`` holds its chunks and
    vectors in memory), and what they were made from."""
    from .retriever import HybridRetriever

    retriever = HybridRetriever(settings, embedder, store, index=data)
    prime_chunk_stems(data.lexical)
    groups = {c.doc_id: c.group for c in data.chunks.values()}
    corpus, users = corpus_queries(docs, groups), user_queries()
    corpus += paraphrase_queries(set(groups.values()))
    blocks = training_blocks(retriever, corpus + users, texts)
    return blocks, {"corpus_queries": len(corpus), "user_queries": len(users), "blocks": len(blocks),
                    "pairs": int(sum(len(b[1]) for b in blocks)), "model": "lightgbm lambdarank", **PARAMS}


def train_ranker_on(blocks: list, info: dict) -> Ranker | None:
    """The ranker fitted on ``ranker_blocks``' output.

    None when the corpus offers too few labelled queries to learn from (a tiny test corpus): the
    fused order then serves as it is.
    """
    if len(blocks) < MIN_QUERIES:
        log.warning("only %d labelled queries: no ranker, the fused order serves", len(blocks))
        return None
    return fit_ranker(blocks, info)

