"""Durations in rule files: "90s", "15m", "2h", "1d", "1h30m", or a plain number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)(d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:d|h|m|s))+$")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    """Parse a duration; raise ValueError with a message a rule author understands."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '15m', '2h', '1d'")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.isdigit():
            seconds = float(text)
        elif _WHOLE.match(text):
            seconds = float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))
        else:
            raise ValueError(f"{value!r} is not a duration; write e.g. '90s', '15m', '2h', '1d' or '1h30m'")
    else:
        raise ValueError("a duration is a number of seconds or a string like '15m', '2h', '1d'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration for whole seconds: 5400 s → '1h30m'; zero → '0s'."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNIT_SECONDS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
