"""The one-pass path of a body (`validate_json_body`: msgspec decodes the whole JSON array, or each NDJSON line,
into contract items, `wire_item` checks and encodes each) answers exactly as the item-by-item path it falls back to
(`parse_json_array` or `parse_ndjson` + `validate_batch` + `encode_checked`): the same accepted indices,
rejections, records (bytes) and `redirected` entries, or the same whole-body error — over generated bodies, with
byte-level twists (repeated keys, escaped keys, lone surrogates, a BOM, invalid UTF-8) that JSON parsers are known
to read differently."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.batch import (
    BatchError,
    BatchResult,
    EventsBody,
    parse_json_array,
    parse_ndjson,
    redirections,
    validate_batch,
    validate_json_body,
)
from services.ingest.service.accept_events import records_within_limit
from shared.contract_codec import _canonical, _time
from shared.contract_rules import MAX_FUTURE_SKEW
from tests.unit.shared.event_strategies import EXAMPLES, MOMENTS, broken_events, unit_exists, valid_events

pytestmark = pytest.mark.unit

MAX_BYTES = 1_000_000
# Mostly plain valid events (no extra field: the one-pass path takes those), then anything the other tests send.
PLAIN = valid_events().map(lambda event: {name: value for name, value in event.items() if name != "note"})
ITEMS = st.lists(
    st.one_of(PLAIN, PLAIN, PLAIN, valid_events(), broken_events(), st.sampled_from([[1], "x", None, 7])),
    max_size=6,
)
TWISTS = [
    lambda body: body,
    lambda body: body.replace(b'"unit_id":', b'"unit_id":"HN.BD","unit_id":', 1),  # a repeated key: the last wins
    lambda body: body.replace(b'"type":', b'"typ\\u0065":', 1),  # an escaped key
    lambda body: body.replace(b'"dossier_id":"', b'"dossier_id":"\\ud800', 1),  # a lone surrogate
    lambda body: body.replace(b'"dossier_id":"', b'"dossier_id":"\\ud83d\\ude00', 1),  # a surrogate pair
    lambda body: body.replace(b'"dossier_id":"', b'"dossier_id":"\xff', 1),  # invalid UTF-8
    lambda body: b"\xef\xbb\xbf" + body,  # a byte-order mark
    lambda body: b" \n" + body + b"\t\n",
    lambda body: body[:-1],  # truncated
    lambda body: body.replace(b'"amount":', b'"amount":1.0,"x":', 1),
]


def in_scope(unit_id: str) -> bool:
    return unit_id != "x-9"


def effective_unit(unit_id: str, day: date) -> str:
    return unit_id if day.day % 2 else f"{unit_id}.successor"


def answers(result: BatchResult, now: datetime) -> tuple[Any, ...]:
    records, rejected, written = records_within_limit(result, now, MAX_BYTES)
    return rejected, records, redirections(written, effective_unit)


def outcome(validate: Any, body: bytes, now: datetime) -> tuple[Any, ...]:
    try:
        return answers(validate(body, now), now)
    except BatchError as error:
        return error.code, error.detail, error.status


def one_pass(body: bytes, now: datetime) -> BatchResult:
    return validate_json_body(EventsBody(body), now=now, unit_exists=unit_exists, in_scope=in_scope)


def item_by_item(body: bytes, now: datetime) -> BatchResult:
    return validate_batch(parse_json_array(body), now=now, unit_exists=unit_exists, in_scope=in_scope)


def one_pass_ndjson(body: bytes, now: datetime) -> BatchResult:
    return validate_json_body(EventsBody(body, ndjson=True), now=now, unit_exists=unit_exists, in_scope=in_scope)


def line_by_line(body: bytes, now: datetime) -> BatchResult:
    return validate_batch(parse_ndjson(body), now=now, unit_exists=unit_exists, in_scope=in_scope)


NOWS = st.one_of(st.just(datetime(2036, 1, 1, tzinfo=UTC)), MOMENTS)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=ITEMS, twist=st.sampled_from(TWISTS), now=NOWS)
def test_a_body_gets_the_same_answers_either_way(items: list[object], twist: Any, now: datetime) -> None:
    body = twist(orjson.dumps(items))
    assert outcome(one_pass, body, now) == outcome(item_by_item, body, now)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=ITEMS, twist=st.sampled_from(TWISTS), blank=st.sampled_from([b"", b"  ", b"\r", b"\x0c"]), now=NOWS)
def test_an_ndjson_body_gets_the_same_answers_either_way(
    items: list[object], twist: Any, blank: bytes, now: datetime
) -> None:
    lines = [twist(orjson.dumps(item)) for item in items]
    body = b"\n".join([*lines[:1], blank, *lines[1:]]) + b"\r\n"
    assert outcome(one_pass_ndjson, body, now) == outcome(line_by_line, body, now)


@settings(max_examples=EXAMPLES // 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(PLAIN, min_size=1, max_size=6))
def test_plain_valid_events_take_the_one_pass_path(items: list[dict[str, Any]]) -> None:
    now = datetime(2036, 1, 1, tzinfo=UTC)
    result = one_pass(orjson.dumps(items), now)
    assert result.encoded is not None and len(result.encoded) == len(result.accepted)
    assert answers(result, now) == answers(item_by_item(orjson.dumps(items), now), now)
    ndjson = b"\n".join(orjson.dumps(item) for item in items)
    assert one_pass_ndjson(ndjson, now).encoded is not None
    assert answers(one_pass_ndjson(ndjson, now), now) == answers(result, now)


@given(moment=MOMENTS, spelling=st.sampled_from(["iso", "Z", "-00:00", "ms", "zero-us"]))
def test_a_time_is_canonical_exactly_when_isoformat_writes_it_back(moment: datetime, spelling: str) -> None:
    text = moment.isoformat()
    if spelling == "Z":
        text = text.replace("+00:00", "Z")
    elif spelling == "-00:00":
        text = text.replace("+00:00", "-00:00")
    elif spelling == "ms" and moment.microsecond:
        text = text[:19] + text[19:23] + text[26:]
    elif spelling == "zero-us" and not moment.microsecond:
        text = text[:19] + ".000000" + text[19:]
    parsed = _time(text)
    assert parsed is not None
    assert _canonical(text) == (parsed.isoformat() == text)


@pytest.mark.parametrize("offset", [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30))])
@pytest.mark.parametrize(
    "past_latest", [timedelta(0), timedelta(microseconds=1), timedelta(seconds=1), -timedelta(microseconds=1)]
)
def test_the_future_rule_holds_to_the_microsecond_in_any_offset(offset: timezone, past_latest: timedelta) -> None:
    now = datetime(2026, 9, 2, 2, 0, 0, 500_000, tzinfo=UTC)
    occurred = (now + MAX_FUTURE_SKEW + past_latest).astimezone(offset)
    for text in (occurred.isoformat(), occurred.isoformat().replace("+00:00", "Z")):
        event = {"event_id": "e1", "dossier_id": "d1", "unit_id": "U1", "type": "rating", "occurred_at": text,
                 "level": "satisfied"}  # fmt: skip
        body = orjson.dumps([event])
        assert outcome(one_pass, body, now) == outcome(item_by_item, body, now)
        assert bool(one_pass(body, now).rejected) == (past_latest > timedelta(0))
