"""Kafka record bytes → the scoring domain's `FactRecord`, in one step (the consumer's hot path).

The shared compiled decoder (`shared.contract_codec.decode_value`: the contract's rules, the same verdicts, codes
and details as `decode_record`) checks each record; its answer is turned into a `FactRecord` at once and goes no
further. `DossierEvent` stays the documented contract model; `record_of_event` converts one for callers that
already hold it (the equivalence test, the alert-volume bench).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from services.scoring.domain.facts import FactRecord, make_record
from services.scoring.domain.timebase import to_instant
from services.scoring.service.ports import Decoded, RawRecord
from shared.contract import VOCABULARIES, DossierEvent, ErrorCode, EventRejection
from shared.contract_codec import decode_value
from shared.contract_records import decode_instants

# Enum members of the contract model → the plain strings the domain keeps (a dict lookup is cheaper than `.value`).
_PLAIN: dict[Any, str] = {member: member.value for enum in VOCABULARIES for member in enum}
_EMPTY = EventRejection(ErrorCode.INVALID_JSON, "Bản ghi rỗng / empty record")


def decode_batch(records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded:
    """Decode records straight to (dossier_id, FactRecord). Invalid records come back with their rejection, in
    order."""
    facts: list[tuple[str, FactRecord]] = []
    rejected: list[tuple[RawRecord, EventRejection]] = []
    fast, append, new = decode_instants, facts.append, tuple.__new__
    for record in records:
        value = record.value
        if value is None:
            rejected.append((record, _EMPTY))
            continue
        decoded = fast(value, record.timestamp, unit_exists)
        if decoded is None:  # a rule failed or a spelling the fast path leaves to the checker: it says why
            outcome = _checked(value, record.timestamp, unit_exists)
            if isinstance(outcome, EventRejection):
                rejected.append((record, outcome))
            else:
                append(outcome)
            continue
        # The contract leaves a field foreign to the type None, so the positional FactRecord is the one
        # `make_record` builds (the equivalence test compares them); absent flags are false.
        # tuple.__new__ with all fields: the named tuple's own __new__ is a Python function (~2.5× the cost).
        fields, occurred, ingested, due = decoded
        append((fields.dossier_id, new(FactRecord, (
            fields.event_id, fields.type, fields.unit_id, occurred, ingested, due, fields.procedure_id,
            fields.channel, fields.digitized is True, fields.reused_data is True, fields.outcome,
            fields.e_result is True, fields.method, fields.amount, fields.level))))  # fmt: skip
    return facts, rejected


def _checked(
    value: bytes, timestamp_ms: int, unit_exists: Callable[[str], bool]
) -> tuple[str, FactRecord] | EventRejection:
    """The compiled decoder with the checker behind it (`decode_value`), its answer as a fact."""
    event = decode_value(value, timestamp_ms, unit_exists=unit_exists)
    if isinstance(event, EventRejection):
        return event
    (event_id, dossier_id, unit_id, kind, occurred, procedure_id, channel, due, digitized, reused_data,
     outcome, e_result, method, amount, level, ingested, _) = event  # fmt: skip
    return dossier_id, FactRecord(
        event_id, kind, unit_id, to_instant(occurred), to_instant(ingested),  # type: ignore[arg-type]
        None if due is None else to_instant(due), procedure_id, channel, digitized is True, reused_data is True,
        outcome, e_result is True, method, amount, level)  # fmt: skip


def record_of_event(event: DossierEvent) -> tuple[str, FactRecord]:
    """(dossier_id, FactRecord) of an event already validated by the contract model (`ingested_at` set)."""
    if event.ingested_at is None:
        raise ValueError(f"event {event.event_id} has no ingested_at")
    fields, plain = vars(event), _PLAIN  # the model's field values, as the checker's dict has them
    get = fields.get
    due = get("due_at")
    channel, outcome, method, level = get("channel"), get("outcome"), get("method"), get("level")
    return event.dossier_id, make_record(
        event.event_id, plain[event.type], event.unit_id, to_instant(event.occurred_at),
        to_instant(event.ingested_at), to_instant(due) if due is not None else None, get("procedure_id"),
        plain.get(channel), get("digitized"), get("reused_data"), plain.get(outcome), get("e_result"),
        plain.get(method), get("amount"), plain.get(level),
    )  # fmt: skip


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
