"""Prometheus metrics of the alerts service (one registry per app, so tests can run several apps)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ALERT_STATES = ("inactive", "pending", "firing", "resolved")
ALERTS_BY_STATE = "SELECT state, count(*) FROM alert_states GROUP BY state"
PENDING_BY_RECEIVER = "SELECT receiver, count(*) FROM alert_deliveries WHERE status = 'pending' GROUP BY 1"


class AlertMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Gauge("tthc_alerts", "Alerts (rule × unit) by lifecycle state", ["state"], registry=self.registry)
        self.notifications = Counter(
            "tthc_alert_notifications",
            "Delivery attempts of group messages per receiver: sent, failed (given up or rejected), retrying",
            ["receiver", "outcome"],
            registry=self.registry,
        )
        self.outbox_waiting = Gauge(
            "tthc_alert_outbox_pending", "Group messages not yet delivered, per receiver", ["receiver"],
            registry=self.registry,
        )  # fmt: skip
        self.evaluation_seconds = Histogram(
            "tthc_alert_evaluation_seconds",
            "Duration of one evaluation step (transaction included)",
            ["trigger"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.messages = Counter(
            "tthc_alert_indicator_messages",
            "unit-indicators messages by outcome (evaluated, invalid, too_old)",
            ["outcome"],
            registry=self.registry,
        )
        self.transitions = Counter("tthc_alert_transitions", "Transitions recorded", registry=self.registry)
        self.outbox_purged = Counter(
            "tthc_alert_outbox_purged",
            "Delivery bookkeeping deleted by the retention pass: table = alert_deliveries (finished group messages) "
            "or alert_outbox (their notification rows)",
            ["table"],
            registry=self.registry,
        )
        self.near_due_fetch_errors = Counter(
            "tthc_alert_near_due_fetch_errors", "Failed near-due list requests to scoring", registry=self.registry
        )
        self.scoring_read_errors = Counter(
            "tthc_alert_scoring_read_errors",
            "Failed requests to scoring other than near-due lists: read = forecasts (forecast rules) or todo "
            "(morning digest)",
            ["read"],
            registry=self.registry,
        )
        self.digest_checked = Gauge(
            "tthc_alert_todo_digest_checked",
            "Unix time of the last completed morning-digest pass (whether or not it had anything to send)",
            registry=self.registry,
        )
        self.digests_queued = Counter(
            "tthc_alert_todo_digests_queued",
            "Morning to-do digests put in the outbox (one per unit, receiver and day)",
            registry=self.registry,
        )

        self.scoring_unreachable = Gauge(
            "tthc_alerts_scoring_unreachable",
            "1 while the scoring API does not answer (near-due lists cannot be fetched), else 0",
            registry=self.registry,
        )
        self.scoring_identity_mismatch = Gauge(
            "tthc_alerts_scoring_identity_mismatch",
            "1 while SCORING_URL answers as another service or another stack's scoring (it is not used), else 0",
            registry=self.registry,
        )
        self.scoring_fetch_failures = Counter(
            "tthc_alerts_scoring_fetch_failures",
            "Requests to the scoring API (health checks and near-due pages) that got no usable answer",
            registry=self.registry,
        )
        self.database_unreachable = Gauge(
            "tthc_alerts_database_unreachable", "1 while PostgreSQL is unreachable, else 0", registry=self.registry
        )
        self.database_errors = Counter(
            "tthc_alerts_database_errors",
            "Requests, loop steps and probes that failed because PostgreSQL was unreachable",
            registry=self.registry,
        )

    def record_outcome(self, receiver: str, outcome: str) -> None:
        self.notifications.labels(receiver=receiver, outcome=outcome).inc()

    async def refresh(self, pool: asyncpg.Pool, receivers: Iterable[str]) -> None:
        """Gauges that are facts of the database, read at scrape time (true across restarts and replicas)."""
        async with pool.acquire() as conn:
            counts = dict(await conn.fetch(ALERTS_BY_STATE))
            pending = dict(await conn.fetch(PENDING_BY_RECEIVER))
        for state in ALERT_STATES:
            self.alerts.labels(state=state).set(counts.get(state, 0))
        for receiver in {*receivers, *pending}:
            self.outbox_waiting.labels(receiver=receiver).set(pending.get(receiver, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
