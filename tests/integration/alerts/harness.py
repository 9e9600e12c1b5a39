"""Real things around the alerts service for its integration tests: a webhook receiver, a scoring stand-in, an
SMTP server, a Kafka producer, and the service itself in-process (uvicorn) with a clock the test can advance."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.alerts.app import create_app
from services.alerts.domain.receivers import Receivers, parse_receivers
from services.alerts.settings import AlertsSettings
from shared.indicators import UnitIndicators
from tests.integration.conftest import free_port, unique

T = TypeVar("T")
ADMIN_TOKEN = secrets.token_hex(20)
WEBHOOK_SECRET = secrets.token_hex(20)

BA_DINH = {"unit_id": "quan-ba-dinh", "name": "Quận Ba Đình", "level": "district", "ancestors": ["ha-noi"]}
BA_VI = {"unit_id": "huyen-ba-vi", "name": "Huyện Ba Vì", "level": "district", "ancestors": ["ha-noi"]}
PHUC_XA = {"unit_id": "phuong-phuc-xa", "name": "Phường Phúc Xá", "level": "commune",
           "ancestors": ["quan-ba-dinh", "ha-noi"]}  # fmt: skip

RULES = """
version: 1
rules:
  - id: pay-low
    name: Thanh toán trực tuyến thấp
    name_en: Online payments low
    target: online_payment_rate
    comparison: "<"
    threshold: 0.55
    clear_threshold: 0.57
    min_denominator: 20
    for: {for_}
    repeat_interval: 5m
    scope: {{levels: [district, commune]}}
    summary: "$unit_name: thanh toán trực tuyến $value, dưới $threshold"
    description: "Tháng $period: $value trên $denominator giao dịch"
    summary_en: "$unit_name: online payments $value, below $threshold"
  - id: near-due
    kind: near_due
    name: Hồ sơ sắp đến hạn
    horizon: 24h
    refresh_interval: 5m
    repeat_interval: null
    max_listed: 10
    scope: {{levels: [district, commune]}}
    summary: "$unit_name: $count hồ sơ sắp quá hạn trong $horizon"
    description: "Sớm nhất $earliest_due:\\n$items"
"""


def rules_file(tmp_path: Path, for_: str = "2s") -> Path:
    path = tmp_path / "alert_rules.yaml"
    path.write_text(RULES.format(for_=for_), "utf-8")
    return path


def webhook_receivers(url: str, **grouping: str) -> Receivers:
    spec = {"group_wait": "0s", "group_interval": "1s", **grouping}
    text = f"""
version: 1
receivers:
  - name: ops
    type: webhook
    url: {url}
    secret_env: HOOK_SECRET
    grouping: {json.dumps(spec)}
    retry: {{base: 0.2, cap: 1}}
"""
    return parse_receivers(text, {"HOOK_SECRET": WEBHOOK_SECRET})


class AdjustableClock:
    """Real time plus an offset the test moves forward (repeat intervals are at least 5 minutes)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float = 30.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail after the timeout."""
    last: T | None = None
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what or check}; last: {last!r}") from None


@contextlib.asynccontextmanager
async def serve_in_background(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Any ASGI app on `port` (default: a free one), in this event loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                    raise AssertionError("server stopped before it started")
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookSink:
    """A real HTTP receiver. `fail_with` makes it answer that status (e.g. 503) until cleared."""

    received: list[Delivery] = field(default_factory=list)
    fail_with: int | None = None

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            status = self.fail_with or 200
            self.received.append(Delivery(body, {k.lower(): v for k, v in request.headers.items()}, status))
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    @property
    def accepted(self) -> list[Delivery]:
        return [d for d in self.received if d.status == 200]

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        found = [a for d in self.accepted for a in d.payload["alerts"]]
        return [a for a in found if status is None or a["status"] == status]


@dataclass
class ScoringStandIn:
    """Serves `GET /v1/units/{unit_id}/dossiers?state=due_soon&within_hours=…` from a dict the test fills."""

    dossiers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def dossiers(request: Request) -> JSONResponse:
            unit_id = request.path_params["unit_id"]
            params = dict(request.query_params)
            self.requests.append({"unit_id": unit_id, **params})
            now = datetime.now(UTC)
            horizon = now + timedelta(hours=float(params.get("within_hours", "24")))
            items = [d for d in self.dossiers.get(unit_id, []) if now <= datetime.fromisoformat(d["due_at"]) < horizon]
            items.sort(key=lambda d: (d["due_at"], d["dossier_id"]))
            return JSONResponse(
                {
                    "unit_id": unit_id,
                    "state": params.get("state"),
                    "as_of": now.isoformat(),
                    "items": items,
                    "next_cursor": None,
                }
            )

        return Starlette(routes=[Route("/v1/units/{unit_id}/dossiers", dossiers)])


class _MailHandler:
    def __init__(self, inbox: list[tuple[list[str], Message]]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        self.inbox.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server() -> Any:
    """A real SMTP server (aiosmtpd, its own thread); yields (port, inbox)."""
    inbox: list[tuple[list[str], Message]] = []
    port = free_port()
    controller = Controller(_MailHandler(inbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def indicators(unit: dict[str, Any], rate: float | None, payments: int = 100, *, due_soon: int = 0,
               at: datetime | None = None) -> UnitIndicators:  # fmt: skip
    moment = at or datetime.now(UTC)
    online = round(payments * rate) if rate is not None else 0
    return UnitIndicators.model_validate(
        {
            **unit,
            "period": moment.astimezone(UTC).strftime("%Y-%m"),
            "counters": {"payments": payments, "payments_online": online},
            "rates": {"online_payment_rate": None if payments == 0 else rate},
            "live": {"open": 10, "overdue_open": 0, "due_soon": due_soon, "as_of": moment.isoformat()},
            "score": 70.0,
            "rank": 3,
            "rank_of": 30,
            "computed_at": moment.isoformat(),
        }
    )


@dataclass
class Topic:
    name: str
    producer: AIOKafkaProducer

    async def publish(self, *messages: UnitIndicators) -> None:
        for message in messages:
            await self.producer.send_and_wait(
                self.name, message.model_dump_json().encode(), key=message.unit_id.encode()
            )


@contextlib.asynccontextmanager
async def kafka_topic(bootstrap: str, partitions: int = 2) -> AsyncIterator[Topic]:
    name = unique("alerts-indicators")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        await producer.start()
        yield Topic(name, producer)
    finally:
        await producer.stop()
        with contextlib.suppress(Exception):
            await admin.delete_topics([name])
        await admin.close()


def alerts_settings(database_url: str, bootstrap: str, topic: str, rules: Path, **overrides: Any) -> AlertsSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap,
        "admin_token": ADMIN_TOKEN,
        "alert_rules_file": rules,
        "receivers_file": None,
        "indicators_topic": topic,
        "consumer_group": unique("alerts-group"),
        "dashboard_public_url": "https://pulse.example.vn/dashboard/",
        "tick_interval_s": 0.25,
        "near_due_interval_s": 0.5,
        "sender_interval_s": 0.2,
        **overrides,
    }
    return AlertsSettings(**values)


@contextlib.asynccontextmanager
async def running_alerts(
    settings: AlertsSettings,
    receivers: Receivers | None = None,
    clock: AdjustableClock | None = None,
    *,
    receivers_from_file: bool = False,
) -> AsyncIterator[httpx.AsyncClient]:
    """The alerts app in this process; yields an HTTP client on it (admin token set). With `receivers_from_file`
    the app reads (and re-reads) settings.receivers_file like production."""
    given = None if receivers_from_file else (receivers or Receivers())
    app = create_app(settings, clock=clock or AdjustableClock(), receivers=given)
    async with serve_in_background(app) as base_url, httpx.AsyncClient(
        base_url=base_url, timeout=10.0, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:  # fmt: skip
        await eventually(lambda: _ready(client), 60, "alerts /readyz")
        yield client


async def _ready(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get("/readyz")).status_code == 200
    return False


async def alert_of(client: httpx.AsyncClient, rule_id: str, unit_id: str) -> dict[str, Any] | None:
    response = await client.get("/v1/alerts", params={"state": "inactive,pending,firing,resolved",
                                                      "unit_id": unit_id, "rule_id": rule_id})  # fmt: skip
    response.raise_for_status()
    items = response.json()["items"]
    return items[0] if items else None


async def state_is(client: httpx.AsyncClient, rule_id: str, unit_id: str, *states: str) -> dict[str, Any] | None:
    alert = await alert_of(client, rule_id, unit_id)
    return alert if alert is not None and alert["state"] in states else None
