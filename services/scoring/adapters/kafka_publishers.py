"""What scoring publishes to Kafka: dead letters (`dossier-events-dlq`) and unit figures (`unit-indicators`).

Each class wraps one FastStream publisher registered on the service's broker (app.py); the bodies and headers are
the topics' documented formats.
"""

from __future__ import annotations

import asyncio
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
    """service.read_ports.MessagePublisher: a publication's `unit-indicators` messages (each body is
    shared/indicators.py's JSON), keyed by unit_id."""

    def __init__(self, publisher: DefaultPublisher) -> None:
        self._publisher = publisher

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Every message handed to the producer before any acknowledgement is awaited: the producer packs them into
        one request per partition. Awaited one by one, each unit was a produce request of its own, and a fetch of
        its own for every consumer of the topic (issue 14: most of what the broker spent during a back-fill)."""
        headers = {"content-type": "application/json"}
        await asyncio.gather(
            *(self._publisher.publish(value, key=key.encode(), headers=headers) for key, value in messages)
        )
