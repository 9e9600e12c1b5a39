"""Following the registry when a unit moves (a commune to another district, a district merged into another).

The counter table holds each unit's figures INCLUDING its subtree, summed up the tree the facts were applied on.
When the tree changes, every unit's OWN share (its figures minus its children's) stays what it was; only the sums
above it move. `retree_delta` is what to add to the stored table so that it equals the same own shares summed up
the new tree — exactly what `recompute` would rebuild from the dossiers with the new tree. A unit the old tree did
not know counted as a root (its own chain only, see AncestorLookup), and that is how its share is read back.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.scoring.domain.apply import AncestorLookup, expand
from services.scoring.domain.counters import CounterKey, contribution_delta

ParentMap = Mapping[str, str | None]


def own_shares(table: Mapping[CounterKey, int], parent_of: ParentMap) -> dict[CounterKey, int]:
    """Each unit's own figures: its stored (subtree) figures minus its children's, per the tree `parent_of`."""
    own: dict[CounterKey, int] = dict(table)
    for (unit, month, name), value in table.items():
        parent = parent_of.get(unit)
        if parent is not None and parent != unit:
            key = (parent, month, name)
            own[key] = own.get(key, 0) - value
    return {key: value for key, value in own.items() if value}


def retree_delta(
    table: Mapping[CounterKey, int], old_parent_of: ParentMap, new_parent_of: ParentMap
) -> dict[CounterKey, int]:
    """What to add to `table` (summed up `old_parent_of`) so it is summed up `new_parent_of`; no zero entries."""
    moved = {unit for unit in {*old_parent_of, *new_parent_of} if old_parent_of.get(unit) != new_parent_of.get(unit)}
    if not moved:
        return {}
    rebuilt: dict[CounterKey, int] = {}
    expand(own_shares(table, old_parent_of), AncestorLookup(new_parent_of), rebuilt)
    return contribution_delta(table, rebuilt)
