"""What scoring puts on `dossier-events-dlq` (adapters/kafka_publishers.py), on a hand-written fake of the
FastStream publisher: the original bytes with why and where from in the headers, and a record larger than the
topic's limit cut to DLQ_TOPIC_MAX_VALUE with `x-truncated` and its original size (issue 12) — the table keeps it
whole, and the source offset the headers name holds the full bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.scoring.adapters.kafka_publishers import DLQ_TOPIC_MAX_VALUE, HEADER_MAX, KafkaDeadLetterPublisher
from services.scoring.service.ports import DeadLetter, KafkaRecord
from shared.contract import ErrorCode, EventRejection

pytestmark = pytest.mark.unit


@dataclass
class RecordingPublisher:
    sent: list[tuple[bytes, bytes | None, dict[str, str]]] = field(default_factory=list)

    async def publish(self, message: Any, *, key: bytes | None = None, headers: dict[str, str] | None = None) -> None:
        self.sent.append((message, key, dict(headers or {})))


def _letter(value: bytes | None, key: bytes | None = b"HS-1", detail: str = "không phải JSON / not JSON") -> DeadLetter:
    record = KafkaRecord("dossier-events", 7, 4242, 1_764_000_000_000, key, value)
    return DeadLetter(record, EventRejection(ErrorCode.INVALID_JSON, detail))


async def test_a_dead_letter_keeps_its_bytes_and_says_why_and_where_from() -> None:
    fake = RecordingPublisher()
    await KafkaDeadLetterPublisher(fake).publish([_letter(b"{not json")])  # type: ignore[arg-type]
    [(value, key, headers)] = fake.sent
    assert value == b"{not json"
    assert key == b"HS-1"
    assert headers == {
        "x-error": "invalid_json",
        "x-detail": "không phải JSON / not JSON",
        "x-source": "dossier-events/7/4242",
        "x-original-size": "9",
    }


async def test_a_record_over_the_topic_limit_is_cut_and_marked_truncated() -> None:
    fake = RecordingPublisher()
    huge = b"x" * (DLQ_TOPIC_MAX_VALUE + 12345)
    await KafkaDeadLetterPublisher(fake).publish([_letter(huge)])  # type: ignore[arg-type]
    [(value, _, headers)] = fake.sent
    assert value == huge[:DLQ_TOPIC_MAX_VALUE]
    assert headers["x-truncated"] == "true"
    assert headers["x-original-size"] == str(len(huge))


async def test_a_record_exactly_at_the_limit_is_not_truncated() -> None:
    fake = RecordingPublisher()
    await KafkaDeadLetterPublisher(fake).publish([_letter(b"y" * DLQ_TOPIC_MAX_VALUE)])  # type: ignore[arg-type]
    [(value, _, headers)] = fake.sent
    assert len(value) == DLQ_TOPIC_MAX_VALUE
    assert "x-truncated" not in headers


async def test_a_huge_key_and_detail_are_cut_and_an_empty_value_is_sent_as_empty_bytes() -> None:
    fake = RecordingPublisher()
    letter = _letter(None, key=b"k" * (HEADER_MAX + 1), detail="d" * (HEADER_MAX * 2))
    await KafkaDeadLetterPublisher(fake).publish([letter])  # type: ignore[arg-type]
    [(value, key, headers)] = fake.sent
    assert value == b""
    assert key == b"k" * HEADER_MAX
    assert headers["x-detail"] == "d" * HEADER_MAX
    assert headers["x-original-size"] == "0"
