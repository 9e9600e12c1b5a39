"""The dossier event contract (SPEC §2): every rule, every error code, boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.contract import (
    Channel,
    DossierEvent,
    ErrorCode,
    EventRejection,
    EventType,
    Outcome,
    decode_record,
    encode_event,
    parse_event,
    validate_event,
)

VN = timezone(timedelta(hours=7))
NOW = datetime(2024, 7, 15, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi
UNITS = {"H26", "H26.HK", "H26.HK.HB"}


def unit_exists(unit_id: str) -> bool:
    return unit_id in UNITS


def received(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": "evt-0001",
        "dossier_id": "000.00.01.H26-240715-0001",
        "unit_id": "H26.HK",
        "type": "received",
        "occurred_at": "2024-07-15T09:30:00+07:00",
        "channel": "online",
        "due_at": "2024-07-29T17:00:00+07:00",
    }
    event.update(overrides)
    return event


def of_type(event_type: str, **fields: Any) -> dict[str, Any]:
    base = received(type=event_type)
    del base["channel"], base["due_at"]
    base.update(fields)
    return base


def check(raw: object) -> DossierEvent | EventRejection:
    return validate_event(raw, now=NOW, unit_exists=unit_exists)


def rejection(raw: object) -> EventRejection:
    outcome = check(raw)
    assert isinstance(outcome, EventRejection), outcome
    return outcome


VALID_OF_EACH_TYPE = [
    received(),
    of_type("supplement_requested"),
    of_type("supplement_received"),
    of_type("supplement_received", due_at="2024-08-01T17:00:00+07:00"),
    of_type("paused"),
    of_type("resumed", due_at="2024-08-01T17:00:00+07:00"),
    of_type("resolved", outcome="refused"),
    of_type("returned"),
    of_type("withdrawn"),
    of_type("payment", method="counter", amount=0),
    of_type("payment", method="online"),
    of_type("rating", level="dissatisfied"),
]


@pytest.mark.parametrize("raw", VALID_OF_EACH_TYPE, ids=lambda raw: raw["type"])
def test_valid_event_of_every_type_is_accepted(raw: dict[str, Any]) -> None:
    event = check(raw)
    assert isinstance(event, DossierEvent)
    assert event.type == EventType(raw["type"])
    assert event.occurred_at == datetime(2024, 7, 15, 9, 30, tzinfo=VN)
    assert event.ingested_at is None


def test_every_event_type_is_covered() -> None:
    assert {raw["type"] for raw in VALID_OF_EACH_TYPE} == {t.value for t in EventType}


def test_defaults_false_on_received_and_resolved_only() -> None:
    event = check(received())
    assert isinstance(event, DossierEvent)
    assert (event.digitized, event.reused_data, event.e_result) == (False, False, None)
    resolved = check(of_type("resolved", outcome="approved"))
    assert isinstance(resolved, DossierEvent)
    assert resolved.outcome is Outcome.APPROVED and resolved.e_result is False and resolved.digitized is None


def test_explicit_flags_are_kept() -> None:
    event = check(received(digitized=True, reused_data=True, channel="postal"))
    assert isinstance(event, DossierEvent)
    assert event.digitized and event.reused_data and event.channel is Channel.POSTAL


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({k: v for k, v in received().items() if k != "event_id"}, "event_id"),
        ({k: v for k, v in received().items() if k != "dossier_id"}, "dossier_id"),
        ({k: v for k, v in received().items() if k != "unit_id"}, "unit_id"),
        ({k: v for k, v in received().items() if k != "type"}, "type"),
        ({k: v for k, v in received().items() if k != "occurred_at"}, "occurred_at"),
        ({k: v for k, v in received().items() if k != "channel"}, "channel"),
        ({k: v for k, v in received().items() if k != "due_at"}, "due_at"),
        (received(due_at=None), "due_at"),
        (of_type("resolved"), "outcome"),
        (of_type("payment", amount=10), "method"),
        (of_type("rating"), "level"),
    ],
)
def test_missing_required_field(raw: dict[str, Any], field: str) -> None:
    outcome = rejection(raw)
    assert outcome.error is ErrorCode.MISSING_FIELD
    assert outcome.field == field
    assert outcome.detail == f"Thiếu trường bắt buộc '{field}' / missing required field '{field}'"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (received(event_id="x" * 129), "event_id"),
        (received(event_id=""), "event_id"),
        (received(event_id="evt 1"), "event_id"),
        (received(event_id=12), "event_id"),
        (received(event_id="evt-0001\n"), "event_id"),
        (received(unit_id="H26.HK\n"), "unit_id"),
        (received(dossier_id="HS-01\t"), "dossier_id"),
        (received(dossier_id="x" * 65), "dossier_id"),
        (received(dossier_id=""), "dossier_id"),
        (received(dossier_id="HS\n01"), "dossier_id"),
        (received(unit_id="H26/HK"), "unit_id"),
        (received(unit_id="u" * 65), "unit_id"),
        (received(procedure_id="p" * 33), "procedure_id"),
        (received(procedure_id=""), "procedure_id"),
        (received(channel="email"), "channel"),
        (received(channel="ONLINE"), "channel"),
        (received(digitized="true"), "digitized"),
        (received(reused_data=1), "reused_data"),
        (of_type("resolved", outcome="accepted"), "outcome"),
        (of_type("resolved", outcome="approved", e_result="false"), "e_result"),
        (of_type("payment", method="cash"), "method"),
        (of_type("payment", method="online", amount=-1), "amount"),
        (of_type("payment", method="online", amount=10.0), "amount"),
        (of_type("payment", method="online", amount=True), "amount"),
        (of_type("payment", method="online", amount="100"), "amount"),
        (of_type("rating", level=5), "level"),
        (received(occurred_at=1721010600), "occurred_at"),
        (received(occurred_at="15/07/2024 09:30"), "occurred_at"),
        (received(occurred_at="2024-07-15T09:30:00+0700"), "occurred_at"),
        (received(occurred_at="2024-02-30T09:30:00+07:00"), "occurred_at"),
        (received(occurred_at="2024-07-15T09:30+07:00"), "occurred_at"),
        (received(due_at="tomorrow"), "due_at"),
    ],
)
def test_invalid_field(raw: dict[str, Any], field: str) -> None:
    outcome = rejection(raw)
    assert (outcome.error, outcome.field) == (ErrorCode.INVALID_FIELD, field)
    assert " / " in outcome.detail and field in outcome.detail


def test_event_id_of_128_chars_is_accepted() -> None:
    assert isinstance(check(received(event_id="a:b.c_d-" * 16)), DossierEvent)


def test_dossier_id_allows_vietnamese_and_spaces() -> None:
    event = check(received(dossier_id="Hồ sơ số 12/2024 — Đống Đa"))
    assert isinstance(event, DossierEvent) and event.dossier_id == "Hồ sơ số 12/2024 — Đống Đa"


@pytest.mark.parametrize("value", ["submitted", "RECEIVED", 3, ["received"]])
def test_unknown_type(value: object) -> None:
    outcome = rejection(received(type=value))
    assert outcome.error is ErrorCode.UNKNOWN_TYPE and outcome.event_id == "evt-0001"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (received(outcome="approved"), "outcome"),
        (received(e_result=True), "e_result"),
        (of_type("payment", method="online", due_at="2024-08-01T00:00:00+07:00"), "due_at"),
        (of_type("resolved", outcome="approved", digitized=False), "digitized"),
        (of_type("supplement_requested", due_at="2024-08-01T00:00:00+07:00"), "due_at"),
        (of_type("rating", level="satisfied", amount=0), "amount"),
        (of_type("returned", channel="online"), "channel"),
    ],
)
def test_field_of_another_type_is_not_allowed(raw: dict[str, Any], field: str) -> None:
    outcome = rejection(raw)
    assert (outcome.error, outcome.field) == (ErrorCode.FIELD_NOT_ALLOWED, field)


def test_null_optional_field_counts_as_absent() -> None:
    assert isinstance(check(of_type("paused", outcome=None, procedure_id=None)), DossierEvent)


@pytest.mark.parametrize("field", ["occurred_at", "due_at"])
def test_naive_time_requires_timezone(field: str) -> None:
    outcome = rejection(received(**{field: "2024-07-15T09:30:00"}))
    assert (outcome.error, outcome.field) == (ErrorCode.TIMEZONE_REQUIRED, field)


@pytest.mark.parametrize(
    "text",
    [
        "2024-07-15T02:30:00Z",
        "2024-07-15t02:30:00z",
        "2024-07-15T09:30:00.123456789+07:00",
        "2024-07-15T02:30:00-00:00",
    ],
)
def test_rfc3339_variants_are_accepted(text: str) -> None:
    event = check(received(occurred_at=text))
    assert isinstance(event, DossierEvent)
    assert abs(event.occurred_at - datetime(2024, 7, 15, 2, 30, tzinfo=UTC)) < timedelta(seconds=1)


def test_offset_is_kept_not_converted() -> None:
    event = check(received(occurred_at="2024-07-15T04:30:00+02:00"))
    assert isinstance(event, DossierEvent)
    assert event.occurred_at.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("due", ["2024-07-15T09:30:00+07:00", "2024-07-15T02:30:00Z", "2024-07-15T09:29:59+07:00"])
def test_due_must_be_strictly_after_occurrence(due: str) -> None:
    outcome = rejection(received(due_at=due))
    assert (outcome.error, outcome.field) == (ErrorCode.DUE_NOT_AFTER_OCCURRENCE, "due_at")


def test_due_one_second_after_occurrence_is_accepted() -> None:
    assert isinstance(check(received(due_at="2024-07-15T09:30:01+07:00")), DossierEvent)


def test_exactly_five_minutes_in_the_future_is_accepted() -> None:
    assert isinstance(check(received(occurred_at="2024-07-15T10:05:00+07:00")), DossierEvent)


def test_five_minutes_and_one_second_in_the_future_is_rejected() -> None:
    outcome = rejection(received(occurred_at="2024-07-15T10:05:01+07:00"))
    assert (outcome.error, outcome.field, outcome.event_id) == (ErrorCode.OCCURRED_IN_FUTURE, "occurred_at", "evt-0001")


def test_unknown_unit() -> None:
    outcome = rejection(received(unit_id="H26.XX"))
    assert (outcome.error, outcome.field) == (ErrorCode.UNKNOWN_UNIT, "unit_id")
    assert "H26.XX" in outcome.detail


@pytest.mark.parametrize("raw", [[received()], "event", 42, None])
def test_not_an_object(raw: object) -> None:
    outcome = rejection(raw)
    assert outcome.error is ErrorCode.NOT_AN_OBJECT and outcome.event_id is None


def test_rejection_carries_event_id_only_when_readable() -> None:
    assert rejection(received(channel="fax")).event_id == "evt-0001"
    assert rejection(received(event_id="bad id", channel="fax")).event_id is None


def test_first_error_in_documented_order_wins() -> None:
    # Bad type, missing dossier_id and a naive time at once: the type is checked first.
    raw = received(type="nope", occurred_at="2024-07-15T09:30:00")
    del raw["dossier_id"]
    assert rejection(raw).error is ErrorCode.UNKNOWN_TYPE
    assert [rejection(raw) for _ in range(3)] == [rejection(raw)] * 3


def test_client_ingested_at_is_ignored_over_http() -> None:
    event = check(received(ingested_at="not a time at all"))
    assert isinstance(event, DossierEvent) and event.ingested_at is None


def test_naive_reference_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_event(received(), now=datetime(2024, 7, 15), unit_exists=unit_exists)


def test_rejection_item_has_exactly_the_spec_shape() -> None:
    item = rejection(received(channel="fax")).as_item(7)
    assert set(item) == {"index", "event_id", "error", "detail"}
    assert item["index"] == 7 and item["error"] == "invalid_field"
    assert orjson.loads(orjson.dumps(item)) == item


# --- the pydantic model agrees with the fast path -------------------------------------------------------------


def test_model_validate_equals_fast_path_for_valid_events() -> None:
    for raw in VALID_OF_EACH_TYPE:
        assert DossierEvent.model_validate(raw) == parse_event(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (received(outcome="approved"), "field_not_allowed"),
        (received(due_at="2024-07-01T00:00:00+07:00"), "due_not_after_occurrence"),
        (received(occurred_at="2024-07-15T09:30:00"), "timezone_required"),
        ({"type": "received"}, "missing_field"),
    ],
)
def test_model_validate_raises_with_the_same_code(raw: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DossierEvent.model_validate(raw)
    assert caught.value.errors()[0]["type"] == code


def test_schema_documents_every_field() -> None:
    schema = DossierEvent.model_json_schema()
    assert schema["additionalProperties"] is True
    assert set(schema["required"]) == {"event_id", "dossier_id", "unit_id", "type", "occurred_at"}
    for name, spec in schema["properties"].items():
        assert spec.get("description"), name


# --- wire format ------------------------------------------------------------------------------------------------


def accepted(raw: dict[str, Any]) -> DossierEvent:
    event = check(raw)
    assert isinstance(event, DossierEvent), event
    return event


def test_encode_stamps_utc_ingested_at_and_keeps_offsets() -> None:
    event = accepted(received())
    wire = orjson.loads(encode_event(event, datetime(2024, 7, 15, 10, 0, 0, 250000, tzinfo=VN)))
    assert wire["ingested_at"] == "2024-07-15T03:00:00.250000Z"
    assert wire["occurred_at"] == "2024-07-15T09:30:00+07:00"
    assert wire["due_at"] == "2024-07-29T17:00:00+07:00"
    assert wire["digitized"] is False and "outcome" not in wire


def test_encode_replaces_a_previous_ingested_at() -> None:
    decoded = decode_record(orjson.dumps(received(ingested_at="2024-07-15T02:40:00Z")), 0, unit_exists=unit_exists)
    assert isinstance(decoded, DossierEvent)
    wire = orjson.loads(encode_event(decoded, NOW))
    assert wire["ingested_at"] == "2024-07-15T03:00:00Z"


def test_extra_fields_are_kept_on_the_wire_and_back() -> None:
    extras = {"ghi_chu": "Hồ sơ đã được bổ sung đầy đủ", "nested": {"a": [1, 2.5, None, True]}, "n": 2**70}
    event = accepted(received(**extras))
    assert event.extra_fields == extras
    value = encode_event(event, NOW)
    decoded = decode_record(value, 0, unit_exists=unit_exists)
    assert isinstance(decoded, DossierEvent)
    assert decoded.extra_fields["ghi_chu"] == extras["ghi_chu"]
    assert decoded.extra_fields["nested"] == extras["nested"]


def test_vietnamese_round_trips_as_raw_utf8() -> None:
    event = accepted(received(dossier_id="Phường Hàng Bạc — 01", ten_thu_tuc="Cấp phiếu lý lịch tư pháp"))
    value = encode_event(event, NOW)
    assert "Phường Hàng Bạc".encode() in value and b"\\u" not in value
    decoded = decode_record(value, 0, unit_exists=unit_exists)
    assert isinstance(decoded, DossierEvent)
    assert decoded.dossier_id == "Phường Hàng Bạc — 01"
    assert decoded.extra_fields == {"ten_thu_tuc": "Cấp phiếu lý lịch tư pháp"}


def test_encode_rejects_a_naive_ingested_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_event(accepted(received()), datetime(2024, 7, 15))


# --- Kafka decoding -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"{", b"", b"\xff\xfe{}", b'{"event_id": "\xc3"}', b"[1,2"])
def test_decode_invalid_json(value: bytes) -> None:
    outcome = decode_record(value, 0, unit_exists=unit_exists)
    assert isinstance(outcome, EventRejection) and outcome.error is ErrorCode.INVALID_JSON


def test_decode_json_that_is_not_an_object() -> None:
    outcome = decode_record(b"[1]", 0, unit_exists=unit_exists)
    assert isinstance(outcome, EventRejection) and outcome.error is ErrorCode.NOT_AN_OBJECT


def test_decode_without_ingested_at_uses_the_record_timestamp() -> None:
    stamp_ms = int(datetime(2024, 7, 15, 3, 0, 0, 123000, tzinfo=UTC).timestamp() * 1000)
    event = decode_record(orjson.dumps(received()), stamp_ms, unit_exists=unit_exists)
    assert isinstance(event, DossierEvent)
    assert event.ingested_at == datetime(2024, 7, 15, 3, 0, 0, 123000, tzinfo=UTC)


def test_decode_applies_the_future_rule_to_its_own_ingested_at_not_the_clock() -> None:
    old = received(occurred_at="2019-03-01T08:00:00+07:00", due_at="2019-03-15T17:00:00+07:00")
    replayed = decode_record(orjson.dumps({**old, "ingested_at": "2019-03-01T01:05:00Z"}), 0, unit_exists=unit_exists)
    assert isinstance(replayed, DossierEvent)
    too_early = decode_record(orjson.dumps({**old, "ingested_at": "2019-03-01T00:54:59Z"}), 0, unit_exists=unit_exists)
    assert isinstance(too_early, EventRejection) and too_early.error is ErrorCode.OCCURRED_IN_FUTURE


def test_decode_validates_a_producer_ingested_at() -> None:
    outcome = decode_record(orjson.dumps(received(ingested_at="2024-07-15 03:00")), 0, unit_exists=unit_exists)
    assert isinstance(outcome, EventRejection) and (outcome.error, outcome.field) == (
        ErrorCode.INVALID_FIELD,
        "ingested_at",
    )


def test_decode_checks_the_unit() -> None:
    stamp_ms = int(NOW.timestamp() * 1000)
    outcome = decode_record(orjson.dumps(received(unit_id="H99")), stamp_ms, unit_exists=unit_exists)
    assert isinstance(outcome, EventRejection) and outcome.error is ErrorCode.UNKNOWN_UNIT
    assert outcome.as_dict()["event_id"] == "evt-0001"
