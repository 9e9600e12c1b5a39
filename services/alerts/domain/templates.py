"""Safe rendering of alert summaries and descriptions.

Templates use `string.Template` syntax ($unit_name or ${unit_name}). Unlike str.format, it cannot reach
attributes or indexes of the values, and substituted text is never re-interpreted, so a unit name containing
"$" or "{" is harmless. Every placeholder is checked against a fixed list when the rules file loads, so a typo
fails at load time instead of in the middle of the night.

Numbers are formatted per language: Vietnamese uses a decimal comma and a dot between thousands
("54,2 %", "24.130"); English the reverse ("54.2%", "24,130").
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Literal

Language = Literal["vi", "en"]
ValueKind = Literal["rate", "score", "score_change", "rank", "count"]

COMMON_PLACEHOLDERS = frozenset(
    {"unit_name", "unit_id", "level", "level_name", "rule_id", "rule_name", "severity", "severity_name"}
)
THRESHOLD_PLACEHOLDERS = COMMON_PLACEHOLDERS | {
    "value",
    "threshold",
    "clear_threshold",
    "period",
    "denominator",
    "rank",
    "rank_of",
}
NEAR_DUE_PLACEHOLDERS = COMMON_PLACEHOLDERS | {"count", "horizon", "items", "earliest_due", "earliest_left"}
# Forecast rules: `value` is the scenario's month-end figure, `current` today's figure of the same target,
# `scenario_name` "nếu không xử lý thêm" / "if nothing more is done" (or the best case's words).
FORECAST_PLACEHOLDERS = THRESHOLD_PLACEHOLDERS | {
    "current",
    "scenario_name",
    "due_this_month",
    "overdue_open",
    "month_end",
}

LEVEL_NAMES: dict[str, dict[Language, str]] = {
    "city": {"vi": "thành phố", "en": "city"},
    "department": {"vi": "sở, ban, ngành", "en": "department"},
    "district": {"vi": "quận, huyện, thị xã", "en": "district"},
    "commune": {"vi": "phường, xã, thị trấn", "en": "commune"},
}
SEVERITY_NAMES: dict[str, dict[Language, str]] = {
    "info": {"vi": "thông tin", "en": "info"},
    "warning": {"vi": "cảnh báo", "en": "warning"},
    "critical": {"vi": "nghiêm trọng", "en": "critical"},
}


def template_problems(text: str, allowed: frozenset[str]) -> list[str]:
    """Why `text` cannot be rendered with the `allowed` placeholders; empty when it can."""
    template = Template(text)
    if not template.is_valid():
        return ["invalid placeholder syntax: write $name or ${name}, and $$ for a literal dollar sign"]
    unknown = sorted(set(template.get_identifiers()) - allowed)
    if unknown:
        return [f"unknown placeholder(s) {', '.join('$' + u for u in unknown)}; allowed: {', '.join(sorted(allowed))}"]
    return []


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute placeholders. Templates are validated at load time; a missing key here is a bug, so it raises."""
    return Template(text).substitute(values)


def _group_thousands(integer_digits: str, separator: str) -> str:
    groups: list[str] = []
    while len(integer_digits) > 3:
        groups.insert(0, integer_digits[-3:])
        integer_digits = integer_digits[:-3]
    groups.insert(0, integer_digits)
    return separator.join(groups)


def format_number(value: float, decimals: int, language: Language, *, signed: bool = False) -> str:
    """Locale-style number: 24130 → '24.130' (vi) / '24,130' (en); 54.25 → '54,3' / '54.3'."""
    thousands, decimal = (".", ",") if language == "vi" else (",", ".")
    rounded = f"{abs(value):.{decimals}f}"
    integer_part, _, fraction = rounded.partition(".")
    text = _group_thousands(integer_part, thousands) + (decimal + fraction if fraction else "")
    is_zero = float(rounded) == 0.0
    if value < 0 and not is_zero:
        return "-" + text
    if signed and not is_zero:
        return "+" + text
    return text


def format_value(kind: ValueKind, value: float | None, language: Language) -> str:
    """Human text for an indicator value of the given kind; '—' when there is no value."""
    if value is None:
        return "—"
    if kind == "rate":
        number = format_number(value * 100, 1, language)
        return f"{number} %" if language == "vi" else f"{number}%"
    if kind == "score":
        return format_number(value, 1, language)
    if kind == "score_change":
        return format_number(value, 1, language, signed=True)
    return format_number(value, 0, language, signed=False)
