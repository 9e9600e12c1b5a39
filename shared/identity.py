"""Who answers on a URL: every service's `/healthz` names its service and its stack (`STACK_ID`), and a service
that calls another checks that identity at start and periodically.

A caller that reaches the wrong service, or the right service of another stack (two stacks on one machine, a port
left at its default), refuses: its readiness is false, a gauge says so, and one log line is written per change —
never one per request. A peer that does not answer at all is a reachability matter (`shared.outages`), not this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

log = logging.getLogger(__name__)

State = Literal["unknown", "ok", "wrong"]


@dataclass(frozen=True)
class Identity:
    service: str
    stack_id: str


def identity_problem(expected: Identity, body: object) -> str | None:
    """None when `body` (a `/healthz` answer) is `expected`'s; else what is wrong, in one sentence."""
    if not isinstance(body, dict):
        return "its /healthz did not answer a JSON object"
    service, stack_id = body.get("service"), body.get("stack_id")
    if service is None or stack_id is None:
        return "its /healthz names no service or stack (an older or foreign service)"
    if service != expected.service:
        return f"it is the {service!r} service, not {expected.service!r}"
    if stack_id != expected.stack_id:
        return f"it belongs to stack {stack_id!r}, not to this stack {expected.stack_id!r}"
    return None


class PeerIdentity:
    """What this process knows of one peer's identity: unknown (not answered yet), ok, or wrong.

    `on_change(ok)` moves a gauge; the state change is logged once (ERROR when it turns wrong).
    """

    def __init__(
        self,
        peer: str,
        url: str,
        expected: Identity,
        *,
        on_change: Callable[[bool], None] | None = None,
        logger: logging.Logger = log,
    ) -> None:
        self.peer = peer
        self.url = url.rstrip("/")
        self.expected = expected
        self.state: State = "unknown"
        self.problem: str | None = None
        self._on_change = on_change
        self._logger = logger

    @property
    def refused(self) -> bool:
        return self.state == "wrong"

    def observe(self, body: object) -> bool:
        """Record one `/healthz` answer; True when it is the expected peer."""
        problem = identity_problem(self.expected, body)
        state: State = "ok" if problem is None else "wrong"
        if state != self.state or problem != self.problem:
            if state == "wrong":
                self._logger.error("%s at %s is not ours: %s; refusing to use it (set the right URL)",
                                   self.peer, self.url, problem)  # fmt: skip
            elif self.state == "wrong":
                self._logger.warning("%s at %s is ours again (%s, stack %s)",
                                     self.peer, self.url, self.expected.service, self.expected.stack_id)  # fmt: skip
            if self._on_change is not None:
                self._on_change(state == "ok")
        self.state, self.problem = state, problem
        return state == "ok"

    async def ready(self) -> bool:
        """A readiness check: false only while the peer is known to be the wrong one."""
        return not self.refused

    def detail(self) -> dict[str, str]:
        """For `/readyz` details: present only while the peer is refused."""
        return {f"{self.peer}_identity": f"{self.url}: {self.problem}"} if self.refused and self.problem else {}

    async def check(self, client: httpx.AsyncClient, timeout_s: float = 5.0) -> bool | None:
        """Ask the peer's `/healthz`: True/False for its identity, None when it gave no usable answer."""
        try:
            response = await client.get(f"{self.url}/healthz", timeout=timeout_s)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        return self.observe(body)

    async def watch(self, client: httpx.AsyncClient, interval_s: float) -> None:
        """Check now and every `interval_s` until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                await self.check(client)
            await asyncio.sleep(interval_s)


def with_identity_checks(
    checks: dict[str, Callable[[], Awaitable[bool]]], peers: Sequence[PeerIdentity]
) -> dict[str, Callable[[], Awaitable[bool]]]:
    """`checks` plus one `<peer>_identity` check per peer — none before the lifespan opened anything (readiness
    stays false while `checks` is empty)."""
    if not checks:
        return checks
    return {**checks, **{f"{peer.peer}_identity": peer.ready for peer in peers}}
