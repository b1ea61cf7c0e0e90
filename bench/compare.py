"""Answer-level metrics of the current index with its learned ranker and with the plain fused order.

    python bench/compare.py --data-dir data FILE.jsonl [FILE.jsonl ...]
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
from assistant.evaluation import format_table, read_items, run_eval  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--data-dir", default="data")
    args = ap.parse_args()
    svc = build_answer_service(Settings.from_env(data_dir=args.data_dir))
    learned = svc.retriever.ranker
    for f in args.files:
        items = read_items(Path(f))
        for name, ranker in (("learned ranker", learned), ("fused order", None)):
            svc.retriever.ranker = ranker
            rep = run_eval(svc, items)
            rep["groups"] = {"all": rep["groups"]["all"]}
            print(format_table(rep, f"{Path(f).name}: {name}"))
        svc.retriever.ranker = learned


if __name__ == "__main__":
    main()
