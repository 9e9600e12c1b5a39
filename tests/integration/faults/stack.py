"""The stack a fault scenario runs against: the REAL service processes (ingest, two scoring processes, alerts) wired
as `python -m infra up` wires them, on a Kafka broker and a PostgreSQL server of the suite's own (a scenario stops
and starts them; never the shared servers of the test run), plus a webhook receiver the test controls.

Beside it, the suite's own bookkeeping: a ledger of every event ingest acknowledged (or the test wrote straight to
the topic) and the figures those events imply, computed here by hand — never read back from the system under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra import kafka_local
from infra.wiring import stack_wiring
from shared.db import apply_migrations
from tests.integration.alerts.harness import WebhookSink, serve_in_background
from tests.integration.conftest import free_port
from tests.integration.ingest.conftest import vn_time
from tests.integration.private_broker import PrivateBroker
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.processes import REPO_ROOT, RunningService, service_process, wait_ready

# A small city: three districts of four communes. Scenarios a–d send to D1/D2 (online: no alert), scenario e
# to D3 (offline: every commune of D3 falls under the online-dossier rule).
DISTRICTS = ("F.D1", "F.D2", "F.D3")
COMMUNES = tuple(f"{d}.C{i}" for d in DISTRICTS for i in range(1, 5))
PARENT: dict[str, str | None] = {"F": None, **{d: "F" for d in DISTRICTS}, **{c: c.rsplit(".", 1)[0] for c in COMMUNES}}
UNITS_CSV = "unit_id,name,level,parent_id\nF,Thành phố thử,city,\n" + "".join(
    f"{u},Đơn vị {u},{'district' if u in DISTRICTS else 'commune'},{PARENT[u]}\n" for u in (*DISTRICTS, *COMMUNES)
)
STREAM_UNITS = tuple(c for c in COMMUNES if not c.startswith("F.D3"))
ALERT_UNITS = tuple(c for c in COMMUNES if c.startswith("F.D3"))
COUNTERS = ("events", "events_timely", "received", "received_online")

RULES = """version: 1
rules:
  - id: online-low
    name: Hồ sơ trực tuyến thấp
    name_en: Online dossiers low
    target: online_rate
    comparison: "<"
    threshold: 0.5
    clear_threshold: 0.6
    min_denominator: 1
    for: 0s
    repeat_interval: 24h
    scope: {levels: [commune]}
    summary: "$unit_name: hồ sơ trực tuyến $value"
    description: "Tháng $period: $value trên $denominator hồ sơ"
"""
RECEIVERS = """version: 1
receivers:
  - name: ops
    type: webhook
    url: {url}
    secret_env: FAULT_HOOK_SECRET
    grouping: {{group_wait: 0s, group_interval: 1s}}
    # Up to a minute of failures at ≤ 1 s apart (make faults): more attempts than the default 20 before giving up.
    retry: {{base: 0.2, cap: 1, max_attempts: 1000}}
"""


def event(event_id: str, unit_id: str, channel: str = "online") -> dict[str, Any]:
    """A received event of a dossier of its own (so `received` counts it once and `events` once)."""
    return {
        "event_id": event_id, "dossier_id": f"HS-{event_id}", "unit_id": unit_id, "type": "received",
        "occurred_at": vn_time(-timedelta(hours=1)), "channel": channel, "due_at": vn_time(timedelta(days=7)),
    }  # fmt: skip


@dataclass
class Ledger:
    """Every event the system owes a count for: acknowledged by ingest (200 + accepted) or written to the topic by
    the test. A 503'd event is owed nothing until a retry is acknowledged."""

    owed: dict[str, tuple[str, str]] = field(default_factory=dict)  # event_id → (unit_id, channel)

    def add(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.owed[e["event_id"]] = (e["unit_id"], e["channel"])

    def expected(self) -> dict[tuple[str, str], int]:
        """(unit, counter) → value over all months: a hand count over the events, independent of scoring's domain
        code. The table holds each unit's own counts (migration 0007; ancestors are summed when read)."""
        out: Counter[tuple[str, str]] = Counter()
        for unit, channel in self.owed.values():
            out[(unit, "events")] += 1
            out[(unit, "events_timely")] += 1  # occurred 1 h before ingestion: within a day
            out[(unit, "received")] += 1
            if channel == "online":
                out[(unit, "received_online")] += 1
        return dict(out)


COUNTERS_SQL = (
    "SELECT unit_id, counter, sum(value)::bigint AS value FROM unit_month_counters "
    "WHERE counter = ANY($1::text[]) GROUP BY unit_id, counter HAVING sum(value) <> 0"
)


@dataclass
class FaultStack:
    broker: PrivateBroker
    postgres: PrivatePostgres
    database_url: str
    env: dict[str, str]
    ports: dict[str, int]
    sink: WebhookSink
    sink_port: int
    services: dict[str, RunningService] = field(default_factory=dict)
    contexts: dict[str, contextlib.AbstractAsyncContextManager[RunningService]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    api_key: str = ""
    sink_server: contextlib.AbstractAsyncContextManager[str] | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    async def start_service(self, name: str) -> RunningService:
        module = "scoring" if name.startswith("scoring") else name
        context = service_process(module, port=self.ports[name], **self.env)
        service = await context.__aenter__()
        self.contexts[name], self.services[name] = context, service
        return service

    async def stop_service(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        context = self.contexts.pop(name)
        service = self.services.pop(name)
        with contextlib.suppress(TimeoutError):
            await service.stop(sig)
        await context.__aexit__(None, None, None)

    async def kill_and_restart(self, name: str) -> asyncio.Task[float]:
        """SIGKILL one service and start it again at once, as a supervisor would; the task ends when the new
        process is ready, with how long that took."""
        await self.stop_service(name, signal.SIGKILL)
        started = time.monotonic()
        service = await self.start_service(name)

        async def ready() -> float:
            await wait_ready(service, timeout_s=180)
            return time.monotonic() - started

        return asyncio.create_task(ready())

    async def counters(self) -> dict[tuple[str, str], int]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(COUNTERS_SQL, list(COUNTERS))
        finally:
            await conn.close()
        return {(r["unit_id"], r["counter"]): int(r["value"]) for r in rows}

    async def caught_up(self, group: str = "scoring") -> bool:
        """Scoring's group has committed the end of every partition of dossier-events."""
        from tests.integration.scoring.test_scoring_failures import caught_up

        return await caught_up(self.broker.bootstrap, "dossier-events", group)

    async def recompute(self) -> str:
        """`python -m services.scoring recompute` on the stack's database; returns its output (fails unless 0)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.scoring", "recompute", "--database-url", self.database_url,
            cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 180)
        text = out.decode()
        assert process.returncode == 0, text
        assert text.count(": 0 differing keys") == 2, text
        return text

    async def start_sink(self) -> None:
        """The webhook receiver listens (again) on its port."""
        self.sink_server = serve_in_background(self.sink.app(), port=self.sink_port)
        await self.sink_server.__aenter__()

    async def stop_sink(self) -> None:
        """Nothing listens on the receiver's port any more: deliveries get "connection refused"."""
        server, self.sink_server = self.sink_server, None
        if server is not None:
            await server.__aexit__(None, None, None)

    def ingest_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url("ingest"), headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30.0
        )

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['ADMIN_TOKEN']}"}


@contextlib.asynccontextmanager
async def fault_stack() -> AsyncIterator[FaultStack]:
    """Start everything (about 30 s on a 2-core machine); stop everything afterwards, whatever a scenario left."""
    root = Path(tempfile.mkdtemp(prefix="tthc-faults-"))
    broker = PrivateBroker(root / "kafka")
    postgres = await asyncio.to_thread(PrivatePostgres)
    await asyncio.gather(broker.start(), postgres.start())
    stack: FaultStack | None = None
    try:
        await kafka_local.ensure_topics(broker.bootstrap)  # the product's topics, with shared/kafka.py's limits
        admin = await asyncpg.connect(postgres.admin_url)
        try:
            await admin.execute("CREATE DATABASE tthc_faults TEMPLATE template0 ENCODING 'UTF8'")
        finally:
            await admin.close()
        database_url = postgres.admin_url.rpartition("/")[0] + "/tthc_faults"
        await asyncio.to_thread(apply_migrations, database_url)
        ports = {name: free_port() for name in ("ingest", "scoring", "scoring-2", "alerts")}
        wired = stack_wiring(
            {"INGEST_PORT": str(ports["ingest"]), "SCORING_PORT": str(ports["scoring"]),
             "SCORING_2_PORT": str(ports["scoring-2"]), "ALERTS_PORT": str(ports["alerts"])},
            f"faults-{secrets.token_hex(3)}",
        )  # fmt: skip
        rules = root / "alert_rules.yaml"
        rules.write_text(RULES, "utf-8")
        sink, sink_port = WebhookSink(), free_port()
        receivers = root / "receivers.yaml"
        receivers.write_text(RECEIVERS.format(url=f"http://127.0.0.1:{sink_port}/hook"), "utf-8")
        env = {
            **{k: v for k, v in wired.items() if not k.endswith("_PORT")},
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "ADMIN_TOKEN": secrets.token_urlsafe(24),
            "FAULT_HOOK_SECRET": secrets.token_hex(16),
            "ALERT_RULES_FILE": str(rules),
            "RECEIVERS_FILE": str(receivers),
            "KEY_CACHE_TTL_S": "1",
            "RETRY_AFTER_S": "2",
            "PRODUCE_TIMEOUT_S": "3",
            "INDICATORS_INTERVAL_S": "0.5",
            "BATCH_TIMEOUT_MS": "100",
            "TICK_INTERVAL_S": "0.25",
            "SENDER_INTERVAL_S": "0.2",
            "LOG_LEVEL": os.environ.get("FAULTS_LOG_LEVEL", "WARNING"),
        }
        stack = FaultStack(broker, postgres, database_url, env, ports, sink, sink_port)
        await wait_ready(await stack.start_service("ingest"))
        async with httpx.AsyncClient(base_url=stack.url("ingest"), headers=stack.admin_headers()) as client:
            loaded = await client.put("/v1/admin/units", content=UNITS_CSV, headers={"Content-Type": "text/csv"})
            assert loaded.status_code == 200, loaded.text
            created = await client.post("/v1/admin/api-keys", json={"name": "faults", "units": ["F"]})
            assert created.status_code == 201, created.text
            stack.api_key = created.json()["key"]
        scorers = [await stack.start_service(n) for n in ("scoring", "scoring-2")]
        await asyncio.gather(*(wait_ready(s) for s in scorers))
        await wait_ready(await stack.start_service("alerts"))
        await stack.start_sink()
        yield stack
    finally:
        if stack is not None:
            await stack.stop_sink()
            for name in list(stack.services):
                with contextlib.suppress(Exception):
                    await stack.stop_service(name)
        await broker.stop()
        await postgres.stop()
        postgres.remove()
        shutil.rmtree(root, ignore_errors=True)
