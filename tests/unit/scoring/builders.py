"""Small builders for example-based tests: times written as Vietnam wall-clock text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.unit.scoring.events import EventFact

VIETNAM = timezone(timedelta(hours=7))


def vn(text: str) -> datetime:
    """'2024-07-31 23:59:59' (Vietnam time) → aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def fact(
    event_id: str,
    kind: str,
    at: str | datetime,
    *,
    unit: str = "U1",
    dossier: str = "D1",
    ingested: str | datetime | None = None,
    **fields: Any,
) -> EventFact:
    occurred = vn(at) if isinstance(at, str) else at
    if ingested is None:
        ingested_at = occurred + timedelta(minutes=1)
    else:
        ingested_at = vn(ingested) if isinstance(ingested, str) else ingested
    if isinstance(fields.get("due_at"), str):
        fields["due_at"] = vn(fields["due_at"])
    return EventFact(
        event_id=event_id,
        dossier_id=dossier,
        unit_id=unit,
        type=kind,
        occurred_at=occurred,
        ingested_at=ingested_at,
        **fields,
    )


def received(
    event_id: str, at: str, due: str, *, unit: str = "U1", dossier: str = "D1", channel: str = "direct", **fields: Any
) -> EventFact:
    return fact(event_id, "received", at, unit=unit, dossier=dossier, channel=channel, due_at=due, **fields)
