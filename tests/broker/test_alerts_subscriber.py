"""The alerts subscriber's wiring, on FastStream's in-memory broker with hand-written fakes (no Kafka, no DB): a
`unit-indicators` batch reaches the evaluate use case through the container the lifespan publishes in the broker's
context; an invalid body is counted and skipped, not redelivered forever. The real broker and database are
exercised in tests/integration/alerts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.bootstrap import Container
from services.alerts.domain.rules import RuleSet
from services.alerts.entrypoints.subscriber import register_indicators_subscriber
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.rule_book import RuleBook
from services.alerts.settings import AlertsSettings
from shared.bootstrap import publish_container
from tests.unit.alerts.factories import indicators, threshold_rule
from tests.unit.alerts.fakes import FakeAlertStore, FakeClock, webhook_receivers

pytestmark = pytest.mark.broker

OFFLINE: dict[str, Any] = {
    "database_url": "postgresql://nobody@127.0.0.1:1/none",  # never connected: the store is a fake
    "admin_token": "a-real-random-admin-token-0123456789",
}


def container_on(store: FakeAlertStore, settings: AlertsSettings) -> Container:
    """A container whose evaluate use case runs on the fake store; what the subscriber does not use is left out."""
    clock = FakeClock()
    evaluator = Evaluator(
        store, RuleBook(store.add_rule_set(RuleSet((threshold_rule(),)))), ReceiverRegistry(webhook_receivers("ops")),
        clock,
    )  # fmt: skip
    unused: Any = None
    return Container(
        settings=settings, clock=clock, metrics=AlertMetrics(), health=unused, changed=unused, pool=unused,
        rule_book=evaluator.rule_book, receivers=evaluator.receivers, receiver_store=unused, watcher=None,
        queries=unused, silences=unused, evaluator=evaluator, dispatcher=unused, near_due=unused, forecast=unused,
        digest=unused, retention=unused, scoring_http=unused,
    )  # fmt: skip


async def test_a_unit_indicators_batch_reaches_the_evaluator_through_the_container() -> None:
    settings = AlertsSettings(**OFFLINE, indicators_topic="indicators-under-test")
    broker = KafkaBroker("127.0.0.1:9")
    register_indicators_subscriber(broker, settings)
    store = FakeAlertStore()
    container = container_on(store, settings)
    publish_container(FastAPI(), container, broker)

    async with TestKafkaBroker(broker) as test_broker:
        body = indicators(rates={"online_payment_rate": 0.3}).model_dump_json().encode()
        await test_broker.publish(body, "indicators-under-test", key=b"quan-ba-dinh")
        await test_broker.publish(b'{"not": "indicators"}', "indicators-under-test", key=b"x")

    assert list(store.live) == ["quan-ba-dinh"]
    assert store.state("online-payment-low", "quan-ba-dinh").state == "pending"
    registry = container.metrics.registry
    for outcome in ("evaluated", "invalid"):
        assert registry.get_sample_value("tthc_alert_indicator_messages_total", {"outcome": outcome}) == 1
