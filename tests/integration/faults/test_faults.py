"""Fault injection against the real stack (issue 12), bounded for `make test`: a scoring crash loop, a broker
outage, a PostgreSQL outage, hostile records, a failing webhook receiver — each ending with the exact figures the
sent events imply and `recompute` at 0. `make faults` runs the same scenarios with heavy sizes (FAULT_* variables,
see clients.Sizes and docs/reliability.md).

The scenarios share one stack (starting it is most of the cost) and run in file order; each checks the whole
ledger, so an earlier scenario's leftovers would show up in a later one's figures too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.faults import scenarios
from tests.integration.faults.clients import Sizes, record
from tests.integration.faults.stack import FaultStack, fault_stack

SIZES = Sizes.from_env()
pytestmark = pytest.mark.timeout(SIZES.test_timeout_s)


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[FaultStack]:
    async with fault_stack() as started:
        yield started


async def test_scoring_crash_loop_counts_everything_once(stack: FaultStack) -> None:
    record("crash_loop", await scenarios.crash_loop(stack, SIZES))


async def test_broker_outage_is_answered_503_and_loses_nothing(stack: FaultStack) -> None:
    record("broker_outage", await scenarios.broker_outage(stack, SIZES))


async def test_postgres_outage_is_answered_503_and_recovers_without_restart(stack: FaultStack) -> None:
    record("postgres_outage", await scenarios.postgres_outage(stack, SIZES))


async def test_hostile_records_are_dead_lettered_and_traffic_behind_them_counted(stack: FaultStack) -> None:
    record("hostile_records", await scenarios.hostile_records(stack, SIZES))


async def test_receiver_failure_loses_no_notification(stack: FaultStack) -> None:
    record("receiver_failure", await scenarios.receiver_failure(stack, SIZES))
