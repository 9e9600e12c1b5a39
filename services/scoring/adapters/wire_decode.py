"""The consumer's decode loop: Kafka record values → (dossier_id, `FactRecord`), pure, so it joins the compiled group.

`adapters/wire.py` is the service's RecordDecoder and keeps what touches the contract's pydantic model; the loop
over a batch's records runs here, compiled with the domain (services/scoring/compiled.py), so that reading the
decoded fields and building each `FactRecord` are C calls rather than interpreted bytecode per event. The shared
compiled decoder (`shared.contract_records.decode_instants`, the contract's rules, integer instants) answers the
common case; whatever it leaves goes to `decode_value`, which says why (same verdicts, codes and details as
`decode_record`: tests/unit/scoring/test_decoder_equivalence.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from services.scoring.domain.facts import FactRecord
from services.scoring.domain.timebase import to_instant
from services.scoring.service.ports import Decoded, RawRecord
from shared.contract import ErrorCode, EventRejection
from shared.contract_codec import decode_value
from shared.contract_records import decode_instants

_EMPTY: Final = EventRejection(ErrorCode.INVALID_JSON, "Bản ghi rỗng / empty record")
# The named tuple's own __new__ is a Python function (~2.5× the cost of tuple.__new__ with every field given).
_new_record: Final = tuple.__new__


def decode_batch(records: Sequence[RawRecord], unit_exists: Callable[[str], bool]) -> Decoded:
    """Decode records straight to (dossier_id, FactRecord). Invalid records come back with their rejection, in
    order."""
    facts: list[tuple[str, FactRecord]] = []
    rejected: list[tuple[RawRecord, EventRejection]] = []
    known: dict[str, bool] = {}  # unit_exists' answers in this batch: the registry copy does not change during it
    for record in records:
        value = record.value
        if value is None:
            rejected.append((record, _EMPTY))
            continue
        decoded = decode_instants(value, record.timestamp, unit_exists, known)
        if decoded is None:  # a rule failed or a spelling the fast path leaves to the checker: it says why
            outcome = _checked(value, record.timestamp, unit_exists)
            if isinstance(outcome, EventRejection):
                rejected.append((record, outcome))
            else:
                facts.append(outcome)
            continue
        # The contract leaves a field foreign to the type None, so the positional FactRecord is the one
        # `make_record` builds (the equivalence test compares them); absent flags are false. The decoded fields
        # come as a tuple in `contract_records.FIELDS` order, read by position.
        fields = decoded[0]
        occurred, ingested, due = decoded[1], decoded[2], decoded[3]
        fact: FactRecord = _new_record(FactRecord, (
            fields[0], fields[3], fields[2], occurred, ingested, due, fields[5], fields[6], fields[8] is True,
            fields[9] is True, fields[10], fields[11] is True, fields[12], fields[13], fields[14]))  # fmt: skip
        facts.append((fields[1], fact))
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
    if ingested is None:  # decode_value sets it from the record's timestamp when the record has none
        raise ValueError(f"event {event_id} has no ingested_at")
    return dossier_id, FactRecord(
        event_id, kind, unit_id, to_instant(occurred), to_instant(ingested),
        None if due is None else to_instant(due), procedure_id, channel, digitized is True, reused_data is True,
        outcome, e_result is True, method, amount, level)  # fmt: skip


def next_offsets(records: Sequence[RawRecord]) -> dict[tuple[str, int], int]:
    """(topic, partition) → the offset after the batch's last record there (what the subscriber commits once the
    batch's transaction has committed). Here rather than in the subscriber: a pass over every record, compiled."""
    after: dict[tuple[str, int], int] = {}
    for record in records:
        key, offset = (record.topic, record.partition), record.offset + 1
        if offset > after.get(key, 0):
            after[key] = offset
    return after
