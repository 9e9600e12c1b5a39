"""Ready-to-send bodies of the public read API, built once per version of the read tables they come from.

Each body is kept (service/sourced.SourcedValues) with the objects it was built from — a level's table or one unit's
row of it, the live snapshot, a month's figures, the profile, the registry; the read tables replace these objects
when figures change (and keep a unit's row and figures while a batch did not touch it), so a body is rebuilt when
something it shows may have changed, and its ETag (a hash of the bytes) changes exactly when its bytes do. Rankings
may be paged and filtered (`limit`, `cursor`, `q`); the full list stays the default.

A body is built — view, JSON, hash, gzip and brotli — in a worker thread, one build per key at a time (readers of
that key await the same build): a 100 KB ranking takes milliseconds to build and compress, and readers of bodies
that are ready must not wait for it on the event loop. A body whose sources changed is served in its previous
version while the next is built (stale-while-revalidate, BODY_REFRESH_S): only a key never built makes its reader
wait.
"""

from __future__ import annotations

import asyncio
import base64
import unicodedata
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import orjson
from pydantic import BaseModel

from services.scoring.domain.live import LiveFigures
from services.scoring.domain.profile import ScoreProfile
from services.scoring.entrypoints.actions_schemas import Forecast, LevelForecasts
from services.scoring.entrypoints.http_cache import CachedBody
from services.scoring.entrypoints.ready_responses import Token, same_token
from services.scoring.service.actions import ActionsReader
from services.scoring.service.periods import LevelTable, LiveSnapshot, Period, table_as_of
from services.scoring.service.read_views import (
    RankingsBuilder,
    history_view,
    indicators_view,
    summary_view,
    unit_tree,
)
from services.scoring.service.reading import ScoringReader
from services.scoring.service.sourced import SourcedValues, same_sources
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


BODY_REFRESH_S = 0.05
"""Least time between two background builds of one body: a body whose tables changed is rebuilt off the request
path while its previous version is served (stale-while-revalidate), so it is at most one build plus this old."""
BODY_WAIT_S = 0.02
"""A reader of a body being rebuilt waits this long for it before it is answered the previous one (a body that
builds in a few milliseconds is served fresh at once; a slow build under load never holds readers longer)."""
RankingsDict = tuple[dict[str, Any], list[str]]
"""A level's whole ranking as a dict (the body's fields) and each item's folded `unit_id name` (for `q`)."""


class ReadBodies:
    """The read API's bodies as bytes, each built (typed model → JSON) once per version of its read tables.

    A body whose sources changed is rebuilt in the background while its previous version is served; the reader's
    token changes when the new one is kept (`tell`: ScoringReader.bump), so the fast path serves the new one
    from then on. Only a key never built before makes its reader wait."""

    def __init__(self, max_entries: int = 8192) -> None:
        self._tell: Callable[[], None] | None = None
        self._bodies: SourcedValues[Hashable, CachedBody] = SourcedValues(
            max_entries, stale_s=BODY_REFRESH_S, on_store=self._told, tell_background_only=True, wait_s=BODY_WAIT_S
        )
        self._dicts: dict[tuple[str, str], tuple[tuple[object, ...], RankingsDict]] = {}
        self._rankings_views = RankingsBuilder()
        self._by_token: dict[Hashable, tuple[Token, asyncio.Future[CachedBody]]] = {}
        self._max = max_entries

    async def idle(self) -> None:
        """Until no background build runs (a test reads what the next request would be served)."""
        await self._bodies.idle()

    def tell(self, reader: ScoringReader) -> None:
        """Whom to tell that a body readers were served was replaced (the reader's token), and the refresh budget
        the builds are charged to and, in the background, wait for (service/refresh_budget.py)."""
        self._tell = reader.bump
        self._bodies.budget = reader.budget

    def _told(self) -> None:
        if self._tell is not None:
            self._tell()

    def _rankings_dict(
        self, level: str, period: Period, sources: tuple[LevelTable, ScoreProfile, UnitRegistry]
    ) -> RankingsDict:
        """The level's whole ranking, once per version of its sources (called in a body's build, in a worker
        thread: two builds racing for it both build the same dict, and either is kept)."""
        key = (level, period.label)
        found = self._dicts.get(key)
        if found is not None and same_sources(found[0], sources):
            return found[1]
        table, profile, registry = sources
        _, body = self._rankings_views.build(level, period, table, registry, profile.min_dossiers)
        built = body, [fold(f"{item['unit_id']} {item['name']}") for item in body["items"]]
        self._dicts[key] = (sources, built)
        return built

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
        case ignored), `limit` of them from `cursor` (the previous page's `next_cursor`). Each page is built with
        the whole ranking of its tables in one step (one background build per change, not one per stage)."""
        self.tell(reader)
        table = await reader.level_table(level, period)
        sources = (table, reader.profiles.current(), reader.directory.registry)
        query = fold(q.strip()) if q else ""
        key = ("rankings", level, period.label, limit, cursor, query)
        start = decode_cursor(cursor) if cursor is not None else 0

        def build() -> CachedBody:
            full, folded = self._rankings_dict(level, period, sources)
            if limit is None and cursor is None and not query:
                return CachedBody(orjson.dumps(full)).precompress()
            positions = [i for i in range(start, len(folded)) if query in folded[i]]
            page = positions if limit is None else positions[:limit]
            more = limit is not None and len(positions) > limit
            body = {**full, "items": [full["items"][i] for i in page],
                    "next_cursor": encode_cursor(page[-1] + 1) if more else None}  # fmt: skip
            return CachedBody(orjson.dumps(body)).precompress()

        return await self._bodies.get(key, sources, self._same_or(key, build))

    async def indicators(self, reader: ScoringReader, unit: Unit, period: Period) -> CachedBody:
        """Built from the unit's row of its level's table, not the whole table: a row is the same object while the
        unit's figures and rank are (ScoringReader._build_table), so a batch rebuilds the bodies of the units it
        touched (and of those whose rank it moved), not every unit's."""
        self.tell(reader)
        table, snapshot = await reader.indicator_sources(unit, period)
        row = table[1][unit.unit_id]
        as_of = table_as_of(table, snapshot.now)
        ranked = table[0] if row.ranked is None else None  # rank_of of a unit not in the period counts the table's
        if period.is_current:
            sources: tuple[object, ...] = (row, unit, as_of, ranked)
        else:  # a past month's body shows today's live figures of the unit
            sources = (row, unit, ranked, snapshot.by_unit.get(unit.unit_id, LiveFigures()), snapshot.now)
        return await self._built(("indicators", unit.unit_id, period.label), sources,
                                 lambda: indicators_view(unit, period, table, snapshot))  # fmt: skip

    async def summary(self, reader: ScoringReader, city: Unit, period: Period) -> CachedBody:
        self.tell(reader)
        table, snapshot = await reader.indicator_sources(city, period)
        return await self._built(("summary", period.label), (table, city, snapshot),
                                 lambda: summary_view(city, period, table, snapshot))  # fmt: skip

    async def history(self, reader: ScoringReader, unit: Unit, months: int) -> CachedBody:
        self.tell(reader)
        sources = await reader.history_sources(months)
        snapshot, profile, *figures = sources
        assert isinstance(snapshot, LiveSnapshot)
        # The unit's own figures of each month: the same dict objects while a batch did not touch the unit
        # (ScoringReader._compute_month patches only what it fed), its live figures and the instant by value.
        mine = (unit, profile, snapshot.now, snapshot.by_unit.get(unit.unit_id, LiveFigures()),
                *(month.get(unit.unit_id) for month in figures))  # type: ignore[attr-defined]  # fmt: skip
        return await self._built(("history", unit.unit_id, months), mine,
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
        and kept — the previous body served meanwhile. Serialised as the API has always written it: orjson of the
        model's fields (timestamps `+00:00`), and the unit tree by pydantic (`/v1/units` has always been
        pydantic's JSON)."""

        def build() -> CachedBody:
            model = view()
            body = model.model_dump_json().encode() if pydantic_json else orjson.dumps(model.model_dump())
            return CachedBody(body).precompress()

        return await self._bodies.get(key, sources, self._same_or(key, build))

    def _same_or(self, key: Hashable, build: Callable[[], CachedBody]) -> Callable[[], CachedBody]:
        """`build`, whose body is the previous one of `key` when the bytes are the same (its encodings are kept,
        and the readers' token does not change for it)."""

        def built() -> CachedBody:
            body = build()
            previous = self._bodies.previous(key)
            return previous if previous is not None and previous.digest == body.digest else body

        return built
