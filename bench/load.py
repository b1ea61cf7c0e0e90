"""Load run on loopback: N concurrent users against the real server (gunicorn), grounded mode.

Starts `gunicorn assistant.web.wsgi:app` on 127.0.0.1 over an indexed data dir, then runs, in this
process, 1 user (the baseline) and N users, each sending a bounded number of POST /api/chat with
questions from the labelled sets. Prints throughput and p50/p95 latency. Asserts nothing.

    python bench/load.py --data-dir DIR [--users 20] [--requests 15] [--workers 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation import percentile, read_items  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user(port, questions, n, out, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(n):
        q = questions[i % len(questions)]
        body = json.dumps({"message": q})
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/chat", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(resp.status)
        except OSError as e:
            errors.append(type(e).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out.append((time.perf_counter() - t) * 1000)
    conn.close()


def run(port, questions, users, per_user):
    latencies, errors, threads = [], [], []
    t0 = time.perf_counter()
    for u in range(users):
        qs = questions[u % len(questions):] + questions[: u % len(questions)]
        th = threading.Thread(target=user, args=(port, qs, per_user, latencies, errors))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"requests": len(latencies), "errors": len(errors), "rps": len(latencies) / wall,
            "p50": statistics.median(latencies), "p95": percentile(latencies, 95), "max": max(latencies)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--requests", type=int, default=15, help="requests per user")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--torch-threads", type=int, default=1)
    args = ap.parse_args()
    files = [ROOT.parent / "shared/eval/public_questions.jsonl", ROOT / "bench/dev_questions.jsonl"]
    questions = [it.q for f in files if f.exists() for it in read_items(f)]
    port = free_port()
    db = Path(tempfile.mkdtemp(prefix="load-db-")) / "load.db"
    env = {**os.environ, "ASSISTANT_DATA_DIR": args.data_dir, "HF_HUB_OFFLINE": "1",
           "DATABASE_URL": f"sqlite:///{db}", "ASSISTANT_TORCH_THREADS": str(args.torch_threads),
           # every simulated user comes from 127.0.0.1: measure the server, not the per-address limits
           "ASSISTANT_RATE_LIMIT": "100000/minute", "ASSISTANT_CHAT_RATE_LIMIT": "100000/minute",
           "ASSISTANT_CONVERSATION_RATE_LIMIT": "100000/minute"}
    # The deploy step first: the server never migrates, and unstored exchanges would flatter the figures.
    subprocess.run([str(Path(sys.executable).parent / "gdpr-assistant"), "db", "upgrade"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                             "--threads", str(args.threads), "--timeout", "120",
                             "assistant.web.wsgi:app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("GET", "/api/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("server did not start") from None
                time.sleep(0.5)
        run(port, questions, args.workers * 2, 3)  # warm every worker (model load, index load)
        base = run(port, questions, 1, args.requests)
        load = run(port, questions, args.users, args.requests)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"gunicorn {args.workers} workers x {args.threads} threads (torch {args.torch_threads}), 127.0.0.1, POST /api/chat, grounded mode, "
          f"{len(questions)} distinct questions, SQLite exchange log")
    print()
    print(f"{'':<22}{'1 user':>10}{f'{args.users} users':>12}{'ratio':>8}")
    for key, fmt in (("requests", "{:d}"), ("errors", "{:d}"), ("rps", "{:.1f}"), ("p50", "{:.1f}"),
                     ("p95", "{:.1f}"), ("max", "{:.1f}")):
        ratio = load[key] / base[key] if base[key] else float("nan")
        label = {"rps": "throughput (req/s)", "p50": "p50 latency (ms)", "p95": "p95 latency (ms)",
                 "max": "max latency (ms)"}.get(key, key)
        print(f"{label:<22}{fmt.format(base[key]):>10}{fmt.format(load[key]):>12}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
