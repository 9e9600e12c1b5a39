"""API-key management (admin endpoints and CLI alike): create, list, revoke."""

from __future__ import annotations

from services.ingest.domain.api_keys import NewApiKey, StoredKey, validate_key_request
from services.ingest.service.ports import KeyLookups, KeyStore, RegistryView


class InvalidKeyRequestError(Exception):
    """The name or the units of a key request are unusable; `errors` says why, one line each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class KeyAdmin:
    def __init__(self, store: KeyStore, registry: RegistryView, lookups: KeyLookups | None = None) -> None:
        self._store = store
        self._registry = registry
        self._lookups = lookups

    async def create(self, name: object, units: object) -> tuple[NewApiKey, StoredKey]:
        """A new key for `units` (subtree roots that must exist right now); the plain key is returned this once."""
        await self._registry.reload()
        errors = validate_key_request(name, units, self._registry.registry)
        if errors:
            raise InvalidKeyRequestError(errors)
        assert isinstance(name, str) and isinstance(units, list)
        return await self._store.create_key(name.strip(), sorted(set(units)))

    async def list_keys(self) -> list[StoredKey]:
        return await self._store.list_keys()

    async def revoke(self, key_id: str) -> StoredKey | None:
        """Revoke (idempotent); None when there is no such key. This process stops accepting the key at once."""
        stored = await self._store.revoke_key(key_id)
        if stored is not None and self._lookups is not None:
            self._lookups.clear()
        return stored
