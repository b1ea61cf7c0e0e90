"""Chroma vector store: a persistent client in the data dir, or a Chroma server by CHROMA_URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..errors import VectorStoreUnavailable

BATCH = 1000


class ChromaVectorStore:
    """One Chroma collection of chunk embeddings (cosine space), keyed by content-hash chunk ids."""

    def __init__(self, collection_name: str, path: Path | None = None, url: str = ""):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self.where = url or str(path)
        self.url, self.path = url, path
        self._count: int | None = None
        try:
            if url:
                u = urlparse(url)
                self.client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https",
                                                  settings=chroma_settings)
                self.client.heartbeat()
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self.collection = self.client.get_or_create_collection(
                collection_name, metadata={"hnsw:space": "cosine"})
        except Exception as e:  # chromadb raises many types; all mean "cannot use the store"
            if url:
                raise VectorStoreUnavailable(
                    f"cannot reach the Chroma server at {url} ({type(e).__name__}): start it with "
                    f"`chroma run --path DIR --port {urlparse(url).port or 8000}` or unset CHROMA_URL") from None
            raise VectorStoreUnavailable(f"cannot open the Chroma store in {path}: {e}") from None

    def sibling(self, what: str) -> ChromaVectorStore:
        """Another collection of the same client (``texts`` beside ``chunks``), created if needed."""
        other = object.__new__(ChromaVectorStore)
        other.where, other._count, other.client = self.where, None, self.client
        other.url, other.path = self.url, self.path
        name = self.collection.name.replace("chunks-", f"{what}-", 1) if self.collection.name.startswith("chunks-") \
            else f"{what}-{self.collection.name}"[:60]
        other.collection = self._call(self.client.get_or_create_collection, name, metadata={"hnsw:space": "cosine"})
        return other

    def reopened(self) -> ChromaVectorStore:
        """This collection through a new client, to read what another process (a re-index) wrote since.

        An open persistent client keeps its own view of the files and fails on vectors added by
        another process; a Chroma server is one view for everyone, so it is kept as it is.
        """
        if self.url:
            return self
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # else the same path gives back the same (stale) client
        return ChromaVectorStore(self.collection.name, path=self.path)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise VectorStoreUnavailable(f"the Chroma store at {self.where} failed: {type(e).__name__}: {e}") from None

    def ids(self) -> set[str]:
        """Every id stored."""
        out: set[str] = set()
        offset = 0
        while True:
            got = self._call(self.collection.get, include=[], limit=BATCH, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < BATCH:
                return out
            offset += BATCH

    def add(self, ids: list[str], embeddings: np.ndarray, metadatas: list[dict]) -> None:
        """Add (or overwrite) vectors."""
        self._count = None
        for i in range(0, len(ids), BATCH):
            self._call(self.collection.upsert, ids=ids[i:i + BATCH],
                       embeddings=[e.tolist() for e in embeddings[i:i + BATCH]],
                       metadatas=metadatas[i:i + BATCH])

    def delete(self, ids: list[str]) -> None:
        """Remove vectors."""
        self._count = None
        for i in range(0, len(ids), BATCH):
            self._call(self.collection.delete, ids=ids[i:i + BATCH])

    def vectors(self, ids: list[str]) -> np.ndarray:
        """The stored vectors of ``ids``, one row per id in that order; a missing id is an error."""
        rows: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), BATCH):
            got = self._call(self.collection.get, ids=unique[i:i + BATCH], include=["embeddings"])
            rows.update(zip(got["ids"], got["embeddings"], strict=True))
        missing = [i for i in ids if i not in rows]
        if missing:
            raise VectorStoreUnavailable(f"the Chroma store at {self.where} lacks {len(missing)} vector(s) of the "
                                         "index (was it wiped?): rebuild with `gdpr-assistant index`")
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray([rows[i] for i in ids], dtype=np.float32)

    def query(self, embedding: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` nearest ids with their cosine similarity, best first."""
        # The collection size bounds n_results; it is read once and again only when a build changed it.
        if self._count is None or self._count < n:
            self._count = self._call(self.collection.count)
        if self._count == 0:
            return []
        try:
            res = self.collection.query(query_embeddings=[embedding.tolist()], n_results=min(n, self._count),
                                        include=["distances"])
        except Exception:
            self._count = self._call(self.collection.count)  # vectors were removed since: ask for fewer
            if self._count == 0:
                return []
            res = self._call(self.collection.query, query_embeddings=[embedding.tolist()],
                             n_results=min(n, self._count), include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]


def open_store(settings, embedder_name: str, what: str = "chunks") -> ChromaVectorStore:
    """The store for this embedder, persistent in the data dir or on the server in CHROMA_URL.

    ``what`` names the collection: ``chunks`` (the indexed passages) or ``texts`` (short texts the
    ranker and the scope classifier compare questions with: FAQ questions, titles, examples).
    """
    name = f"{what}-{embedder_name}"[:60]
    if settings.chroma_url:
        return ChromaVectorStore(name, url=settings.chroma_url)
    return ChromaVectorStore(name, path=settings.chroma_dir)
