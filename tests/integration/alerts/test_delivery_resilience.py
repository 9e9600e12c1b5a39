"""Nothing lost, nothing doubled: the process killed with SIGKILL mid-episode, a receiver down for a while."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.integration.alerts.harness import (
    ADMIN_TOKEN,
    BA_DINH,
    BA_VI,
    PHUC_XA,
    WEBHOOK_SECRET,
    Topic,
    WebhookSink,
    alerts_settings,
    eventually,
    indicators,
    rules_file,
    running_alerts,
    state_is,
    webhook_receivers,
)
from tests.integration.conftest import unique
from tests.integration.processes import RunningService, service_process, wait_ready


async def _truthy(value: bool) -> bool:
    return value


def _receivers_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "receivers.yaml"
    path.write_text(
        f"""version: 1
receivers:
  - name: ops
    type: webhook
    url: {url}
    secret_env: TEST_HOOK_SECRET
    grouping: {{group_wait: 0s, group_interval: 1s}}
    retry: {{base: 0.2, cap: 1}}
""",
        "utf-8",
    )
    return path


async def _state(service: RunningService, unit_id: str, *states: str) -> dict[str, object] | None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=5.0) as client:
        return await state_is(client, "pay-low", unit_id, *states)


async def test_sigkill_while_pending_and_while_firing_loses_nothing_and_sends_no_duplicate(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    env = {
        "DATABASE_URL": database,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "ALERT_RULES_FILE": str(rules_file(tmp_path, for_="6s")),
        "RECEIVERS_FILE": str(_receivers_file(tmp_path, url)),
        "TEST_HOOK_SECRET": WEBHOOK_SECRET,
        "INDICATORS_TOPIC": topic.name,
        "CONSUMER_GROUP": unique("alerts-kill"),
        "TICK_INTERVAL_S": "0.25",
        "SENDER_INTERVAL_S": "0.2",
    }
    unit = BA_DINH["unit_id"]

    async with service_process("alerts", **env) as first:
        await wait_ready(first)
        await topic.publish(indicators(BA_DINH, 0.40))
        await eventually(lambda: _state(first, unit, "pending"), 60, "pending before the first kill")
        await first.stop(signal.SIGKILL)

    # Pending survived: the restarted process fires it at pending_since + for, and delivers it once.
    async with service_process("alerts", **env) as second:
        await wait_ready(second)
        await eventually(lambda: _state(second, unit, "firing"), 60, "firing after the restart")
        await eventually(lambda: _truthy(len(receiver.accepted) == 1), 30, "the firing message")
        await second.stop(signal.SIGKILL)

    # The recovery is published while no alerts process runs; it is read after the restart.
    await topic.publish(indicators(BA_DINH, 0.70))
    async with service_process("alerts", **env) as third:
        await wait_ready(third)
        firing = await eventually(lambda: _state(third, unit, "resolved"), 60, "resolved after the second kill")
        await eventually(lambda: _truthy(len(receiver.accepted) == 2), 30, "the resolved message")
        async with httpx.AsyncClient(base_url=third.base_url) as client:
            history = (await client.get(f"/v1/alerts/{firing['id']}")).json()["history"]
        await third.stop(signal.SIGTERM)

    assert [(h["from_state"], h["to_state"]) for h in history] == [
        ("inactive", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    assert [d.payload["status"] for d in receiver.received] == ["firing", "resolved"]
    assert len({d.headers["x-tthc-delivery"] for d in receiver.received}) == 2


async def test_a_receiver_down_for_a_while_gets_every_notification_exactly_once(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    receiver.fail_with = 503
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="0s"))
    units = (BA_DINH, BA_VI, PHUC_XA)
    async with running_alerts(settings, webhook_receivers(url)) as api:
        await topic.publish(*(indicators(u, 0.30) for u in units))
        # Every group is refused a few times (backoff 0.2 s … 1 s with jitter).
        await eventually(
            lambda: _truthy(all(_attempts(receiver, u["unit_id"]) >= 3 for u in units)), 30, "three refusals each"
        )
        refused = {d.headers["x-tthc-delivery"]: d.body for d in receiver.received}
        receiver.fail_with = None
        await eventually(lambda: _truthy(len(receiver.accepted) == 3), 30, "all three messages accepted")
        # Resolve them while the receiver is up: again one message each.
        await topic.publish(*(indicators(u, 0.90) for u in units))
        await eventually(lambda: _truthy(len(receiver.accepted) == 6), 30, "all three resolved messages")
        metrics = (await api.get("/metrics")).text
        await eventually(lambda: _pending_none(api), 10, "an empty outbox")

    per_unit = sorted((a["labels"]["unit_id"], a["status"]) for a in receiver.alerts())
    assert per_unit == sorted([(u["unit_id"], s) for u in units for s in ("firing", "resolved")])
    accepted_ids = [d.headers["x-tthc-delivery"] for d in receiver.accepted]
    assert len(accepted_ids) == len(set(accepted_ids)) == 6
    # A retry is the same message: same delivery id, same bytes (so the same signature).
    for delivery in receiver.accepted[:3]:
        assert refused[delivery.headers["x-tthc-delivery"]] == delivery.body
    assert 'outcome="retrying",receiver="ops"' in metrics


def _attempts(receiver: WebhookSink, unit_id: str) -> int:
    return sum(1 for d in receiver.received if json.loads(d.body)["groupLabels"]["unit_id"] == unit_id)


async def _pending_none(api: httpx.AsyncClient) -> bool:
    text = (await api.get("/metrics")).text
    return 'tthc_alert_outbox_pending{receiver="ops"} 0.0' in text
