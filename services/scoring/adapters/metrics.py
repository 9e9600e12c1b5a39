"""Prometheus metrics of the scoring service (`GET /metrics`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.scoring.adapters.gc_pauses import GcPauses
from services.scoring.service.read_ports import UnitGaugeRow


class ScoringMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter("tthc_scoring_records", "Kafka records consumed", registry=self.registry)
        self.applied = Counter("tthc_scoring_events_applied", "Distinct events applied", registry=self.registry)
        self.duplicates = Counter(
            "tthc_scoring_events_duplicate", "Events that changed nothing (already applied)", registry=self.registry
        )
        self.dead = Counter(
            "tthc_scoring_dlq_records", "Records sent to the dead-letter queue", ["reason"], registry=self.registry
        )
        self.redriven = Counter(
            "tthc_scoring_dlq_reapplied",
            "Dead letters applied again (pending ones whose unit was registered, or re-driven by an operator)",
            registry=self.registry,
        )
        self.redrive_rejected = Counter(
            "tthc_scoring_dlq_reapply_rejected", "Dead letters tried again and still rejected", registry=self.registry
        )
        self.database_unreachable = Gauge(
            "tthc_scoring_database_unreachable", "1 while PostgreSQL does not answer", registry=self.registry
        )
        self.alerts_identity_mismatch = Gauge(
            "tthc_scoring_alerts_identity_mismatch",
            "1 while ALERTS_PUBLIC_URL answers as another service or another stack's alerts, else 0",
            registry=self.registry,
        )
        self.database_errors = Counter(
            "tthc_scoring_database_errors",
            "Operations that failed because PostgreSQL did not answer",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "tthc_scoring_batch_seconds",
            "Time to apply one consumed batch (decode, transaction, dead letters)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "tthc_scoring_batch_records",
            "Records per consumed batch",
            buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
            registry=self.registry,
        )
        self.lag = Gauge(
            "tthc_scoring_consumer_lag",
            "Records not yet consumed, per partition",
            ["partition"],
            registry=self.registry,
        )
        self.unit_score = Gauge(
            "tthc_unit_score", "Current-month score (0–100) per unit", ["unit_id", "level"], registry=self.registry
        )
        self.unit_rate = Gauge(
            "tthc_unit_rate", "Current-month rate per unit", ["unit_id", "level", "rate"], registry=self.registry
        )
        self.unit_live = Gauge(
            "tthc_unit_live", "Live counters per unit", ["unit_id", "level", "counter"], registry=self.registry
        )

        self.gc_pauses = GcPauses(self.registry)
        self.read_fresh = Histogram(
            "tthc_scoring_read_refresh_seconds",
            "From a change of a read table announced (a committed batch, its NOTIFY, a live tick) to the table "
            "recomputed and served, by table (month, level, live): the read path's freshness inside the process",
            ["table"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

        # How late a timer set for LOOP_PROBE_S fires: what a request arriving then waits before the loop reads
        # it (a table build holding the interpreter, a collection, the process waiting for a CPU).
        self.loop_lag = Histogram(
            "tthc_scoring_loop_lag_seconds",
            "Event-loop lag: how late a timer fires in a process that serves readers (sampled every 50 ms)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )

    def observe_batch(
        self, records: int, applied: int, duplicates: int, dead_reasons: Sequence[str], seconds: float
    ) -> None:
        """One applied batch; `dead_reasons`: the error code of each record sent to the dead-letter queue."""
        self.records.inc(records)
        self.applied.inc(applied)
        self.duplicates.inc(duplicates)
        for reason in dead_reasons:
            self.dead.labels(reason=reason).inc()
        self.batch_seconds.observe(seconds)
        self.batch_size.observe(records)

    def observe_fresh(self, table: str, seconds: float) -> None:
        self.read_fresh.labels(table=table).observe(seconds)

    def observe_redrive(self, applied: int, still_rejected: int) -> None:
        self.redriven.inc(applied)
        self.redrive_rejected.inc(still_rejected)

    def set_lag(self, lag_by_partition: Mapping[int, int]) -> None:
        for partition, lag in lag_by_partition.items():
            self.lag.labels(partition=str(partition)).set(lag)

    def replace_units(self, rows: Iterable[UnitGaugeRow]) -> None:
        """Export exactly these units (computed by service/unit_gauges.py from the shared read tables)."""
        rows = list(rows)  # computed before clearing: a scrape never sees half a set
        for gauge in (self.unit_score, self.unit_rate, self.unit_live):
            gauge.clear()
        for row in rows:
            if row.score is not None:
                self.unit_score.labels(unit_id=row.unit_id, level=row.level).set(row.score)
            for name, value in row.rates.items():
                if value is not None:
                    self.unit_rate.labels(unit_id=row.unit_id, level=row.level, rate=name).set(value)
            for name, count in row.live:
                self.unit_live.labels(unit_id=row.unit_id, level=row.level, counter=name).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = ScoringMetrics()
