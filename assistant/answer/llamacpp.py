"""A langchain chat model over llama.cpp (llama-cpp-python) and a local GGUF file.

langchain-community's wrapper is being sunset; this one is small: `invoke` and `stream` through
langchain's BaseChatModel interface. A llama.cpp context is not thread-safe, so each answer takes
one from a pool (``LLM_CONTEXTS`` per process, created on demand; the weights are memory-mapped
once by the OS): answers run side by side up to the pool's size instead of one at a time. Every call
honours ``LLM_TIMEOUT``, waiting for a free context included: past it, generation stops and
``TimeoutError`` is raised, so the answer service falls back to the grounded composer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from ..errors import ConfigError

_POOLS: dict[tuple, ContextPool] = {}
_POOLS_LOCK = threading.Lock()
ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class ContextPool:
    """Up to ``size`` llama.cpp contexts of one model, each used by one answer at a time."""

    def __init__(self, path: str, size: int = 2, n_ctx: int = 4096):
        self.path, self.size, self.n_ctx = path, size, n_ctx
        self._idle: queue.LifoQueue = queue.LifoQueue()  # the warmest context first
        self._created = 0
        self._lock = threading.Lock()

    def _new(self):
        from llama_cpp import Llama

        return Llama(model_path=self.path, n_ctx=self.n_ctx, verbose=False)

    def acquire(self, deadline: float):
        """A context for the caller alone (returned with ``release``); TimeoutError past ``deadline``."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            create = self._created < self.size
            if create:
                self._created += 1
        if create:
            try:
                return self._new()
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
        try:
            return self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no llama.cpp context free within LLM_TIMEOUT ({self.size} in use; "
                               "raise LLM_CONTEXTS or LLM_TIMEOUT)") from None

    def release(self, context) -> None:
        """Give a context back for the next answer."""
        self._idle.put(context)


def context_pool(path: str, size: int, n_ctx: int = 4096) -> ContextPool:
    """The process's pool for this model file (created once)."""
    with _POOLS_LOCK:
        pool = _POOLS.get((path, size, n_ctx))
        if pool is None:
            pool = _POOLS[(path, size, n_ctx)] = ContextPool(path, size, n_ctx)
        return pool


class LlamaCppChat(BaseChatModel):
    """Chat completions from a llama.cpp model, one pooled context per answer, within ``timeout`` seconds."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    pool: Any = None
    max_tokens: int = 512
    temperature: float = 0.0
    timeout: float = 20.0

    @classmethod
    def from_gguf(cls, path: str, n_ctx: int = 4096, max_tokens: int = 512, contexts: int = 2,
                  timeout: float = 20.0) -> LlamaCppChat:
        """A chat model over a GGUF file (its first context is loaded now, to fail early on a bad file)."""
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ConfigError("the llama.cpp backend needs `pip install 'gdpr-assistant[llm]'` "
                              "(llama-cpp-python)") from None
        pool = context_pool(path, contexts, n_ctx)
        pool.release(pool.acquire(time.monotonic() + 3600))  # loading may take long: it is not an answer
        return cls(model_path=path, pool=pool, max_tokens=max_tokens, timeout=timeout)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _messages(self, messages: list[BaseMessage]) -> list[dict]:
        return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _pieces(self, messages: list[BaseMessage], stop: list[str] | None) -> Iterator[str]:
        """The generated text piece by piece, on a pooled context; TimeoutError past the deadline."""
        deadline = time.monotonic() + self.timeout
        context = self.pool.acquire(deadline)
        parts = None
        try:
            parts = context.create_chat_completion(messages=self._messages(messages), stream=True,
                                                   max_tokens=self.max_tokens, temperature=self.temperature,
                                                   stop=stop)
            for part in parts:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the llama.cpp answer took longer than LLM_TIMEOUT ({self.timeout:g} s)")
                piece = part["choices"][0]["delta"].get("content") or ""
                if piece:
                    yield piece
        finally:
            if parts is not None:
                parts.close()  # stops generation now, so the context is idle when it goes back
            self.pool.release(context)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(self._pieces(messages, stop))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in self._pieces(messages, stop):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
