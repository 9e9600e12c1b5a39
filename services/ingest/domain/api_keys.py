"""API keys of producers: generation, hashing for storage, display prefix, and unit-scope checks (SPEC §7)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.units import UnitRegistry

KEY_PREFIX = "tthc_"
DISPLAY_PREFIX_LENGTH = 12  # "tthc_" + 7 random characters: enough to recognise a key, useless to guess it
MAX_KEY_NAME_LENGTH = 100
# secrets.token_urlsafe(32) encodes 32 random bytes as 43 URL-safe base64 characters.
_KEY_RE = re.compile(r"tthc_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly generated key. `key` is shown to the operator once and never stored."""

    key: str
    key_hash: str
    display_prefix: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: its display prefix (`key_id`), owner, unit scope and revocation — never the key itself."""

    key_id: str
    name: str
    units: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "units": list(self.units),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def generate_api_key() -> NewApiKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key=key, key_hash=hash_api_key(key), display_prefix=display_prefix(key))


def hash_api_key(key: str) -> str:
    """SHA-256 hex of the key: what is stored and looked up.

    A plain fast hash is right here, unlike for passwords: the key carries 256 random bits, so no dictionary
    or brute-force attack on a leaked hash is feasible, and a slow KDF (bcrypt, argon2) would only cost CPU on
    every request. Being deterministic, the hash also serves directly as the lookup key (an indexed column).
    """
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The non-secret start of a key, for lists and logs ("tthc_AbC1dEf…")."""
    return key[:DISPLAY_PREFIX_LENGTH]


def looks_like_api_key(candidate: str) -> bool:
    """Cheap format check, so malformed bearer tokens are refused without a database lookup."""
    return _KEY_RE.fullmatch(candidate) is not None


def key_matches(candidate: str, stored_hash: str) -> bool:
    """Compare a presented key to a stored hash in constant time."""
    return hmac.compare_digest(hash_api_key(candidate), stored_hash)


@dataclass(frozen=True, slots=True)
class KeyScope:
    """The unit subtrees a key may write to: an event's unit must be a root or lie below one."""

    root_unit_ids: frozenset[str]


def validate_key_request(name: object, units: object, registry: UnitRegistry) -> list[str]:
    """Errors of a `POST /v1/admin/api-keys` body (`{"name": ..., "units": [...]}`), Vietnamese / English."""
    errors: list[str] = []
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_KEY_NAME_LENGTH:
        errors.append("Tên khóa: 1–100 ký tự / key name: 1–100 characters")
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        errors.append("'units' phải là danh sách mã đơn vị không rỗng / 'units' must be a non-empty list of unit ids")
        return errors
    for unit_id in units:
        if unit_id not in registry:
            errors.append(f"Đơn vị '{unit_id}' không tồn tại / unit '{unit_id}' does not exist")
    return errors


def scope_checker(scope: KeyScope, registry: UnitRegistry) -> Callable[[str], bool]:
    """A fast membership test for one request: the units under the key's roots, computed once."""
    allowed: set[str] = set()
    for root in scope.root_unit_ids:
        if root in registry:
            allowed.add(root)
            allowed.update(registry.descendants(root))
    return allowed.__contains__


def unit_in_scope(unit_id: str, roots: Iterable[str], registry: UnitRegistry) -> bool:
    """True when `unit_id` is inside any of the subtrees rooted at `roots` (an unknown unit is never inside)."""
    if unit_id not in registry:
        return False
    lineage = {unit_id, *registry.ancestors(unit_id)}
    return any(root in lineage for root in roots)
