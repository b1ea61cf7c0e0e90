"""End-to-end answer latency (grounded mode) over the labelled questions, against a naive baseline.

Baseline in the same process: retrieval only, top-3 passages pasted together (what a first RAG
prototype without a composer returns). Project: the full service (scope check, hybrid retrieval,
grounded composer, citation verification, referral). Prints medians and p95; asserts nothing.

    python bench/answer.py [--data-dir DIR] [--rounds N] [FILE.jsonl ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.container import build_answer_service  # noqa: E402
from assistant.evaluation import percentile, read_items  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", default=[str(ROOT.parent / "shared/eval/public_questions.jsonl"),
                                                 str(ROOT / "bench/dev_questions.jsonl")])
    ap.add_argument("--data-dir", default=None, help="an indexed data dir (default: ASSISTANT_DATA_DIR or ./data)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    settings = Settings.from_env(data_dir=args.data_dir)
    service = build_answer_service(settings)
    questions = [it.q for f in args.files if Path(f).exists() for it in read_items(Path(f))]
    service.ask("warm up: qui doit désigner un DPO ?")

    def baseline(q):
        r = service.retriever.retrieve(q, k=3)
        return "\n\n".join(h.chunk.text for h in r.hits)

    times = {"project": [], "baseline": []}
    statuses = {}
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            baseline(q)
            times["baseline"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            a = service.ask(q)
            times["project"].append((time.perf_counter() - t) * 1000)
            statuses[a.status] = statuses.get(a.status, 0) + 1
    print(f"{len(questions)} questions x {args.rounds} rounds, data dir {settings.data_dir}, "
          f"index {service.retriever.index.generation} ({len(service.retriever.index.chunks)} chunks)")
    print(f"statuses: {statuses}")
    print()
    print(f"{'ms per question':<18}{'project':>10}{'baseline':>10}{'ratio':>8}")
    for name, fn in (("p50", statistics.median), ("p95", lambda v: percentile(v, 95)), ("max", max)):
        p, b = fn(times["project"]), fn(times["baseline"])
        print(f"{name:<18}{p:>10.1f}{b:>10.1f}{p / b:>8.2f}")
    print("\nproject = scope + hybrid retrieval + grounded composer + citation check + referral (no LLM);")
    print("baseline = the same retrieval, top-3 passages concatenated.")


if __name__ == "__main__":
    main()
