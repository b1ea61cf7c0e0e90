"""Matching benchmark: the time to match 1,000 leads against a partner directory, vs a naive baseline.

Ours = ``scoring.rank`` over snapshots, with the need-to-profile similarities as one matrix product
over cached profile vectors (what ``MatchingService.suggest`` does). Naive baseline = what one writes
first: for every lead, a cosine per partner in plain Python over the vectors as lists, every partner
scored and the whole list sorted. Both get the same need vectors (embedding the needs is timed apart:
it is the same work for both). Prints a table with medians and ratios; asserts nothing about time.

    python bench/matching.py [--leads 1000] [--partners 60] [--repeat 5] [--real-model]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from assistant.matching import scoring  # noqa: E402
from assistant.matching.scoring import Need, PartnerSnapshot  # noqa: E402

TODAY = date(2026, 12, 2)
NEEDS = ["registre des traitements pour une clinique", "AIPD vidéosurveillance entrepôt", "DPO externe pour PME",
         "transfert de données vers les États-Unis", "données des élèves d'une école", "fuite de données clients",
         "newsletter et prospection commerciale", "IA de tri des CV", "audit RGPD association", "DPIA for an AI tool"]


def directory(rng: random.Random, n: int) -> list[PartnerSnapshot]:
    """``n`` synthetic partners."""
    out = []
    for i in range(n):
        out.append(PartnerSnapshot(
            id=f"p{i:03d}", name=f"Partner {i}", kind=rng.choice(scoring.PARTNER_KINDS),
            sectors=frozenset(rng.sample(scoring.SECTORS, 3)), specialisms=frozenset(rng.sample(scoring.SPECIALISMS, 3)),
            regions=frozenset(rng.sample(scoring.REGIONS, 3)), languages=frozenset(rng.sample(["fr", "en", "de"], 2)),
            sizes=frozenset(rng.sample(scoring.COMPANY_SIZES, 2)), budget=rng.choice(scoring.BUDGETS),
            certification_body="AFNOR", certified_until=date(2027 + rng.randint(-2, 2), 6, 1),
            capacity=rng.randint(5, 40), load=rng.randint(0, 10)))
    return out


def leads(rng: random.Random, n: int) -> list[Need]:
    """``n`` synthetic needs."""
    return [Need(sector=rng.choice(scoring.SECTORS), size=rng.choice(scoring.COMPANY_SIZES),
                 region=rng.choice(scoring.REGIONS), language=rng.choice(["fr", "fr", "en"]),
                 specialisms=frozenset(rng.sample(scoring.SPECIALISMS, rng.randint(0, 2))),
                 budget=rng.choice([None, *scoring.BUDGETS]), on_site=rng.random() < 0.2,
                 certification_required=rng.random() < 0.2, text=rng.choice(NEEDS)) for _ in range(n)]


def ours(needs, partners, need_vecs, profile_matrix) -> list[list[str]]:
    """Matrix similarities, then the pure ranking."""
    sims = need_vecs @ profile_matrix.T  # one product for every lead and partner
    ids = [p.id for p in partners]
    return [[m.id for m in scoring.rank(need, partners, dict(zip(ids, row.tolist(), strict=False)), TODAY)]
            for need, row in zip(needs, sims, strict=False)]


def naive(needs, partners, need_vecs, profile_matrix) -> list[list[str]]:
    """Plain Python cosines per pair, every partner scored, the full list sorted."""
    profiles = [list(map(float, v)) for v in profile_matrix]
    out = []
    for need, qv in zip(needs, need_vecs, strict=False):
        q = list(map(float, qv))
        scored = []
        for p, pv in zip(partners, profiles, strict=False):
            dot = sum(a * b for a, b in zip(q, pv, strict=False))
            cos = dot / (math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in pv)) or 1.0)
            m = scoring.score_partner(need, p, cos, TODAY)
            if scoring.refusal(need, p, TODAY) is None:
                scored.append(m)
        scored.sort(key=lambda m: (-m.score, m.partner.load, m.partner.id))
        out.append([m.id for m in scored[:3]])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1000)
    ap.add_argument("--partners", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--real-model", action="store_true", help="embed with the packaged all-MiniLM-L6-v2 model")
    args = ap.parse_args()
    rng = random.Random(10)
    partners, needs = directory(rng, args.partners), leads(rng, args.leads)
    if args.real_model:
        from assistant.config import Settings
        from assistant.retrieval.embeddings import make_embedder

        embedder = make_embedder(Settings.from_env())
        embedder.warm_up()
    else:
        from assistant.retrieval.embeddings import HashEmbedder

        embedder = HashEmbedder(dim=384)
    texts = [f"{p.name} {' '.join(p.specialisms)} {' '.join(p.sectors)}" for p in partners]
    t = time.perf_counter()
    profile_matrix = embedder.embed_documents(texts)
    t_profiles = time.perf_counter() - t
    t = time.perf_counter()
    need_vecs = embedder.embed_documents([n.text for n in needs])
    t_needs = time.perf_counter() - t
    runs = {"ours": [], "naive": []}
    for _ in range(args.repeat):
        for name, fn in (("ours", ours), ("naive", naive)):
            t = time.perf_counter()
            fn(needs, partners, need_vecs, profile_matrix)
            runs[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"matching {args.leads} leads against {args.partners} partners, {args.repeat} runs, "
          f"embedder {embedder.name}")
    print(f"{'':28}{'median s':>10}{'per lead ms':>13}{'vs naive':>10}")
    for k, label in (("ours", "ours (matrix + rank)"), ("naive", "naive baseline")):
        print(f"{label:28}{med[k]:>10.3f}{1000 * med[k] / args.leads:>13.3f}{med['naive'] / med[k]:>9.1f}x")
    print(f"(apart, same for both: embedding {args.partners} profiles {t_profiles:.3f} s once, "
          f"{args.leads} need texts {t_needs:.3f} s)")


if __name__ == "__main__":
    main()
