"""The llama.cpp backend for real: llama-cpp-python running a tiny GGUF written by the test."""

import os
import threading
import time

import pytest

from assistant.answer.llm import LLMWriter, make_chat_model
from assistant.answer.service import AnswerService
from assistant.errors import ConfigError
from assistant.retrieval.embeddings import HashEmbedder
from assistant.retrieval.index import build_index
from assistant.retrieval.retriever import HybridRetriever
from assistant.retrieval.vectorstore import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    try:
        import gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("llama-cpp-python and gguf are dev dependencies: `pip install -e .[dev]`")
        pytest.skip("llama-cpp-python or gguf not installed")
    from tiny_gguf import write_tiny_gguf

    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_gguf(path)
    return path


def test_llamacpp_backend_runs_a_local_gguf(settings, gguf_path):
    s = settings.with_(min_similarity=0.0, llm_backend="llamacpp", llm_model=str(gguf_path),
                       llm_max_tokens=48)
    emb = HashEmbedder()
    build_index(s, emb, open_store(s, emb.name))
    model = make_chat_model(s)
    assert model._llm_type == "llama-cpp"
    svc = AnswerService(s, HybridRetriever(s, emb, open_store(s, emb.name)), llm=LLMWriter(model))
    a = svc.ask("How long do we have to notify a data breach?")
    # The tiny model writes noise: it either passes the checks as LLM text or is replaced by the grounded answer.
    assert a.status == "answered" and a.verification["writer"] in ("llm", "grounded")
    assert not any(ord(ch) < 9 for ch in a.answer)  # control characters never leave
    events = list(svc.ask_stream("How long do we have to notify a data breach?"))
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert "".join(e[1]["text"] for e in events if e[0] == "token") == events[-1][1].answer


def test_llamacpp_needs_a_gguf_file(settings, tmp_path):
    with pytest.raises(ConfigError, match="local .gguf file"):
        make_chat_model(settings.with_(llm_backend="llamacpp", llm_model=str(tmp_path / "missing.gguf")))


def test_answers_do_not_wait_for_each_other(gguf_path):
    """A context in use does not block another answer: the pool has a second one."""
    from langchain_core.messages import HumanMessage

    from assistant.answer.llamacpp import LlamaCppChat

    model = LlamaCppChat.from_gguf(str(gguf_path), max_tokens=8, contexts=2, timeout=600)
    held = model.pool.acquire(time.monotonic() + 600)  # another answer is being written
    try:
        done = []
        t = threading.Thread(target=lambda: done.append(model.invoke([HumanMessage(content="the data")])))
        t.start()
        t.join(timeout=600)
        assert done and isinstance(done[0].content, str)  # a global lock would have kept it waiting
    finally:
        model.pool.release(held)


def test_timeout_while_every_context_is_busy_falls_back_to_the_composer(settings, gguf_path):
    s = settings.with_(min_similarity=0.0, llm_backend="llamacpp", llm_model=str(gguf_path), llm_max_tokens=16,
                       llm_timeout=0.2, llm_contexts=1)
    emb = HashEmbedder()
    build_index(s, emb, open_store(s, emb.name))
    model = make_chat_model(s)
    svc = AnswerService(s, HybridRetriever(s, emb, open_store(s, emb.name)), llm=LLMWriter(model))
    held = model.pool.acquire(time.monotonic() + 600)
    try:
        a = svc.ask("How long do we have to notify a data breach?")
    finally:
        model.pool.release(held)
    assert a.status == "answered" and a.verification["writer"] == "grounded"
    assert a.verification["fallback"] == "TimeoutError"
    with pytest.raises(TimeoutError, match="LLM_CONTEXTS"):
        held = model.pool.acquire(time.monotonic() + 600)
        try:
            model.invoke("the data")
        finally:
            model.pool.release(held)


def test_generation_stops_at_the_deadline_and_the_context_is_reused(gguf_path):
    from assistant.answer.llamacpp import LlamaCppChat

    model = LlamaCppChat.from_gguf(str(gguf_path), max_tokens=4000, contexts=1, timeout=1e-6)
    with pytest.raises(TimeoutError, match="longer than LLM_TIMEOUT"):
        model.invoke("the data")
    pieces = model.model_copy(update={"timeout": 600, "max_tokens": 4}).stream("the data")
    assert isinstance("".join(p.content for p in pieces), str)  # the one context came back to the pool
    assert model.pool._idle.qsize() == 1
