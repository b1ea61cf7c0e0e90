"""Matching scores (pure): hard filters, weighted components, fairness among equals, reasons."""

from datetime import UTC, date, datetime, timedelta

import pytest

from assistant.matching.scoring import (
    TIE_MARGIN,
    WEIGHTS,
    Need,
    PartnerSnapshot,
    order_fairly,
    rank,
    refusal,
    score_partner,
)

TODAY = date(2026, 12, 2)
NEED = Need(sector="health", size="10-49", region="IDF", language="fr", specialisms=frozenset({"health", "security"}),
            budget="medium", text="clinique, dossiers patients")


def partner(pid="p1", **kw) -> PartnerSnapshot:
    base = dict(name=pid.upper(), sectors=frozenset({"health"}), specialisms=frozenset({"health", "security"}),
                regions=frozenset({"IDF"}), languages=frozenset({"fr"}), sizes=frozenset({"10-49"}), budget="medium",
                certification_body="AFNOR", certified_until=date(2027, 6, 1), capacity=5)
    base.update(kw)
    return PartnerSnapshot(id=pid, **base)


def test_weights_sum_to_one():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("changes,need_changes,expected", [
    ({}, {}, None),
    ({"active": False}, {}, "paused"),
    ({"languages": frozenset({"en"})}, {}, "language"),
    ({"regions": frozenset({"BRE"})}, {}, None),                       # on site not needed: region is a plus only
    ({"regions": frozenset({"BRE"})}, {"on_site": True}, "region"),
    ({"certified_until": date(2026, 12, 1)}, {"certification_required": True}, "certification"),  # expired
    ({"certified_until": None}, {"certification_required": True}, "certification"),
    ({"certified_until": TODAY}, {"certification_required": True}, None),  # valid through its last day
    ({"load": 5, "capacity": 5}, {}, "capacity"),
    ({"load": 4, "capacity": 5}, {}, None),
    ({"capacity": 0}, {}, "capacity"),
])
def test_hard_filters(changes, need_changes, expected):
    need = Need(**{**NEED.__dict__, **need_changes})
    assert refusal(need, partner(**changes), TODAY) == expected


@pytest.mark.parametrize("changes,similarity,expected", [
    ({}, 1.0, 1.0),                                                     # everything fits
    ({}, 0.0, 0.85),                                                    # no text similarity
    ({}, -0.4, 0.85),                                                   # negative similarity counts 0
    ({"sectors": frozenset({"retail"})}, 0.0, 0.65),
    ({"specialisms": frozenset({"health"})}, 0.0, 0.725),               # half the specialisms
    ({"specialisms": frozenset()}, 0.0, 0.60),
    ({"sizes": frozenset({"250+"})}, 0.0, 0.75),
    ({"certified_until": date(2025, 1, 1)}, 0.0, 0.75),                 # an expired certification does not count
    ({"budget": "high"}, 0.0, 0.80),                                    # one band away: half
    ({"budget": "low"}, 0.0, 0.80),
    ({"regions": frozenset()}, 0.0, 0.75),
    ({"regions": frozenset(), "sizes": frozenset(), "sectors": frozenset()}, 0.5, 0.525),
])
def test_score_table(changes, similarity, expected):
    assert score_partner(NEED, partner(**changes), similarity, TODAY).score == pytest.approx(expected)


def test_budget_two_bands_away_and_no_budget():
    far = Need(**{**NEED.__dict__, "budget": "low"})
    assert score_partner(far, partner(budget="high"), 0.0, TODAY).components["budget"] == 0.0
    none = Need(**{**NEED.__dict__, "budget": None})
    m = score_partner(none, partner(budget="high"), 0.0, TODAY)
    assert m.components["budget"] == 1.0 and "budget" not in m.reasons


def test_reasons_are_the_biggest_contributions_in_both_languages():
    m = score_partner(NEED, partner(), 0.9, TODAY)
    assert m.reasons == ("specialisms", "sector", "text")
    en = m.why("en", NEED)
    assert en[0] == "Specialised in what you need: health data, security and breaches"
    assert en[1] == "Works with organisations in your sector"
    fr = m.why("fr", NEED)
    assert fr[0].startswith("Spécialisé") and fr != en
    weak = score_partner(NEED, partner(sectors=frozenset(), specialisms=frozenset()), 0.1, TODAY)
    assert "text" not in weak.reasons  # a faint similarity is no reason to give
    assert "certification" in weak.reasons and "AFNOR" in weak.why("en")[weak.reasons.index("certification")]


def test_rank_filters_sorts_and_limits():
    ps = [partner("a", sectors=frozenset()), partner("b"), partner("c", active=False),
          partner("d", specialisms=frozenset({"hr"})), partner("e", languages=frozenset({"en"}))]
    got = rank(NEED, ps, {"a": 0.2, "b": 0.2, "d": 0.9}, TODAY, limit=3)
    assert [m.id for m in got] == ["b", "d", "a"]  # d: no specialism but a close profile (0.735 > 0.68)
    assert [m.id for m in rank(NEED, ps, {}, TODAY, limit=3, exclude={"b"})] == ["a", "d"]
    assert rank(NEED, [], {}, TODAY) == []


def test_equal_scores_go_to_the_lowest_load_then_least_recently_assigned():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ps = [partner("a", load=2), partner("b", load=1, last_assigned_at=now),
          partner("c", load=1, last_assigned_at=now - timedelta(days=3)), partner("d", load=1)]
    assert [m.id for m in rank(NEED, ps, {}, TODAY, limit=4)] == ["d", "c", "b", "a"]


def test_only_near_equal_scores_are_reordered():
    ps = [partner("a", load=3), partner("b", load=0, sizes=frozenset())]  # b is 0.10 lower: not an equal
    assert [m.id for m in rank(NEED, ps, {}, TODAY)] == ["a", "b"]
    close = [partner("a", load=3), partner("b", load=0)]
    ms = [score_partner(NEED, p, s, TODAY) for p, s in zip(close, (0.1, 0.1 - TIE_MARGIN / WEIGHTS["text"] / 2), strict=False)]
    assert [m.id for m in order_fairly(ms)] == ["b", "a"]


def test_deterministic():
    ps = [partner(f"p{i}", load=i % 3) for i in range(20)]
    sims = {p.id: (hash(p.id) % 7) / 10 for p in ps}
    assert [m.id for m in rank(NEED, ps, sims, TODAY, limit=20)] == [m.id for m in rank(NEED, ps[::-1], sims, TODAY,
                                                                                       limit=20)]


def simulate(partners: list[PartnerSnapshot], needs: list[Need], sims=None) -> dict[str, int]:
    """Assign each lead to its first match, as the referral flow does; returns the loads."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    state = {p.id: p for p in partners}
    for i, need in enumerate(needs):
        got = rank(need, list(state.values()), sims or {}, TODAY, limit=1)
        if not got:
            continue
        p = got[0].partner
        state[p.id] = PartnerSnapshot(**{**p.__dict__, "load": p.load + 1,
                                         "last_assigned_at": start + timedelta(minutes=i)})
    return {pid: p.load for pid, p in state.items()}


def test_fairness_over_a_thousand_leads_among_equals():
    equals = [partner(f"eq{i:02d}", capacity=60) for i in range(20)]  # 1,200 places for 1,000 leads
    loads = simulate(equals, [NEED] * 1000)
    assert sum(loads.values()) == 1000
    assert max(loads.values()) - min(loads.values()) <= 1  # load spread within one lead
    assert all(load <= 60 for load in loads.values())


def test_no_partner_goes_over_capacity_and_better_ones_fill_first():
    import random

    rng = random.Random(7)
    partners = [partner(f"p{i:02d}", capacity=rng.randint(5, 60), sectors=frozenset(rng.sample(["health", "retail", "hr"], 2)),
                        sizes=frozenset(rng.sample(["1-9", "10-49", "50-249"], 2))) for i in range(30)]
    needs = [Need(sector=rng.choice(["health", "retail", "hr"]), size=rng.choice(["1-9", "10-49", "50-249"]),
                  region="IDF", specialisms=frozenset({"health"})) for _ in range(1000)]
    loads = simulate(partners, needs)
    caps = {p.id: p.capacity for p in partners}
    assert all(loads[pid] <= caps[pid] for pid in loads)
    assert sum(loads.values()) == min(1000, sum(caps.values()))  # every lead placed while capacity remains
    # Equals (same profile) end within one lead of each other unless capacity stopped one of them.
    by_profile: dict = {}
    for p in partners:
        by_profile.setdefault((p.sectors, p.sizes), []).append(p.id)
    for ids in by_profile.values():
        open_loads = [loads[i] for i in ids if loads[i] < caps[i]]
        if len(open_loads) > 1:
            assert max(open_loads) - min(open_loads) <= 1
