"""Produce straight to Kafka as a trusted producer: topic `dossier-events`, key = dossier_id, value = the event
JSON with `ingested_at` = the simulated delivery time (SPEC §2 lets trusted replays set it). acks=all."""

from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from simulator.sinks.base import SinkError, SinkResult
from simulator.stream import Delivery
from simulator.worktime import Rfc3339


class KafkaSink:
    """Create with `await KafkaSink.connect(...)`. Each batch is awaited until every record is acknowledged.

    The Kafka record timestamp is left to the producer (now): stamping months-old back-fill times would let
    time-based retention delete the records at once.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.result = SinkResult()
        self._producer = producer
        self._topic = topic
        self._fmt = Rfc3339()

    @classmethod
    async def connect(cls, bootstrap_servers: str, topic: str = "dossier-events") -> KafkaSink:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=True,  # producer retries never duplicate a record
            linger_ms=20,  # let records of a batch share requests
            max_batch_size=1024 * 1024,
            client_id="tthc-pulse-simulator",
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise SinkError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from exc
        return cls(producer, topic)

    async def send(self, batch: list[Delivery]) -> None:
        futures = []
        for d in batch:
            value = orjson.dumps({**d.event, "ingested_at": self._fmt.utc(d.deliver_at)})
            futures.append(await self._producer.send(self._topic, value=value, key=d.event["dossier_id"].encode()))
        await asyncio.gather(*futures)  # raises if any record failed after the producer's own retries
        self.result.sent += len(batch)
        self.result.accepted += len(batch)

    async def close(self) -> None:
        await self._producer.stop()
