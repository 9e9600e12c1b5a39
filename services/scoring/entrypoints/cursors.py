"""The opaque page cursors of the dossier lists: what a page's `next_cursor` holds, and 422 when one is malformed.

Each list keeps the format its clients already hold: `/v1/units/{id}/dossiers` base64("<due>|<id>"), the to-do
and open-dossier lists base64(JSON array). A cursor carries aware instants only.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from services.scoring.service.actions import TodoCursor
from shared.http import ApiError

TODO_SECTIONS = ("upcoming", "overdue")


def invalid_cursor() -> ApiError:
    return ApiError(422, "invalid_cursor", "Con trỏ trang không hợp lệ / invalid cursor")


def encode_due_cursor(due: datetime, dossier_id: str) -> str:
    return base64.urlsafe_b64encode(f"{due.isoformat()}|{dossier_id}".encode()).decode()


def decode_due_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        due, _, dossier_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(due), dossier_id
    except (ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None


def _json_cursor(cursor: str, size: int) -> list[Any]:
    """The JSON array of `size` items a cursor holds."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise invalid_cursor() from None
    if not isinstance(data, list) or len(data) != size:
        raise invalid_cursor()
    return data


def _aware(text: object) -> datetime:
    moment = datetime.fromisoformat(text)  # type: ignore[arg-type]  # TypeError for a non-string: 422 below
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment


def _json(items: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(items)).decode()


def encode_todo_cursor(cursor: TodoCursor) -> str:
    return _json([cursor.as_of.isoformat(), cursor.section, cursor.due.isoformat(), cursor.dossier_id])


def decode_todo_cursor(cursor: str | None) -> TodoCursor | None:
    if cursor is None:
        return None
    as_of, section, due, dossier_id = _json_cursor(cursor, 4)
    try:
        if section not in TODO_SECTIONS:
            raise ValueError(section)
        return TodoCursor(_aware(as_of), section, _aware(due), str(dossier_id))
    except (TypeError, ValueError):
        raise invalid_cursor() from None


def encode_pair(due: datetime, dossier_id: str) -> str:
    return _json([due.isoformat(), dossier_id])


def decode_pair(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    due, dossier_id = _json_cursor(cursor, 2)
    try:
        return _aware(due), str(dossier_id)
    except (TypeError, ValueError):
        raise invalid_cursor() from None
