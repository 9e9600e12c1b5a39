"""What the fault scenarios share: their sizes (bounded or heavy, from FAULT_* variables), the clients that send
events to ingest and count every answer, and where the measured figures go."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.integration.faults.stack import STREAM_UNITS, FaultStack, event
from tests.integration.processes import REPO_ROOT

# A client's pause before retrying a 503. Real clients honour Retry-After; the suite's clients retry sooner so an
# outage of a few seconds still sees many requests (each one counted).
RETRY_PAUSE_S = 0.2


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is. Defaults: the bounded suite; `make faults` sets the heavy values."""

    crash_events: int = 6_000
    crash_kills: int = 3
    crash_interval_s: float = 3.0
    crash_rate: float = 400.0
    broker_events: int = 3_000
    broker_outage_s: float = 6.0
    pg_events: int = 2_000
    pg_outage_s: float = 5.0
    hostile_valid: int = 600
    receiver_error_s: float = 4.0
    receiver_refused_s: float = 3.0
    batch: int = 200
    clients: int = 2
    settle_timeout_s: float = 120.0
    # pytest-timeout's limit per test (the first one includes starting the stack: 2 minutes under heavy load).
    test_timeout_s: float = 600.0

    @classmethod
    def from_env(cls) -> Sizes:
        """Each field from FAULT_<NAME> (e.g. FAULT_CRASH_KILLS=20) when set."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f"FAULT_{f.name.upper()}")
            if raw is not None:
                values[f.name] = type(getattr(cls(), f.name))(raw)
        return cls(**values)


@dataclass
class Feeder:
    """Clients of ingest: batches over HTTP; a 503 is retried (same event ids) unless the batch is a probe."""

    stack: FaultStack
    prefix: str
    batch: int
    statuses: Counter[str] = field(default_factory=Counter)
    without_retry_after: int = 0
    sequence: int = 0
    acknowledged: int = 0

    def events(self, count: int, units: tuple[str, ...], channel: str = "online") -> list[dict[str, Any]]:
        made = []
        for _ in range(count):
            self.sequence += 1
            made.append(event(f"{self.prefix}-{self.sequence}", units[self.sequence % len(units)], channel))
        return made

    async def send(self, client: httpx.AsyncClient, events: list[dict[str, Any]], *, retry: bool = True) -> bool:
        while True:
            try:
                response = await client.post("/v1/events", json=events)
            except httpx.TransportError as error:
                self.statuses[type(error).__name__] += 1
            else:
                if response.status_code == 200:
                    assert response.json() == {"accepted": len(events), "rejected": []}, response.text
                    self.stack.ledger.add(events)  # owed only once acknowledged
                    self.acknowledged += len(events)
                    self.statuses["200"] += 1
                    return True
                assert response.status_code == 503, f"{response.status_code}: {response.text}"
                self.statuses[f"503 {response.json()['error']}"] += 1
                self.without_retry_after += "retry-after" not in response.headers
            if not retry:
                return False
            await asyncio.sleep(RETRY_PAUSE_S)

    async def stream(self, total: int, duration_s: float, clients: int = 2) -> None:
        """`total` events over about `duration_s` (paced; a client waiting on retries falls behind, as real
        ones do), by `clients` concurrent clients."""
        batches = [self.events(min(self.batch, total - i), STREAM_UNITS) for i in range(0, total, self.batch)]
        pause = duration_s / max(1, len(batches)) * clients

        async def client_loop(mine: list[list[dict[str, Any]]]) -> None:
            async with self.stack.ingest_client() as client:
                for events in mine:
                    started = time.monotonic()
                    await self.send(client, events)
                    await asyncio.sleep(max(0.0, pause - (time.monotonic() - started)))

        await asyncio.gather(*(client_loop(batches[i::clients]) for i in range(clients)))

    async def pour(self, rate: float, clients: int, until: Callable[[], bool]) -> None:
        """Batches at about `rate` events a second in all (0: as fast as the clients go) until `until()`."""

        async def client_loop() -> None:
            async with self.stack.ingest_client() as client:
                while not until():
                    started = time.monotonic()
                    await self.send(client, self.events(self.batch, STREAM_UNITS))
                    if rate:
                        await asyncio.sleep(max(0.0, self.batch * clients / rate - (time.monotonic() - started)))

        await asyncio.gather(*(client_loop() for _ in range(clients)))

    def five_hundreds(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.statuses.items()) if code.startswith("5")}


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the figures and append them to var/faults/figures.jsonl (the numbers behind docs/reliability.md)."""
    line = {"scenario": name, "at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
    print(f"\nfault scenario {json.dumps(line, ensure_ascii=False)}")
    target = REPO_ROOT / "var" / "faults" / "figures.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
