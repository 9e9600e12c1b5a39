"""`GET /v1/stream`: server-sent events of alert transitions for dashboards (a plain StreamingResponse).

Each event is one history row: `id:` is its sequence number, `event: transition`, `data:` the TransitionView as
JSON. A client that reconnects sends `Last-Event-ID` (browsers' EventSource do it by themselves) and receives
exactly the rows after it; writers commit history in sequence order (adapters/alert_store.py), so nothing
is skipped. Without it the stream starts with the next transition (`?after=0` replays the whole history).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.alerts.entrypoints.api import transition_view
from services.alerts.entrypoints.dependencies import AlertsContainer
from shared.http import PG_BIGINT_MAX, ApiError, error_responses
from shared.outages import DATABASE_OUTAGE_ERRORS

POLL_S = 1.0  # also picks up rows written by another process
KEEPALIVE_EVERY = 15  # idle polls between two comment lines (keeps proxies from closing the connection)

router = APIRouter()


@router.get(
    "/v1/stream",
    tags=["alerts"],
    summary="Server-sent events of alert transitions (resume with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(422, 503)},
)
async def stream(
    request: Request,
    container: AlertsContainer,
    after: Annotated[
        int | None, Query(ge=0, le=PG_BIGINT_MAX, description="Start after this seq (0 = whole history)")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="Resume point")] = None,
) -> StreamingResponse:
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
        if start > PG_BIGINT_MAX:
            raise ApiError(422, "invalid_request", "Last-Event-ID quá lớn / Last-Event-ID out of range")
    if start is None:
        start = await container.queries.last_transition_seq()

    async def events(last: int) -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        idle = 0
        while not await request.is_disconnected():
            try:
                rows = await container.queries.transitions(after_seq=last, limit=500)
            except DATABASE_OUTAGE_ERRORS as error:
                # The stream has started: no status to answer. End it; the client reconnects after `retry`
                # with Last-Event-ID and gets 503 until the database is back.
                container.health.database_failed(error)
                return
            rules = container.rule_book.rules
            for row in rows:
                view = transition_view(row, rules)
                last = view.seq
                yield f"id: {view.seq}\nevent: transition\ndata: {view.model_dump_json()}\n\n"
            if rows:
                idle = 0
                continue
            await container.changed.wait(POLL_S)
            idle += 1
            if idle % KEEPALIVE_EVERY == 0:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        events(start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
