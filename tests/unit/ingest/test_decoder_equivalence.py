"""Ingest on the shared compiled decoder answers every item exactly as before it: the same accepted indices, the
same rejections (index, event_id, code, detail), the same `redirected` entries — and the bytes it writes to Kafka
are the bytes of the contract model's `encode_event`. The reference is main's path, spelled out below: per item
`contract.validate_event` (the hand-ordered checker + the pydantic model), the key's scope, `encode_event`.

Bodies are JSON arrays and NDJSON (blank lines, lines that are no JSON) of the generated valid and broken events of
tests/unit/shared/event_strategies.py, with items that are no JSON object among them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.batch import (
    AcceptedEvent,
    BatchResult,
    parse_json_array,
    parse_ndjson,
    redirections,
    validate_batch,
)
from services.ingest.service.accept_events import records_within_limit
from shared.contract import DossierEvent, ErrorCode, EventRejection, encode_event, validate_event
from shared.indicators import VIETNAM_TZ as VN
from tests.unit.shared.event_strategies import EXAMPLES, MOMENTS, broken_events, unit_exists, valid_events

pytestmark = pytest.mark.unit

MAX_BYTES = 1_000_000
NOT_OBJECTS = st.sampled_from([[1, 2], "text", None, 7, True, []])
ITEMS = st.lists(st.one_of(valid_events(), broken_events(), NOT_OBJECTS), max_size=6)
LINES = st.lists(
    st.one_of(ITEMS.map(lambda items: [orjson.dumps(item) for item in items]), st.just([b"", b"{not json", b"  "])),
    max_size=3,
).map(lambda groups: b"\n".join(line for group in groups for line in group))
BAD_LINE = EventRejection(ErrorCode.INVALID_JSON, "Dòng không phải JSON hợp lệ / line is not valid JSON")


def in_scope(unit_id: str) -> bool:
    return unit_id != "x-9"  # one registered unit outside the key's scope: forbidden_unit


def effective_unit(unit_id: str, day: date) -> str:
    return unit_id if day.day % 2 else f"{unit_id}.successor"  # a redirection on every other day


def main_path(items: list[object], now: datetime) -> tuple[list[Any], list[Any], list[Any]]:
    """Before issue 14: per item the contract model, then the scope, then `encode_event` of each accepted event."""
    accepted: list[tuple[int, DossierEvent]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        outcome = BAD_LINE if item is UNREADABLE else validate_event(item, now=now, unit_exists=unit_exists)
        if isinstance(outcome, DossierEvent) and not in_scope(outcome.unit_id):
            outcome = EventRejection(
                ErrorCode.FORBIDDEN_UNIT,
                f"Khóa API không được gửi sự kiện cho đơn vị '{outcome.unit_id}' / "
                f"the API key may not send events for unit '{outcome.unit_id}'",
                outcome.event_id,
                "unit_id",
            )
        if isinstance(outcome, EventRejection):
            rejected.append(outcome.as_item(index))
        else:
            accepted.append((index, outcome))
    records = [(event.dossier_id.encode(), encode_event(event, now)) for _, event in accepted]
    redirected = [
        {"index": index, "event_id": event.event_id, "unit_id": event.unit_id, "effective_unit_id": effective}
        for index, event in accepted
        if (effective := effective_unit(event.unit_id, event.occurred_at.astimezone(VN).date())) != event.unit_id
    ]
    return rejected, records, redirected


def new_path(items: list[object], now: datetime) -> tuple[list[Any], list[Any], list[Any]]:
    result: BatchResult = validate_batch(items, now=now, unit_exists=unit_exists, in_scope=in_scope)
    records, rejected, written = records_within_limit(result, now, MAX_BYTES)
    assert all(isinstance(item, AcceptedEvent) for item in written)
    return rejected, records, redirections(written, effective_unit)


UNREADABLE: object = parse_ndjson(b"{not json")[0]  # the stand-in of a line that is no JSON
# After every generated event (all accepted but for their faults), or among them (occurred_in_future too).
NOWS = st.one_of(st.just(datetime(2036, 1, 1, tzinfo=UTC)), MOMENTS)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=ITEMS, now=NOWS)
def test_a_json_array_body_gets_the_same_answers_and_records(items: list[object], now: datetime) -> None:
    parsed = parse_json_array(orjson.dumps(items))
    assert new_path(parsed, now) == main_path(parsed, now)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=LINES, now=NOWS)
def test_an_ndjson_body_gets_the_same_answers_and_records(body: bytes, now: datetime) -> None:
    parsed = parse_ndjson(body)
    assert new_path(parsed, now) == main_path(parsed, now)
