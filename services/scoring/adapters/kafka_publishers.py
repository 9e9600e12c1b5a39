"""What scoring publishes to Kafka: dead letters (`dossier-events-dlq`) and unit figures (`unit-indicators`).

Each class wraps one FastStream publisher registered on the service's broker (app.py); the bodies and headers are
the topics' documented formats.
"""

from __future__ import annotations

from collections.abc import Sequence

from faststream.kafka.publisher.usecase import DefaultPublisher

from services.scoring.service.ports import DeadLetter
from shared.kafka import DLQ_VALUE_MAX_BYTES

# The dead-letter topic gets at most this much of a record's value (the table keeps it whole, and the full bytes
# stay in the source topic at the offset the headers name): any record the source topic can hold can be
# dead-lettered, whatever the producer's or the DLQ topic's size limits (issue 12). Set in shared/kafka.py with
# the other size limits.
DLQ_TOPIC_MAX_VALUE = DLQ_VALUE_MAX_BYTES
# Header values and the key are cut to this many bytes / characters (a header is not meant to carry a document).
HEADER_MAX = 4096


class KafkaDeadLetterPublisher:
    """service.ports.DeadLetterPublisher: the original bytes, with why and where from in the headers."""

    def __init__(self, publisher: DefaultPublisher) -> None:
        self._publisher = publisher

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            record, rejection = letter.record, letter.rejection
            value = record.value or b""
            headers = {
                "x-error": str(rejection.error),
                "x-detail": rejection.detail[:HEADER_MAX],
                "x-source": f"{record.topic}/{record.partition}/{record.offset}",
                "x-original-size": str(len(value)),
            }
            if len(value) > DLQ_TOPIC_MAX_VALUE:
                headers["x-truncated"] = "true"
                value = value[:DLQ_TOPIC_MAX_VALUE]
            key = record.key if record.key is None or len(record.key) <= HEADER_MAX else record.key[:HEADER_MAX]
            await self._publisher.publish(value, key=key, headers=headers)


class KafkaIndicatorsPublisher:
    """service.read_ports.MessagePublisher: one unit's `unit-indicators` message (the body is
    shared/indicators.py's JSON), keyed by unit_id."""

    def __init__(self, publisher: DefaultPublisher) -> None:
        self._publisher = publisher

    async def publish(self, value: bytes, key: str) -> None:
        await self._publisher.publish(value, key=key.encode(), headers={"content-type": "application/json"})
