"""Kafka record bytes → the scoring domain's `FactRecord`, in one step (the consumer's hot path).

The shared compiled decoder (`shared.contract_codec.decode_value`: the contract's rules, the same verdicts, codes
and details as `decode_record`) checks each record; its answer is turned into a `FactRecord` at once and goes no
further — that loop is `adapters/wire_decode.py`, compiled with the domain. `DossierEvent` stays the documented
contract model; `record_of_event` converts one for callers that already hold it (the equivalence test, the
alert-volume bench).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from services.scoring.adapters.wire_decode import decode_batch  # the loop, compiled with the domain
from services.scoring.domain.facts import FactRecord, make_record
from services.scoring.domain.timebase import to_instant
from services.scoring.service.ports import Decoded, RawRecord
from shared.contract import VOCABULARIES, DossierEvent

# Enum members of the contract model → the plain strings the domain keeps (a dict lookup is cheaper than `.value`).
_PLAIN: dict[Any, str] = {member: member.value for enum in VOCABULARIES for member in enum}


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
