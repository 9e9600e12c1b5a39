"""Bulk import of files exported by one-stop-shop systems: JSONL or CSV of contract events (pure logic).

The `import` command (`services/ingest/entrypoints/import_command.py`) reads a file into `SourceRecord`s, groups
them into requests that respect the API limits (`plan_requests`), posts them to `POST /v1/events`, and maps each
per-item rejection back to the file's line with `ImportTally`. Validation itself is the service's: the import goes
through the same code path, key scope and Kafka guarantees as any integrator.

CSV: the header names contract fields (any order; extra columns become extra fields, kept as text). An empty
cell is an absent field. `digitized`, `reused_data` and `e_result` accept true/false/1/0 (any case); `amount`
digits. A cell that cannot be converted is sent as written, so the service rejects it with the usual code.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.ingest.domain.batch import MAX_BATCH_ITEMS

# Leave room under the 5 MiB limit for the array brackets, commas and a record that tips the balance.
REQUEST_BYTES_BUDGET = 5 * 1024 * 1024 - 64 * 1024
_BOOLEAN_FIELDS = frozenset({"digitized", "reused_data", "e_result"})
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of the input file: where it is (1-based line), its text as read, and the bytes to send."""

    line: int
    text: str
    payload: bytes
    local_error: str | None = None  # set when the record cannot even be sent (e.g. a malformed CSV row)


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    records: tuple[SourceRecord, ...]

    def ndjson_body(self) -> bytes:
        return b"\n".join(record.payload for record in self.records) + b"\n"


def csv_row_to_event(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as a contract-shaped event (see module docstring for the conversions)."""
    event: dict[str, Any] = {}
    for name, cell in row.items():
        if cell == "":
            continue
        if name in _BOOLEAN_FIELDS and cell.strip().lower() in _TRUE | _FALSE:
            event[name] = cell.strip().lower() in _TRUE
        elif name == "amount" and cell.strip().isdigit():
            event[name] = int(cell.strip())
        else:
            event[name] = cell
    return event


def read_jsonl(lines: Iterable[str]) -> Iterator[SourceRecord]:
    """Non-blank lines, sent as they are (the service reports a line that is not JSON as `invalid_json`)."""
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield SourceRecord(number, text, text.encode())


def read_csv(lines: Iterable[str]) -> Iterator[SourceRecord]:
    """Data rows as events encoded to JSON; `line` is the physical line the row starts on.

    `lines` is a file opened with `newline=""` (or any iterable of lines). A row whose cell count differs
    from the header's is not sent: it comes back with `local_error` set.
    """
    reader = csv.reader(_without_bom(lines))
    header = [name.strip() for name in next(reader, [])]
    start = 2  # the header is line 1
    for row in reader:
        if any(cell != "" for cell in row):
            if len(row) != len(header):
                error = (
                    f"Dòng có {len(row)} cột, tiêu đề có {len(header)} / "
                    f"row has {len(row)} cells, the header {len(header)}"
                )
                yield SourceRecord(start, _csv_text(row), b"", local_error=error)
            else:
                event = csv_row_to_event(dict(zip(header, row, strict=True)))
                yield SourceRecord(start, _csv_text(row), orjson.dumps(event))
        start = reader.line_num + 1


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """Spreadsheet exports often start with a UTF-8 byte-order mark; it is not part of the first column's name."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from iterator


def _csv_text(cells: list[str]) -> str:
    """The row written back as one CSV line (quoted as needed), for the rejected-lines file."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def plan_requests(
    records: Iterable[SourceRecord],
    *,
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = REQUEST_BYTES_BUDGET,
) -> Iterator[PlannedRequest]:
    """Group records in file order into requests of at most `max_items` records and `max_bytes` bytes.

    A single record larger than `max_bytes` still gets a request of its own (the service answers 413 for it,
    which the importer reports against that line). Records with a `local_error` must be filtered out first.
    """
    pending: list[SourceRecord] = []
    size = 0
    for record in records:
        cost = len(record.payload) + 1
        if pending and (len(pending) == max_items or size + cost > max_bytes):
            yield PlannedRequest(tuple(pending))
            pending, size = [], 0
        pending.append(record)
        size += cost
    if pending:
        yield PlannedRequest(tuple(pending))


@dataclass
class ImportTally:
    """Running totals, and one entry per rejected line (what the rejected-lines file holds)."""

    records: int = 0
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    redirected: int = 0
    """Accepted events that named a retired unit (they count for its successor, SPEC §1)."""

    def add_response(self, request: PlannedRequest, body: Mapping[str, Any]) -> None:
        """Fold in a 200 answer: `accepted`, `redirected` and per-item `rejected` (index → the request's record)."""
        self.records += len(request.records)
        self.accepted += int(body["accepted"])
        self.redirected += len(body.get("redirected") or ())
        for item in body["rejected"]:
            record = request.records[item["index"]]
            self.rejected.append(
                {
                    "line": record.line,
                    "event_id": item.get("event_id"),
                    "error": item["error"],
                    "detail": item["detail"],
                    "record": record.text,
                }
            )

    def add_local_error(self, record: SourceRecord) -> None:
        self.records += 1
        self.rejected.append(
            {
                "line": record.line,
                "event_id": None,
                "error": "invalid_row",
                "detail": record.local_error,
                "record": record.text,
            }
        )

    def add_failure(self, request: PlannedRequest, error: str, detail: str) -> None:
        """A whole request that could not be delivered (after retries): every record of it is rejected."""
        self.records += len(request.records)
        for record in request.records:
            self.rejected.append(
                {"line": record.line, "event_id": None, "error": error, "detail": detail, "record": record.text}
            )

    def by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(item["error"] for item in self.rejected).items()))

    def rejected_lines(self) -> list[dict[str, Any]]:
        return sorted(self.rejected, key=lambda item: item["line"])
