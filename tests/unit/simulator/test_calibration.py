"""Calibration against HANOI_FACTS.md: three simulated months at 2 % of Hanoi, August measured.

June and July are a warm-up so that August sees a steady state (dossiers carried over, late ones resolved).
The figures are computed naively here, straight from SPEC §3/§4, independently of the scoring service.
Tolerances are about three standard deviations of the sampling noise at this scale (≈ 6,800 dossiers a month).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache

import pytest

from simulator import SimConfig, SimParams, Simulator, load_units
from simulator.worktime import parse_cli_time
from tests.unit.simulator.spec_check import parse_time

WARM_UP = parse_cli_time("2026-06-01")
MONTH_START = parse_cli_time("2026-08-01")
MONTH_END = parse_cli_time("2026-09-01")
SCALE = 0.02
JUSTICE = "H26.DEP.STP"


@dataclass
class Figures:
    received: int
    on_time_share: float
    online_share: float
    reused_share: float
    online_payment_share: float
    satisfaction: float
    e_result_share: float
    timely_share: float
    overdue_open: Counter[str]


def _key(event: dict) -> tuple[float, str]:
    return parse_time(event["occurred_at"]), event["event_id"]


@cache
def august() -> Figures:
    config = SimConfig(start=WARM_UP, end=MONTH_END, seed=2024, scale=SCALE)
    first_copy: dict[str, tuple[int, dict]] = {}
    for delivery in Simulator(config, load_units()):
        first_copy.setdefault(delivery.event["event_id"], (delivery.deliver_at, delivery.event))
    dossiers: dict[str, list[dict]] = defaultdict(list)
    for _, event in first_copy.values():
        dossiers[event["dossier_id"]].append(event)

    in_month = [(at, e) for at, e in first_copy.values() if MONTH_START <= parse_time(e["occurred_at"]) < MONTH_END]
    by_type: dict[str, list[dict]] = defaultdict(list)
    for _, event in in_month:
        by_type[event["type"]].append(event)

    resolved_with_due = resolved_on_time = 0
    overdue: Counter[str] = Counter()
    for events in dossiers.values():
        events.sort(key=_key)
        receipts = [e for e in events if e["type"] == "received"]
        if not receipts:
            continue
        due = parse_time([e for e in events if "due_at" in e][-1]["due_at"])  # latest event carrying due_at
        resolutions = [e for e in events if e["type"] == "resolved"]
        if resolutions and MONTH_START <= parse_time(resolutions[0]["occurred_at"]) < MONTH_END:
            resolved_with_due += 1
            resolved_on_time += parse_time(resolutions[0]["occurred_at"]) <= due
        ended = resolutions or [e for e in events if e["type"] == "withdrawn"]
        holds = [_key(e) for e in events if e["type"] in ("supplement_requested", "paused")]
        releases = [_key(e) for e in events if e["type"] in ("supplement_received", "resumed")]
        on_hold = bool(holds) and (not releases or holds[-1] > releases[-1])
        if not ended and not on_hold and due < MONTH_END:
            overdue[receipts[0]["unit_id"]] += 1

    def share(items: list[dict], test: object) -> float:
        return sum(1 for e in items if test(e)) / len(items)  # type: ignore[operator]

    received = by_type["received"]
    return Figures(
        received=len(received),
        on_time_share=resolved_on_time / resolved_with_due,
        online_share=share(received, lambda e: e["channel"] == "online"),
        reused_share=share(received, lambda e: e["reused_data"]),
        online_payment_share=share(by_type["payment"], lambda e: e["method"] == "online"),
        satisfaction=share(by_type["rating"], lambda e: e["level"] != "dissatisfied"),
        e_result_share=share(by_type["resolved"], lambda e: e["e_result"]),
        timely_share=sum(at - parse_time(e["occurred_at"]) <= 86_400 for at, e in in_month) / len(in_month),
        overdue_open=overdue,
    )


def test_volume_is_four_million_a_year() -> None:
    expected = SimParams().dossiers_per_year * SCALE * 31 / 365.25
    assert august().received == pytest.approx(expected, rel=0.08)


def test_on_time_resolution_share() -> None:
    # Hanoi 2023: 99.74 % early or on time; Q2 2022: 99.78 %. Target 99.7 % ± 0.2 points.
    assert august().on_time_share == pytest.approx(0.997, abs=0.002)
    assert august().on_time_share < 1.0  # late dossiers exist


def test_online_receipts_near_sixty_percent() -> None:
    assert august().online_share == pytest.approx(0.60, abs=0.03)


def test_reused_data_near_fifteen_percent() -> None:
    assert august().reused_share == pytest.approx(0.155, abs=0.02)


def test_online_payments_near_fifty_five_percent() -> None:
    assert august().online_payment_share == pytest.approx(0.55, abs=0.035)


def test_satisfaction_at_least_88_percent() -> None:
    assert 0.88 <= august().satisfaction <= 0.97


def test_e_results_high_and_sync_mostly_timely() -> None:
    assert august().e_result_share >= 0.8
    assert 0.97 <= august().timely_share < 1.0


def test_justice_holds_the_largest_share_of_overdue_open_dossiers() -> None:
    overdue = august().overdue_open
    top_unit, top_count = overdue.most_common(1)[0]
    assert top_unit == JUSTICE
    assert top_count / sum(overdue.values()) >= 0.30
