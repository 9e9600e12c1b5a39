"""An applying process's lower priority counts against the other services' processes (shared/priority.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

AUTOGROUP = Path("/proc/self/autogroup")
CHILD = "import sys; from shared.priority import lower_cpu_priority; print(lower_cpu_priority(int(sys.argv[1])))"
REPO = Path(__file__).resolve().parents[3]


def run(nice: int, *, own_session: bool) -> tuple[str, str]:
    """(what lower_cpu_priority returned, the child's autogroup line) in a child process, as the stack starts it."""
    code = f"{CHILD}; print(open('/proc/self/autogroup').read().strip())"
    done = subprocess.run([sys.executable, "-c", code, str(nice)], capture_output=True, text=True, cwd=REPO,
                          start_new_session=own_session, check=True, timeout=30)  # fmt: skip
    returned, line = done.stdout.splitlines()
    return returned, line


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="this kernel has no autogroups (CONFIG_SCHED_AUTOGROUP off)")
def test_a_session_leader_lowers_its_autogroup_and_a_session_member_does_not() -> None:
    returned, line = run(10, own_session=True)
    assert returned == "True" and line.endswith("nice 10")
    returned, line = run(10, own_session=False)  # in the test runner's session: that session is left alone
    assert returned == "False" and line == AUTOGROUP.read_text().strip()


def test_a_missing_autogroup_file_is_not_an_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; from shared.priority import lower_cpu_priority; "
         f"print(lower_cpu_priority(5, Path({str(tmp_path / 'none')!r})))"],
        capture_output=True, text=True, cwd=REPO, start_new_session=True, check=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.strip() == "False"


BUSY_CHILD = """
import errno
import shared.priority as priority
priority.BUSY_WAIT_S = 0.001
class Busy:  # the kernel's answer to a second change within 100 ms without CAP_SYS_ADMIN, then success
    def __init__(self, refusals): self.refusals, self.written = refusals, []
    def exists(self): return True
    def write_text(self, text):
        if self.refusals:
            self.refusals -= 1
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        self.written.append(text)
twice, always = Busy(2), Busy(99)
print(priority.lower_cpu_priority(3, twice), twice.written, priority.lower_cpu_priority(0 + 1, always))
"""


def test_a_busy_kernel_is_asked_again_then_given_up_with_a_warning() -> None:
    done = subprocess.run([sys.executable, "-c", BUSY_CHILD], capture_output=True, text=True, cwd=REPO,
                          start_new_session=True, check=True, timeout=30)  # fmt: skip
    assert done.stdout.split() == ["True", "['3']", "False"]
    assert "kernel stayed busy (EAGAIN)" in done.stderr
