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
from typing import TYPE_CHECKING

from .config import Settings, with_development_keys
from .errors import VectorStoreUnavailable

if TYPE_CHECKING:  # each builder imports what it builds: `gdpr-assistant index` loads no web, mail or accounts code
    from .accounts.service import AccountService
    from .answer.conversations import ConversationStore
    from .answer.service import AnswerService
    from .chat.exchanges import ExchangeLog
    from .db import Database
    from .jobs import JobQueue
    from .live import LiveIndex
    from .mail import Mailer
    from .matching.service import MatchingService
    from .newsletter.service import NewsletterService
    from .privacy.crypto import FieldCipher, KeyedHasher
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
    cipher: FieldCipher  # encrypts personal fields (FIELD_KEYS)
    hasher: KeyedHasher  # keyed hashes for look-ups and de-duplication (SECRET_KEY)
    exchanges: ExchangeLog
    accounts: AccountService
    retention: RetentionRegistry
    jobs: JobQueue  # background jobs (JOBS_BACKEND); job functions receive these services
    mailer: Mailer  # outbox and SMTP (SMTP_URL; .eml files in DATA_DIR/mail/ in development)
    # The answer engine; None in processes built with engine=False (`worker`, `jobs run-periodic`).
    embedder: Embedder | None
    conversations: ConversationStore | None
    live: LiveIndex | None  # the answer service and source texts of the live index generation
    matching: MatchingService | None = None  # partners, referrals, leads (built last: it uses the others)
    newsletter: NewsletterService | None = None  # built last: it uses the mailer and the job queue

    @property
    def answers(self) -> AnswerService | None:
        """The answer service over the live index generation (take it once per request)."""
        return self.live.current().answers if self.live is not None else None

    @property
    def sources(self) -> SourceLibrary | None:
        """The texts behind the source pages, as the live index generation saw them."""
        return self.live.current().sources if self.live is not None else None

    def close(self) -> None:
        """Stop background jobs and release pooled connections (end of a command or a test)."""
        self.jobs.close()
        self.database.dispose()


def build_services(settings: Settings, *, engine: bool = True, **overrides) -> Services:
    """Build every service once; ``overrides`` (by field name, or store/retriever/chat_model) replace parts.

    ``engine=False`` leaves out the answer engine (index, model, sources): what a job worker needs.
    ``engine=True`` (servers) also starts the thread backend's periodic tasks.
    """
    from .jobs import build_job_queue

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
        "embedder", "store", "retriever", "chat_model", "conversations", "answers", "sources")})) \
        if engine else None
    answers = live.current().answers if live is not None else None
    database = given("database", lambda: build_database(settings))
    cipher = given("cipher", lambda: build_cipher(settings))
    hasher = given("hasher", lambda: build_hasher(settings))
    jobs = given("jobs", lambda: build_job_queue(settings))
    services = Services(
        settings=settings,
        database=database,
        cipher=cipher,
        hasher=hasher,
        exchanges=given("exchanges", lambda: build_exchange_log(settings, database)),
        accounts=given("accounts", lambda: build_accounts(settings, database, cipher, hasher)),
        retention=given("retention", lambda: build_retention(settings)),
        jobs=jobs,
        mailer=given("mailer", lambda: build_mailer(settings, database, cipher, hasher, jobs)),
        embedder=answers.retriever.embedder if answers is not None else overrides.get("embedder"),
        conversations=answers.conversations if answers is not None else overrides.get("conversations"),
        live=live,
    )
    services.matching = given("matching", lambda: build_matching(
        settings, database, services.embedder, cipher, hasher, services.mailer))
    services.newsletter = given("newsletter", lambda: build_newsletter(settings, services))
    services.jobs.bind(services)
    if engine:
        services.jobs.start()
    return services


def build_live_index(settings: Settings, embedder: Embedder | None = None, store=None, retriever=None,
                     chat_model=None, conversations: ConversationStore | None = None,
                     answers: AnswerService | None = None, sources: SourceLibrary | None = None) -> LiveIndex:
    """The live index generation's services, reloaded when `gdpr-assistant index` publishes a new one.

    A given ``answers`` or ``retriever`` is served as it is (tests); otherwise each new generation gets
    a new answer service sharing the embedder, vector store, LLM writer, conversations and metrics.
    """
    from .live import LiveIndex, Served
    from .web.library import SourceLibrary

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
    from .db import Database

    return Database(settings.sqlalchemy_url)


def build_exchange_log(settings: Settings, database: Database) -> ExchangeLog:
    """The chat's store of redacted exchanges and votes."""
    from .chat.exchanges import ExchangeLog

    return ExchangeLog(database, settings.retention_days, settings.max_feedback_chars)


def build_cipher(settings: Settings) -> FieldCipher:
    """Field encryption with FIELD_KEYS (the development key filled in when missing)."""
    from .privacy.crypto import FieldCipher

    return FieldCipher(with_development_keys(settings).field_keys)


def build_hasher(settings: Settings) -> KeyedHasher:
    """Keyed hashes with a key derived from SECRET_KEY (the development key filled in when missing)."""
    from .privacy.crypto import KeyedHasher

    return KeyedHasher(with_development_keys(settings).secret_key)


def build_accounts(settings: Settings, database: Database, cipher: FieldCipher | None = None,
                   hasher: KeyedHasher | None = None) -> AccountService:
    """Operator and partner users, sign-in and sessions (settings with FIELD_KEYS and SECRET_KEY filled in)."""
    from .accounts.service import AccountService

    return AccountService(database, with_development_keys(settings), cipher=cipher, hasher=hasher)


def build_mailer(settings: Settings, database: Database, cipher: FieldCipher, hasher: KeyedHasher,
                 jobs: JobQueue) -> Mailer:
    """The outbox and its delivery: SMTP_URL's relay, or .eml files in DATA_DIR/mail/ in development."""
    from .mail import Mailer

    return Mailer(settings, database, cipher, hasher, jobs)


def build_retention(settings: Settings) -> RetentionRegistry:
    """Every feature's retention rules, in the order `purge` applies them."""
    from .accounts.retention import retention_rules as accounts_rules
    from .chat.retention import retention_rules as chat_rules
    from .mail.retention import retention_rules as mail_rules
    from .matching.retention import retention_rules as matching_rules
    from .newsletter.retention import retention_rules as newsletter_rules
    from .privacy.retention import RetentionRegistry

    return RetentionRegistry([*chat_rules(settings.retention_days), *accounts_rules(settings.signin_record_days),
                              *mail_rules(), *matching_rules(), *newsletter_rules()])


def build_matching(settings: Settings, database: Database, embedder: Embedder | None, cipher: FieldCipher,
                   hasher: KeyedHasher, mailer: Mailer | None) -> MatchingService:
    """Partner matching and referrals: the directory in the database, the answers' embedder for text
    similarity (None in a job worker: no similarity needed there), contact data through the cipher,
    lead e-mails through the outbox; lead links signed with SECRET_KEY, absolute over PUBLIC_ORIGIN."""
    from .matching.service import MatchingService

    settings = with_development_keys(settings)
    return MatchingService(database, embedder, cipher, hasher, mailer, settings.secret_key.reveal(),
                           public_origin=settings.public_origin or f"http://{settings.host}:{settings.port}")


def build_newsletter(settings: Settings, services: Services) -> NewsletterService:
    """Sign-ups, consent proof, unsubscribes and sending, over the database, cipher, hasher, mailer and queue."""
    from .newsletter.service import NewsletterService

    return NewsletterService(services.database, settings, services.cipher, services.hasher, services.mailer,
                             services.jobs)


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
    from .answer.conversations import ConversationStore

    if settings.redis_url:
        from .answer.conversations import RedisConversationStore

        return RedisConversationStore(settings.redis_url, ttl_seconds=settings.conversation_ttl,
                                      max_conversations=settings.max_conversations)
    return ConversationStore(ttl_seconds=settings.conversation_ttl, max_conversations=settings.max_conversations)


def build_answer_service(settings: Settings, embedder: Embedder | None = None, store=None, retriever=None,
                         chat_model=None, conversations: ConversationStore | None = None) -> AnswerService:
    """The answer service over the current index, with the LLM writer the settings ask for (if any)."""
    from .answer.llm import LLMWriter, make_chat_model
    from .answer.service import AnswerService
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
    from .answer.service import AnswerService
    from .retrieval.index import load_index
    from .retrieval.retriever import HybridRetriever

    retriever = HybridRetriever(settings, embedder, store, index=load_index(settings.index_dir))
    return AnswerService(settings, retriever, llm=llm, conversations=conversations, metrics=metrics)
