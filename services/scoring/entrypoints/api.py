"""HTTP routes of the scoring API (SPEC §6 plus the dashboard's reads). Thin: parse, call the reader, shape."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from services.scoring.adapters import queries
from services.scoring.entrypoints import schemas
from services.scoring.http_cache import CACHED_200, CLOSED, CURRENT, IF_NONE_MATCH, NOT_MODIFIED, REGISTRY, respond
from services.scoring.read_bodies import InvalidCursor, ReadBodies
from services.scoring.reading import Period, ScoringReader, resolve_period
from services.scoring.service.apply_batch import BatchApplier
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
    reader: Callable[[], ScoringReader],
    admin_token: str,
    render_metrics: Callable[[], bytes],
    applier: Callable[[], BatchApplier],
    on_applied: Callable[[set[str]], None],
) -> APIRouter:
    router = APIRouter()

    def period_of(label: str | None) -> Period:
        try:
            return resolve_period(label, reader().clock())
        except ValueError:
            raise ApiError(
                422, "invalid_period", f"Kỳ không hợp lệ, cần YYYY-MM / malformed period: {label!r}"
            ) from None

    async def unit_of(unit_id: str) -> Unit:
        unit = await reader().unit(unit_id)
        if unit is None:
            raise ApiError(404, "unknown_unit", f"Không có đơn vị {unit_id!r} / unknown unit {unit_id!r}")
        return unit

    bodies = ReadBodies(reader)

    def unit_list() -> bytes:
        registry = reader().directory.registry
        return (
            schemas.UnitList(
                items=[
                    schemas.UnitNode(
                        unit_id=u.unit_id,
                        name=u.name,
                        level=str(u.level),
                        parent_id=u.parent_id,
                        children=registry.children(u.unit_id),
                        valid_from=u.valid_from,
                        valid_to=u.valid_to,
                        successor_id=u.successor_id,
                        predecessors=registry.predecessors(u.unit_id),
                    )
                    for u in registry
                ]
            )
            .model_dump_json()
            .encode()
        )

    # The read paths answer ready-made bodies (read_bodies.py) with ETag, Cache-Control and content encoding
    # (http_cache.py); the response models document the bodies.
    @router.get("/v1/units", response_model=schemas.UnitList, responses=CACHED, tags=["units"],
                summary="The unit registry (tree, validity, successors)")  # fmt: skip
    async def units(request: Request, if_none_match: IfNoneMatch = None) -> Response:
        return respond(request, bodies.units(unit_list), REGISTRY, if_none_match)

    @router.get(
        "/v1/units/{unit_id}/indicators",
        response_model=schemas.Indicators,
        responses=CACHED_ERRORS,
        tags=["indicators"],
        summary="A unit's counters, live counters, rates, group points, score and rank for a month",
    )
    async def indicators(
        request: Request, unit_id: str, period: PeriodParam = None, if_none_match: IfNoneMatch = None
    ) -> Response:
        resolved = period_of(period)
        cached = await bodies.indicators(await unit_of(unit_id), resolved)
        return respond(request, cached, CURRENT, if_none_match)  # live figures in it, also for a closed month

    @router.get(
        "/v1/rankings",
        response_model=schemas.Rankings,
        responses=CACHED_ERRORS,
        tags=["indicators"],
        summary="Units of one level in rank order for a month (all of them, or a page of those matching q)",
    )
    async def rankings(
        request: Request,
        level: Level = "district",
        period: PeriodParam = None,
        limit: Annotated[int | None, Query(ge=1, le=1000, description="Page size; default: every unit")] = None,
        cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
        q: Annotated[str | None, Query(max_length=100, description=Q_DESCRIPTION)] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        resolved = period_of(period)
        try:
            cached = await bodies.rankings(level, resolved, limit=limit, cursor=cursor, q=q)
        except InvalidCursor:
            raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None
        return respond(request, cached, CURRENT if resolved.is_current else CLOSED, if_none_match)

    @router.get("/v1/summary", response_model=schemas.Summary, responses=CACHED_ERRORS, tags=["indicators"],
                summary="City-level figures for a month, with the live dashboard counts")  # fmt: skip
    async def summary(request: Request, period: PeriodParam = None, if_none_match: IfNoneMatch = None) -> Response:
        resolved = period_of(period)
        city = reader().directory.registry.city
        if city is None:
            raise ApiError(404, "no_registry", "Chưa nạp danh mục đơn vị / no unit registry loaded")
        return respond(request, await bodies.summary(city, resolved), CURRENT, if_none_match)

    @router.get("/v1/units/{unit_id}/history", response_model=schemas.History, responses=CACHED_ERRORS,
                tags=["indicators"], summary="Monthly trend of a unit")  # fmt: skip
    async def history(
        request: Request,
        unit_id: str,
        months: Annotated[int, Query(ge=1, le=60)] = 12,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        cached = await bodies.history(await unit_of(unit_id), months)
        return respond(request, cached, CURRENT, if_none_match)

    @router.get("/v1/units/{unit_id}/dossiers", response_model=schemas.DossierPage, responses=ERRORS,
                tags=["dossiers"], summary="Overdue or soon-due open dossiers of a unit (paged)")  # fmt: skip
    async def dossiers(
        unit_id: str,
        state: Literal["overdue", "due_soon"] = "overdue",
        within_hours: Annotated[float, Query(gt=0, le=24 * 30, description="Horizon for due_soon")] = 24,
        subtree: Annotated[bool, Query(description="Include the units below")] = True,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> schemas.DossierPage:
        unit = await unit_of(unit_id)
        after = _decode_cursor(cursor)
        now = reader().clock()
        homes = reader().home_units_of(unit.unit_id) if subtree else [unit.unit_id]
        async with reader().pool.acquire() as conn:
            rows = await queries.dossiers(conn, home_units=homes, state=state, now=now, after=after, limit=limit,
                                          within=timedelta(hours=within_hours))  # fmt: skip
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
        next_cursor = _encode_cursor(items[-1].due_at, items[-1].dossier_id) if len(items) == limit else None
        return schemas.DossierPage(unit_id=unit.unit_id, state=state, as_of=now, items=items, next_cursor=next_cursor)

    @router.get(
        "/v1/dlq",
        response_model=schemas.DeadLetters,
        responses=ADMIN_ERRORS,
        tags=["admin"],
        summary="Dead letters: records that broke the contract or wait for their unit (admin token)",
    )
    async def dlq(
        request: Request,
        before: Annotated[int | None, Query(ge=1, le=2**62, description="Return rows with a smaller id")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        status: Annotated[DeadLetterStatus | None, Query(description="Only rows of this status")] = None,
    ) -> schemas.DeadLetters:
        require_admin(request, admin_token)
        async with reader().pool.acquire() as conn:
            by_status, rows = await queries.dead_letters(conn, before, limit, status)
        total = by_status.get(status, 0) if status is not None else sum(by_status.values())
        return schemas.DeadLetters(total=total, by_status=by_status,
                                   items=[schemas.DeadLetter(**dict(r)) for r in rows])  # fmt: skip

    @router.post(
        "/v1/admin/dead-letters/redrive",
        response_model=schemas.RedriveResult,
        responses=ADMIN_ERRORS,
        tags=["admin"],
        summary="Apply dead letters again once their cause is fixed (admin token)",
    )
    async def redrive(request: Request, body: schemas.RedriveRequest) -> schemas.RedriveResult:
        require_admin(request, admin_token)
        report = await applier().redrive(pending_only=False, ids=body.ids)
        on_applied(report.touched_units)
        return schemas.RedriveResult(applied=report.applied, still_rejected=report.still_rejected,
                                     duplicates=report.duplicates)  # fmt: skip

    @router.post(
        "/v1/admin/dead-letters/discard",
        response_model=schemas.DiscardResult,
        responses=ADMIN_ERRORS,
        tags=["admin"],
        summary="Mark dead letters as discarded: never applied (admin token)",
    )
    async def discard(request: Request, body: schemas.DiscardRequest) -> schemas.DiscardResult:
        require_admin(request, admin_token)
        async with reader().pool.acquire() as conn:
            discarded = await queries.discard_dead_letters(conn, body.ids, body.reason)
        return schemas.DiscardResult(discarded=discarded)

    @router.post("/v1/admin/profile/reload", tags=["admin"], summary="Re-read the score profile file")
    async def reload_profile(request: Request) -> dict:
        require_admin(request, admin_token)
        try:
            profile = reader().profiles.reload()
        except (OSError, ValueError) as exc:
            raise ApiError(422, "invalid_profile", str(exc)) from None
        return {"name": profile.name, "groups": [g.key for g in profile.groups]}

    @router.get("/v1/profile", tags=["indicators"], summary="The score profile in force")
    async def profile() -> dict:
        return reader().profiles.current().model_dump()

    @router.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(render_metrics(), media_type="text/plain; version=0.0.4")

    return router


def _encode_cursor(due: datetime, dossier_id: str) -> str:
    return base64.urlsafe_b64encode(f"{due.isoformat()}|{dossier_id}".encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        due, _, dossier_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(due), dossier_id
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None
