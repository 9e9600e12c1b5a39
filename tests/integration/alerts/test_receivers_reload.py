"""The receivers file edited while the service runs: applied without a restart, a broken edit changes nothing,
and a message already queued keeps going to its receiver."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.alerts.harness import (
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
    serve_in_background,
    state_is,
)
from tests.integration.conftest import unique


def _receiver(name: str, url: str) -> str:
    return f"""  - name: {name}
    type: webhook
    url: {url}
    secret_env: RELOAD_HOOK_SECRET
    grouping: {{group_wait: 0s, group_interval: 1s}}
    retry: {{base: 0.2, cap: 0.5}}
"""


def _write(path: Path, *receivers: str) -> None:
    path.write_text("version: 1\nreceivers:\n" + "".join(receivers), "utf-8")


async def _truthy(value: object) -> object:
    return value


async def _metrics_list(api: httpx.AsyncClient, receiver: str) -> bool:
    return f'tthc_alert_outbox_pending{{receiver="{receiver}"}}' in (await api.get("/metrics")).text


async def test_receivers_file_changes_apply_live_and_a_broken_edit_keeps_the_last_good_file(
    database: str,
    kafka_bootstrap: str,
    topic: Topic,
    sink: tuple[WebhookSink, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops_sink, ops_url = sink
    monkeypatch.setenv("RELOAD_HOOK_SECRET", WEBHOOK_SECRET)
    ops, audit = unique("ops"), unique("audit")
    path = tmp_path / "receivers.yaml"
    _write(path, _receiver(ops, ops_url))
    settings = alerts_settings(
        database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="1s"),
        receivers_file=path, receivers_check_interval_s=0.1,
    )  # fmt: skip
    audit_sink = WebhookSink()
    async with (
        serve_in_background(audit_sink.app()) as audit_base,
        running_alerts(settings, receivers_from_file=True) as api,
    ):
        await topic.publish(indicators(BA_DINH, 0.40))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), 60, "Ba Đình firing")
        await eventually(lambda: _truthy(len(ops_sink.accepted) == 1), 30, "first message to ops")

        # ops is down: Ba Vì's message is queued for it and retried.
        ops_sink.fail_with = 503
        await topic.publish(indicators(BA_VI, 0.40))
        await eventually(lambda: _truthy([d for d in ops_sink.received if d.status == 503]), 60, "a failed attempt")
        queued_id = next(d for d in ops_sink.received if d.status == 503).headers["x-tthc-delivery"]

        # A broken edit: logged, nothing changes (ops is still the receiver, its message still queued).
        path.write_text("version: 1\nreceivers: [", "utf-8")
        await eventually(lambda: _truthy("giữ cấu hình cũ" in caplog.text), 30, "the rejected file logged")
        assert "new receivers file rejected" in caplog.text
        assert await _metrics_list(api, ops)

        # A valid edit adds a receiver; ops stays, so its queued message still goes to ops once it is back.
        _write(path, _receiver(ops, ops_url), _receiver(audit, f"{audit_base}/hook"))
        await eventually(lambda: _metrics_list(api, audit), 30, "the new receiver in force")
        ops_sink.fail_with = None
        await eventually(
            lambda: _truthy([d for d in ops_sink.accepted if d.headers["x-tthc-delivery"] == queued_id]),
            30, "the queued message delivered to ops",
        )  # fmt: skip

        # New alerts go to both; the audit receiver never gets what was queued before it existed.
        await topic.publish(indicators(PHUC_XA, 0.40))
        await eventually(lambda: _truthy(audit_sink.accepted), 60, "a message to the new receiver")
        await eventually(
            lambda: _truthy({a["labels"]["unit_id"] for a in ops_sink.alerts()} >= {PHUC_XA["unit_id"]}),
            30, "Phúc Xá to ops too",
        )  # fmt: skip
        assert {a["labels"]["unit_id"] for a in audit_sink.alerts()} == {PHUC_XA["unit_id"]}
        assert {a["labels"]["unit_id"] for a in ops_sink.alerts()} == {
            BA_DINH["unit_id"], BA_VI["unit_id"], PHUC_XA["unit_id"],
        }  # fmt: skip
        assert all(d.payload["receiver"] == audit for d in audit_sink.accepted)
