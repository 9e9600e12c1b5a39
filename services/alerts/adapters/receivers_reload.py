"""Re-reading `config/receivers.yaml` while the service runs.

The loop in entrypoints/loops.py calls `check()` every RECEIVERS_CHECK_INTERVAL_S. A settled new version of the
file (domain/file_watch.py) is parsed with the same checks as at start; a broken, empty, missing or unreadable
file is logged and the last good receivers stay in force — a typo in a deploy must never crash the service or
leave alerts with nowhere to go. Messages already in the outbox carry their receiver's name, so they keep going
to that receiver as long as a receiver of that name (and channel) exists in the file in force.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from services.alerts.domain.file_watch import ChangeTracker, Signature
from services.alerts.domain.receivers import Receivers, ReceiversConfigError, parse_receivers

log = logging.getLogger(__name__)


def file_signature(path: Path) -> Signature:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class ReceiversWatcher:
    """The receivers in force, and the file they come from. `stat` and `read` are injectable for unit tests."""

    def __init__(
        self,
        source: str,
        stat: Callable[[], Signature],
        read: Callable[[], str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.source = source
        self._stat = stat
        self._read = read
        self._environ = environ
        # Stat before reading: a change made while we read shows as a new signature at the next check.
        signature = stat()
        self.current = self._load(reloading=False)  # at start a bad file raises: the service refuses to start
        self._tracker = ChangeTracker(signature)

    @classmethod
    def for_file(cls, path: Path, environ: Mapping[str, str] | None = None) -> ReceiversWatcher:
        return cls(str(path), lambda: file_signature(path), lambda: path.read_text("utf-8"), environ)

    def _load(self, *, reloading: bool) -> Receivers:
        try:
            text = self._read()
        except OSError as error:
            raise ReceiversConfigError(f"{self.source}: cannot read receivers file: {error}") from None
        if reloading and not text.strip():
            # Valid YAML meaning "no receivers", but far more often a file caught half-written or truncated.
            raise ReceiversConfigError(f"{self.source}: the file is empty (write `receivers: []` to mean none)")
        return parse_receivers(text, os.environ if self._environ is None else self._environ, self.source)

    def check(self) -> Receivers | None:
        """The new receivers when the file changed and is valid; None otherwise (the current ones stay)."""
        if not self._tracker.observe(self._stat()):
            return None
        try:
            fresh = self._load(reloading=True)
        except ReceiversConfigError as error:
            log.error(
                "Tệp người nhận mới không hợp lệ, giữ cấu hình cũ (%d người nhận) / "
                "new receivers file rejected, keeping the last good one (%d receivers):\n%s",
                len(self.current.all), len(self.current.all), error,
            )  # fmt: skip
            return None
        before = {r.name for r in self.current.all}
        after = {r.name for r in fresh.all}
        log.info(
            "Đã nạp lại tệp người nhận / receivers file reloaded: %s (added %s, removed %s)",
            ", ".join(sorted(after)) or "-", ", ".join(sorted(after - before)) or "-",
            ", ".join(sorted(before - after)) or "-",
        )  # fmt: skip
        self.current = fresh
        return fresh
