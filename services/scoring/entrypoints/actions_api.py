"""Routes of what a unit can act on: month-end forecast, today's to-do (JSON or CSV), open dossiers, one dossier."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.scoring.entrypoints import actions_schemas as schemas
from services.scoring.entrypoints.api import CACHED, IfNoneMatch, Level
from services.scoring.entrypoints.cursors import decode_pair, decode_todo_cursor, encode_pair, encode_todo_cursor
from services.scoring.entrypoints.deps import PageCursor, PageLimit, Responses, Scoring, documented, unit_of
from services.scoring.entrypoints.http_cache import CURRENT, CachedBody
from services.scoring.entrypoints.read_bodies import ReadBodies
from services.scoring.entrypoints.ready_responses import ReadyResponses
from shared.http import ApiError, ErrorBody
from shared.indicators import VIETNAM_TZ

ERRORS: Responses = {
    404: {"model": ErrorBody, "description": "unknown_unit: no such unit"},
    422: {"model": ErrorBody, "description": "invalid_cursor, invalid_request: a malformed parameter"},
}
LEVEL_ERRORS: Responses = {422: {"model": ErrorBody, "description": "invalid_request: unknown level"}}
UNKNOWN_DOSSIER: Responses = {
    404: {"model": ErrorBody, "description": "unknown_dossier: no event of this dossier is stored"}
}
CSV_LIMIT = 10_000
CSV_MEDIA = "text/csv; charset=utf-8"

BUCKET_VI = {
    "due_today": "Đến hạn hôm nay",
    "due_tomorrow": "Đến hạn ngày mai",
    "due_this_month": "Đến hạn trong tháng",
    "overdue": "Đã quá hạn",
}
TODO_CSV_HEADER = (
    "Nhóm",
    "Mã hồ sơ",
    "Mã TTHC",
    "Mã đơn vị tiếp nhận",
    "Tên đơn vị tiếp nhận",
    "Ngày tiếp nhận",
    "Hạn trả kết quả",
    "Số giờ còn lại",
    "Điểm % tỷ lệ đúng tiến độ được giữ",
    "Điểm chỉ số tăng thêm nếu xử lý đúng hạn",
)


def build_actions_router(ready: ReadyResponses, bodies: ReadBodies) -> APIRouter:
    router = APIRouter()

    # The forecasts are computed once per version of the read tables for a whole level and served as ready-made
    # bodies (ETag, 304, content coding, the fast path of ready_responses.py), like the figures they come from.
    @documented(router.get, "/v1/units/{unit_id}/forecast", schemas.Forecast, {**CACHED, **ERRORS}, "actions",
                "Month-end forecast: score, progress rate and rank if nothing more is done, and in the "
                "best case")  # fmt: skip
    async def forecast(
        request: Request, container: Scoring, unit_id: str, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            return await bodies.forecast(container.actions, await unit_of(container, unit_id)), CURRENT

        return await ready.answer(request, container.reader.token(), make, if_none_match)

    @documented(router.get, "/v1/forecasts", schemas.LevelForecasts, {**CACHED, **LEVEL_ERRORS}, "actions",
                "Month-end forecasts of every unit of a level, from one computation (for the alert rules)")  # fmt: skip
    async def forecasts(
        request: Request,
        container: Scoring,
        level: Annotated[Level, Query(description="city, department, district or commune")] = "district",
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def make() -> tuple[CachedBody, str]:
            return await bodies.forecasts(container.actions, level), CURRENT

        return await ready.answer(request, container.reader.token(), make, if_none_match)

    @router.get(
        "/v1/units/{unit_id}/todo",
        response_model=schemas.TodoPage,
        responses={**ERRORS, 200: {"content": {"application/json": {}, "text/csv": {}},
                               "description": "JSON page, or CSV (Vietnamese header) with format=csv or "
                               "Accept: text/csv"}},
        tags=["actions"],
        summary="Today's to-do: open dossiers not on hold by urgency, with what finishing each on time saves",
    )  # fmt: skip
    async def todo(
        request: Request,
        container: Scoring,
        unit_id: str,
        section: Annotated[
            Literal["all", "upcoming", "overdue"],
            Query(description="upcoming: due today, tomorrow, later this month; overdue: already late; all: both"),
        ] = "all",
        limit: Annotated[int | None, Query(ge=1, le=CSV_LIMIT, description="Page size (JSON 100, CSV all)")] = None,
        cursor: PageCursor = None,
        format: Annotated[Literal["json", "csv"] | None, Query(description="csv: the same rows as CSV")] = None,
    ) -> Any:
        unit = await unit_of(container, unit_id)
        as_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
        page_size = limit if limit is not None else (CSV_LIMIT if as_csv else 100)
        page = await container.actions.todo(unit, section, page_size, decode_todo_cursor(cursor))
        if page["next_cursor"] is not None:
            page["next_cursor"] = encode_todo_cursor(page["next_cursor"])
        if as_csv:
            day = page["today"].isoformat()
            return Response(_todo_csv(page["items"]), media_type=CSV_MEDIA, headers={
                "Content-Disposition": f'attachment; filename="viec-can-lam-{unit.unit_id}-{day}.csv"'})  # fmt: skip
        return page

    @documented(router.get, "/v1/units/{unit_id}/open-dossiers", schemas.OpenDossierPage, ERRORS, "dossiers",
                "Every open dossier of a unit (subtree and units retired into it), by due (paged)")  # fmt: skip
    async def open_dossiers(
        container: Scoring,
        unit_id: str,
        limit: PageLimit = 100,
        cursor: PageCursor = None,
    ) -> dict:
        unit = await unit_of(container, unit_id)
        page = await container.actions.open_dossiers(unit, limit, decode_pair(cursor))
        last = page.pop("next")
        page["next_cursor"] = encode_pair(*last) if last is not None else None
        return page

    @documented(router.get, "/v1/dossiers/{dossier_id}", schemas.DossierView, UNKNOWN_DOSSIER, "dossiers",
                "One dossier: merged state, stored events, home unit and the counters it is in")  # fmt: skip
    async def dossier(container: Scoring, dossier_id: str) -> dict:
        found = await container.actions.dossier(dossier_id)
        if found is None:
            raise ApiError(404, "unknown_dossier", f"Không có hồ sơ {dossier_id!r} / unknown dossier {dossier_id!r}")
        return found

    return router


def _vn(moment: datetime) -> str:
    return moment.astimezone(VIETNAM_TZ).strftime("%Y-%m-%d %H:%M")


def _todo_csv(items: list[dict[str, Any]]) -> str:
    """UTF-8, comma-separated, CRLF, one Vietnamese header row; times in Vietnam time; empty cell = no data."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TODO_CSV_HEADER)
    for item in items:
        gain = item["score_gain"]
        writer.writerow([BUCKET_VI[item["bucket"]], item["dossier_id"], item["procedure_id"] or "", item["unit_id"],
                         item["unit_name"], _vn(item["received_at"]), _vn(item["due_at"]),
                         f"{item['hours_left']:.1f}", f"{item['progress_points']:.2f}",
                     "" if gain is None else f"{gain:.3f}"])  # fmt: skip
    return out.getvalue()
