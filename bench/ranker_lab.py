"""Ranker experiments on an existing index: hit@1 of the fused order and of rankers trained several ways.

Evaluates on the labelled sets given (gdpr/trap/cnil items with articles); tune-half items can be
added to training with --with-tune (scored by 5-fold cross-validation so no item scores itself).

    python bench/ranker_lab.py --data-dir data bench/eval/tune.jsonl [--with-tune]
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
from assistant.retrieval.training import corpus_queries, fit_ranker, training_matrix  # noqa: E402
from assistant.retrieval.text import detect_language  # noqa: E402


def item_rows(retriever, items):
    """Features and labels of each labelled item's candidates."""
    out = []
    for it in items:
        if not it.articles or it.should_refuse:
            continue
        lang = detect_language(it.q)
        ctx, cands, info = retriever.candidates(it.q, lang)
        X = retriever.features.matrix(ctx, cands, info["dense_sims"], info["key_sims"])
        if it.kind == "cnil":
            from assistant.retrieval.text import fold
            y = np.array([1.0 if c.chunk.kind == "cnil_decision" and it.entity and
                          fold(it.entity) in fold(c.chunk.title) else 0.0 for c in cands])
        else:
            y = np.array([1.0 if any(a in it.articles for a in (c.chunk.articles or (c.chunk.article,))[:3])
                          else 0.0 for c in cands])
        out.append((it, X, y, cands))
    return out


def hit1(rows, score_fn):
    hits = 0
    for it, X, y, cands in rows:
        if not len(y):
            continue
        s = score_fn(X)
        best = min(range(len(s)), key=lambda i: (-round(float(s[i]), 9), i))
        hits += y[best] > 0
    return hits / len(rows)


def hitk(rows, score_fn, k=5):
    hits = 0
    for it, X, y, cands in rows:
        s = score_fn(X)
        order = sorted(range(len(s)), key=lambda i: (-round(float(s[i]), 9), i))[:k]
        hits += any(y[i] > 0 for i in order)
    return hits / len(rows)


def fit_pairwise(X, y, w, C):
    """Pairwise logistic regression: positive minus negative within each query (queries split by weight runs)."""
    from sklearn.linear_model import LogisticRegression

    from assistant.retrieval.rerank import Ranker
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1
    Z = (X - mean) / scale
    # queries are contiguous blocks; a block ends where a positive follows a negative run... use w sums
    diffs, labels, weights = [], [], []
    start = 0
    total = 0.0
    for i in range(len(y)):
        total += w[i]
        if abs(total - 1.0) < 1e-6:
            block = range(start, i + 1)
            pos = [j for j in block if y[j] > 0]
            neg = [j for j in block if y[j] == 0]
            for p in pos:
                for n in neg:
                    diffs.append(Z[p] - Z[n]); labels.append(1); weights.append(1.0 / (len(pos) * len(neg)))
                    diffs.append(Z[n] - Z[p]); labels.append(0); weights.append(1.0 / (len(pos) * len(neg)))
            start, total = i + 1, 0.0
    m = LogisticRegression(C=C, fit_intercept=False, max_iter=3000)
    m.fit(np.array(diffs), np.array(labels), sample_weight=np.array(weights))
    return Ranker(features=tuple(FEATURES), weights=tuple(m.coef_[0]), mean=tuple(mean), scale=tuple(scale), bias=0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--with-tune", default="")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--tune-only", action="store_true")
    ap.add_argument("--pairwise", action="store_true")
    ap.add_argument("--drop", default="", help="comma-separated features to leave out")
    args = ap.parse_args()
    s = Settings.from_env(data_dir=args.data_dir)
    svc = build_answer_service(s)
    r = svc.retriever
    docs = load_corpus(s.corpus_dir)
    texts = TextVectors(r.embedder, r.store)
    groups = {c.doc_id: c.group for c in r.index.chunks.values()}
    Xc, yc, wc = training_matrix(r, corpus_queries(docs, groups), texts)
    drop = set(filter(None, args.drop.split(",")))
    keep = [i for i, f in enumerate(FEATURES) if f not in drop]
    base = fit_ranker(Xc[:, keep], yc, wc, C=args.C)
    if args.pairwise:
        base = fit_pairwise(Xc[:, keep], yc, wc, args.C)
    coef = dict(zip([FEATURES[i] for i in keep], base.weights))
    print("weights:", ", ".join(f"{k}={v:+.2f}" for k, v in sorted(coef.items(), key=lambda kv: -abs(kv[1]))))

    def scorer(model):
        idx = keep
        return lambda X: ((X[:, idx] - np.asarray(model.mean)) / np.asarray(model.scale)) @ np.asarray(model.weights)

    for f in args.files:
        rows = item_rows(r, read_items(Path(f)))
        fused = lambda X: X[:, FEATURES.index("fused")]  # noqa: E731
        print(f"{Path(f).name}: n={len(rows)}  fused hit@1 {hit1(rows, fused):.3f} hit@5 {hitk(rows, fused):.3f} | "
              f"corpus-trained hit@1 {hit1(rows, scorer(base)):.3f} hit@5 {hitk(rows, scorer(base)):.3f}")
    if args.with_tune:
        tune_rows = item_rows(r, read_items(Path(args.with_tune)))
        folds = 5
        preds = 0
        for k in range(folds):
            train = [row for i, row in enumerate(tune_rows) if i % folds != k]
            test = [row for i, row in enumerate(tune_rows) if i % folds == k]
            corpus_part = [] if args.tune_only else [Xc]
            Xt = np.vstack(corpus_part + [row[1] for row in train if row[2].sum() > 0])
            yt = np.concatenate(([] if args.tune_only else [yc]) + [row[2] for row in train if row[2].sum() > 0])
            wt = np.concatenate(([] if args.tune_only else [wc]) + [np.where(row[2] > 0, 0.5 / row[2].sum(), 0.5 / max(1, (row[2] == 0).sum())) * 3
                                        for row in train if row[2].sum() > 0])
            m = fit_ranker(Xt[:, keep], yt, wt, C=args.C)
            preds += hit1(test, scorer(m)) * len(test)
        print(f"tune 5-fold with tune items in training: hit@1 {preds / len(tune_rows):.3f}")


if __name__ == "__main__":
    main()


def single_features(data_dir, files):
    """hit@1 when ranking by one feature alone (a sanity check of what each signal carries)."""
    s = Settings.from_env(data_dir=data_dir)
    r = build_answer_service(s).retriever
    for f in files:
        rows = item_rows(r, read_items(Path(f)))
        out = []
        for name in FEATURES:
            j = FEATURES.index(name)
            out.append((hit1(rows, lambda X, j=j: X[:, j] + 1e-6 * X[:, 0]), name))
        print(Path(f).name, " ".join(f"{n}={v:.2f}" for v, n in sorted(out, reverse=True)[:14]))
