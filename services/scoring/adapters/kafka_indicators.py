"""The `unit-indicators` topic as the publish-indicators use case sees it: a MessagePublisher (service/ports.py)."""

from __future__ import annotations

from typing import Any, Protocol


class _BrokerPublisher(Protocol):
    """What this adapter uses of a FastStream publisher (`broker.publisher(topic)`)."""

    async def publish(self, message: Any, *, key: bytes | None = ..., headers: dict[str, str] | None = ...) -> Any: ...


class KafkaIndicatorsSink:
    """Sends one message keyed by unit_id, as JSON bytes (the value is relayed untouched, entrypoints/stream.py)."""

    def __init__(self, publisher: _BrokerPublisher) -> None:
        self._publisher = publisher

    async def publish(self, value: bytes, key: str) -> None:
        await self._publisher.publish(value, key=key.encode(), headers={"content-type": "application/json"})
