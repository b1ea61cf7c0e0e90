"""Index build times, as a user runs them: `gdpr-assistant index` in its own process, wall clock.

0. `models prepare`: the one-time ONNX export of the embedding model (per machine, into a model
   cache of the bench's own, as `make install` does), timed once;
1. from scratch: an empty data dir with the official text imported; embeds every
   chunk, trains the ranker and the scope classifier (the build's own split is printed from build.json);
   SCRATCH_ROUNDS times, each in a new data dir (this machine's speed varies by 10-30 % from one
   minute to the next, so the median of several is the figure to quote), alternating with the same
   build on the torch runtime (sentence-transformers, bfloat16 autocast where faster: the bulk path
   before OpenVINO), the baseline;
2. re-index after one changed FAQ document (models reused), ROUNDS times with a new sentence each
   time, for the ONNX runtime (default) and for sentence-transformers on torch (the earlier default,
   the baseline), in the same run.

Prints a table of medians. Asserts nothing about time.

    python bench/index_time.py [--rounds 3] [--scratch-rounds 3] [--eurlex-dir ../shared/data/gdpr/eurlex]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "assistant.cli"]
FAQ = "faq/fr/cookies-cookie-wall.md"


def run(args, env) -> float:
    t = time.perf_counter()
    proc = subprocess.run(CLI + args, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stderr}")
    return time.perf_counter() - t


def build_info(data: Path) -> dict:
    gen = (data / "index" / "CURRENT").read_text().strip()
    return json.loads((data / "index" / gen / "build.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scratch-rounds", type=int, default=1)
    ap.add_argument("--no-baseline", dest="baseline", action="store_false",
                    help="skip the from-scratch builds with the torch runtime (the baseline)")
    ap.add_argument("--eurlex-dir", type=Path, default=ROOT.parent / "shared" / "data" / "gdpr" / "eurlex")
    args = ap.parse_args()
    files = sorted(args.eurlex_dir.glob("*.html"))
    if not files:
        sys.exit(f"no EUR-Lex files in {args.eurlex_dir}")
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        corpus = work / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        data = work / "data"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_CORPUS_DIR": str(corpus),
               "PYTHONPATH": str(ROOT), "ASSISTANT_MODEL_CACHE": str(work / "models")}
        rows = []
        prepare = run(["models", "prepare"], env)
        rows.append(("models prepare (once per machine)", f"{prepare:.1f} s", "the ONNX and OpenVINO exports and the bfloat16/float32 timing, which `make install` runs"))
        scratch, baseline = [], []
        other = work / "baseline"
        for i in range(args.scratch_rounds):
            # Ours, then the baseline (the torch runtime: sentence-transformers, bfloat16 autocast where it
            # is timed faster, the bulk path before OpenVINO), alternately, so both meet the same drift.
            for target, times, extra in ((data, scratch, {}), (other, baseline, {"ASSISTANT_EMBEDDING_RUNTIME": "torch"})):
                if not args.baseline and times is baseline:
                    continue
                if target.exists():
                    shutil.rmtree(target)
                run(["--data-dir", str(target), "corpus", "import-eurlex", *map(str, files)], env)
                times.append(run(["--data-dir", str(target), "index"], {**env, **extra}))
                info = build_info(target)
                split = ", ".join(f"{k} {v:.0f} s" for k, v in info["seconds"].items())
                bulk = info.get("bulk_embedding") or {}
                print(f"from scratch, round {i + 1}, {'baseline (torch)' if times is baseline else 'ours'}: "
                      f"{times[-1]:.1f} s ({split}; bulk {bulk.get('runtime', '?')} {bulk.get('precision', '?')})",
                      flush=True)
                if times is scratch:
                    last = (info, split)
        info, split = last
        rows.append(("from scratch", f"{statistics.median(scratch):.1f} s",
                     f"{info['chunks']} chunks; runs: " + ", ".join(f"{t:.1f}" for t in scratch) + f"; last: {split}"))
        if baseline:
            rows.append(("from scratch, baseline (torch runtime)", f"{statistics.median(baseline):.1f} s",
                         "runs: " + ", ".join(f"{t:.1f}" for t in baseline)))
            rows.append(("ratio baseline / ours (from scratch)", f"{statistics.median(baseline) / statistics.median(scratch):.2f}",
                         "same run, built alternately"))
        rows.append(("first build on a new machine", f"{prepare + statistics.median(scratch):.1f} s",
                     "models prepare + from scratch"))
        original = (corpus / FAQ).read_text(encoding="utf-8")
        medians = {}
        for runtime in ("onnx", "torch"):
            times = []
            for i in range(args.rounds):
                (corpus / FAQ).write_text(original + f"\nPhrase ajoutée pour le banc {runtime} {i} {time.time_ns()}.\n",
                                          encoding="utf-8")
                times.append(run(["--data-dir", str(data), "index"],
                                 {**env, "ASSISTANT_EMBEDDING_RUNTIME": runtime}))
                info = build_info(data)
                assert info.get("ranker", {}).get("reused_from"), "models were retrained: not a one-document re-index"
            medians[runtime] = statistics.median(times)
            rows.append((f"re-index, one FAQ changed ({runtime})", f"{medians[runtime]:.1f} s",
                         "runs: " + ", ".join(f"{t:.1f}" for t in times)))
        rows.append(("ratio torch / onnx", f"{medians['torch'] / medians['onnx']:.2f}", "baseline over ours"))
        width = max(len(r[0]) for r in rows)
        print(f"{'measure':<{width}}  {'median':>9}  detail")
        for name, value, detail in rows:
            print(f"{name:<{width}}  {value:>9}  {detail}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
