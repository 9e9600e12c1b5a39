"""The event stream: dossiers arrive hour by hour; their events come out in order of *delivery*.

Memory holds only what is in flight (events planned but not yet delivered), never the whole period.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, NamedTuple

from simulator.catalog import Era, UnitProfile, build_eras, epoch_of, trait
from simulator.lifecycle import DossierPlanner
from simulator.noise import DeliveryNoise, corrupt
from simulator.params import (
    COUNTER_HOURS_SATURDAY,
    COUNTER_HOURS_WORKDAY,
    ONLINE_HOURS_WORKDAY,
    ONLINE_OFF_DAY_FACTOR,
    SimConfig,
)
from simulator.registry import Unit
from simulator.worktime import DAY, HOUR, VN_OFFSET, Rfc3339, WorkCalendar, local_day

_YEAR = 365.25 * DAY
_BACKLOG_AGE = (30 * DAY, 540 * DAY)  # backlog dossiers were received 1–18 months before the start


class Delivery(NamedTuple):
    """One event as it reaches the system; `deliver_at` (epoch s) is what a trusted producer puts in ingested_at."""

    deliver_at: int
    event: dict[str, Any]


@dataclass(slots=True)
class SimStats:
    dossiers: int = 0
    backlog_dossiers: int = 0
    planned_events: int = 0
    duplicates: int = 0
    invalid: int = 0


def _hour_weight_means() -> tuple[float, float]:
    """Mean hourly weight over a typical week, so that the year's volume is independent of the hour pattern."""
    counter = (5 * sum(COUNTER_HOURS_WORKDAY.values()) + sum(COUNTER_HOURS_SATURDAY.values())) / (7 * 24)
    online_day = sum(ONLINE_HOURS_WORKDAY.values())
    online = (5 * online_day + 2 * ONLINE_OFF_DAY_FACTOR * online_day) / (7 * 24)
    return counter, online


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw: exact (Knuth) for small means, normal approximation for large ones."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


class _EraTable(NamedTuple):
    """One era's units and their cumulative weights per arrival stream."""

    start: int | None
    profiles: tuple[UnitProfile, ...]
    online_cum: list[float]
    counter_cum: list[float]
    justice: list[UnitProfile]
    others: list[UnitProfile]
    others_cum: list[float]


def _table(era: Era) -> _EraTable:
    profiles = era.profiles
    justice = [u for u in profiles if u.is_justice]
    others = [u for u in profiles if not u.is_justice] or justice
    return _EraTable(
        era.start,
        profiles,
        # Units chosen per arrival stream: online arrivals favour the units whose clients go online more.
        list(accumulate(u.volume * u.online_probability for u in profiles)),
        list(accumulate(u.volume * (1 - u.online_probability) for u in profiles)),
        justice,
        others,
        list(accumulate(u.volume for u in others)),
    )


class Simulator:
    """`iter(Simulator(config, units))` yields `Delivery` items in non-decreasing `deliver_at` order.

    The registry's validity dates are followed: a dossier is received only by a unit that exists on that day
    (before a reorganisation the old units, after it the new ones, volumes handed over along `splits`, the
    reorganisation's old → new mapping), and the events of a dossier still open when its unit retires name the
    successor from then on — except at "legacy" units (a stable share `legacy_share`), whose systems keep sending
    the old id until `legacy_until`.
    """

    def __init__(
        self, config: SimConfig, units: Sequence[Unit], splits: Mapping[str, Sequence[tuple[str, str]]] | None = None
    ) -> None:
        self.config = config
        self.stats = SimStats()
        self._rng = random.Random(config.seed)
        self._cal = WorkCalendar()
        self._fmt = Rfc3339()
        units = list(units)
        self._eras = [_table(era) for era in build_eras(units, config.params, splits)]
        self._era_starts = [era.start for era in self._eras[1:]]
        self._planner = DossierPlanner(self._rng, self._cal, self._fmt, config.params, config.profile == "hanoi")
        self._noise = DeliveryNoise(self._rng, config.params)
        p = config.params
        # Retired units: epoch of valid_to and successor; legacy ones keep their id on later events for a while.
        self._retired = {
            u.unit_id: (epoch_of(u.valid_to), u.successor_id) for u in units if u.valid_to and u.successor_id
        }
        self._legacy = {uid for uid in self._retired if trait(uid, "legacy") < p.legacy_share}
        self._legacy_until = epoch_of(date.fromisoformat(p.legacy_until) + timedelta(days=1))
        per_hour = p.dossiers_per_year * config.scale / _YEAR * HOUR
        self._online_per_hour = per_hour * p.online_share
        self._counter_per_hour = per_hour * (1 - p.online_share)
        self._counter_mean, self._online_mean = _hour_weight_means()
        self._heap: list[tuple[int, int, dict[str, Any]]] = []
        self._seq = 0

    @property
    def profiles(self) -> list[UnitProfile]:
        """The units (and volumes) in force at the start."""
        return list(self._era(self.config.start).profiles)

    @property
    def legacy_units(self) -> frozenset[str]:
        """Retired units whose systems keep sending their old id after retirement, until `legacy_until`."""
        return frozenset(self._legacy)

    def _era(self, ts: int) -> _EraTable:
        return self._eras[bisect_right(self._era_starts, ts)]

    def _next_era_start(self, ts: int) -> int | None:
        i = bisect_right(self._era_starts, ts)
        return self._era_starts[i] if i < len(self._era_starts) else None  # type: ignore[return-value]

    def _successor_at(self, unit_id: str, ts: int) -> str:
        retired = self._retired
        while unit_id in retired and ts >= retired[unit_id][0]:
            unit_id = retired[unit_id][1]
        return unit_id

    def _follow_retirement(self, planned: list[tuple[int, dict[str, Any]]]) -> None:
        """Events after the receiving unit's retirement name its successor (legacy systems: the old id a while)."""
        home = planned[0][1]["unit_id"]
        retired_at = self._retired[home][0]
        keep_until = self._legacy_until if home in self._legacy else retired_at
        for occurred, event in planned:
            if occurred >= retired_at and occurred >= keep_until:
                event["unit_id"] = self._successor_at(home, occurred)

    def __iter__(self) -> Iterator[Delivery]:
        return self._deliveries()

    # -- scheduling -------------------------------------------------------------------------------------------------
    def _push(self, deliver_at: int, event: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (deliver_at, self._seq, event))

    def _schedule(self, planned: list[tuple[int, dict[str, Any]]]) -> None:
        if planned and planned[0][1]["unit_id"] in self._retired:
            self._follow_retirement(planned)
        noise = self._noise
        invalid_share = self.config.invalid_share
        send_from = self.config.send_from or 0
        self.stats.planned_events += len(planned)
        # Every random draw happens whether or not the event is kept: a warm-up changes nothing after it.
        drawn: list[tuple[int, dict[str, Any], int | None, dict[str, Any] | None]] = []
        for occurred, event in planned:
            extra_at: int | None = None
            bad: dict[str, Any] | None = None
            deliver = occurred + noise.delay()
            extra = noise.duplicate_delay()
            if extra is not None:
                self.stats.duplicates += 1
                extra_at = deliver + extra
            if invalid_share and self._rng.random() < invalid_share:
                self.stats.invalid += 1
                bad = corrupt(event, self._rng)
            drawn.append((deliver, event, extra_at, bad))
        # A dossier still in progress when sending starts: with `send_open`, its warm-up events are sent first thing
        # (delivered at `send_from`, with their own times), so none of its later events arrives without its receipt.
        delivered = [deliver for deliver, *_ in drawn] + [extra for _, _, extra, _ in drawn if extra is not None]
        catch_up = self.config.send_open and bool(drawn) and max(delivered) >= send_from > min(delivered)
        for deliver, event, extra_at, bad in drawn:
            if deliver >= send_from:
                self._push(deliver, event)
            elif catch_up:
                self._push(send_from, event)
            if extra_at is not None and extra_at >= send_from:
                self._push(extra_at, dict(event))
            if bad is not None and deliver >= send_from:
                self._push(deliver, bad)

    def _dossier_id(self, received_at: int, tag: str) -> str:
        day = self._fmt.local(received_at)
        return f"{self.config.dossier_prefix}-{day[2:4]}{day[5:7]}{day[8:10]}-{tag}"

    # -- arrivals ---------------------------------------------------------------------------------------------------
    def _expected(self, slot_start: int, seconds: int) -> tuple[float, float]:
        """Expected (online, counter) arrivals in a slot within one local hour."""
        fraction = seconds / HOUR
        if self.config.profile == "flat":
            return self._online_per_hour * fraction, self._counter_per_hour * fraction
        day = local_day(slot_start)
        hour = (slot_start + VN_OFFSET) % DAY // HOUR
        kind = self._cal.day_kind(day)
        online_w = ONLINE_HOURS_WORKDAY[hour] * (1.0 if kind == "work" else ONLINE_OFF_DAY_FACTOR)
        counter_hours = (
            COUNTER_HOURS_WORKDAY if kind == "work" else COUNTER_HOURS_SATURDAY if kind == "saturday" else {}
        )
        counter_w = counter_hours.get(hour, 0.0)
        return (
            self._online_per_hour * fraction * online_w / self._online_mean,
            self._counter_per_hour * fraction * counter_w / self._counter_mean,
        )

    def _arrive(self, slot_start: int, slot_end: int) -> None:
        rng, rnd = self._rng, self._rng.random
        online_lam, counter_lam = self._expected(slot_start, slot_end - slot_start)
        arrivals = [(slot_start + int(rnd() * (slot_end - slot_start)), True) for _ in range(poisson(rng, online_lam))]
        arrivals += [
            (slot_start + int(rnd() * (slot_end - slot_start)), False) for _ in range(poisson(rng, counter_lam))
        ]
        arrivals.sort()
        postal = self.config.params.postal_share_of_counter
        era = self._era(slot_start)  # a slot never spans an era boundary
        profiles, online_cum, counter_cum = era.profiles, era.online_cum, era.counter_cum
        for received_at, online in arrivals:
            if online:
                unit = profiles[bisect_right(online_cum, rnd() * online_cum[-1])]
                channel = "online"
            else:
                unit = profiles[bisect_right(counter_cum, rnd() * counter_cum[-1])]
                channel = "postal" if rnd() < postal else "direct"
            self.stats.dossiers += 1
            dossier_id = self._dossier_id(received_at, f"{self.stats.dossiers:07d}")
            self._schedule(self._planner.plan(dossier_id, unit, channel, received_at))

    def _seed_backlog(self) -> None:
        """Overdue open dossiers left from before the start, concentrated at the Department of Justice."""
        p = self.config.params
        count = poisson(self._rng, p.backlog_size * self.config.scale)
        lo, hi = _BACKLOG_AGE
        for n in range(1, count + 1):
            received_at = self._cal.snap_to_office(
                self.config.start - lo - int(self._rng.random() * (hi - lo)), int(self._rng.random() * 5400)
            )
            era = self._era(received_at)  # received by a unit that existed on that day
            if era.justice and self._rng.random() < p.backlog_justice_share:
                unit = era.justice[0]
            else:
                unit = era.others[bisect_right(era.others_cum, self._rng.random() * era.others_cum[-1])]
            dossier_id = self._dossier_id(received_at, f"B{n:06d}")
            self.stats.backlog_dossiers += 1
            self._schedule(self._planner.plan_backlog(dossier_id, unit, received_at, self.config.start))

    # -- the stream ---------------------------------------------------------------------------------------------------
    def _deliveries(self) -> Iterator[Delivery]:
        start, end = self.config.start, self.config.end
        if self.config.backlog:
            self._seed_backlog()
        heap = self._heap
        pop = heapq.heappop
        slot_start = start
        while end is None or slot_start < end:
            slot_end = (slot_start // HOUR + 1) * HOUR  # local hours start on UTC hours (offset is whole hours)
            if end is not None:
                slot_end = min(slot_end, end)
            next_era = self._next_era_start(slot_start)
            if next_era is not None:
                slot_end = min(slot_end, next_era)
            self._arrive(slot_start, slot_end)
            # Everything delivered before slot_end is final: later arrivals only add events after slot_end.
            while heap and heap[0][0] < slot_end:
                deliver_at, _, event = pop(heap)
                yield Delivery(deliver_at, event)
            slot_start = slot_end
