"""Split bench/eval/all.jsonl into tune.jsonl and report.jsonl, once and deterministically.

Stratified by (kind, lang): within each group, items are sorted by the SHA-256 of their id
and assigned alternately to tune (even positions) and report (odd positions), so both
halves have the same mix of kinds and languages. Output files keep all.jsonl's order.

The report half is never used for tuning.

Usage: python bench/eval/split.py
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    items = [json.loads(line) for line in (HERE / "all.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        groups[(item["kind"], item["lang"])].append(item)
    half: dict[str, str] = {}
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda it: hashlib.sha256(it["id"].encode("utf-8")).hexdigest())
        for position, item in enumerate(ordered):
            half[item["id"]] = "tune" if position % 2 == 0 else "report"
    for name in ("tune", "report"):
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for item in items:
                if half[item["id"]] == name:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
