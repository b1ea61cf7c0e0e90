"""Conversations kept server-side for a bounded time, redacted, to resolve follow-up questions."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..errors import InputError
from ..privacy.redact import redact
from ..retrieval.text import fold, tokens

log = logging.getLogger(__name__)
ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FOLLOW_UP_START = re.compile(
    r"^\s*(et|mais|aussi|pareil|meme|idem|dans ce cas|du coup|alors|pour les|pour un|pour une|et si|"
    r"and|but|also|what about|how about|same|in that case|so|for|and if|then)\b", re.I)
PRONOUNS = re.compile(r"\b(ce|ca|cela|celui-ci|celle-ci|ce delai|cette|il|elle|it|this|that|they|those|these)\b", re.I)


@dataclass
class Turn:
    """One exchange, stored redacted."""

    question: str
    status: str
    articles: tuple[int, ...]
    at: float


@dataclass
class Conversation:
    """The redacted turns of one conversation and when it expires."""

    id: str
    turns: list[Turn] = field(default_factory=list)
    expires_at: float = 0.0


def is_follow_up(question: str) -> bool:
    """A short question that leans on the previous turn ('et le délai ?', 'and for employees?')."""
    q = fold(question)
    n = len(tokens(q))
    return n <= 4 or (n <= 12 and (bool(FOLLOW_UP_START.match(q)) or bool(PRONOUNS.search(q)) and n <= 8))


class ConversationStore:
    """In-process store with a time-to-live and a size bound (oldest dropped first)."""

    def __init__(self, ttl_seconds: float = 1800, max_conversations: int = 10_000, max_turns: int = 10,
                 clock=time.time):
        self.ttl = ttl_seconds
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self.clock = clock
        self._data: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """A fresh unguessable conversation id."""
        return secrets.token_urlsafe(16)

    def get(self, conversation_id: str) -> Conversation:
        """The live conversation, or an InputError (404) when it is unknown or expired."""
        if not isinstance(conversation_id, str) or not ID_RE.match(conversation_id):
            raise InputError("conversation_id must be 8-64 letters, digits, '-' or '_'",
                             code="invalid_conversation_id", http_status=422)
        with self._lock:
            self._purge()
            conv = self._data.get(conversation_id)
            if conv is None:
                raise InputError("unknown or expired conversation_id; start a new conversation without it",
                                 code="unknown_conversation", http_status=404)
            return conv

    def context_for(self, conversation_id: str | None, question: str) -> str:
        """The previous question when this one is a follow-up, else ''."""
        if not conversation_id:
            return ""
        conv = self.get(conversation_id)
        if not conv.turns or not is_follow_up(question):
            return ""
        return conv.turns[-1].question

    def record(self, conversation_id: str | None, question: str, status: str, articles: tuple[int, ...]) -> str:
        """Store a redacted turn (creating the conversation if needed); returns the conversation id."""
        with self._lock:
            self._purge()
            cid = conversation_id or self.new_id()
            conv = self._data.get(cid) or Conversation(id=cid)
            text, _ = redact(question)
            conv.turns.append(Turn(question=text, status=status, articles=articles, at=self.clock()))
            del conv.turns[: -self.max_turns]
            conv.expires_at = self.clock() + self.ttl
            self._data[cid] = conv
            self._data.move_to_end(cid)
            while len(self._data) > self.max_conversations:
                self._data.popitem(last=False)
            return cid

    def _purge(self) -> None:
        now = self.clock()
        for cid in [c for c, conv in self._data.items() if conv.expires_at <= now]:
            del self._data[cid]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._data)


class RedisConversationStore(ConversationStore):
    """The same store in Redis (REDIS_URL), shared by every worker; Redis expires conversations itself.

    At most ``max_conversations`` are kept: a sorted set of ids by last use lets the least recently
    used go first. Redis down is not an error for the visitor: questions are answered without the
    previous turn (logged), and turns are not kept until it is back.
    """

    def __init__(self, url: str, ttl_seconds: float = 1800, max_turns: int = 10, max_conversations: int = 10_000,
                 prefix: str = "gdpr:conv:"):
        super().__init__(ttl_seconds=ttl_seconds, max_turns=max_turns, max_conversations=max_conversations)
        import redis

        self.prefix = prefix
        self.recent = prefix + "@recent"  # conversation ids scored by last use (not a valid id: no clash)
        self.errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            self.client.ping()
        except self.errors as e:
            self._down("at start-up", e)

    def _down(self, what: str, e: Exception) -> None:
        log.error("Redis unreachable at REDIS_URL %s (%s): conversations go on without the previous turn "
                  "until it is back; start Redis or unset REDIS_URL", what, type(e).__name__)

    def get(self, conversation_id: str) -> Conversation:
        """The live conversation, or an InputError (404) when it is unknown or expired."""
        if not isinstance(conversation_id, str) or not ID_RE.match(conversation_id):
            raise InputError("conversation_id must be 8-64 letters, digits, '-' or '_'",
                             code="invalid_conversation_id", http_status=422)
        key = self.prefix + conversation_id
        with self.client.pipeline() as pipe:
            pipe.lrange(key, 0, -1)
            pipe.ttl(key)
            raw, ttl = pipe.execute()
        if not raw:
            raise InputError("unknown or expired conversation_id; start a new conversation without it",
                             code="unknown_conversation", http_status=404)
        turns = [Turn(**{**json.loads(r), "articles": tuple(json.loads(r)["articles"])}) for r in raw]
        return Conversation(id=conversation_id, turns=turns, expires_at=self.clock() + max(ttl, 0))

    def context_for(self, conversation_id: str | None, question: str) -> str:
        """The previous question when this one is a follow-up, else '' (also when Redis is down)."""
        try:
            return super().context_for(conversation_id, question)
        except self.errors as e:
            self._down("reading a conversation", e)
            return ""

    def record(self, conversation_id: str | None, question: str, status: str, articles: tuple[int, ...]) -> str:
        """Append a redacted turn and push the expiry back; returns the conversation id (kept or not)."""
        cid = conversation_id or self.new_id()
        text, _ = redact(question)
        now = self.clock()
        turn = json.dumps({"question": text, "status": status, "articles": list(articles), "at": now})
        key = self.prefix + cid
        try:
            with self.client.pipeline() as pipe:  # one round trip, applied together
                pipe.rpush(key, turn)
                pipe.ltrim(key, -self.max_turns, -1)
                pipe.expire(key, int(self.ttl))
                pipe.zadd(self.recent, {cid: now})
                pipe.zremrangebyscore(self.recent, "-inf", now - self.ttl)  # expired by Redis already
                pipe.expire(self.recent, int(self.ttl))
                pipe.zcard(self.recent)
                count = pipe.execute()[-1]
            if count > self.max_conversations:
                self._evict(count - self.max_conversations)
        except self.errors as e:
            self._down("keeping a conversation", e)
        return cid

    def _evict(self, n: int) -> None:
        """Forget the ``n`` least recently used conversations."""
        oldest = [cid.decode() if isinstance(cid, bytes) else cid for cid, _ in self.client.zpopmin(self.recent, n)]
        if oldest:
            self.client.delete(*(self.prefix + cid for cid in oldest))

    def __len__(self) -> int:
        return sum(1 for k in self.client.scan_iter(self.prefix + "*") if k != self.recent.encode())
