"""Response models of the scoring API (SPEC §6), documented field by field for OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from services.scoring.service.read_model import DossierRef
from shared.http import PG_BIGINT_MAX

# A dead-letter row id: an integer (true/false or "1" are refused), within PostgreSQL's bigint.
RowId = Annotated[StrictInt, Field(ge=1, le=PG_BIGINT_MAX)]


class DossierItem(DossierRef):
    due_at: datetime = Field(description="Effective due (hạn trả kết quả)")
    received_at: datetime = Field(description="When it was received")
    days_late: float = Field(description="Days past due at `as_of` (negative: days left)")


class DossierPage(BaseModel):
    unit_id: str = Field(description="Unit asked for")
    state: str = Field(description="overdue or due_soon")
    as_of: datetime = Field(description="Instant of the query")
    items: list[DossierItem] = Field(description="Dossiers ordered by due, then id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class DeadLetter(BaseModel):
    id: int = Field(description="Row id (use as `before` to page)")
    topic: str = Field(description="Source topic")
    partition: int = Field(description="Source partition")
    offset: int = Field(description="Source offset")
    record_key: str | None = Field(description="Record key")
    record_value: str | None = Field(description="Record value as text")
    event_id: str | None = Field(description="event_id when it could be read")
    error: str = Field(description="Rejection code")
    detail: str = Field(description="Why it was rejected")
    dead_at: datetime = Field(description="When it was dead-lettered")
    status: str = Field(
        "dead",
        description="dead (broke the contract), pending (named a unit not yet registered: applied automatically "
        "once it is), applied (re-applied), discarded (by an operator)",
    )
    unit_id: str | None = Field(None, description="The unit a pending record waits for")
    resolved_at: datetime | None = Field(None, description="When it was applied or discarded")
    attempts: int = Field(0, description="How many times it was tried again")


class DeadLetters(BaseModel):
    total: int = Field(description="Dead-lettered records matching the filter")
    by_status: dict[str, int] = Field(default_factory=dict, description="Count of every record per status")
    items: list[DeadLetter] = Field(description="Newest first")


class RedriveRequest(BaseModel):
    ids: list[RowId] = Field(
        min_length=1, max_length=5000, description="Dead letters (pending or dead) to apply again, by row id"
    )


class DiscardRequest(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=5000, description="Dead letters to mark discarded, by row id")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the row's detail)")


class RedriveResult(BaseModel):
    applied: int = Field(description="Records applied (their events counted, or found already counted)")
    still_rejected: int = Field(description="Records still rejected; their rows keep the new reason")
    duplicates: int = Field(description="Events among those that were already counted")


class DiscardResult(BaseModel):
    discarded: int = Field(description="Rows marked discarded (only pending or dead rows can be)")
