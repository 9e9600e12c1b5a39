"""HTTP routes of the scoring API (SPEC §6 plus the dashboard's reads). Thin: parse, call the reader, shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from services.scoring.domain.profile import ScoreProfile
from services.scoring.entrypoints import schemas
from services.scoring.entrypoints.cursors import decode_due_cursor, encode_due_cursor
from services.scoring.entrypoints.deps import PageCursor, PageLimit, Scoring, documented, period_of, unit_of
from services.scoring.entrypoints.http_cache import (
    CACHED_200,
    CLOSED,
    CURRENT,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    REGISTRY,
    CachedBody,
)
from services.scoring.entrypoints.read_bodies import InvalidCursor, ReadBodies
from services.scoring.entrypoints.ready_responses import ReadyResponses
from services.scoring.service.read_model import History, Indicators, Rankings, Summary, UnitTree
from shared.http import ApiError, ErrorBody, require_admin
from shared.units import Unit

Level = Literal["city", "department", "district", "commune"]
PeriodParam = Annotated[str | None, Query(description="Month YYYY-MM (Vietnam time); default: the current month")]
ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
CACHED = {200: CACHED_200, **NOT_MODIFIED}
CACHED_ERRORS = {**CACHED, **ERRORS}
Q_DESCRIPTION = "Only units whose id or name contains this (case and diacritics ignored: 'dong da' finds 'Đống Đa')"
IfNoneMatch = Annotated[str | None, Header(description=IF_NONE_MATCH)]
ADMIN_ERRORS = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}}
DeadLetterStatus = Literal["dead", "pending", "applied", "discarded"]


def build_router(
    render_metrics: Callable[[], Awaitable[bytes]], ready: ReadyResponses, bodies: ReadBodies
) -> APIRouter:
    router = APIRouter()
    answer = ready.answer

    # The read paths answer ready-made bodies (read_bodies.py) with ETag, Cache-Control and content encoding
    # (http_cache.py); the response models document the bodies.
    @documented(router.get, "/v1/units", UnitTree, CACHED, "units", "The unit registry (tree, validity, successors)")
    async def units(request: Request, container: Scoring, if_none_match: IfNoneMatch = None) -> Response:
        async def make() -> tuple[CachedBody, str]:
            return await bodies.units(container.reader.directory.registry), REGISTRY

        return await answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/units/{unit_id}/indicators", Indicators, CACHED_ERRORS, "indicators",
                "A unit's counters, live counters, rates, group points, score and rank for a month")  # fmt: skip
    async def indicators(
        request: Request,
        container: Scoring,
        unit_id: str,
        period: PeriodParam = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            resolved = period_of(container, period)
            cached = await bodies.indicators(container.reader, await unit_of(container, unit_id), resolved)
            return cached, CURRENT  # live figures in it, also for a closed month

        return await answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/rankings", Rankings, CACHED_ERRORS, "indicators", "Units of one level in rank "
                "order for a month (all of them, or a page of those matching q)")  # fmt: skip
    async def rankings(
        request: Request,
        container: Scoring,
        level: Level = "district",
        period: PeriodParam = None,
        limit: Annotated[int | None, Query(ge=1, le=1000, description="Page size; default: every unit")] = None,
        cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
        q: Annotated[str | None, Query(max_length=100, description=Q_DESCRIPTION)] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            resolved = period_of(container, period)
            try:
                cached = await bodies.rankings(container.reader, level, resolved, limit=limit, cursor=cursor, q=q)
            except InvalidCursor:
                raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None
            return cached, CURRENT if resolved.is_current else CLOSED

        return await answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/summary", Summary, CACHED_ERRORS, "indicators",
                "City-level figures for a month, with the live dashboard counts")  # fmt: skip
    async def summary(
        request: Request, container: Scoring, period: PeriodParam = None, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            resolved = period_of(container, period)
            city = container.reader.directory.registry.city
            if city is None:
                raise ApiError(404, "no_registry", "Chưa nạp danh mục đơn vị / no unit registry loaded")
            return await bodies.summary(container.reader, city, resolved), CURRENT

        return await answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/units/{unit_id}/history", History, CACHED_ERRORS, "indicators",
                "Monthly trend of a unit")  # fmt: skip
    async def history(
        request: Request,
        container: Scoring,
        unit_id: str,
        months: Annotated[int, Query(ge=1, le=60)] = 12,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            return await bodies.history(container.reader, await unit_of(container, unit_id), months), CURRENT

        return await answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/units/{unit_id}/dossiers", schemas.DossierPage, {**CACHED, **ERRORS}, "dossiers",
                "Overdue or soon-due open dossiers of a unit (paged), as of the live tick")  # fmt: skip
    async def dossiers(
        request: Request,
        container: Scoring,
        unit_id: str,
        state: Literal["overdue", "due_soon"] = "overdue",
        within_hours: Annotated[float, Query(gt=0, le=24 * 30, description="Horizon for due_soon")] = 24,
        subtree: Annotated[bool, Query(description="Include the units below")] = True,
        limit: PageLimit = 100,
        cursor: PageCursor = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        reader = container.reader

        async def page(unit: Unit, after: tuple[datetime, str] | None) -> CachedBody:
            # As of the live tick's start, as the live figures: the same page (and ETag) for a tick in every
            # process, and kept until the next committed batch or tick (the token) rather than read per request.
            now = (await reader.live_snapshot()).now
            homes = reader.home_units_of(unit.unit_id) if subtree else [unit.unit_id]
            horizon = timedelta(hours=within_hours)
            rows = await container.dossiers.late_or_due(homes, state, now, after, limit, horizon)
            items = [
                schemas.DossierItem(
                    dossier_id=r["dossier_id"],
                    procedure_id=r["procedure_id"],
                    unit_id=r["home_unit"],
                    due_at=r["due_at"],
                    received_at=r["received_at"],
                    days_late=(now - r["due_at"]).total_seconds() / 86400,
                )
                for r in rows
            ]
            next_cursor = encode_due_cursor(items[-1].due_at, items[-1].dossier_id) if len(items) == limit else None
            body = schemas.DossierPage(unit_id=unit.unit_id, state=state, as_of=now, items=items,
                                       next_cursor=next_cursor)  # fmt: skip
            return CachedBody(body.model_dump_json().encode()).precompress()

        async def make() -> tuple[CachedBody, str]:
            token = reader.token()  # the page is kept while the token is this one (it is read after it)
            unit = await unit_of(container, unit_id)
            after = decode_due_cursor(cursor)
            key = ("dossiers", unit.unit_id, state, within_hours, subtree, limit, cursor)
            return await bodies.by_token(key, token, lambda: page(unit, after)), CURRENT

        return await answer(request, reader.token(), make, if_none_match)

    @documented(router.get, "/v1/dlq", schemas.DeadLetters, ADMIN_ERRORS, "admin",
                "Dead letters: records that broke the contract or wait for their unit (admin token)")  # fmt: skip
    async def dlq(
        request: Request,
        container: Scoring,
        before: Annotated[int | None, Query(ge=1, le=2**62, description="Return rows with a smaller id")] = None,
        limit: PageLimit = 100,
        status: Annotated[DeadLetterStatus | None, Query(description="Only rows of this status")] = None,
    ) -> schemas.DeadLetters:
        require_admin(request, container.settings.admin_token)
        by_status, rows = await container.dead_letters.page(before, limit, status)
        total = by_status.get(status, 0) if status is not None else sum(by_status.values())
        return schemas.DeadLetters(total=total, by_status=by_status,
                                   items=[schemas.DeadLetter(**dict(r)) for r in rows])  # fmt: skip

    @documented(router.post, "/v1/admin/dead-letters/redrive", schemas.RedriveResult, ADMIN_ERRORS, "admin",
                "Apply dead letters again once their cause is fixed (admin token)")  # fmt: skip
    async def redrive(request: Request, container: Scoring, body: schemas.RedriveRequest) -> schemas.RedriveResult:
        require_admin(request, container.settings.admin_token)
        report = await container.applier.redrive(pending_only=False, ids=body.ids)
        container.publisher.mark(report.touched_units)
        return schemas.RedriveResult(applied=report.applied, still_rejected=report.still_rejected,
                                     duplicates=report.duplicates)  # fmt: skip

    @documented(router.post, "/v1/admin/dead-letters/discard", schemas.DiscardResult, ADMIN_ERRORS, "admin",
                "Mark dead letters as discarded: never applied (admin token)")  # fmt: skip
    async def discard(request: Request, container: Scoring, body: schemas.DiscardRequest) -> schemas.DiscardResult:
        require_admin(request, container.settings.admin_token)
        discarded = await container.dead_letters.discard(body.ids, body.reason)
        return schemas.DiscardResult(discarded=discarded)

    @router.post("/v1/admin/profile/reload", tags=["admin"], summary="Re-read the score profile file")
    async def reload_profile(request: Request, container: Scoring) -> dict:
        require_admin(request, container.settings.admin_token)
        try:
            profile = container.reader.profiles.reload()
        except (OSError, ValueError) as exc:
            raise ApiError(422, "invalid_profile", str(exc)) from None
        return {"name": profile.name, "groups": [g.key for g in profile.groups]}

    @documented(router.get, "/v1/profile", ScoreProfile, CACHED, "indicators", "The score profile in force")
    async def profile(request: Request, container: Scoring, if_none_match: IfNoneMatch = None) -> Response:
        async def make() -> tuple[CachedBody, str]:
            return await bodies.profile(container.reader.profiles.current()), CURRENT  # a reload changes it at once

        return await answer(request, container.reader.token(), make, if_none_match)

    @router.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(await render_metrics(), media_type="text/plain; version=0.0.4")

    return router
