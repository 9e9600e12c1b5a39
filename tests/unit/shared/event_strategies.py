"""Generated events for the decoder-equivalence tests (scoring's and ingest's): valid events of every type and the
same events broken one way or another (a field dropped, a value replaced, a field of another type, an unregistered
unit, a time in the future or without offset), as dicts; `RECORD_VALUES` adds bytes that are no JSON object."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import strategies as st

from shared.contract import EventType

# ~400 examples per test in `make test`; `make equivalence` runs them with 5,000 (DECODER_EQUIVALENCE_EXAMPLES).
EXAMPLES = int(os.environ.get("DECODER_EQUIVALENCE_EXAMPLES", "400"))

REGISTERED = frozenset({"U1", "HN.BD", "x-9"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = ("event_id", "dossier_id", "unit_id", "type", "occurred_at", "procedure_id", "channel", "due_at",
          "digitized", "reused_data", "outcome", "e_result", "method", "amount", "level", "ingested_at")  # fmt: skip
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30))])
MOMENTS = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=OFFSETS)
INT64 = st.integers(-(2**63), 2**64 - 1)  # what JSON integers orjson writes
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), INT64, st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.lists(INT64, max_size=2), st.dictionaries(st.text(max_size=3), INT64, max_size=2),
    st.sampled_from(["2026-09-02T09:00:00", "2026-02-30T09:00:00Z", "2026-09-02 09:00:00+07:00", "online",
                     "approved", "very_satisfied", "counter", "received", "U1", "U1\n", "ev-1\n", "a\x00b", "x" * 65,
                     "2026-09-02t09:00:00z", "2026-09-02T09:00:00+0700", "2026-09-02T24:00:00Z", "2026-09-02T09:00Z",
                     "2026-09-02T09:00:00.123456789-00:00", "٢٠٢٦-09-02T09:00:00Z", 2**63, 2**64 - 1, -0.0, 10.0,
                     "2026-09-02T09:00:00.Z", "2026-09-02T09:00:00.+07:00", "2026-09-02T09:00:00.5Z",
                     "2026-09-02T09:00:00+07:00:00", "2026-09-02T09:00:00+07", "2026-09-02T09:00:00,5Z",
                     "2026-09-02T9:00:00Z", "2026-9-02T09:00:00+07:00", "0000-09-02T09:00:00Z", "2026-09-02T09:00:00ZZ",
                     "2026-09-02T09:00:00.12", "2026-09-02T09:00:00+7:00", "2026-09-02T09:0a:00Z", "ev:1", "U1:x",
                     "2026-09-02T09:00:00+07:60", "2026-09-02T09:00:00.5+0700", "2026-09-02T09:00:00 +07:00"]),
)  # fmt: skip
# Valid spellings of a time that the compiled schema leaves to the checker (lower-case t/z, long fractions, -00:00).
RESPELLINGS = st.sampled_from([
    lambda text: text.replace("T", "t").replace("Z", "z"),
    lambda text: text[:19] + ".1234567891" + text[19:] if "." not in text else text.replace(".", ".9", 1),
    lambda text: text.replace("Z", "-00:00").replace("+00:00", "-00:00"),
])  # fmt: skip


def unit_exists(unit_id: str) -> bool:
    return unit_id in REGISTERED


def rfc3339(moment: datetime, zulu: bool) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(EventType)))
    occurred = draw(MOMENTS)
    zulu = draw(st.booleans())
    event: dict[str, Any] = {
        "event_id": draw(st.from_regex(r"[A-Za-z0-9._:-]{1,24}", fullmatch=True)),
        "dossier_id": draw(st.text(st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=12)),
        "unit_id": draw(st.sampled_from(sorted(REGISTERED))),
        "type": kind.value,
        "occurred_at": rfc3339(occurred, zulu),
    }
    if draw(st.booleans()):
        event["procedure_id"] = draw(st.from_regex(r"[0-9.]{1,12}", fullmatch=True))
    due = rfc3339(occurred + draw(st.timedeltas(timedelta(minutes=1), timedelta(days=90))), zulu)
    if kind is EventType.RECEIVED:
        event |= {"channel": draw(st.sampled_from(["online", "direct", "postal"])), "due_at": due}
        event |= draw(st.fixed_dictionaries({}, optional={"digitized": st.booleans(), "reused_data": st.booleans()}))
    elif kind in (EventType.SUPPLEMENT_RECEIVED, EventType.RESUMED) and draw(st.booleans()):
        event["due_at"] = due
    elif kind is EventType.RESOLVED:
        event["outcome"] = draw(st.sampled_from(["approved", "refused"]))
        event |= draw(st.fixed_dictionaries({}, optional={"e_result": st.booleans()}))
    elif kind is EventType.PAYMENT:
        event["method"] = draw(st.sampled_from(["online", "counter"]))
        event |= draw(st.fixed_dictionaries({}, optional={"amount": st.integers(0, 10**12)}))
    elif kind is EventType.RATING:
        event["level"] = draw(st.sampled_from(["very_satisfied", "satisfied", "dissatisfied"]))
    if draw(st.booleans()):  # a trusted producer's stamp; up to a day before the event (the future rule)
        event["ingested_at"] = rfc3339(occurred + draw(st.timedeltas(timedelta(days=-1), timedelta(days=3))), True)
    if draw(st.booleans()):
        event["note"] = draw(JSON_VALUES)  # extra fields are kept, never checked
    return event


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_events())
    how = draw(st.sampled_from(["drop", "replace", "foreign", "unit", "future", "naive", "respell", "null", "due"]))
    if how == "drop":
        del event[draw(st.sampled_from(sorted(event)))]
    elif how == "replace":
        event[draw(st.sampled_from(FIELDS))] = draw(JSON_VALUES)
    elif how == "foreign":  # a field of another type
        event[draw(st.sampled_from(FIELDS[6:15]))] = draw(JSON_VALUES)
    elif how == "unit":
        event["unit_id"] = draw(st.sampled_from(["U2", "HN.XX", "bad unit", ""]))
    elif how == "future":
        occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        event["ingested_at"] = rfc3339(occurred - draw(st.timedeltas(timedelta(minutes=4), timedelta(days=2))), True)
    elif how == "respell":  # still valid, spelled so that only the checker's path accepts it
        name = draw(st.sampled_from([name for name in ("occurred_at", "due_at", "ingested_at") if name in event]))
        event[name] = draw(RESPELLINGS)(event[name])
    elif how == "due":  # a received event due at or just before its occurrence
        keep = ("event_id", "dossier_id", "unit_id", "occurred_at", "ingested_at")
        event = {name: event[name] for name in keep if name in event} | {"type": "received", "channel": "online"}
        occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        event["due_at"] = rfc3339(occurred - draw(st.sampled_from([timedelta(0), timedelta(microseconds=1)])), False)
    elif how == "null":  # null counts as absent: missing when required, fine when optional or foreign
        event[draw(st.sampled_from(FIELDS))] = None
    else:
        event[draw(st.sampled_from(["occurred_at", "due_at", "ingested_at"]))] = "2026-09-02T09:00:00"
    return event


RECORD_VALUES = st.one_of(
    valid_events().map(orjson.dumps),
    broken_events().map(orjson.dumps),
    st.sampled_from([b"", b"{not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b"{}"]),
)
