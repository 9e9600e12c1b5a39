"""`python -m services.ingest import FILE`: bulk import of a JSONL or CSV export through the HTTP API
(`POST /v1/events`), with a progress bar and a summary. Each rejected record is written, with its line number and
reason, to a JSONL file (default `FILE.rejected.jsonl`). The import itself: `service/import_events.py`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from services.ingest.adapters.ingest_client import open_sender
from services.ingest.domain.bulk_import import ImportTally, SourceRecord
from services.ingest.domain.bulk_import import read_csv as read_csv_records
from services.ingest.domain.bulk_import import read_jsonl as read_jsonl_records
from services.ingest.service.import_events import ImportAbortedError, import_events

EXIT_SOME_REJECTED = 1
EXIT_ABORTED = 4


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSONL (one event per line) or CSV (header = contract field names)")
    parser.add_argument("--url", required=True, help="ingest base URL, e.g. http://127.0.0.1:8001")
    parser.add_argument("--key", required=True, help="API key (Bearer) whose scope covers the file's units")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="default: from the extension (.csv → csv)")
    parser.add_argument("--rejected", help="where rejected lines go (default: FILE.rejected.jsonl)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--batch", type=int, default=5000, help="records per request, ≤ 5000 (default 5000)")
    parser.add_argument("--max-retries", type=int, default=20, help="retries of one request on 429/503/network errors")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in scripts)")
    parser.set_defaults(handler=cmd_import)


def _records(stream: IO[str], file_format: str) -> Iterator[SourceRecord]:
    return read_csv_records(stream) if file_format == "csv" else read_jsonl_records(stream)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class _ProgressBar:
    """The ImportProgress port on a tqdm bar (on stderr; disabled with --no-progress)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        from tqdm import tqdm  # only the import command needs it

        self._bar = tqdm(total=total, unit="line", disable=not enabled, file=sys.stderr, dynamic_ncols=True)

    def advance(self, lines: int, *, accepted: int, rejected: int) -> None:
        self._bar.update(lines)
        self._bar.set_postfix(accepted=accepted, rejected=rejected, refresh=False)

    def close(self) -> None:
        self._bar.close()


async def run_import(
    path: Path,
    *,
    url: str,
    key: str,
    file_format: str,
    concurrency: int = 4,
    batch: int = 5000,
    max_retries: int = 20,
    progress: bool = True,
) -> ImportTally:
    """Send every record of `path`; the tally holds totals and the rejected lines (nothing is dropped)."""
    bar = _ProgressBar(_count_lines(path), enabled=progress)
    try:
        async with open_sender(url, key, concurrency=concurrency, max_retries=max_retries) as sender:
            with path.open(encoding="utf-8", newline="") as stream:
                return await import_events(
                    _records(stream, file_format), sender, concurrency=concurrency, batch=batch, progress=bar
                )
    finally:
        bar.close()


def write_rejected(tally: ImportTally, destination: Path) -> None:
    with destination.open("wb") as handle:
        for item in tally.rejected_lines():
            handle.write(orjson.dumps(item) + b"\n")


async def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    file_format = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    rejected_path = Path(args.rejected) if args.rejected else path.with_name(path.name + ".rejected.jsonl")
    started = time.monotonic()
    try:
        tally = await run_import(
            path,
            url=args.url,
            key=args.key,
            file_format=file_format,
            concurrency=max(1, args.concurrency),
            batch=max(1, args.batch),
            max_retries=max(0, args.max_retries),
            progress=not args.no_progress,
        )
    except ImportAbortedError as error:
        print(f"import stopped: {error}", file=sys.stderr)
        return EXIT_ABORTED
    elapsed = time.monotonic() - started
    write_rejected(tally, rejected_path)
    print(f"records:  {tally.records}", file=sys.stderr)
    print(f"accepted: {tally.accepted}", file=sys.stderr)
    if tally.redirected:
        print(f"  of which for retired units (counted for their successors): {tally.redirected}", file=sys.stderr)
    print(f"rejected: {len(tally.rejected)}", file=sys.stderr)
    for reason, count in tally.by_reason().items():
        print(f"  {reason}: {count}", file=sys.stderr)
    rate = tally.records / elapsed if elapsed > 0 else 0.0
    print(f"elapsed:  {elapsed:.1f} s ({rate:,.0f} records/s)", file=sys.stderr)
    print(f"rejected lines: {rejected_path}", file=sys.stderr)
    return EXIT_SOME_REJECTED if tally.rejected else 0
