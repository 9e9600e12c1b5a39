"""Bulk import of an export file through the ingest API (`import` CLI command).

Why through the API rather than straight to Kafka: the import then gets exactly what an integrator gets — the
same validation, the API key's unit scope, `ingested_at` stamped by ingest, acks=all — and needs nothing but a
URL and a key. Requests of ≤ 5,000 records and < 5 MiB are posted by a few concurrent workers; the sender retries
429/503 and network errors (event_ids make every retry safe). Every record ends in the tally: accepted, or
rejected with its line number and reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from services.ingest.domain.batch import MAX_BATCH_ITEMS
from services.ingest.domain.bulk_import import ImportTally, PlannedRequest, SourceRecord, plan_requests
from services.ingest.service.ports import EventSender, ImportProgress

# Refusals that would repeat for every request: a bad or revoked key, no permission, a wrong URL.
_ABORTING_STATUSES = frozenset({401, 403, 404})


class ImportAbortedError(Exception):
    """A refusal that would repeat for every request (bad key, wrong URL): stop instead of failing each line."""


class _NoProgress:
    def advance(self, lines: int, *, accepted: int, rejected: int) -> None:
        pass


async def import_events(
    records: Iterable[SourceRecord],
    sender: EventSender,
    *,
    concurrency: int = 4,
    batch: int = MAX_BATCH_ITEMS,
    progress: ImportProgress | None = None,
) -> ImportTally:
    """Send every record (in file order, `concurrency` requests in flight); the tally holds totals and the
    rejected lines — nothing is dropped. ImportAbortedError on a 401/403/404."""
    shown = progress or _NoProgress()
    tally = ImportTally()
    queue: asyncio.Queue[PlannedRequest | None] = asyncio.Queue(maxsize=concurrency * 2)
    aborted: list[ImportAbortedError] = []

    async def worker() -> None:
        while (request := await queue.get()) is not None:
            if aborted:
                continue  # drain: planning stops at once, but what is queued must not block it
            status, body = await sender.send(request.ndjson_body())
            if status in _ABORTING_STATUSES:
                aborted.append(ImportAbortedError(f"HTTP {status}: {body.get('detail', body)}"))
                continue
            if status == 200:
                tally.add_response(request, body)
            else:
                tally.add_failure(request, str(body.get("error", "http_error")), str(body.get("detail", "")))
            shown.advance(len(request.records), accepted=tally.accepted, rejected=len(tally.rejected))

    def kept() -> Iterator[SourceRecord]:
        for record in records:
            if record.local_error is None:
                yield record
            else:
                tally.add_local_error(record)
                shown.advance(1, accepted=tally.accepted, rejected=len(tally.rejected))

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        for request in plan_requests(kept(), max_items=min(batch, MAX_BATCH_ITEMS)):
            if aborted:
                break
            await queue.put(request)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    if aborted:
        raise aborted[0]
    return tally
