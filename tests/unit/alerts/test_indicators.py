from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from services.alerts.domain.observations import observe
from shared.indicators import (
    COUNTER_NAMES,
    RATE_FRACTIONS,
    Counters,
    LiveCounters,
    NearDueDossier,
    Rates,
    UnitIndicators,
    UnitNearDue,
    month_of,
)
from tests.unit.alerts.factories import T0, indicators, threshold_rule


def test_message_round_trips_through_json_with_the_spec_names() -> None:
    message = indicators()
    body = json.loads(message.model_dump_json())
    assert set(body["counters"]) == set(COUNTER_NAMES) and len(COUNTER_NAMES) == 16
    assert set(body["rates"]) == set(RATE_FRACTIONS) and len(RATE_FRACTIONS) == 9
    assert set(body["live"]) == {"open", "overdue_open", "due_soon", "as_of"}
    assert UnitIndicators.model_validate(body) == message
    assert message.subtree_ids() == frozenset({"quan-ba-dinh", "ha-noi"})


def test_rate_denominators_are_counters() -> None:
    for numerator, denominator in RATE_FRACTIONS.values():
        assert numerator in COUNTER_NAMES and denominator in COUNTER_NAMES


@pytest.mark.parametrize("model", [UnitIndicators, Counters, Rates, LiveCounters, NearDueDossier, UnitNearDue])
def test_every_field_is_described(model: type[BaseModel]) -> None:
    missing = [name for name, field in model.model_fields.items() if not field.description]
    assert missing == []


@pytest.mark.parametrize(
    "change",
    [
        {"period": "2024-13"},
        {"level": "ward"},
        {"unit_id": "có dấu"},
        {"computed_at": "2024-07-15T08:00:00"},  # no offset
        {"rates": {"online_rate": 1.5}},
        {"counters": {"received": -1}},
        {"rank": 0},
    ],
)
def test_invalid_messages_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        indicators(**change)


def test_month_of_uses_vietnam_time() -> None:
    assert month_of(datetime(2024, 7, 31, 17, 0, tzinfo=UTC)) == "2024-08"
    assert month_of(datetime(2024, 7, 31, 16, 59, tzinfo=UTC)) == "2024-07"
    assert month_of(datetime(2024, 8, 1, 0, 0, tzinfo=timezone(timedelta(hours=7)))) == "2024-08"
    with pytest.raises(ValueError):
        month_of(datetime(2024, 8, 1))


def test_observe_rates_with_min_denominator() -> None:
    rule = threshold_rule(min_denominator=101)
    seen = observe(rule, indicators())
    assert seen.value is None and seen.no_data_reason == "denominator_below_minimum"
    assert seen.denominator == 100
    enough = observe(threshold_rule(min_denominator=100), indicators())
    assert enough.value == 0.5 and enough.period == "2024-07" and enough.observed_at == T0


def test_observe_null_rate_is_no_data() -> None:
    seen = observe(threshold_rule(target="satisfaction_rate", threshold=0.9, clear_threshold=0.92), indicators())
    assert seen.value is None and seen.no_data_reason == "null_value"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("score", 61.5), ("score_change", -6.5), ("rank", 28.0), ("rank_from_bottom", 3.0), ("overdue_open", 3.0)],
)
def test_observe_other_targets(target: str, expected: float) -> None:
    rule = threshold_rule(target=target, threshold=1, clear_threshold=1, comparison=">=")
    assert observe(rule, indicators()).value == pytest.approx(expected)


def test_rank_and_score_change_are_null_without_data() -> None:
    rank_rule = threshold_rule(target="rank_from_bottom", threshold=5, clear_threshold=6, comparison="<=")
    assert observe(rank_rule, indicators(rank=None, score=None)).value is None
    change_rule = threshold_rule(target="score_change", threshold=-5, clear_threshold=-4, comparison="<=")
    assert observe(change_rule, indicators(previous_score=None)).value is None


def test_bottom_five_means_rank_above_rank_of_minus_five() -> None:
    rule = threshold_rule(target="rank_from_bottom", comparison="<=", threshold=5, clear_threshold=5)
    from services.alerts.domain.rules import condition_holds

    for rank in range(1, 31):
        value = observe(rule, indicators(rank=rank, rank_of=30)).value
        assert value is not None
        assert condition_holds(value, "<=", 5) is (rank > 30 - 5)


def test_live_counters_time_orders_the_observation() -> None:
    later = T0 + timedelta(minutes=5)
    message = indicators(live={"open": 1, "overdue_open": 0, "due_soon": 0, "as_of": later.isoformat()})
    assert observe(threshold_rule(), message).observed_at == later


def test_catching_up_defaults_to_false_and_reaches_the_observation() -> None:
    rule = threshold_rule(target="overdue_open", comparison=">=", threshold=5, growth_window="24h")
    # A message from a scoring version that does not send the field is settled.
    assert observe(rule, indicators()).catching_up is False
    assert observe(rule, indicators(catching_up=True)).catching_up is True
