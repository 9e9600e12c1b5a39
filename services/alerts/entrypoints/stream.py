"""`GET /v1/stream`: server-sent events of alert transitions for dashboards, framed by `fastapi.sse`.

Each event is one history row: `id:` is its sequence number, `event: transition`, `data:` the TransitionView as
JSON. A client that reconnects sends `Last-Event-ID` (browsers' EventSource do it by themselves) and receives
exactly the rows after it; writers commit history in sequence order (adapters/alert_store.py), so nothing is
skipped. Without it the stream starts with the next transition (`?after=0` replays the whole history).

FastAPI frames the events and sends the `: ping` comment after 15 s without one (keeps proxies from closing the
connection), with the `Cache-Control: no-cache` and `X-Accel-Buffering: no` headers. The resume point is a
dependency, so a bad `Last-Event-ID` (422) or a database outage (503) is answered before the stream starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.alerts.entrypoints.api import transition_view
from services.alerts.entrypoints.dependencies import AlertsContainer
from shared.http import PG_BIGINT_MAX, ApiError, error_responses
from shared.outages import DATABASE_OUTAGE_ERRORS

POLL_S = 1.0  # also picks up rows written by another process
RECONNECT_MS = 3000  # the `retry:` sent first: how long a browser waits before it reconnects

router = APIRouter()


def _json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI documents a `model` response in the route's own media type (text/event-stream here); the errors
    are answered before the stream starts, as JSON ErrorBody."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status, entry in error_responses(*statuses).items():
        documented[status] = {
            **{k: v for k, v in entry.items() if k != "model"},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
    return documented


async def resume_point(
    container: AlertsContainer,
    after: Annotated[
        int | None, Query(ge=0, le=PG_BIGINT_MAX, description="Start after this seq (0 = whole history)")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="Resume point")] = None,
) -> int:
    """The seq the stream starts after: Last-Event-ID, else `after`, else the newest row (only what comes next)."""
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
        if start > PG_BIGINT_MAX:
            raise ApiError(422, "invalid_request", "Last-Event-ID quá lớn / Last-Event-ID out of range")
    if start is None:
        start = await container.queries.last_transition_seq()
    return start


@router.get(
    "/v1/stream",
    tags=["alerts"],
    summary="Server-sent events of alert transitions (resume with Last-Event-ID)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_json_errors(422, 503)},
)
async def stream(
    request: Request, container: AlertsContainer, start: Annotated[int, Depends(resume_point)]
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(retry=RECONNECT_MS)
    last = start
    while not await request.is_disconnected():
        try:
            rows = await container.queries.transitions(after_seq=last, limit=500)
        except DATABASE_OUTAGE_ERRORS as error:
            # The stream has started: no status to answer. End it; the client reconnects after `retry` with
            # Last-Event-ID and gets 503 until the database is back.
            container.health.database_failed(error)
            return
        rules = container.rule_book.rules
        for row in rows:
            view = transition_view(row, rules)
            last = view.seq
            # `raw_data`: the view's own JSON, byte for byte what the dashboard and the tests parse.
            yield ServerSentEvent(id=str(view.seq), event="transition", raw_data=view.model_dump_json())
        if not rows:
            await container.changed.wait(POLL_S)
