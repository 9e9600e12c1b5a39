"""A new consumer group's first assignment waits for its other members on the local broker as on a production one
(Kafka's default 3 s; docker-compose.yml the same), except in the test tiers' brokers, whose hundreds of
one-consumer groups skip the wait (infra/kafka_local.py)."""

from __future__ import annotations

from pathlib import Path

from infra import kafka_local

KEY = "group.initial.rebalance.delay.ms"
COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"


def _delay(properties: str) -> int:
    return int(dict(line.split("=", 1) for line in properties.splitlines())[KEY])


def test_the_local_broker_waits_like_a_production_one() -> None:
    assert _delay(kafka_local._server_properties(kafka_local.KafkaPorts())) == 3000


def test_the_test_tiers_broker_does_not_wait() -> None:
    properties = kafka_local._server_properties(
        kafka_local.KafkaPorts(), group_start_delay_ms=kafka_local.TEST_GROUP_START_DELAY_MS
    )
    assert _delay(properties) == 0


def test_compose_runs_the_same_delay() -> None:
    assert f'KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "{kafka_local.GROUP_START_DELAY_MS}"' in COMPOSE.read_text()
