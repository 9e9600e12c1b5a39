"""Re-rolling the stored counters onto a new unit tree equals summing the same own shares up the new tree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.apply import AncestorLookup, expand
from services.scoring.domain.tree import own_shares, retree_delta

OLD = {"CITY": None, "D1": "CITY", "D2": "CITY", "C1": "D1", "C2": "D1", "DEPT": "CITY"}


def summed(own: dict, parent_of: dict) -> dict:
    table: dict = {}
    expand(own, AncestorLookup(parent_of), table)
    return table


def added(table: dict, delta: dict) -> dict:
    out = dict(table)
    for key, value in delta.items():
        out[key] = out.get(key, 0) + value
        if not out[key]:
            del out[key]
    return out


def test_a_commune_moving_to_another_district_takes_its_history_along() -> None:
    own = {("C1", "2026-09", "received"): 3, ("C2", "2026-09", "received"): 2, ("D1", "2026-09", "received"): 1}
    table = summed(own, OLD)
    assert table[("D1", "2026-09", "received")] == 6
    new = {**OLD, "C1": "D2"}
    delta = retree_delta(table, OLD, new)
    assert delta == {("D1", "2026-09", "received"): -3, ("D2", "2026-09", "received"): 3}
    assert added(table, delta) == summed(own, new)


def test_nothing_moves_when_the_tree_is_the_same_and_own_shares_invert_the_sum() -> None:
    own = {("C1", "2026-10", "events"): 4, ("DEPT", "2026-10", "events"): 7}
    table = summed(own, OLD)
    assert retree_delta(table, OLD, dict(OLD)) == {}
    assert own_shares(table, OLD) == own


def test_a_unit_the_old_tree_did_not_know_was_a_root_and_joins_its_parent() -> None:
    table = {("NEW", "2026-11", "events"): 2, ("CITY", "2026-11", "events"): 5}
    delta = retree_delta(table, OLD, {**OLD, "NEW": "D2"})
    assert delta == {("D2", "2026-11", "events"): 2, ("CITY", "2026-11", "events"): 2}


UNITS = ("CITY", "A", "B", "C", "D", "E")


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str | None]:
    """A random tree over UNITS rooted at CITY: each unit's parent comes earlier in a random order."""
    order = ["CITY", *draw(st.permutations(UNITS[1:]))]
    parents: dict[str, str | None] = {"CITY": None}
    for index, unit in enumerate(order[1:], start=1):
        parents[unit] = order[draw(st.integers(min_value=0, max_value=index - 1))]
    return parents


own_tables = st.dictionaries(
    st.tuples(st.sampled_from(UNITS), st.sampled_from(("2026-09", "2026-10")), st.sampled_from(("events", "resolved"))),
    st.integers(min_value=-3, max_value=9).filter(bool),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(own_tables, trees(), trees())
def test_any_re_rolled_table_equals_the_own_shares_summed_up_the_new_tree(own: dict, old: dict, new: dict) -> None:
    table = summed(own, old)
    assert added(table, retree_delta(table, old, new)) == summed(own, new)
