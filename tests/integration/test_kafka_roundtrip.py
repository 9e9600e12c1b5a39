"""A keyed produce → consume round-trip through the real broker, across two partitions, with committed offsets."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.conftest import unique


async def test_keyed_roundtrip_across_two_partitions_commits_offsets(kafka_bootstrap: str) -> None:
    topic, group = unique("roundtrip"), unique("group")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])

        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        sent: dict[str, list[tuple[int, bytes]]] = {}
        try:
            for i in range(40):
                key = f"dossier-{i % 8}"
                meta = await producer.send_and_wait(topic, f"event-{i}".encode(), key=key.encode())
                sent.setdefault(key, []).append((meta.partition, f"event-{i}".encode()))
        finally:
            await producer.stop()

        # The same key always lands on the same partition, and both partitions are used.
        assert all(len({p for p, _ in records}) == 1 for records in sent.values())
        assert {records[0][0] for records in sent.values()} == {0, 1}

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        received: dict[str, list[bytes]] = {}
        try:
            async with asyncio.timeout(30):
                while sum(len(v) for v in received.values()) < 40:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for records in batch.values():
                        for record in records:
                            assert record.key is not None
                            received.setdefault(record.key.decode(), []).append(record.value)
            await consumer.commit()
            committed = {p: await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)}
        finally:
            await consumer.stop()

        # Per key, order is preserved; committed offsets equal what each partition holds.
        assert received == {key: [value for _, value in records] for key, records in sent.items()}
        per_partition = {p: sum(1 for r in sent.values() for q, _ in r if q == p) for p in (0, 1)}
        assert committed == per_partition

        # A new consumer in the same group starts after the committed offsets: nothing left to read.
        again = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
        await again.start()
        try:
            leftover = await again.getmany(timeout_ms=1500)
        finally:
            await again.stop()
        assert sum(len(v) for v in leftover.values()) == 0
    finally:
        await admin.delete_topics([topic])
        await admin.close()
