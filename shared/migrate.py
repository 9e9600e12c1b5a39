"""`python -m shared.migrate`: apply pending schema migrations to DATABASE_URL (the stack runs it before services)."""

from __future__ import annotations

import os
import sys

from shared.db import apply_migrations


def main() -> int:
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    applied = apply_migrations(database_url)
    print(f"migrations: applied {len(applied)}" + (f" ({', '.join(applied)})" if applied else " (up to date)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
