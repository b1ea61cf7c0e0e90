"""Answer quality: this project's answers against the naive LangChain baseline, same process, same sets.

Baseline = what a first RAG prototype returns without a composer: RecursiveCharacterTextSplitter
(1000, 200) over the same texts, the same MiniLM model, Chroma top-3 passages pasted together as the
answer, never refusing. The project = the full answer service over an existing data dir (build it
with `gdpr-assistant index`). Both are scored by assistant.evaluation (hit@1 = the source the
answer leads with, hit@5, facts, facts in the first paragraph, refusals, traps). Prints tables;
asserts nothing.

    python bench/quality.py --data-dir data bench/eval/report.jsonl ../shared/eval/public_answers.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from assistant.config import Settings  # noqa: E402
from assistant.container import build_answer_service  # noqa: E402
from assistant.evaluation import METRICS, read_items, run_answer_eval, run_eval  # noqa: E402


def baseline_ask(settings, embedder, workdir: Path):
    """A naive LangChain RAG over the same texts: the top-3 passages are the answer."""
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from retrieval import baseline_documents

    class SameModel(Embeddings):
        """LangChain view of the very same loaded MiniLM model."""

        def embed_documents(self, texts):
            return embedder.embed_documents(list(texts)).tolist()

        def embed_query(self, text):
            return embedder.embed_query(text).tolist()

    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        baseline_documents(settings))
    store = Chroma.from_documents(chunks, SameModel(), collection_name="baseline",
                                  persist_directory=str(workdir / "baseline-chroma"),
                                  client_settings=ChromaSettings(anonymized_telemetry=False))

    def ask(q):
        found = store.similarity_search(q, k=5)
        cites = [{"kind": "passage", "ref": str(d.metadata.get("article")), "title": "",
                  "article": d.metadata.get("article") if d.metadata.get("article", -1) > 0 else None,
                  "articles": [d.metadata["article"]] if d.metadata.get("article", -1) > 0 else []} for d in found]
        answer = {"answer": "\n\n".join(d.page_content for d in found[:3]), "status": "answered",
                  "citations": cites[:3]}
        return answer, cites

    return ask


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    settings = Settings.from_env(data_dir=args.data_dir)
    service = build_answer_service(settings)
    base = None
    if not args.no_baseline:
        base = baseline_ask(settings, service.retriever.embedder, Path(tempfile.mkdtemp(prefix="bench-quality-")))
    for f in args.files:
        items = read_items(Path(f))
        ours = run_eval(service, items)["groups"]["all"]
        theirs = run_answer_eval(base, items)["groups"]["all"] if base else None
        print(f"\n{Path(f).name} ({len(items)} questions)")
        print(f"{'metric':<18}{'project':>12}{'baseline':>12}")
        for m in METRICS:
            a = ours[m]["value"]
            b = theirs[m]["value"] if theirs else None
            fa = "-" if a is None else f"{a:.3f}"
            fb = "-" if b is None else f"{b:.3f}"
            print(f"{m:<18}{fa:>12}{fb:>12}   (n={ours[m]['n']})")


if __name__ == "__main__":
    main()
