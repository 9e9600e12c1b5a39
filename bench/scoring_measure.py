"""Measurements of the scoring benchmark: one scoring process timed until its group has committed the end of the
topic (with its RSS and the CPU of PostgreSQL and Kafka sampled meanwhile), and the raw aiokafka consume rate."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from bench.scoring_setup import REPO_ROOT

SAMPLE_EVERY_S = 0.5
CPU_SAMPLE_EVERY = 6  # samples between two CPU readings (every ~3 s)
STALL_S = 120.0  # no commit for this long (after the first) means the scoring process is stuck: give up


@dataclass
class Progress:
    """(seconds since the process started, records committed by the group)."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    cpu: list[tuple[int, float, float, float]] = field(default_factory=list)
    """(records committed, CPU seconds of every scoring process, of PostgreSQL, of Kafka) every few seconds."""

    def cpu_per_event_between(self, low: int, high: int) -> tuple[float, float, float] | None:
        """µs of scoring CPU (all processes), PostgreSQL CPU and Kafka CPU per event between two committed counts
        (nearest samples)."""
        start = next((c for c in self.cpu if c[0] >= low), None)
        end = next((c for c in self.cpu if c[0] >= high), None)
        if start is None or end is None or end[0] <= start[0]:
            return None
        events = end[0] - start[0]
        return tuple((end[i] - start[i]) / events * 1e6 for i in (1, 2, 3))  # type: ignore[return-value]

    def time_at(self, count: int) -> float | None:
        """When the committed count first reached `count` (linear between samples)."""
        previous = (0.0, 0)
        for moment, done in self.samples:
            if done >= count:
                (t0, c0), (t1, c1) = previous, (moment, done)
                return t1 if c1 == c0 else t0 + (t1 - t0) * (count - c0) / (c1 - c0)
            previous = (moment, done)
        return None

    def rate_between(self, low: int, high: int) -> float | None:
        start, end = self.time_at(low) if low else self.first_commit_time(), self.time_at(high)
        if start is None or end is None or end <= start:
            return None
        first_count = low if low else self.first_commit_count()
        return (high - first_count) / (end - start)

    def first_commit_time(self) -> float | None:
        return next((moment for moment, done in self.samples if done > 0), None)

    def first_commit_count(self) -> int:
        return next((done for _, done in self.samples if done > 0), 0)


@dataclass
class ScoringRun:
    total: int
    startup_s: float
    """From spawning the process to its first commit (imports, pool, registry, group join)."""
    consume_s: float
    """From the first commit seen to the last: the steady part the rate is computed on."""
    events_per_s: float
    wall_events_per_s: float
    peak_rss_mb: float
    """VmHWM of the process (kernel-tracked peak), read just before stopping it."""
    max_sampled_rss_mb: float
    process_cpu_s: float
    all_processes_cpu_s: float
    """CPU of every scoring process of the run (the first one and the --processes extras)."""
    peak_rss_mb_each: list[float]
    postgres_cpu_s: float
    kafka_cpu_s: float
    machine_busy: float
    """Share of both cores busy during the consuming part (1.0 = both saturated)."""
    per_million: list[float]
    cpu_per_million: list[tuple[float, float, float]]
    """µs per event of scoring CPU (all processes), PostgreSQL CPU and Kafka CPU, for each million (robust to other
    load on the machine)."""
    progress: Progress
    output_tail: list[str]
    compiled_each: list[bool]
    """Per process: whether it had mypyc-compiled modules loaded at its first commit (services/scoring/compiled.py)."""
    settle: dict[str, float | bool] | None = None
    """After the end was committed: how long until `settle()` said so, and the CPU meanwhile (not in the above)."""


async def committed_total(admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]) -> int:
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    except GroupCoordinatorNotAvailableError:  # a fresh broker creates __consumer_offsets on the first group
        return 0
    return sum(meta.offset for tp, meta in offsets.items() if meta is not None and meta.offset > 0)


async def end_offsets(bootstrap: str, topic: str) -> tuple[list[TopicPartition], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return partitions, sum(ends.values())


def listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port: THIS run's PostgreSQL or Kafka, not the other servers of a shared
    machine (every helper runs its own; matching by process name counted all of them)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def server_cpu_s(pid: int | None) -> float:
    """CPU seconds so far of a server and its processes: its own, its live children's (PostgreSQL backends,
    autovacuum workers) and its reaped children's (a backend that ended counts in the postmaster's children_*)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
    except psutil.Error:
        return 0.0
    return total


def _runs_compiled(pid: int) -> bool:
    """Whether a process has a mypyc group's shared library mapped (read once it is consuming)."""
    with contextlib.suppress(OSError):
        return "__mypyc" in Path(f"/proc/{pid}/maps").read_text()
    return False


def _peak_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _pump(stream: asyncio.StreamReader, sink: list[str]) -> None:
    async for raw in stream:
        sink.append(raw.decode("utf-8", "replace").rstrip())
        del sink[:-200]


async def run_scoring(
    env: dict[str, str],
    bootstrap: str,
    topic: str,
    group: str,
    profile: str | None,
    profile_out: Path | None,
    extra_processes: int = 0,
    code_root: Path = REPO_ROOT,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
    pg_port: int = 55432,
    kafka_port: int = 9092,
    settle: Callable[[], Awaitable[bool]] | None = None,
    settle_s: float = 0.0,
) -> ScoringRun:
    """Time the group to the end offsets. `extra_processes` more scoring processes join the same consumer group
    (throughput is the group's; CPU per million is every process's). `code_root` is the checkout whose scoring
    service runs (another commit's, for a before/after pair); `on_progress(committed)` is awaited at every sample."""
    partitions, total = await end_offsets(bootstrap, topic)
    command = [sys.executable]
    if profile == "pyinstrument":
        assert profile_out is not None
        command += ["-m", "pyinstrument", "-r", "text", "--show-all", "-o", str(profile_out)]
    elif profile == "cprofile":
        assert profile_out is not None
        command += ["-m", "cProfile", "-o", str(profile_out)]
    command += ["-m", "services.scoring"]
    postgres_pid, kafka_pid = listening_pid(pg_port), listening_pid(kafka_port)
    pg_before, kafka_before = server_cpu_s(postgres_pid), server_cpu_s(kafka_pid)
    machine_before = psutil.cpu_times()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=code_root, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output: list[str] = []
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, output))
    # The other processes' output, kept for a run that went wrong (var/log/bench-extra-N.log, overwritten).
    (REPO_ROOT / "var" / "log").mkdir(parents=True, exist_ok=True)
    extra_logs = [(REPO_ROOT / "var" / "log" / f"bench-extra-{n + 1}.log").open("wb") for n in range(extra_processes)]
    extras = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.scoring",
            cwd=code_root,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1", "SCORING_PORT": str(_free_port())},
            stdout=extra_log,
            stderr=asyncio.subprocess.STDOUT,
        )
        for extra_log in extra_logs
    ]
    watched = psutil.Process(process.pid)
    every = [watched, *(psutil.Process(extra.pid) for extra in extras)]
    progress = Progress()
    max_rss = 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    machine_at_first: psutil._common.scputimes | None = None
    compiled_each: list[bool] = []
    try:
        while True:
            if process.returncode is not None:
                raise RuntimeError("scoring exited early:\n" + "\n".join(output[-40:]))
            with contextlib.suppress(psutil.Error):
                max_rss = max(max_rss, watched.memory_info().rss)
            done = await committed_total(admin, group, partitions)
            now = time.perf_counter() - started
            if progress.samples and done == progress.samples[-1][1]:
                stalled = next((t for t, d in reversed(progress.samples) if d != done), 0.0)
                if now - stalled > STALL_S:
                    raise RuntimeError(f"no progress for {STALL_S:.0f} s:\n" + "\n".join(output[-40:]))
            progress.samples.append((now, done))
            if len(progress.samples) % CPU_SAMPLE_EVERY == 1 or done >= total:
                with contextlib.suppress(psutil.Error):
                    scoring = sum(sum(p.cpu_times()[:2]) for p in every)
                    postgres, kafka = server_cpu_s(postgres_pid), server_cpu_s(kafka_pid)
                    progress.cpu.append((done, scoring, postgres, kafka))
            if on_progress is not None:
                await on_progress(done)
            if done > 0 and machine_at_first is None:
                machine_at_first = psutil.cpu_times()
                compiled_each = [_runs_compiled(p.pid) for p in every]
            if done >= total:
                break
            await asyncio.sleep(SAMPLE_EVERY_S)
        finished = time.perf_counter() - started
        machine_after = psutil.cpu_times()
        peak = _peak_rss_mb(process.pid)
        cpu = watched.cpu_times()
        extra_peaks, extra_cpu_s = [], 0.0
        for extra in extras:
            with contextlib.suppress(psutil.Error):
                extra_peaks.append(_peak_rss_mb(extra.pid))
                times = psutil.Process(extra.pid).cpu_times()
                extra_cpu_s += times.user + times.system
        pg_after, kafka_after = server_cpu_s(postgres_pid), server_cpu_s(kafka_pid)
        settled = await _settle(settle, settle_s, every, postgres_pid) if settle is not None and settle_s > 0 else None
    finally:
        for extra_log in extra_logs:
            extra_log.close()
        await admin.close()
        for extra in extras:
            if extra.returncode is None:
                extra.send_signal(signal.SIGINT)
        for extra in extras:
            try:
                await asyncio.wait_for(extra.wait(), 60)
            except TimeoutError:
                extra.kill()
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # graceful: uvicorn shuts down, a profiler writes its report
            try:
                await asyncio.wait_for(process.wait(), 120)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pump, 5)

    first_time = progress.first_commit_time() or 0.0
    steady = finished - first_time
    busy_base = machine_at_first or machine_before
    idle = (machine_after.idle - busy_base.idle) + (machine_after.iowait - busy_base.iowait)
    elapsed_cores = sum(machine_after) - sum(busy_base)
    per_million = []
    cpu_per_million: list[tuple[float, float, float]] = []
    for million in range(1_000_000, total + 1, 1_000_000):
        rate = progress.rate_between(million - 1_000_000, million)
        per_million.append(round(rate or 0.0))
        segment_cpu = progress.cpu_per_event_between(million - 1_000_000, million)
        cpu_per_million.append(tuple(round(x, 1) for x in segment_cpu) if segment_cpu else (0.0, 0.0, 0.0))
    del machine_before
    return ScoringRun(
        total=total,
        startup_s=first_time,
        consume_s=steady,
        events_per_s=(total - progress.first_commit_count()) / steady if steady > 0 else 0.0,
        wall_events_per_s=total / finished,
        peak_rss_mb=peak,
        max_sampled_rss_mb=max_rss / 2**20,
        process_cpu_s=cpu.user + cpu.system,
        all_processes_cpu_s=cpu.user + cpu.system + extra_cpu_s,
        peak_rss_mb_each=[peak, *extra_peaks],
        postgres_cpu_s=pg_after - pg_before,
        kafka_cpu_s=kafka_after - kafka_before,
        machine_busy=1 - idle / elapsed_cores if elapsed_cores else 0.0,
        per_million=per_million,
        cpu_per_million=cpu_per_million,
        progress=progress,
        output_tail=output[-200:],
        compiled_each=compiled_each,
        settle=settled,
    )


async def _settle(
    settled: Callable[[], Awaitable[bool]], limit_s: float, processes: list[psutil.Process], postgres_pid: int | None
) -> dict[str, float | bool]:
    """After the end offsets are committed, the processes left running until `settled()` (e.g. the dossiers
    vacuumed after the back-fill) or `limit_s`: the CPU of that time, apart from the run's."""
    started = time.perf_counter()
    scoring_before, pg_before = _cpu_of(processes), server_cpu_s(postgres_pid)
    done = False
    while time.perf_counter() - started < limit_s:
        if done := await settled():
            break
        await asyncio.sleep(SAMPLE_EVERY_S)
    scoring_after = _cpu_of(processes)
    return {
        "settled": done,
        "processes_alive": sum(p.is_running() for p in processes),
        "seconds": round(time.perf_counter() - started, 1),
        "scoring_cpu_s": round(scoring_after - scoring_before, 2),
        "postgres_cpu_s": round(server_cpu_s(postgres_pid) - pg_before, 2),
    }


def _cpu_of(processes: list[psutil.Process]) -> float:
    """CPU seconds of the processes still running."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += sum(process.cpu_times()[:2])
    return total


@dataclass
class RawRun:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


async def raw_consume(bootstrap: str, topic: str, max_records: int) -> RawRun:
    """A plain aiokafka consumer, no group, no processing: getmany until every partition's end offset."""
    partitions, total = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        started = time.perf_counter()
        while count < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            for records in batch.values():
                count += len(records)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return RawRun(count, seconds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
