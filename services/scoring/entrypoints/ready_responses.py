"""The read API's fast path: a GET whose answer is already known is answered before FastAPI's routing.

A cached read costs little in its route (the body is ready-made, read_bodies.py); what it costs is the framework
around it — routing, parameter validation, dependencies, the middleware stack — about a millisecond of CPU per
request. So each read route, having answered, remembers its body with the request's exact path and query and with
the reader's token of the moment it started (ScoringReader.token: the tables' generation, the live tick, the
profile). The next request for the same path and query while the token is unchanged is answered from here, with
the same `respond()` (ETag, 304 on If-None-Match, Cache-Control, content coding) — the same bytes the route would
send. Any change to what readers may be served (a table stored, an invalidation, a tick, a registry or profile
change) changes the token. Nothing else is answered here.

When the token changed, the request need not go through the framework again either: each route hands over, with
its answer, the step that made it (`Make`: its parameters already parsed and validated, it finds the unit and the
period again and asks the read bodies for the body of now). The fast path runs that step under the new token and
remembers its result — the same body the route would make, for the same path and query. Only when the step fails
(an unknown unit, a malformed cursor: an error the route answers) does the request go through the route. During a
back-fill the token changes up to ten times a second, and each change sent every hot path through the framework's
routing (~1 ms of CPU a request against ~0.2 ms here, docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.scoring.entrypoints.http_cache import CachedBody, respond

MAX_ENTRIES = 4096
Token = tuple[int, int, object]
Make = Callable[[], Awaitable[tuple[CachedBody, str]]]
"""A route's step from its parsed parameters to the body of now and its Cache-Control (run again on a new token)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Ready:
    token: Token
    body: CachedBody
    cache_control: str
    make: Make | None = None


class ReadyResponses:
    """Ready bodies by (path, query string), each valid while the reader's token is the one it was built under."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: dict[tuple[str, bytes], _Ready] = {}
        self._max = max_entries

    def remember(
        self, request: Request, token: Token, body: CachedBody, cache_control: str, make: Make | None = None
    ) -> None:
        """After a route answered `body`: `token` is the reader's token taken BEFORE the route read any table, so
        a change during the request leaves an entry that is already stale rather than one that hides the change."""
        self._keep(request.scope, _Ready(token, body, cache_control, make))

    def _keep(self, scope: Scope, ready: _Ready) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()  # stale ones are never served anyway; the hot ones come back at once
        self._entries[(scope["path"], scope["query_string"])] = ready

    async def answer(self, request: Request, token: Token, make: Make, if_none_match: str | None = None) -> Response:
        """A route's response: `make()` run, its body remembered for the fast path under the token taken before the
        route read anything, with `make` to run again when the token has changed."""
        body, cache_control = await make()
        self.remember(request, token, body, cache_control, make)
        return respond(request, body, cache_control, if_none_match)

    def current(self, scope: Scope, token: Token) -> _Ready | None:
        found = self._entries.get((scope["path"], scope["query_string"]))
        if found is None or not same_token(found.token, token):
            return None
        return found

    async def again(self, scope: Scope, token: Token) -> _Ready | None:
        """The entry of this path and query made again under `token` (taken before) by the route's step, if it has
        one and it succeeds; None: the request goes through the route."""
        key = (scope["path"], scope["query_string"])
        found = self._entries.get(key)
        if found is None or found.make is None:
            return None
        try:
            body, cache_control = await found.make()
        except Exception as error:  # the route answers it (404, 422, 503...), as it would have without this
            log.debug("a ready response's step failed, routed instead: %s", error)
            if self._entries.get(key) is found:
                del self._entries[key]  # until the route answers it again: not one failing step per request
            return None
        ready = _Ready(token, body, cache_control, found.make)
        self._keep(scope, ready)
        return ready


def same_token(kept: Token, now: Token) -> bool:
    """Equal generations and ticks, the same profile object: what is served is the same."""
    return kept[0] == now[0] and kept[1] == now[1] and kept[2] is now[2]


class FastReads:
    """ASGI middleware: answers a GET from ReadyResponses when the token is unchanged or the route's step made it
    again under the new one, else passes it on.
    `token_now` gives the reader's token, or None while the service is starting (then everything passes)."""

    def __init__(self, app: ASGIApp, ready: ReadyResponses, token_now: Callable[[], Token | None]) -> None:
        self.app = app
        self._ready = ready
        self._token_now = token_now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            token = self._token_now()
            found = None
            if token is not None:
                found = self._ready.current(scope, token) or await self._ready.again(scope, token)
            if found is not None:
                await respond(Request(scope), found.body, found.cache_control)(scope, receive, send)
                return
        await self.app(scope, receive, send)
