"""Routes of what a unit can act on: month-end forecast, today's to-do (JSON or CSV), open dossiers, one dossier."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from services.scoring.actions import ActionsReader, TodoCursor
from services.scoring.entrypoints import actions_schemas as schemas
from shared.http import ApiError, ErrorBody
from shared.indicators import VIETNAM_TZ
from shared.units import Unit

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "unknown_unit: no such unit"},
    422: {"model": ErrorBody, "description": "invalid_cursor, invalid_request: a malformed parameter"},
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


def build_actions_router(actions: Callable[[], ActionsReader]) -> APIRouter:
    router = APIRouter()

    async def unit_of(unit_id: str) -> Unit:
        unit = await actions().reader.unit(unit_id)
        if unit is None:
            raise ApiError(404, "unknown_unit", f"Không có đơn vị {unit_id!r} / unknown unit {unit_id!r}")
        return unit

    @router.get(
        "/v1/units/{unit_id}/forecast",
        response_model=schemas.Forecast,
        responses=ERRORS,
        tags=["actions"],
        summary="Month-end forecast: score, progress rate and rank if nothing more is done, and in the best case",
    )
    async def forecast(unit_id: str) -> dict:
        return await actions().forecast(await unit_of(unit_id))

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
        unit_id: str,
        section: Annotated[
            Literal["all", "upcoming", "overdue"],
            Query(description="upcoming: due today, tomorrow, later this month; overdue: already late; all: both"),
        ] = "all",
        limit: Annotated[int | None, Query(ge=1, le=CSV_LIMIT, description="Page size (JSON 100, CSV all)")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        format: Annotated[Literal["json", "csv"] | None, Query(description="csv: the same rows as CSV")] = None,
    ) -> Any:
        unit = await unit_of(unit_id)
        as_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
        page_size = limit if limit is not None else (CSV_LIMIT if as_csv else 100)
        page = await actions().todo(unit, section, page_size, _decode_todo_cursor(cursor))
        if page["next_cursor"] is not None:
            page["next_cursor"] = _encode_todo_cursor(page["next_cursor"])
        if as_csv:
            day = page["today"].isoformat()
            return Response(_todo_csv(page["items"]), media_type=CSV_MEDIA, headers={
                "Content-Disposition": f'attachment; filename="viec-can-lam-{unit.unit_id}-{day}.csv"'})  # fmt: skip
        return page

    @router.get(
        "/v1/units/{unit_id}/open-dossiers",
        response_model=schemas.OpenDossierPage,
        responses=ERRORS,
        tags=["dossiers"],
        summary="Every open dossier of a unit (subtree and units retired into it), by due (paged)",
    )
    async def open_dossiers(
        unit_id: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> dict:
        unit = await unit_of(unit_id)
        page = await actions().open_dossiers(unit, limit, _decode_pair(cursor))
        last = page.pop("next")
        page["next_cursor"] = _encode_pair(*last) if last is not None else None
        return page

    @router.get(
        "/v1/dossiers/{dossier_id}",
        response_model=schemas.DossierView,
        responses={404: {"model": ErrorBody, "description": "unknown_dossier: no event of this dossier is stored"}},
        tags=["dossiers"],
        summary="One dossier: merged state, stored events, home unit and the counters it is in",
    )
    async def dossier(dossier_id: str) -> dict:
        found = await actions().dossier(dossier_id)
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(cursor: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None


def _encode_todo_cursor(cursor: TodoCursor) -> str:
    return _b64(orjson.dumps([cursor.as_of.isoformat(), cursor.section, cursor.due.isoformat(), cursor.dossier_id]))


def _decode_todo_cursor(cursor: str | None) -> TodoCursor | None:
    if cursor is None:
        return None
    data = _unb64(cursor)
    try:
        as_of, section, due, dossier_id = data
        if section not in ("upcoming", "overdue"):
            raise ValueError(section)
        return TodoCursor(_aware(as_of), section, _aware(due), str(dossier_id))
    except (TypeError, ValueError):
        raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment


def _encode_pair(due: datetime, dossier_id: str) -> str:
    return _b64(orjson.dumps([due.isoformat(), dossier_id]))


def _decode_pair(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    data = _unb64(cursor)
    try:
        due, dossier_id = data
        return _aware(due), str(dossier_id)
    except (TypeError, ValueError):
        raise ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor") from None
