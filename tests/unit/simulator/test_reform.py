"""The simulator in the registry of its date: Hanoi's department merger (1 March 2025) and the two-tier reform
(1 July 2025, Resolution 1656) — receipts only at units that exist that day, open dossiers finished by successors,
legacy systems sending old ids for a while, volumes handed over from predecessors."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import date
from functools import cache

import orjson
import pytest

from simulator import Delivery, SimConfig, SimParams, Simulator, load_units
from simulator.catalog import build_eras, epoch_of
from simulator.registry import load_splits
from simulator.worktime import parse_cli_time
from tests.unit.simulator.spec_check import parse_time

UNITS = load_units()
BY_ID = {u.unit_id: u for u in UNITS}
SPLITS = load_splits()
START = parse_cli_time("2025-05-15")
END = parse_cli_time("2025-10-20")
REFORM = epoch_of(date(2025, 7, 1))
LEGACY_END = epoch_of(date(2025, 10, 1))  # SimParams.legacy_until = 2025-09-30, inclusive


def simulate(**overrides: object) -> tuple[Simulator, list[Delivery]]:
    params = overrides.pop("params", SimParams())
    config = SimConfig(**{"start": START, "end": END, "seed": 3, "scale": 0.01, "params": params, **overrides})
    sim = Simulator(config, UNITS, SPLITS)
    return sim, list(sim)


@cache
def default_run() -> tuple[Simulator, tuple[Delivery, ...]]:
    sim, stream = simulate()
    return sim, tuple(stream)


def exists(unit_id: str, ts: float) -> bool:
    unit = BY_ID[unit_id]
    return (unit.valid_from is None or epoch_of(unit.valid_from) <= ts) and (
        unit.valid_to is None or ts < epoch_of(unit.valid_to)
    )


def successor_at(unit_id: str, ts: float) -> str:
    while BY_ID[unit_id].valid_to is not None and ts >= epoch_of(BY_ID[unit_id].valid_to):  # type: ignore[arg-type]
        unit_id = BY_ID[unit_id].successor_id  # type: ignore[assignment]
    return unit_id


def dossiers(stream: tuple[Delivery, ...] | list[Delivery]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for d in stream:
        out[d.event["dossier_id"]].append(d.event)
    return out


def test_no_receipt_names_a_unit_outside_its_validity() -> None:
    _, stream = default_run()
    receipts = [d.event for d in stream if d.event["type"] == "received"]
    outside = [e for e in receipts if not exists(e["unit_id"], parse_time(e["occurred_at"]))]
    assert outside == []
    # Both eras are there: old communes and districts before the reform, the 126 new units after it.
    levels_before = {e["unit_id"].split(".")[1] for e in receipts if parse_time(e["occurred_at"]) < REFORM}
    after = {e["unit_id"] for e in receipts if parse_time(e["occurred_at"]) >= REFORM}
    assert levels_before == {"DEP", "DIS"}
    assert {uid for uid in after if uid.startswith("H26.C.")} == {
        u.unit_id for u in UNITS if u.unit_id.startswith("H26.C.")
    }
    assert not [uid for uid in after if uid.startswith("H26.DIS.")]
    # The department merger of 1 March 2025: retired departments receive nothing afterwards.
    assert not [uid for uid in after if BY_ID[uid].valid_to is not None]


def test_no_event_names_a_unit_before_it_exists() -> None:
    _, stream = default_run()
    early = [d.event for d in stream if BY_ID[d.event["unit_id"]].valid_from is not None
             and not exists(d.event["unit_id"], parse_time(d.event["occurred_at"]))
             and parse_time(d.event["occurred_at"]) < REFORM]  # fmt: skip
    assert early == []


def test_dossiers_open_at_the_reform_end_at_the_successor() -> None:
    sim, stream = default_run()
    legacy = sim.legacy_units
    carried = 0
    for events in dossiers(stream).values():
        receipt = next((e for e in events if e["type"] == "received"), None)
        if receipt is None or parse_time(receipt["occurred_at"]) >= REFORM:
            continue
        home = receipt["unit_id"]
        for event in events:
            at = parse_time(event["occurred_at"])
            if at < REFORM or BY_ID[home].valid_to is None:
                assert event["unit_id"] == successor_at(home, min(at, REFORM - 1))
            elif home in legacy and at < LEGACY_END:
                assert event["unit_id"] == home  # a legacy system still sends the old id
            else:
                assert event["unit_id"] == successor_at(home, at), (home, event)
                carried += event["type"] == "resolved"
    assert carried > 150  # thousands of dossiers were open on 30 June 2025 (≈ 230 at 1 %)


def test_legacy_share_is_honoured() -> None:
    sim, stream = default_run()
    old_communes = [u.unit_id for u in UNITS if u.level == "commune" and u.valid_to is not None]
    legacy = sim.legacy_units
    assert 0.06 < len(legacy & set(old_communes)) / len(old_communes) < 0.14  # --legacy-share 0.1
    late_old = [d.event for d in stream if not exists(d.event["unit_id"], parse_time(d.event["occurred_at"]))]
    assert late_old, "legacy systems send old ids after the reform"
    assert {e["unit_id"] for e in late_old} <= legacy
    assert all(parse_time(e["occurred_at"]) < LEGACY_END for e in late_old)  # … until 2025-09-30
    assert all(e["type"] != "received" for e in late_old)  # never a new receipt

    params = dataclasses.replace(SimParams(), legacy_share=0.0)
    sim_none, stream_none = simulate(params=params, end=parse_cli_time("2025-07-20"))
    assert not sim_none.legacy_units
    assert not [d for d in stream_none if not exists(d.event["unit_id"], parse_time(d.event["occurred_at"]))]
    params = dataclasses.replace(SimParams(), legacy_share=1.0, legacy_until="2025-07-10")
    _, stream_all = simulate(params=params, end=parse_cli_time("2025-07-20"))
    old_after = [d.event for d in stream_all if not exists(d.event["unit_id"], parse_time(d.event["occurred_at"]))]
    assert old_after and all(parse_time(e["occurred_at"]) < epoch_of(date(2025, 7, 11)) for e in old_after)


def test_new_units_take_over_their_predecessors_volume() -> None:
    eras = build_eras(UNITS, SimParams(), SPLITS)
    assert [e.start for e in eras] == [None, epoch_of(date(2025, 3, 1)), REFORM]
    before = {p.unit_id: p.volume for p in eras[1].profiles}
    after = {p.unit_id: p.volume for p in eras[2].profiles}
    assert sum(before.values()) == pytest_approx(1.0)
    assert sum(after.values()) == pytest_approx(1.0)
    taken: dict[str, float] = defaultdict(float)
    for old, rows in SPLITS.items():
        for new, share in rows:
            taken[new] += before[old] if share == "whole" else before[old] / len(rows)
    communes_before = sum(v for uid, v in before.items() if BY_ID[uid].level in ("commune", "district"))
    communes_after = sum(v for uid, v in after.items() if BY_ID[uid].level == "commune")
    assert communes_after == pytest_approx(communes_before)  # the districts' work went to the new communes too
    ratios = sorted(after[new] / taken[new] for new in taken)
    # Its old communes' volume (shares of split ones) plus a share of the abolished districts' own volume: about
    # (35 % + 30 %) / 30 % of it, more where a district had few communes.
    assert len(ratios) == 126 and ratios[0] > 1.3 and ratios[len(ratios) // 2] == pytest.approx(0.65 / 0.30, rel=0.1)
    assert ratios[-1] < 4.5
    # Departments: Sở Xây dựng took over Sở Giao thông vận tải on 1 March 2025.
    first = {p.unit_id: p.volume for p in eras[0].profiles}
    assert before["H26.DEP.SXD"] == pytest_approx(first["H26.DEP.SXD"] + first["H26.DEP.SGTVT"])
    assert "H26.DEP.SGTVT" not in before and "H26.DEP.SNNMT" in before


def test_city_volume_is_steady_across_the_reform() -> None:
    _, stream = default_run()
    months = Counter(d.event["occurred_at"][:7] for d in stream if d.event["type"] == "received")
    assert abs(months["2025-08"] / months["2025-06"] - 1) < 0.15


def test_same_seed_same_stream_across_the_reform() -> None:
    _, stream = default_run()
    cutoff = parse_cli_time("2025-07-05")
    window = [orjson.dumps(d.event) + str(d.deliver_at).encode() for d in stream if d.deliver_at < cutoff]
    _, again = simulate(end=cutoff)
    assert window == [orjson.dumps(d.event) + str(d.deliver_at).encode() for d in again]


def pytest_approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9)
