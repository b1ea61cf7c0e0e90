"""Split bench/eval/all.jsonl into tune.jsonl and report.jsonl, once and deterministically.

Stratified by (kind, lang): within each group, items are sorted by the SHA-256 of their id
and assigned alternately to tune (even positions) and report (odd positions), so both
halves have the same mix of kinds and languages. Output files keep all.jsonl's order.

The report half is never used for tuning.

Usage: python bench/eval/split.py            (all.jsonl -> tune.jsonl, report.jsonl)
       python bench/eval/split.py fresh      (fresh.jsonl -> fresh_tune.jsonl, fresh_report.jsonl: a second
                                              set written on 2026-12-02 after the first was tuned on)
       python bench/eval/split.py fresh2     (fresh2.jsonl -> fresh2_tune.jsonl, fresh2_report.jsonl: a third set,
                                              50 items with 16 traps, written on 2026-12-02 night)
       python bench/eval/split.py fresh3     (fresh3.jsonl -> fresh3_tune.jsonl, fresh3_report.jsonl: a fourth set,
                                              50 items, written on 2026-12-03 by a helper who saw neither
                                              the corpus nor any other set)
       python bench/eval/split.py fresh4     (fresh4.jsonl -> fresh4_tune.jsonl, fresh4_report.jsonl: a fifth set,
                                              50 items, written on 2026-12-03 (fourth session) by a helper who
                                              saw neither the corpus nor any other set)
       python bench/eval/split.py fresh5     (fresh5.jsonl -> fresh5_tune.jsonl, fresh5_report.jsonl: a sixth set,
                                              50 items, written on 2026-12-03 (fifth session) by a helper who
                                              saw neither the corpus nor any other set)
       python bench/eval/split.py fresh6     (fresh6.jsonl -> fresh6_tune.jsonl, fresh6_report.jsonl: a seventh set,
                                              50 items with 7 off-topic and 7 abusive, written at the start of
                                              the sixth session by a helper who saw neither the corpus nor any
                                              other set)
       python bench/eval/split.py fresh7     (fresh7.jsonl -> fresh7_tune.jsonl, fresh7_report.jsonl: an eighth set,
                                              50 items (28 gdpr, 8 traps, 7 off-topic, 7 abusive), written at the
                                              start of the seventh session by a helper who saw neither the
                                              corpus nor any other set)
       python bench/eval/split.py fresh8     (fresh8.jsonl -> fresh8_tune.jsonl, fresh8_report.jsonl: a ninth set,
                                              50 items (28 gdpr, 8 traps, 7 off-topic, 7 abusive), written at the
                                              start of the eighth session by a helper who saw neither the
                                              corpus nor any other set)
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(name: str = "") -> None:
    source = f"{name}.jsonl" if name else "all.jsonl"
    prefix = f"{name}_" if name else ""
    items = [json.loads(line) for line in (HERE / source).read_text(encoding="utf-8").splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        groups[(item["kind"], item["lang"])].append(item)
    half: dict[str, str] = {}
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda it: hashlib.sha256(it["id"].encode("utf-8")).hexdigest())
        for position, item in enumerate(ordered):
            half[item["id"]] = "tune" if position % 2 == 0 else "report"
    for part in ("tune", "report"):
        with open(HERE / f"{prefix}{part}.jsonl", "w", encoding="utf-8") as fh:
            for item in items:
                if half[item["id"]] == part:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1] if len(sys.argv) > 1 else "")
