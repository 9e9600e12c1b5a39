"""`contract_records.instant_of`, the consumer's time reader, against the checker's own time rule: on any text it
answers None or exactly `to_instant(contract_codec._time(text))`, and it answers every spelling the contract's
producers use (Z, ±HH:MM, fractions of any length). Mutated spellings (a character replaced, the text cut) probe
each character it reads by position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.timebase import to_instant
from shared.contract_codec import _time
from shared.contract_records import instant_of

pytestmark = pytest.mark.unit

OFFSETS = st.sampled_from(["Z", "+07:00", "-00:00", "+00:00", "-03:30", "+14:00", "+05:45"])
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 30))
FRACTIONS = st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1, max_size=9).map(lambda d: "." + d))
ODD_CHARACTERS = st.sampled_from([*"0123456789T:-+.Zzt /", "٣", "१", "é", "\x00"])


def spelled(moment: datetime, fraction: str, offset: str) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


def expected(text: str) -> int | None:
    moment = _time(text)
    return None if moment is None else to_instant(moment)


@settings(max_examples=400, deadline=None)
@given(moment=MOMENTS, fraction=FRACTIONS, offset=OFFSETS)
def test_every_producers_spelling_is_read_exactly(moment: datetime, fraction: str, offset: str) -> None:
    text = spelled(moment, fraction, offset)
    assert instant_of(text) == expected(text)
    assert instant_of(text) is not None


@settings(max_examples=1500, deadline=None)
@given(
    moment=MOMENTS,
    fraction=FRACTIONS,
    offset=st.one_of(OFFSETS, st.text(min_size=0, max_size=7)),
    at=st.integers(0, 40),
    character=ODD_CHARACTERS,
    cut=st.integers(0, 40),
)
def test_a_mutated_spelling_is_read_exactly_or_left_to_the_checker(
    moment: datetime, fraction: str, offset: str, at: int, character: str, cut: int
) -> None:
    text = spelled(moment, fraction, offset)
    mutated = text[:at] + character + text[at + 1 :] if at < len(text) else text
    for candidate in (mutated, mutated[: len(mutated) - cut], text[: len(text) - cut]):
        if not candidate:
            continue
        answer = instant_of(candidate)
        assert answer is None or answer == expected(candidate), candidate
        if expected(candidate) is None:
            assert answer is None, candidate


def test_dates_that_do_not_exist_and_clocks_out_of_range_are_left_to_the_checker() -> None:
    for text in ("2025-02-29T10:00:00Z", "2025-13-01T10:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T10:60:00Z",
                 "2025-01-01T10:00:60+07:00", "2025-01-01T10:00:00+7:00", "2025-01-01T10:00:00.Z",
                 "2025-01-01t10:00:00Z", "2025-01-01T10:00:00z", "2025-01-01T10:00:00.12+07:0"):  # fmt: skip
        assert instant_of(text) is None, text
        assert expected(text) is None, text  # the checker refuses them too: instant_of is not stricter here


def test_the_day_cache_answers_the_same_after_it_is_filled() -> None:
    zone = timezone(timedelta(hours=7))
    texts = [f"2026-03-{day:02d}T{hour:02d}:15:09.123456789+07:00" for day in (1, 2, 31) for hour in (0, 23)]
    first = [instant_of(text) for text in texts]
    assert first == [instant_of(text) for text in texts]
    assert first[0] == to_instant(datetime(2026, 3, 1, 0, 15, 9, 123456, tzinfo=zone))
    assert instant_of("2026-03-01T00:00:00Z") == to_instant(datetime(2026, 3, 1, tzinfo=UTC))
