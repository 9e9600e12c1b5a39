"""Dependency outages: one state per dependency, one log line per change, and the HTTP answer to a database outage.

A dependency (PostgreSQL, Kafka, the scoring API) that stops answering is an expected event, not a bug: clients get
503 + `Retry-After` + `{"error": ..., "detail": ...}`, operators get ONE log line when it goes down and ONE when it
comes back (with how long and how many failures), and `/readyz` says so while it lasts. docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    CrashShutdownError,
    InterfaceError,
    InternalClientError,
    PostgresConnectionError,
    TooManyConnectionsError,
)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("tthc.outages")

# What a route sees when PostgreSQL is down, restarting, refusing connections or out of connection slots. (OSError
# covers refused and reset connections; TimeoutError a pool or connect timeout. QueryCanceledError — a statement
# timeout — is deliberately absent: that is a slow query, not an outage. InternalClientError is what asyncpg raises
# ("cannot switch to state …; another operation is in progress") when a pooled connection was left mid-operation by
# the server going away: seen under 4 clients × 500-event batches in the heavy PostgreSQL-outage fault scenario,
# where it answered 500. Answered 503 like the rest, the outage state logs its type, and the pool drops the
# connection when it is released.)
DATABASE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    PostgresConnectionError,
    CannotConnectNowError,
    TooManyConnectionsError,
    AdminShutdownError,
    CrashShutdownError,
    InternalClientError,
)

WallClock = Callable[[], datetime]
Probe = Callable[[], Awaitable[bool | None]]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def is_database_outage(error: BaseException) -> bool:
    """An outage error, or asyncpg's InterfaceError raised while one was being handled: a transaction whose connection
    the server closed ("terminating connection due to administrator command") fails again on leaving — "cannot call
    Transaction.__aexit__(): the underlying connection is closed" — and that second error is the one raised (the
    alerts tick logged it as a failure with a traceback while PostgreSQL stopped). Any other error raised while an
    outage was handled is not an outage: a bug in the handling must not be hidden."""
    for _ in range(4):  # the chain is short: the outage, the failed clean-up, at most a wrapper or two
        if isinstance(error, DATABASE_OUTAGE_ERRORS):
            return True
        if not isinstance(error, InterfaceError):
            return False
        following = error.__cause__ or error.__context__
        if following is None:
            return False
        error = following
    return False


class DependencyState:
    """Reachable or not, since when, and how many failures; logs only when the state changes.

    `on_failure` is called for every failure (a metrics counter), `on_change` with the new state (a gauge).
    """

    def __init__(
        self,
        name: str,
        *,
        logger: logging.Logger = log,
        clock: WallClock = _wall_clock,
        monotonic: Callable[[], float] = time.monotonic,
        on_failure: Callable[[], None] | None = None,
        on_change: Callable[[bool], None] | None = None,
        down: str = "unreachable",
        up: str = "reachable again",
        traceback: bool = False,
    ) -> None:
        self.name = name
        self._words = (down, up)
        self._traceback = traceback
        self.reachable = True
        self.since: datetime | None = None  # when the current outage started
        self.failures = 0  # in total, over the process's life
        self.outage_failures = 0  # in the current (or last) outage
        self.last_error = ""
        self.changes = 0
        self._logger = logger
        self._clock = clock
        self._monotonic = monotonic
        self._down_at = 0.0
        self._on_failure = on_failure
        self._on_change = on_change

    def failed(self, error: BaseException | str) -> bool:
        """Record a failure; True (and one WARNING line) when this is the start of an outage."""
        self.failures += 1
        self.outage_failures += 1
        self.last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}".rstrip(": ")
        if self._on_failure is not None:
            self._on_failure()
        if not self.reachable:
            return False
        self.reachable = False
        self.since = self._clock()
        self._down_at = self._monotonic()
        self.outage_failures = 1
        self.changes += 1
        self._logger.warning(
            "%s %s (%s); one line again when it is back", self.name, self._words[0], self.last_error,
            exc_info=error if self._traceback and isinstance(error, BaseException) else None,
        )  # fmt: skip
        if self._on_change is not None:
            self._on_change(False)
        return True

    def succeeded(self) -> bool:
        """Record a success; True (and one INFO line) when this ends an outage."""
        if self.reachable:
            return False
        self.reachable = True
        self.changes += 1
        self._logger.info(
            "%s %s after %.1f s (%d failures during the outage)",
            self.name, self._words[1], self._monotonic() - self._down_at, self.outage_failures,
        )  # fmt: skip
        if self._on_change is not None:
            self._on_change(True)
        return True

    def describe(self) -> str:
        if self.reachable:
            return "reachable"
        since = self.since.isoformat(timespec="seconds") if self.since else "?"
        return f"{self._words[0]} since {since} ({self.outage_failures} failures; last: {self.last_error})"


def database_unavailable(retry_after_s: int) -> JSONResponse:
    detail = (
        f"Cơ sở dữ liệu tạm thời không truy cập được; hãy thử lại sau {retry_after_s} giây / the database is "
        f"temporarily unreachable; retry after {retry_after_s} s"
    )
    return JSONResponse(
        {"error": "database_unavailable", "detail": detail}, 503, headers={"Retry-After": str(retry_after_s)}
    )


class RecoveryWatch:
    """While a dependency is down, ask `probe` every `interval_s` until it answers; then mark it up.

    `probe` returns True (reachable), False (not yet) or None (the service is shutting down: stop watching).
    """

    def __init__(self, state: DependencyState, probe: Probe, *, interval_s: float = 1.0) -> None:
        self.state = state
        self._probe = probe
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch(), name=f"recovery-{self.state.name}")

    async def _watch(self) -> None:
        while not self.state.reachable:
            await asyncio.sleep(self._interval_s)
            try:
                answer = await self._probe()
            except Exception as error:  # a probe failing is the outage going on
                self.state.failed(error)
                continue
            if answer is None:
                return
            if answer:
                self.state.succeeded()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def pool_probe(pool_of: Callable[[], Any]) -> Probe:
    """A RecoveryWatch probe of the service's PostgreSQL pool: None (stop watching) while there is no pool yet/any
    more, else whether the database answers a real round-trip."""

    async def probe() -> bool | None:
        from shared.db import database_reachable  # the pool helper; imported here to keep this module light

        pool = pool_of()
        return None if pool is None else await database_reachable(pool)

    return probe


def database_watch(
    pool_of: Callable[[], Any], *, on_failure: Callable[[], None], on_change: Callable[[bool], None]
) -> RecoveryWatch:
    """The PostgreSQL dependency of a service: its state (one log line per change, metrics through the callbacks)
    and the watch that probes it back after an outage. `watch.state` is the DependencyState."""
    state = DependencyState("PostgreSQL", on_failure=on_failure, on_change=on_change)
    return RecoveryWatch(state, pool_probe(pool_of))


def install_database_outage_handler(app: FastAPI, watch: RecoveryWatch, *, retry_after_s: int) -> None:
    """Answer every database outage error a route raises with 503 + Retry-After + `database_unavailable`.

    Handlers are registered per exception class (not for `Exception`), so Starlette's ServerErrorMiddleware never
    sees them: no "Exception in ASGI application" traceback per request. The first failure logs one line, and the
    recovery watch logs one more when the database answers again.
    """

    async def _outage(_: Request, exc: Exception) -> JSONResponse:
        watch.state.failed(exc)
        watch.ensure_running()
        return database_unavailable(retry_after_s)

    for error_class in DATABASE_OUTAGE_ERRORS:
        app.add_exception_handler(error_class, _outage)

    async def _interface(request: Request, exc: Exception) -> JSONResponse:
        if is_database_outage(exc):  # the failed clean-up after an outage (is_database_outage)
            return await _outage(request, exc)
        raise exc  # any other misuse of a connection stays a 500 with its traceback

    app.add_exception_handler(InterfaceError, _interface)


def tracked_checks(
    checks: Mapping[str, Callable[[], Awaitable[bool]]], states: Mapping[str, DependencyState]
) -> dict[str, Callable[[], Awaitable[bool]]]:
    """Readiness checks that also move the named dependencies' states (so `/readyz` polling logs a change too)."""

    def wrap(name: str, check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
        state = states.get(name)
        if state is None:
            return check

        async def tracked() -> bool:
            ok = await check()
            if ok:
                state.succeeded()
            else:
                state.failed("readiness check failed")
            return ok

        return tracked

    return {name: wrap(name, check) for name, check in checks.items()}


def unreachable_details(states: Mapping[str, DependencyState]) -> dict[str, str]:
    """`/readyz` details: one entry per dependency that is down right now."""
    return {name: state.describe() for name, state in states.items() if not state.reachable}


class PoolLogGate(logging.Filter):
    """asyncpg's pool logs a WARNING with a traceback every time it fails to restore its connection floor (1 s, 2 s,
    … 60 s apart, for as long as the outage lasts): count it as a failure of the database instead."""

    LOGGER = "asyncpg.pool"

    def __init__(self, watch: RecoveryWatch) -> None:
        super().__init__("pool-log-gate")
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Failed to restore the pool connection floor")):
            return True
        error = record.exc_info[1] if record.exc_info and record.exc_info[1] else record.getMessage()
        self.watch.state.failed(error)
        with contextlib.suppress(RuntimeError):  # not on the loop's thread: the next request starts the watch
            self.watch.ensure_running()
        return False

    def __enter__(self) -> PoolLogGate:
        logging.getLogger(self.LOGGER).addFilter(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger(self.LOGGER).removeFilter(self)

    async def __aenter__(self) -> PoolLogGate:
        return self.__enter__()

    async def __aexit__(self, *_: object) -> None:
        self.__exit__()
