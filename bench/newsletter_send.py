"""Send a newsletter issue to N subscribers through the real queue (RQ workers on Redis) to a local SMTP sink
(aiosmtpd in a subprocess), SIGKILL the workers midway, restart them, and check that no message was lost or
sent twice.

    .venv/bin/python bench/newsletter_send.py                       # 10,000 messages, 2 workers, SQLite
    .venv/bin/python bench/newsletter_send.py --messages 2000 --workers 1 --database-url postgresql://...

Prints throughput (messages/s over the whole run, kill and recovery included, and before the kill),
the median batch time, and the sink's count of messages by unique (Message-ID, recipient) against the
send records. Asserts nothing about time; exits 1 when a message is lost or a recipient got two
different messages.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_sink(port: int, log_path: str) -> None:
    """The SMTP sink (run in its own process): one line per recipient of each message: Message-ID, recipient."""
    from aiosmtpd.controller import Controller

    out = open(log_path, "a", buffering=1, encoding="utf-8")
    header = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
            m = header.search(head)
            mid = m.group(1).decode() if m else "-"
            for rcpt in envelope.rcpt_tos:
                out.write(f"{mid}\t{rcpt}\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:  # until SIGTERM (every line is already flushed)
        time.sleep(3600)


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the SMTP sink did not start on port {port}")


def start_workers(n: int, env: dict, logs: Path) -> list[subprocess.Popen]:
    """``gdpr-assistant worker`` processes (rq SimpleWorker: jobs run in the worker process itself)."""
    procs = []
    for i in range(n):
        log = open(logs / f"worker-{i}-{time.time():.0f}.log", "ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "assistant.cli", "worker"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
    return procs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction sent when the workers are killed")
    parser.add_argument("--database-url", default="", help="empty: a SQLite file in a temporary data dir")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--serve-sink", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(int(args.serve_sink[0]), args.serve_sink[1])
        return 0

    from sqlalchemy import func, select

    from assistant.config import Settings
    from assistant.container import build_services
    from assistant.db import utcnow
    from assistant.newsletter.models import Issue, Send, Subscriber

    tmp = Path(tempfile.mkdtemp(prefix="nl-bench-"))
    port = free_port()
    sink_log = tmp / "sink.log"
    sink = subprocess.Popen([sys.executable, __file__, "--serve-sink", str(port), str(sink_log)])
    wait_port(port)
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp / "data"), "DATABASE_URL": args.database_url,
           "REDIS_URL": args.redis_url, "JOBS_BACKEND": "rq", "JOBS_QUEUE": f"nl-bench-{uuid.uuid4().hex[:8]}",
           "SMTP_URL": f"smtp://127.0.0.1:{port}", "PUBLIC_ORIGIN": "https://bench.example.fr",
           "NEWSLETTER_BATCH_SIZE": str(args.batch_size), "NEWSLETTER_STALE_SECONDS": "5",
           "ASSISTANT_EMBEDDER": "hash", "PYTHONPATH": str(ROOT)}
    settings = Settings.from_env(environ=env)
    services = build_services(settings, engine=False)
    workers: list[subprocess.Popen] = []
    try:
        services.database.upgrade()
        print(f"data dir {tmp}; database {services.database.url.split('@')[-1]}; queue {env['JOBS_QUEUE']}")
        t = time.perf_counter()
        now = utcnow()
        rows = []
        for i in range(args.messages):
            email = f"reader{i:05d}@bench.example.fr"
            rows.append({"public_id": uuid.uuid4().hex, "email_encrypted": services.cipher.encrypt(email),
                         "email_hash": services.hasher.email_digest(email), "state": "confirmed", "language": "en",
                         "topics": "", "created_at": now, "confirmed_at": now, "last_activity_at": now,
                         "form_version": "bench", "consent_text_sha256": "0" * 64})
        with services.database.transaction() as s:
            s.execute(Subscriber.__table__.insert(), rows)
        print(f"{args.messages} confirmed subscribers written in {time.perf_counter() - t:.1f} s")
        issue_id = services.newsletter.create_issue("Bench issue", "# Bench\n\nThe **latest** CNIL decisions.", "en")

        logs = tmp / "logs"
        logs.mkdir()
        workers = start_workers(args.workers, env, logs)
        time.sleep(2)  # the workers connect
        start = time.perf_counter()
        services.newsletter.start_sending(issue_id)

        def sent() -> int:
            with services.database.reading() as s:
                return s.scalar(select(func.count()).select_from(Send).where(Send.status == "sent")) or 0

        killed_at = None
        while (n := sent()) < args.kill_at * args.messages:
            time.sleep(0.2)
        killed_at = time.perf_counter()
        before_kill = n
        for w in workers:
            os.kill(w.pid, signal.SIGKILL)
        for w in workers:
            w.wait()
        print(f"SIGKILL of {len(workers)} worker(s) after {n} sent ({killed_at - start:.1f} s)")
        time.sleep(1)
        workers = start_workers(args.workers, env, logs)
        print(f"{len(workers)} worker(s) restarted")
        last_resume = 0.0
        while True:
            with services.database.reading() as s:
                issue = s.get(Issue, issue_id)
                if issue.status == "sent":
                    break
            if time.perf_counter() - last_resume > 2:  # the periodic `newsletter.resume`, as cron would run it
                services.newsletter.resume()
                last_resume = time.perf_counter()
            time.sleep(0.2)
        end = time.perf_counter()
        time.sleep(1)  # the sink writes its last lines

        with services.database.reading() as s:
            sends = s.execute(select(Send.status, Send.message_id, Send.claim, Send.claimed_at, Send.sent_at,
                                     Send.attempts, Subscriber.email_encrypted)
                              .join(Subscriber, Subscriber.id == Send.subscriber_id)
                              .where(Send.issue_id == issue_id)).all()
        expected = {(r.message_id, services.cipher.decrypt(r.email_encrypted)) for r in sends if r.status == "sent"}
        received = [tuple(line.split("\t")) for line in sink_log.read_text(encoding="utf-8").splitlines()]
        unique = set(received)
        per_recipient: dict[str, set[str]] = {}
        for mid, rcpt in received:
            per_recipient.setdefault(rcpt, set()).add(mid)
        lost = len(expected - unique)
        extra = len(unique - expected)
        twice = sum(1 for mids in per_recipient.values() if len(mids) > 1)
        resent_same_id = len(received) - len(unique)
        batches: dict[str, list] = {}
        for r in sends:
            if r.status == "sent" and r.claim:
                batches.setdefault(r.claim, []).append(r)
        batch_times = [(max(x.sent_at for x in b) - min(x.claimed_at for x in b)).total_seconds()
                       for b in batches.values()]
        statuses: dict[str, int] = {}
        for r in sends:
            statuses[r.status] = statuses.get(r.status, 0) + 1

        total = end - start
        print()
        print("| measure | value |")
        print("|---|---|")
        print(f"| recipients | {args.messages} |")
        print(f"| workers (rq SimpleWorker) x batch size | {args.workers} x {args.batch_size} |")
        print(f"| send records by state | {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |")
        print(f"| wall time, start to last message (kill + 5 s stale window + restart included) | {total:.1f} s |")
        print(f"| throughput over the whole run | {len(expected) / total:.0f} messages/s |")
        print(f"| throughput before the kill | {before_kill / (killed_at - start):.0f} messages/s |")
        print(f"| median batch time ({len(batch_times)} batches) | {statistics.median(batch_times):.2f} s |")
        print(f"| messages at the sink (lines) / unique (Message-ID, recipient) | {len(received)} / {len(unique)} |")
        print(f"| sent records missing at the sink (lost) | {lost} |")
        print(f"| messages at the sink with no sent record | {extra} |")
        print(f"| recipients who got two different messages | {twice} |")
        print(f"| same message delivered again after the kill (same Message-ID) | {resent_same_id} |")
        ok = lost == 0 and extra == 0 and twice == 0 and len(expected) == args.messages
        print("\nOK: every recipient got the issue once" if ok else "\nFAILED: see the table")
        return 0 if ok else 1
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        sink.terminate()
        sink.wait(timeout=20)
        services.close()


if __name__ == "__main__":
    raise SystemExit(main())
