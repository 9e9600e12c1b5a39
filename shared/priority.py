"""A process's CPU priority against the other services' processes (a module of its own: no heavy imports)."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")
# Without CAP_SYS_ADMIN the kernel takes one autogroup nice change per 100 ms across the machine and refuses the
# others with EAGAIN (kernel/sched/autogroup.c): the stack starts both applying processes at once.
BUSY_RETRIES, BUSY_WAIT_S = 10, 0.1
log = logging.getLogger(__name__)


def lower_cpu_priority(nice: int, autogroup: Path = AUTOGROUP) -> bool:
    """Add `nice` to this process's niceness and, when it leads its own session, set its autogroup's nice to it.

    Linux (with CONFIG_SCHED_AUTOGROUP, on by default) first shares the cores fairly between autogroups, one per
    session, and applies a process's nice only against processes of the SAME session. The local stack starts every
    service in a session of its own, so `os.nice` alone changed nothing between them: an applying process at nice 10
    still got the same share as the API process (measured: 0.81 vs 0.82 CPU s of busy loops, and 0.18 vs 0.91 with
    the autogroup's nice set). A process that is not its session's leader leaves the autogroup alone: that would
    slow its whole terminal session. Returns whether the autogroup's nice was set."""
    os.nice(nice)
    if nice <= 0 or os.getsid(0) != os.getpid() or not autogroup.exists():
        return False
    # The value written is the autogroup's nice (not added to it): a new session's starts at 0. Outside the root
    # CPU cgroup (a container, a systemd slice with CPU accounting) the write succeeds but changes nothing: compose
    # sets `cpu_shares` for that.
    for _ in range(BUSY_RETRIES):
        try:
            autogroup.write_text(str(nice))
        except OSError as error:
            if error.errno != errno.EAGAIN:
                log.warning("could not lower this session's autogroup priority: %s", error)
                return False
            time.sleep(BUSY_WAIT_S)
        else:
            return True
    log.warning("could not lower this session's autogroup priority: the kernel stayed busy (EAGAIN)")
    return False
