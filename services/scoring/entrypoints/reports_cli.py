"""`python -m services.scoring report`: the monthly publication as a file, from the database.

python -m services.scoring report --period 2026-10 --format xlsx --out thong-bao-2026-10.xlsx
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from services.scoring.adapters.profile_file import ProfileStore
from services.scoring.adapters.queries import PgFigures
from services.scoring.adapters.report_formats import file_name, render
from services.scoring.adapters.units import UnitDirectory
from services.scoring.domain.report import MonthlyReport
from services.scoring.domain.timebase import parse_month
from services.scoring.service.periods import resolve_period
from services.scoring.service.reading import ScoringReader
from services.scoring.service.reports import load_report
from services.scoring.settings import REPO_ROOT
from shared.db import create_pool


async def _load_from_database(database_url: str, period_label: str | None, profile_path: Path) -> MonthlyReport:
    pool = await create_pool(database_url, max_size=2)
    try:
        directory = UnitDirectory(pool)
        await directory.load()
        reader = ScoringReader(PgFigures(pool), directory, ProfileStore(profile_path))
        return await load_report(reader, resolve_period(period_label, reader.clock()))
    finally:
        await pool.close()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.scoring report",
        description="Xuất thông báo xếp hạng hằng tháng / export the monthly ranking notice (CSV or XLSX).",
    )
    parser.add_argument("--period", help="tháng YYYY-MM (giờ Việt Nam); mặc định: tháng hiện tại")
    parser.add_argument("--format", choices=["csv", "xlsx", "json"], default="xlsx")
    parser.add_argument("--out", type=Path, help="tệp kết quả; mặc định: tthc-pulse-xep-hang-<kỳ>.<định dạng>")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    default_profile = os.environ.get("PROFILE_PATH", str(REPO_ROOT / "config" / "score_profile.yaml"))
    parser.add_argument("--profile", type=Path, default=Path(default_profile), help="score profile YAML")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.database_url:
        print("DATABASE_URL chưa đặt / DATABASE_URL is not set", file=sys.stderr)
        return 2
    if args.period is not None:
        try:
            parse_month(args.period)
        except ValueError:
            print(f"Kỳ không hợp lệ, cần YYYY-MM / malformed period: {args.period!r}", file=sys.stderr)
            return 2
    report = asyncio.run(_load_from_database(args.database_url, args.period, args.profile))
    out: Path = args.out or Path(file_name(report.period, args.format))
    out.write_bytes(render(report, args.format))
    units = len(report.rows)
    print(f"{out}: {units} đơn vị / units, kỳ / period {report.period}, quá hạn toàn TP / city overdue "
          f"{report.city_overdue}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
