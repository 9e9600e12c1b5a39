from __future__ import annotations

import time
from collections import Counter, defaultdict
from functools import cache
from itertools import islice

import orjson
import pytest

from simulator import Delivery, SimConfig, Simulator, load_units
from simulator.params import SimParams, scale_for_rate
from simulator.registry import DEFAULT_REGISTRY
from simulator.worktime import parse_cli_time
from tests.unit.simulator.spec_check import parse_time, problems

START = parse_cli_time("2026-08-03")
END = parse_cli_time("2026-08-17")
UNITS = load_units()
UNIT_IDS = {u.unit_id for u in UNITS}
SUCCESSOR = {u.unit_id: u.successor_id for u in UNITS if u.successor_id}


def run(**overrides: object) -> list[Delivery]:
    config = SimConfig(**{"start": START, "end": END, "seed": 7, "scale": 0.01, **overrides})
    return list(Simulator(config, UNITS))


@cache
def two_weeks() -> tuple[Delivery, ...]:
    return tuple(run())


def test_same_seed_same_stream_byte_for_byte() -> None:
    first = [orjson.dumps(d.event) + str(d.deliver_at).encode() for d in two_weeks()]
    again = [orjson.dumps(d.event) + str(d.deliver_at).encode() for d in run()]
    assert first == again


def test_another_seed_gives_another_stream() -> None:
    other = run(seed=8)
    assert [d.event for d in other[:200]] != [d.event for d in two_weeks()[:200]]
    assert abs(len(other) - len(two_weeks())) < 0.1 * len(two_weeks())  # … of the same size


def test_stream_is_in_delivery_order_and_inside_the_range() -> None:
    stream = two_weeks()
    times = [d.deliver_at for d in stream]
    assert times == sorted(times)
    assert times[-1] < END
    assert sum(t >= START for t in times) > 0.7 * len(times)  # the rest is the backlog's history


def test_every_event_is_valid_per_spec() -> None:
    stream = two_weeks()
    invalid = [(d.event, p) for d in stream if (p := problems(d.event, UNIT_IDS, d.deliver_at))]
    assert invalid == []
    assert {d.event["type"] for d in stream} == {
        "received",
        "supplement_requested",
        "supplement_received",
        "paused",
        "resumed",
        "resolved",
        "returned",
        "withdrawn",
        "payment",
        "rating",
    }
    for d in stream:  # JSON-ready: every value is a plain JSON scalar
        assert all(isinstance(v, str | bool | int) for v in d.event.values())
        assert d.event["occurred_at"].endswith("+07:00")


def test_dirty_delivery_is_present_but_rare() -> None:
    stream = two_weeks()
    ids = Counter(d.event["event_id"] for d in stream)
    duplicates = [i for i, n in ids.items() if n > 1]
    assert 0 < len(duplicates) < 0.02 * len(ids)
    copies = defaultdict(list)
    for d in stream:
        copies[d.event["event_id"]].append(d.event)
    assert all(c[0] == c[1] for i in duplicates for c in [copies[i]])  # a duplicate is an exact re-send
    lags = [d.deliver_at - parse_time(d.event["occurred_at"]) for d in stream]
    assert min(lags) >= 0
    over_a_day = sum(lag > 86_400 for lag in lags)
    assert 0 < over_a_day < 0.03 * len(lags)
    assert sum(lag > 2 * 86_400 for lag in lags) > 0  # some arrive days after the fact
    # Reordering: some dossier's events reach the system in another order than they happened.
    seen_last: dict[str, float] = {}
    reordered = 0
    for d in stream:
        at = parse_time(d.event["occurred_at"])
        if at < seen_last.get(d.event["dossier_id"], 0):
            reordered += 1
        seen_last[d.event["dossier_id"]] = max(at, seen_last.get(d.event["dossier_id"], 0))
    assert reordered > 0


def test_dossier_lifecycles_are_coherent() -> None:
    events: dict[str, list[dict]] = defaultdict(list)
    for d in two_weeks():
        events[d.event["dossier_id"]].append(d.event)
    for dossier, evs in events.items():
        kinds = Counter(e["type"] for e in evs)
        received = [e for e in evs if e["type"] == "received"]
        if received:
            t0 = parse_time(received[0]["occurred_at"])
            assert all(parse_time(e["occurred_at"]) >= t0 for e in evs), dossier
        # One unit, or (a dossier open when its unit retired) that unit and then its successor.
        home = received[0]["unit_id"] if received else evs[0]["unit_id"]
        chain = [home]
        while SUCCESSOR.get(chain[-1]):
            chain.append(SUCCESSOR[chain[-1]])
        assert {e["unit_id"] for e in evs} <= set(chain), dossier
        assert not (kinds["resolved"] and kinds["withdrawn"]), dossier
        for first, then in (("resolved", "returned"), ("returned", "rating"), ("paused", "resumed")):
            if kinds[first] and kinds[then]:  # either may still be in transit at the end
                a = max(parse_time(e["occurred_at"]) for e in evs if e["type"] == first)
                b = min(parse_time(e["occurred_at"]) for e in evs if e["type"] == then)
                assert a <= b, (dossier, first, then)


def test_invalid_share_injects_only_marked_invalid_copies() -> None:
    stream = run(invalid_share=0.05)
    marked = [d for d in stream if "sim_invalid" in d.event]
    assert 0.03 * len(stream) < len(marked) < 0.07 * len(stream)
    assert all(problems(d.event, UNIT_IDS, d.deliver_at) for d in marked)
    assert not [d for d in stream if "sim_invalid" not in d.event and problems(d.event, UNIT_IDS, d.deliver_at)]
    assert len({d.event["sim_invalid"] for d in marked}) >= 8  # many kinds of defect
    valid_ids = {d.event["event_id"] for d in stream if "sim_invalid" not in d.event}
    assert not valid_ids & {d.event["event_id"] for d in marked}  # never shadows a valid event_id


def test_backlog_is_overdue_and_mostly_at_justice() -> None:
    backlog = [d.event for d in two_weeks() if "-B" in d.event["dossier_id"] and d.event["type"] == "received"]
    expected = SimParams().backlog_size * 0.01
    assert 0.8 * expected < len(backlog) < 1.2 * expected
    justice = sum(e["unit_id"] == "H26.DEP.STP" for e in backlog) / len(backlog)
    assert 0.38 < justice < 0.52
    assert all(parse_time(e["due_at"]) < START for e in backlog)
    assert not any("-B" in d.event["dossier_id"] for d in run(backlog=False))


def test_small_registry_and_flat_profile_work_too() -> None:
    small = load_units(DEFAULT_REGISTRY.parent / "units_small.csv")
    ids = {u.unit_id for u in small}
    stream = list(
        Simulator(SimConfig(start=START, end=START + 86_400, scale=0.05, profile="flat", backlog=False), small)
    )
    assert stream and all(not problems(d.event, ids, d.deliver_at) for d in stream)
    hours = Counter(
        (parse_time(d.event["occurred_at"]) // 3600) % 24
        for d in stream
        if d.event["type"] == "received" and parse_time(d.event["occurred_at"]) >= START
    )
    assert len(hours) >= 20  # round the clock, unlike office hours


def test_real_time_stream_is_lazy_and_endless() -> None:
    sim = Simulator(SimConfig(start=START, end=None, scale=0.5, backlog=False), UNITS)
    started = time.perf_counter()
    first = list(islice(sim, 5000))
    assert len(first) == 5000
    assert time.perf_counter() - started < 5
    assert first[-1].deliver_at < START + 3 * 86_400  # it did not run ahead through the future


def test_rate_maps_to_scale() -> None:
    assert scale_for_rate(0.49) == pytest.approx(1.0, rel=0.05)  # Hanoi averages about half an event a second


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        SimConfig(start=END, end=START)
    with pytest.raises(ValueError):
        SimConfig(start=START, end=END, profile="weekly")


def test_a_warm_up_is_the_same_stream_minus_what_came_before() -> None:
    cutoff = START + 5 * 86_400
    full = [(d.deliver_at, orjson.dumps(d.event)) for d in two_weeks() if d.deliver_at >= cutoff]
    warm = [(d.deliver_at, orjson.dumps(d.event)) for d in run(send_from=cutoff)]
    assert warm == full


def test_send_open_sends_the_warm_up_events_of_dossiers_in_progress_first_and_changes_nothing_after() -> None:
    cutoff = START + 5 * 86_400
    plain = run(send_from=cutoff)
    opened = run(send_from=cutoff, send_open=True)
    caught_up = [d for d in opened if d.deliver_at == cutoff and parse_time(d.event["occurred_at"]) < cutoff]
    assert caught_up, "some dossiers are in progress at the cutoff"
    # Besides those, the stream is the warm-up's: same events, same times, same order.
    caught_up_ids = {d.event["event_id"] for d in caught_up}
    assert [(d.deliver_at, d.event) for d in opened if d.event["event_id"] not in caught_up_ids or
            d.deliver_at != cutoff] == [(d.deliver_at, d.event) for d in plain]  # fmt: skip

    # Every dossier with an event sent has its receipt sent — except, as in the stream without a warm-up, a receipt
    # delivered so late that it falls after the end.
    def without_receipt(stream: list[Delivery]) -> set[str]:
        received = {d.event["dossier_id"] for d in stream if d.event["type"] == "received"}
        return {d.event["dossier_id"] for d in stream} - received

    assert without_receipt(opened) <= without_receipt(list(two_weeks()))
    assert without_receipt(plain), "without send_open, dossiers in progress lose their receipt"
