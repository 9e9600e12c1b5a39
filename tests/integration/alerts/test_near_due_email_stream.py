"""The near-due rule (scoring stand-in → e-mail on a real SMTP server), the event stream, the rules API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.alerts.domain.receivers import parse_receivers
from tests.integration.alerts.harness import (
    BA_DINH,
    ScoringStandIn,
    Topic,
    alert_of,
    alerts_settings,
    eventually,
    indicators,
    rules_file,
    running_alerts,
    serve_in_background,
    smtp_server,
    state_is,
)


async def _truthy(value: bool) -> bool:
    return value


async def alert_notifications(database: str, alert_id: int) -> list[str]:
    """Kinds of the notifications stored for one alert, oldest first."""
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT kind FROM alert_notifications WHERE alert_id = $1 ORDER BY created_at, notification_id", alert_id
        )
    finally:
        await conn.close()
    return [r["kind"] for r in rows]


def _dossier(dossier_id: str, due_in: timedelta) -> dict[str, Any]:
    due = datetime.now(UTC) + due_in
    return {
        "dossier_id": dossier_id,
        "procedure_id": "1.001234",
        "unit_id": BA_DINH["unit_id"],
        "due_at": due.isoformat(),
        "received_at": (due - timedelta(days=5)).isoformat(),
        "days_late": -1.0,
    }


async def test_near_due_lists_exactly_the_dossiers_within_the_horizon_and_mails_them(
    database: str, kafka_bootstrap: str, topic: Topic, tmp_path: Path
) -> None:
    scoring = ScoringStandIn()
    scoring.dossiers[BA_DINH["unit_id"]] = [
        _dossier("HS-LATE", -timedelta(hours=1)),  # already overdue: not "near due"
        _dossier("HS-02H", timedelta(hours=2)),
        _dossier("HS-10H", timedelta(hours=10)),
        _dossier("HS-23H", timedelta(hours=23)),
        _dossier("HS-30H", timedelta(hours=30)),  # beyond the 24 h horizon
    ]
    with smtp_server() as (smtp_port, inbox):
        receivers = parse_receivers(
            f"""
version: 1
smtp: {{host: 127.0.0.1, port: {smtp_port}, from: "TTHC Pulse <canhbao@pulse.example.vn>"}}
receivers:
  - name: mail
    type: email
    matchers: [{{name: alertname, value: near-due}}]
    grouping: {{group_wait: 0s, group_interval: 1s}}
    recipients:
      ha-noi: [vanphong@hanoi.example.vn]
      quan-ba-dinh: [motcua@badinh.example.vn]
      huyen-ba-vi: [motcua@bavi.example.vn]
""",
            {},
        )
        async with serve_in_background(scoring.app()) as scoring_url:
            settings = alerts_settings(
                database, kafka_bootstrap, topic.name, rules_file(tmp_path), scoring_url=scoring_url
            )
            async with running_alerts(settings, receivers) as api:
                await topic.publish(indicators(BA_DINH, 0.90, due_soon=3))
                alert = await eventually(
                    lambda: state_is(api, "near-due", BA_DINH["unit_id"], "firing"), what="near-due"
                )
                await eventually(lambda: _truthy(len(inbox) == 1), what="the e-mail")

    assert [d["dossier_id"] for d in alert["dossiers"]] == ["HS-02H", "HS-10H", "HS-23H"]
    assert alert["dossier_count"] == 3
    asked = scoring.requests[0]
    assert asked["state"] == "due_soon" and float(asked["within_hours"]) == 24.0 and asked["subtree"] == "false"

    recipients, message = inbox[0]
    assert sorted(recipients) == ["motcua@badinh.example.vn", "vanphong@hanoi.example.vn"]
    assert "Quận Ba Đình" in message["Subject"] and message["X-TTHC-Delivery"]
    body = message.get_content()  # type: ignore[attr-defined]
    for listed in ("HS-02H", "HS-10H", "HS-23H"):
        assert listed in body
    assert "HS-30H" not in body and "HS-LATE" not in body
    assert "3 hồ sơ sắp quá hạn trong 24 giờ" in body and "— English —" in body


async def _events(client: httpx.AsyncClient, count: int, last_event_id: str | None = None) -> list[dict[str, Any]]:
    """Read `count` transition events from the stream (a real HTTP streaming response)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    params = {} if last_event_id else {"after": "0"}
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with client.stream("GET", "/v1/stream", headers=headers, params=params) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                events.append(current)
                current = {}
                if len(events) == count:
                    break
    return events


async def test_stream_sends_transitions_and_resumes_after_last_event_id(
    database: str, kafka_bootstrap: str, topic: Topic, tmp_path: Path
) -> None:
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="1s"))
    async with running_alerts(settings) as api:
        await topic.publish(indicators(BA_DINH, 0.30))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), what="firing")
        await topic.publish(indicators(BA_DINH, 0.80))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "resolved"), what="resolved")

        first = await _events(api, 3)
        assert [(e["event"], e["data"]["to_state"]) for e in first] == [
            ("transition", "pending"), ("transition", "firing"), ("transition", "resolved")
        ]  # fmt: skip
        assert [int(e["id"]) for e in first] == sorted(int(e["id"]) for e in first)
        assert first[0]["data"]["unit_name"] == "Quận Ba Đình" and first[0]["data"]["severity"] == "warning"

        # Reconnect after the first event: the next two come, in order, nothing skipped or repeated.
        resumed = await _events(api, 2, last_event_id=first[0]["id"])
        assert [e["id"] for e in resumed] == [e["id"] for e in first[1:]]


async def test_rules_are_listed_replaced_validated_and_kept_across_a_restart(
    database: str, kafka_bootstrap: str, topic: Topic, tmp_path: Path
) -> None:
    path = rules_file(tmp_path)
    settings = alerts_settings(database, kafka_bootstrap, topic.name, path)
    async with running_alerts(settings) as api:
        listed = (await api.get("/v1/rules")).json()
        assert listed["source"] == "file" and [r["id"] for r in listed["rules"]] == ["pay-low", "near-due"]
        assert listed["rules"][0]["for"] == "2s"

        broken = {"version": 1, "rules": [{**listed["rules"][0], "clear_threshold": 0.5, "summary": "$unit_nam"}]}
        refused = await api.put(
            "/v1/admin/rules", content=json.dumps(broken), headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 422
        assert refused.json()["error"] == "invalid_rules"
        assert {p["path"] for p in refused.json()["problems"]} == {"rules[0].clear_threshold", "rules[0].summary"}

        replacement = {"version": 1, "rules": [{**listed["rules"][0], "id": "pay-very-low", "threshold": 0.3}]}
        replaced = await api.put("/v1/admin/rules", content=json.dumps(replacement))
        assert replaced.status_code == 200, replaced.text
        assert [r["id"] for r in replaced.json()["rules"]] == ["pay-very-low"]
        async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
            assert (await anonymous.put("/v1/admin/rules", content="version: 1\nrules: []")).status_code == 401

        # The replaced set is what evaluates: 40 % is below 55 % but not below 30 %.
        await topic.publish(indicators(BA_DINH, 0.40))
        seen = await eventually(lambda: alert_of(api, "pay-very-low", BA_DINH["unit_id"]), what="evaluated")
        assert seen["state"] == "inactive"

    async with running_alerts(settings) as api:  # same file, same database: the API's set stays
        kept = (await api.get("/v1/rules")).json()
        assert kept["source"] == "api" and [r["id"] for r in kept["rules"]] == ["pay-very-low"]

    path.write_text(path.read_text("utf-8").replace("name: Hồ sơ sắp đến hạn", "name: Hồ sơ sắp hết hạn"), "utf-8")
    async with running_alerts(settings) as api:  # a changed file is a new deploy: it wins
        deployed = (await api.get("/v1/rules")).json()
        assert deployed["source"] == "file" and deployed["rules"][1]["name"] == "Hồ sơ sắp hết hạn"


async def test_twenty_five_near_due_dossiers_of_a_unit_make_one_notification_listing_them(
    database: str, kafka_bootstrap: str, topic: Topic, tmp_path: Path
) -> None:
    """The digest: N near-due dossiers of one unit → ONE alert and ONE e-mail, most urgent first, count in full."""
    count = 25
    scoring = ScoringStandIn()
    # Listed out of order on purpose: the digest sorts by due time. HS-24 is the most urgent.
    scoring.dossiers[BA_DINH["unit_id"]] = [
        _dossier(f"HS-{n:02d}", timedelta(hours=23 - n * 0.8)) for n in range(count)
    ]
    with smtp_server() as (smtp_port, inbox):
        receivers = parse_receivers(
            f"""
version: 1
smtp: {{host: 127.0.0.1, port: {smtp_port}, from: "TTHC Pulse <canhbao@pulse.example.vn>"}}
receivers:
  - name: mail
    type: email
    matchers: [{{name: alertname, value: near-due}}]
    grouping: {{group_wait: 0s, group_interval: 1s}}
    recipients:
      quan-ba-dinh: [motcua@badinh.example.vn]
""",
            {},
        )
        async with serve_in_background(scoring.app()) as scoring_url:
            settings = alerts_settings(
                database, kafka_bootstrap, topic.name, rules_file(tmp_path), scoring_url=scoring_url
            )
            async with running_alerts(settings, receivers) as api:
                await topic.publish(indicators(BA_DINH, 0.90, due_soon=count))
                alert = await eventually(
                    lambda: state_is(api, "near-due", BA_DINH["unit_id"], "firing"), what="near-due digest"
                )
                await eventually(lambda: _truthy(len(inbox) == 1), what="the e-mail")
                # Later passes see the same list: still one alert, and no second message about it.
                passes = len(scoring.requests)
                await eventually(lambda: _truthy(len(scoring.requests) >= passes + 2), what="two more near-due passes")
                listed = (await api.get("/v1/alerts", params={"rule_id": "near-due"})).json()["items"]
                notifications = await alert_notifications(database, alert["id"])

    assert len(listed) == 1 and listed[0]["dossier_count"] == count
    assert [d["dossier_id"] for d in alert["dossiers"]] == [f"HS-{n:02d}" for n in range(24, 14, -1)]  # 10 listed
    assert len(inbox) == 1 and notifications == ["firing"]
    body = inbox[0][1].get_content()  # type: ignore[attr-defined]
    assert f"{count} hồ sơ sắp quá hạn trong 24 giờ" in body
    first, tenth = body.index("HS-24"), body.index("HS-15")
    assert first < tenth and "HS-14" not in body and "… và 15 hồ sơ khác" in body and "còn " in body
