"""The FastStream subscriber on `dossier-events`: batches in, the applier does the rest, offsets committed after.

AckPolicy.NACK_ON_ERROR: when the handler returns, FastStream commits the consumer's position (the end of this
batch); when it raises (database down, broker refused the dead letters), FastStream seeks back to the batch's first
offsets and the same records come again. The short pause before re-raising keeps a database outage from becoming
a hot retry loop.

After a successful batch this module commits the batch's offsets itself, for the partitions the consumer still
owns: a rebalance may revoke a partition while its batch is being applied. That is a normal event — the
transaction has committed, the new owner starts from the last committed offset and replays those records, which
the applier's idempotence absorbs — so it is logged at INFO, and neither the lag (high watermark) nor the commit
asks about a partition that is no longer assigned. A rebalance also sends the partitions this process KEEPS back to
their last committed offset (aiokafka refetches every position of a new assignment): the batch just applied would
come again, all of it, from this process. So when the group was reassigned during a batch, each partition of the
batch still ours is moved to the offset after the batch (`Rebalances`, `keep_positions`): only the partitions that
changed hands are replayed, by their new owner (measured: docs/benchmarks.md, session 10 "startup").

A failing batch is logged once per state change (failing / applying again), not once per retry; aiokafka's
per-attempt connection errors are gated by shared.kafka_logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import AckStatus

from services.scoring.adapters.kafka_fetch import install as install_fast_fetch
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.wire_decode import next_offsets  # a loop over every record: compiled with the domain
from services.scoring.bootstrap import Container
from services.scoring.service.apply_batch import ApplyReport
from services.scoring.service.ports import RawRecord
from services.scoring.settings import ScoringSettings
from shared.bootstrap import CONTEXT_KEY
from shared.kafka_logs import install_kafka_log_gate, kafka_state
from shared.outages import DependencyState

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0


class OffsetCommitter(Protocol):
    """What the subscriber asks of aiokafka's consumer after a batch."""

    def assignment(self) -> Any: ...

    def highwater(self, tp: TopicPartition) -> int | None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...


class Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts the rebalances' steps this consumer went through (aiokafka calls both callbacks at every rebalance,
    the assignment right after the new one replaced every position): a batch that saw the count change was applied
    across a rebalance. A batch that ends between the two steps finds nothing assigned and moves nothing."""

    def __init__(self) -> None:
        self.steps = 0

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.steps += 1

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.steps += 1


class Applier(Protocol):
    async def apply(self, records: Sequence[RawRecord]) -> ApplyReport: ...


class ChangeMarker(Protocol):
    def mark(self, unit_ids: set[str], months: set[str] | None = None, *, catching_up: bool | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsumedBatch:
    records: tuple[RawRecord, ...]
    consumer: OffsetCommitter


def consumed_batch(msg: KafkaMessage) -> ConsumedBatch:
    """A batch subscriber's message: aiokafka's tuple of ConsumerRecords and the consumer that fetched them."""
    return ConsumedBatch(msg.raw_message, msg.consumer)  # type: ignore[arg-type]


async def _batch_parser(
    records: tuple[Any, ...], original: Callable[[tuple[Any, ...]], Awaitable[KafkaMessage]]
) -> KafkaMessage:
    """FastStream's batch parser builds a body list and a headers dict for every record (an interpreted loop and a
    comprehension per record, ≈ 1 µs an event) that this subscriber never reads: the applier decodes the raw
    records (`msg.raw_message`). Its parser makes the message of the first record alone, then gets the whole batch
    and the batch's id (as FastStream writes it: first offset, last offset, first timestamp)."""
    message = await original(records[:1])
    message.raw_message = records
    first = records[0]
    message.message_id = f"{first.offset}-{records[-1].offset}-{first.timestamp}"
    return message


async def _raw_records(_: Any) -> None:
    """Decoder that skips FastStream's JSON decoding: the applier decodes the raw bytes itself (faster, and a
    malformed record must reach the dead-letter queue rather than fail the batch)."""
    return None


def register_consumer(
    broker: KafkaBroker,
    settings: ScoringSettings,
    batch_of: Callable[[KafkaMessage], ConsumedBatch] = consumed_batch,
) -> Rebalances:
    """Subscribe to `dossier-events`; the handler takes the applier and the publisher from the container the
    lifespan put in the broker's context (shared/bootstrap.py). `batch_of` reads the records and the consumer off
    the message (the broker-tier test gives the in-memory broker's messages their real shape). Returns the
    subscriber's rebalance counter."""
    rebalances = Rebalances()

    @broker.subscriber(
        settings.events_topic,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        parser=_batch_parser,
        decoder=_raw_records,
        title="scoring/dossier-events",
        description="Merge dossier status events and maintain per-unit counters (SPEC §3–§4)",
        listener=rebalances,
    )
    async def on_dossier_events(
        body: Any, msg: KafkaMessage, container: Annotated[Container, Context(CONTEXT_KEY)]
    ) -> None:
        batch = batch_of(msg)
        await process_batch(
            batch.records, batch.consumer, container.applier, container.publisher, batches, rebalances=rebalances
        )
        msg.committed = AckStatus.ACKED  # committed in process_batch, for the partitions still assigned

    install_kafka_log_gate()
    if settings.fast_fetch:
        install_fast_fetch()  # process-wide; leaves aiokafka alone (with a warning) if its fetcher changed
    batches = DependencyState("applying batches", logger=log, down="fails", up="works again", traceback=True)
    return rebalances


async def process_batch(
    records: Sequence[RawRecord],
    consumer: OffsetCommitter,
    applier: Applier,
    publisher: ChangeMarker,
    batches: DependencyState,
    retry_pause_s: float = RETRY_PAUSE_S,
    rebalances: Rebalances | None = None,
) -> bool:
    """Apply one batch, then lag and commit for the partitions still assigned. True: the offsets were handled
    here (FastStream must not commit again). A failing batch waits `retry_pause_s` before it is raised again.
    When `rebalances` counted a rebalance meanwhile, the kept partitions' positions are moved past the batch."""
    generation = rebalances.steps if rebalances is not None else 0
    try:
        report = await applier.apply(records)
    except Exception as error:
        batches.failed(error)  # one line (with the traceback) when batches start failing, one when they work again
        await asyncio.sleep(retry_pause_s)
        raise
    batches.succeeded()
    # An empty batch means nothing is waiting: this process has caught up.
    publisher.mark(report.touched_units, report.months, catching_up=report.catching_up if records else False)
    if not records:
        return True
    assigned = assigned_partitions(consumer)
    after = next_offsets(records)  # one pass over the batch (tens of thousands of records) for all that follows
    revoked = sorted(partition for topic, partition in after if TopicPartition(topic, partition) not in assigned)
    if revoked:
        log.info(
            "partition(s) %s revoked during the batch: applied (idempotent), not committed here; the new owner "
            "replays them from the last commit", revoked,
        )  # fmt: skip
    METRICS.set_lag(lag_after(consumer, after, assigned))
    await commit_batch(consumer, after, assigned)
    if rebalances is not None and rebalances.steps != generation:
        keep_positions(consumer, after, assigned_partitions(consumer))
    return True


def keep_positions(consumer: OffsetCommitter, after: dict[tuple[str, int], int], assigned: set[TopicPartition]) -> None:
    """After a batch applied across a rebalance: the partitions of the batch this consumer still owns start again
    after the batch, not at the committed offset the new assignment went back to (those records are in the
    database: replaying them would only cost the work again). Seeking drops what was fetched from the old position."""
    kept = []
    for key, offset in after.items():
        tp = TopicPartition(*key)
        if tp not in assigned:
            continue
        try:
            consumer.seek(tp, offset)
        except IllegalStateError:  # revoked since the look at the assignment: its new owner replays it
            continue
        kept.append(tp.partition)
    if kept:
        log.info(
            "the group was reassigned during the batch: partition(s) %s kept, read on after the batch", sorted(kept)
        )


def assigned_partitions(consumer: OffsetCommitter) -> set[TopicPartition]:
    """The partitions the consumer owns right now."""
    try:
        return set(consumer.assignment())
    except IllegalStateError:  # not subscribed (any more): nothing is ours
        return set()


async def commit_batch(
    consumer: OffsetCommitter, after: dict[tuple[str, int], int], assigned: set[TopicPartition]
) -> None:
    """Commit the offset after the batch's last record on each partition still assigned (the rest is skipped)."""
    offsets = {tp: offset for key, offset in after.items() if (tp := TopicPartition(*key)) in assigned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as error:
        # The group rebalanced between our look at the assignment and the commit: the same normal event.
        log.info("commit after the batch skipped, the group is rebalancing (%s); the new owner replays", error)
    except KafkaError as error:
        # The broker is unreachable: the records are applied; a later commit (or a replay) covers them.
        kafka_state().failed(error)
    else:
        kafka_state().succeeded()


def lag_after(
    consumer: OffsetCommitter, after: dict[tuple[str, int], int], assigned: set[TopicPartition]
) -> dict[int, int]:
    """Records left on each partition of this batch still assigned: the broker's high watermark (as of the last
    fetch) minus the offset after the batch's last record there."""
    lag: dict[int, int] = {}
    for key, offset in after.items():
        tp = TopicPartition(*key)
        if tp not in assigned:
            continue  # revoked mid-batch: aiokafka would assert "Partition is not assigned"
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag[tp.partition] = max(0, highwater - offset)
    return lag
