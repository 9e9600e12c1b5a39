"""The receivers in force, and the two ways they change while the service runs: the receivers file is edited
(adapters/receivers_reload.py) or receivers are managed through the admin API (adapters/receiver_store.py).

Routing of new notifications, planning and sending all read `ReceiverRegistry.current`, so they switch at once
(between awaits) when a change is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from services.alerts.domain.receivers import Receivers
from services.alerts.service.ports import ApiReceivers

log = logging.getLogger(__name__)


class ApiReceiversSource(Protocol):
    async def load(self, *, force: bool = False) -> ApiReceivers | None:
        """The receivers of the API when they changed since the last load (or `force`); None otherwise."""
        ...


class ReceiversFile(Protocol):
    def check(self) -> Receivers | None:
        """The file's new receivers when it changed and is valid; None otherwise."""
        ...


class ReceiverRegistry:
    def __init__(self, current: Receivers, on_change: Callable[[], None] = lambda: None) -> None:
        self.current = current
        self._on_change = on_change

    def apply(self, fresh: Receivers) -> None:
        self.current = fresh
        self._on_change()  # waiting rows of a receiver just (re)added are planned now

    async def follow_api(self, source: ApiReceiversSource, *, force: bool = False) -> bool:
        """Re-read the receivers managed through the API (all processes poll; the one that wrote forces)."""
        loaded = await source.load(force=force)
        if loaded is None:
            return False
        self.apply(self.current.with_api(loaded.receivers, loaded.secrets))
        return True

    def follow_file(self, watcher: ReceiversFile) -> bool:
        """Take a new version of the receivers file; the API's receivers stay."""
        fresh = watcher.check()
        if fresh is None:
            return False
        self.apply(fresh.with_api(self.current.api, self.current.api_secrets))
        return True
