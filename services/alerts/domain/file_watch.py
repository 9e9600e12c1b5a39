"""When to re-read a configuration file that may change on disk (pure: the caller stats and reads).

A file is identified by its signature (modification time in nanoseconds, size), or None when it cannot be
stat'ed. A new signature is read only once it has been seen unchanged at two consecutive checks: editors and
deploy tools that write in several steps (truncate, then write) must not get their half-written file applied —
an empty receivers file is valid YAML and would silently route every alert nowhere.
"""

from __future__ import annotations

Signature = tuple[int, int] | None


class ChangeTracker:
    def __init__(self, applied: Signature) -> None:
        self._applied = applied  # the version in force (or the last one tried: a broken one is not retried)
        self._seen = applied  # what the previous check saw

    def observe(self, signature: Signature) -> bool:
        """True when `signature` is a settled new version that should be read now. Each version is offered once:
        a version that turns out broken is logged once, not at every check, and the next edit is offered again."""
        previous, self._seen = self._seen, signature
        if signature == self._applied or signature != previous:
            return False
        self._applied = signature
        return True
