"""The local broker's JVM keeps ingest's produce requests out of G1's humongous objects (docs/benchmarks.md, session 8
"ingest"): the broker reads a produce request into one array of its size, and an array of half a region or more
started a young pause and a concurrent mark per request — up to 42 µs of broker CPU per event."""

from __future__ import annotations

import re

import pytest

from infra import kafka_local
from services.ingest.adapters.producer import MAX_BATCH_BYTES

pytestmark = pytest.mark.unit
MIB = 1024 * 1024


def _jvm_size(flag: str) -> int:
    option = next(option for option in kafka_local.BROKER_JVM if option.startswith(flag))
    size = re.fullmatch(r"(\d+)([kmg])", option.removeprefix(flag).lower())
    assert size is not None, option
    return int(size[1]) * {"k": 1024, "m": MIB, "g": 1024 * MIB}[size[2]]


def test_a_produce_request_of_several_full_batches_is_an_ordinary_object() -> None:
    humongous_from = _jvm_size("-XX:G1HeapRegionSize=") // 2
    assert humongous_from >= 4 * MAX_BATCH_BYTES


def test_the_cleaner_buffer_leaves_the_old_generation_to_the_broker() -> None:
    properties = dict(line.split("=", 1) for line in kafka_local._server_properties(kafka_local.KafkaPorts()).split())
    assert int(properties["log.cleaner.dedupe.buffer.size"]) <= _jvm_size("-Xms") // 8
