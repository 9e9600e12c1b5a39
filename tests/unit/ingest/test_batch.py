"""Whole-request validation: JSON arrays, NDJSON, limits, scope, the SPEC §7 response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.ingest.domain.api_keys import KeyScope, scope_checker
from services.ingest.domain.batch import (
    MAX_BATCH_ITEMS,
    BatchError,
    BatchTooLargeError,
    parse_json_array,
    parse_ndjson,
    validate_batch,
)
from shared.units import UnitRegistry

NOW = datetime(2024, 7, 15, 3, 0, tzinfo=UTC)


def event(event_id: str, unit_id: str = "H26.HK.HB", **overrides: Any) -> dict[str, Any]:
    raw = {
        "event_id": event_id,
        "dossier_id": f"HS-{event_id}",
        "unit_id": unit_id,
        "type": "received",
        "occurred_at": "2024-07-15T08:00:00+07:00",
        "channel": "direct",
        "due_at": "2024-07-20T17:00:00+07:00",
    }
    raw.update(overrides)
    return raw


def test_json_array_parsing() -> None:
    assert parse_json_array(b"[]") == []
    assert parse_json_array(orjson.dumps([event("a")])) == [event("a")]


@pytest.mark.parametrize(("body", "code"), [(b"[{", "invalid_json"), (b'{"event_id": "a"}', "not_an_array")])
def test_unusable_body_is_a_batch_error(body: bytes, code: str) -> None:
    with pytest.raises(BatchError) as caught:
        parse_json_array(body)
    assert caught.value.code == code and caught.value.status == 400
    assert caught.value.as_body()["error"] == code


def test_exactly_the_limit_is_fine_one_more_is_413() -> None:
    assert len(parse_json_array(orjson.dumps([{}] * MAX_BATCH_ITEMS))) == MAX_BATCH_ITEMS
    with pytest.raises(BatchTooLargeError) as caught:
        parse_json_array(orjson.dumps([{}] * (MAX_BATCH_ITEMS + 1)))
    assert caught.value.status == 413 and caught.value.code == "batch_too_large" and "5001" in caught.value.detail
    with pytest.raises(BatchTooLargeError):
        parse_ndjson(b"{}\n" * (MAX_BATCH_ITEMS + 1))
    with pytest.raises(BatchTooLargeError):
        validate_batch([{}] * (MAX_BATCH_ITEMS + 1), now=NOW, unit_exists=lambda _: True)
    assert len(parse_ndjson(b"{}\n" * MAX_BATCH_ITEMS + b"\n\n")) == MAX_BATCH_ITEMS


def test_ndjson_lines_blank_lines_and_bad_lines(registry: UnitRegistry) -> None:
    body = b"\n".join(
        [
            orjson.dumps(event("a")),
            b"",
            b"   ",
            b"{not json",
            orjson.dumps(event("b")) + b"\r",
            b'{"event_id": "c", "bad": "\xff"}',
            b"[1, 2]",
        ]
    )
    result = validate_batch(parse_ndjson(body), now=NOW, unit_exists=registry.exists)
    assert [(item.index, item.event.event_id) for item in result.accepted] == [(0, "a"), (2, "b")]
    assert [(r["index"], r["error"]) for r in result.rejected] == [
        (1, "invalid_json"),
        (3, "invalid_json"),
        (4, "not_an_object"),
    ]


def test_mixed_batch_accepts_the_valid_ones_in_order(registry: UnitRegistry) -> None:
    items = [
        event("ok-1"),
        event("bad-due", due_at="2024-07-15T08:00:00+07:00"),
        event("ok-2", unit_id="H26.DD"),
        event("ghost", unit_id="H26.XX"),
        "not an event",
        event("ok-3"),
    ]
    result = validate_batch(items, now=NOW, unit_exists=registry.exists)
    assert [item.event.event_id for item in result.accepted] == ["ok-1", "ok-2", "ok-3"]
    assert [item.index for item in result.accepted] == [0, 2, 5]
    assert result.rejected == [
        {
            "index": 1,
            "event_id": "bad-due",
            "error": "due_not_after_occurrence",
            "detail": "Hạn trả 'due_at' phải sau thời điểm 'occurred_at' / 'due_at' must be later than 'occurred_at'",
        },
        {
            "index": 3,
            "event_id": "ghost",
            "error": "unknown_unit",
            "detail": "Đơn vị 'H26.XX' không có trong danh mục / unit 'H26.XX' is not in the registry",
        },
        {
            "index": 4,
            "event_id": None,
            "error": "not_an_object",
            "detail": "Sự kiện phải là một đối tượng JSON / an event must be a JSON object",
        },
    ]
    assert result.response() == {"accepted": 3, "rejected": result.rejected}
    assert [e.event_id for e in result.events] == ["ok-1", "ok-2", "ok-3"]


def test_units_outside_the_key_scope_are_forbidden(registry: UnitRegistry) -> None:
    in_scope = scope_checker(KeyScope(frozenset({"H26.HK"})), registry)
    items = [event("inside"), event("district", unit_id="H26.HK"), event("outside", unit_id="H26.DD.VM")]
    result = validate_batch(items, now=NOW, unit_exists=registry.exists, in_scope=in_scope)
    assert [item.event.event_id for item in result.accepted] == ["inside", "district"]
    assert [(r["index"], r["event_id"], r["error"]) for r in result.rejected] == [(2, "outside", "forbidden_unit")]
    assert "H26.DD.VM" in result.rejected[0]["detail"]


def test_an_unknown_unit_is_unknown_even_for_a_scoped_key(registry: UnitRegistry) -> None:
    in_scope = scope_checker(KeyScope(frozenset({"H26.HK"})), registry)
    result = validate_batch([event("x", unit_id="H26.ZZ")], now=NOW, unit_exists=registry.exists, in_scope=in_scope)
    assert result.rejected[0]["error"] == "unknown_unit"
