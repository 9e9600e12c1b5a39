"""The score profile file, followed on disk."""

from __future__ import annotations

import time
from pathlib import Path

from services.scoring.domain.profile import ScoreProfile, parse_profile


class ProfileStore:
    """The score profile file, re-read when it changes on disk (checked at most once a second) or on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._checked = 0.0
        self.profile: ScoreProfile = self.reload()

    def reload(self) -> ScoreProfile:
        self._mtime = self.path.stat().st_mtime
        self.profile = parse_profile(self.path.read_text(encoding="utf-8"))
        return self.profile

    def current(self) -> ScoreProfile:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                if self.path.stat().st_mtime != self._mtime:
                    self.reload()
            except (OSError, ValueError):
                pass  # keep serving the last good profile; /v1/admin/profile/reload reports the error
        return self.profile
