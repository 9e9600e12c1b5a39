"""In-memory copies each ingest process keeps: the unit registry (with its resolver) and API-key lookups.

Several ingest processes may run, and the CLI writes to the database directly, so no process can assume it saw
every change. Three mechanisms keep the copies fresh, strongest first:

1. `LISTEN tthc_registry` / `LISTEN tthc_api_keys` on a dedicated connection: a write's NOTIFY (sent in the
   writer's transaction) reloads the registry or drops the key cache right after the commit.
2. A periodic reload of the registry (`REGISTRY_REFRESH_S`, default 30 s) in case the listener connection was
   lost; the listener is re-established on the same tick.
3. A reload when a request names a unit the copy does not know (at most every `REGISTRY_MISS_REFRESH_S`), and
   key lookups that expire after `KEY_CACHE_TTL_S` (default 5 s) — the bound on how long a revoked key keeps
   working in a process that missed the notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import asyncpg

from services.ingest.adapters.key_store import KEYS_CHANNEL, find_key
from services.ingest.adapters.registry_store import REGISTRY_CHANNEL, RegistrySnapshot, load_snapshot
from services.ingest.domain.api_keys import KeyScope, StoredKey, hash_api_key, looks_like_api_key, scope_checker
from services.ingest.domain.unit_resolver import UnitResolver
from shared.units import UnitRegistry

log = logging.getLogger(__name__)
_MAX_CACHED_KEYS = 10_000


class RegistryCache:
    """The current registry, resolver and a per-key scope memo; replaced wholesale on every reload."""

    def __init__(self, pool: asyncpg.Pool, *, miss_refresh_s: float) -> None:
        self._pool = pool
        self._miss_refresh_s = miss_refresh_s
        self._lock = asyncio.Lock()
        self._loaded_at = 0.0
        self.snapshot = RegistrySnapshot(UnitRegistry(()), {})
        self.resolver = UnitResolver(self.snapshot.registry)
        self._scopes: dict[frozenset[str], Callable[[str], bool]] = {}

    @property
    def registry(self) -> UnitRegistry:
        return self.snapshot.registry

    @property
    def aliases(self) -> dict[str, str]:
        return self.snapshot.aliases

    async def reload(self) -> None:
        async with self._lock:
            snapshot = await load_snapshot(self._pool)
            resolver = UnitResolver(snapshot.registry, snapshot.aliases)
            self.snapshot, self.resolver, self._scopes = snapshot, resolver, {}
            self._loaded_at = time.monotonic()

    async def reload_after_miss(self) -> bool:
        """Reload because a request named a unit this copy does not know — unless a reload happened just now."""
        if time.monotonic() - self._loaded_at < self._miss_refresh_s:
            return False
        await self.reload()
        return True

    def scope_of(self, roots: Iterable[str]) -> Callable[[str], bool]:
        """A membership test for the units under `roots`, computed once per registry version."""
        key = frozenset(roots)
        checker = self._scopes.get(key)
        if checker is None:
            checker = self._scopes[key] = scope_checker(KeyScope(key), self.registry)
        return checker


@dataclass(frozen=True, slots=True)
class _CachedLookup:
    key: StoredKey | None
    expires_at: float


class KeyCache:
    """Key → stored record (or None), cached for `ttl_s`; misses are cached too, so bad keys cost no queries."""

    def __init__(self, pool: asyncpg.Pool, *, ttl_s: float) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._entries: dict[str, _CachedLookup] = {}

    async def lookup(self, presented: str) -> StoredKey | None:
        if not looks_like_api_key(presented):
            return None
        key_hash = hash_api_key(presented)
        now = time.monotonic()
        cached = self._entries.get(key_hash)
        if cached is not None and cached.expires_at > now:
            return cached.key
        stored = await find_key(self._pool, key_hash)
        if len(self._entries) >= _MAX_CACHED_KEYS:
            self._entries.clear()
        self._entries[key_hash] = _CachedLookup(stored, now + self._ttl_s)
        return stored

    def clear(self) -> None:
        self._entries.clear()


class ChangeListener:
    """LISTENs for registry and key changes; reloads on a timer too and re-listens after a lost connection."""

    def __init__(self, database_url: str, registry: RegistryCache, keys: KeyCache, *, period_s: float) -> None:
        self._database_url = database_url
        self._registry = registry
        self._keys = keys
        self._period_s = period_s
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._tick(), name="registry-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._database_url)
        await conn.add_listener(REGISTRY_CHANNEL, self._on_registry)
        await conn.add_listener(KEYS_CHANNEL, self._on_keys)
        self._conn = conn

    def _on_registry(self, *_: object) -> None:
        task = asyncio.create_task(self._registry.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _on_keys(self, *_: object) -> None:
        self._keys.clear()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._period_s)
            try:
                await self._registry.reload()
                if self._conn is None or self._conn.is_closed():
                    # Changes may have been missed while not listening: forget cached keys as well.
                    self._keys.clear()
                    await self._listen()
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("registry refresh failed (will retry): %r", error)
