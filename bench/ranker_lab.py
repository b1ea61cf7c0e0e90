"""Ranking benchmark on an existing index: hit@1/hit@5 of the fused order against the learned ranker.

With --cv, the ranker is retrained five times, each time without one fifth of the bundled tuning
questions, and scored on that fifth only (so no question scores itself); the report half of the dev
set is never used for training. With --fails, prints the questions whose lead source is wrong.
With --corpus-only, a ranker is also trained on the corpus's own queries and the paraphrases alone
(no user question) and scored on FILES: an honest check of training-data changes on the tuning
halves, which then train nothing.

    python bench/ranker_lab.py --data-dir data bench/eval/report.jsonl ../shared/eval/public_questions.jsonl
    python bench/ranker_lab.py --data-dir data --cv
    python bench/ranker_lab.py --data-dir data --corpus-only bench/eval/tune.jsonl bench/eval/fresh_tune.jsonl \
        bench/eval/fresh2_tune.jsonl bench/eval/fresh3_tune.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.container import build_answer_service  # noqa: E402
from assistant.corpus.loader import load_corpus  # noqa: E402
from assistant.evaluation import read_items  # noqa: E402
from assistant.retrieval.index import TextVectors  # noqa: E402
from assistant.retrieval.rerank import FEATURES  # noqa: E402
from assistant.retrieval.text import detect_language, fold  # noqa: E402
from assistant.retrieval.training import (  # noqa: E402
    LABELLED,
    corpus_queries,
    fit_ranker,
    paraphrase_queries,
    training_blocks,
    user_queries,
)


def item_rows(retriever, items):
    """Features, labels and candidates of each labelled item (same rule as the answer eval)."""
    out = []
    for it in items:
        if not it.articles or it.should_refuse:
            continue
        ctx, cands, info = retriever.candidates(it.q, detect_language(it.q))
        X = retriever.features.matrix(ctx, cands, info["dense_sims"], info["key_sims"])
        if it.kind == "cnil" and it.entity:
            y = np.array([1.0 if c.chunk.kind == "cnil_decision" and fold(it.entity) in fold(c.chunk.title) else 0.0
                          for c in cands])
        else:
            y = np.array([1.0 if any(a in it.articles for a in (c.chunk.articles or (c.chunk.article,))[:3])
                          else 0.0 for c in cands])
        out.append((it, X, y, cands))
    return out


def order(scores):
    """Candidate positions, best first (ties by fused position, as the retriever does)."""
    return sorted(range(len(scores)), key=lambda i: (-round(float(scores[i]), 9), i))


def hits(rows, score_fn, k):
    """Share of rows with a relevant candidate among the first ``k``."""
    return sum(any(y[i] > 0 for i in order(score_fn(X))[:k]) for _, X, y, _ in rows) / max(1, len(rows))


def fused(X):
    """The fusion's own order."""
    return X[:, FEATURES.index("fused")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--cv", action="store_true", help="5-fold cross-validation over the bundled tuning questions")
    ap.add_argument("--fails", action="store_true", help="print the questions whose lead is wrong")
    ap.add_argument("--corpus-only", action="store_true",
                    help="also train on corpus queries and paraphrases only, and score FILES with it (pooled)")
    args = ap.parse_args()
    settings = Settings.from_env(data_dir=args.data_dir)
    r = build_answer_service(settings).retriever
    learned = r.ranker.scores if r.ranker else fused
    print(f"{'set':<28}{'n':>5}{'fused@1':>9}{'fused@5':>9}{'ranker@1':>10}{'ranker@5':>10}")
    for f in args.files:
        rows = item_rows(r, read_items(Path(f)))
        print(f"{Path(f).name:<28}{len(rows):>5}{hits(rows, fused, 1):>9.3f}{hits(rows, fused, 5):>9.3f}"
              f"{hits(rows, learned, 1):>10.3f}{hits(rows, learned, 5):>10.3f}")
        if args.fails:
            for it, X, y, cands in rows:
                o = order(learned(X))
                if y[o[0]] == 0:
                    first = next((k + 1 for k, i in enumerate(o) if y[i] > 0), None)
                    print(f"  {it.id} expected {it.articles}, first right at {first}: {it.q[:90]}")
                    for k, i in enumerate(o[:3]):
                        c = cands[i].chunk
                        print(f"      {k + 1}{'*' if y[i] else ' '} {c.kind:<13} {list(c.articles[:3])} {c.title[:70]}")
    if args.corpus_only and args.files:
        docs = load_corpus(settings.corpus_dir)
        texts = TextVectors(r.embedder, r.store)
        groups = {c.doc_id: c.group for c in r.index.chunks.values()}
        queries = corpus_queries(docs, groups) + paraphrase_queries(set(groups.values()))
        model = fit_ranker(training_blocks(r, queries, texts))
        pooled = hit = 0.0
        for f in args.files:
            rows = item_rows(r, read_items(Path(f)))
            h = hits(rows, model.scores, 1)
            print(f"corpus-only ranker, {Path(f).name}: hit@1 {h:.3f} ({len(rows)})")
            pooled += len(rows)
            hit += h * len(rows)
        print(f"corpus-only ranker, pooled: hit@1 {hit / max(1, pooled):.3f} ({int(pooled)} questions)")
    if args.cv:
        docs = load_corpus(settings.corpus_dir)
        texts = TextVectors(r.embedder, r.store)
        groups = {c.doc_id: c.group for c in r.index.chunks.values()}
        corpus_blocks = training_blocks(r, corpus_queries(docs, groups), texts)
        users = user_queries()
        user_blocks = [training_blocks(r, [q], texts) for q in users]  # one list per question, [] if unusable
        rows = item_rows(r, read_items(LABELLED))
        assert len(rows) == len(users), "labelled_queries.jsonl and the items read from it disagree"
        got = {"fused": 0.0, "corpus only": 0.0, "corpus + tuning folds": 0.0}
        corpus_model = fit_ranker(corpus_blocks)
        for k in range(5):
            test = [row for i, row in enumerate(rows) if i % 5 == k]
            train = [b for i, bs in enumerate(user_blocks) if i % 5 != k for b in bs]
            model = fit_ranker(corpus_blocks + train)
            got["fused"] += hits(test, fused, 1) * len(test)
            got["corpus only"] += hits(test, corpus_model.scores, 1) * len(test)
            got["corpus + tuning folds"] += hits(test, model.scores, 1) * len(test)
        for name, v in got.items():
            print(f"tuning questions, 5-fold, {name}: hit@1 {v / len(rows):.3f}")


if __name__ == "__main__":
    main()
