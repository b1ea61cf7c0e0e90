"""A langchain chat model over llama.cpp (llama-cpp-python) and a local GGUF file.

langchain-community's wrapper is being sunset; this one is small: one model per process, loaded
once, with `invoke` and `stream` through langchain's BaseChatModel interface.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from ..errors import ConfigError

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaCppChat(BaseChatModel):
    """Chat completions from a llama.cpp model (serialised: llama.cpp contexts are not thread-safe)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_path: str
    client: Any = None
    max_tokens: int = 512
    temperature: float = 0.0

    @classmethod
    def from_gguf(cls, path: str, n_ctx: int = 4096, max_tokens: int = 512) -> LlamaCppChat:
        """Load (once per process) a GGUF model."""
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("the llama.cpp backend needs `pip install llama-cpp-python`") from None
        with _LOCK:
            client = _MODELS.get(path)
            if client is None:
                client = Llama(model_path=path, n_ctx=n_ctx, verbose=False)
                _MODELS[path] = client
        return cls(model_path=path, client=client, max_tokens=max_tokens)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _messages(self, messages: list[BaseMessage]) -> list[dict]:
        return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        with _LOCK:
            out = self.client.create_chat_completion(messages=self._messages(messages), max_tokens=self.max_tokens,
                                                     temperature=self.temperature, stop=stop)
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with _LOCK:
            for part in self.client.create_chat_completion(messages=self._messages(messages), stream=True,
                                                           max_tokens=self.max_tokens,
                                                           temperature=self.temperature, stop=stop):
                piece = part["choices"][0]["delta"].get("content") or ""
                if piece:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk
