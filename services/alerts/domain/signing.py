"""HMAC-SHA256 signatures of webhook bodies: `X-TTHC-Signature: sha256=<hex>` over the exact body bytes.

Receivers verify with the shared secret before parsing. Several secrets may be accepted at once so a secret can
be rotated without a window of rejected deliveries. Replays of a captured body are harmless by design: every
notification carries a stable id (see lifecycle), and `X-TTHC-Delivery` identifies the message for dedup.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

SIGNATURE_HEADER = "X-TTHC-Signature"
DELIVERY_HEADER = "X-TTHC-Delivery"
_PREFIX = "sha256="


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("an empty secret signs nothing")
    return key


def sign(body: bytes, secret: str | bytes) -> str:
    """Header value for `body`: 'sha256=' + lower-case hex HMAC-SHA256."""
    return _PREFIX + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header_value: str | None, secrets: str | bytes | Iterable[str | bytes]) -> bool:
    """True when the header is a valid signature of `body` under any of the secrets (constant-time compare)."""
    if not header_value or not header_value.startswith(_PREFIX):
        return False
    candidates = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    presented = header_value.strip().lower().encode("ascii", "replace")
    return any(hmac.compare_digest(sign(body, secret).encode("ascii"), presented) for secret in candidates)


def delivery_id(notification_ids: Sequence[str]) -> str:
    """Identifies one group message by the notifications it carries; a retried delivery keeps the same id."""
    return hashlib.sha256("\n".join(sorted(notification_ids)).encode("utf-8")).hexdigest()[:32]


def webhook_headers(body: bytes, secret: str | bytes, notification_ids: Sequence[str]) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(body, secret),
        DELIVERY_HEADER: delivery_id(notification_ids),
    }
