"""Retrieval benchmark: this project's hybrid retriever against the naive LangChain baseline, same run.

Baseline = what a user would build first: RecursiveCharacterTextSplitter(1000, 200) over the same
texts, the same all-MiniLM-L6-v2 model, Chroma top-k similarity. Both index the same official text
(FR+EN, when the EUR-Lex files are available) and the same bundled corpus, and answer the same
labelled questions (`kind: gdpr`). Prints a table; asserts nothing about time.

    python bench/retrieval.py [--questions FILE] [--eurlex-dir DIR] [--no-corpus]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.corpus.eurlex import import_file, load_official  # noqa: E402
from assistant.corpus.loader import load_corpus  # noqa: E402
from assistant.evaluation import percentile, read_items  # noqa: E402


def rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def metrics(ranks, latencies):
    n = len(ranks)
    return {
        "hit@1": sum(1 for r in ranks if r and r <= 1) / n,
        "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
        "hit@10": sum(1 for r in ranks if r and r <= 10) / n,
        "mrr@10": sum(1 / r for r in ranks if r and r <= 10) / n,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 95),
    }


def first_rank(articles_ranked, expected):
    for i, a in enumerate(articles_ranked, start=1):
        if a in expected:
            return i
    return None


def run_project(settings, embedder, items):
    from assistant.retrieval.index import build_index
    from assistant.retrieval.retriever import HybridRetriever
    from assistant.retrieval.vectorstore import open_store

    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    store = open_store(settings, embedder.name)
    report = build_index(settings, embedder, store)
    build_s = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    retriever = HybridRetriever(settings, embedder, store)
    retriever.retrieve("warm up")
    ranks, lat = [], []
    for it in items:
        t = time.perf_counter()
        r = retriever.retrieve(it.q, k=10)
        lat.append((time.perf_counter() - t) * 1000)
        ranks.append(first_rank([h.chunk.article for h in r.hits], it.articles))
    return {**metrics(ranks, lat), "build_s": build_s, "py_peak_mb": peak, "chunks": report.chunks}


def baseline_documents(settings):
    """The same texts as plain LangChain documents: whole articles, recitals, corpus bodies."""
    from langchain_core.documents import Document

    docs = []
    for t in load_official(settings.official_dir):
        for a in t.articles:
            docs.append(Document(page_content=f"Article {a.number} {a.title}\n{a.text}",
                                 metadata={"article": a.number, "lang": t.lang}))
        for r in t.recitals:
            docs.append(Document(page_content=r.text, metadata={"article": -1, "lang": t.lang}))
    for d in load_corpus(settings.corpus_dir):
        if d.kind == "glossary":
            continue
        docs.append(Document(page_content=f"{d.title}\n{d.body}",
                             metadata={"article": d.article if d.article is not None else -1, "lang": d.lang}))
    return docs


def run_baseline(settings, embedder, items, workdir):
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SameModel(Embeddings):
        """LangChain view of the very same loaded MiniLM model."""

        def embed_documents(self, texts):
            return embedder.embed_documents(list(texts)).tolist()

        def embed_query(self, text):
            return embedder.embed_query(text).tolist()

    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(baseline_documents(settings))
    store = Chroma.from_documents(chunks, SameModel(), collection_name="baseline",
                                  persist_directory=str(workdir / "baseline-chroma"),
                                  client_settings=ChromaSettings(anonymized_telemetry=False))
    build_s = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    store.similarity_search("warm up", k=10)
    ranks, lat = [], []
    for it in items:
        t = time.perf_counter()
        found = store.similarity_search(it.q, k=10)
        lat.append((time.perf_counter() - t) * 1000)
        ranks.append(first_rank([d.metadata["article"] for d in found], it.articles))
    return {**metrics(ranks, lat), "build_s": build_s, "py_peak_mb": peak, "chunks": len(chunks)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(ROOT.parent / "shared/eval/public_questions.jsonl"))
    ap.add_argument("--eurlex-dir", default=None)
    ap.add_argument("--no-corpus", action="store_true", help="official text only (no bundled corpus)")
    args = ap.parse_args()

    from assistant.retrieval.embeddings import make_embedder

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    corpus_dir = work / "empty-corpus" if args.no_corpus else None
    if corpus_dir:
        corpus_dir.mkdir()
    settings = Settings.from_env(data_dir=work / "data", corpus_dir=corpus_dir)
    eurlex = Path(args.eurlex_dir) if args.eurlex_dir else settings.eurlex_dir
    official = [eurlex / "L_2016119FR.01000101.html", eurlex / "L_2016119EN.01000101.html"]
    if all(p.exists() for p in official):
        for p in official:
            import_file(p, settings.official_dir)
    else:
        print(f"note: no official EUR-Lex files in {eurlex}; bundled corpus only")
    items = [it for it in read_items(Path(args.questions)) if it.kind == "gdpr"]
    embedder = make_embedder(settings)
    rss0 = rss_mb()
    embedder.warm_up()  # model load is common to both and kept out of the build times
    print(f"model loaded: RSS {rss_mb():.0f} MB (was {rss0:.0f} MB before the model)")
    print(f"questions: {len(items)} gdpr items from {args.questions}")

    base = run_baseline(settings, embedder, items, work)
    rss_after_base = rss_mb()
    proj = run_project(settings, embedder, items)
    print(f"peak RSS after baseline {rss_after_base:.0f} MB, after project {rss_mb():.0f} MB")
    print()
    rows = [("hit@1", "{:.3f}"), ("hit@5", "{:.3f}"), ("hit@10", "{:.3f}"), ("mrr@10", "{:.3f}"),
            ("p50_ms", "{:.1f}"), ("p95_ms", "{:.1f}"), ("build_s", "{:.1f}"), ("py_peak_mb", "{:.1f}"),
            ("chunks", "{:d}")]
    print(f"{'metric':<12}{'project':>12}{'baseline':>12}{'ratio':>10}")
    for key, fmt in rows:
        ratio = proj[key] / base[key] if base[key] else float("inf")
        print(f"{key:<12}{fmt.format(proj[key]):>12}{fmt.format(base[key]):>12}{ratio:>10.2f}")
    print("\nlatency = one retrieval of top-10 (warm process); build_s excludes the model load;")
    print("py_peak_mb = tracemalloc peak of Python allocations during the build (native tensors not counted).")


if __name__ == "__main__":
    main()
