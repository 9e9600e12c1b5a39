"""The morning to-do digest: which local day is due at which instant (time zone, window), who gets one (e-mail
receivers with the unit's own addresses whose matchers accept it), what it says (Vietnamese first, the to-do's
order, the score gains), and the use case on hand-written fakes: once per unit, receiver and day across passes,
restarts and two processes; nothing when scoring did not answer or the unit has nothing to do today."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest

from services.alerts.domain.receivers import parse_receivers
from services.alerts.domain.todo_digest import (
    DigestSchedule,
    TodoList,
    digest_delivery_id,
    digest_targets,
    render_digest,
)
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.todo_digest import MorningDigest
from tests.unit.alerts.factories import indicators
from tests.unit.alerts.fakes import FakeAlertStore, FakeClock, FakeDigestOutbox, FakeTodoSource

pytestmark = pytest.mark.unit

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SCHEDULE = DigestSchedule(time(7, 0), HANOI, timedelta(hours=4))
# 07:30 on 15 July 2024 in Hanoi = 00:30 UTC.
MORNING = datetime(2024, 7, 15, 0, 30, tzinfo=UTC)
DAY = date(2024, 7, 15)


def test_the_digest_is_due_from_the_local_time_until_the_window_ends_on_the_local_day() -> None:
    assert SCHEDULE.day_due(datetime(2024, 7, 14, 23, 59, tzinfo=UTC)) is None  # 06:59 in Hanoi
    assert SCHEDULE.day_due(datetime(2024, 7, 15, 0, 0, tzinfo=UTC)) == DAY  # 07:00
    assert SCHEDULE.day_due(datetime(2024, 7, 15, 3, 59, tzinfo=UTC)) == DAY  # 10:59
    assert SCHEDULE.day_due(datetime(2024, 7, 15, 4, 0, tzinfo=UTC)) is None  # 11:00: too late today
    # 07:00 UTC is 14:00 in Hanoi: the day is the local one, not the UTC one.
    utc_schedule = DigestSchedule(time(7, 0), UTC, timedelta(hours=4))
    assert utc_schedule.day_due(datetime(2024, 7, 15, 7, 30, tzinfo=UTC)) == DAY
    assert SCHEDULE.day_due(datetime(2024, 7, 15, 7, 30, tzinfo=UTC)) is None
    # 00:30 local (17:30 UTC the day before) belongs to the local day.
    night = DigestSchedule(time(0, 15), HANOI, timedelta(hours=1))
    assert night.day_due(datetime(2024, 7, 14, 17, 30, tzinfo=UTC)) == DAY


RECEIVERS = """
version: 1
smtp: {host: 127.0.0.1, port: 2525, from: "TTHC Pulse <canhbao@pulse.example.vn>"}
receivers:
  - name: units
    type: email
    recipients:
      ha-noi: [vanphong@hanoi.example.vn]
      quan-ba-dinh: [motcua@badinh.example.vn]
  - name: critical-only
    type: email
    matchers: [{name: severity, value: critical}]
    recipients:
      quan-ba-dinh: [lanhdao@badinh.example.vn]
  - name: hook
    type: webhook
    url: https://hooks.example.vn/x
    secret_env: HOOK_SECRET
"""
UNITS = [("quan-ba-dinh", "district", ["ha-noi"]), ("phuong-phuc-xa", "commune", ["quan-ba-dinh", "ha-noi"]),
         ("ha-noi", "city", [])]  # fmt: skip


def receivers() -> object:
    return parse_receivers(RECEIVERS, {"HOOK_SECRET": "0123456789abcdef0123456789abcdef"})


def test_each_unit_with_its_own_addresses_in_a_receiver_that_accepts_the_digest_gets_one() -> None:
    targets = digest_targets(receivers(), UNITS, DAY)  # type: ignore[arg-type]
    assert sorted((t.receiver.name, t.unit_id, tuple(t.recipients)) for t in targets) == [
        ("units", "ha-noi", ("vanphong@hanoi.example.vn",)),
        ("units", "quan-ba-dinh", ("motcua@badinh.example.vn",)),
    ]  # the commune has no addresses of its own; the critical-only receiver and the webhook take none
    ids = {t.delivery_id for t in targets}
    assert digest_delivery_id("units", "ha-noi", DAY) in ids
    assert digest_delivery_id("units", "ha-noi", DAY + timedelta(days=1)) not in ids


def todo_list(unit_id: str = "quan-ba-dinh", *, today: int = 2, overdue: int = 1, more: int = 0) -> TodoList:
    items = [
        {"dossier_id": "HS-1", "procedure_id": "1.001", "due_at": "2024-07-15T09:00:00Z", "bucket": "due_today",
         "score_gain": 0.125},
        {"dossier_id": "HS-2", "procedure_id": None, "due_at": "2024-07-15T10:00:00Z", "bucket": "due_today",
         "score_gain": 0.125},
        {"dossier_id": "HS-0", "procedure_id": None, "due_at": "2024-07-01T10:00:00Z", "bucket": "overdue",
         "score_gain": None},
    ][: today + overdue]  # fmt: skip
    return TodoList.model_validate({
        "unit_id": unit_id, "name": "Quận Ba Đình", "as_of": MORNING,
        "totals": {"due_today": today, "due_tomorrow": 0, "due_this_month": more, "overdue": overdue},
        "total": today + overdue + more, "items": items,
    })  # fmt: skip


def test_the_text_lists_the_todo_in_its_order_with_score_gains_vietnamese_first() -> None:
    content = render_digest(todo_list(more=5), DAY, 20, "https://pulse.example.vn/dashboard/#/units/quan-ba-dinh")
    assert content.subject == "[TTHC Pulse] Việc cần làm hôm nay 15/07/2024 — Quận Ba Đình: 2 hồ sơ đến hạn, 1 quá hạn"
    body = content.body
    assert body.index("HS-1") < body.index("HS-2") < body.index("HS-0") < body.index("— English —")
    assert "1. HS-1 (thủ tục 1.001) — Đến hạn hôm nay, hạn 16:00 15/07/2024 — +0,125 điểm" in body
    assert "3. HS-0 — Đã quá hạn, hạn 17:00 01/07/2024 — không còn tính đúng hạn" in body
    assert "… và 5 hồ sơ khác" in body and "… and 5 more" in body
    assert "1. HS-1 (procedure 1.001) — Due today, due 2024-07-15 16:00 (UTC+7) — +0.125 points" in body


def digest(outbox: FakeDigestOutbox, source: FakeTodoSource, clock: FakeClock) -> MorningDigest:
    store = FakeAlertStore()
    for unit_id, level, ancestors in UNITS:
        store.live[unit_id] = indicators(unit_id=unit_id, level=level, ancestors=ancestors, name=unit_id)
    return MorningDigest(store, outbox, source, ReceiverRegistry(receivers()), clock, SCHEDULE,  # type: ignore[arg-type]
                         "https://pulse.example.vn/dashboard/", max_items=20)  # fmt: skip


async def test_one_digest_per_unit_and_day_across_passes_restarts_and_two_processes() -> None:
    outbox, source, clock = FakeDigestOutbox(), FakeTodoSource(), FakeClock(MORNING)
    source.lists = {"quan-ba-dinh": todo_list(), "ha-noi": todo_list("ha-noi")}
    first, second = digest(outbox, source, clock), digest(outbox, source, clock)  # two processes, one outbox

    assert await first.run() == 2
    assert await second.run() == 0 and await first.run() == 0  # already queued: scoring is not even asked
    assert len(source.asked) == 2 and len(outbox.messages) == 2
    message = outbox.messages[("units", digest_delivery_id("units", "quan-ba-dinh", DAY))]
    assert message.recipients == ["motcua@badinh.example.vn"] and message.channel == "email"
    assert message.group_key == "todo-digest/quan-ba-dinh" and message.notification_ids == []
    mail = message_from_bytes(message.payload, policy=policy.default)
    assert mail["To"] == "motcua@badinh.example.vn" and "Việc cần làm hôm nay" in mail["Subject"]
    assert "HS-1" in mail.get_content()  # type: ignore[attr-defined]

    clock.advance(timedelta(hours=5))  # 12:30: past the window, nothing more today
    assert await digest(outbox, source, clock).run() == 0
    clock.advance(timedelta(hours=19))  # 07:30 the next day: a new digest each
    assert await digest(outbox, source, clock).run() == 2 and len(outbox.messages) == 4


async def test_no_answer_from_scoring_is_asked_again_and_no_work_today_sends_nothing() -> None:
    outbox, source, clock = FakeDigestOutbox(), FakeTodoSource(), FakeClock(MORNING)
    source.lists = {"ha-noi": todo_list("ha-noi", today=0, overdue=0, more=3)}  # only later this month
    use_case = digest(outbox, source, clock)
    assert await use_case.run() == 0 and outbox.messages == {}
    source.lists["quan-ba-dinh"] = todo_list()  # scoring answers at the next pass
    assert await use_case.run() == 1
    assert [key[1] for key in outbox.messages] == [digest_delivery_id("units", "quan-ba-dinh", DAY)]


async def test_outside_the_morning_nothing_is_read() -> None:
    outbox, source, clock = FakeDigestOutbox(), FakeTodoSource(), FakeClock(MORNING - timedelta(hours=1))
    assert await digest(outbox, source, clock).run() == 0 and source.asked == []
