"""Print each answer of a labelled set next to its labels, failures first (for reading answers as a reviewer).

    python bench/inspect_answers.py FILE.jsonl [--data-dir DIR] [--ids u001,u002] [--all]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.container import build_answer_service  # noqa: E402
from assistant.evaluation import read_items, score_answer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--ids", default="")
    ap.add_argument("--all", action="store_true", help="also print the answers that pass")
    ap.add_argument("--chars", type=int, default=700)
    args = ap.parse_args()
    svc = build_answer_service(Settings.from_env(data_dir=args.data_dir))
    wanted = set(filter(None, args.ids.split(",")))
    for it in read_items(Path(args.file)):
        if wanted and it.id not in wanted:
            continue
        a = svc.ask(it.q)
        row = score_answer(it, a.to_dict(), a.verification.get("retrieved"))
        ok = (row["refused"] == it.should_refuse and row.get("hit1", True) and row.get("facts", 1.0) == 1.0)
        if ok and not args.all and not wanted:
            continue
        print("=" * 100)
        print(f"{it.id} [{it.kind}/{it.lang}] {'OK' if ok else 'FAIL'}  expected art. {it.articles}  facts {it.facts}")
        print(f"Q: {it.q}")
        print(f"NOTE: {it.note[:300]}")
        print(f"status={a.status} scope={a.verification.get('scope')} lead={a.verification.get('lead')} "
              f"missing={row.get('missing')}")
        print("retrieved:", "; ".join(f"{r['ref']}|{r['title'][:50]}|{r['score']}"
                                      for r in a.verification.get("retrieved", [])[:5]))
        print("-" * 40)
        print(a.answer[: args.chars])


if __name__ == "__main__":
    main()
