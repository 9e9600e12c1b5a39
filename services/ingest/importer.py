"""`python -m services.ingest.cli import FILE`: bulk import through the HTTP API (`POST /v1/events`).

Why through the API rather than straight to Kafka: the import then gets exactly what an integrator gets — the
same validation, the API key's unit scope, `ingested_at` stamped by ingest, acks=all — and needs nothing but a
URL and a key. Requests of ≤ 5,000 records and < 5 MiB are posted by a few concurrent workers; a 503 is retried
after its Retry-After, a network error with backoff (event_ids make every retry safe). Each rejected record is
written, with its line number and reason, to a JSONL file (default `FILE.rejected.jsonl`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from services.ingest.domain.bulk_import import ImportTally, PlannedRequest, SourceRecord, plan_requests
from services.ingest.domain.bulk_import import read_csv as read_csv_records
from services.ingest.domain.bulk_import import read_jsonl as read_jsonl_records

EXIT_SOME_REJECTED = 1
EXIT_ABORTED = 4
_MAX_RETRY_WAIT_S = 60.0


class ImportAbortedError(Exception):
    """A refusal that would repeat for every request (bad key, wrong URL): stop instead of failing each line."""


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSONL (one event per line) or CSV (header = contract field names)")
    parser.add_argument("--url", required=True, help="ingest base URL, e.g. http://127.0.0.1:8001")
    parser.add_argument("--key", required=True, help="API key (Bearer) whose scope covers the file's units")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="default: from the extension (.csv → csv)")
    parser.add_argument("--rejected", help="where rejected lines go (default: FILE.rejected.jsonl)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--batch", type=int, default=5000, help="records per request, ≤ 5000 (default 5000)")
    parser.add_argument("--max-retries", type=int, default=20, help="retries of one request on 503/network errors")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in scripts)")
    parser.set_defaults(handler=cmd_import)


def _records(stream: IO[str], file_format: str) -> Iterator[SourceRecord]:
    return read_csv_records(stream) if file_format == "csv" else read_jsonl_records(stream)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


async def _post(client: httpx.AsyncClient, request: PlannedRequest, max_retries: int) -> tuple[int, dict[str, Any]]:
    """Post one request until it gets a definitive answer; (status, JSON body). 503/network errors are retried."""
    body = request.ndjson_body()
    delay = 0.5
    for attempt in range(max_retries + 1):
        try:
            response = await client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
        except httpx.TransportError as error:
            if attempt == max_retries:
                return 0, {"error": "not_delivered", "detail": f"network error: {error!r}"}
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_WAIT_S)
            continue
        if response.status_code == 503 and attempt < max_retries:
            retry_after = response.headers.get("retry-after", "")
            await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else delay, _MAX_RETRY_WAIT_S))
            delay = min(delay * 2, _MAX_RETRY_WAIT_S)
            continue
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": "http_error", "detail": f"HTTP {response.status_code}: {response.text[:200]}"}
        if response.status_code in (401, 403, 404):
            raise ImportAbortedError(f"HTTP {response.status_code}: {payload.get('detail', payload)}")
        return response.status_code, payload
    raise AssertionError("unreachable")


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
    from tqdm import tqdm

    tally = ImportTally()
    queue: asyncio.Queue[PlannedRequest | None] = asyncio.Queue(maxsize=concurrency * 2)
    bar = tqdm(total=_count_lines(path), unit="line", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    headers = {"Authorization": f"Bearer {key}"}

    async def worker(client: httpx.AsyncClient) -> None:
        while (request := await queue.get()) is not None:
            status, body = await _post(client, request, max_retries)
            if status == 200:
                tally.add_response(request, body)
            else:
                tally.add_failure(request, str(body.get("error", "http_error")), str(body.get("detail", "")))
            bar.update(len(request.records))
            bar.set_postfix(accepted=tally.accepted, rejected=len(tally.rejected), refresh=False)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0, limits=limits) as client:
        workers = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        try:
            with path.open(encoding="utf-8", newline="") as stream:

                def kept() -> Iterator[SourceRecord]:
                    for record in _records(stream, file_format):
                        if record.local_error is None:
                            yield record
                        else:
                            tally.add_local_error(record)
                            bar.update(1)

                for request in plan_requests(kept(), max_items=min(batch, 5000)):
                    await queue.put(request)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            bar.close()
    return tally


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
