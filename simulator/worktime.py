"""Vietnam time, working days and fast RFC 3339 formatting on integer epoch seconds.

Everything in the simulator is an `int` of UTC epoch seconds: cheap to compare, add and put in a heap.
Local (Vietnam, UTC+07:00, no DST) calendar days are numbered as days since 1970-01-01 local.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7))
VN_OFFSET = 7 * 3600
DAY = 86_400
HOUR = 3_600

OFFICE_OPEN = 8 * HOUR  # one-stop-shop counters open 08:00 …
OFFICE_CLOSE = 17 * HOUR  # … and close 17:00; the due time of a dossier is the close of its due day

# Lunar New Year's day; the Tết break is modelled as the day before plus the next three days (5 days off).
_TET = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
}
# Hùng Kings' day (10th of the 3rd lunar month), approximate solar dates.
_HUNG_KINGS = {
    2024: date(2024, 4, 18),
    2025: date(2025, 4, 7),
    2026: date(2026, 4, 26),
    2027: date(2027, 4, 16),
    2028: date(2028, 4, 4),
}


def local_day(ts: int) -> int:
    """Vietnam calendar day number of an epoch second."""
    return (ts + VN_OFFSET) // DAY


def day_start(day: int) -> int:
    """Epoch second of local midnight starting `day`."""
    return day * DAY - VN_OFFSET


def weekday(day: int) -> int:
    """Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def _day_number(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def vietnam_holidays(years: range = range(2020, 2031)) -> frozenset[int]:
    """Public holidays (fixed solar ones every year, Tết and Hùng Kings where known), as local day numbers.

    Compensatory days and one-off bridging decisions are not modelled: a dossier's due date may differ by a day
    from what a one-stop-shop would print in such weeks, which does not matter for traffic.
    """
    days: set[int] = set()
    for y in years:
        for m, d in ((1, 1), (4, 30), (5, 1), (9, 2)):
            days.add(_day_number(date(y, m, d)))
        if y in _TET:
            tet = _day_number(_TET[y])
            days.update(range(tet - 1, tet + 4))
        if y in _HUNG_KINGS:
            days.add(_day_number(_HUNG_KINGS[y]))
    return frozenset(days)


class WorkCalendar:
    """Working days (Mon–Fri except holidays) and due-date arithmetic, memoised for speed."""

    def __init__(self, holidays: frozenset[int] | None = None) -> None:
        self._holidays = vietnam_holidays() if holidays is None else holidays
        self._add_cache: dict[tuple[int, int], int] = {}

    def day_kind(self, day: int) -> str:
        """'work', 'saturday' (some counters open in the morning) or 'off' (Sunday, holiday)."""
        if day in self._holidays:
            return "off"
        wd = weekday(day)
        if wd < 5:
            return "work"
        return "saturday" if wd == 5 else "off"

    def is_working_day(self, day: int) -> bool:
        return day not in self._holidays and weekday(day) < 5

    def add_working_days(self, day: int, n: int) -> int:
        """The n-th working day strictly after `day` (n ≥ 1)."""
        key = (day, n)
        cached = self._add_cache.get(key)
        if cached is not None:
            return cached
        d, left = day, n
        while left > 0:
            d += 1
            if self.is_working_day(d):
                left -= 1
        self._add_cache[key] = d
        return d

    def due_at(self, received: int, working_days: int) -> int:
        """Close of business on the n-th working day after the day of receipt (always later than `received`)."""
        return day_start(self.add_working_days(local_day(received), working_days)) + OFFICE_CLOSE

    def snap_to_office(self, ts: int, jitter: int) -> int:
        """Move a moment outside office hours to the next opening, plus `jitter` seconds (< 2 h).

        Why: officers act during office hours; a moment already inside them is kept unchanged.
        """
        day = local_day(ts)
        into = ts - day_start(day)
        if self.is_working_day(day) and OFFICE_OPEN <= into < OFFICE_CLOSE:
            return ts
        if not (self.is_working_day(day) and into < OFFICE_OPEN):
            day = self.add_working_days(day, 1)
        return day_start(day) + OFFICE_OPEN + jitter


_LOCAL_SECONDS = tuple(f"{s:02d}+07:00" for s in range(60))
_HOURS_MINUTES = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_MINUTE_CACHE_LIMIT = 200_000  # ≈ 5 months of distinct minutes; cleared when full so memory stays bounded


class Rfc3339:
    """Formats epoch seconds as RFC 3339 strings, caching the "date and minute" part (formatting is the hot path)."""

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}
        self._utc_days: dict[int, str] = {}
        self._local_days: dict[int, str] = {}

    def local(self, ts: int) -> str:
        """Vietnam time with the explicit +07:00 offset, e.g. 2026-08-03T09:15:00+07:00."""
        minute, sec = divmod(ts, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) >= _MINUTE_CACHE_LIMIT:
                self._minutes.clear()
            day, in_day = divmod(minute + VN_OFFSET // 60, 1440)  # local day and minute of the day
            day_text = self._local_days.get(day)
            if day_text is None:
                day_text = self._local_days[day] = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%dT")
            prefix = self._minutes[minute] = day_text + _HOURS_MINUTES[in_day]
        return prefix + _LOCAL_SECONDS[sec]

    def utc(self, ts: float) -> str:
        """UTC with a Z suffix and milliseconds, for `ingested_at`."""
        whole = int(ts)
        day, sec = divmod(whole, DAY)
        prefix = self._utc_days.get(day)
        if prefix is None:
            prefix = self._utc_days[day] = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%dT")
        h, sec = divmod(sec, HOUR)
        m, s = divmod(sec, 60)
        ms = int((ts - whole) * 1000)
        return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"


def parse_cli_time(text: str) -> int:
    """'2026-08-01' (local midnight) or any ISO 8601 datetime; naive values are Vietnam time."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=VN_TZ)
    return int(dt.timestamp())
