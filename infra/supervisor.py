"""A small asyncio process supervisor for the local stack.

Why not honcho: the stack must start children in dependency order, wait for each to be *ready* (a real client
round-trip, not a sleep), give PostgreSQL and Kafka their own stop signals and grace periods, and record PIDs so
that `make down` and a crashed run's successor can find and stop them. Honcho starts a flat Procfile at once and
has none of that, so ~150 lines of asyncio are the smaller dependency.

Every child runs in its own session (process group), so stopping it also stops anything it spawned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import psutil

from infra import paths

_COLOURS = ["36", "35", "33", "32", "34", "91", "96", "93"]


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_signal: signal.Signals = signal.SIGTERM
    stop_grace_s: float = 20.0
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    log: TextIO | None = None
    expected_exit: bool = False
    critical: bool = True
    """A critical child's unexpected exit stops the whole stack; another's is only reported."""


@dataclass
class Supervisor:
    """Starts children, prefixes and tees their output, records their PIDs, stops them in reverse order."""

    quiet_prefixes: tuple[str, ...] = ()
    children: list[Child] = field(default_factory=list)
    _colour_index: int = 0

    async def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_grace_s: float = 20.0,
        echo: bool = True,
        critical: bool = True,
    ) -> Child:
        paths.ensure_dirs()
        log = (paths.LOGS / f"{name}.log").open("a", encoding="utf-8")
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n")
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
            user=user,
            start_new_session=True,
            limit=1 << 20,
        )
        child = Child(name, argv, stop_signal, stop_grace_s, process, log=log, critical=critical)
        colour = _COLOURS[self._colour_index % len(_COLOURS)]
        self._colour_index += 1
        child.pump = asyncio.create_task(self._pump(child, colour, echo))
        self.children.append(child)
        self._record()
        return child

    async def run_once(self, name: str, argv: list[str], **kwargs: object) -> int:
        """Run a one-shot child (e.g. a back-fill) to completion; it is forgotten once done."""
        child = await self.start(name, argv, **kwargs)  # type: ignore[arg-type]
        assert child.process is not None
        code = await child.process.wait()
        await self.stop(child)
        self.children.remove(child)
        self._record()
        return code

    async def _pump(self, child: Child, colour: str, echo: bool) -> None:
        assert child.process is not None and child.process.stdout is not None and child.log is not None
        prefix = f"\x1b[{colour}m{child.name:>8} |\x1b[0m " if sys.stdout.isatty() else f"{child.name:>8} | "
        async for raw in child.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            child.log.write(line + "\n")
            child.log.flush()
            if echo:
                print(prefix + line, flush=True)
        if not child.critical and not child.expected_exit:
            code = await child.process.wait()
            print(f"{prefix}exited with code {code} (the rest of the stack keeps running)", flush=True)

    def _record(self) -> None:
        """Write the PIDs of live children, so `make down` and the next run can stop them after a crash."""
        record = {
            c.name: {"pid": c.process.pid, "argv0": c.argv[0], "started": time.time()}
            for c in self.children
            if c.process is not None and c.process.returncode is None
        }
        record["supervisor"] = {"pid": os.getpid(), "argv0": sys.executable, "started": time.time()}
        paths.RUN.mkdir(parents=True, exist_ok=True)
        tmp = paths.STACK_RECORD.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(paths.STACK_RECORD)

    async def wait_any_exit(self) -> Child:
        """Return the first child that exits (a crash, unless we were stopping it)."""
        waiters = {asyncio.create_task(c.process.wait()): c for c in self.children if c.process is not None}
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waiters[next(iter(done))]

    async def stop(self, child: Child) -> int | None:
        process = child.process
        if process is None:
            return None
        child.expected_exit = True
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, child.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), child.stop_grace_s)
            except TimeoutError:
                print(f"{child.name:>8} | did not stop in {child.stop_grace_s:.0f}s: killing", flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        # Anything the child left in its group (it should be nothing) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if child.pump is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(child.pump, 5)
        if child.log is not None:
            child.log.close()
        self._record()
        return process.returncode

    async def stop_all(self) -> None:
        for child in reversed(self.children):
            await self.stop(child)
        self.children.clear()
        with contextlib.suppress(FileNotFoundError):
            paths.STACK_RECORD.unlink()


def stop_recorded(verbose: bool = True) -> int:
    """Stop whatever an earlier run recorded and left running (`make down`, or recovery after a crash).

    A PID is only signalled when the process still runs the program that was recorded, so a PID reused by an
    unrelated process is left alone. Returns how many processes were stopped.
    """
    try:
        record = json.loads(paths.STACK_RECORD.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    stopped = 0
    # Children first (reverse start order), the supervisor last; PostgreSQL wants SIGINT (fast shutdown).
    for name, entry in reversed(list(record.items())):
        pid = int(entry["pid"])
        if pid == os.getpid():
            continue
        try:
            proc = psutil.Process(pid)
            cmdline = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if not cmdline or Path(cmdline[0]).name != Path(entry["argv0"]).name:
            continue
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        if verbose:
            print(f"stopping {name} (pid {pid})", flush=True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if name == "supervisor":
                os.kill(pid, sig)
            else:
                os.killpg(pid, sig)
        try:
            proc.wait(20)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        stopped += 1
    with contextlib.suppress(FileNotFoundError):
        paths.STACK_RECORD.unlink()
    return stopped
