"""Kafka record bytes → the scoring domain's `FactRecord`, in one step (the consumer's hot path).

The contract's checker (`shared.contract.decode_record_fields`: the rules of `decode_record`, in the same order,
without building the pydantic model) validates each record; its answer is turned into a `FactRecord` at once and
goes no further. `DossierEvent` stays the HTTP/ingest contract model; `record_of_event` converts one for callers
that already hold it (the equivalence test, the alert-volume bench).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from services.scoring.domain.facts import FactRecord, make_record
from services.scoring.domain.timebase import to_instant
from services.scoring.service.ports import Decoded, RawRecord
from shared.contract import VOCABULARIES, DossierEvent, ErrorCode, EventRejection, decode_record_fields

# Enum members of the contract → the plain strings the domain keeps (a dict lookup is cheaper than `.value`).
_PLAIN: dict[Any, str] = {member: member.value for enum in VOCABULARIES for member in enum}
_EMPTY = EventRejection(ErrorCode.INVALID_JSON, "Bản ghi rỗng / empty record")


def _record_of(fields: dict[str, Any]) -> FactRecord:
    """The checked field values (enum members, aware datetimes) → FactRecord."""
    get, plain = fields.get, _PLAIN
    due = get("due_at")
    channel, outcome, method, level = get("channel"), get("outcome"), get("method"), get("level")
    return make_record(
        get("event_id"),
        plain[get("type")],
        get("unit_id"),
        to_instant(get("occurred_at")),
        to_instant(get("ingested_at")),
        to_instant(due) if due is not None else None,
        get("procedure_id"),
        plain[channel] if channel is not None else None,
        get("digitized"),
        get("reused_data"),
        plain[outcome] if outcome is not None else None,
        get("e_result"),
        plain[method] if method is not None else None,
        get("amount"),
        plain[level] if level is not None else None,
    )


def decode_batch(records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded:
    """Decode records straight to (dossier_id, FactRecord). Invalid records come back with their rejection, in
    order."""
    facts: list[tuple[str, FactRecord]] = []
    rejected: list[tuple[RawRecord, EventRejection]] = []
    record_of = _record_of
    for record in records:
        value = record.value
        if value is None:
            rejected.append((record, _EMPTY))
            continue
        fields = decode_record_fields(value, record.timestamp, unit_exists=unit_exists)
        if isinstance(fields, EventRejection):
            rejected.append((record, fields))
            continue
        facts.append((fields["dossier_id"], record_of(fields)))
    return facts, rejected


def record_of_event(event: DossierEvent) -> tuple[str, FactRecord]:
    """(dossier_id, FactRecord) of an event already validated by the contract model (`ingested_at` set)."""
    if event.ingested_at is None:
        raise ValueError(f"event {event.event_id} has no ingested_at")
    return event.dossier_id, _record_of(vars(event))  # the model's field values, as the checker's dict has them


def unit_named_in(value: bytes | None) -> str | None:
    """The unit_id a (valid but for its unit) record names: what a pending dead letter waits for."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        unit_id = orjson.loads(value or b"null").get("unit_id")
        return unit_id if isinstance(unit_id, str) else None
    return None


class ContractDecoder:
    """The RecordDecoder of the service: the contract's rules on raw Kafka records."""

    def decode(self, records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded:
        return decode_batch(records, unit_exists)

    def unit_named_in(self, record: RawRecord) -> str | None:
        return unit_named_in(record.value)
