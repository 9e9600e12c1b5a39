"""The forecast rule and the morning to-do digest on the real stack: scoring as its own process reading a
hand-built month from Kafka, the alerts service reading scoring's API and its unit-indicators, PostgreSQL, and a
real SMTP server.

The month is the one of tests/integration/scoring/test_actions_api.py (worked out by hand in
tests/unit/scoring/test_forecast.py): commune Tây Đằng (BV.TT) has one open dossier B due before the month's end,
so its progress rate is 80 % today and 60 % at the month's end if nothing more is done; commune Ba Trại (BV.BT)
stays at 100 %. A forecast rule "worst-case progress below 70 %" fires for Tây Đằng only, and resolves once B is
resolved on time (the worst case is then 80 %). Sở Xây dựng (SXD) has dossiers due today, tomorrow and overdue:
its morning e-mail lists them in the to-do's order, once, even with a second alerts process running.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.alerts.domain.receivers import parse_receivers
from shared.indicators import VIETNAM_TZ
from tests.integration.alerts.harness import alerts_settings, eventually, running_alerts, smtp_server, state_is
from tests.integration.conftest import unique
from tests.integration.processes import REPO_ROOT, service_process, wait_ready
from tests.integration.scoring.harness import create_topics, prepare_database, produce, wait_for
from tests.integration.scoring.test_actions_api import CLOCK, ev, forecast_events, get, todo_plan

RULES = """
version: 1
rules:
  - id: forecast-low
    kind: forecast
    name: Dự báo tiến độ cuối tháng thấp
    name_en: Month-end progress forecast low
    scope: {levels: [commune]}
    scenario: worst
    target: progress_rate
    comparison: "<"
    threshold: 0.70
    clear_threshold: 0.72
    min_dossiers: 1
    for: 0s
    summary: "$unit_name: dự báo tiến độ cuối tháng $value nếu không xử lý thêm (hiện nay $current)"
    description: "$due_this_month hồ sơ đến hạn trước $month_end; $overdue_open đã quá hạn"
    summary_en: "$unit_name: month-end progress forecast $value if nothing more is done (now $current)"
"""


@contextlib.asynccontextmanager
async def scoring_month(database: str, bootstrap: str, tmp_path: Path) -> AsyncIterator[tuple[str, str, Any]]:
    """Scoring with the hand-built month applied; yields (prefix, unit-indicators topic, scoring)."""
    await CLOCK.reset()  # the month and the day the events are placed in (test_actions_api.TestClock)
    p = unique("f").replace("-", "")
    await prepare_database(database, p)
    topics = await create_topics(bootstrap)
    profile = tmp_path / "profile.yaml"
    default = (REPO_ROOT / "config" / "score_profile.yaml").read_text(encoding="utf-8")
    profile.write_text(default + "\nmin_dossiers: 1\n", encoding="utf-8")
    env = {"DATABASE_URL": database, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PROFILE_PATH": str(profile),
           "INDICATORS_INTERVAL_S": "0.5", **topics.env()}  # fmt: skip
    async with service_process("scoring", **env) as svc:
        await wait_ready(svc)
        events = forecast_events(p) + todo_plan(p)[0]
        await produce(bootstrap, topics.events, events, shuffle=3)
        await wait_for(lambda: get(svc, f"/v1/units/{p}.H26/indicators"),
                       lambda body: body["counters"]["events"] == len(events))  # fmt: skip
        yield p, topics.indicators, (svc, topics.events)


def receivers_of(p: str, smtp_port: int) -> Any:
    return parse_receivers(
        f"""
version: 1
smtp: {{host: 127.0.0.1, port: {smtp_port}, from: "TTHC Pulse <canhbao@pulse.example.vn>"}}
receivers:
  - name: forecast-mail
    type: email
    matchers: [{{name: alertname, value: forecast-low}}]
    grouping: {{group_wait: 0s, group_interval: 1s}}
    recipients:
      {p}.BV.TT: [motcua@taydang.example.vn]
  - name: units
    type: email
    matchers: [{{name: alertname, value: todo-digest}}]
    recipients:
      {p}.SXD: [motcua@sxd.example.vn]
""",
        {},
    )


def mails_to(inbox: list[tuple[list[str], Message]], address: str) -> list[Message]:
    return [message for recipients, message in inbox if address in recipients]


async def _truthy(value: bool) -> bool:
    return value


def morning_now() -> str:
    """A digest time of a minute ago, local: the test's "morning" (a run just after midnight uses 00:00)."""
    local = datetime.now(UTC).astimezone(VIETNAM_TZ)
    start = max(local - timedelta(minutes=1), local.replace(hour=0, minute=0, second=0, microsecond=0))
    return start.strftime("%H:%M")


async def digest_checked(api: httpx.AsyncClient) -> float:
    """The `tthc_alert_todo_digest_checked` gauge: unix time of the process's last finished digest pass."""
    text = (await api.get("/metrics")).text
    line = next((x for x in text.splitlines() if x.startswith("tthc_alert_todo_digest_checked ")), None)
    return float(line.split()[1]) if line else 0.0


async def test_the_forecast_rule_fires_on_the_worst_case_and_resolves_when_the_dossier_is_done(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, "utf-8")
    async with scoring_month(fresh_database, kafka_bootstrap, tmp_path) as (p, indicators_topic, (svc, events)):
        with smtp_server() as (smtp_port, inbox):
            settings = alerts_settings(fresh_database, kafka_bootstrap, indicators_topic, rules,
                                       scoring_url=svc.base_url, forecast_interval_s=0.5)  # fmt: skip
            async with running_alerts(settings, receivers_of(p, smtp_port)) as api:
                x, y = f"{p}.BV.TT", f"{p}.BV.BT"
                fired = await eventually(lambda: state_is(api, "forecast-low", x, "firing"), 60, "forecast firing")
                await eventually(lambda: _truthy(len(mails_to(inbox, "motcua@taydang.example.vn")) == 1), 30, "mail")
                other = await eventually(lambda: state_is(api, "forecast-low", y, "inactive"), 30, "Ba Trại seen")
                assert other["state"] == "inactive"
                # B resolved on time: nothing is left to lose, the worst case is today's 80 %.
                b = f"{p}-B"
                # Two minutes ago (ev ingests a minute later): after B's receipt, before its due.
                done = ev(f"{p}-Bz", b, x, "resolved", datetime.now(UTC) - timedelta(minutes=2), outcome="approved")
                await produce(kafka_bootstrap, events, [done])
                resolved = await eventually(lambda: state_is(api, "forecast-low", x, "resolved"), 60, "resolved")
                await eventually(lambda: _truthy(len(mails_to(inbox, "motcua@taydang.example.vn")) == 2), 30, "mail")

    assert fired["value"] == 0.6
    first, last = mails_to(inbox, "motcua@taydang.example.vn")
    body = first.get_content()  # type: ignore[attr-defined]
    assert "dự báo tiến độ cuối tháng 60,0 % nếu không xử lý thêm (hiện nay 80,0 %)" in body
    assert f"1 hồ sơ đến hạn trước {(CLOCK.end - timedelta(days=1)).astimezone(VIETNAM_TZ):%d/%m/%Y}" in body
    assert "ĐÃ HẾT" in last.get_content() and resolved["value"] == 0.8  # type: ignore[attr-defined]


async def test_the_morning_digest_lists_the_todo_once_per_unit_and_day_even_with_two_processes(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, "utf-8")
    async with scoring_month(fresh_database, kafka_bootstrap, tmp_path) as (p, indicators_topic, (svc, _)):
        todo = await get(svc, f"/v1/units/{p}.SXD/todo")
        expected = [item["dossier_id"] for item in todo["items"]]
        with smtp_server() as (smtp_port, inbox):
            settings = alerts_settings(fresh_database, kafka_bootstrap, indicators_topic, rules,
                                       scoring_url=svc.base_url, todo_digest_at=morning_now(),
                                       todo_digest_interval_s=0.3)  # fmt: skip
            receivers = receivers_of(p, smtp_port)
            async with running_alerts(settings, receivers) as first, running_alerts(settings, receivers) as second:
                await eventually(lambda: _truthy(len(mails_to(inbox, "motcua@sxd.example.vn")) >= 1), 60, "digest")
                sent_at = datetime.now(UTC).timestamp()
                # Both processes have made further passes since: still one e-mail, one message in the outbox.
                for api in (first, second):
                    await eventually(lambda api=api: _truthy_async(digest_checked(api), sent_at), 30, "a later pass")
        conn = await asyncpg.connect(fresh_database)
        try:
            rows = await conn.fetch(
                "SELECT receiver, status FROM alert_deliveries WHERE group_key LIKE 'todo-digest/%'"
            )
        finally:
            await conn.close()

    digests = mails_to(inbox, "motcua@sxd.example.vn")
    assert len(digests) == 1 and [(r["receiver"], r["status"]) for r in rows] == [("units", "delivered")]
    assert "Việc cần làm hôm nay" in digests[0]["Subject"]
    body = digests[0].get_content()  # type: ignore[attr-defined]
    vietnamese = body.split("— English —")[0]
    positions = [vietnamese.index(dossier) for dossier in expected]
    assert positions == sorted(positions) and len(expected) >= 5  # the to-do's own order, all of them listed
    assert "Đến hạn hôm nay" in vietnamese and "điểm" in vietnamese and "Today's to-do" in body


async def _truthy_async(value: Any, after: float) -> bool:
    return (await value) > after
