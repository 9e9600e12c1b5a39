"""Hypothesis strategies: a few dossiers over a few units, clustered around Vietnam-time month boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from tests.unit.scoring.events import EventFact

VIETNAM = timezone(timedelta(hours=7))
UNITS = ("U1", "U2", "U3")
# Month starts in Vietnam time, 2024-01 … 2024-05: 2024-02-01T00:00+07:00 is 2024-01-31T17:00:00Z, etc.
MONTH_STARTS = tuple(datetime(2024, month, 1, tzinfo=VIETNAM) for month in range(1, 6))
SPAN_START = MONTH_STARTS[0]
SPAN_SECONDS = int((MONTH_STARTS[-1] - MONTH_STARTS[0]).total_seconds())

_NEAR_OFFSETS = (
    timedelta(days=-1),
    timedelta(hours=-1),
    timedelta(seconds=-1),
    timedelta(microseconds=-1),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(hours=1),
    timedelta(days=1),
)
_DELAYS = (
    timedelta(0),
    timedelta(minutes=3),
    timedelta(hours=23),
    timedelta(hours=24),
    timedelta(hours=24, microseconds=1),
    timedelta(days=3),
)
_DUE_AFTER = (
    timedelta(microseconds=1),
    timedelta(hours=12),
    timedelta(days=3),
    timedelta(days=15),
    timedelta(days=40),
    timedelta(days=90),
)
_TYPES = (
    ("received",) * 4
    + ("supplement_requested", "paused") * 2
    + ("supplement_received", "resumed") * 2
    + ("resolved",) * 3
    + ("returned", "withdrawn", "payment", "payment", "rating", "rating")
)


def _as_shown(moment: datetime, offset_choice: int) -> datetime:
    """The same instant written with a different offset, as real producers do (Z, +07:00)."""
    return moment.astimezone(UTC) if offset_choice else moment.astimezone(VIETNAM)


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    if draw(st.booleans()):
        anchor = draw(st.sampled_from(MONTH_STARTS))
        moment = anchor + draw(st.sampled_from(_NEAR_OFFSETS))
    else:
        moment = SPAN_START + timedelta(seconds=draw(st.integers(0, SPAN_SECONDS // 600)) * 600)
    return _as_shown(moment, draw(st.integers(0, 1)))


@st.composite
def due_after(draw: st.DrawFn, occurred: datetime) -> datetime:
    if draw(st.booleans()):
        candidate = draw(moments())
        if candidate > occurred:
            return candidate
    return occurred + draw(st.sampled_from(_DUE_AFTER))


@st.composite
def event_content(draw: st.DrawFn, event_id: str, dossier_id: str, occurred_pool: list[datetime]) -> EventFact:
    kind = draw(st.sampled_from(_TYPES))
    # Reusing an instant of the same dossier makes ties on occurred_at (broken by event_id) common.
    occurred = draw(st.sampled_from(occurred_pool)) if occurred_pool and draw(st.booleans()) else draw(moments())
    occurred_pool.append(occurred)
    fields: dict[str, object] = {}
    if kind == "received":
        fields = {
            "channel": draw(st.sampled_from(("online", "direct", "postal"))),
            "due_at": draw(due_after(occurred)),
            "digitized": draw(st.booleans()),
            "reused_data": draw(st.booleans()),
        }
    elif kind in ("supplement_received", "resumed") and draw(st.booleans()):
        fields = {"due_at": draw(due_after(occurred))}
    if "due_at" in fields:
        # Later events of the dossier may then happen exactly at a due date (the ≤ boundary).
        occurred_pool.append(fields["due_at"])  # type: ignore[arg-type]
    elif kind == "resolved":
        fields = {"outcome": draw(st.sampled_from(("approved", "refused"))), "e_result": draw(st.booleans())}
    elif kind == "payment":
        fields = {"method": draw(st.sampled_from(("online", "counter"))), "amount": draw(st.integers(0, 500_000))}
    elif kind == "rating":
        fields = {"level": draw(st.sampled_from(("very_satisfied", "satisfied", "dissatisfied")))}
    return EventFact(
        event_id=event_id,
        dossier_id=dossier_id,
        unit_id=draw(st.sampled_from(UNITS)),
        type=kind,
        occurred_at=occurred,
        ingested_at=occurred + draw(st.sampled_from(_DELAYS)),
        procedure_id=draw(st.sampled_from((None, "1.000001", "2.000123"))),
        **fields,  # type: ignore[arg-type]
    )


@st.composite
def event_copies(draw: st.DrawFn, max_dossiers: int = 3, max_events: int = 7) -> list[EventFact]:
    """Copies as delivered: distinct events plus duplicates of some event_ids.

    A duplicate may differ in content (only the copy with the earliest ingested_at counts); copies of one
    event_id always have distinct ingested_at so the reference needs no content tie-break.
    """
    copies: list[EventFact] = []
    for dossier_number in range(draw(st.integers(1, max_dossiers))):
        dossier_id = f"D{dossier_number}"
        pool: list[datetime] = []
        count = draw(st.integers(1, max_events))
        # Shuffled short ids so that the event_id tie-break does not follow generation order.
        suffixes = draw(st.permutations(list(range(count))))
        for position in range(count):
            event_id = f"{dossier_id}-e{suffixes[position]}"
            first = draw(event_content(event_id, dossier_id, pool))
            copies.append(first)
            used_ingested = {first.ingested_at}
            for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
                duplicate = first if draw(st.booleans()) else draw(event_content(event_id, dossier_id, pool))
                shift = timedelta(minutes=draw(st.integers(-3000, 3000)))
                ingested = first.ingested_at + shift
                if ingested in used_ingested:
                    continue
                used_ingested.add(ingested)
                copies.append(replace(duplicate, ingested_at=ingested))
    return copies


@st.composite
def nows(draw: st.DrawFn) -> datetime:
    """A query moment inside the span, often right at a month boundary."""
    return draw(moments()) + timedelta(days=draw(st.sampled_from((0, 0, 0, 20))))
