"""The read API's fast path (entrypoints/ready_responses.py): a remembered body is answered while the reader's token
is the same, with the route's own headers and 304; any other request, or a changed token, goes to the app."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from services.scoring.entrypoints.http_cache import CURRENT, CachedBody
from services.scoring.entrypoints.ready_responses import FastReads, ReadyResponses, Token

pytestmark = pytest.mark.unit

PROFILE = object()
BODY = CachedBody(b'{"unit_id": "H26", "score": 91.5}' * 40)


class App:
    """The framework behind the fast path: counts what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"from the app"})


def scope(path: str, query: bytes = b"", method: str = "GET", **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": raw}


async def call(app: FastReads, request_scope: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(request_scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


# The three parts of the readers' token (tables' generation, live tick, profile), each changed alone.
EVERY_TOKEN_CHANGE = pytest.mark.parametrize(
    "changed", [(2, 100, PROFILE), (1, 101, PROFILE), (1, 100, object())], ids=["tables", "tick", "profile"]
)


def fast_reads() -> tuple[App, ReadyResponses, list[Token], FastReads]:
    """The fast path in front of a recording app, its token a one-element list the test changes."""
    inner, ready = App(), ReadyResponses()
    token: list[Token] = [(1, 100, PROFILE)]
    return inner, ready, token, FastReads(inner, ready, lambda: token[0])


async def test_a_remembered_body_is_answered_without_the_app_while_the_token_holds() -> None:
    inner, ready, token, fast = fast_reads()
    ready.remember(Request(scope("/v1/summary", b"period=2026-09")), token[0], BODY, CURRENT)

    status, headers, body = await call(fast, scope("/v1/summary", b"period=2026-09"))
    assert (status, body, inner.calls) == (200, BODY.body, [])
    assert headers["etag"] == BODY.etag() and headers["cache-control"] == CURRENT
    status, headers, body = await call(fast, scope("/v1/summary", b"period=2026-09", accept_encoding="br"))
    assert headers["content-encoding"] == "br" and headers["etag"] == BODY.etag("br")
    status, _, body = await call(fast, scope("/v1/summary", b"period=2026-09", if_none_match=BODY.etag("br")))
    assert (status, body, inner.calls) == (304, b"", [])

    # Another query, another method: the app answers.
    assert (await call(fast, scope("/v1/summary", b"period=2026-08")))[0] == 299
    assert (await call(fast, scope("/v1/summary", b"period=2026-09", method="HEAD")))[0] == 299
    assert inner.calls == ["/v1/summary", "/v1/summary"]


@EVERY_TOKEN_CHANGE
async def test_any_change_of_the_token_sends_the_request_to_the_app(changed: Token) -> None:
    inner, ready, token, fast = fast_reads()
    ready.remember(Request(scope("/v1/units")), token[0], BODY, CURRENT)
    token[0] = changed
    assert (await call(fast, scope("/v1/units", if_none_match=BODY.etag())))[0] == 299
    assert inner.calls == ["/v1/units"]


async def test_while_starting_everything_goes_to_the_app() -> None:
    inner, ready = App(), ReadyResponses()
    ready.remember(Request(scope("/v1/units")), (1, 1, PROFILE), BODY, CURRENT)
    assert (await call(FastReads(inner, ready, lambda: None), scope("/v1/units")))[0] == 299


class Step:
    """A route's step (ready_responses.Make): the body of now, or the error the route would answer."""

    def __init__(self, body: CachedBody) -> None:
        self.body = body
        self.runs = 0
        self.fails = False

    async def __call__(self) -> tuple[CachedBody, str]:
        self.runs += 1
        if self.fails:
            raise LookupError("unknown unit")
        return self.body, CURRENT


@EVERY_TOKEN_CHANGE
async def test_a_changed_token_runs_the_routes_step_again_instead_of_the_app(changed: Token) -> None:
    inner, ready, token, fast = fast_reads()
    step = Step(BODY)
    answered = await ready.answer(Request(scope("/v1/units")), token[0], step)
    assert answered.status_code == 200 and step.runs == 1

    # The figures changed: the step makes the new body under the new token; the app is not asked.
    newer = CachedBody(b'{"unit_id": "H26", "score": 92.0}' * 40)
    step.body, token[0] = newer, changed
    status, headers, body = await call(fast, scope("/v1/units", if_none_match=BODY.etag()))
    assert (status, body, headers["etag"], inner.calls, step.runs) == (200, newer.body, newer.etag(), [], 2)
    # ... and kept under it: the next request is answered as it was, without running the step.
    assert (await call(fast, scope("/v1/units", if_none_match=newer.etag())))[0] == 304
    assert step.runs == 2 and inner.calls == []


async def test_a_failing_step_sends_the_request_to_the_route() -> None:
    inner, ready, token, fast = fast_reads()
    step = Step(BODY)
    await ready.answer(Request(scope("/v1/units/H26.X/indicators")), token[0], step)
    step.fails, token[0] = True, (2, 100, PROFILE)
    assert (await call(fast, scope("/v1/units/H26.X/indicators")))[0] == 299
    assert inner.calls == ["/v1/units/H26.X/indicators"] and step.runs == 2
    # Forgotten until the route answers it again: the next request is routed without running the failing step.
    assert (await call(fast, scope("/v1/units/H26.X/indicators")))[0] == 299
    assert len(inner.calls) == 2 and step.runs == 2
