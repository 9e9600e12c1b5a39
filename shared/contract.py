"""The dossier status event (SPEC §2): schema, validation, and the Kafka wire format.

`DossierEvent` is the documented schema (OpenAPI/AsyncAPI are generated from it). Validation runs through one
hand-ordered checker, `_check`, for two reasons: ingest must validate ≥ 30,000 events/s on one core, and every
failure must map to one stable machine code with a bilingual message, chosen deterministically (the first
failing rule in the documented order, see docs/event-contract.md). `DossierEvent.model_validate` runs the same
checker, so the schema and the fast path cannot disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

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


class DossierEvent(BaseModel):
    """Sự kiện trạng thái hồ sơ — one status change of one dossier (SPEC §2). Extra fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: str = Field(
        pattern=EVENT_ID_PATTERN,
        description="Mã sự kiện — idempotency key; 1–128 chars of [A-Za-z0-9._:-]; a repeat changes nothing.",
    )
    dossier_id: str = Field(
        min_length=1, max_length=64, description="Mã hồ sơ — dossier identifier, 1–64 printable chars."
    )
    unit_id: str = Field(
        pattern=UNIT_ID_PATTERN,
        description="Mã đơn vị — the unit named on the event; must exist in the registry.",
    )
    type: EventType = Field(description="Loại sự kiện — event type; decides which other fields are allowed.")
    occurred_at: AwareDatetime = Field(
        description="Thời điểm xảy ra — RFC 3339 with explicit offset; at most 5 minutes after acceptance."
    )
    procedure_id: str | None = Field(
        default=None, min_length=1, max_length=32, description="Mã thủ tục hành chính (TTHC) — optional."
    )
    channel: Channel | None = Field(
        default=None,
        description="Kênh tiếp nhận: online (trực tuyến), direct (trực tiếp), postal (bưu chính). "
        "Required on received.",
    )
    due_at: AwareDatetime | None = Field(
        default=None,
        description="Ngày hẹn trả — due time, RFC 3339 with offset, later than occurred_at. "
        "Required on received; optional on supplement_received and resumed.",
    )
    digitized: bool | None = Field(
        default=None, description="Số hóa — components digitised at reception; received only, default false."
    )
    reused_data: bool | None = Field(
        default=None, description="Tái sử dụng dữ liệu — digitised data reused; received only, default false."
    )
    outcome: Outcome | None = Field(
        default=None, description="Kết quả giải quyết: approved or refused. Required on resolved."
    )
    e_result: bool | None = Field(
        default=None,
        description="Kết quả điện tử — result issued electronically; resolved only, default false.",
    )
    method: PaymentMethod | None = Field(
        default=None, description="Hình thức nộp phí, lệ phí: online or counter. Required on payment."
    )
    amount: int | None = Field(default=None, ge=0, description="Số tiền (VND), integer ≥ 0; payment only.")
    level: RatingLevel | None = Field(
        default=None,
        description="Mức độ hài lòng: very_satisfied, satisfied, dissatisfied. Required on rating.",
    )
    ingested_at: AwareDatetime | None = Field(
        default=None,
        description="Thời điểm tiếp nhận — stamped by ingest in UTC, replacing any client value.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_contract_rules(cls, data: Any) -> Any:
        if isinstance(data, DossierEvent):
            return data
        checked = _check(data)
        if isinstance(checked, EventRejection):
            raise PydanticCustomError(str(checked.error), "{detail}", {"detail": checked.detail})
        return checked

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Fields outside the contract, kept and re-emitted unchanged."""
        return dict(self.__pydantic_extra__ or {})


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


def _check(raw: object) -> dict[str, Any] | EventRejection:
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


# --- public validation entry points -------------------------------------------------------------------------


def parse_event(raw: object) -> DossierEvent | EventRejection:
    """Context-free validation (no clock, no registry)."""
    checked = _check(raw)
    if isinstance(checked, EventRejection):
        return checked
    return DossierEvent.model_construct(**checked)


def validate_event(raw: object, *, now: datetime, unit_exists: Callable[[str], bool]) -> DossierEvent | EventRejection:
    """Full validation of one event received over HTTP. A client's `ingested_at` is ignored (replaced)."""
    if isinstance(raw, Mapping) and "ingested_at" in raw:
        raw = {key: value for key, value in raw.items() if key != "ingested_at"}
    event = parse_event(raw)
    if isinstance(event, EventRejection):
        return event
    return _check_context(event, reference=now, unit_exists=unit_exists)


def _check_context(
    event: DossierEvent, *, reference: datetime, unit_exists: Callable[[str], bool]
) -> DossierEvent | EventRejection:
    rejection = _context_rejection(event.event_id, event.unit_id, event.occurred_at, reference, unit_exists)
    return event if rejection is None else rejection


def _context_rejection(
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


# --- wire format ------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIRE_FIELDS = tuple(name for name in DossierEvent.model_fields if name != "ingested_at")


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z` suffix."""
    if moment.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_to_wire(event: DossierEvent, ingested_at: datetime | None = None) -> dict[str, Any]:
    """The JSON object of an event: known fields (times in their own offset), `ingested_at`, then extras."""
    wire: dict[str, Any] = {}
    for name in _WIRE_FIELDS:
        value = getattr(event, name)
        if value is None:
            continue
        wire[name] = value.isoformat() if isinstance(value, datetime) else value
    stamp = ingested_at if ingested_at is not None else event.ingested_at
    if stamp is not None:
        wire["ingested_at"] = format_utc(stamp)
    if event.__pydantic_extra__:
        wire.update(event.__pydantic_extra__)
    return wire


def encode_event(event: DossierEvent, ingested_at: datetime) -> bytes:
    """UTF-8 JSON record value, `ingested_at` replaced by the given moment (in UTC)."""
    wire = event_to_wire(event, ingested_at)
    try:
        return orjson.dumps(wire)
    except TypeError:
        # orjson refuses integers beyond 64 bits (and lone surrogates), which a client may put in an extra field;
        # the standard library writes them, escaped to ASCII so the bytes are always valid UTF-8.
        return json.dumps(wire, separators=(",", ":")).encode()


def decode_record(
    value: bytes, record_timestamp_ms: int, *, unit_exists: Callable[[str], bool]
) -> DossierEvent | EventRejection:
    """Decode one Kafka record. No wall-clock rule (replays are legal); the future rule uses `ingested_at`."""
    fields = decode_record_fields(value, record_timestamp_ms, unit_exists=unit_exists)
    if isinstance(fields, EventRejection):
        return fields
    return DossierEvent.model_construct(**fields)


def decode_record_fields(
    value: bytes, record_timestamp_ms: int, *, unit_exists: Callable[[str], bool]
) -> dict[str, Any] | EventRejection:
    """`decode_record` without building the model: the same rules in the same order, answering the checked field
    values (enum members, aware datetimes, defaults filled, extra fields kept) with `ingested_at` always set.

    The scoring consumer decodes every record of the stream; the pydantic model would cost it more than all the
    checks together, and it only reads the values.
    """
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError:
        return EventRejection(
            ErrorCode.INVALID_JSON,
            "Bản ghi không phải JSON UTF-8 hợp lệ / record is not valid UTF-8 JSON",
        )
    fields = _check(raw)
    if isinstance(fields, EventRejection):
        return fields
    ingested_at = fields.get("ingested_at")
    if ingested_at is None:
        fields["ingested_at"] = ingested_at = _EPOCH + timedelta(milliseconds=record_timestamp_ms)
    rejection = _context_rejection(
        fields["event_id"], fields["unit_id"], fields["occurred_at"], ingested_at, unit_exists
    )
    return fields if rejection is None else rejection
