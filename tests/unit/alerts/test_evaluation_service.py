"""The evaluate use case (service/evaluation.py, service/activation.py) on hand-written fakes: alerts fire and
resolve on `unit-indicators` messages and on the clock, a silence holds notifications back, a rule set changed by
another process is followed, and a removed rule's alerts are closed."""

from __future__ import annotations

import pytest

from services.alerts.domain.lifecycle import AcknowledgementError
from services.alerts.domain.receivers import Receivers
from services.alerts.domain.rule_documents import load_rules
from services.alerts.domain.rules import RuleSet
from services.alerts.service.activation import activate_at_start, replace_rules
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.rule_book import RuleBook
from tests.unit.alerts.factories import T0, indicators, minutes, silence, threshold_rule
from tests.unit.alerts.fakes import Calls, FakeAlertStore, FakeClock, webhook_receivers

pytestmark = pytest.mark.unit

RULE = "online-payment-low"
UNIT = "quan-ba-dinh"
RULES_TEXT = f"""
version: 1
rules:
  - id: {RULE}
    name: Thanh toán trực tuyến thấp
    target: online_payment_rate
    comparison: "<"
    threshold: 0.55
    clear_threshold: 0.57
    for: 1h
    repeat_interval: 4h
    summary: "$unit_name: $value < $threshold"
    description: "Tháng $period, mẫu số $denominator"
"""


def low(at_minutes: float = 0, rate: float = 0.5) -> object:
    at = (T0 + minutes(at_minutes)).isoformat()
    return indicators(rates={"online_payment_rate": rate}, computed_at=at,
                      live={"open": 40, "overdue_open": 3, "due_soon": 5, "as_of": at})  # fmt: skip


def evaluator_on(
    store: FakeAlertStore, clock: FakeClock, receivers: Receivers | None = None, rules: RuleSet | None = None
) -> tuple[Evaluator, Calls]:
    active = store.add_rule_set(rules or RuleSet((threshold_rule(),)), RULES_TEXT)
    commits = Calls()
    registry = ReceiverRegistry(receivers or webhook_receivers("ops"))
    return Evaluator(store, RuleBook(active), registry, clock, commits), commits


async def fired(store: FakeAlertStore, clock: FakeClock) -> Evaluator:
    evaluator, _ = evaluator_on(store, clock)
    await evaluator.apply_indicators([low()])
    clock.advance(minutes(61))
    await evaluator.tick()
    return evaluator


async def test_a_low_rate_is_pending_then_fires_on_the_tick_and_the_notification_is_routed() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator, commits = evaluator_on(store, clock)

    assert await evaluator.apply_indicators([low()]) == (1, 0)
    assert store.state(RULE, UNIT).state == "pending"
    assert store.live[UNIT].rates.online_payment_rate == 0.5  # the live figures are kept for the near-due pass

    clock.advance(minutes(61))
    assert await evaluator.tick() == (1, 1)
    assert store.state(RULE, UNIT).state == "firing"
    assert store.kinds() == ["firing"]
    [(notification_id, receiver)] = store.outbox
    assert receiver == "ops" and notification_id in store.notifications
    assert commits.calls == [(1, 0), (1, 1)]


async def test_a_recovered_rate_resolves_the_alert_with_a_resolved_notification() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator = await fired(store, clock)

    clock.advance(minutes(5))
    await evaluator.apply_indicators([low(66, rate=0.8)])

    assert store.state(RULE, UNIT).state == "resolved"
    assert store.kinds() == ["firing", "resolved"]
    assert [t.to_state for _, t, _ in store.transitions] == ["pending", "firing", "resolved"]


async def test_a_replayed_batch_writes_no_second_notification() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator = await fired(store, clock)
    outbox = list(store.outbox)

    await evaluator.tick()  # nothing new at the same instant

    assert store.outbox == outbox


async def test_a_silence_holds_the_notification_back_until_it_ends() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    store.silences.append(silence([{"name": "unit_id", "value": UNIT}], T0, T0 + minutes(90)))
    evaluator, _ = evaluator_on(store, clock)

    await evaluator.apply_indicators([low()])
    clock.advance(minutes(61))
    await evaluator.tick()
    assert store.state(RULE, UNIT).state == "firing"
    assert store.outbox == []

    clock.advance(minutes(30))  # the silence ended: the firing alert is announced
    await evaluator.tick()
    assert store.kinds() == ["firing"]
    assert len(store.outbox) == 1


async def test_no_receiver_matches_no_outbox_row() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    receivers = webhook_receivers("elsewhere", matchers='[{name: unit_id, value: "huyen-ba-vi"}]')
    evaluator, _ = evaluator_on(store, clock, receivers)
    await evaluator.apply_indicators([low()])
    clock.advance(minutes(61))
    await evaluator.tick()
    assert store.kinds() == ["firing"] and store.outbox == []


async def test_a_rule_set_activated_elsewhere_is_followed_before_evaluating() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator, _ = evaluator_on(store, clock)
    # Another process made the rule stricter: 0.4 is the threshold now, 0.5 is fine.
    store.add_rule_set(RuleSet((threshold_rule(threshold=0.4, clear_threshold=0.42),)), "api body", "api")

    await evaluator.apply_indicators([low()])

    assert evaluator.rule_book.active.rule_set_id == 2
    assert (RULE, UNIT) not in store.states or store.state(RULE, UNIT).state == "inactive"


async def test_replacing_the_rules_closes_the_alerts_of_a_removed_rule() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator = await fired(store, clock)
    other = RULES_TEXT.replace(RULE, "received-online-low").replace("online_payment_rate", "online_rate")

    active = await replace_rules(evaluator, other, "admin API")

    assert active.source == "api" and evaluator.rule_book.active is active
    assert store.state(RULE, UNIT).state == "resolved"
    assert store.kinds() == ["firing", "resolved"]
    assert evaluator.on_commit.calls[-1] == (1, 1)  # type: ignore[attr-defined]


async def test_activation_at_start_keeps_a_set_of_the_api_when_the_file_did_not_change() -> None:
    store = FakeAlertStore()
    first = await activate_at_start(store, RULES_TEXT, "rules.yaml", Receivers(), FakeClock(), Calls())
    store.add_rule_set(load_rules(RULES_TEXT), "put through the API", "api")

    again = await activate_at_start(store, RULES_TEXT, "rules.yaml", Receivers(), FakeClock(), Calls())
    changed = await activate_at_start(store, RULES_TEXT + "\n# new deploy\n", "rules.yaml", Receivers(),
                                      FakeClock(), Calls())  # fmt: skip

    assert (first.rule_set_id, first.source) == (1, "file")
    assert (again.rule_set_id, again.source) == (2, "api")
    assert (changed.rule_set_id, changed.source) == (3, "file")


async def test_acknowledging_stops_repeats_and_refuses_what_is_not_firing() -> None:
    store, clock = FakeAlertStore(), FakeClock()
    evaluator = await fired(store, clock)
    alert_id = store.states[(RULE, UNIT)][0]

    state = await evaluator.acknowledge(alert_id, "vanhanh", "đang xử lý")

    assert state is not None and state.acknowledged_by == "vanhanh"
    assert store.transitions[-1][2] == "đang xử lý"
    assert await evaluator.acknowledge(999, "vanhanh", None) is None
    await evaluator.apply_indicators([low(70, rate=0.8)])  # resolved
    with pytest.raises(AcknowledgementError):
        await evaluator.acknowledge(alert_id, "vanhanh", None)
