"""The `unit-indicators` message: what scoring publishes after each batch, one message per changed unit.

Kafka topic `unit-indicators` (see shared/kafka.py), key = unit_id, value = this model as JSON (UTF-8).
The alerts service evaluates its rules on every message. The shape follows SPEC §4–§6 so the HTTP API and the
message say the same thing with the same names.

Evolution: consumers ignore unknown fields (pydantic's default), so scoring may add fields without a
coordinated deploy; removing or renaming one needs both sides.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

VIETNAM_TZ = timezone(timedelta(hours=7))

UnitLevel = Literal["city", "department", "district", "commune"]
UNIT_LEVELS: tuple[UnitLevel, ...] = ("city", "department", "district", "commune")

UnitId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Month in Vietnam time, YYYY-MM")]

COUNTER_NAMES: tuple[str, ...] = (
    "received",
    "received_online",
    "received_digitized",
    "received_reused",
    "resolved",
    "resolved_with_due",
    "resolved_on_time",
    "resolved_e_result",
    "payments",
    "payments_online",
    "ratings",
    "ratings_satisfied",
    "events",
    "events_timely",
    "progress_total",
    "progress_on_time",
)

# SPEC §5: each rate is numerator / denominator; a rate whose denominator is 0 is null.
RATE_FRACTIONS: dict[str, tuple[str, str]] = {
    "progress_rate": ("progress_on_time", "progress_total"),
    "on_time_rate": ("resolved_on_time", "resolved_with_due"),
    "online_rate": ("received_online", "received"),
    "digitization_rate": ("received_digitized", "received"),
    "data_reuse_rate": ("received_reused", "received"),
    "e_result_rate": ("resolved_e_result", "resolved"),
    "online_payment_rate": ("payments_online", "payments"),
    "satisfaction_rate": ("ratings_satisfied", "ratings"),
    "timely_sync_rate": ("events_timely", "events"),
}
RATE_NAMES: tuple[str, ...] = tuple(RATE_FRACTIONS)
LIVE_COUNTER_NAMES: tuple[str, ...] = ("open", "overdue_open", "due_soon")

_Count = Annotated[int, Field(ge=0)]
_Rate = Annotated[float | None, Field(ge=0.0, le=1.0)]


class Counters(BaseModel):
    """The sixteen monthly counters of SPEC §4 for the unit and all its descendants."""

    model_config = ConfigDict(frozen=True)

    received: _Count = Field(0, description="Dossiers with a receipt in the month (tiếp nhận)")
    received_online: _Count = Field(0, description="… of which received through the online channel")
    received_digitized: _Count = Field(0, description="… of which digitised at reception (số hóa)")
    received_reused: _Count = Field(0, description="… of which reused already-digitised data")
    resolved: _Count = Field(0, description="Dossiers resolved in the month (có kết quả)")
    resolved_with_due: _Count = Field(0, description="… of which have a receipt, hence an effective due")
    resolved_on_time: _Count = Field(0, description="… of which resolved at or before the effective due")
    resolved_e_result: _Count = Field(0, description="… of which issued an electronic result")
    payments: _Count = Field(0, description="Payment events in the month")
    payments_online: _Count = Field(0, description="… of which paid online")
    ratings: _Count = Field(0, description="Dossiers whose current rating falls in the month")
    ratings_satisfied: _Count = Field(0, description="… of which very satisfied or satisfied")
    events: _Count = Field(0, description="Distinct events that occurred in the month")
    events_timely: _Count = Field(0, description="… of which ingested within 24 h of occurring")
    progress_total: _Count = Field(0, description="Dossiers in play in the month (tiến độ giải quyết)")
    progress_on_time: _Count = Field(0, description="… of which on time at the month's evaluation instant")


class Rates(BaseModel):
    """The nine rates of SPEC §5, unrounded; null when the denominator is 0."""

    model_config = ConfigDict(frozen=True)

    progress_rate: _Rate = Field(None, description="progress_on_time / progress_total")
    on_time_rate: _Rate = Field(None, description="resolved_on_time / resolved_with_due")
    online_rate: _Rate = Field(None, description="received_online / received")
    digitization_rate: _Rate = Field(None, description="received_digitized / received")
    data_reuse_rate: _Rate = Field(None, description="received_reused / received")
    e_result_rate: _Rate = Field(None, description="resolved_e_result / resolved")
    online_payment_rate: _Rate = Field(None, description="payments_online / payments")
    satisfaction_rate: _Rate = Field(None, description="ratings_satisfied / ratings")
    timely_sync_rate: _Rate = Field(None, description="events_timely / events")


class LiveCounters(BaseModel):
    """Live counters of SPEC §4 by the dossiers' home unit, as of `as_of`."""

    model_config = ConfigDict(frozen=True)

    open: _Count = Field(0, description="Dossiers received and not ended")
    overdue_open: _Count = Field(0, description="Open, not on hold, effective due already passed")
    due_soon: _Count = Field(0, description="Open, not on hold, effective due within the next 24 h")
    as_of: AwareDatetime = Field(description="Instant the live counters were computed (RFC 3339)")


class UnitIndicators(BaseModel):
    """One unit's figures for one month, published on `unit-indicators` whenever they change."""

    model_config = ConfigDict(frozen=True)

    unit_id: UnitId = Field(description="Unit identifier from the registry (SPEC §1)")
    name: str = Field(min_length=1, max_length=200, description="Unit name, Vietnamese with diacritics")
    level: UnitLevel = Field(description="city, department, district or commune")
    ancestors: list[UnitId] = Field(
        default_factory=list,
        description="Ancestor unit_ids, nearest first, ending with the city; empty for the city itself",
    )
    period: Period = Field(description="Month the counters and rates cover, YYYY-MM in Vietnam time")
    counters: Counters = Field(description="The sixteen monthly counters (SPEC §4)")
    rates: Rates = Field(description="The nine rates (SPEC §5), null when the denominator is 0")
    live: LiveCounters = Field(description="Live counters as of live.as_of")
    score: float | None = Field(None, ge=0.0, le=100.0, description="Score 0–100, null when all rates null")
    rank: int | None = Field(None, ge=1, description="Rank within the level and period; 1 is best")
    rank_of: int = Field(0, ge=0, description="Number of units of this level")
    previous_score: float | None = Field(
        None, ge=0.0, le=100.0, description="The unit's score for the previous month, null if none"
    )
    computed_at: AwareDatetime = Field(description="Instant scoring computed this message (RFC 3339)")
    catching_up: bool = Field(
        False,
        description=(
            "True while the scoring process that published it is applying events ingested long ago (a back-fill, "
            "a replay, the backlog of an outage): the live counters then move with the data arriving, not with "
            "time, so the alerts service takes no growth samples from it (docs/alerts.md §2.1)"
        ),
    )

    def subtree_ids(self) -> frozenset[str]:
        """The unit and all its ancestors: a rule scoped to any of these subtrees covers this unit."""
        return frozenset((self.unit_id, *self.ancestors))


class NearDueDossier(BaseModel):
    """An open dossier that will become overdue soon: one line of a near-due alert."""

    model_config = ConfigDict(frozen=True)

    dossier_id: str = Field(min_length=1, max_length=64, description="Dossier identifier (mã hồ sơ)")
    procedure_id: str | None = Field(None, max_length=32, description="Procedure code (mã TTHC), if known")
    unit_id: UnitId = Field(description="The dossier's home unit")
    due_at: AwareDatetime = Field(description="Effective due (hạn trả), RFC 3339")


class UnitNearDue(BaseModel):
    """Input of the near-due rule for one unit: its open, not-on-hold dossiers due soonest."""

    model_config = ConfigDict(frozen=True)

    unit_id: UnitId = Field(description="Unit the list is for")
    name: str = Field(min_length=1, max_length=200, description="Unit name")
    level: UnitLevel = Field(description="Unit level")
    ancestors: list[UnitId] = Field(default_factory=list, description="Ancestor unit_ids, nearest first")
    as_of: AwareDatetime = Field(description="Instant the list was taken")
    dossiers: list[NearDueDossier] = Field(
        default_factory=list, description="Open dossiers not on hold, due at or after as_of, any horizon"
    )


def month_of(instant: datetime) -> str:
    """YYYY-MM of an aware instant in Vietnam time (UTC+07:00, no DST)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: an explicit offset is required")
    return instant.astimezone(VIETNAM_TZ).strftime("%Y-%m")
