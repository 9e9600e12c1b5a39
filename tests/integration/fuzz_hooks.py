"""Schemathesis hooks of test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS): how to send an NDJSON body, and
which negative cases of POST /v1/events are meaningful."""

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


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    """Negative data for POST /v1/events in its JSON form only.

    The NDJSON form is a string of lines, and any string is a valid request (SPEC §7: a line that is not an event is
    a `rejected` entry of a 200), so its "negative" cases — a number or an object where the string goes — can only
    be sent as lines and are rightly accepted. The JSON form has real request-level refusals (not an array: 400
    not_an_array; over 5,000 items: 413), and its negative cases are checked like every other operation's."""
    operation = case.operation
    if operation.method.upper() != "POST" or operation.path != "/v1/events":
        return True
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    return not (negative and case.media_type == "application/x-ndjson")
