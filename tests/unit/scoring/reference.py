"""A deliberately naive reference for SPEC §3–§4, written straight from the SPEC text.

It shares no code with the scoring domain (only the ``EventFact`` input type): aware datetimes throughout,
loops over every event for every question, no incremental tricks. Slow and obviously right is the point.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.unit.scoring.events import EventFact

VIETNAM = timezone(timedelta(hours=7))
HOLDS = ("supplement_requested", "paused")
RELEASES = ("supplement_received", "resumed")


def month_text(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=VIETNAM)
    end = datetime(year + 1, 1, 1, tzinfo=VIETNAM) if number == 12 else datetime(year, number + 1, 1, tzinfo=VIETNAM)
    return start, end


def months_between(first: str, last: str) -> list[str]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        _, end = month_bounds(month)
        month = month_text(end)
    return months


def spec_order(event: EventFact) -> tuple[datetime, str]:
    return (event.occurred_at, event.event_id)


def distinct_events(copies: Iterable[EventFact]) -> list[EventFact]:
    """Per event_id, the copy with the earliest ingested_at (the generators never tie on it with other content)."""
    chosen: dict[str, EventFact] = {}
    for copy in copies:
        current = chosen.get(copy.event_id)
        if current is None or copy.ingested_at < current.ingested_at:
            chosen[copy.event_id] = copy
        elif copy.ingested_at == current.ingested_at and copy != current:
            raise AssertionError("reference needs distinct ingested_at for differing copies")
    return list(chosen.values())


@dataclass
class NaiveDossier:
    events: list[EventFact]

    def _all(self, *types: str) -> list[EventFact]:
        return [event for event in self.events if event.type in types]

    @property
    def receipt(self) -> EventFact | None:
        received = self._all("received")
        return min(received, key=spec_order) if received else None

    @property
    def resolution(self) -> EventFact | None:
        resolved = self._all("resolved")
        return min(resolved, key=spec_order) if resolved else None

    @property
    def withdrawal(self) -> EventFact | None:
        withdrawn = self._all("withdrawn")
        return min(withdrawn, key=spec_order) if withdrawn else None

    @property
    def rating(self) -> EventFact | None:
        ratings = self._all("rating")
        return max(ratings, key=spec_order) if ratings else None

    @property
    def effective_due(self) -> datetime | None:
        carrying = [event for event in self.events if event.due_at is not None]
        return max(carrying, key=spec_order).due_at if carrying else None

    @property
    def ended_at(self) -> datetime | None:
        ends = [event.occurred_at for event in (self.resolution, self.withdrawal) if event is not None]
        return min(ends) if ends else None

    def on_hold_at(self, moment: datetime) -> bool:
        holds = [event for event in self._all(*HOLDS) if event.occurred_at <= moment]
        releases = [event for event in self._all(*RELEASES) if event.occurred_at <= moment]
        if not holds:
            return False
        latest_hold = max(holds, key=spec_order)
        if not releases:
            return True
        return spec_order(latest_hold) > spec_order(max(releases, key=spec_order))


def naive_dossiers(copies: Iterable[EventFact]) -> list[NaiveDossier]:
    by_dossier: dict[str, list[EventFact]] = defaultdict(list)
    for event in distinct_events(copies):
        by_dossier[event.dossier_id].append(event)
    return [NaiveDossier(events) for events in by_dossier.values()]


def naive_counters(
    copies: Iterable[EventFact],
    now: datetime,
    months: list[str],
    owners: Callable[[str, datetime], Iterable[str]] = lambda unit, _: (unit,),
) -> dict[tuple[str, str, str], int]:
    """Every SPEC §4 monthly counter; progress counters for the given months, evaluated at ``now``.

    ``owners(unit, t)``: the units a fact dated t that names ``unit`` counts for (default: the unit alone; the
    effective-unit tests pass SPEC §1's rule with the ancestors).
    """
    counts: dict[tuple[str, str, str], int] = defaultdict(int)

    def count(unit: str, moment: datetime, name: str, month: str | None = None) -> None:
        for owner in owners(unit, moment):
            counts[(owner, month or month_text(moment), name)] += 1

    for dossier in naive_dossiers(copies):
        receipt = dossier.receipt
        if receipt is not None:
            count(receipt.unit_id, receipt.occurred_at, "received")
            if receipt.channel == "online":
                count(receipt.unit_id, receipt.occurred_at, "received_online")
            if receipt.digitized:
                count(receipt.unit_id, receipt.occurred_at, "received_digitized")
            if receipt.reused_data:
                count(receipt.unit_id, receipt.occurred_at, "received_reused")
        resolution = dossier.resolution
        if resolution is not None:
            count(resolution.unit_id, resolution.occurred_at, "resolved")
            if receipt is not None:
                count(resolution.unit_id, resolution.occurred_at, "resolved_with_due")
                due = dossier.effective_due
                assert due is not None
                if resolution.occurred_at <= due:
                    count(resolution.unit_id, resolution.occurred_at, "resolved_on_time")
            if resolution.e_result:
                count(resolution.unit_id, resolution.occurred_at, "resolved_e_result")
        for event in dossier.events:
            count(event.unit_id, event.occurred_at, "events")
            if event.ingested_at - event.occurred_at <= timedelta(hours=24):
                count(event.unit_id, event.occurred_at, "events_timely")
            if event.type == "payment":
                count(event.unit_id, event.occurred_at, "payments")
                if event.method == "online":
                    count(event.unit_id, event.occurred_at, "payments_online")
        rating = dossier.rating
        if rating is not None:
            count(rating.unit_id, rating.occurred_at, "ratings")
            if rating.level in ("very_satisfied", "satisfied"):
                count(rating.unit_id, rating.occurred_at, "ratings_satisfied")

        if receipt is None:
            continue
        due = dossier.effective_due
        assert due is not None
        ended = dossier.ended_at
        for month in months:
            start, end = month_bounds(month)
            evaluated_at = min(now, end)
            in_play = receipt.occurred_at < end and not (ended is not None and ended < start)
            if not in_play:
                continue
            # The dossier's date for the unit rule (SPEC §1): its end if it ended in the month, else T — at most the
            # month's last instant (docs/registry.md: the month where a retired unit existed keeps it).
            dated = ended if ended is not None and ended < end else min(evaluated_at, end - timedelta(microseconds=1))
            count(receipt.unit_id, dated, "progress_total", month)
            if ended is not None and ended < end:
                on_time = ended <= due
            else:
                on_time = due >= evaluated_at or dossier.on_hold_at(evaluated_at)
            if on_time:
                count(receipt.unit_id, dated, "progress_on_time", month)
    return dict(counts)


def naive_live(copies: Iterable[EventFact], now: datetime) -> dict[str, dict[str, int]]:
    """Live counters per home unit at ``now`` (units with no open dossier are absent)."""
    out: dict[str, dict[str, int]] = {}
    for dossier in naive_dossiers(copies):
        receipt = dossier.receipt
        if receipt is None or dossier.ended_at is not None:
            continue
        unit = out.setdefault(receipt.unit_id, {"open": 0, "overdue_open": 0, "due_soon": 0})
        unit["open"] += 1
        due = dossier.effective_due
        assert due is not None
        if dossier.on_hold_at(now):
            continue
        if due < now:
            unit["overdue_open"] += 1
        if now <= due < now + timedelta(hours=24):
            unit["due_soon"] += 1
    return out
