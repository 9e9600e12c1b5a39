"""The `unit-indicators` subscriber: batches evaluated in one transaction, offsets committed after it.

Ack policy NACK_ON_ERROR: the offsets of a batch are committed only when the handler returns; if the database
transaction fails the consumer seeks back and the batch comes again (at-least-once; the evaluation is idempotent).
Bodies are decoded here, not by FastStream, so one malformed message is counted and skipped instead of blocking
the partition forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.bootstrap import Container
from services.alerts.settings import AlertsSettings
from shared.bootstrap import CONTEXT_KEY
from shared.indicators import UnitIndicators

log = logging.getLogger(__name__)

# After a failed transaction, wait a little before the batch is redelivered (no hot loop while the DB is down).
FAILURE_PAUSE_S = 1.0


def decode_batch(bodies: list[bytes], now: datetime, max_age: timedelta, metrics: AlertMetrics) -> list[UnitIndicators]:
    messages: list[UnitIndicators] = []
    for body in bodies:
        try:
            message = UnitIndicators.model_validate_json(body)
        except ValidationError as error:
            metrics.messages.labels(outcome="invalid").inc()
            log.warning("skipping an invalid unit-indicators message: %s", error.errors()[:1])
            continue
        if now - message.computed_at > max_age:
            metrics.messages.labels(outcome="too_old").inc()
            continue
        messages.append(message)
    return messages


async def _raw_bodies(message: Any) -> Any:
    return message.body


def register_indicators_subscriber(broker: KafkaBroker, settings: AlertsSettings) -> None:
    """The handler takes the container from the broker's context: the lifespan publishes it before the broker
    starts consuming (shared/bootstrap.py)."""
    max_age = timedelta(seconds=settings.indicators_max_age_s)

    @broker.subscriber(
        settings.indicators_topic,
        group_id=settings.consumer_group,
        batch=True,
        max_records=500,
        batch_timeout_ms=200,
        auto_offset_reset=settings.indicators_offset_reset,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_bodies,
    )
    async def on_unit_indicators(bodies: list[bytes], container: Annotated[Container, Context(CONTEXT_KEY)]) -> None:
        metrics = container.metrics
        messages = decode_batch(bodies, container.clock(), max_age, metrics)
        started = time.perf_counter()
        try:
            await container.evaluator.apply_indicators(messages)
        except Exception:
            log.exception("evaluation of %d messages failed; the batch will be redelivered", len(messages))
            await asyncio.sleep(FAILURE_PAUSE_S)
            raise
        metrics.evaluation_seconds.labels(trigger="message").observe(time.perf_counter() - started)
        metrics.messages.labels(outcome="evaluated").inc(len(messages))
