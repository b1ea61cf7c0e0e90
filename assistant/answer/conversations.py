"""Conversations kept server-side for a bounded time, redacted, to resolve follow-up questions."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..errors import InputError
from ..privacy.redact import redact
from ..retrieval.text import fold, tokens

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
    """The same store in Redis (REDIS_URL), shared by every worker; Redis expires conversations itself."""

    def __init__(self, url: str, ttl_seconds: float = 1800, max_turns: int = 10, prefix: str = "gdpr:conv:"):
        super().__init__(ttl_seconds=ttl_seconds, max_turns=max_turns)
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            self.client.ping()
        except redis.RedisError as e:
            from ..errors import ConfigError

            raise ConfigError(f"cannot reach Redis at REDIS_URL ({type(e).__name__}); start it or unset REDIS_URL") from None

    def get(self, conversation_id: str) -> Conversation:
        """The live conversation, or an InputError (404) when it is unknown or expired."""
        if not isinstance(conversation_id, str) or not ID_RE.match(conversation_id):
            raise InputError("conversation_id must be 8-64 letters, digits, '-' or '_'",
                             code="invalid_conversation_id", http_status=422)
        raw = self.client.lrange(self.prefix + conversation_id, 0, -1)
        if not raw:
            raise InputError("unknown or expired conversation_id; start a new conversation without it",
                             code="unknown_conversation", http_status=404)
        turns = [Turn(**{**json.loads(r), "articles": tuple(json.loads(r)["articles"])}) for r in raw]
        return Conversation(id=conversation_id, turns=turns, expires_at=self.clock() + self.client.ttl(
            self.prefix + conversation_id))

    def record(self, conversation_id: str | None, question: str, status: str, articles: tuple[int, ...]) -> str:
        """Append a redacted turn and push the expiry back; returns the conversation id."""
        cid = conversation_id or self.new_id()
        text, _ = redact(question)
        turn = json.dumps({"question": text, "status": status, "articles": list(articles), "at": self.clock()})
        key = self.prefix + cid
        with self.client.pipeline() as pipe:  # one round trip, applied together
            pipe.rpush(key, turn)
            pipe.ltrim(key, -self.max_turns, -1)
            pipe.expire(key, int(self.ttl))
            pipe.execute()
        return cid

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(self.prefix + "*"))
