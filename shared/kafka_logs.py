"""One log line per Kafka outage instead of aiokafka's 100+ ERROR lines a second.

While the broker is unreachable, aiokafka's client, fetcher, group coordinator and sender log every reconnection
attempt at ERROR (retry backoff 100 ms: 100–150 lines a second per process). A filter on those loggers turns the
first such line into one WARNING "Kafka unreachable (…)" and counts the rest; "Kafka reachable again after N s
(M failures …)" is logged once when a component reports a success (`kafka_state().succeeded()`, e.g. the scoring
consumer after a commit, ingest after an acknowledged publish) or when no such line has come for `QUIET_S`.
Errors with a traceback (aiokafka's "Unexpected error …") and every other line pass unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from shared.outages import DependencyState

QUIET_S = 15.0
# The format strings (record.msg) of aiokafka's per-attempt connection failures.
CONNECTION_FAILURES = (
    "Unable connect",
    "Unable to update metadata",
    "Failed fetch messages",
    "Failed fetch offsets",
    "Error sending",
    "Group Coordinator Request failed",
    "Heartbeat",
    "FindCoordinator Request failed",
    "OffsetCommit failed before join",
    "Failed to commit on finallization",
)
# The group coordinator's lines about the group's membership, which start like its connection failures ("Heartbeat
# failed …") but say the broker answered: every start, stop or rebalance of a consumer group logs them. They pass at
# INFO and leave the Kafka state alone — before, each start of the scoring processes logged "Kafka unreachable" and,
# seconds later, "reachable again".
GROUP_MEMBERSHIP = (
    "Heartbeat failed for group %s because it is rebalancing",
    "Heartbeat failed for group %s: generation id is not  current.",
    "Heartbeat failed: local member_id was not recognized; resetting and re-joining group",
)
AIOKAFKA_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.consumer.consumer",
    "aiokafka.producer.sender",
    "aiokafka.producer.producer",
)


def is_connection_failure(record: logging.LogRecord) -> bool:
    return (
        record.levelno >= logging.WARNING
        and not record.exc_info
        and isinstance(record.msg, str)
        and record.msg.startswith(CONNECTION_FAILURES)
        and record.msg not in GROUP_MEMBERSHIP
    )


class KafkaLogGate(logging.Filter):
    """Drops repeated connection-failure records, moving `state` instead (which logs once per change)."""

    def __init__(
        self, state: DependencyState, *, quiet_s: float = QUIET_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__("kafka-log-gate")
        self.state = state
        self.quiet_s = quiet_s
        self.suppressed = 0
        self._monotonic = monotonic
        self._last_failure_at = 0.0
        self._watch: asyncio.Task[None] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in GROUP_MEMBERSHIP and record.levelno == logging.WARNING:
            # The logger let it through as a WARNING: as INFO it passes only where INFO is enabled.
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        if not is_connection_failure(record):
            return True
        self.note_quiet()
        self._last_failure_at = self._monotonic()
        self.state.failed(record.getMessage())
        self.suppressed += 1
        self._ensure_watch()
        return False

    def note_quiet(self) -> None:
        """End the outage if no connection failure was logged for `quiet_s` (called by the watch and per record)."""
        if not self.state.reachable and self._monotonic() - self._last_failure_at >= self.quiet_s:
            self.state.succeeded()

    def _ensure_watch(self) -> None:
        if self._watch is not None and not self._watch.done():
            return
        with contextlib.suppress(RuntimeError):  # logged from a thread without a loop: the next record ends it
            self._watch = asyncio.get_running_loop().create_task(self._quiet_watch(), name="kafka-log-gate")

    async def _quiet_watch(self) -> None:
        while not self.state.reachable:
            await asyncio.sleep(min(1.0, self.quiet_s))
            self.note_quiet()


_gate: KafkaLogGate | None = None


def install_kafka_log_gate() -> KafkaLogGate:
    """Attach the gate to aiokafka's loggers once per process; return it (its `state` is the Kafka state)."""
    global _gate
    if _gate is None:
        _gate = KafkaLogGate(DependencyState("Kafka"))
        for name in AIOKAFKA_LOGGERS:
            logging.getLogger(name).addFilter(_gate)
    return _gate


def kafka_state() -> DependencyState:
    return install_kafka_log_gate().state
