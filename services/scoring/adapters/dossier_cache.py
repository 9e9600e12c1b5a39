"""The dossiers an applying process wrote recently, kept in memory with the row version they were written at.

Kafka keys `dossier-events` by dossier_id, so the process that owns a partition applies every event of its
dossiers: most dossiers a batch touches were written by this very process a few batches before. Reading them back
(the state's JSON text from PostgreSQL, parsed and derived again) is work whose result this process already had.

Correctness does not rest on partition ownership. The locking SELECT still runs for every dossier of the batch and
still locks every row; it returns the row's `version` (migration 0011), and the state is read only where that
version is not the one this cache holds. Every write of a row changes its version — the scoring UPDATE sets
version + 1, a trigger bumps it for any other UPDATE (`recompute`, an operator's SQL), and an inserted row takes a
fresh multiple of 2^20 from a sequence, so a row deleted and inserted again can never show an old version — hence
a version equal to the cached one means the row holds exactly the cached state. Entries are installed only after
their transaction committed (PostgresWriteStore), at the version that transaction wrote.

Memory is bounded: least recently used entries go beyond `capacity` (the DOSSIER_CACHE_SIZE setting; 0 turns the
cache off). An entry is a few kB (the state's records and the stored text).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from services.scoring.domain.apply import StoredDossier

# An entry: the row version the state was written at, and the dossier as the locking SELECT would have loaded it.
Entry = tuple[int, StoredDossier]


class DossierCache:
    """A bounded LRU map dossier_id → (version, StoredDossier); hit and miss counts for the metrics."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, dossier_ids: Iterable[str]) -> dict[str, Entry]:
        """The entries held for these ids (a snapshot: the caller awaits the database before it uses them, and
        another transaction of this process may install or evict entries meanwhile)."""
        if not self._entries:
            return {}
        get = self._entries.get
        return {dossier_id: entry for dossier_id in dossier_ids if (entry := get(dossier_id)) is not None}

    def count(self, hits: int, misses: int) -> None:
        self.hits += hits
        self.misses += misses

    def install(self, entries: Mapping[str, Entry]) -> None:
        """Entries written by a committed transaction; the least recently written go beyond the capacity."""
        if self.capacity <= 0:
            return
        held, move = self._entries, self._entries.move_to_end
        for dossier_id, entry in entries.items():
            held[dossier_id] = entry
            move(dossier_id)
        excess = len(held) - self.capacity
        popitem = held.popitem
        for _ in range(max(0, excess)):
            popitem(last=False)

    def discard(self, dossier_ids: Iterable[str]) -> None:
        """Forget these ids (written where the version was not known: their entry would be refused anyway)."""
        pop = self._entries.pop
        for dossier_id in dossier_ids:
            pop(dossier_id, None)

    def clear(self) -> None:
        self._entries.clear()
