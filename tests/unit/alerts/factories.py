"""Hand-written builders for alert tests: valid defaults, override what the test is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from services.alerts.domain.forecasts import UnitForecast
from services.alerts.domain.lifecycle import EvaluationResult, evaluate
from services.alerts.domain.observations import Observation, UnitRef
from services.alerts.domain.rule_documents import parse_rule
from services.alerts.domain.rules import ForecastRule, NearDueRule, ThresholdRule
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState
from shared.indicators import UnitIndicators

T0 = datetime(2024, 7, 15, 1, 0, tzinfo=UTC)
BA_DINH = UnitRef("quan-ba-dinh", "Quận Ba Đình", "district", ("ha-noi",))


R = TypeVar("R", ThresholdRule, NearDueRule, ForecastRule)


def _parsed(kind: type[R], defaults: dict[str, Any], overrides: dict[str, Any]) -> R:
    """The defaults with the test's overrides, through the rule file's own parser, checked to be of `kind`."""
    rule = parse_rule({**defaults, **overrides})
    assert isinstance(rule, kind)
    return rule


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def threshold_rule(**overrides: Any) -> ThresholdRule:
    data: dict[str, Any] = {
        "id": "online-payment-low",
        "name": "Thanh toán trực tuyến thấp",
        "target": "online_payment_rate",
        "comparison": "<",
        "threshold": 0.55,
        "clear_threshold": 0.57,
        "for": "1h",
        "repeat_interval": "4h",
        "summary": "$unit_name: $value < $threshold",
        "description": "Tháng $period, mẫu số $denominator",
    }
    return _parsed(ThresholdRule, data, overrides)


def near_due_rule(**overrides: Any) -> NearDueRule:
    data: dict[str, Any] = {
        "id": "near-due",
        "kind": "near_due",
        "name": "Hồ sơ sắp đến hạn",
        "horizon": "24h",
        "refresh_interval": "1h",
        "repeat_interval": None,
        "max_listed": 3,
        "summary": "$unit_name: $count hồ sơ sắp quá hạn",
        "description": "Trong $horizon tới:\n$items",
    }
    return _parsed(NearDueRule, data, overrides)


def forecast_rule(**overrides: Any) -> ForecastRule:
    data: dict[str, Any] = {
        "id": "forecast-progress-low",
        "kind": "forecast",
        "name": "Dự báo tiến độ cuối tháng thấp",
        "name_en": "Month-end progress forecast low",
        "scenario": "worst",
        "target": "progress_rate",
        "comparison": "<",
        "threshold": 0.80,
        "clear_threshold": 0.82,
        "min_dossiers": 10,
        "for": "1h",
        "summary": "$unit_name: dự báo tiến độ cuối tháng $value ($scenario_name), hiện nay $current",
        "description": "$due_this_month hồ sơ đến hạn trước $month_end; $overdue_open đã quá hạn",
        "summary_en": "$unit_name: month-end progress forecast $value ($scenario_name), now $current",
    }
    return _parsed(ForecastRule, data, overrides)


def unit_forecast(
    worst_rate: float | None,
    *,
    best_rate: float | None = 0.95,
    current_rate: float | None = 0.9,
    in_play: int = 40,
    at: datetime = T0,
    unit_id: str = "quan-ba-dinh",
    level: str = "district",
    worst_rank: tuple[int | None, int] = (3, 30),
) -> UnitForecast:
    """A unit's forecast with the given progress rates (scores follow them ×100) in play of `in_play` dossiers."""

    def figures(rate: float | None, rank: tuple[int | None, int] = (3, 30)) -> dict[str, Any]:
        score = None if rate is None else rate * 100
        return {"score": score, "progress_rate": rate, "rank": rank[0], "rank_of": rank[1],
                "counters": {"progress_total": in_play}}  # fmt: skip

    return UnitForecast.model_validate({
        "unit_id": unit_id, "name": "Quận Ba Đình", "level": level, "ancestors": ["ha-noi"],
        "period": "2024-07", "as_of": at, "due_this_month": 6, "overdue_open": 2,
        "current": figures(current_rate), "worst": figures(worst_rate, worst_rank), "best": figures(best_rate),
    })  # fmt: skip


def obs(value: float | None, at: datetime, unit: UnitRef = BA_DINH, **extra: Any) -> Observation:
    extra.setdefault("period", "2024-07")
    return Observation(unit=unit, observed_at=at, value=value, **extra)


class Runner:
    """Feeds a rule one step at a time, keeping the state and everything emitted (like the adapter would)."""

    def __init__(self, rule: ThresholdRule | NearDueRule, unit: UnitRef = BA_DINH) -> None:
        self.rule = rule
        self.state = AlertState.new(rule.id, unit.unit_id)
        self.transitions: list[Any] = []
        self.notifications: list[Any] = []

    def step(
        self, observation: Observation | None, now: datetime, silences: tuple[Silence, ...] = ()
    ) -> EvaluationResult:
        result = evaluate(self.state, observation, now, self.rule, silences)
        self.state = result.state
        self.transitions.extend(result.transitions)
        self.notifications.extend(result.notifications)
        return result

    def see(self, value: float | None, now: datetime, **extra: Any) -> EvaluationResult:
        return self.step(obs(value, now, **extra), now)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notifications]


def indicators(**overrides: Any) -> UnitIndicators:
    data: dict[str, Any] = {
        "unit_id": "quan-ba-dinh",
        "name": "Quận Ba Đình",
        "level": "district",
        "ancestors": ["ha-noi"],
        "period": "2024-07",
        "counters": {"payments": 100, "payments_online": 50, "received": 200, "received_online": 130},
        "rates": {"online_payment_rate": 0.5, "online_rate": 0.65},
        "live": {"open": 40, "overdue_open": 3, "due_soon": 5, "as_of": T0.isoformat()},
        "score": 61.5,
        "rank": 28,
        "rank_of": 30,
        "previous_score": 68.0,
        "computed_at": T0.isoformat(),
    }
    data.update(overrides)
    return UnitIndicators.model_validate(data)


def silence(matchers: list[dict[str, str]], starts: datetime, ends: datetime, sid: str = "s1") -> Silence:
    return Silence(
        id=sid, matchers=matchers, starts_at=starts, ends_at=ends, comment="bảo trì hệ thống", author="vanhanh"
    )


def notification(
    unit_id: str = "quan-ba-dinh",
    rule_id: str = "online-payment-low",
    *,
    status: str = "firing",
    created_at: datetime = T0,
    sequence: int = 0,
    severity: str = "warning",
    unit_name: str = "Quận Ba Đình",
    **annotations: str,
) -> Any:
    """A ready-made Notification for delivery tests (grouping, webhook, e-mail)."""
    from services.alerts.domain.notifications import Notification, alert_labels, notification_id

    kind = "resolved" if status == "resolved" else ("firing" if sequence == 0 else "repeat")
    texts = {
        "summary": f"{unit_name}: thanh toán trực tuyến 50,0 %",
        "description": "Dưới chỉ tiêu 55,0 %",
        "summary_en": f"{unit_name}: online payments 50.0%",
        "unit_name": unit_name,
    }
    texts.update(annotations)
    return Notification(
        id=notification_id(rule_id, unit_id, T0, kind, sequence),
        kind=kind,
        status=status,
        rule_id=rule_id,
        unit_id=unit_id,
        severity=severity,
        labels=alert_labels(rule_id, unit_id, severity, "district"),
        annotations=texts,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2) if status == "resolved" else None,
        created_at=created_at,
        value=0.5,
        sequence=sequence,
    )
