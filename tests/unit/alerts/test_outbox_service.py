"""The outbox dispatch use case (service/outbox.py) on hand-written fakes: a waiting notification is planned into
one group message and delivered; failures are retried with backoff (Retry-After respected), given up after the
receiver's policy, and a message waits while its receiver is not in force."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.alerts.domain.receivers import Receivers
from services.alerts.service.outbox import Dispatcher
from services.alerts.service.ports import SendResult, Waiting
from services.alerts.service.receivers import ReceiverRegistry
from tests.unit.alerts.factories import T0, notification
from tests.unit.alerts.fakes import Calls, FakeClock, FakeOutboxStore, FakeTransport, webhook_receivers

pytestmark = pytest.mark.unit

DASHBOARD = "https://pulse.example.vn/dashboard/"


def dispatcher_with(
    *results: SendResult, receivers: Receivers | None = None
) -> tuple[Dispatcher, FakeOutboxStore, FakeTransport, FakeClock, Calls]:
    store = FakeOutboxStore(waiting={"ops": [Waiting(notification(), ["quan-ba-dinh", "ha-noi"])]})
    transport, clock, outcomes = FakeTransport(list(results)), FakeClock(), Calls()
    registry = ReceiverRegistry(receivers or webhook_receivers("ops"))
    return Dispatcher(store, transport, registry, clock, DASHBOARD, outcomes), store, transport, clock, outcomes


async def test_a_waiting_notification_is_planned_into_one_message_and_delivered() -> None:
    dispatcher, store, transport, clock, outcomes = dispatcher_with()

    await dispatcher.run_once()

    [(receiver, sent)] = transport.sent
    assert receiver == "ops" and sent.channel == "webhook"
    assert b'"alerts"' in sent.payload and sent.notification_ids == [notification().id]
    assert store.waiting["ops"] == []  # consumed by the message
    assert store.status_of("ops") == ["delivered"]
    assert store.attempts[0].first_attempt_at == clock() and store.attempts[0].last_error is None
    assert outcomes.calls == [("ops", "sent")]


async def test_a_failure_is_retried_after_a_backoff_no_longer_than_the_base_delay() -> None:
    dispatcher, store, _, clock, outcomes = dispatcher_with(SendResult("retry", "HTTP 503"))

    next_at = await dispatcher.run_once()

    [attempt] = store.attempts
    assert attempt.status == "pending" and attempt.attempts == 1 and attempt.last_error == "HTTP 503"
    assert attempt.next_attempt_at is not None and clock() <= attempt.next_attempt_at <= clock() + timedelta(seconds=2)
    assert next_at == clock()  # something was sent: look again at once
    assert outcomes.calls == [("ops", "retrying")]


async def test_retry_after_is_respected_and_the_message_is_not_sent_before_it() -> None:
    dispatcher, store, transport, clock, _ = dispatcher_with(SendResult("retry", "HTTP 429", retry_after_s=120))

    await dispatcher.run_once()
    [attempt] = store.attempts
    assert attempt.next_attempt_at == clock() + timedelta(seconds=120)

    clock.advance(timedelta(seconds=60))
    assert await dispatcher.run_once() == attempt.next_attempt_at  # not due yet: when it will be
    assert len(transport.sent) == 1

    clock.advance(timedelta(seconds=61))
    await dispatcher.run_once()
    assert len(transport.sent) == 2 and store.status_of("ops") == ["delivered"]
    assert store.attempts[-1].first_attempt_at == T0  # the retry clock runs from the first attempt


async def test_the_message_is_given_up_after_the_receivers_attempts() -> None:
    receivers = webhook_receivers("ops", retry="{base: 1s, cap: 5s, max_attempts: 2}")
    failing = [SendResult("retry", "HTTP 500"), SendResult("retry", "HTTP 500")]
    dispatcher, store, transport, clock, outcomes = dispatcher_with(*failing, receivers=receivers)

    await dispatcher.run_once()
    clock.advance(timedelta(seconds=6))
    await dispatcher.run_once()
    clock.advance(timedelta(seconds=6))
    await dispatcher.run_once()

    assert len(transport.sent) == 2
    assert store.status_of("ops") == ["dead"]
    assert outcomes.calls == [("ops", "retrying"), ("ops", "failed")]


async def test_a_rejected_message_is_dead_at_once() -> None:
    dispatcher, store, _, _, outcomes = dispatcher_with(SendResult("reject", "HTTP 400"))
    await dispatcher.run_once()
    assert store.status_of("ops") == ["dead"] and outcomes.calls == [("ops", "failed")]


async def test_a_message_waits_while_its_receiver_is_not_in_force_and_goes_when_it_is_back() -> None:
    dispatcher, store, transport, _, _ = dispatcher_with()
    await dispatcher.plan()  # the message is frozen for `ops`...
    dispatcher.receivers.apply(webhook_receivers("audit"))  # ...which is then removed from the receivers

    assert await dispatcher.send_due() is None
    assert transport.sent == [] and store.status_of("ops") == ["pending"]

    dispatcher.receivers.apply(webhook_receivers("ops", "audit"))
    await dispatcher.send_due()
    assert [name for name, _ in transport.sent] == ["ops"] and store.status_of("ops") == ["delivered"]


async def test_a_later_message_of_a_group_waits_for_the_earlier_one() -> None:
    dispatcher, store, transport, clock, _ = dispatcher_with(SendResult("retry", "HTTP 503", retry_after_s=30))
    await dispatcher.run_once()
    resolved = notification(status="resolved", created_at=T0 + timedelta(minutes=1))
    store.waiting["ops"] = [Waiting(resolved, ["quan-ba-dinh", "ha-noi"])]
    clock.advance(timedelta(minutes=2))  # past the group interval: the resolved message is planned

    await dispatcher.plan()
    heads = await store.pending_heads()

    assert len(store.messages) == 2 and [h.delivery_id for h in heads] == [store.messages[0].message.delivery_id]
    await dispatcher.send_due()
    await dispatcher.send_due()
    assert [m.notification_ids for _, m in transport.sent][-2:] == [[notification().id], [resolved.id]]
