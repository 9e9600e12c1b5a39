"""The consumer's fast decoder (adapters/wire.decode_batch: the contract's checker without the pydantic model,
straight to FactRecord) agrees with the full contract validation (`DossierEvent.model_validate`, then the context
rules with the record's timestamp as the acceptance time) on every record: accept or reject, the error code and
its detail, and the decoded fields. Generated records are valid events of every type and the same events broken
one way or another (a field dropped, a value replaced, a field of another type, an unregistered unit, a time in
the future or without offset, bytes that are no JSON object)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.scoring.adapters.wire import decode_batch, record_of_event
from services.scoring.domain.facts import FactRecord
from shared.contract import DossierEvent, ErrorCode, EventRejection, EventType
from shared.contract_rules import context_rejection
from tests.unit.scoring.fakes import Record

pytestmark = pytest.mark.unit

REGISTERED = frozenset({"U1", "HN.BD", "x-9"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = ("event_id", "dossier_id", "unit_id", "type", "occurred_at", "procedure_id", "channel", "due_at",
          "digitized", "reused_data", "outcome", "e_result", "method", "amount", "level", "ingested_at")  # fmt: skip
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30))])
MOMENTS = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=OFFSETS)
INT64 = st.integers(-(2**63), 2**63 - 1)  # what JSON numbers orjson writes
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), INT64, st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.lists(INT64, max_size=2), st.dictionaries(st.text(max_size=3), INT64, max_size=2),
    st.sampled_from(["2026-09-02T09:00:00", "2026-02-30T09:00:00Z", "2026-09-02 09:00:00+07:00", "online",
                     "approved", "very_satisfied", "counter", "received", "U1"]),
)  # fmt: skip


def unit_exists(unit_id: str) -> bool:
    return unit_id in REGISTERED


def rfc3339(moment: datetime, zulu: bool) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(EventType)))
    occurred = draw(MOMENTS)
    zulu = draw(st.booleans())
    event: dict[str, Any] = {
        "event_id": draw(st.from_regex(r"[A-Za-z0-9._:-]{1,24}", fullmatch=True)),
        "dossier_id": draw(st.text(st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=12)),
        "unit_id": draw(st.sampled_from(sorted(REGISTERED))),
        "type": kind.value,
        "occurred_at": rfc3339(occurred, zulu),
    }
    if draw(st.booleans()):
        event["procedure_id"] = draw(st.from_regex(r"[0-9.]{1,12}", fullmatch=True))
    due = rfc3339(occurred + draw(st.timedeltas(timedelta(minutes=1), timedelta(days=90))), zulu)
    if kind is EventType.RECEIVED:
        event |= {"channel": draw(st.sampled_from(["online", "direct", "postal"])), "due_at": due}
        event |= draw(st.fixed_dictionaries({}, optional={"digitized": st.booleans(), "reused_data": st.booleans()}))
    elif kind in (EventType.SUPPLEMENT_RECEIVED, EventType.RESUMED) and draw(st.booleans()):
        event["due_at"] = due
    elif kind is EventType.RESOLVED:
        event["outcome"] = draw(st.sampled_from(["approved", "refused"]))
        event |= draw(st.fixed_dictionaries({}, optional={"e_result": st.booleans()}))
    elif kind is EventType.PAYMENT:
        event["method"] = draw(st.sampled_from(["online", "counter"]))
        event |= draw(st.fixed_dictionaries({}, optional={"amount": st.integers(0, 10**12)}))
    elif kind is EventType.RATING:
        event["level"] = draw(st.sampled_from(["very_satisfied", "satisfied", "dissatisfied"]))
    if draw(st.booleans()):  # a trusted producer's stamp; up to a day before the event (the future rule)
        event["ingested_at"] = rfc3339(occurred + draw(st.timedeltas(timedelta(days=-1), timedelta(days=3))), True)
    if draw(st.booleans()):
        event["note"] = draw(JSON_VALUES)  # extra fields are kept, never checked
    return event


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_events())
    how = draw(st.sampled_from(["drop", "replace", "foreign", "unit", "future", "naive"]))
    if how == "drop":
        del event[draw(st.sampled_from(sorted(event)))]
    elif how == "replace":
        event[draw(st.sampled_from(FIELDS))] = draw(JSON_VALUES)
    elif how == "foreign":  # a field of another type
        event[draw(st.sampled_from(FIELDS[6:15]))] = draw(JSON_VALUES)
    elif how == "unit":
        event["unit_id"] = draw(st.sampled_from(["U2", "HN.XX", "bad unit", ""]))
    elif how == "future":
        occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        event["ingested_at"] = rfc3339(occurred - draw(st.timedeltas(timedelta(minutes=4), timedelta(days=2))), True)
    else:
        event[draw(st.sampled_from(["occurred_at", "due_at", "ingested_at"]))] = "2026-09-02T09:00:00"
    return event


RECORD_VALUES = st.one_of(
    valid_events().map(orjson.dumps),
    broken_events().map(orjson.dumps),
    st.sampled_from([b"", b"{not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b"{}"]),
)


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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=RECORD_VALUES, timestamp_ms=st.integers(1_400_000_000_000, 2_100_000_000_000))
def test_the_fast_decoder_agrees_with_the_contract_model(value: bytes, timestamp_ms: int) -> None:
    assert fast_decode(value, timestamp_ms) == full_decode(value, timestamp_ms)


def test_a_record_without_value_is_rejected_as_invalid_json() -> None:
    _, ((_, rejection),) = decode_batch([Record(None, 0)], unit_exists)
    assert rejection.error == ErrorCode.INVALID_JSON
