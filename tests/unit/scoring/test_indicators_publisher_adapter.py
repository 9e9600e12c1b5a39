"""The `unit-indicators` adapter (adapters/kafka_publishers.py) on a hand-written fake of the FastStream publisher:
a publication's messages are all handed to the producer before any acknowledgement is awaited (so the producer packs
them into one request per partition — issue 14: one request per unit was most of what the broker spent), each keyed
by its unit, and the call returns only once every one was acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.scoring.adapters.kafka_publishers import KafkaIndicatorsPublisher

pytestmark = pytest.mark.unit


@dataclass
class AcknowledgingLater:
    """Each publish is 'in the producer' until the test acknowledges all of them; `all_handed` is set once
    `expected` messages were handed over."""

    expected: int
    handed: list[tuple[bytes, bytes | None, dict[str, str]]] = field(default_factory=list)
    all_handed: asyncio.Event = field(default_factory=asyncio.Event)
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, message: Any, *, key: bytes | None = None, headers: dict[str, str] | None = None) -> None:
        self.handed.append((message, key, dict(headers or {})))
        if len(self.handed) == self.expected:
            self.all_handed.set()
        await self.acknowledged.wait()


async def test_a_publication_is_handed_to_the_producer_whole_and_returns_once_all_are_acknowledged() -> None:
    messages = [("D1.X", b'{"unit_id":"D1.X"}'), ("D2", b'{"unit_id":"D2"}'), ("C", b'{"unit_id":"C"}')]
    fake = AcknowledgingLater(expected=len(messages))
    sending = asyncio.create_task(KafkaIndicatorsPublisher(fake).publish(messages))  # type: ignore[arg-type]

    await asyncio.wait_for(fake.all_handed.wait(), 2)  # every message given to the producer, none acknowledged yet
    assert not sending.done()
    assert [(key, value) for value, key, _ in fake.handed] == [(k.encode(), v) for k, v in messages]
    assert all(headers == {"content-type": "application/json"} for _, _, headers in fake.handed)

    fake.acknowledged.set()
    await asyncio.wait_for(sending, 2)


async def test_an_empty_publication_sends_nothing() -> None:
    fake = AcknowledgingLater(expected=0)
    await KafkaIndicatorsPublisher(fake).publish([])  # type: ignore[arg-type]
    assert fake.handed == []
