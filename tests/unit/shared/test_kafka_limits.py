"""The record size limits are set in one place (shared/kafka.py) and every user of them agrees (issue 12): the
events topic takes what a producer of ours may send, the local broker takes what the topic takes, and a
dead-lettered copy fits any topic's default limit."""

from __future__ import annotations

from infra import kafka_local
from services.ingest.settings import IngestSettings
from services.scoring.adapters.kafka_publishers import DLQ_TOPIC_MAX_VALUE
from shared.kafka import (
    DLQ_VALUE_MAX_BYTES,
    DOSSIER_EVENTS,
    RECORD_MAX_BYTES,
    TOPIC_MAX_MESSAGE_BYTES,
    TOPIC_SPECS,
    make_broker,
)

KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


def test_the_events_topic_takes_any_record_a_producer_may_send() -> None:
    events = next(spec for spec in TOPIC_SPECS if spec.name == DOSSIER_EVENTS)
    assert int(dict(events.configs)["max.message.bytes"]) == TOPIC_MAX_MESSAGE_BYTES > RECORD_MAX_BYTES


def test_the_local_broker_takes_what_the_topic_takes() -> None:
    properties = kafka_local._server_properties(kafka_local.KafkaPorts())
    assert f"message.max.bytes={TOPIC_MAX_MESSAGE_BYTES}" in properties.splitlines()


def test_service_producers_send_up_to_the_record_limit() -> None:
    broker = make_broker("127.0.0.1:1", client_id="t")
    # FastStream keeps what it passes to AIOKafkaProducer in `_connection_kwargs` (no public accessor).
    assert broker._connection_kwargs["max_request_size"] == RECORD_MAX_BYTES


def test_ingest_cannot_accept_an_event_larger_than_a_record() -> None:
    bound = next(m for m in IngestSettings.model_fields["max_event_bytes"].metadata if hasattr(m, "le"))
    assert bound.le == RECORD_MAX_BYTES


def test_a_dead_lettered_copy_fits_any_topic_default() -> None:
    assert DLQ_TOPIC_MAX_VALUE == DLQ_VALUE_MAX_BYTES < KAFKA_DEFAULT_MAX_MESSAGE_BYTES // 2
