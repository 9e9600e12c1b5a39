"""Events as the tests write them: SPEC §2 field names and aware datetimes, converted to the domain's one event
form, (dossier_id, FactRecord), exactly as the consumer's decoder converts a record (adapters/wire.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.scoring.domain.apply import AncestorLookup, BatchOutcome, StoredDossier, apply_records
from services.scoring.domain.facts import DUE_CARRYING_TYPES, FactRecord, make_record
from services.scoring.domain.state import DossierState
from services.scoring.domain.state import merge as merge_pairs
from services.scoring.domain.timebase import Instant, to_instant


@dataclass(frozen=True, slots=True)
class EventFact:
    """One dossier status event (SPEC §2). Times must be timezone-aware."""

    event_id: str
    dossier_id: str
    unit_id: str
    type: str
    occurred_at: datetime
    ingested_at: datetime
    procedure_id: str | None = None
    channel: str | None = None
    due_at: datetime | None = None
    digitized: bool = False
    reused_data: bool = False
    outcome: str | None = None
    e_result: bool = False
    method: str | None = None
    amount: int | None = None
    level: str | None = None


def record_from_fact(fact: EventFact) -> FactRecord:
    due = fact.due_at if fact.type in DUE_CARRYING_TYPES else None
    return make_record(
        fact.event_id,
        fact.type,
        fact.unit_id,
        to_instant(fact.occurred_at),
        to_instant(fact.ingested_at),
        to_instant(due) if due is not None else None,
        fact.procedure_id,
        fact.channel,
        fact.digitized,
        fact.reused_data,
        fact.outcome,
        fact.e_result,
        fact.method,
        fact.amount,
        fact.level,
    )


def pairs(facts: Iterable[EventFact]) -> list[tuple[str, FactRecord]]:
    return [(fact.dossier_id, record_from_fact(fact)) for fact in facts]


def merge(facts: Iterable[EventFact], base: DossierState | None = None) -> DossierState:
    return merge_pairs(pairs(facts), base)


def apply_facts(
    facts: Iterable[EventFact],
    stored: Mapping[str, StoredDossier],
    *,
    now: datetime | Instant,
    ancestors: AncestorLookup,
) -> BatchOutcome:
    return apply_records(pairs(facts), stored, now=now, ancestors=ancestors)
