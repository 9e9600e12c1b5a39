"""The live dashboard's page and static assets, and the monthly publication (`GET /v1/reports/monthly`).

The dashboard is a plain client of the scoring API: static HTML, CSS and ES modules under `services/scoring/static/`
(Chart.js vendored there, no build step, no network at run time). The only thing the server tells the page is
`/dashboard/config.json`: where the browser reaches the alerts service.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, RedirectResponse, Response

from services.scoring.adapters import notice_render, report_formats
from services.scoring.domain.notice import NOTICE_MEDIA_TYPES
from services.scoring.entrypoints.deps import Scoring, period_of
from services.scoring.service.notice import load_notice
from services.scoring.service.reports import load_report
from services.scoring.settings import ScoringSettings
from shared.http import ApiError, ErrorBody

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# The page and its modules change with every deploy; asking the server each time (a 304 when unchanged) keeps a
# browser from mixing an old module with a new one. The vendored library is versioned by its file content.
NO_CACHE = {"Cache-Control": "no-cache"}


def build_dashboard_router(settings: ScoringSettings) -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard", include_in_schema=False)
    async def dashboard_no_slash() -> RedirectResponse:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE)

    @router.get("/dashboard/config.json", tags=["dashboard"], summary="What the dashboard page needs to know")
    async def dashboard_config() -> dict[str, str]:
        return {"alerts_url": settings.alerts_public_url.rstrip("/")}

    @router.get("/static/{path:path}", include_in_schema=False)
    async def static(path: str) -> FileResponse:
        target = (STATIC_DIR / path).resolve()
        if not target.is_relative_to(STATIC_DIR) or not target.is_file():
            raise ApiError(404, "not_found", f"Không có tệp / no such file: {path}")
        media_type = "text/javascript; charset=utf-8" if target.suffix in {".js", ".mjs"} else None
        return FileResponse(target, media_type=media_type, headers=NO_CACHE)

    @router.get(
        "/v1/reports/monthly",
        tags=["reports"],
        summary="The monthly ranking notice: the city's written notice (DOCX, PDF) or its annex (CSV, XLSX, JSON)",
        description="`docx`/`pdf`: the notice of the City People's Committee in the administrative form of Decree "
        "30/2020/NĐ-CP (authority, number and date placeholders, legal basis, summary, ranking tables per level, "
        "recipients, signature block) with annex II, the open overdue dossiers of each unit. `csv`/`xlsx`/`json`: "
        "annex I, every unit of every level with its group points (docs/dashboard.md).",
        responses={
            200: {
                "description": "The notice as a file (Vietnamese headers)",
                "content": {
                    media: {} for media in (*report_formats.MEDIA_TYPES.values(), *NOTICE_MEDIA_TYPES.values())
                },
            },
            422: {"model": ErrorBody},
        },
        response_class=Response,
    )
    async def monthly_report(
        container: Scoring,
        period: Annotated[str | None, Query(description="Month YYYY-MM (Vietnam time); default: current")] = None,
        format: Annotated[Literal["csv", "xlsx", "json", "docx", "pdf"], Query(description="File format")] = "xlsx",
    ) -> Response:
        resolved = period_of(container, period)
        if format in ("docx", "pdf"):
            notice = await load_notice(container.reader, container.dossiers, resolved)
            body = await asyncio.to_thread(notice_render.render_notice, notice, format)
            name = notice_render.file_name(notice.report.period, format)
            headers = {"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}"'}
            return Response(body, media_type=NOTICE_MEDIA_TYPES[format], headers=headers)
        report = await load_report(container.reader, resolved)
        body = await asyncio.to_thread(report_formats.render, report, format)
        headers = {"Cache-Control": "no-store"}
        if format != "json":
            headers["Content-Disposition"] = f'attachment; filename="{report_formats.file_name(report.period, format)}"'
        return Response(body, media_type=report_formats.MEDIA_TYPES[format], headers=headers)

    return router
