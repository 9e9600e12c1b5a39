"""The rules of the dossier status event (SPEC §2): vocabularies, error codes and the hand-ordered checker.

No pydantic here: `shared.contract` builds the documented model and the wire format on top of these rules, and
re-exports the public names (import them from `shared.contract`). Validation runs through one hand-ordered
checker, `check`, for two reasons: ingest must validate ≥ 30,000 events/s on one core, and every failure must map
to one stable machine code with a bilingual message, chosen deterministically (the first failing rule in the
documented order, see docs/event-contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import Any

MAX_FUTURE_SKEW = timedelta(minutes=5)
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
UNIT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


class EventType(StrEnum):
    RECEIVED = "received"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENT_RECEIVED = "supplement_received"
    PAUSED = "paused"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    PAYMENT = "payment"
    RATING = "rating"


class Channel(StrEnum):
    ONLINE = "online"
    DIRECT = "direct"
    POSTAL = "postal"


class Outcome(StrEnum):
    APPROVED = "approved"
    REFUSED = "refused"


class PaymentMethod(StrEnum):
    ONLINE = "online"
    COUNTER = "counter"


class RatingLevel(StrEnum):
    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    DISSATISFIED = "dissatisfied"


VOCABULARIES: tuple[type[StrEnum], ...] = (EventType, Channel, Outcome, PaymentMethod, RatingLevel)
"""Every enumerated field's vocabulary (the event type's included)."""


class ErrorCode(StrEnum):
    """Stable machine codes of a rejected event (documented in docs/event-contract.md)."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_TYPE = "unknown_type"
    FIELD_NOT_ALLOWED = "field_not_allowed"
    TIMEZONE_REQUIRED = "timezone_required"
    DUE_NOT_AFTER_OCCURRENCE = "due_not_after_occurrence"
    OCCURRED_IN_FUTURE = "occurred_in_future"
    UNKNOWN_UNIT = "unknown_unit"
    FORBIDDEN_UNIT = "forbidden_unit"


@dataclass(frozen=True, slots=True)
class EventRejection:
    """Why one event was refused: a stable `error` code, a Vietnamese-then-English `detail`."""

    error: ErrorCode
    detail: str
    event_id: str | None = None
    field: str | None = None

    def as_item(self, index: int) -> dict[str, Any]:
        """The per-item entry of the ingest response (SPEC §7)."""
        return {"index": index, "event_id": self.event_id, "error": str(self.error), "detail": self.detail}

    def as_dict(self) -> dict[str, Any]:
        """All fields, for the dead-letter topic and table."""
        return {
            "error": str(self.error),
            "detail": self.detail,
            "event_id": self.event_id,
            "field": self.field,
        }


# --- the checker -------------------------------------------------------------------------------------------

_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)
_UNIT_ID_RE = re.compile(UNIT_ID_PATTERN)
_RFC3339_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_TYPES = {t.value: t for t in EventType}
_ENUMS: dict[str, dict[str, StrEnum]] = {
    "channel": {m.value: m for m in Channel},
    "outcome": {m.value: m for m in Outcome},
    "method": {m.value: m for m in PaymentMethod},
    "level": {m.value: m for m in RatingLevel},
}
_BOOLS = frozenset({"digitized", "reused_data", "e_result"})
# Type-specific fields in the order they are checked; everything else is common to all types.
_SPECIFIC = (
    "channel",
    "due_at",
    "digitized",
    "reused_data",
    "outcome",
    "e_result",
    "method",
    "amount",
    "level",
)
_ALLOWED: dict[EventType, frozenset[str]] = {
    EventType.RECEIVED: frozenset({"channel", "due_at", "digitized", "reused_data"}),
    EventType.SUPPLEMENT_RECEIVED: frozenset({"due_at"}),
    EventType.RESUMED: frozenset({"due_at"}),
    EventType.RESOLVED: frozenset({"outcome", "e_result"}),
    EventType.PAYMENT: frozenset({"method", "amount"}),
    EventType.RATING: frozenset({"level"}),
}
_REQUIRED: dict[EventType, frozenset[str]] = {
    EventType.RECEIVED: frozenset({"channel", "due_at"}),
    EventType.RESOLVED: frozenset({"outcome"}),
    EventType.PAYMENT: frozenset({"method"}),
    EventType.RATING: frozenset({"level"}),
}
_DEFAULT_FALSE: dict[EventType, tuple[str, ...]] = {
    EventType.RECEIVED: ("digitized", "reused_data"),
    EventType.RESOLVED: ("e_result",),
}
_NOTHING: frozenset[str] = frozenset()


class _Reject(Exception):
    def __init__(self, code: ErrorCode, field: str | None, vi: str, en: str) -> None:
        self.code, self.field, self.detail = code, field, f"{vi} / {en}"


def _missing(name: str) -> _Reject:
    return _Reject(ErrorCode.MISSING_FIELD, name, f"Thiếu trường bắt buộc '{name}'", f"missing required field '{name}'")


def _invalid(name: str, vi: str, en: str) -> _Reject:
    return _Reject(
        ErrorCode.INVALID_FIELD,
        name,
        f"Trường '{name}' không hợp lệ: {vi}",
        f"field '{name}' is invalid: {en}",
    )


def _parse_time(name: str, value: object) -> datetime:
    """An RFC 3339 timestamp with an explicit offset, kept in that offset. Raises `_Reject`."""
    if type(value) is not str:
        raise _invalid(name, "phải là chuỗi thời gian RFC 3339", "must be an RFC 3339 time string")
    match = _RFC3339_RE.fullmatch(value)
    if match is None:
        raise _invalid(name, "không đúng định dạng RFC 3339", "not an RFC 3339 time")
    date, clock, fraction, offset = match.groups()
    if offset is None:
        raise _Reject(
            ErrorCode.TIMEZONE_REQUIRED,
            name,
            f"Thời gian '{name}' phải có múi giờ (vd. +07:00)",
            f"time '{name}' needs an explicit offset (e.g. +07:00)",
        )
    # Python keeps microseconds only; finer digits are dropped rather than rejected.
    fraction = (fraction or "")[:7]
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}{fraction}{offset}")
    except ValueError:
        raise _invalid(name, "ngày giờ không tồn tại", "not a real date and time") from None


TypeRules = tuple[Callable[[object], tuple[Any, ...]], tuple[None, ...], tuple[str, ...], tuple[str, ...]]


def _type_rules(event_type: EventType) -> TypeRules:
    foreign = tuple(name for name in _SPECIFIC if name not in _ALLOWED.get(event_type, _NOTHING))
    required = tuple(name for name in _SPECIFIC if name in _REQUIRED.get(event_type, _NOTHING))
    return attrgetter(*foreign), (None,) * len(foreign), required, _DEFAULT_FALSE.get(event_type, ())


_TYPE_RULES: dict[str, TypeRules] = {kind.value: _type_rules(kind) for kind in EventType}


def type_rules(event_type: str) -> TypeRules:
    """For a compiled decoder: a getter of the fields foreign to the type (they must all be None), the Nones it
    must return, the required fields and those that default to false — the tables `check` uses."""
    return _TYPE_RULES[event_type]


def check(raw: object) -> dict[str, Any] | EventRejection:
    """Context-free rules of SPEC §2. Returns normalised field values (enums, aware datetimes, defaults)."""
    if not isinstance(raw, Mapping):
        return EventRejection(
            ErrorCode.NOT_AN_OBJECT, "Sự kiện phải là một đối tượng JSON / an event must be a JSON object"
        )
    event_id = raw.get("event_id")
    readable_id = event_id if type(event_id) is str and _EVENT_ID_RE.fullmatch(event_id) else None
    try:
        return _check_fields(raw, event_id)
    except _Reject as reject:
        return EventRejection(reject.code, reject.detail, readable_id, reject.field)


def _check_fields(raw: Mapping[str, Any], event_id: object) -> dict[str, Any]:
    if event_id is None:
        raise _missing("event_id")
    if type(event_id) is not str or not _EVENT_ID_RE.fullmatch(event_id):
        raise _invalid("event_id", "1–128 ký tự [A-Za-z0-9._:-]", "1–128 chars of [A-Za-z0-9._:-]")
    raw_type = raw.get("type")
    if raw_type is None:
        raise _missing("type")
    event_type = _TYPES.get(raw_type) if type(raw_type) is str else None
    if event_type is None:
        known = ", ".join(_TYPES)
        raise _Reject(
            ErrorCode.UNKNOWN_TYPE,
            "type",
            f"Loại sự kiện không xác định; các loại hợp lệ: {known}",
            f"unknown event type; valid types: {known}",
        )
    dossier_id = raw.get("dossier_id")
    if dossier_id is None:
        raise _missing("dossier_id")
    if type(dossier_id) is not str or not 1 <= len(dossier_id) <= 64 or not dossier_id.isprintable():
        raise _invalid("dossier_id", "1–64 ký tự in được", "1–64 printable chars")
    unit_id = raw.get("unit_id")
    if unit_id is None:
        raise _missing("unit_id")
    if type(unit_id) is not str or not _UNIT_ID_RE.fullmatch(unit_id):
        raise _invalid("unit_id", "1–64 ký tự [A-Za-z0-9._-]", "1–64 chars of [A-Za-z0-9._-]")
    if raw.get("occurred_at") is None:
        raise _missing("occurred_at")
    values = dict(raw)
    values["type"] = event_type
    values["occurred_at"] = occurred_at = _parse_time("occurred_at", raw["occurred_at"])
    procedure_id = raw.get("procedure_id")
    if procedure_id is not None and (
        type(procedure_id) is not str or not 1 <= len(procedure_id) <= 32 or not procedure_id.isprintable()
    ):
        raise _invalid("procedure_id", "1–32 ký tự in được", "1–32 printable chars")
    allowed = _ALLOWED.get(event_type, _NOTHING)
    required = _REQUIRED.get(event_type, _NOTHING)
    for name in _SPECIFIC:
        value = raw.get(name)
        if value is None:
            if name in required:
                raise _missing(name)
            continue
        if name not in allowed:
            raise _Reject(
                ErrorCode.FIELD_NOT_ALLOWED,
                name,
                f"Trường '{name}' không dùng cho sự kiện '{event_type}'",
                f"field '{name}' does not belong to a '{event_type}' event",
            )
        values[name] = _check_specific(name, value)
    for name in _DEFAULT_FALSE.get(event_type, ()):
        if values.get(name) is None:
            values[name] = False
    due_at = values.get("due_at")
    if due_at is not None and due_at <= occurred_at:
        raise _Reject(
            ErrorCode.DUE_NOT_AFTER_OCCURRENCE,
            "due_at",
            "Hạn trả 'due_at' phải sau thời điểm 'occurred_at'",
            "'due_at' must be later than 'occurred_at'",
        )
    if raw.get("ingested_at") is not None:
        values["ingested_at"] = _parse_time("ingested_at", raw["ingested_at"])
    return values


def _check_specific(name: str, value: object) -> object:
    if name == "due_at":
        return _parse_time(name, value)
    if name in _BOOLS:
        if type(value) is not bool:
            raise _invalid(name, "phải là true hoặc false", "must be true or false")
        return value
    if name == "amount":
        if type(value) is not int or value < 0:
            raise _invalid(name, "phải là số nguyên ≥ 0 (VND)", "must be an integer ≥ 0 (VND)")
        return value
    members = _ENUMS[name]
    member = members.get(value) if type(value) is str else None
    if member is None:
        allowed = ", ".join(members)
        raise _invalid(name, f"giá trị phải là một trong: {allowed}", f"must be one of: {allowed}")
    return member


def context_rejection(
    event_id: str, unit_id: str, occurred_at: datetime, reference: datetime, unit_exists: Callable[[str], bool]
) -> EventRejection | None:
    """The rules that need a reference time and the registry (after the context-free ones)."""
    if reference.tzinfo is None:
        raise ValueError("the reference time must be timezone-aware")
    if occurred_at - reference > MAX_FUTURE_SKEW:
        return EventRejection(
            ErrorCode.OCCURRED_IN_FUTURE,
            "Thời điểm 'occurred_at' muộn hơn thời điểm tiếp nhận quá 5 phút / "
            "'occurred_at' is more than 5 minutes after the time of acceptance",
            event_id,
            "occurred_at",
        )
    if not unit_exists(unit_id):
        return EventRejection(
            ErrorCode.UNKNOWN_UNIT,
            f"Đơn vị '{unit_id}' không có trong danh mục / unit '{unit_id}' is not in the registry",
            event_id,
            "unit_id",
        )
    return None
