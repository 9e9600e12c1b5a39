"""Instants and Vietnam-time calendar months, as cheap integers.

The scoring hot path compares times and finds their month many times per event. Aware ``datetime`` objects
are exact but slow to compare across offsets and slow to bucket into months, so the domain converts every
time once, at its edge, into an ``Instant``: integer microseconds since the Unix epoch (UTC). Integers are
exact (no float rounding at a 24 h or due-date boundary), hashable, JSON-native and fast.

A ``Month`` is ``year * 12 + (month - 1)`` of the calendar month in Vietnam time (UTC+07:00, no DST); SPEC §4
writes it ``YYYY-MM``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

Instant = int
"""Microseconds since 1970-01-01T00:00:00Z."""

Month = int
"""``year * 12 + (month - 1)`` of a calendar month in Vietnam time."""

VN_TZ: Final = timezone(timedelta(hours=7))
SECOND_US: Final = 1_000_000
HOUR_US: Final = 3_600 * SECOND_US
DAY_US: Final = 24 * HOUR_US

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MONTH_LABEL: Final = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")

# Final constants: the compiled modules read them as C statics (integers unboxed), not through the module's dict.
# Month starts are precomputed for the years any real dossier can carry, so that bucketing an instant is one
# C-level bisect instead of a datetime conversion; times outside the table fall back to datetime arithmetic.
_TABLE_FIRST_YEAR: Final = 1970
_TABLE_LAST_YEAR: Final = 2199


def to_instant(moment: datetime) -> Instant:
    """Exact integer microseconds of an aware datetime; a naive datetime is refused (its zone is unknown)."""
    try:
        elapsed = moment - _EPOCH
    except TypeError as error:  # naive minus aware
        raise ValueError(f"thời điểm thiếu múi giờ / naive datetime not allowed: {moment!r}") from error
    # Spelled out because timedelta // timedelta goes through arbitrary-precision integers and is ~2x slower.
    return elapsed.days * DAY_US + elapsed.seconds * SECOND_US + elapsed.microseconds


def to_datetime(instant: Instant) -> datetime:
    """The aware UTC datetime of an instant."""
    return _EPOCH + timedelta(microseconds=instant)


def month_from_parts(year: int, month: int) -> Month:
    return year * 12 + (month - 1)


def _start_by_datetime(month: Month) -> Instant:
    year, month0 = divmod(month, 12)
    return to_instant(datetime(year, month0 + 1, 1, tzinfo=VN_TZ))


_TABLE_BASE: Final[Month] = month_from_parts(_TABLE_FIRST_YEAR, 1)
_MONTH_STARTS: Final[list[Instant]] = [
    _start_by_datetime(_TABLE_BASE + offset) for offset in range((_TABLE_LAST_YEAR - _TABLE_FIRST_YEAR + 1) * 12 + 1)
]
_LABELS: Final[list[str]] = [
    f"{(_TABLE_BASE + offset) // 12:04d}-{(_TABLE_BASE + offset) % 12 + 1:02d}" for offset in range(len(_MONTH_STARTS))
]


# Months whose start AND end are in the table: the index range where the fast paths below are exact.
_TABLE_MONTHS: Final = len(_MONTH_STARTS) - 1
_TABLE_FIRST: Final[Instant] = _MONTH_STARTS[0]
_TABLE_END: Final[Instant] = _MONTH_STARTS[_TABLE_MONTHS]
_VN_OFFSET_US: Final = 7 * HOUR_US


def month_of(instant: Instant) -> Month:
    """The Vietnam-time calendar month containing an instant.

    The consumer asks this several times per event: within the table's years it is integer arithmetic on the
    local day number (compiled, a few C operations; a bisect of the month starts compared a dozen boxed integers),
    checked against the table month by month in tests/unit/scoring/test_timebase.py."""
    if _TABLE_FIRST <= instant < _TABLE_END:
        return _month_of_day((instant + _VN_OFFSET_US) // DAY_US)
    local = to_datetime(instant).astimezone(VN_TZ)
    return month_from_parts(local.year, local.month)


def _month_of_day(days: int) -> Month:
    """The ``Month`` of a day counted from 1970-01-01 (Gregorian calendar; H. Hinnant's ``civil_from_days``, its
    year counted from March so that the leap day ends it: Month = year × 12 + months since March + 2)."""
    shifted = days + 719_468  # days since 0000-03-01
    era = shifted // 146_097  # 400-year eras
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)  # from March 1
    return (era * 400 + year_of_era) * 12 + (5 * day_of_year + 2) // 153 + 2


def month_label_of(instant: Instant) -> str:
    """``month_label(month_of(instant))`` in one step: this runs for every fact of every contribution."""
    index = bisect_right(_MONTH_STARTS, instant) - 1
    if 0 <= index < _TABLE_MONTHS:
        return _LABELS[index]
    return month_label(month_of(instant))


def month_table() -> tuple[Month, list[Instant]]:
    """The precomputed months (a copy, for tests): month ``base + i`` starts at ``starts[i]``."""
    return _TABLE_BASE, list(_MONTH_STARTS)


def month_start(month: Month) -> Instant:
    """S of SPEC §4: the first instant of the month (00:00 Vietnam time on its first day)."""
    index = month - _TABLE_BASE
    if 0 <= index <= _TABLE_MONTHS:
        return _MONTH_STARTS[index]
    return _start_by_datetime(month)


def month_end(month: Month) -> Instant:
    """E of SPEC §4: the first instant of the next month (months are half-open [S, E))."""
    return month_start(month + 1)


def month_label(month: Month) -> str:
    """``YYYY-MM``."""
    index = month - _TABLE_BASE
    if 0 <= index <= _TABLE_MONTHS:
        return _LABELS[index]
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def parse_month(label: str) -> Month:
    """Inverse of :func:`month_label`; raises ``ValueError`` on anything but ``YYYY-MM``."""
    match = _MONTH_LABEL.fullmatch(label)
    if match is None:
        raise ValueError(f"kỳ không hợp lệ, cần YYYY-MM / malformed period, expected YYYY-MM: {label!r}")
    return month_from_parts(int(match.group(1)), int(match.group(2)))


def month_of_datetime(moment: datetime) -> Month:
    return month_of(to_instant(moment))
