"""The /v1/stream relay's wiring, on FastStream's in-memory broker (no Kafka, no HTTP): a `unit-indicators` message
published on the broker reaches a subscriber of the Broadcaster as an `indicators` event carrying the message's
bytes untouched. The real broker and the HTTP stream are exercised in tests/integration/scoring."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.scoring.entrypoints.stream import RETRY_MS, Broadcaster, register_indicators_relay

pytestmark = pytest.mark.broker
TOPIC = "unit-indicators-under-test"


async def test_a_unit_indicators_message_reaches_a_stream_subscriber_as_it_was_published() -> None:
    broker = KafkaBroker("127.0.0.1:9")
    broadcaster = Broadcaster()
    register_indicators_relay(broker, TOPIC, broadcaster)
    value = orjson.dumps({"unit_id": "H26.BD", "score": 71.25, "name": "Quận Ba Đình"})

    events = broadcaster.listen()
    first = await anext(events)  # subscribed once the first event (retry alone) is read
    assert (first.retry, first.event, first.raw_data) == (RETRY_MS, None, None)
    assert broadcaster.clients == 1
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(value, TOPIC, key=b"H26.BD")
        event = await asyncio.wait_for(anext(events), 5)

    assert event.event == "indicators"
    assert event.raw_data == value.decode()  # relayed as bytes, never decoded and re-encoded
    assert event.id == "1"
    await events.aclose()
    assert broadcaster.clients == 0


async def test_without_subscribers_the_relay_drops_messages_and_a_later_subscriber_starts_afresh() -> None:
    broker = KafkaBroker("127.0.0.1:9")
    broadcaster = Broadcaster()
    register_indicators_relay(broker, TOPIC, broadcaster)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"unit_id": "before"}', TOPIC, key=b"before")
        events = broadcaster.listen()
        await anext(events)
        await test_broker.publish(b'{"unit_id": "after"}', TOPIC, key=b"after")
        event = await asyncio.wait_for(anext(events), 5)

    assert orjson.loads(event.raw_data or "") == {"unit_id": "after"}  # figures are state: nothing is replayed
    await events.aclose()
