"""Request and response models of the ingest HTTP API (OpenAPI documents itself from these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_EXAMPLES: list[dict[str, Any]] = [
    {
        "event_id": "MC-2024-000123:received",
        "dossier_id": "000.00.31.H26-240701-0001",
        "unit_id": "H26.D01",
        "type": "received",
        "occurred_at": "2024-07-01T08:15:00+07:00",
        "procedure_id": "1.004227",
        "channel": "online",
        "due_at": "2024-07-10T17:00:00+07:00",
        "digitized": True,
    },
    {
        "event_id": "MC-2024-000123:resolved",
        "dossier_id": "000.00.31.H26-240701-0001",
        "unit_id": "H26.D01",
        "type": "resolved",
        "occurred_at": "2024-07-08T10:30:00+07:00",
        "outcome": "approved",
        "e_result": True,
    },
]


class RejectedItem(BaseModel):
    index: int = Field(description="0-based position of the item in the request (array index or NDJSON line)")
    event_id: str | None = Field(description="The item's event_id when a valid one could be read, else null")
    error: str = Field(description="Stable error code (table in docs/ingest.md), e.g. missing_field, forbidden_unit")
    detail: str = Field(description="Explanation, Vietnamese first then English, separated by ' / '")


class RedirectedItem(BaseModel):
    index: int = Field(description="0-based position of the item in the request (for DVCQG: the snapshot index)")
    event_id: str = Field(description="The accepted event's event_id")
    unit_id: str = Field(description="The unit the event names: retired on or before the event's day")
    effective_unit_id: str = Field(
        description="The unit the event's figures count for: the successor (followed through further "
        "retirements) that exists on the day of occurred_at in Vietnam time (UTC+7), SPEC §1"
    )


class IngestResponse(BaseModel):
    """Kết quả tiếp nhận — valid events are accepted even when others in the same request are rejected."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 1,
                    "rejected": [
                        {
                            "index": 1,
                            "event_id": "MC-2024-000123:resolved",
                            "error": "missing_field",
                            "detail": "Thiếu trường bắt buộc 'outcome' / missing required field 'outcome'",
                        }
                    ],
                },
                {
                    "accepted": 1,
                    "rejected": [],
                    "redirected": [
                        {
                            "index": 0,
                            "event_id": "MC-2025-000456:received",
                            "unit_id": "H26.DIS.HOANKIEM.C01",
                            "effective_unit_id": "H26.COM.HOANKIEM",
                        }
                    ],
                },
            ]
        }
    )

    accepted: int = Field(description="Events written to Kafka and acknowledged by the broker (acks=all)")
    rejected: list[RejectedItem] = Field(description="One entry per refused item, in request order")
    redirected: list[RedirectedItem] | None = Field(
        default=None,
        description="Present only when some accepted events name a unit that was retired on their day (legacy "
        "systems keep sending old codes): those events are accepted unchanged and count for `effective_unit_id`. "
        "In request order.",
    )


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Một cửa quận Ba Đình", "units": ["H26.D01"]}]})

    name: str = Field(description="Who uses the key (1–100 chars), e.g. the one-stop-shop system's name")
    units: list[str] = Field(description="Unit ids whose subtrees the key may send events for (non-empty)")


class ApiKeyInfo(BaseModel):
    key_id: str = Field(description="Public id of the key: its first 12 characters (safe to show and log)")
    name: str = Field(description="Who uses the key")
    units: list[str] = Field(description="Roots of the unit subtrees the key may write to")
    created_at: str = Field(description="RFC 3339 creation time")
    revoked_at: str | None = Field(description="RFC 3339 revocation time, null while the key is active")


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="The secret key — shown this once only; store it in the producing system")


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo] = Field(description="Every key ever created (without secrets), oldest first")


class RegistryError(BaseModel):
    row: int | None = Field(description="1-based record number (CSV: first line after the header is 1), or null")
    field: str | None = Field(description="Offending column, or null for a whole-row or whole-tree problem")
    error: str = Field(
        description="Stable code (table in docs/ingest.md), e.g. invalid_field, unknown_parent, multiple_cities, "
        "cycle, invalid_date, boundary_not_month_start, missing_successor, successor_not_valid, successor_cycle, "
        "level_changed"
    )
    detail: str = Field(description="Explanation, Vietnamese first then English")


class RegistryRejected(BaseModel):
    error: str = Field(description="invalid_registry or invalid_aliases")
    detail: str = Field(description="Summary, Vietnamese first then English")
    errors: list[RegistryError] = Field(description="Every problem found; nothing was applied")


class UnitRow(BaseModel):
    """One unit of a registry body (`PUT /v1/admin/units` as JSON): the CSV's columns, SPEC §1."""

    unit_id: str = Field(description="1–64 chars of [A-Za-z0-9._-], unique, never reused for another unit")
    name: str = Field(description="1–200 chars, UTF-8, kept exactly (Vietnamese diacritics round-trip)")
    level: str = Field(description="city, department, district or commune; never changes on a reload")
    parent_id: str | None = Field(
        default=None,
        description="Null only for the city; a department's or district's parent is the city; a commune's is a "
        "district or the city",
    )
    valid_from: str | None = Field(
        default=None, description="YYYY-MM-DD, the first day of a month: first day the unit exists; null: always"
    )
    valid_to: str | None = Field(
        default=None,
        description="YYYY-MM-DD, the first day of a month: first day it no longer exists (after valid_from); then "
        "successor_id is required; the city never retires",
    )
    successor_id: str | None = Field(
        default=None,
        description="Set exactly when valid_to is: the unit that takes over the dossiers — not the unit itself, "
        "existing on the day valid_to, without successor cycles",
    )


class UnitsLoaded(BaseModel):
    units: int = Field(description="Units in the registry after the load")
    added: list[str] = Field(description="Unit ids that were new")
    updated: list[str] = Field(description="Unit ids whose name, parent, validity or successor changed")


class UnitInfo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "unit_id": "H26.DIS.HOANKIEM.C01",
                    "name": "Phường Hàng Bạc",
                    "level": "commune",
                    "parent_id": "H26.DIS.HOANKIEM",
                    "path": ["H26", "H26.DIS.HOANKIEM", "H26.DIS.HOANKIEM.C01"],
                    "valid_from": None,
                    "valid_to": "2025-07-01",
                    "successor_id": "H26.COM.HOANKIEM",
                }
            ]
        }
    )

    unit_id: str = Field(description="Mã đơn vị")
    name: str = Field(description="Tên đơn vị (Vietnamese, exact)")
    level: str = Field(description="city, department, district or commune")
    parent_id: str | None = Field(description="Parent unit id, null for the city")
    path: list[str] = Field(description="Ancestors from the city down to the unit, inclusive (current tree)")
    valid_from: str | None = Field(
        description="Ngày có hiệu lực / first day (YYYY-MM-DD, Vietnam time, a month start) on which the unit "
        "exists; null: since always"
    )
    valid_to: str | None = Field(
        description="Ngày hết hiệu lực / first day on which the unit no longer exists (a month start); null while "
        "it exists"
    )
    successor_id: str | None = Field(
        description="Đơn vị kế thừa / the unit that took over a retired unit's dossiers; set exactly when valid_to is"
    )


class UnitList(BaseModel):
    items: list[UnitInfo] = Field(description="Every unit, ordered by unit_id")


class AliasInfo(BaseModel):
    alias: str = Field(description="Another name a one-stop-shop system uses for the unit (DVCQG DonViXuLy)")
    unit_id: str = Field(description="The registry unit it stands for")


class AliasList(BaseModel):
    items: list[AliasInfo] = Field(description="Every alias, ordered by alias")
