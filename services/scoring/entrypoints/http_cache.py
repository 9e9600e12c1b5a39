"""HTTP caching of the read API: strong ETags from the body bytes, 304 on If-None-Match, pre-compressed bodies.

A read body is built once per version of the figures it shows (the read tables of reading.py) and kept here with
its ETag and its gzip and brotli encodings (each compressed on first demand, then kept with the body). The ETag is a
hash of the identity bytes, so two scoring processes that show the same figures give the same ETag, and a changed
figure always changes it: a 304 is never answered for changed figures. Each content coding is a representation of
its own with its own strong tag (`"<hash>"`, `"<hash>-gz"`, `"<hash>-br"`); If-None-Match compares the hash, so a
client holding any encoding of the current body gets its 304.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field

import brotli
from starlette.requests import Request
from starlette.responses import Response

MIN_COMPRESS = 512
"""Bodies smaller than this are sent as they are (compression would not pay for its headers)."""
CODINGS = {"br": "-br", "gzip": "-gz"}

CURRENT = "public, max-age=1, stale-while-revalidate=30"
"""Figures of the current month change with every committed batch (at most about once a second)."""
CLOSED = "public, max-age=3600, stale-while-revalidate=86400"
"""A closed month changes only when late events are back-filled into it."""
REGISTRY = "public, max-age=60, stale-while-revalidate=600"


@dataclass(slots=True, eq=False)
class CachedBody:
    """A JSON body with its strong ETag and its compressed encodings, computed once each."""

    body: bytes
    digest: str = ""
    _encoded: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.blake2b(self.body, digest_size=12).hexdigest()

    def etag(self, coding: str | None = None) -> str:
        return f'"{self.digest}{CODINGS.get(coding or "", "")}"'

    def precompress(self) -> CachedBody:
        """Both encodings computed now (off the event loop, by the builder), so no request compresses."""
        if len(self.body) >= MIN_COMPRESS:
            for coding in CODINGS:
                self.encoded(coding)
        return self

    def encoded(self, coding: str) -> bytes:
        found = self._encoded.get(coding)
        if found is None:
            if coding == "br":
                found = brotli.compress(self.body, quality=5)
            else:
                found = gzip.compress(self.body, compresslevel=6, mtime=0)  # mtime 0: identical in every process
            self._encoded[coding] = found
        return found


def choose_coding(accept_encoding: str) -> str | None:
    """brotli, else gzip, if the client accepts it (q=0 refuses); None: identity."""
    accepted: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            accepted[name] = quality
    for coding in ("br", "gzip"):
        if accepted.get(coding, accepted.get("*", 0.0)) > 0:
            return coding
    return None


def not_modified(if_none_match: str | None, digest: str) -> bool:
    """Whether If-None-Match names this body (any of its encodings; weak comparison, RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        for suffix in CODINGS.values():
            tag = tag.removesuffix(suffix)
        if tag == digest:
            return True
    return False


def respond(request: Request, cached: CachedBody, cache_control: str, if_none_match: str | None = None) -> Response:
    """200 with the body in the best encoding the client accepts, or 304 if it already holds this body."""
    if_none_match = if_none_match if if_none_match is not None else request.headers.get("if-none-match")
    coding = choose_coding(request.headers.get("accept-encoding", "")) if len(cached.body) >= MIN_COMPRESS else None
    headers = {"ETag": cached.etag(coding), "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if not_modified(if_none_match, cached.digest):
        return Response(status_code=304, headers=headers)
    if coding is None:
        return Response(cached.body, media_type="application/json", headers=headers)
    headers["Content-Encoding"] = coding
    return Response(cached.encoded(coding), media_type="application/json", headers=headers)


IF_NONE_MATCH = "An ETag received before: the answer is 304 (no body) while the figures are the same"
_HEADERS = {
    "ETag": {"description": "Strong validator: a hash of the body (suffix -gz/-br per encoding)",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": "Short max-age and stale-while-revalidate for figures that change with the "
                      "live feed; long-lived for a closed month's rankings", "schema": {"type": "string"}},
    "Vary": {"description": "Accept-Encoding", "schema": {"type": "string"}},
}  # fmt: skip
CACHED_200 = {
    "description": "The figures (gzip or brotli encoded if accepted)",
    "headers": {**_HEADERS, "Content-Encoding": {"description": "br or gzip when accepted and worthwhile",
                                                 "schema": {"type": "string"}}},
}  # fmt: skip
NOT_MODIFIED = {304: {"description": "Not Modified: the If-None-Match tag names the current body", "headers": _HEADERS}}
