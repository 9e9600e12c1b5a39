"""shared.outages, shared.kafka_logs and the OpenAPI error pieces of shared.http — in-process, no I/O."""

from __future__ import annotations

import inspect
import logging
import re
from datetime import UTC, datetime
from typing import Annotated

import aiokafka.consumer.group_coordinator
import httpx
import pytest
from asyncpg.exceptions import (
    CannotConnectNowError,
    ConnectionDoesNotExistError,
    InterfaceError,
    InternalClientError,
    TooManyConnectionsError,
)
from fastapi import FastAPI, Path

from shared.http import PG_BIGINT_MAX, error_responses, install_error_handlers, install_standard_openapi
from shared.kafka_logs import GROUP_MEMBERSHIP, KafkaLogGate
from shared.outages import DependencyState, RecoveryWatch, install_database_outage_handler, is_database_outage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_state_change(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    changes: list[bool] = []
    failures: list[int] = []
    state = DependencyState(
        "PostgreSQL", monotonic=clock, clock=lambda: datetime(2025, 7, 1, tzinfo=UTC),
        on_failure=lambda: failures.append(1), on_change=changes.append,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="tthc.outages"):
        for _ in range(50):
            state.failed(ConnectionRefusedError("refused"))
        assert state.describe().startswith("unreachable since 2025-07-01T00:00:00+00:00 (50 failures")
        clock.now += 12.5
        state.succeeded()
        state.succeeded()
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "after 12.5 s (50 failures" in caplog.records[1].getMessage()
    assert changes == [False, True] and len(failures) == 50 and state.describe() == "reachable"


def test_kafka_gate_drops_repeated_connection_errors() -> None:
    clock = Clock()
    state = DependencyState("Kafka", monotonic=clock)
    gate = KafkaLogGate(state, quiet_s=15, monotonic=clock)

    def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", level, __file__, 1, msg, ("1", "refused"), None)

    passed = [gate.filter(record("Unable connect to node with id %s: %s")) for _ in range(120)]
    assert passed == [False] * 120 and gate.suppressed == 120 and not state.reachable
    assert gate.filter(record("Topic %s not found in cluster metadata"))  # not a connection failure: passes
    assert gate.filter(record("Joined group %s", logging.INFO))
    clock.now += 16
    gate.note_quiet()
    assert state.reachable and state.outage_failures == 120


def test_kafka_gate_passes_the_groups_rebalances_at_info_without_an_outage() -> None:
    """A consumer group forming or rebalancing is the broker answering, not an outage: its heartbeat lines pass at
    INFO and the state stays reachable; a heartbeat that finds no coordinator still counts as a failure."""
    state = DependencyState("Kafka")
    gate = KafkaLogGate(state)
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    level = coordinator.level
    try:
        coordinator.setLevel(logging.INFO)  # as the services log
        for message in GROUP_MEMBERSHIP:
            line = logging.LogRecord(coordinator.name, logging.WARNING, __file__, 1, message,
                                     ("scoring",) * message.count("%s"), None)  # fmt: skip
            assert gate.filter(line) and line.levelno == logging.INFO and line.levelname == "INFO"
        coordinator.setLevel(logging.WARNING)  # INFO turned off for it: the line, now INFO, is dropped
        line = logging.LogRecord(coordinator.name, logging.WARNING, __file__, 1, GROUP_MEMBERSHIP[0], ("g",), None)
        assert not gate.filter(line)
    finally:
        coordinator.setLevel(level)
    assert state.reachable and gate.suppressed == 0
    lost = logging.LogRecord("aiokafka.consumer.group_coordinator", logging.WARNING, __file__, 1,
                             "Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid",
                             ("scoring", "1"), None)  # fmt: skip
    assert not gate.filter(lost) and not state.reachable
    # The format strings as aiokafka writes them (adjacent literals joined): an upgrade that rewords one fails here.
    source = re.sub(r'"\s*\n\s*"', "", inspect.getsource(aiokafka.consumer.group_coordinator))
    assert all(f'"{message}"' in source for message in GROUP_MEMBERSHIP)


def _app() -> tuple[FastAPI, DependencyState]:
    app = FastAPI()
    state = DependencyState("PostgreSQL")

    async def probe() -> bool | None:
        return None

    install_error_handlers(app)
    install_database_outage_handler(app, RecoveryWatch(state, probe), retry_after_s=7)
    errors = {
        "refused": ConnectionRefusedError(111, "Connect call failed"),
        "starting": CannotConnectNowError("the database system is starting up"),
        "full": TooManyConnectionsError("sorry, too many clients already"),
        "timeout": TimeoutError(),
        # asyncpg, on a pooled connection the lost server left mid-operation (heavy PostgreSQL-outage scenario)
        "interrupted": InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
    }

    @app.get("/fail/{kind}", responses=error_responses(503))
    async def fail(kind: str) -> None:
        if kind == "closed":  # a transaction left after the server closed its connection
            raise _raised_while_handling(ConnectionDoesNotExistError("gone"), InterfaceError("connection is closed"))
        raise errors[kind]

    @app.get("/items/{item_id}", responses=error_responses(404, 422))
    async def item(item_id: Annotated[int, Path(ge=1, le=PG_BIGINT_MAX)]) -> dict[str, int]:
        return {"item_id": item_id}

    install_standard_openapi(app)
    return app, state


async def test_database_outage_is_503_with_retry_after() -> None:
    app, state = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for kind in ("refused", "starting", "full", "timeout", "interrupted", "closed"):
            response = await client.get(f"/fail/{kind}")
            assert response.status_code == 503 and response.headers["retry-after"] == "7"
            assert response.json()["error"] == "database_unavailable" and " / " in response.json()["detail"]
    assert not state.reachable and state.outage_failures == 6


async def test_ids_beyond_bigint_are_422_in_our_shape_and_documented() -> None:
    app, _ = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        too_big = await client.get(f"/items/{2**64}")
        assert too_big.status_code == 422 and too_big.json()["error"] == "invalid_request"
        assert (await client.get(f"/items/{PG_BIGINT_MAX}")).status_code == 200
        document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/items/{item_id}"]["get"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in document["paths"]["/fail/{kind}"]["get"]["responses"]["503"]["headers"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_default_422_becomes_error_body() -> None:
    app = FastAPI()

    @app.get("/q")
    async def q(n: int) -> int:
        return n

    install_standard_openapi(app)
    document = app.openapi()
    schema = document["paths"]["/q"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(document["components"]["schemas"]) == {"ErrorBody"}


def _raised_while_handling(handled: BaseException, raised: BaseException) -> BaseException:
    try:
        try:
            raise handled
        except type(handled):
            raise raised  # noqa: B904 — the implicit __context__ is what asyncpg's clean-up leaves
    except type(raised) as error:
        return error


def test_a_failed_clean_up_after_the_server_went_away_is_an_outage_and_nothing_else_is() -> None:
    """asyncpg's transaction fails again on leaving once the server closed its connection; the alerts tick logged
    that InterfaceError as a failure with a traceback while PostgreSQL stopped (seen in two full runs)."""

    def gone() -> BaseException:
        return ConnectionDoesNotExistError("connection was closed in the middle of operation")

    def closed() -> BaseException:
        return InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed")

    assert is_database_outage(gone())
    assert is_database_outage(_raised_while_handling(gone(), closed()))
    assert not is_database_outage(closed())  # a connection misused without any outage
    assert not is_database_outage(_raised_while_handling(gone(), TypeError("a bug in the handling")))
    assert not is_database_outage(_raised_while_handling(ValueError("not an outage"), closed()))
