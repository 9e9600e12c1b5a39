"""The dossier status event (SPEC §2): schema, validation, and the Kafka wire format.

`DossierEvent` is the documented schema (OpenAPI/AsyncAPI are generated from it). The rules themselves — the
vocabularies, the error codes and the hand-ordered checker — live in `shared.contract_rules` and are re-exported
here; `DossierEvent.model_validate` runs the same checker. The services run the compiled decoder of
`shared.contract_codec` on every event; the entry points here (`validate_event`, `encode_event`, `decode_record`)
are the reference it is proven equal to (tests/unit/*/test_decoder_equivalence.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.contract_rules import (
    EVENT_ID_PATTERN,
    MAX_FUTURE_SKEW,
    UNIT_ID_PATTERN,
    VOCABULARIES,
    Channel,
    ErrorCode,
    EventRejection,
    EventType,
    Outcome,
    PaymentMethod,
    RatingLevel,
    check,
    context_rejection,
)

__all__ = [
    "EVENT_ID_PATTERN",
    "MAX_FUTURE_SKEW",
    "UNIT_ID_PATTERN",
    "VOCABULARIES",
    "Channel",
    "DossierEvent",
    "ErrorCode",
    "EventRejection",
    "EventType",
    "Outcome",
    "PaymentMethod",
    "RatingLevel",
    "decode_record",
    "decode_record_fields",
    "encode_event",
    "event_to_wire",
    "format_utc",
    "parse_event",
    "validate_event",
]


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
        checked = check(data)
        if isinstance(checked, EventRejection):
            raise PydanticCustomError(str(checked.error), "{detail}", {"detail": checked.detail})
        return checked

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Fields outside the contract, kept and re-emitted unchanged."""
        return dict(self.__pydantic_extra__ or {})


# --- public validation entry points -------------------------------------------------------------------------


def parse_event(raw: object) -> DossierEvent | EventRejection:
    """Context-free validation (no clock, no registry)."""
    checked = check(raw)
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
    rejection = context_rejection(event.event_id, event.unit_id, event.occurred_at, reference, unit_exists)
    return event if rejection is None else rejection


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

    The reference of the compiled `contract_codec.decode_value` (which the scoring consumer runs).
    """
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError:
        return EventRejection(
            ErrorCode.INVALID_JSON,
            "Bản ghi không phải JSON UTF-8 hợp lệ / record is not valid UTF-8 JSON",
        )
    fields = check(raw)
    if isinstance(fields, EventRejection):
        return fields
    ingested_at = fields.get("ingested_at")
    if ingested_at is None:
        fields["ingested_at"] = ingested_at = _EPOCH + timedelta(milliseconds=record_timestamp_ms)
    rejection = context_rejection(
        fields["event_id"], fields["unit_id"], fields["occurred_at"], ingested_at, unit_exists
    )
    return fields if rejection is None else rejection
