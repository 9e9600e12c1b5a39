"""Ingest's murmur2 gives aiokafka's (the Java client's) hash on any key, so records land on the partition any other
Kafka producer would choose for the same dossier."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.adapters.producer import murmur2

pytestmark = pytest.mark.unit


@given(key=st.binary(max_size=300))
def test_murmur2_equals_aiokafka_on_any_bytes(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(dossier_id=st.text(max_size=64), partitions=st.integers(1, 64))
def test_a_dossier_gets_the_default_partitioner_s_partition(dossier_id: str, partitions: int) -> None:
    key, every = dossier_id.encode(), list(range(partitions))
    assert every[(murmur2(key) & 0x7FFFFFFF) % partitions] == DefaultPartitioner()(key, every, every)
