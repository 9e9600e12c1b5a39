"""Rendering a rule's summary and description for one alert state (Vietnamese first, English when given)."""

from __future__ import annotations

import calendar
from datetime import timedelta

from services.alerts.domain.notifications import (
    common_values,
    format_due,
    format_left,
    items_text,
    rendered_annotations,
)
from services.alerts.domain.rules import ComparedRule, ForecastRule, NearDueRule, Rule
from services.alerts.domain.state import AlertState
from services.alerts.domain.templates import Language, format_number, format_value


def format_horizon(horizon: timedelta, language: Language) -> str:
    minutes = int(horizon.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} giờ" if language == "vi" else f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} phút" if language == "vi" else f"{minutes} minutes"


SCENARIO_NAMES: dict[str, dict[Language, str]] = {
    "worst": {"vi": "nếu không xử lý thêm", "en": "if nothing more is done"},
    "best": {"vi": "nếu xử lý đúng hạn toàn bộ hồ sơ đến hạn trong tháng", "en": "if every dossier due is on time"},
}


def format_period(period: str | None, language: Language) -> str:
    """A YYYY-MM period as the texts write it: '07/2024' in Vietnamese ("tháng 07/2024", as the dashboard and the
    city's notices write a month), '2024-07' in English; '' when unknown, unchanged when not a period."""
    try:
        year, month = (int(part) for part in (period or "").split("-"))
    except ValueError:
        return period or ""
    return f"{month:02d}/{year}" if language == "vi" else f"{year}-{month:02d}"


def format_month_end(period: str | None, language: Language) -> str:
    """The last day of a YYYY-MM period: '31/08/2024' / '2024-08-31'; '—' when unknown."""
    try:
        year, month = (int(part) for part in (period or "").split("-"))
    except ValueError:
        return "—"
    day = calendar.monthrange(year, month)[1]
    return f"{day:02d}/{month:02d}/{year}" if language == "vi" else f"{year}-{month:02d}-{day:02d}"


def _forecast_values(rule: ForecastRule, state: AlertState, language: Language) -> dict[str, str]:
    def count(number: int | None) -> str:
        return "—" if number is None else format_number(number, 0, language)

    return {
        "current": format_value(rule.value_kind, state.forecast_current, language),
        "scenario_name": SCENARIO_NAMES[rule.scenario][language],
        "due_this_month": count(state.forecast_due),
        "overdue_open": count(state.forecast_overdue),
        "month_end": format_month_end(state.period, language),
    }


def template_values(rule: Rule, state: AlertState, value: float | None, language: Language) -> dict[str, str]:
    name = rule.name if language == "vi" or rule.name_en is None else rule.name_en
    values = common_values(rule.id, name, rule.severity, state.unit_id, state.unit_name, state.level, language)
    if isinstance(rule, ForecastRule):
        values.update(_forecast_values(rule, state, language))
    if isinstance(rule, ComparedRule):
        kind = rule.value_kind
        values.update(
            value=format_value(kind, value, language),
            threshold=format_value(kind, rule.threshold, language),
            clear_threshold=format_value(kind, rule.effective_clear_threshold, language),
            period=format_period(state.period, language),
            denominator="—" if state.last_denominator is None else format_number(state.last_denominator, 0, language),
            rank="—" if state.last_rank is None else str(state.last_rank),
            rank_of="—" if state.last_rank_of is None else str(state.last_rank_of),
        )
    else:
        values.update(
            count=format_number(state.item_count, 0, language),
            horizon=format_horizon(rule.horizon, language),
            items=items_text(list(state.items), state.item_count, language, state.last_observed_at),
            earliest_due=format_due(state.items[0].due_at, language) if state.items else "—",
            earliest_left=format_left(state.items[0].due_at, state.last_observed_at, language) if state.items else "—",
        )
    return values


def annotations_for(rule: Rule, state: AlertState, value: float | None) -> dict[str, str]:
    annotations = rendered_annotations(
        rule.summary,
        rule.description,
        rule.summary_en,
        rule.description_en,
        template_values(rule, state, value, "vi"),
        template_values(rule, state, value, "en"),
    )
    annotations["unit_name"] = state.unit_name
    if value is not None:
        annotations["value"] = repr(float(value))
    if isinstance(rule, NearDueRule):
        annotations["dossier_count"] = str(state.item_count)
    return annotations
