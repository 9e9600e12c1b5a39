"""Schemathesis hooks of test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS): how to send an NDJSON body."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """POST /v1/events documents NDJSON as a string (one event per line); a generated list is sent line by line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
