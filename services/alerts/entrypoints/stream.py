"""`GET /v1/stream`: server-sent events of alert transitions for dashboards (a plain StreamingResponse).

Each event is one history row: `id:` is its sequence number, `event: transition`, `data:` the TransitionView as
JSON. A client that reconnects sends `Last-Event-ID` (browsers' EventSource do it by themselves) and receives
exactly the rows after it; writers commit history in sequence order (see adapters/evaluation.py), so nothing
is skipped. Without it the stream starts with the next transition (`?after=0` replays the whole history).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.alerts.adapters import queries
from services.alerts.entrypoints.api import transition_view
from services.alerts.entrypoints.context import AlertsContext

POLL_S = 1.0  # also picks up rows written by another process
KEEPALIVE_EVERY = 15  # idle polls between two comment lines (keeps proxies from closing the connection)


def install_stream_route(app: FastAPI, ctx: AlertsContext) -> None:
    @app.get(
        "/v1/stream",
        tags=["alerts"],
        summary="Server-sent events of alert transitions (resume with Last-Event-ID)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        request: Request,
        after: Annotated[int | None, Query(ge=0, description="Start after this seq (0 = whole history)")] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="Resume point")] = None,
    ) -> StreamingResponse:
        start = after
        if last_event_id is not None and last_event_id.strip().isdigit():
            start = int(last_event_id.strip())
        if start is None:
            async with ctx.db().acquire() as conn:
                start = await queries.last_transition_seq(conn)

        async def events(last: int) -> AsyncIterator[str]:
            yield "retry: 3000\n\n"
            idle = 0
            while not await request.is_disconnected():
                async with ctx.db().acquire() as conn:
                    rows = await queries.transitions(conn, after_seq=last, limit=500)
                rules = ctx.rules().rules
                for row in rows:
                    view = transition_view(row, rules)
                    last = view.seq
                    yield f"id: {view.seq}\nevent: transition\ndata: {view.model_dump_json()}\n\n"
                if rows:
                    idle = 0
                    continue
                await ctx.changed.wait(POLL_S)
                idle += 1
                if idle % KEEPALIVE_EVERY == 0:
                    yield ": keep-alive\n\n"

        return StreamingResponse(
            events(start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
