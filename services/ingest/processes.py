"""Several ingest processes on one port (`INGEST_PROCESSES` > 1): a launcher and what each worker needs from it.

Why not uvicorn's own `--workers`: its workers share ONE listening socket, and when eight keep-alive clients connect
at once the first worker to wake accepts most of them (libuv accepts until the backlog is empty), so one process
ends up serving the load. Here each worker binds its own socket with SO_REUSEPORT and the kernel spreads new
connections over them by a hash of the address pair. What the launcher keeps from uvicorn is the server itself; the
supervision (restart a dead worker, stop them all on SIGTERM) is ~100 lines.

Shared state lives in one directory (`PROMETHEUS_MULTIPROC_DIR`, emptied at start): prometheus_client's multiprocess
files, so `/metrics` from any worker adds up every worker's counters, and one `ready-<pid>` file per worker that
finished its start-up, so `/readyz` from any worker says whether all of them are serving.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import multiprocess

log = logging.getLogger("ingest.processes")

WORKER_ENV = "TTHC_INGEST_WORKER"
"""Set (to the launcher's pid) in a worker's environment: `python -m services.ingest` then serves, never launches."""
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable, read when it is imported
_READY_PREFIX = "ready-"
_STOP_GRACE_S = 15.0  # a worker's graceful stop: uvicorn's 10 s for in-flight requests, then the producer flush
_RESTART_DELAY_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class WorkerSet:
    """What a worker knows of its siblings: how many there should be and the directory they share."""

    expected: int
    directory: Path
    launcher_pid: int

    @classmethod
    def from_environment(cls, expected: int) -> WorkerSet | None:
        launcher = os.environ.get(WORKER_ENV)
        directory = os.environ.get(MULTIPROC_ENV)
        if not launcher or not directory:
            return None
        return cls(expected, Path(directory), int(launcher))

    def mark_ready(self) -> None:
        (self.directory / f"{_READY_PREFIX}{os.getpid()}").touch()

    def mark_stopping(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{_READY_PREFIX}{os.getpid()}").unlink()

    def ready_count(self) -> int:
        """Workers that finished starting and still run (a killed worker's file stays until the launcher sees it)."""
        return sum(1 for pid in _ready_pids(self.directory) if _alive(pid))

    async def all_ready(self) -> bool:
        return self.ready_count() >= self.expected

    def describe(self) -> str:
        return f"{self.ready_count()} of {self.expected} ingest processes ready"

    def watch_launcher(self) -> None:
        """Stop this worker gracefully (SIGTERM to itself) if the launcher dies (e.g. kill -9): no orphan keeps
        serving the port, and what it acknowledged is flushed first."""

        def watch() -> None:
            while os.getppid() == self.launcher_pid:
                time.sleep(0.5)
            log.warning("the ingest launcher (pid %d) is gone: stopping", self.launcher_pid)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT: every worker binds its own; the kernel balances connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock


def _ready_pids(directory: Path) -> list[int]:
    pids = []
    for path in directory.glob(f"{_READY_PREFIX}*"):
        with contextlib.suppress(ValueError):
            pids.append(int(path.name.removeprefix(_READY_PREFIX)))
    return pids


def _alive(pid: int) -> bool:
    """Whether the process runs. A killed worker stays a zombie until the launcher reaps it (it looks every 0.2 s),
    and signal 0 still reaches a zombie: without the state check `/readyz` counted a dead worker ready meanwhile."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no procfs here, or the process just went: signal 0's answer stands
        return True
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X")  # the state follows the command name "(...)"


def _port_is_free(host: str, port: int) -> bool:
    """SO_REUSEPORT would let a leftover process of ours share the port silently: refuse to start instead, as a
    single process would (a plain bind fails while anything listens there)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


@dataclass
class _Slot:
    process: subprocess.Popen[bytes] | None = None
    ever_ready: bool = False
    failures: int = 0
    restart_at: float = 0.0


@dataclass
class Launcher:
    """Runs `count` workers (`python -m services.ingest` with WORKER_ENV set) and keeps them running."""

    count: int
    host: str
    port: int
    slots: list[_Slot] = field(default_factory=list)
    directory: Path | None = None
    _owns_directory: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        if not _port_is_free(self.host, self.port):
            print(f"ingest: {self.host}:{self.port} is already in use", file=sys.stderr)
            return 1
        self.directory = self._prepare_directory()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        try:
            self.slots = [_Slot() for _ in range(self.count)]
            for slot in self.slots:
                self._spawn(slot)
            log.info("ingest launcher %d: %d processes on %s:%d", os.getpid(), self.count, self.host, self.port)
            while not self._stop.wait(0.2):
                if (code := self._tend()) is not None:
                    return code
            return 0
        finally:
            self._stop_all()
            if self._owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def _prepare_directory(self) -> Path:
        if configured := os.environ.get(MULTIPROC_ENV):
            directory = Path(configured)
            directory.mkdir(parents=True, exist_ok=True)
            # A previous run's counters would be added to this run's (prometheus_client documents wiping it).
            for stale in directory.iterdir():
                if stale.is_file() and (stale.suffix == ".db" or stale.name.startswith(_READY_PREFIX)):
                    stale.unlink()
            return directory
        self._owns_directory = True
        return Path(tempfile.mkdtemp(prefix="tthc-ingest-"))

    def _spawn(self, slot: _Slot) -> None:
        assert self.directory is not None
        env = {**os.environ, WORKER_ENV: str(os.getpid()), MULTIPROC_ENV: str(self.directory)}
        slot.process = subprocess.Popen([sys.executable, "-m", "services.ingest"], env=env)
        slot.ever_ready = False

    def _tend(self) -> int | None:
        """Notice workers that finished starting or died; restart the dead. A code when the launcher must stop."""
        assert self.directory is not None
        ready = set(_ready_pids(self.directory))
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is None:
                if now >= slot.restart_at:
                    self._spawn(slot)
                continue
            if process.pid in ready and not slot.ever_ready:
                slot.ever_ready, slot.failures = True, 0
            code = process.poll()
            if code is None:
                continue
            self._forget(process.pid)
            slot.process = None
            if not slot.ever_ready and all(other.failures == 0 and not other.ever_ready for other in self.slots):
                # Nothing ever started (bad settings, missing topic, port taken): restarting would fail alike.
                log.error("ingest process %d failed to start (code %s): stopping", process.pid, code)
                return 1
            slot.failures += 1
            delay = min(_RESTART_DELAY_MAX_S, 0.5 * 2 ** (slot.failures - 1))
            slot.restart_at = now + delay
            log.warning("ingest process %d exited (code %s); restarting in %.1f s", process.pid, code, delay)
        return None

    def _forget(self, pid: int) -> None:
        assert self.directory is not None
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{_READY_PREFIX}{pid}").unlink()
        # Its counters stay (they were counted); its live gauges go.
        multiprocess.mark_process_dead(pid, str(self.directory))

    def _stop_all(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("ingest process %d did not stop in %.0f s: killing", process.pid, _STOP_GRACE_S)
                process.kill()
                process.wait()
