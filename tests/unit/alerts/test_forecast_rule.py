"""The `forecast` rule kind: validation, the observation of a unit's month-end forecast, the lifecycle (pending →
firing → resolved with hysteresis), its texts; and the forecast pass (service/forecast.py) on hand-written fakes:
one request per watched level, a level scoring did not answer skipped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.alerts.domain import engine
from services.alerts.domain.forecasts import observe_forecast
from services.alerts.domain.rule_documents import RuleFileError, load_rules, parse_rule
from services.alerts.domain.rules import RuleSet
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.forecast import ForecastPass, levels_watched
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.rule_book import RuleBook
from tests.unit.alerts.factories import T0, forecast_rule, threshold_rule, unit_forecast
from tests.unit.alerts.fakes import FakeAlertStore, FakeClock, FakeForecastSource, webhook_receivers

pytestmark = pytest.mark.unit


def test_a_forecast_rule_names_its_scenario_and_target_and_checks_fractions_and_placeholders() -> None:
    rule = forecast_rule()
    assert (rule.kind, rule.scenario, rule.target, rule.value_kind) == ("forecast", "worst", "progress_rate", "rate")
    with pytest.raises(RuleFileError) as error:
        parse_rule({**forecast_rule().model_dump(by_alias=True), "threshold": 80, "summary": "$unit_nam"})
    assert {str(p).split(":")[0] for p in error.value.problems} == {"rule.threshold", "rule.clear_threshold",
                                                                   "rule.summary"}  # fmt: skip
    with pytest.raises(RuleFileError) as error:
        parse_rule({**forecast_rule().model_dump(by_alias=True), "scenario": "likely"})
    assert "rule.scenario" in str(error.value)


def test_the_observation_is_the_scenarios_figure_and_too_few_dossiers_is_no_data() -> None:
    forecast = unit_forecast(0.6, best_rate=0.8, current_rate=0.8, worst_rank=(28, 30))
    worst = observe_forecast(forecast_rule(), forecast)
    assert (worst.value, worst.current, worst.denominator, worst.due_this_month) == (0.6, 0.8, 40, 6)
    assert observe_forecast(forecast_rule(scenario="best"), forecast).value == 0.8
    assert observe_forecast(forecast_rule(target="score", threshold=50, clear_threshold=52), forecast).value == 60
    # rank 28 of 30 is third from the bottom.
    bottom = forecast_rule(target="rank_from_bottom", comparison="<=", threshold=3, clear_threshold=4)
    assert observe_forecast(bottom, forecast).value == 3
    few = observe_forecast(forecast_rule(min_dossiers=50), forecast)
    assert few.value is None and few.no_data_reason == "denominator_below_minimum"


def test_a_worst_case_below_the_threshold_fires_after_its_pending_time_and_resolves_above_the_clear_threshold() -> None:
    rules = RuleSet((forecast_rule(),))
    states: dict = {}

    def step(rate: float | None, at: timedelta) -> list:
        results = engine.evaluate_unit(rules, states, unit_forecast(rate, at=T0 + at), T0 + at)
        for result in results:
            states[result.state.rule_id] = result.state
        return results

    step(0.6, timedelta(0))
    assert states["forecast-progress-low"].state == "pending"
    [fired] = step(0.7, timedelta(hours=1))
    assert fired.state.state == "firing" and [n.kind for n in fired.notifications] == ["firing"]
    text = fired.notifications[0].annotations
    assert text["summary"] == "Quận Ba Đình: dự báo tiến độ cuối tháng 70,0 % (nếu không xử lý thêm), hiện nay 90,0 %"
    assert text["description"] == "6 hồ sơ đến hạn trước 31/07/2024; 2 đã quá hạn"
    assert text["summary_en"].endswith("70.0% (if nothing more is done), now 90.0%")
    step(0.81, timedelta(hours=2))  # above the threshold, below the clear threshold: hysteresis keeps it firing
    assert states["forecast-progress-low"].state == "firing"
    [resolved] = step(0.85, timedelta(hours=3))
    assert resolved.state.state == "resolved" and [n.kind for n in resolved.notifications] == ["resolved"]


def test_forecast_rules_are_not_evaluated_on_indicator_messages_nor_threshold_rules_on_forecasts() -> None:
    rules = RuleSet((forecast_rule(**{"for": "0s"}), threshold_rule(**{"for": "0s"})))
    on_forecast = engine.evaluate_unit(rules, {}, unit_forecast(0.1), T0)
    assert [r.state.rule_id for r in on_forecast] == ["forecast-progress-low"]


def test_the_levels_asked_are_those_the_enabled_rules_watch() -> None:
    district = forecast_rule(scope={"levels": ["district"]})
    communes = forecast_rule(id="c", scope={"levels": ["commune", "district"]})
    assert levels_watched([district, communes]) == ["district", "commune"]
    assert levels_watched([forecast_rule(enabled=False)]) == []
    assert levels_watched([district, forecast_rule(id="all")]) == ["city", "department", "district", "commune"]


def forecast_pass(rules: RuleSet) -> tuple[ForecastPass, FakeAlertStore, FakeForecastSource, FakeClock]:
    store, source, clock = FakeAlertStore(), FakeForecastSource(), FakeClock()
    active = store.add_rule_set(rules)
    evaluator = Evaluator(store, RuleBook(active), ReceiverRegistry(webhook_receivers("ops")), clock)
    return ForecastPass(store, source, evaluator), store, source, clock


async def test_one_pass_asks_once_per_level_and_fires_then_resolves_as_the_forecast_moves() -> None:
    rule = forecast_rule(**{"for": "0s"}, scope={"levels": ["district", "commune"]})
    use_case, store, source, clock = forecast_pass(RuleSet((rule,)))
    source.levels = {
        "district": [unit_forecast(0.6), unit_forecast(0.95, unit_id="huyen-ba-vi")],
        # commune: scoring did not answer; nothing is evaluated for it and nothing breaks
    }
    await use_case.run()
    assert source.asked == ["district", "commune"]
    assert store.state("forecast-progress-low", "quan-ba-dinh").state == "firing"
    assert store.state("forecast-progress-low", "huyen-ba-vi").state == "inactive"
    assert store.kinds() == ["firing"]

    clock.advance(timedelta(minutes=5))
    source.levels["district"] = [unit_forecast(0.9, at=T0 + timedelta(minutes=5))]
    await use_case.run()
    assert store.state("forecast-progress-low", "quan-ba-dinh").state == "resolved"
    assert store.kinds() == ["firing", "resolved"]


async def test_no_forecast_rule_means_no_request() -> None:
    use_case, _, source, _ = forecast_pass(RuleSet((threshold_rule(),)))
    assert await use_case.run() == (0, 0) and source.asked == []


def test_the_default_rules_have_a_forecast_rule_with_english_texts() -> None:
    from services.alerts.settings import REPO_ROOT

    rules = load_rules((REPO_ROOT / "config" / "alert_rules.yaml").read_text("utf-8"))
    forecasts = rules.forecast_rules
    assert forecasts and all(r.summary_en and r.description_en and r.name_en for r in forecasts)
