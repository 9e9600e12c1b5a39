"""Bulk import planning: reading JSONL/CSV exports, splitting into API-sized requests, mapping errors to lines."""

from __future__ import annotations

import io

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.domain.bulk_import import (
    ImportTally,
    SourceRecord,
    csv_row_to_event,
    plan_requests,
    read_csv,
    read_jsonl,
)


def test_csv_cells_are_converted_like_the_contract_expects() -> None:
    row = {"event_id": "e1", "digitized": "TRUE", "reused_data": "0", "e_result": "yes", "amount": "150000",
           "channel": "", "ghi_chu": "Hồ sơ đất"}  # fmt: skip
    assert csv_row_to_event(row) == {
        "event_id": "e1",
        "digitized": True,
        "reused_data": False,
        "e_result": "yes",  # left as written: the service answers invalid_field for it
        "amount": 150000,
        "ghi_chu": "Hồ sơ đất",
    }


def test_csv_rows_keep_their_physical_line_numbers() -> None:
    text = '\ufeffevent_id,note\ne1,"two\nlines"\n\ne2,plain\ne3\n'
    records = list(read_csv(io.StringIO(text, newline="")))
    assert [(r.line, r.local_error is None) for r in records] == [(2, True), (5, True), (6, False)]
    assert orjson.loads(records[0].payload) == {"event_id": "e1", "note": "two\nlines"}
    assert records[1].text == "e2,plain"
    assert "1 cells" in (records[2].local_error or "")


def test_jsonl_skips_blank_lines_but_keeps_numbering() -> None:
    records = list(read_jsonl(['{"a":1}\n', "\n", "  \n", "not json\r\n"]))
    assert [(r.line, r.text) for r in records] == [(1, '{"a":1}'), (4, "not json")]


def _record(line: int, size: int) -> SourceRecord:
    return SourceRecord(line, "x", b"x" * size)


@settings(deadline=None, max_examples=60)
@given(sizes=st.lists(st.integers(min_value=1, max_value=400), max_size=60), max_items=st.integers(1, 7))
def test_requests_respect_both_limits_and_keep_file_order(sizes: list[int], max_items: int) -> None:
    records = [_record(i, size) for i, size in enumerate(sizes, start=1)]
    requests = list(plan_requests(records, max_items=max_items, max_bytes=1000))
    assert [r for request in requests for r in request.records] == records
    for request in requests:
        assert 1 <= len(request.records) <= max_items
        assert sum(len(r.payload) + 1 for r in request.records) <= 1000
        assert request.ndjson_body().count(b"\n") == len(request.records)


def test_an_oversized_record_travels_alone() -> None:
    requests = list(plan_requests([_record(1, 10), _record(2, 5000), _record(3, 10)], max_bytes=1000))
    assert [[r.line for r in request.records] for request in requests] == [[1], [2], [3]]


def test_tally_maps_rejections_back_to_lines() -> None:
    request = next(plan_requests([_record(10, 1), _record(12, 1), _record(13, 1)]))
    tally = ImportTally()
    tally.add_response(request, {"accepted": 2, "rejected": [{"index": 1, "event_id": "e", "error": "unknown_unit",
                                                              "detail": "d"}]})  # fmt: skip
    tally.add_local_error(SourceRecord(11, "a,b", b"", local_error="row has 2 cells"))
    tally.add_failure(next(plan_requests([_record(20, 1)])), "not_delivered", "network error")
    assert (tally.records, tally.accepted) == (5, 2)
    assert [(item["line"], item["error"]) for item in tally.rejected_lines()] == [
        (11, "invalid_row"),
        (12, "unknown_unit"),
        (20, "not_delivered"),
    ]
    assert tally.by_reason() == {"invalid_row": 1, "not_delivered": 1, "unknown_unit": 1}
    assert tally.redirected == 0


def test_tally_counts_events_of_retired_units() -> None:
    request = next(plan_requests([_record(10, 1), _record(11, 1)]))
    tally = ImportTally()
    redirected = [{"index": 1, "event_id": "e", "unit_id": "OLD", "effective_unit_id": "NEW"}]
    tally.add_response(request, {"accepted": 2, "rejected": [], "redirected": redirected})
    assert (tally.accepted, tally.redirected, tally.rejected) == (2, 1, [])
