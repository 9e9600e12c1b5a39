"""Dirty delivery (late, very late, duplicated events) and deliberately invalid events for `--invalid-share`."""

from __future__ import annotations

import random
from typing import Any

from simulator.params import SimParams
from simulator.worktime import DAY, HOUR

Event = dict[str, Any]

_NORMAL_MEAN_DELAY = 20.0  # seconds: a healthy one-stop-shop system pushes status changes within a minute


class DeliveryNoise:
    """Draws how long after occurred_at an event reaches the system, and whether it is sent twice."""

    def __init__(self, rng: random.Random, params: SimParams) -> None:
        self._rng = rng
        self._very_late = params.very_late_delivery_share
        self._late = params.very_late_delivery_share + params.late_delivery_share
        self._duplicate = params.duplicate_share

    def delay(self) -> int:
        r = self._rng.random()
        if r < self._very_late:
            return 2 * DAY + int(self._rng.random() * 8 * DAY)  # a batch re-synced days after the fact
        if r < self._late:
            return HOUR + int(self._rng.random() * 29 * HOUR)  # a sync outage of hours (some beyond 24 h)
        return 1 + int(self._rng.expovariate(1 / _NORMAL_MEAN_DELAY))

    def duplicate_delay(self) -> int | None:
        """Extra delay of a second copy of the same event (same event_id), or None when sent once."""
        if self._rng.random() < self._duplicate:
            return 1 + int(self._rng.random() * 6 * HOUR)
        return None


# Defects and the event types they apply to (None = any type).
_DEFECTS: tuple[tuple[str, str | None], ...] = (
    ("unknown_unit", None),
    ("bad_event_id", None),
    ("missing_offset", None),
    ("far_future", None),
    ("foreign_field", None),
    ("missing_channel", "received"),
    ("due_not_after_occurrence", "received"),
    ("bad_channel", "received"),
    ("missing_outcome", "resolved"),
    ("negative_amount", "payment"),
    ("bad_rating_level", "rating"),
)


def corrupt(event: Event, rng: random.Random) -> Event:
    """A copy of `event` that breaks one SPEC §2 rule, under a fresh event_id so it never shadows the valid one.

    The extra field `sim_invalid` names the defect (unknown fields are allowed, so it adds no error of its own).
    """
    etype = event["type"]
    candidates = [name for name, only in _DEFECTS if only is None or only == etype]
    defect = candidates[int(rng.random() * len(candidates))]
    bad = dict(event)
    bad["event_id"] = f"{event['event_id']}:bad"
    bad["sim_invalid"] = defect
    if defect == "unknown_unit":
        bad["unit_id"] = "H26.UNKNOWN.UNIT"
    elif defect == "bad_event_id":
        bad["event_id"] = f"{event['event_id']} bad/id"
    elif defect == "missing_offset":
        bad["occurred_at"] = event["occurred_at"].removesuffix("+07:00")
    elif defect == "far_future":
        bad["occurred_at"] = "2099-01-01T08:00:00+07:00"
        bad.pop("due_at", None)
        if etype == "received":
            bad["due_at"] = "2099-01-10T17:00:00+07:00"
    elif defect == "foreign_field":
        bad["amount" if etype != "payment" else "outcome"] = 1000 if etype != "payment" else "approved"
    elif defect == "missing_channel":
        del bad["channel"]
    elif defect == "due_not_after_occurrence":
        bad["due_at"] = event["occurred_at"]
    elif defect == "bad_channel":
        bad["channel"] = "fax"
    elif defect == "missing_outcome":
        del bad["outcome"]
    elif defect == "negative_amount":
        bad["amount"] = -event["amount"] - 1
    elif defect == "bad_rating_level":
        bad["level"] = "meh"
    return bad
