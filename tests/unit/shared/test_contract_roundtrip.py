"""Property: any valid event survives validate → encode → decode unchanged (plus its ingested_at)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contract import DossierEvent, EventRejection, decode_record, encode_event, validate_event

KNOWN = set(DossierEvent.model_fields)
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
UNIT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
# Vietnamese letters and everything else printable, but no lone surrogates (not representable in UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31), timezones=offsets)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
extras = st.dictionaries(TEXT.filter(lambda key: key not in KNOWN), json_values, max_size=3)


@st.composite
def raw_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(
        st.sampled_from(
            [
                "received",
                "supplement_requested",
                "supplement_received",
                "paused",
                "resumed",
                "resolved",
                "returned",
                "withdrawn",
                "payment",
                "rating",
            ]
        )
    )
    occurred = draw(moments)
    raw: dict[str, Any] = {
        "event_id": draw(st.text(ID_CHARS, min_size=1, max_size=128)),
        "dossier_id": draw(
            st.text(
                st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp", "Co", "Cn")), min_size=1, max_size=64
            ).filter(str.isprintable)
        ),
        "unit_id": draw(st.text(UNIT_CHARS, min_size=1, max_size=64)),
        "type": event_type,
        "occurred_at": occurred.isoformat(),
    }
    if draw(st.booleans()):
        raw["procedure_id"] = draw(st.text("0123456789.H", min_size=1, max_size=32))
    due = (occurred + draw(st.timedeltas(timedelta(seconds=1), timedelta(days=400)))).astimezone(draw(offsets))
    if event_type == "received":
        raw["channel"] = draw(st.sampled_from(["online", "direct", "postal"]))
        raw["due_at"] = due.isoformat()
        for flag in ("digitized", "reused_data"):
            if draw(st.booleans()):
                raw[flag] = draw(st.booleans())
    elif event_type in ("supplement_received", "resumed") and draw(st.booleans()):
        raw["due_at"] = due.isoformat()
    elif event_type == "resolved":
        raw["outcome"] = draw(st.sampled_from(["approved", "refused"]))
        if draw(st.booleans()):
            raw["e_result"] = draw(st.booleans())
    elif event_type == "payment":
        raw["method"] = draw(st.sampled_from(["online", "counter"]))
        if draw(st.booleans()):
            raw["amount"] = draw(st.integers(0, 10**12))
    elif event_type == "rating":
        raw["level"] = draw(st.sampled_from(["very_satisfied", "satisfied", "dissatisfied"]))
    raw.update(draw(extras))
    return raw


@settings(deadline=None, max_examples=300)
@given(raw=raw_events(), lag=st.timedeltas(timedelta(minutes=-5), timedelta(days=30)), offset=offsets)
def test_encode_then_decode_is_identity(raw: dict[str, Any], lag: timedelta, offset: timezone) -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)  # every generated event is in the past
    event = validate_event(raw, now=now, unit_exists=lambda unit_id: True)
    assert isinstance(event, DossierEvent), event
    ingested = (event.occurred_at + lag).astimezone(offset)  # a stamp in any offset is written in UTC
    decoded = decode_record(encode_event(event, ingested), 0, unit_exists=lambda unit_id: True)
    assert not isinstance(decoded, EventRejection), decoded
    assert decoded.ingested_at == ingested and decoded.ingested_at.utcoffset() == timedelta(0)
    assert decoded.model_copy(update={"ingested_at": None}) == event
    assert decoded.occurred_at.utcoffset() == event.occurred_at.utcoffset()
    assert decoded.extra_fields == {key: value for key, value in raw.items() if key not in KNOWN}
    assert decoded.ingested_at.tzinfo is not None and decoded.ingested_at.astimezone(UTC) == ingested.astimezone(UTC)


@settings(deadline=None, max_examples=200)
@given(raw=raw_events())
def test_validation_is_deterministic_and_agrees_with_the_model(raw: dict[str, Any]) -> None:
    first = validate_event(raw, now=datetime(2031, 1, 1, tzinfo=UTC), unit_exists=lambda unit_id: True)
    assert first == validate_event(raw, now=datetime(2031, 1, 1, tzinfo=UTC), unit_exists=lambda unit_id: True)
    assert DossierEvent.model_validate(raw) == first
