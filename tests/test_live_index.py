"""The live index: a running app serves a newly built index generation without a restart or a failed request."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_topology import request

from assistant.live import LiveIndex, Served
from assistant.retrieval.embeddings import HashEmbedder
from assistant.retrieval.index import RETIRED_GRACE_SECONDS, build_index, current_generation, remove_retired
from assistant.retrieval.vectorstore import open_store
from assistant.web import SERVICES_KEY

from conftest import FIXTURE_CORPUS, free_port

NO_LIMITS = {"rate_limit": "100000/minute", "chat_rate_limit": "100000/minute",
             "conversation_rate_limit": "100000/minute"}
QUESTION = "Dans quel délai faut-il notifier une violation de données à la CNIL ?"
OLD_TEXT = "Dans les 72 heures après en avoir pris connaissance"
NEW_TEXT = "Par le téléservice Zéphyr, dans les 72 heures après en avoir pris connaissance"


def rewrite_faq(settings) -> None:
    """A corrected FAQ answer, as an editor would publish it."""
    path = settings.corpus_dir / "faq" / "fr" / "breach-72-hours.md"
    text = path.read_text(encoding="utf-8")
    assert OLD_TEXT in text
    path.write_text(text.replace(OLD_TEXT, NEW_TEXT), encoding="utf-8")


def reindex(settings) -> str:
    """What `gdpr-assistant index` does (hashing embedder); returns the new generation."""
    emb = HashEmbedder()
    return build_index(settings, emb, open_store(settings, emb.name)).generation


def test_running_app_serves_a_new_generation_with_no_failed_request(make_app, settings):
    app = make_app(min_similarity=0.0, index_check_seconds=0.2, **NO_LIMITS)
    live = app.extensions[SERVICES_KEY].live
    first = live.current().generation
    client = app.test_client()
    assert NEW_TEXT.split(",")[0] not in client.post("/api/chat", json={"message": QUESTION}).get_json()["answer"]

    statuses: list[int] = []
    generations: set[str] = set()
    stop = threading.Event()

    def ask_in_a_loop():
        """A visitor asking again and again while the index is rebuilt."""
        own = app.test_client()
        while not stop.is_set():
            try:
                statuses.append(own.post("/api/chat", json={"message": QUESTION}).status_code)
                generations.add(own.get("/api/health").get_json().get("index"))
            except Exception as e:  # recorded, so the test fails on it instead of waiting for this thread
                statuses.append(repr(e))

    threads = [threading.Thread(target=ask_in_a_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        rewrite_faq(settings)
        published = reindex(settings.with_(min_similarity=0.0))
        assert published != first and current_generation(settings.index_dir) == published
        deadline = time.monotonic() + 60
        while live.current().generation != published:  # requests trigger the check; the load runs aside
            assert time.monotonic() < deadline, "the app never picked up the new generation"
            time.sleep(0.1)
        seen = len(statuses)
        while len(statuses) < seen + 6:  # a few more requests on the new generation
            assert time.monotonic() < deadline, statuses[-5:]
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses and set(statuses) == {200}
    assert generations == {first, published}
    assert live.swaps == 1
    answer = client.post("/api/chat", json={"message": QUESTION}).get_json()
    assert "Zéphyr" in answer["answer"]
    assert app.extensions[SERVICES_KEY].answers.metrics["questions"] >= len(statuses)  # counters carried over
    # the source page shows the new text too
    page = client.get("/sources/faq-breach-72-hours-fr").get_data(as_text=True)
    assert "Zéphyr" in page or "Z&#233;phyr" in page


def test_a_generation_that_fails_to_load_leaves_the_old_one_serving(make_app, settings, caplog):
    app = make_app(min_similarity=0.0, index_check_seconds=0.1)
    services = app.extensions[SERVICES_KEY]
    first = services.live.current().generation
    published = reindex(settings.with_(min_similarity=0.0))
    (settings.index_dir / published / "lexical.json").write_text("{broken", encoding="utf-8")
    assert services.live.refresh(wait=True) == first
    assert "not loaded, still serving " + first in caplog.text and "gdpr-assistant index" in caplog.text
    r = app.test_client().post("/api/chat", json={"message": QUESTION})
    assert r.status_code == 200 and r.get_json()["status"] == "answered"
    fixed = reindex(settings.with_(min_similarity=0.0))  # the next build is picked up
    assert services.live.refresh(wait=True) == fixed


def test_check_interval_bounds_how_often_the_pointer_is_read(tmp_path):
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    loads = []

    def load():
        loads.append(1)
        return Served("gen-000002", FakeAnswers(), None)

    index_dir = tmp_path / "index"
    (index_dir / "gen-000002").mkdir(parents=True)
    (index_dir / "gen-000002" / "chunks.json").write_text("[]")
    (index_dir / "CURRENT").write_text("gen-000002")
    clock = Clock()
    live = LiveIndex(Served("gen-000001", FakeAnswers(), None), index_dir, load=load, check_seconds=5, clock=clock)
    assert live.current().generation == "gen-000001" and not loads  # not yet time to look
    clock.now = 5.0
    live.current()
    live.refresh(wait=True)  # joins the loader started by the check above
    assert live.current().generation == "gen-000002" and loads == [1]
    assert LiveIndex(Served("gen-000001", FakeAnswers(), None), index_dir).refresh(wait=True) == "gen-000001"


class FakeAnswers:
    """What LiveIndex looks at in an answer service."""

    class retriever:  # noqa: N801
        degraded = ""


def test_retired_generations_stay_for_a_grace_period(tmp_path):
    index_dir = tmp_path / "index"
    now = time.time()
    for i, age in ((1, 3 * RETIRED_GRACE_SECONDS), (2, 2 * RETIRED_GRACE_SECONDS), (3, 60), (4, 10), (5, 1)):
        d = index_dir / f"gen-{i:06d}"
        d.mkdir(parents=True)
        (d / "build.json").write_text("{}")
        os.utime(d / "build.json", (now - age, now - age))
    # gen 1 retired when gen 2 was published (long ago); gen 2 when gen 3 was (a minute ago): kept
    removed = remove_retired(index_dir, keep=("gen-000005", "gen-000004"), now=now)
    assert removed == ["gen-000001"]
    assert sorted(p.name for p in index_dir.iterdir()) == [f"gen-{i:06d}" for i in (2, 3, 4, 5)]
    assert remove_retired(index_dir, keep=("gen-000005", "gen-000004"), now=now + RETIRED_GRACE_SECONDS) == \
        ["gen-000002", "gen-000003"]


@pytest.mark.slow
def test_two_gunicorn_workers_follow_a_new_generation(tmp_path):
    """Both workers of a real gunicorn serve the new generation within seconds; nothing fails in the swap."""
    bin_dir = Path(sys.executable).parent
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_CORPUS_DIR": str(corpus),
           "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_MIN_SIMILARITY": "0", "ASSISTANT_INDEX_CHECK_SECONDS": "0.5",
           "ASSISTANT_RATE_LIMIT": "100000/minute", "ASSISTANT_CHAT_RATE_LIMIT": "100000/minute",
           "ASSISTANT_CONVERSATION_RATE_LIMIT": "100000/minute", "HF_HUB_OFFLINE": "1"}
    env.pop("REDIS_URL", None)
    cli = [str(bin_dir / "gdpr-assistant")]
    for args in (["db", "upgrade"], ["index", "--no-progress"]):
        done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    first = (tmp_path / "data" / "index" / "CURRENT").read_text().strip()
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed when gunicorn has stopped
    web = subprocess.Popen([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                            "--threads", "2", "--timeout", "120", "assistant.web.wsgi:app"], env=env,
                           stdout=subprocess.DEVNULL, stderr=log)
    statuses: list[int] = []
    stop = threading.Event()

    def ask_in_a_loop():
        while not stop.is_set():
            try:
                statuses.append(request(port, "POST", "/api/chat", {"message": QUESTION})[0])
            except (OSError, ValueError) as e:  # a dropped connection or a body that is not JSON
                statuses.append(type(e).__name__)

    try:
        deadline = time.time() + 120
        while True:
            try:
                if request(port, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "gunicorn did not start"
            time.sleep(0.5)
        loop = threading.Thread(target=ask_in_a_loop)
        loop.start()
        path = corpus / "faq" / "fr" / "breach-72-hours.md"
        path.write_text(path.read_text(encoding="utf-8").replace(OLD_TEXT, NEW_TEXT), encoding="utf-8")
        done = subprocess.run(cli + ["index", "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        published = (tmp_path / "data" / "index" / "CURRENT").read_text().strip()
        assert published != first
        # Both workers on the new generation: many answers in a row, all from it (the kernel spreads the
        # connections over the two workers).
        deadline = time.time() + 60
        streak = 0
        while streak < 20:
            assert time.time() < deadline, "a worker kept serving the old generation"
            status, body = request(port, "POST", "/api/chat", {"message": QUESTION})
            assert status == 200
            streak = streak + 1 if "Zéphyr" in body["answer"] else 0
        stop.set()
        loop.join()
    finally:
        stop.set()
        web.terminate()
        web.wait(timeout=30)
        log.close()
    assert statuses and set(statuses) == {200}, (tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:]
