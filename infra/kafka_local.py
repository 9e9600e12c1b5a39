"""A single-node Apache Kafka (KRaft, combined broker+controller) from Maven Central jars, run with the machine's Java.

The broker's jars are resolved by `infra/kafka/pom.xml` and copied into `var/cache/kafka-libs` once; a stamp file
keyed by the POM's hash makes later runs skip Maven entirely.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from infra import paths
from shared.kafka import TOPIC_MAX_MESSAGE_BYTES, TOPIC_SPECS, create_topics


@dataclass(frozen=True)
class KafkaPorts:
    broker: int = 9092
    controller: int = 9093

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker}"


def _pom_stamp() -> str:
    return hashlib.sha256(paths.KAFKA_POM.read_bytes()).hexdigest()[:16]


def jars_ready() -> bool:
    return (paths.KAFKA_LIBS / f".complete-{_pom_stamp()}").exists()


async def ensure_jars() -> None:
    """Download the broker's jars with Maven (output streamed, so progress is visible) unless cached."""
    if jars_ready():
        return
    if shutil.which("mvn") is None:
        raise SystemExit("Maven (mvn) is required to fetch the Kafka broker jars: apt-get install maven")
    if shutil.which("java") is None:
        raise SystemExit("Java 17+ is required to run the Kafka broker: apt-get install openjdk-17-jre-headless")
    staging = paths.KAFKA_LIBS.with_name("kafka-libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    print("kafka-jars | fetching Apache Kafka jars from Maven Central (first run only)...", flush=True)
    proc = await asyncio.create_subprocess_exec(
        "mvn", "-B", "-f", str(paths.KAFKA_POM), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    output: list[str] = []
    async for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip()
        output.append(line)
        # Downloads and copies show progress; the rest of Maven's chatter stays in the log on failure.
        if "Downloaded from" in line or "ERROR" in line or "BUILD" in line:
            print(f"kafka-jars | {line}", flush=True)
    if await proc.wait() != 0:
        sys.stderr.write("\n".join(output[-60:]) + "\n")
        raise SystemExit("Maven could not fetch the Kafka jars (see above)")
    shutil.rmtree(paths.KAFKA_LIBS, ignore_errors=True)
    staging.rename(paths.KAFKA_LIBS)
    (paths.KAFKA_LIBS / f".complete-{_pom_stamp()}").touch()


def _server_properties(ports: KafkaPorts, data_dir: Path | None = None) -> str:
    data = (data_dir or paths.KAFKA_DATA) / "data"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{ports.controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{ports.broker},CONTROLLER://127.0.0.1:{ports.controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{ports.broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "12",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Tests create many short-lived topics; the broker must not create topics behind a typo's back.
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.retention.hours": "168",
        "message.max.bytes": str(TOPIC_MAX_MESSAGE_BYTES),  # shared/kafka.py sets every size limit
        # The log cleaner (it compacts only __consumer_offsets here) allocates this on the heap at start and keeps
        # it for good. Kafka's 128 MiB default was most of a 256 MiB heap's old generation, so G1 ran above its
        # marking threshold all the time and every large produce request started a marking cycle (docs/
        # benchmarks.md, session 8 "ingest"). 16 MiB holds ~700,000 offsets keys per cleaning pass.
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


# The broker's heap (Kafka's own scripts also fix -Xms = -Xmx). Regions of 8 MiB, not G1's 1 MiB for this heap
# size: an object of half a region or more is "humongous" (allocated straight in the old generation, and each one
# may start a young pause and a concurrent mark), and the broker reads every produce request into one array of
# its size. Ingest's requests carry every waiting request's records (0.5–1 MiB in the benchmark): with 1 MiB
# regions each was humongous, and the broker spent 20–38 µs of CPU per event, mostly in G1 (docs/benchmarks.md,
# session 8 "ingest"); under 4 MiB they are ordinary young objects.
BROKER_JVM = ("-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=8m")
TOOL_JVM = ("-Xms256m", "-Xmx768m", "-XX:+UseG1GC")  # StorageTool: as before


def _java_argv(main_class: str, *args: str, jvm: tuple[str, ...] = TOOL_JVM) -> list[str]:
    return [
        "java", *jvm, "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={paths.KAFKA_LOG4J}",
        "-cp", f"{paths.KAFKA_LIBS}/*", main_class, *args,
    ]  # fmt: skip


async def prepare(ports: KafkaPorts, data_dir: Path | None = None) -> list[str]:
    """Write server.properties, format KRaft storage once; return the broker's command line.

    `data_dir` (default `var/kafka`) lets a test run a private broker of its own beside the shared one.
    """
    await ensure_jars()
    home = data_dir or paths.KAFKA_DATA
    home.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    properties.write_text(_server_properties(ports, data_dir))
    if not (home / "data" / "meta.properties").exists():
        # A KRaft cluster id is a base64url UUID without padding, which is what StorageTool random-uuid prints.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        while cluster_id.startswith("-"):  # StorageTool would read "-xyz…" as an option (1 run in 64)
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        proc = await asyncio.create_subprocess_exec(
            *_java_argv("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties),
                        "--ignore-formatted"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"formatting Kafka storage failed:\n{out.decode(errors='replace')}")
    return _java_argv("kafka.Kafka", str(properties), jvm=BROKER_JVM)


async def wait_ready(bootstrap: str, timeout_s: float = 120.0) -> None:
    """Ready = an admin client completes a metadata round-trip with the broker."""
    # While the broker boots, aiokafka logs every refused connection; those are expected here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    deadline = asyncio.get_running_loop().time() + timeout_s
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {bootstrap} not ready after {timeout_s:.0f}s: {last_error!r}")


async def ensure_topics(bootstrap: str) -> None:
    """Create the product's topics (SPEC: dossier-events with 12 partitions, its DLQ, unit-indicators)."""
    await create_topics(bootstrap, TOPIC_SPECS, if_missing=True)


def reset_data() -> None:
    shutil.rmtree(paths.KAFKA_DATA, ignore_errors=True)


def env_var_points_elsewhere() -> bool:
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
