"""The ingest launcher's readiness count (services/ingest/processes.py): a worker that died is not counted ready,
even in the moments before the launcher reaps it (a zombie still answers signal 0)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from services.ingest.processes import _alive


def _wait_until_zombie(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        if text[text.rfind(")") + 2] == "Z":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not exit within {timeout_s} s")


def test_a_running_process_is_alive() -> None:
    assert _alive(os.getpid())


def test_an_exited_worker_not_yet_reaped_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        _wait_until_zombie(child.pid)  # exited, not reaped: signal 0 still reaches it
        os.kill(child.pid, 0)
        assert not _alive(child.pid)
    finally:
        child.wait()
    assert not _alive(child.pid)  # reaped: gone
