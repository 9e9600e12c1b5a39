"""Peer identity (shared.identity): who answers on a URL, refused loudly — once per change — when it is not ours."""

from __future__ import annotations

import logging

import httpx
import pytest

from shared.identity import Identity, PeerIdentity, identity_problem, with_identity_checks

OURS = Identity("scoring", "stack-a")


def healthz(service: str | None = "scoring", stack_id: str | None = "stack-a") -> dict[str, object]:
    body: dict[str, object] = {"status": "ok"}
    if service is not None:
        body["service"] = service
    if stack_id is not None:
        body["stack_id"] = stack_id
    return body


def test_the_expected_peer_has_no_problem() -> None:
    assert identity_problem(OURS, healthz()) is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (healthz(service="alerts"), "'alerts' service"),
        (healthz(stack_id="stack-b"), "stack 'stack-b'"),
        (healthz(service=None, stack_id=None), "names no service"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_another_service_or_stack_is_a_problem(body: object, words: str) -> None:
    problem = identity_problem(OURS, body)
    assert problem is not None and words in problem


def test_one_log_line_and_one_gauge_move_per_change(caplog: pytest.LogCaptureFixture) -> None:
    gauge: list[bool] = []
    peer = PeerIdentity("scoring", "http://127.0.0.1:8002/", OURS, on_change=gauge.append)
    caplog.set_level(logging.INFO, logger="shared.identity")
    assert peer.state == "unknown" and not peer.refused
    assert peer.observe(healthz())
    for _ in range(5):
        assert not peer.observe(healthz(stack_id="stack-b"))
    assert peer.refused
    assert peer.detail() == {"scoring_identity": "http://127.0.0.1:8002: it belongs to stack 'stack-b', not to this "
                                                 "stack 'stack-a'"}  # fmt: skip
    assert peer.observe(healthz())
    assert gauge == [True, False, True]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "refusing" in errors[0].getMessage()
    assert len([r for r in caplog.records if "ours again" in r.getMessage()]) == 1
    assert peer.detail() == {}


async def test_readiness_is_false_only_while_refused_and_only_once_started() -> None:
    peer = PeerIdentity("alerts", "http://127.0.0.1:8003", Identity("alerts", "a"))

    async def database() -> bool:
        return True

    assert with_identity_checks({}, [peer]) == {}  # before the lifespan: still not ready
    checks = with_identity_checks({"database": database}, [peer])
    assert set(checks) == {"database", "alerts_identity"}
    assert await checks["alerts_identity"]()  # unknown (not answering) does not decide readiness
    peer.observe({"service": "scoring", "stack_id": "a"})
    assert not await checks["alerts_identity"]()


async def test_check_asks_healthz_and_ignores_a_peer_that_does_not_answer() -> None:
    answers = {"/healthz": httpx.Response(200, json=healthz(stack_id="stack-b"))}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9:
            raise httpx.ConnectError("refused", request=request)
        return answers[request.url.path]

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        silent = PeerIdentity("scoring", "http://127.0.0.1:9", OURS)
        assert await silent.check(client) is None and silent.state == "unknown"
        other = PeerIdentity("scoring", "http://127.0.0.1:8002", OURS)
        assert await other.check(client) is False and other.refused
