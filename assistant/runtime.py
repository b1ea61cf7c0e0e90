"""Wiring: build the long-lived services (embedder, store, retriever, answer service) from settings."""

from __future__ import annotations

from .answer.service import AnswerService
from .retrieval.embeddings import make_embedder
from .retrieval.index import load_index
from .retrieval.retriever import HybridRetriever
from .retrieval.vectorstore import open_store


def open_retriever(settings, embedder=None) -> HybridRetriever:
    """A retriever over the live index (IndexMissingError names the build command)."""
    index = load_index(settings.index_dir)  # fail fast, before loading the model
    embedder = embedder or make_embedder(settings)
    store = open_store(settings, embedder.name)
    return HybridRetriever(settings, embedder, store, index=index)


def open_answer_service(settings, embedder=None, chat_model=None) -> AnswerService:
    """The answer service over the live index, with the LLM writer the settings ask for (if any)."""
    from .answer.conversations import ConversationStore, RedisConversationStore
    from .answer.llm import LLMWriter, make_chat_model

    retriever = open_retriever(settings, embedder)
    chat_model = chat_model or make_chat_model(settings)
    conversations = (RedisConversationStore(settings.redis_url, ttl_seconds=settings.conversation_ttl)
                     if settings.redis_url else ConversationStore(ttl_seconds=settings.conversation_ttl))
    return AnswerService(settings, retriever, llm=LLMWriter(chat_model) if chat_model is not None else None,
                         conversations=conversations)
