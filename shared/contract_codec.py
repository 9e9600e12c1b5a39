"""The event contract, compiled: one decoder for ingest (HTTP items) and scoring (Kafka record bytes).

Two layers, one set of rules:

- a msgspec schema (`_Fields`, `_Record`) built from the contract's own constants — the patterns, lengths and
  vocabularies of `shared.contract_rules` — decodes and type-checks an event in C, then a few Python checks that
  no schema expresses (printable text, the fields each type allows and requires, the time format, `due_at` after
  `occurred_at`) finish the verdict. This is the path of every valid event.
- anything that path does not accept goes to the hand-ordered checker (`contract_rules.check`), which alone says
  WHY: the first failing rule, its code and its bilingual detail. It is also the checker the pydantic model runs,
  so the answer to a broken event is exactly today's.

The compiled path may only ever be stricter than the checker (a stricter corner just takes the slow path); that
it accepts the same events with the same values is proven by tests/unit/scoring/test_decoder_equivalence.py and
tests/unit/ingest/test_decoder_equivalence.py. Measured choice of msgspec: docs/benchmarks.md (issue 14).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import orjson

from shared.contract_rules import (
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
    type_rules,
)

__all__ = ["CheckedEvent", "decode_items", "decode_value", "encode_checked", "stamp_text", "validate_item", "wire_item"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# orjson reads an integer beyond 2**64 - 1 as a float (refused); between 2**63 and that, the checker decides.
_INT64_MAX = 2**63 - 1
_INVALID_JSON = EventRejection(
    ErrorCode.INVALID_JSON, "Bản ghi không phải JSON UTF-8 hợp lệ / record is not valid UTF-8 JSON"
)

# msgspec checks lengths in C but patterns with Python's `re` (which measured at ~1.3 µs a field, more than the whole
# decode): the identifiers' character sets and the time format are checked in `_compiled` with str methods instead.
_EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_UnitId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_DossierId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_ProcedureId = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
_Amount = Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)]
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"  # EVENT_ID/UNIT_ID_PATTERN
_EVENT_ID_CHARS = _ID_CHARS + ":"


def _vocabulary(enum: type) -> Any:
    """Literal[...] of an enum's values: decoded as the plain strings the services keep."""
    return Literal[tuple(member.value for member in enum)]  # type: ignore[valid-type]


_Type, _Channel, _Outcome = _vocabulary(EventType), _vocabulary(Channel), _vocabulary(Outcome)
_Method, _Level = _vocabulary(PaymentMethod), _vocabulary(RatingLevel)


class _Fields(msgspec.Struct, gc=False):
    """The contract's fields with their types; unknown keys are ignored (extras are picked from the dict)."""

    event_id: _EventId
    dossier_id: _DossierId
    unit_id: _UnitId
    type: _Type
    occurred_at: str
    procedure_id: _ProcedureId | None = None
    channel: _Channel | None = None
    due_at: str | None = None
    digitized: bool | None = None
    reused_data: bool | None = None
    outcome: _Outcome | None = None
    e_result: bool | None = None
    method: _Method | None = None
    amount: _Amount | None = None
    level: _Level | None = None


class _Record(_Fields, forbid_unknown_fields=True, gc=False):
    """A Kafka record decoded straight from its bytes. Unknown keys are refused here — msgspec skips an unknown
    value without the checks orjson makes (UTF-8, number range) — and such a record takes the dict path."""

    ingested_at: str | None = None


_RECORD_DECODER = msgspec.json.Decoder(_Record)


class HttpItem(_Fields, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """An item of a JSON-array request body decoded straight from the body (ingest's fast path): only the contract's
    fields, each of its type, and a client's `ingested_at` as a string (ignored, ingest stamps its own). Anything
    else — extras, another type, not an object — makes the whole body take the per-item path, which says why.
    Encoded back (`wire_item`), it is the Kafka value: table order, None fields omitted."""

    ingested_at: str | None = None


_ITEMS_DECODER = msgspec.json.Decoder(list[HttpItem])
_ITEM_DECODER = msgspec.json.Decoder(HttpItem)
_ITEM_ENCODER = msgspec.json.Encoder()
_KNOWN = frozenset(_Record.__struct_fields__)
_PLAIN: dict[Any, str] = {member: member.value for enum in VOCABULARIES for member in enum}


class CheckedEvent(NamedTuple):
    """One event that passed every context-free rule: plain strings, aware datetimes (in their own offset),
    defaults filled. `ingested_at` is set only when it came on a Kafka record; `extras` only over HTTP."""

    event_id: str
    dossier_id: str
    unit_id: str
    type: str
    occurred_at: datetime
    procedure_id: str | None
    channel: str | None
    due_at: datetime | None
    digitized: bool | None
    reused_data: bool | None
    outcome: str | None
    e_result: bool | None
    method: str | None
    amount: int | None
    level: str | None
    ingested_at: datetime | None = None
    extras: dict[str, Any] | None = None


class _TypeCheck(NamedTuple):
    """The checker's per-type tables (`contract_rules.type_rules`) in the shape the compiled path reads."""

    foreign: Callable[[object], tuple[Any, ...]]  # the fields foreign to the type: all must be None
    nothing: tuple[None, ...]
    required: Callable[[object], tuple[Any, ...]]  # the type's required fields (+ two never None): no None
    fill_digitized: bool  # absent means false on this type
    fill_reused_data: bool
    fill_e_result: bool


def _type_check(kind: str) -> _TypeCheck:
    foreign, nothing, required, default_false = type_rules(kind)
    fill = tuple(name in default_false for name in ("digitized", "reused_data", "e_result"))
    # One C call instead of a getattr per name; event_id and type (never None here) keep its answer a tuple.
    return _TypeCheck(foreign, nothing, attrgetter(*required, "event_id", "type"), *fill)


_TYPE_CHECKS = {kind.value: _type_check(kind.value) for kind in EventType}
_fromisoformat = datetime.fromisoformat
_new_tuple = tuple.__new__


def _time(text: str) -> datetime | None:
    """The checker's time rule for its common spellings — `YYYY-MM-DDTHH:MM:SS[.digits](Z|±HH:MM)` in ASCII with
    upper-case T and Z — where `datetime.fromisoformat` gives exactly the checker's value (fractions truncated to
    microseconds, Z and -00:00 as UTC) and checks every digit. None otherwise: the checker decides (lower-case t/z,
    a date that does not exist, anything else)."""
    if not (len(text) >= 20 and text.isascii() and text[10] == "T" and text[4] == "-" and text[7] == "-"):
        return None
    if text[13] != ":" or text[16] != ":":
        return None
    tail = text[19:]
    if tail[0] == ".":
        offset = "Z" if tail[-1] == "Z" else tail[-6:]
        if not tail[1 : len(tail) - len(offset)].isdigit():
            return None
    else:
        offset = tail
    if offset != "Z" and not (len(offset) == 6 and offset[0] in "+-" and offset[3] == ":"):
        return None
    try:
        return _fromisoformat(text)
    except ValueError:
        return None


def _compiled(fields: _Fields, ingested: datetime | None) -> CheckedEvent | None:
    """The rules the schema cannot express; None when one fails (the checker then says which)."""
    if fields.event_id.strip(_EVENT_ID_CHARS) or fields.unit_id.strip(_ID_CHARS):  # a character outside the set
        return None
    if not fields.dossier_id.isprintable():
        return None
    procedure_id = fields.procedure_id
    if procedure_id is not None and not procedure_id.isprintable():
        return None
    kind = fields.type
    rules = _TYPE_CHECKS[kind]
    if rules.foreign(fields) != rules.nothing or None in rules.required(fields):
        return None
    occurred = _time(fields.occurred_at)
    if occurred is None:
        return None
    due: datetime | None = None
    if fields.due_at is not None:
        due = _time(fields.due_at)
        if due is None or due <= occurred:
            return None
    digitized, reused_data, e_result = fields.digitized, fields.reused_data, fields.e_result
    if rules.fill_digitized:
        digitized = digitized is True
    if rules.fill_reused_data:
        reused_data = reused_data is True
    if rules.fill_e_result:
        e_result = e_result is True
    # tuple.__new__: the namedtuple's own __new__ is a Python function, a third of this function's time.
    return _new_tuple(CheckedEvent, (fields.event_id, fields.dossier_id, fields.unit_id, kind, occurred, procedure_id,
                                     fields.channel, due, digitized, reused_data, fields.outcome, e_result,
                                     fields.method, fields.amount, fields.level, ingested, None))  # fmt: skip


def _of_checker(values: dict[str, Any], keep_extras: bool) -> CheckedEvent:
    """The checker's answer (enum members, extras mixed in) as a CheckedEvent."""
    get, plain = values.get, _PLAIN
    channel, outcome, method, level = get("channel"), get("outcome"), get("method"), get("level")
    extras = {name: value for name, value in values.items() if name not in _KNOWN} if keep_extras else None
    return CheckedEvent(values["event_id"], values["dossier_id"], values["unit_id"], plain[values["type"]],
                        values["occurred_at"], get("procedure_id"), plain.get(channel), get("due_at"),
                        get("digitized"), get("reused_data"), plain.get(outcome), get("e_result"),
                        plain.get(method), get("amount"), plain.get(level), get("ingested_at"),
                        extras or None)  # fmt: skip


def _with_context(
    event: CheckedEvent, reference: datetime, unit_exists: Callable[[str], bool]
) -> CheckedEvent | EventRejection:
    rejection = context_rejection(event.event_id, event.unit_id, event.occurred_at, reference, unit_exists)
    return event if rejection is None else rejection


def validate_item(raw: object, *, now: datetime, unit_exists: Callable[[str], bool]) -> CheckedEvent | EventRejection:
    """One event received over HTTP (an item of a JSON array or NDJSON body, or derived from a DVCQG snapshot).

    A client's `ingested_at` is ignored, not validated (ingest stamps its own); fields outside the contract are
    kept in `extras`, in the order sent.
    """
    if type(raw) is dict:
        try:
            fields = msgspec.convert(raw, _Fields)
        except msgspec.ValidationError:
            event = None
        else:
            event = _compiled(fields, None)
        if event is not None:
            if not _KNOWN.issuperset(raw):
                event = event._replace(extras={k: v for k, v in raw.items() if k not in _KNOWN})
            return _with_context(event, now, unit_exists)
    if isinstance(raw, Mapping) and "ingested_at" in raw:
        raw = {key: value for key, value in raw.items() if key != "ingested_at"}
    values = check(raw)
    if isinstance(values, EventRejection):
        return values
    return _with_context(_of_checker(values, keep_extras=True), now, unit_exists)


def decode_items(body: bytes, *, ndjson: bool = False) -> list[HttpItem] | None:
    """A JSON-array body (or an NDJSON one: each non-blank line) as contract items, decoded in C, or None when it
    is anything else (the caller then parses it with orjson and validates item by item). What this accepts, orjson
    reads to the same values: both refuse invalid UTF-8, lone surrogates and a BOM, keep a repeated key's last
    value; every value here is typed (proven by tests/unit/ingest/test_body_fast_path.py)."""
    try:
        if ndjson:
            decode = _ITEM_DECODER.decode
            return [decode(line) for line in body.split(b"\n") if line.strip()]
        return _ITEMS_DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):  # invalid UTF-8 in a string
        return None


def _canonical(text: str) -> bool:
    """Whether a time `_time` accepted is already what `isoformat()` writes for its value: seconds or exactly six
    fraction digits (not all zero), then a ±HH:MM offset other than -00:00 (a Z becomes +00:00)."""
    if len(text) == 25:
        return text[19] in "+-" and text[19:] != "-00:00"
    if len(text) == 32 and text[19] == "." and text[26] in "+-":
        return text[20:26] != "000000" and text[26:] != "-00:00"
    return False


def wire_item(item: HttpItem, ingested_at: str) -> tuple[CheckedEvent, bytes] | None:
    """A decoded body item checked by the compiled rules and its Kafka value — the bytes `encode_checked` writes,
    with the client's time strings reused when already canonical; None when the checker must decide. Mutates
    `item` (the defaults filled, `ingested_at` set): it is the record being written."""
    event = _compiled(item, None)
    if event is None:
        return None
    item.digitized, item.reused_data, item.e_result = event.digitized, event.reused_data, event.e_result
    if not _canonical(item.occurred_at):
        item.occurred_at = event.occurred_at.isoformat()
    if event.due_at is not None and not _canonical(item.due_at):  # type: ignore[arg-type]
        item.due_at = event.due_at.isoformat()
    item.ingested_at = ingested_at
    return event, _ITEM_ENCODER.encode(item)


def decode_value(
    value: bytes, record_timestamp_ms: int, *, unit_exists: Callable[[str], bool]
) -> CheckedEvent | EventRejection:
    """One Kafka record. No wall-clock rule (replays are legal): the future rule uses the record's `ingested_at`,
    or its Kafka timestamp when it has none (then `ingested_at` is set to that)."""
    event: CheckedEvent | None = None
    try:
        record = _RECORD_DECODER.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    else:
        stamp = record.ingested_at
        ingested = _time(stamp) if stamp is not None else _EPOCH + timedelta(milliseconds=record_timestamp_ms)
        if ingested is not None:
            event = _compiled(record, ingested)
    if event is None:
        try:
            raw = orjson.loads(value)
        except orjson.JSONDecodeError:
            return _INVALID_JSON
        values = check(raw)
        if isinstance(values, EventRejection):
            return values
        event = _of_checker(values, keep_extras=False)
        if event.ingested_at is None:
            event = event._replace(ingested_at=_EPOCH + timedelta(milliseconds=record_timestamp_ms))
    assert event.ingested_at is not None
    return _with_context(event, event.ingested_at, unit_exists)


_OPTIONAL_WIRE_FIELDS = CheckedEvent._fields[5:15]  # procedure_id … level, in table order


def stamp_text(moment: datetime) -> str:
    """`ingested_at` as written on the wire: RFC 3339 in UTC with a `Z` (computed once per request)."""
    if moment.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_checked(event: CheckedEvent, ingested_at: str) -> bytes:
    """The Kafka record value of an accepted event (docs/event-contract.md, wire format): the known fields in
    table order — times in their own offset, absent optional fields omitted — then `ingested_at`, then extras."""
    wire: dict[str, Any] = {
        "event_id": event.event_id,
        "dossier_id": event.dossier_id,
        "unit_id": event.unit_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
    }
    due_at = event.due_at
    optional = (*event[5:7], None if due_at is None else due_at.isoformat(), *event[8:15])
    for name, value in zip(_OPTIONAL_WIRE_FIELDS, optional, strict=True):
        if value is not None:
            wire[name] = value
    wire["ingested_at"] = ingested_at
    extras = event.extras
    if extras:
        wire.update(extras)
        try:
            return orjson.dumps(wire)
        except TypeError:
            # orjson refuses integers beyond 64 bits, which a client may put in an extra field; the standard
            # library writes them, escaped to ASCII so the bytes are always valid UTF-8.
            return json.dumps(wire, separators=(",", ":")).encode()
    return orjson.dumps(wire)
