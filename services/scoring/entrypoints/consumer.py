"""The FastStream subscriber on `dossier-events`: batches in, the applier does the rest, offsets committed after.

AckPolicy.NACK_ON_ERROR: when the handler returns, FastStream commits the consumer's position (the end of this
batch); when it raises (database down, broker refused the dead letters), FastStream seeks back to the batch's first
offsets and the same records come again. The short pause before re-raising keeps a database outage from becoming
a hot retry loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from services.scoring.adapters.metrics import METRICS
from services.scoring.applier import BatchApplier
from services.scoring.publisher import IndicatorsPublisher
from services.scoring.settings import ScoringSettings

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0


async def _raw_records(_: Any) -> None:
    """Decoder that skips FastStream's JSON decoding: the applier decodes the raw bytes itself (faster, and a
    malformed record must reach the dead-letter queue rather than fail the batch)."""
    return None


def register_consumer(
    broker: KafkaBroker,
    settings: ScoringSettings,
    applier: Callable[[], BatchApplier],
    publisher: Callable[[], IndicatorsPublisher],
) -> None:
    @broker.subscriber(
        settings.events_topic,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        decoder=_raw_records,
        title="scoring/dossier-events",
        description="Merge dossier status events and maintain per-unit counters (SPEC §3–§4)",
    )
    async def on_dossier_events(body: Any, msg: KafkaMessage) -> None:
        records = raw_records_of(msg.raw_message)
        try:
            report = await applier().apply(records)
        except Exception:
            log.exception("applying a batch of %d records failed; it will be consumed again", len(records))
            await asyncio.sleep(RETRY_PAUSE_S)
            raise
        publisher().mark(report.touched_units)
        METRICS.set_lag(lag_after(msg.consumer, records))


def raw_records_of(raw: Any) -> tuple[Any, ...]:
    """The batch's ConsumerRecords. aiokafka gives a tuple of records; FastStream's in-memory test broker nests
    them in one more list, so one level is flattened."""
    items = raw if isinstance(raw, tuple | list) else (raw,)
    flat: list[Any] = []
    for item in items:
        flat.extend(item if isinstance(item, tuple | list) else (item,))
    return tuple(flat)


def lag_after(consumer: Any, records: Sequence[Any]) -> dict[int, int]:
    """Records left on each partition of this batch: the broker's high watermark (as of the last fetch) minus the
    offset after the batch's last record there."""
    next_offset: dict[int, int] = {}
    for record in records:
        next_offset[record.partition] = max(next_offset.get(record.partition, 0), record.offset + 1)
    lag: dict[int, int] = {}
    highwater_of = getattr(consumer, "highwater", None)  # absent on FastStream's in-memory test consumer
    if highwater_of is None:
        return lag
    for partition, offset in next_offset.items():
        highwater = highwater_of(TopicPartition(records[0].topic, partition))
        if highwater is not None:
            lag[partition] = max(0, highwater - offset)
    return lag
