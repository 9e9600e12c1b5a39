"""The scoring service's one settings class (environment variables; bad values fail at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from services.scoring.domain.catch_up import CATCHING_UP_AFTER_S
from shared.kafka import DOSSIER_EVENTS, DOSSIER_EVENTS_DLQ, UNIT_INDICATORS
from shared.settings import AdminSettingsMixin, ServiceSettings, retry_after_settings, seconds_setting

REPO_ROOT = Path(__file__).resolve().parents[2]
ScoringRole = Literal["all", "api", "consumer"]
APPLYING_ROLES = frozenset({"all", "consumer"})
"""Roles that consume `dossier-events` and apply batches (the others only read)."""


class ScoringSettings(ServiceSettings, AdminSettingsMixin, retry_after_settings("the database")):
    scoring_port: Annotated[int, Field(ge=1, le=65535, description="HTTP port (SPEC §0)")] = 8002
    # Applying a batch is Python work on the process's one event loop: readers served by the same process wait
    # behind it (p99 6 s during a back-fill, docs/benchmarks.md). An `api` process never applies, so its readers
    # never wait behind a batch; it learns of committed batches through PostgreSQL NOTIFY (adapters/figures_notify).
    scoring_role: Annotated[
        ScoringRole,
        Field(
            description="What this process does: all (consume and apply dossier-events, publish unit-indicators, "
            "serve the API), api (serve the API, the dashboard and /v1/stream only: no consumer, so readers never "
            "wait behind a batch), consumer (consume, apply and publish; serves the same API, read tables not warmed)"
        ),
    ] = "all"
    # During a back-fill the applying processes' Python work competes with the API process for the cores, and the
    # readers lose (p99 2.7 s at 500 requests/s, docs/benchmarks.md). Applying processes started nicer let the
    # scheduler give the API process the CPU whenever it has a request: applying slows a little, readers do not.
    process_nice: Annotated[
        int,
        Field(
            ge=0,
            le=19,
            description="Added to this process's niceness at start (os.nice, and its autogroup's nice when it "
            "leads its session, as every local-stack service does: shared/priority.py; 0: unchanged). The local "
            "stack starts its applying processes at 10 so that the API process wins the cores during a back-fill",
        ),
    ] = 0
    # A process that serves readers refreshes its read tables and bodies in worker threads. Pure-Python work there
    # holds the GIL, and the event loop gives the GIL up at every system call (epoll, recv, send) and then waits up
    # to this interval to get it back: with CPython's 5 ms, a request of 0.2 ms of CPU took tens of milliseconds
    # while a back-fill kept the refresh threads busy (docs/benchmarks.md). The local stack's API process uses 0.5 ms.
    gil_switch_interval_s: float = seconds_setting(
        0.005,
        "The interpreter's thread switch interval (sys.setswitchinterval, s): how long the event loop may wait for "
        "the GIL while a worker thread refreshes read tables",
        le=0.1,
        ge=0.0001,
    )
    events_topic: Annotated[str, Field(description="Topic of dossier status events")] = DOSSIER_EVENTS
    dlq_topic: Annotated[str, Field(description="Topic invalid records are copied to")] = DOSSIER_EVENTS_DLQ
    indicators_topic: Annotated[str, Field(description="Topic unit indicators are published to")] = UNIT_INDICATORS
    consumer_group: Annotated[str, Field(min_length=1, description="Kafka consumer group")] = "scoring"
    # 40,000: bigger batches share the per-batch costs (commit, the locking select, counter rows of busy units)
    # over more records. With the narrow dossier row, two processes at 40,000 made 25–27 k events/s against
    # 20–21 k at 20,000 in back-to-back pairs, at the same ≈ 240 MB peak RSS (docs/benchmarks.md). Live traffic
    # rarely fills a batch: it is taken as it comes (batch_timeout_ms).
    batch_max_records: Annotated[int, Field(ge=1, le=50_000, description="Records per consumed batch")] = 40_000
    batch_timeout_ms: Annotated[int, Field(ge=1, le=10_000, description="Wait for a batch to fill")] = 200
    # A batch is what the fetcher holds when the applier asks: one fetch per partition, each at most this many bytes.
    # At aiokafka's 1 MiB a process of six partitions got ≈ 22,000 records (≈ 315 bytes each) per batch, never the
    # 40,000 asked for; bigger batches hold more of each dossier's events, so fewer merges and row rewrites per event
    # (docs/benchmarks.md, session 9). Live traffic never fills a fetch, so it changes nothing there.
    fetch_partition_bytes: Annotated[
        int,
        Field(
            ge=1 << 20,
            le=64 << 20,
            description="Most bytes fetched per partition per request (aiokafka's max_partition_fetch_bytes): with "
            "records of ~300 bytes, 4 MiB lets a process of a few partitions fill BATCH_MAX_RECORDS",
        ),
    ] = 4 << 20
    # aiokafka builds a ConsumerRecord per record in interpreted code (≈ 1.5–2 µs each); the hook takes a fetched
    # partition's records in one compiled pass instead (adapters/kafka_fetch.py), and leaves aiokafka alone by itself
    # when its internals are not what it expects.
    fast_fetch: Annotated[
        bool,
        Field(
            description="Consumed records taken from aiokafka's fetch responses in one compiled pass, as named tuples "
            "with ConsumerRecord's fields (false: aiokafka's own ConsumerRecord per record)"
        ),
    ] = True
    profile_path: Annotated[Path, Field(description="Score profile YAML (SPEC §5), reloaded when it changes")] = (
        REPO_ROOT / "config" / "score_profile.yaml"
    )
    # Each publication re-reads every level's live figures over all open dossiers; at full load a 1 s interval
    # cost PostgreSQL ~5 µs per applied event (docs/benchmarks.md). API reads are live regardless.
    indicators_interval_s: float = seconds_setting(
        5.0, "Least time between two unit-indicators publications", le=60, ge=0.05
    )
    # Read tables (a month's figures, a level's ranking) are recomputed when a committed batch changes them — this
    # process's at once, the others' through NOTIFY — and served while recomputed; this bounds the age of a table
    # nothing invalidated (a notification lost while the listener reconnected).
    read_cache_ttl_s: float = seconds_setting(
        30.0, "Longest time a read table is served without being recomputed (s)", le=3600, ge=0
    )
    # How soon a committed batch reaches the readers: a changed read table is recomputed in the background at most
    # once per this interval (a back-fill commits many batches a second; each recomputation reads the month's
    # counters and the open dossiers). The local stack's API process, which does nothing else, uses 0.2 s.
    read_refresh_s: float = seconds_setting(
        1.0,
        "Least time between two background recomputations of one read table (s): how old the figures served "
        "may be after a change",
        le=60,
        ge=0.05,
    )
    # Every stored read table changes the readers' token (entrypoints/ready_responses.py), and a request whose token
    # changed goes through the framework's routing (~5x the CPU of the fast path). During a back-fill tables are
    # stored dozens of times a second; this spaces the token's changes (the first change after a quiet spell is
    # at once, so a lone live event is not delayed). 0: every change at once.
    # The background refreshes of read tables and bodies, all keys together, may take at most about
    # 1 / (1 + this) of the process's time while commits arrive continuously (service/refresh_budget.py): after
    # refresh work costing t CPU seconds, the next waits this × t; background refreshes take one turn at a time, and a
    # piece of refresh work waits at most 0.15 s for its turn and rest together (bounded staleness).
    read_refresh_rest: Annotated[
        float,
        Field(
            ge=0,
            le=20,
            description="Seconds of rest owed by the background refreshes of read tables and bodies per CPU second "
            "they spent (0: no budget); background refreshes run one at a time, and a piece of refresh work "
            "waits at most 0.15 s for its turn and its rest",
        ),
    ] = 2.0
    read_token_min_s: float = seconds_setting(
        0.0,
        "Least time between two changes of the readers' token (s): a ready response may be served this much "
        "longer after its tables changed, while changes come faster than this",
        le=5,
        ge=0,
    )
    # Live figures (overdue, due soon) depend on the time; they are computed as of the start of a tick, so that every
    # scoring process shows the same figures and ETags within a tick, and a body keeps its ETag for a tick at least.
    # Live traffic is applied seconds after ingestion; a batch whose newest event is older than this is a back-fill,
    # a replay or an outage's backlog, and the unit-indicators published meanwhile carry `catching_up` (alerts take
    # no growth samples from them, docs/alerts.md §2.1).
    catching_up_after_s: float = seconds_setting(
        CATCHING_UP_AFTER_S,
        "A batch whose newest event was ingested longer ago than this is catching up: the unit-indicators published "
        "meanwhile say so (catching_up) and alerts take no growth samples from them",
        le=86_400,
        ge=1,
    )
    live_tick_s: float = seconds_setting(
        5.0, "Live figures are computed as of the start of such a tick (s)", le=3600, ge=0.5
    )
    alerts_public_url: Annotated[
        str,
        Field(
            pattern=r"^https?://[^\s]+$",
            description="Base URL of the alerts service as the dashboard's browser reaches it (alerts panel, "
            "/dashboard/config.json); checked to be this stack's alerts. The local stack derives it from ALERTS_PORT",
        ),
    ] = "http://127.0.0.1:8003"
    alerts_check_interval_s: float = seconds_setting(
        30.0,
        "How often ALERTS_PUBLIC_URL's /healthz identity is checked; another service or another "
        "stack's alerts there makes readiness false (not answering does not)",
        le=3600,
    )

    @field_validator("profile_path")
    @classmethod
    def _profile_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"score profile file not found: {value}")
        return value
