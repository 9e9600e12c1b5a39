"""The consumer's decoder (adapters/wire.decode_batch: the shared compiled decoder, `shared.contract_codec`, straight
to FactRecord) agrees with the full contract validation (`DossierEvent.model_validate`, then the context rules with
the record's timestamp as the acceptance time) on every record: accept or reject, the error code and its detail,
and the decoded fields. Generated records: tests/unit/shared/event_strategies.py."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.scoring.adapters.wire import decode_batch, record_of_event
from services.scoring.domain.facts import FactRecord
from shared.contract import DossierEvent, ErrorCode, EventRejection
from shared.contract_rules import context_rejection
from tests.unit.scoring.fakes import Record
from tests.unit.shared.event_strategies import EPOCH, EXAMPLES, RECORD_VALUES, unit_exists

pytestmark = pytest.mark.unit


def full_decode(value: bytes, timestamp_ms: int) -> tuple[str, FactRecord] | tuple[str, str]:
    """The full path: the documented pydantic model, then the context rules. (code, detail) when rejected."""
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError:
        return str(ErrorCode.INVALID_JSON), "Bản ghi không phải JSON UTF-8 hợp lệ / record is not valid UTF-8 JSON"
    try:
        event = DossierEvent.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        return first["type"], first.get("ctx", {}).get("detail", first["msg"])
    if event.ingested_at is None:
        event = event.model_copy(update={"ingested_at": EPOCH + timedelta(milliseconds=timestamp_ms)})
    assert event.ingested_at is not None
    rejection = context_rejection(event.event_id, event.unit_id, event.occurred_at, event.ingested_at, unit_exists)
    if rejection is not None:
        return str(rejection.error), rejection.detail
    return record_of_event(event)


def fast_decode(value: bytes, timestamp_ms: int) -> tuple[str, FactRecord] | tuple[str, str]:
    facts, rejected = decode_batch([Record(value, 0, timestamp=timestamp_ms)], unit_exists)
    if facts:
        return facts[0]
    ((_, rejection),) = rejected
    assert isinstance(rejection, EventRejection)
    return str(rejection.error), rejection.detail


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=RECORD_VALUES, timestamp_ms=st.integers(1_400_000_000_000, 2_100_000_000_000))
def test_the_fast_decoder_agrees_with_the_contract_model(value: bytes, timestamp_ms: int) -> None:
    assert fast_decode(value, timestamp_ms) == full_decode(value, timestamp_ms)


def test_a_record_without_value_is_rejected_as_invalid_json() -> None:
    _, ((_, rejection),) = decode_batch([Record(None, 0)], unit_exists)
    assert rejection.error == ErrorCode.INVALID_JSON
