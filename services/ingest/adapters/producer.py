"""Writing accepted events to Kafka: acks=all, idempotent, records appended in bulk to each partition's open batch.

Why not `producer.send()` per record: measured on the project machine, aiokafka's per-record `send()` tops out
near 30,000 records/s (a coroutine, a future and an accumulator lookup per record), while appending to a
`BatchBuilder` per partition costs a fraction of that. Partitions are chosen as the producer's default partitioner
does (murmur2 of the key with Kafka's seed, the Java client's default; `murmur2` below, in compiled code), so a
dossier's events land where any other producer would put them.

Concurrent requests share batches: a request's records go into the batch of their partition that is still waiting
in the producer's queue, so one produce request carries whatever arrived while the previous one was on the wire
(`_append`). Each request waits for the batches that hold its records; their acknowledgement is the broker's for
every record in them.

Failure: any error or the overall timeout makes the whole publish fail (`BrokerUnavailableError`); the route
answers 503 and counts nothing as accepted (every request with a record in a failed batch gets its 503). The failed
producer is aborted before the 503 goes out (its queued batches are dropped, see `_abort`), and a new one is
connected on the next publish; while the broker stays down that connection fails at once, so later requests get
their 503 without waiting for the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import inf

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, ProducerClosed
from aiokafka.producer.message_accumulator import MessageAccumulator, MessageBatch
from aiokafka.structs import TopicPartition
from murmurhash2 import murmurhash2

from services.ingest.service.ports import BrokerUnavailableError
from shared.kafka import RECORD_MAX_BYTES
from shared.kafka_logs import kafka_state

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1024 * 1024  # one partition's share of a 5 MiB request fits in a few batches
_RECONNECT_GAP_S = 1.0
_NO_HEADERS: list[tuple[str, bytes]] = []  # the record builder's argument (it only reads it)
KAFKA_MURMUR2_SEED = 0x9747B28C  # the Java client's `Utils.murmur2` seed


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 (the Java client's `Utils.murmur2`, aiokafka's `partitioner.murmur2`), equal to it on every
    input (tests/unit/ingest/test_murmur2.py). aiokafka's is pure Python, ~5 µs per key on this machine (ingest
    computes it once per dossier and request, so up to 5 µs per event); the `murmurhash2` wheel (compiled, Kafka's
    algorithm with the seed as an argument) takes ~0.1 µs."""
    return murmurhash2(key, KAFKA_MURMUR2_SEED)


class TopicMissingError(Exception):
    """The configured topic does not exist on the cluster (topics are created by the stack, not by ingest)."""


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    bootstrap_servers: str
    topic: str
    timeout_s: float
    linger_ms: int = 5
    compression: str | None = None
    client_id: str = "tthc-ingest"


class EventProducer:
    """Owns one AIOKafkaProducer for the events topic (opened in the service's lifespan)."""

    def __init__(self, config: ProducerConfig) -> None:
        self.config = config
        self._producer: AIOKafkaProducer | None = None
        self._partitions: list[int] = []
        self._connect_lock = asyncio.Lock()
        self._last_connect_failure = -inf
        self._retiring: dict[AIOKafkaProducer, asyncio.Task[None]] = {}
        self.resets = 0  # producers retired after a failure (exposed as a metric)

    async def start(self) -> None:
        """Connect and check the topic exists. Raises TopicMissingError or KafkaError (fail at start)."""
        self._producer = await self._connect()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # Flushes what is pending; bounded so a dead broker cannot hold up shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self.config.timeout_s)
        for task in list(self._retiring.values()):
            with contextlib.suppress(Exception):
                await task

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Write (key, value) records; returns only once the broker acknowledged every one (acks=all).

        Raises BrokerUnavailableError otherwise — and by then the producer that held the records is retired,
        so nothing of them is sent later (except a request already on the wire when the failure was seen).
        """
        if records:
            producer = await self._ready_producer()
            try:
                await asyncio.wait_for(self._send(producer, records), self.config.timeout_s)
            except (KafkaError, OSError, TimeoutError) as error:
                await self._retire(producer)
                raise BrokerUnavailableError(repr(error)) from error
        # An answered publish (even of nothing, as before the service layer) ends a Kafka outage in the log.
        kafka_state().succeeded()

    async def _send(self, producer: AIOKafkaProducer, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Append every record to its partition's open batch, then wait until the broker acknowledged each batch
        that holds one of them. Appending is synchronous (no await between the first record and the last), so a
        request's records keep their order within a partition and no batch is drained half-filled by this call."""
        waits = [asyncio.shield(batch.future) for batch in self._append(producer, records)]
        outcomes = await asyncio.gather(*waits, return_exceptions=True)
        failure = next((outcome for outcome in outcomes if isinstance(outcome, BaseException)), None)
        if failure is not None:
            raise failure

    def _append(self, producer: AIOKafkaProducer, records: Sequence[tuple[bytes, bytes]]) -> list[MessageBatch]:
        """The batches `records` went into: a partition's batch still waiting in the producer's queue takes them
        (it is open until the sender drains it), else a new one is queued.

        Why share batches between requests: the producer has one produce request in flight per broker, and a
        partition's next batch waits for it. With a batch of its own per request and partition, each produce
        request carried ONE request's records (500), so one process's rate was 500 events per broker round-trip —
        whatever the broker's load made of that round-trip (the variance of issue 14's ingest line) — and the
        broker paid its per-batch cost for every 40 records. Shared, a produce request carries everything that
        arrived while the previous one was on the wire.

        aiokafka has no public "append these to the open batch" (its per-record `send()` does it at ~4x the cost),
        so this uses the accumulator's internals, pinned with aiokafka 0.14 like `_abort` below."""
        accumulator = producer._message_accumulator
        if accumulator._closed:
            raise ProducerClosed()
        if accumulator._exception is not None:
            raise accumulator._exception
        queued = accumulator._batches
        partitions, topic = self._partitions, self.config.topic
        count = len(partitions)
        timestamp_ms = int(time.time() * 1000)  # one CreateTime per request (the builder reads the clock per record)
        current: dict[int, _Open] = {}
        filled: list[MessageBatch] = []
        # A dossier's events often travel together: one hash per key and request.
        partition_of: dict[bytes, int] = {}
        for key, value in records:
            partition = partition_of.get(key)
            if partition is None:
                # aiokafka's DefaultPartitioner, which the producer is built with: murmur2, sign bit off, modulo.
                partition = partition_of[key] = partitions[(murmurhash2(key, KAFKA_MURMUR2_SEED) & 0x7FFFFFFF) % count]
            entry = current.get(partition)
            if entry is None:
                entry = current[partition] = _Open(_open_batch(accumulator, queued, TopicPartition(topic, partition)))
            if not entry.append(key, value, timestamp_ms):
                # Full: a new batch queued behind it takes the record, and the rest.
                filled.append(entry.batch)
                entry = current[partition] = _Open(
                    accumulator._append_batch(accumulator.create_builder(), TopicPartition(topic, partition))
                )
                if not entry.append(key, value, timestamp_ms):
                    raise KafkaError(f"record of {len(value)} bytes exceeds the batch size")
        return [*filled, *(entry.batch for entry in current.values())]

    async def _ready_producer(self) -> AIOKafkaProducer:
        producer = self._producer
        if producer is not None:
            return producer
        async with self._connect_lock:
            if self._producer is not None:
                return self._producer
            # While the broker is down every request would try to connect; one attempt per second is enough.
            if time.monotonic() - self._last_connect_failure < _RECONNECT_GAP_S:
                raise BrokerUnavailableError("Kafka unreachable (last connection attempt failed just now)")
            try:
                self._producer = await asyncio.wait_for(self._connect(), self.config.timeout_s)
            except (KafkaError, OSError, TimeoutError, TopicMissingError) as error:
                self._last_connect_failure = time.monotonic()
                raise BrokerUnavailableError(f"cannot connect to Kafka: {error!r}") from error
            log.info("Kafka producer reconnected")
            return self._producer

    async def _connect(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.config.bootstrap_servers,
            client_id=self.config.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self.config.linger_ms,
            compression_type=self.config.compression,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=RECORD_MAX_BYTES,  # shared/kafka.py sets it with the topic's limit
            request_timeout_ms=int(self.config.timeout_s * 1000),
        )
        await producer.start()
        try:
            topic = self.config.topic
            known = await asyncio.wait_for(producer.client.fetch_all_metadata(), self.config.timeout_s)
            if not known.partitions_for_topic(topic):
                raise TopicMissingError(
                    f"Kafka topic '{topic}' does not exist on {self.config.bootstrap_servers}; "
                    "create it first (python -m infra.topics, or the stack does it)"
                )
            self._partitions = sorted(await producer.partitions_for(topic))
        except BaseException:
            await _abort(producer, self.config.timeout_s)
            raise
        return producer

    async def _retire(self, producer: AIOKafkaProducer) -> None:
        """Abort a failed producer once (concurrent failures share the abort) and wait until it is gone."""
        if self._producer is producer:
            self._producer = None
        task = self._retiring.get(producer)
        if task is None:
            self.resets += 1
            log.warning("Kafka did not acknowledge a publish; retiring the producer")
            task = self._retiring[producer] = asyncio.create_task(_abort(producer, self.config.timeout_s))
            task.add_done_callback(lambda _: self._retiring.pop(producer, None))
        await asyncio.shield(task)


class _Open:
    """A batch `_append` is filling, appended to through the compiled record builder itself.

    aiokafka's `BatchBuilder.append` is a Python wrapper around the Cython `DefaultRecordBatchBuilder.append`: it
    checks `_closed`, runs the (absent) serializers and counts the records in `_relative_offset`, the record count
    the idempotent producer numbers its sequences with — 0.93 µs per record against 0.37 µs for the call it
    wraps (best of 5 over 100,000 264-byte records). This does the same bookkeeping inline: the record's offset
    is the wrapper's count, the count goes up on success, and a full builder closes the wrapper as its own
    `append` does. Only valid within one synchronous `_append` (the sender builds and drops the builder when it
    drains the batch, which it cannot do before `_append` returns)."""

    __slots__ = ("_native_append", "_wrapper", "batch")

    def __init__(self, batch: MessageBatch) -> None:
        self.batch = batch
        self._wrapper = batch._builder
        self._native_append = self._wrapper._builder.append

    def append(self, key: bytes, value: bytes, timestamp_ms: int) -> bool:
        wrapper = self._wrapper
        if wrapper._closed:
            return False
        if self._native_append(wrapper._relative_offset, timestamp_ms, key, value, _NO_HEADERS) is None:
            wrapper.close()
            return False
        wrapper._relative_offset += 1
        return True


def _open_batch(
    accumulator: MessageAccumulator, queued: Mapping[TopicPartition, Sequence[MessageBatch]], tp: TopicPartition
) -> MessageBatch:
    """The partition's last queued batch while it still takes records — never drained (a retried batch has been,
    and its sequence numbers are fixed) and its builder open — else a new batch queued behind it."""
    pending = queued.get(tp)
    if pending:
        last = pending[-1]
        if last.retry_count == 0 and not last._builder.closed():
            return last
    return accumulator._append_batch(accumulator.create_builder(), tp)


async def _abort(producer: AIOKafkaProducer, timeout_s: float) -> None:
    """Close a producer WITHOUT flushing: its unsent batches are failed, never delivered later.

    `stop()` would flush, and an idempotent producer retries a batch until the broker takes it — so a request
    already answered 503 could be written minutes later when the broker returns. aiokafka has no public abort;
    this uses its internals (pinned aiokafka 0.14): stop the sender loop (it waits for requests on the wire),
    fail everything still queued, close the connections.
    """
    producer._closed = True  # a later stop() is then a no-op
    with contextlib.suppress(Exception):
        sender = producer._sender
        if sender is not None:
            await asyncio.wait_for(sender.close(), timeout_s)
    producer._message_accumulator.fail_all(KafkaConnectionError("producer aborted after a failed publish"))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.client.close(), timeout_s)
