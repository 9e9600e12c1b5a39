"""The morning to-do digest (việc cần làm hôm nay): when it is due, who gets it, what it says. No I/O.

Once each local morning (TODO_DIGEST_AT in TODO_DIGEST_TIMEZONE, default 07:00 Asia/Ho_Chi_Minh) every unit that
an e-mail receiver writes to under its OWN unit id gets one e-mail listing its to-do from scoring's
`GET /v1/units/{unit_id}/todo`, in that list's order (due today, then tomorrow, then later this month, by due; the
overdue ones last), each with the score it adds if finished on time. A receiver's matchers decide as for alerts,
on the labels alertname=todo-digest, unit_id, severity=info, level (so `alertname!=todo-digest` opts out). Only
the unit's own addresses receive it: the city office would otherwise get one e-mail per unit below it.

The message's delivery id hashes (receiver, unit, local day): the outbox's primary key makes it exactly once per
unit, receiver and day, whichever process gets there first and across restarts (service/todo_digest.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.alerts.domain.mail import EmailContent
from services.alerts.domain.notifications import alert_labels, format_due
from services.alerts.domain.receivers import EmailReceiver, Receivers
from services.alerts.domain.templates import Language, format_number

DIGEST_ALERTNAME = "todo-digest"
Bucket = Literal["due_today", "due_tomorrow", "due_this_month", "overdue"]
BUCKET_NAMES: dict[str, dict[Language, str]] = {
    "due_today": {"vi": "Đến hạn hôm nay", "en": "Due today"},
    "due_tomorrow": {"vi": "Đến hạn ngày mai", "en": "Due tomorrow"},
    "due_this_month": {"vi": "Đến hạn trong tháng", "en": "Due later this month"},
    "overdue": {"vi": "Đã quá hạn", "en": "Already overdue"},
}


class TodoEntry(BaseModel):
    """One line of scoring's to-do (extra fields ignored)."""

    dossier_id: str = Field(description="Dossier")
    procedure_id: str | None = Field(None, description="Procedure code")
    due_at: AwareDatetime = Field(description="Effective due")
    bucket: Bucket = Field(description="due_today, due_tomorrow, due_this_month or overdue")
    score_gain: float | None = Field(None, description="Month-end score added by finishing it on time")


class TodoTotals(BaseModel):
    due_today: int = Field(0, description="Open, not on hold, due today")
    due_tomorrow: int = Field(0, description="Due tomorrow")
    due_this_month: int = Field(0, description="Due later this month")
    overdue: int = Field(0, description="Already overdue")


class TodoList(BaseModel):
    """The first page of scoring's `GET /v1/units/{unit_id}/todo?section=all`."""

    unit_id: str = Field(description="Unit")
    name: str = Field(description="Unit name")
    as_of: AwareDatetime = Field(description="Instant the buckets were evaluated at")
    totals: TodoTotals = Field(description="Dossiers in each bucket")
    total: int = Field(0, description="Dossiers in the whole list")
    items: list[TodoEntry] = Field(default_factory=list, description="The to-do, in scoring's order")

    @property
    def has_work_today(self) -> bool:
        """Something due today or tomorrow, or already late: a morning with none of these sends nothing."""
        t = self.totals
        return t.due_today + t.due_tomorrow + t.overdue > 0


@dataclass(frozen=True)
class DigestSchedule:
    at: time
    zone: tzinfo
    window: timedelta

    def day_due(self, now: datetime) -> date | None:
        """The local day whose digest is due at `now`: from `at` until `at + window` that day, else None."""
        local = now.astimezone(self.zone)
        start = datetime.combine(local.date(), self.at, tzinfo=self.zone)
        return local.date() if start <= local < start + self.window else None


@dataclass(frozen=True)
class DigestTarget:
    receiver: EmailReceiver
    unit_id: str
    recipients: list[str]
    delivery_id: str


def digest_delivery_id(receiver: str, unit_id: str, day: date) -> str:
    material = "\x1f".join((DIGEST_ALERTNAME, receiver, unit_id, day.isoformat()))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def digest_targets(receivers: Receivers, units: list[tuple[str, str, list[str]]], day: date) -> list[DigestTarget]:
    """(receiver, unit) pairs owed a digest on `day`; `units` are (unit_id, level, ancestors) the alerts know."""
    if receivers.document.smtp is None:
        return []
    targets: list[DigestTarget] = []
    for receiver in receivers.all:
        if not isinstance(receiver, EmailReceiver):
            continue  # webhooks and Alertmanager take alerts (Alertmanager's format); a to-do list is not one
        for unit_id, level, ancestors in units:
            own = receiver.recipients.get(unit_id)
            labels = alert_labels(DIGEST_ALERTNAME, unit_id, "info", level)
            subtree = frozenset((unit_id, *ancestors))
            if own and all(m.matches(labels, subtree) for m in receiver.matchers):
                delivery = digest_delivery_id(receiver.name, unit_id, day)
                targets.append(DigestTarget(receiver, unit_id, list(own), delivery))
    return targets


def _gain(value: float | None, language: Language) -> str:
    """Gains are small (a dossier among hundreds moves the score by tenths of a point): three decimals."""
    if value is None:
        return "không còn tính đúng hạn" if language == "vi" else "can no longer be on time"
    number = format_number(value, 3, language, signed=True)
    return f"{number} điểm" if language == "vi" else f"{number} points"


def _section(todo: TodoList, day: date, max_items: int, language: Language) -> list[str]:
    t = todo.totals
    vi = language == "vi"
    when = day.strftime("%d/%m/%Y") if vi else day.isoformat()
    counts = [t.due_today, t.due_tomorrow, t.due_this_month, t.overdue]
    numbers = [format_number(n, 0, language) for n in counts]
    if vi:
        lines = [f"Việc cần làm hôm nay ({when}) của {todo.name}:",
                 f"{numbers[0]} hồ sơ đến hạn hôm nay, {numbers[1]} ngày mai, {numbers[2]} trong tháng; "
                 f"{numbers[3]} hồ sơ đã quá hạn.", "",
                 "Theo thứ tự cần xử lý (điểm chỉ số tăng thêm nếu giải quyết đúng hạn):"]  # fmt: skip
    else:
        lines = [f"Today's to-do ({when}) for {todo.name}:",
                 f"{numbers[0]} dossiers due today, {numbers[1]} tomorrow, {numbers[2]} later this month; "
                 f"{numbers[3]} already overdue.", "",
                 "In the order to handle them (score added if resolved on time):"]  # fmt: skip
    for n, item in enumerate(todo.items[:max_items], start=1):
        bucket = BUCKET_NAMES[item.bucket][language]
        procedure = f" ({'thủ tục' if vi else 'procedure'} {item.procedure_id})" if item.procedure_id else ""
        due = format_due(item.due_at, language)
        gain = _gain(item.score_gain, language)
        lines.append(f"{n}. {item.dossier_id}{procedure} — {bucket}, {'hạn' if vi else 'due'} {due} — {gain}")
    hidden = todo.total - min(len(todo.items), max_items)
    if hidden > 0:
        lines.append(f"… và {hidden} hồ sơ khác" if vi else f"… and {hidden} more")
    return lines


def render_digest(todo: TodoList, day: date, max_items: int, link: str) -> EmailContent:
    """Vietnamese first, then English; the link opens the unit's page with the whole list."""
    subject = (f"[TTHC Pulse] Việc cần làm hôm nay {day.strftime('%d/%m/%Y')} — {todo.name}: "
               f"{todo.totals.due_today} hồ sơ đến hạn, {todo.totals.overdue} quá hạn")  # fmt: skip
    body = [
        *_section(todo, day, max_items, "vi"),
        "",
        f"Danh sách đầy đủ: {link}",
        "",
        "— English —",
        "",
        *_section(todo, day, max_items, "en"),
        "",
        f"Full list: {link}",
        "",
    ]
    return EmailContent(subject=subject, body="\n".join(body))
