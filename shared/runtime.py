"""Running a service process: logging, fail-fast settings, uvicorn with graceful shutdown."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from uvicorn.config import STARTUP_FAILURE

S = TypeVar("S")


def load_settings(factory: Callable[[], S], service: str) -> S:
    """Build the settings or exit with one clear line per bad variable (fail fast, before any connection)."""
    try:
        return factory()
    except ValidationError as exc:
        lines = [f"{service}: invalid configuration:"]
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "?"
            lines.append(f"  {name}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def configure_logging(level: str, service: str) -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def serve(
    app: FastAPI,
    host: str,
    port: int,
    log_level: str,
    *,
    fast_io: bool = False,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Run uvicorn; SIGTERM/SIGINT stop it gracefully (lifespan shutdown closes pools and brokers).

    Uvicorn re-raises the signal it caught once shutdown is complete; with these handlers in place that ends the
    process with status 0 (a requested, clean stop) instead of "killed by SIGTERM".

    `fast_io`: uvloop and the httptools parser (C) instead of asyncio's loop and h11 (pure Python) — what the
    scoring read API needs to answer a thousand requests a second, and ingest uses for its 500-event bodies
    (docs/benchmarks.md); alerts keeps the defaults, named explicitly so that installing the two packages does not
    change them.

    `sockets`: serve on these already bound sockets instead of binding host:port (ingest's processes sharing a
    port, services/ingest/processes.py).
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
        loop="uvloop" if fast_io else "asyncio",
        http="httptools" if fast_io else "h11",
    )
    # What uvicorn.run does for one process, with the sockets passed on.
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
