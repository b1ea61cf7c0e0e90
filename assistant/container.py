"""Composition root: every long-lived service, built once from the settings.

    services = build_services(settings)                          # the web app, `serve`, gunicorn
    services = build_services(settings, embedder=HashEmbedder())  # tests: any service by name
    app = create_app(settings, services)

Nothing else builds these services; the web app keeps them in ``app.extensions`` and the CLI
commands build what they need with the functions below. Building is cheap and loud: the index is
read now (a missing one raises ``IndexMissingError`` naming `gdpr-assistant index`), the database
is only connected to on first use (a schema missing or behind raises ``DatabaseNotReady`` naming
`gdpr-assistant db upgrade`), and the embedding model loads on the first question.

To add a service (a mailer, a partner directory, a job queue...): write a ``build_x(settings, ...)``
function here, add a field to ``Services``, build it in ``build_services`` (honouring an override of
the same name), and register the feature's retention rules in ``build_retention``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from .accounts.service import AccountService
from .answer.conversations import ConversationStore
from .answer.service import AnswerService
from .chat.exchanges import ExchangeLog
from .config import Settings, with_development_keys
from .db import Database
from .errors import VectorStoreUnavailable
from .live import LiveIndex, Served
from .privacy.retention import RetentionRegistry
from .retrieval.embeddings import Embedder
from .web.library import SourceLibrary

# Construction seams that are not fields themselves, accepted as overrides too: ``answers`` and
# ``sources`` are served as given (no live reload), the others are used to build them.
_PARTS = ("store", "retriever", "chat_model", "answers", "sources")


@dataclass
class Services:
    """The process's long-lived services, shared by every request and thread."""

    settings: Settings  # with the development keys filled in
    database: Database
    exchanges: ExchangeLog
    accounts: AccountService
    retention: RetentionRegistry
    embedder: Embedder
    conversations: ConversationStore
    live: LiveIndex  # the answer service and source texts of the live index generation

    @property
    def answers(self) -> AnswerService:
        """The answer service over the live index generation (take it once per request)."""
        return self.live.current().answers

    @property
    def sources(self) -> SourceLibrary:
        """The texts behind the source pages, as the live index generation saw them."""
        return self.live.current().sources

    def close(self) -> None:
        """Release pooled connections (end of a command or a test)."""
        self.database.dispose()


def build_services(settings: Settings, **overrides) -> Services:
    """Build every service once; ``overrides`` (by field name, or store/retriever/chat_model) replace parts."""
    allowed = {f.name for f in fields(Services)} - {"settings"} | set(_PARTS)
    unknown = set(overrides) - allowed
    if unknown:
        raise TypeError(f"unknown service(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")
    settings = with_development_keys(settings)

    def given(name, build):
        """The override called ``name``, else what ``build`` makes."""
        value = overrides.get(name)
        return build() if value is None else value  # `is None`: an empty store is falsy but given

    live = given("live", lambda: build_live_index(settings, **{k: overrides.get(k) for k in (
        "embedder", "store", "retriever", "chat_model", "conversations", "answers", "sources")}))
    answers = live.current().answers
    database = given("database", lambda: build_database(settings))
    return Services(
        settings=settings,
        database=database,
        exchanges=given("exchanges", lambda: build_exchange_log(settings, database)),
        accounts=given("accounts", lambda: build_accounts(settings, database)),
        retention=given("retention", lambda: build_retention(settings)),
        embedder=answers.retriever.embedder,
        conversations=answers.conversations,
        live=live,
    )


def build_live_index(settings: Settings, embedder: Embedder | None = None, store=None, retriever=None,
                     chat_model=None, conversations: ConversationStore | None = None,
                     answers: AnswerService | None = None, sources: SourceLibrary | None = None) -> LiveIndex:
    """The live index generation's services, reloaded when `gdpr-assistant index` publishes a new one.

    A given ``answers`` or ``retriever`` is served as it is (tests); otherwise each new generation gets
    a new answer service sharing the embedder, vector store, LLM writer, conversations and metrics.
    """
    fixed = answers is not None or retriever is not None or sources is not None
    if answers is None:
        answers = build_answer_service(settings, embedder=embedder, store=store, retriever=retriever,
                                       chat_model=chat_model, conversations=conversations)
    first = Served(answers.retriever.index.generation, answers,
                   sources if sources is not None else SourceLibrary.load(settings))
    if fixed:
        return LiveIndex(first, settings.index_dir)
    shared = answers
    latest = {"store": answers.retriever.store}  # the store the last generation was read through

    def load() -> Served:
        """The answer service and source texts over the generation CURRENT names now."""
        try:
            # A new client: an open persistent one does not see the vectors the indexer just added.
            previous = latest["store"]
            store = previous.reopened() if previous is not None else open_vector_store(settings, shared.retriever.embedder)
        except VectorStoreUnavailable as e:
            logging.getLogger(__name__).error("vector store unavailable: %s", e.message)
            store = None
        latest["store"] = store  # the old client is dropped with the old generation (it holds its vectors)
        new = _answer_service(settings, shared.retriever.embedder, store, shared.llm, shared.conversations,
                              metrics=shared.metrics)
        return Served(new.retriever.index.generation, new, SourceLibrary.load(settings))

    return LiveIndex(first, settings.index_dir, load=load, check_seconds=settings.index_check_seconds)


def build_database(settings: Settings) -> Database:
    """The database of DATABASE_URL (or the SQLite file in the data dir); nothing is connected yet."""
    return Database(settings.sqlalchemy_url)


def build_exchange_log(settings: Settings, database: Database) -> ExchangeLog:
    """The chat's store of redacted exchanges and votes."""
    return ExchangeLog(database, settings.retention_days, settings.max_feedback_chars)


def build_accounts(settings: Settings, database: Database) -> AccountService:
    """Operator and partner users, sign-in and sessions (settings with FIELD_KEYS and SECRET_KEY filled in)."""
    return AccountService(database, with_development_keys(settings))


def build_retention(settings: Settings) -> RetentionRegistry:
    """Every feature's retention rules, in the order `purge` applies them."""
    from .accounts.retention import retention_rules as accounts_rules
    from .chat.retention import retention_rules as chat_rules

    return RetentionRegistry([*chat_rules(settings.retention_days), *accounts_rules(settings.signin_record_days)])


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ASSISTANT_EMBEDDER asks for: the model (loaded on first use) or the hashing fake."""
    if settings.embedder == "hash":
        from .retrieval.embeddings import HashEmbedder

        return HashEmbedder()
    from .retrieval.embeddings import make_embedder

    return make_embedder(settings)


def open_vector_store(settings: Settings, embedder: Embedder):
    """The Chroma collection for this embedder (persistent in the data dir, or the CHROMA_URL server)."""
    from .retrieval.vectorstore import open_store

    return open_store(settings, embedder.name)


def build_conversations(settings: Settings) -> ConversationStore:
    """Conversation turns for follow-ups: in Redis when REDIS_URL is set (shared by workers), else in memory."""
    if settings.redis_url:
        from .answer.conversations import RedisConversationStore

        return RedisConversationStore(settings.redis_url, ttl_seconds=settings.conversation_ttl,
                                      max_conversations=settings.max_conversations)
    return ConversationStore(ttl_seconds=settings.conversation_ttl, max_conversations=settings.max_conversations)


def build_answer_service(settings: Settings, embedder: Embedder | None = None, store=None, retriever=None,
                         chat_model=None, conversations: ConversationStore | None = None) -> AnswerService:
    """The answer service over the current index, with the LLM writer the settings ask for (if any)."""
    from .answer.llm import LLMWriter, make_chat_model
    from .retrieval.index import load_index
    from .retrieval.retriever import HybridRetriever

    if retriever is None:
        index = load_index(settings.index_dir)  # fail fast, naming `gdpr-assistant index`, before the model
        embedder = embedder if embedder is not None else build_embedder(settings)
        if store is None:
            try:
                store = open_vector_store(settings, embedder)
            except VectorStoreUnavailable as e:
                # BM25 alone still answers: the retriever runs lexical-only and says so in `verification`.
                logging.getLogger(__name__).error("vector store unavailable, lexical-only answers: %s", e.message)
        retriever = HybridRetriever(settings, embedder, store, index=index)
    if chat_model is None:
        chat_model = make_chat_model(settings)
    if conversations is None:
        conversations = build_conversations(settings)
    return AnswerService(settings, retriever, llm=LLMWriter(chat_model) if chat_model is not None else None,
                         conversations=conversations)


def _answer_service(settings: Settings, embedder: Embedder, store, llm, conversations: ConversationStore,
                    metrics=None) -> AnswerService:
    """An answer service over the generation CURRENT names, reusing the process's other parts."""
    from .retrieval.index import load_index
    from .retrieval.retriever import HybridRetriever

    retriever = HybridRetriever(settings, embedder, store, index=load_index(settings.index_dir))
    return AnswerService(settings, retriever, llm=llm, conversations=conversations, metrics=metrics)
