"""A compact, independent SPEC §2 checker for the simulator's tests (deliberately not the ingest's validator)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
COMMON = {"event_id", "dossier_id", "unit_id", "type", "occurred_at", "procedure_id"}
SPECIFIC = {  # the fields each type may carry beyond the common ones
    "received": {"channel", "due_at", "digitized", "reused_data"},
    "supplement_requested": set(),
    "supplement_received": {"due_at"},
    "paused": set(),
    "resumed": {"due_at"},
    "resolved": {"outcome", "e_result"},
    "returned": set(),
    "withdrawn": set(),
    "payment": {"method", "amount"},
    "rating": {"level"},
}
ALL_SPECIFIC = set().union(*SPECIFIC.values())
REQUIRED = {"received": {"channel", "due_at"}, "resolved": {"outcome"}, "payment": {"method"}, "rating": {"level"}}
ENUMS = {
    "channel": {"online", "direct", "postal"},
    "outcome": {"approved", "refused"},
    "method": {"online", "counter"},
    "level": {"very_satisfied", "satisfied", "dissatisfied"},
}


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return None
    return datetime.fromisoformat(value).timestamp()


def problems(event: dict[str, Any], unit_ids: set[str], accepted_at: float) -> list[str]:
    """Every SPEC §2 rule the event breaks (empty = valid), judged as if accepted at `accepted_at`."""
    out = []
    etype = event.get("type")
    if etype not in SPECIFIC:
        return [f"type {etype!r}"]
    if not isinstance(event.get("event_id"), str) or not EVENT_ID.fullmatch(event["event_id"]):
        out.append("event_id")
    dossier = event.get("dossier_id")
    if not isinstance(dossier, str) or not 1 <= len(dossier) <= 64 or not dossier.isprintable():
        out.append("dossier_id")
    if event.get("unit_id") not in unit_ids:
        out.append("unit_id")
    occurred = parse_time(event.get("occurred_at"))
    if occurred is None:
        out.append("occurred_at format")
    elif occurred > accepted_at + 300:
        out.append("occurred_at in the future")
    if "procedure_id" in event and (not isinstance(event["procedure_id"], str) or len(event["procedure_id"]) > 32):
        out.append("procedure_id")
    for name in sorted(ALL_SPECIFIC & event.keys() - SPECIFIC[etype]):
        out.append(f"{name} does not belong to {etype}")
    for name in sorted(REQUIRED.get(etype, set()) - event.keys()):
        out.append(f"{name} missing")
    for name, allowed in ENUMS.items():
        if name in event and name in SPECIFIC[etype] and event[name] not in allowed:
            out.append(f"{name} value")
    for name in ("digitized", "reused_data", "e_result"):
        if name in event and not isinstance(event[name], bool):
            out.append(f"{name} type")
    if "amount" in event and (type(event["amount"]) is not int or event["amount"] < 0):
        out.append("amount")
    if "due_at" in event:
        due = parse_time(event["due_at"])
        if due is None:
            out.append("due_at format")
        elif occurred is not None and due <= occurred:
            out.append("due_at not after occurred_at")
    return out
