"""The llama.cpp backend for real: llama-cpp-python running a tiny GGUF written by the test."""

import os

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
