"""Silences: create one (its period checked against the clock), expire one (deleting is expiring now: the row stays
for the history and `include_expired`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from services.alerts.domain.silences import Matcher, Silence
from services.alerts.service.ports import Clock

SilenceRow = Mapping[str, Any]  # the stored silence with its created_at and expired_at


class SilenceStore(Protocol):
    async def create_silence(self, silence: Silence) -> SilenceRow: ...

    async def get_silence(self, silence_id: str) -> SilenceRow | None: ...

    async def expire_silence(self, silence_id: str, now: datetime) -> SilenceRow | None:
        """The expired row; None when there is no such silence or it had expired already."""
        ...


class InvalidSilence(ValueError):
    """The reason, bilingual, as the API answers it."""


def new_silence_id() -> str:
    return uuid.uuid4().hex


class Silences:
    def __init__(self, store: SilenceStore, clock: Clock, new_id: Callable[[], str] = new_silence_id) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id

    async def create(
        self, matchers: list[Matcher], starts_at: datetime | None, ends_at: datetime, comment: str, author: str
    ) -> tuple[SilenceRow, datetime]:
        """The stored silence and the instant it was created at (starts now unless `starts_at`)."""
        now = self.clock()
        try:
            silence = Silence(id=self.new_id(), matchers=matchers, starts_at=starts_at or now, ends_at=ends_at,
                              comment=comment, author=author)  # fmt: skip
        except ValidationError as error:
            message = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidSilence(f"Khoảng thời gian không hợp lệ / {message}") from None
        if silence.ends_at <= now:
            raise InvalidSilence("ends_at đã qua / ends_at is in the past")
        return await self.store.create_silence(silence), now

    async def expire(self, silence_id: str) -> tuple[Literal["expired", "deleted", "unknown"], SilenceRow | None]:
        """`expired` now (with the row), `deleted` (expired before) or `unknown`."""
        row = await self.store.expire_silence(silence_id, self.clock())
        if row is not None:
            return "expired", row
        return ("unknown" if await self.store.get_silence(silence_id) is None else "deleted"), None
