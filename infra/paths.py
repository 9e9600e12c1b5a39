"""Where the local stack keeps its caches, data, logs and PID records (all under the repository's `var/`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("TTHC_VAR_DIR", REPO_ROOT / "var")).resolve()

# Downloaded jars can be shared between stacks (e.g. a nested stack in the tests) without re-fetching.
CACHE = Path(os.environ.get("TTHC_CACHE_DIR", VAR / "cache")).resolve()
KAFKA_LIBS = CACHE / "kafka-libs"
KAFKA_DATA = VAR / "kafka"
PG_DATA = VAR / "postgres"
LOGS = VAR / "log"
RUN = VAR / "run"
STACK_RECORD = RUN / "stack.json"
ADMIN_TOKEN_FILE = RUN / "admin_token"
DEMO_API_KEY_FILE = RUN / "demo_api_key"

KAFKA_POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
KAFKA_LOG4J = REPO_ROOT / "infra" / "kafka" / "log4j2.properties"


def ensure_dirs() -> None:
    for folder in (CACHE, KAFKA_DATA, LOGS, RUN):
        folder.mkdir(parents=True, exist_ok=True)
