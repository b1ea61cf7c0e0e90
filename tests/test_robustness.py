"""Outside services down or flooded: Redis, bounded conversation stores; citation scores that match the fusion."""

import logging
import uuid

import pytest

from assistant.answer.conversations import ConversationStore, RedisConversationStore
from assistant.container import build_conversations
from assistant.errors import InputError
from assistant.retrieval.fusion import fusion_ceiling, reciprocal_rank_fusion

from conftest import free_port

QUESTION = {"message": "Dans quel délai faut-il notifier une violation de données à la CNIL ?"}


def closed_redis_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


def test_redis_down_answers_without_context_and_logs_it(make_app, caplog):
    app = make_app(min_similarity=0.0, redis_url=closed_redis_url())
    client = app.test_client()
    caplog.set_level(logging.ERROR)
    first = client.post("/api/chat", json=QUESTION)
    assert first.status_code == 200 and first.get_json()["status"] == "answered"
    cid = first.get_json()["conversation_id"]
    follow_up = client.post("/api/chat", json={"message": "et le contenu ?", "conversation_id": cid})
    assert follow_up.status_code == 200, follow_up.get_json()
    stream = client.post("/api/chat/stream", json={**QUESTION, "conversation_id": cid})
    assert stream.status_code == 200 and "event: done" in stream.get_data(as_text=True)
    assert "Redis unreachable" in caplog.text and "without the previous turn" in caplog.text
    assert "notifier" not in caplog.text  # the log never carries the question


def test_redis_store_going_down_mid_conversation(redis_url, caplog):
    store = RedisConversationStore(redis_url, ttl_seconds=60, prefix=f"test:{uuid.uuid4().hex}:")
    cid = store.record(None, "Combien de temps pour notifier une violation ?", "answered", (33,))
    assert store.context_for(cid, "et le contenu ?").startswith("Combien")
    store.client.connection_pool.reset()
    store.client.connection_pool.connection_kwargs.update(port=free_port())  # Redis "goes down"
    assert store.context_for(cid, "et le contenu ?") == ""
    assert store.record(cid, "et le contenu ?", "answered", ()) == cid
    assert "Redis unreachable" in caplog.text


def test_redis_store_is_bounded(redis_url):
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisConversationStore(redis_url, ttl_seconds=60, max_turns=2, max_conversations=3, prefix=prefix)
    ids = [store.record(None, f"question {i}", "answered", ()) for i in range(5)]
    store.record(ids[2], "again", "answered", ())  # used again: now the most recent
    store.record(None, "one more", "answered", ())
    kept = [cid for cid in ids if _known(store, cid)]
    assert kept == [ids[2], ids[4]] and len(store) == 3
    for cid in ids[:2] + [ids[3]]:
        assert not store.client.exists(prefix + cid)  # evicted conversations are deleted, not just unlisted
    store.client.delete(*store.client.keys(prefix + "*"))


def _known(store, cid) -> bool:
    try:
        store.get(cid)
        return True
    except InputError:
        return False


def test_memory_store_bound_follows_the_setting(settings):
    store = build_conversations(settings.with_(max_conversations=10))
    assert isinstance(store, ConversationStore) and store.max_conversations == 10
    ids = [store.record(None, f"q{i}", "answered", ()) for i in range(25)]
    assert len(store) == 10 and _known(store, ids[-1]) and not _known(store, ids[0])


@pytest.mark.parametrize("rankings", [
    [(["a", "b"], 1.0), (["a"], 1.0)],                   # complete
    [(["a", "b"], 1.0), ([], 1.0), (["a"], 0.5)],         # dense search unavailable: an empty ranking
    [(["a"], 1.0), (["a", "c"], 0.0), ([], 2.0)],         # weight 0 and an empty weighted ranking
])
def test_first_everywhere_scores_one(rankings):
    fused = reciprocal_rank_fusion(rankings, k=60)
    assert fused["a"] / fusion_ceiling(rankings, k=60) == pytest.approx(1.0)
    assert all(score / fusion_ceiling(rankings, k=60) < 1.0 for cid, score in fused.items() if cid != "a")


def test_lexical_only_citations_use_the_whole_scale(settings):
    """Without the vector store, the best source of an exact FAQ question is not capped by the missing rankings."""
    from assistant.answer.service import AnswerService
    from assistant.retrieval.retriever import HybridRetriever

    from conftest import hash_index

    s = settings.with_(min_similarity=0.0)
    emb = hash_index(s)
    retriever = HybridRetriever(s, emb, None)
    retriever.ranker = None  # the fusion's own scores
    assert retriever.degraded
    r = retriever.retrieve(QUESTION["message"])
    top = r.hits[0]
    assert top.chunk.group == "faq-faq-breach-72-hours"
    assert top.ranks.get("lexical_fr") == 1 and "dense" not in top.ranks
    # 0.75 here (its French and English chunks split the first places); scaled by the two empty dense
    # rankings too it would be 0.5, as if a lexical-only answer were always a weak one.
    assert top.score > 0.6
    answer = AnswerService(s, retriever).ask(QUESTION["message"])
    assert answer.citations[0].score == round(top.score, 3)
