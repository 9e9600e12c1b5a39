"""Kafka record bytes → the contract's fields with its times as integer microseconds (the scoring consumer's path).

`contract_codec.decode_value` answers every record with aware datetimes that the consumer then turns into integer
instants — three `fromisoformat` and three aware subtractions per event, a third of its decode. This module takes
the common case straight to integers: the same msgspec schema and `fields_pass` rules (here on the decoded tuple, read
by position: compiled, the interpreted `contract_codec.fields_pass` cost ~2.5 µs an event), then each time read from its
text as (day of the date in its offset) + (seconds of the clock) + (fraction), the first two looked up in caches
that `contract_codec._time` — the compiled path's own time rule — fills once per distinct date+offset and clock.
Anything else (a spelling the caches do not cover, a rule or context check failing) answers None and the caller
takes `decode_value`, which says why; so this path can only ever be stricter than the checker, never differ from
it (proven by tests/unit/scoring/test_decoder_equivalence.py on generated records, valid and invalid).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from shared.contract_codec import _EPOCH, _EVENT_ID_CHARS, _ID_CHARS, _RECORD_DECODER, _Record, _time
from shared.contract_rules import _ALLOWED, _REQUIRED, _SPECIFIC, MAX_FUTURE_SKEW, EventType

__all__ = ["decode_instants", "fields_pass", "instant_of"]

# Final names: compiled, they are C statics rather than lookups in the module's dict on every record.
_decode_record: Final = _RECORD_DECODER.decode
# The decoded struct as one tuple (a C call): its fields are then read by index, not by an attribute lookup each.
_as_tuple: Final = msgspec.structs.astuple
_EVENT_ID_SET: Final = _EVENT_ID_CHARS
_ID_SET: Final = _ID_CHARS
_DECODE_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError)
_SKEW_US: Final = MAX_FUTURE_SKEW // MAX_FUTURE_SKEW.resolution  # the 5-minute rule in microseconds
# date (10 characters) + offset ("Z" or "±HH:MM") → the instant of 00:00:00 that day in that offset. A dossier
# stream names a few dates a day and one or two offsets: small, but bounded all the same against hostile input.
_DAY_STARTS: Final[dict[str, int]] = {}
_DAY_STARTS_MAX: Final = 200_000
# The same instants keyed by the date's and offset's digits as one integer (`_day_key`): looked up without building
# a string. Bounded like _DAY_STARTS.
_DAY_KEYS: Final[dict[int, int]] = {}

# Positions of the fields in the decoded tuple (`_Record`'s field order: the contract's table, then ingested_at).
FIELDS: Final[tuple[str, ...]] = _Record.__struct_fields__
EVENT_ID: Final = 0
DOSSIER_ID: Final = 1
UNIT_ID: Final = 2
TYPE: Final = 3
OCCURRED_AT: Final = 4
PROCEDURE_ID: Final = 5
DUE_AT: Final = 7
INGESTED_AT: Final = 15
assert FIELDS.index("ingested_at") == INGESTED_AT and FIELDS[:8] == (
    "event_id", "dossier_id", "unit_id", "type", "occurred_at", "procedure_id", "channel", "due_at")  # fmt: skip


def _type_fields(kind: EventType) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`contract_rules`' tables of a type as positions: the fields foreign to it (must be None), those required."""
    allowed, required = _ALLOWED.get(kind, frozenset()), _REQUIRED.get(kind, frozenset())
    foreign = tuple(FIELDS.index(name) for name in _SPECIFIC if name not in allowed)
    return foreign, tuple(FIELDS.index(name) for name in _SPECIFIC if name in required)


_TYPE_FIELDS: Final[dict[str, tuple[tuple[int, ...], tuple[int, ...]]]] = {
    kind.value: _type_fields(kind) for kind in EventType
}


def fields_pass(values: tuple[Any, ...]) -> bool:
    """`contract_codec.fields_pass` on the decoded tuple: the same rules (character sets, printable text, the
    fields each type allows and requires) from the same tables, read by position in compiled code."""
    event_id: str = values[EVENT_ID]
    unit_id: str = values[UNIT_ID]
    if event_id.strip(_EVENT_ID_SET) or unit_id.strip(_ID_SET):  # a character outside the set
        return False
    dossier_id: str = values[DOSSIER_ID]
    if not dossier_id.isprintable():
        return False
    procedure_id = values[PROCEDURE_ID]
    if procedure_id is not None:
        procedure_text: str = procedure_id
        if not procedure_text.isprintable():
            return False
    foreign, required = _TYPE_FIELDS[values[TYPE]]
    for index in foreign:
        if values[index] is not None:
            return False
    return all(values[index] is not None for index in required)


def _day_start(date: str, offset: str) -> int | None:
    moment = _time(f"{date}T00:00:00{offset}")  # the checker's own date, offset and digit rules, once per key
    if moment is None:
        return None
    if len(_DAY_STARTS) >= _DAY_STARTS_MAX:
        _DAY_STARTS.clear()
    elapsed = moment - _EPOCH
    start = _DAY_STARTS[date + offset] = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000
    return start


def instant_of(text: str) -> int | None:
    """Integer microseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.digits](Z|±HH:MM)` — exactly
    `to_instant(contract_codec._time(text))` (fractions truncated to microseconds) — or None: the checker decides.

    Read character by character (`ord(text[i])`, inline in compiled code): the clock and the fraction by arithmetic,
    the day from a cache keyed by the date's and offset's digits as one integer, filled through `_day_start` (the
    checker's own rules) — no slice, concatenation or string hash per time, three times an event."""
    size = len(text)
    if size < 20 or ord(text[10]) != 84 or ord(text[13]) != 58 or ord(text[16]) != 58:  # "T", ":", ":"
        return None
    h1, h2, m1, m2 = _digit(text, 11), _digit(text, 12), _digit(text, 14), _digit(text, 15)
    s1, s2 = _digit(text, 17), _digit(text, 18)
    if h1 < 0 or h2 < 0 or m1 < 0 or m2 < 0 or s1 < 0 or s2 < 0:
        return None
    hours, minutes, seconds = h1 * 10 + h2, m1 * 10 + m2, s1 * 10 + s2
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    fraction = 0
    offset_at = 19
    if ord(text[19]) == 46:  # "." and at least one digit before the offset ("Z", else the last six characters)
        offset_at = size - 1 if ord(text[size - 1]) == 90 else size - 6
        if offset_at <= 20:
            return None
        places = 0
        for index in range(20, offset_at):
            digit = _digit(text, index)
            if digit < 0:
                return None
            if places < 6:  # truncated to microseconds
                fraction = fraction * 10 + digit
                places += 1
        while places < 6:
            fraction *= 10
            places += 1
    day = _day_at(text, offset_at)
    if day is None:
        return None
    return day + ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction


def _digit(text: str, index: int) -> int:
    """The ASCII digit at `index`, or -1."""
    code = ord(text[index])
    return code - 48 if 48 <= code <= 57 else -1


def _day_at(text: str, offset_at: int) -> int | None:
    """The instant of 00:00:00 on the text's date in its offset (`text[offset_at:]`), from `_DAY_KEYS` when the date
    and the offset are plain digits (`YYYY-MM-DD`, `Z` or `±HH:MM`: the key then names one spelling), else — and
    on a miss — from `_day_start` (the checker's rules; None when it refuses)."""
    key = _day_key(text, offset_at)
    if key >= 0:
        day = _DAY_KEYS.get(key)
        if day is not None:
            return day
    date, offset = text[:10], text[offset_at:]
    day = _DAY_STARTS.get(date + offset)
    if day is None:
        day = _day_start(date, offset)
        if day is None:
            return None
    if key >= 0:
        if len(_DAY_KEYS) >= _DAY_STARTS_MAX:
            _DAY_KEYS.clear()
        _DAY_KEYS[key] = day
    return day


def _day_key(text: str, offset_at: int) -> int:
    """`YYYY-MM-DD` and `Z`/`±HH:MM` as one integer (-1 for any other spelling): each such pair its own key."""
    if ord(text[4]) != 45 or ord(text[7]) != 45:  # "-"
        return -1
    y1, y2, y3, y4 = _digit(text, 0), _digit(text, 1), _digit(text, 2), _digit(text, 3)
    m1, m2, d1, d2 = _digit(text, 5), _digit(text, 6), _digit(text, 8), _digit(text, 9)
    if y1 < 0 or y2 < 0 or y3 < 0 or y4 < 0 or m1 < 0 or m2 < 0 or d1 < 0 or d2 < 0:
        return -1
    date = ((((((y1 * 10 + y2) * 10 + y3) * 10 + y4) * 10 + m1) * 10 + m2) * 10 + d1) * 10 + d2
    length = len(text) - offset_at
    if length == 1:
        return date * 100_000 + 1 if ord(text[offset_at]) == 90 else -1  # "Z"
    if length != 6 or ord(text[offset_at + 3]) != 58:
        return -1
    sign = ord(text[offset_at])
    if sign != 43 and sign != 45:  # "+", "-"
        return -1
    h1, h2 = _digit(text, offset_at + 1), _digit(text, offset_at + 2)
    n1, n2 = _digit(text, offset_at + 4), _digit(text, offset_at + 5)
    if h1 < 0 or h2 < 0 or n1 < 0 or n2 < 0:
        return -1
    zone = ((h1 * 10 + h2) * 10 + n1) * 10 + n2
    return date * 100_000 + (20_000 if sign == 43 else 30_000) + zone


def decode_instants(
    value: bytes, record_timestamp_ms: int, unit_exists: Callable[[str], bool], known: dict[str, bool] | None = None
) -> tuple[tuple[Any, ...], int, int, int | None] | None:
    """A record every rule accepts, context included, as (fields, occurred_at, ingested_at, due_at) in integer
    microseconds — `ingested_at` the record's Kafka timestamp when it has none. None: `decode_value` decides.
    `known` (when given) keeps `unit_exists`' answers: the caller's, for records decoded against one registry copy
    (the service's `unit_exists` is two interpreted calls; a batch names a few hundred units).

    The fields are the schema's as decoded, as a tuple in `FIELDS` order: the type's defaults (false for an absent
    flag) are not filled here."""
    try:
        record: _Record = _decode_record(value)
    except _DECODE_ERRORS:
        return None
    values: tuple[Any, ...] = _as_tuple(record)
    if not fields_pass(values):
        return None
    occurred = instant_of(values[OCCURRED_AT])
    if occurred is None:
        return None
    stamp = values[INGESTED_AT]
    ingested = record_timestamp_ms * 1000 if stamp is None else instant_of(stamp)
    if ingested is None or occurred - ingested > _SKEW_US:
        return None
    unit_id: str = values[UNIT_ID]
    exists = known.get(unit_id) if known is not None else None
    if exists is None:
        exists = unit_exists(unit_id)
        if known is not None:
            known[unit_id] = exists
    if not exists:
        return None
    due_text = values[DUE_AT]
    if due_text is None:
        return values, occurred, ingested, None
    due = instant_of(due_text)
    if due is None or due <= occurred:
        return None
    return values, occurred, ingested, due
