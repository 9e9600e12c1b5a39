"""Ready-to-send bodies of the public read API, built once per version of the read tables they come from.

Each body is kept (http_cache.BodyStore) with the objects it was built from — a level's table, the live snapshot, a
month's figures, the profile, the registry; the read tables replace these objects when figures change, so a body is
rebuilt exactly when something it shows may have changed, and its ETag (a hash of the bytes) changes exactly when
its bytes do. Rankings may be paged and filtered (`limit`, `cursor`, `q`); the full list stays the default.

A body is built — view, JSON, hash, gzip and brotli — in a worker thread, one build per key at a time (readers of
that key await the same build): a 100 KB ranking takes milliseconds to build and compress, and readers of bodies
that are ready must not wait for it on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import unicodedata
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import orjson
from pydantic import BaseModel

from services.scoring.domain.profile import ScoreProfile
from services.scoring.entrypoints.actions_schemas import Forecast, LevelForecasts
from services.scoring.entrypoints.http_cache import BodyStore, CachedBody
from services.scoring.entrypoints.ready_responses import Token, same_token
from services.scoring.service.actions import ActionsReader
from services.scoring.service.periods import Period
from services.scoring.service.read_views import (
    RankingsBuilder,
    history_view,
    indicators_view,
    summary_view,
    unit_tree,
)
from services.scoring.service.reading import ScoringReader
from services.scoring.service.sourced import OneAtATime, same_sources
from shared.units import Unit, UnitRegistry


class InvalidCursor(ValueError):
    pass


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form of a name: 'Phường Đống Đa' → 'phuong dong da'."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"r{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not text.startswith("r") or not text[1:].isdigit():
            raise ValueError
        return int(text[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None


class ReadBodies:
    """The read API's bodies as bytes, each built (typed model → JSON) once per version of its read tables."""

    def __init__(self, max_entries: int = 8192) -> None:
        self._store = BodyStore(max_entries)
        self._rankings_views = RankingsBuilder()
        self._rankings: dict[tuple[str, str], tuple[tuple[object, ...], dict[str, Any], list[str]]] = {}
        self._building: OneAtATime[Hashable, Any] = OneAtATime()
        self._by_token: dict[Hashable, tuple[Token, asyncio.Future[CachedBody]]] = {}
        self._max = max_entries

    async def _once(self, key: Hashable, sources: tuple[object, ...], build: Callable[[], Any]) -> Any:
        """`build()` run in a worker thread; a reader asking for the same key and sources meanwhile awaits that
        build rather than starting another (a build for other sources runs on its own)."""
        return await self._building.run(key, sources, build)

    async def _rankings_dict(
        self, reader: ScoringReader, level: str, period: Period
    ) -> tuple[tuple[object, ...], dict[str, Any], list[str]]:
        table = await reader.level_table(level, period)
        profile, registry = reader.profiles.current(), reader.directory.registry
        sources = (table, profile, registry)
        key = (level, period.label)
        found = self._rankings.get(key)
        if found is not None and same_sources(found[0], sources):
            return found

        def build() -> tuple[tuple[object, ...], dict[str, Any], list[str]]:
            _, body = self._rankings_views.build(level, period, table, registry, profile.min_dossiers)
            return sources, body, [fold(f"{item['unit_id']} {item['name']}") for item in body["items"]]

        built = await self._once(("rankings-dict", *key), sources, build)
        found = self._rankings.get(key)
        if found is None or not same_sources(found[0], sources):
            self._rankings[key] = built
        return built  # type: ignore[no-any-return]

    async def rankings(
        self,
        reader: ScoringReader,
        level: str,
        period: Period,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        q: str | None = None,
    ) -> CachedBody:
        """The whole ranking (the default), or a page of it: units whose id or name contains `q` (diacritics and
        case ignored), `limit` of them from `cursor` (the previous page's `next_cursor`)."""
        sources, full, folded = await self._rankings_dict(reader, level, period)
        query = fold(q.strip()) if q else ""
        key = ("rankings", level, period.label, limit, cursor, query)
        cached = self._store.get(key, sources)
        if cached is not None:
            return cached
        start = decode_cursor(cursor) if cursor is not None else 0

        def build() -> CachedBody:
            if limit is None and cursor is None and not query:
                return CachedBody(orjson.dumps(full)).precompress()
            positions = [i for i in range(start, len(folded)) if query in folded[i]]
            page = positions if limit is None else positions[:limit]
            more = limit is not None and len(positions) > limit
            body = {**full, "items": [full["items"][i] for i in page],
                    "next_cursor": encode_cursor(page[-1] + 1) if more else None}  # fmt: skip
            return CachedBody(orjson.dumps(body)).precompress()

        return self._store.put(key, sources, await self._once(key, sources, build))

    async def indicators(self, reader: ScoringReader, unit: Unit, period: Period) -> CachedBody:
        table, snapshot = await reader.indicator_sources(unit, period)
        sources = (table, unit) if period.is_current else (table, unit, snapshot)
        return await self._built(("indicators", unit.unit_id, period.label), sources,
                                 lambda: indicators_view(unit, period, table, snapshot))  # fmt: skip

    async def summary(self, reader: ScoringReader, city: Unit, period: Period) -> CachedBody:
        table, snapshot = await reader.indicator_sources(city, period)
        return await self._built(("summary", period.label), (table, city, snapshot),
                                 lambda: summary_view(city, period, table, snapshot))  # fmt: skip

    async def history(self, reader: ScoringReader, unit: Unit, months: int) -> CachedBody:
        sources = await reader.history_sources(months)
        return await self._built(("history", unit.unit_id, months), (unit, *sources),
                                 lambda: history_view(unit, months, sources))  # fmt: skip

    async def units(self, registry: UnitRegistry) -> CachedBody:
        return await self._built(("units",), (registry,), lambda: unit_tree(registry), pydantic_json=True)

    async def forecast(self, actions: ActionsReader, unit: Unit) -> CachedBody:
        """A unit's month-end forecast: from its level's forecast, computed once per version of the read tables
        for every unit of the level (service/actions.py), shaped and serialised once per unit."""
        level = await actions.level_forecast(str(unit.level))
        return await self._built(("forecast", unit.unit_id), (unit, level),
                                 lambda: Forecast.model_validate(actions.forecast_of(unit, level)),
                                 pydantic_json=True)  # fmt: skip

    async def forecasts(self, actions: ActionsReader, level: str) -> CachedBody:
        """Every unit's forecast of a level (the alerts' forecast rules), from the same level forecast."""
        computed = await actions.level_forecast(level)
        return await self._built(("forecasts", level), (computed,),
                                 lambda: LevelForecasts.model_validate(actions.forecasts_of(computed)),
                                 pydantic_json=True)  # fmt: skip

    async def profile(self, profile: ScoreProfile) -> CachedBody:
        return await self._built(("profile",), (profile,), lambda: profile, pydantic_json=True)

    async def by_token(self, key: Hashable, token: Token, make: Callable[[], Awaitable[CachedBody]]) -> CachedBody:
        """A body read from the database (a page of dossiers) kept while the reader's token is `token` (taken before
        reading: any committed batch, tick or profile change makes another); concurrent readers of the same key
        and token await one `make()`."""
        found = self._by_token.get(key)
        if found is not None and same_token(found[0], token):
            return await asyncio.shield(found[1])
        if len(self._by_token) >= self._max:
            self._by_token.clear()
        future = asyncio.ensure_future(make())
        self._by_token[key] = (token, future)
        try:
            return await asyncio.shield(future)
        except BaseException:
            if (current := self._by_token.get(key)) is not None and current[1] is future:
                del self._by_token[key]  # a failure is not kept: the next reader tries again
            raise

    async def _built(
        self, key: tuple[object, ...], sources: tuple[object, ...], view: Callable[[], BaseModel], *,
        pydantic_json: bool = False,
    ) -> CachedBody:  # fmt: skip
        """The body kept for `key` while its sources are the same objects; else the view built (off the loop)
        and kept. Serialised as the API has always written it: orjson of the model's fields (timestamps
        `+00:00`), and the unit tree by pydantic (`/v1/units` has always been pydantic's JSON)."""
        cached = self._store.get(key, sources)
        if cached is not None:
            return cached

        def build() -> CachedBody:
            model = view()
            body = model.model_dump_json().encode() if pydantic_json else orjson.dumps(model.model_dump())
            return CachedBody(body).precompress()

        return self._store.put(key, sources, await self._once(key, sources, build))
