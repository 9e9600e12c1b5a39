"""Registry, alias and API-key administration (admin endpoints and CLI) on a fake store and registry copy."""

from __future__ import annotations

import pytest

from services.ingest.service.key_admin import InvalidKeyRequestError, KeyAdmin
from services.ingest.service.registry_admin import RegistryAdmin
from shared.unit_loading import parse_units_csv
from tests.unit.ingest.fakes import FakeKeyLookups, FakeRegistryView, FakeStore, registry_of

pytestmark = pytest.mark.unit

UNITS = """unit_id,name,level,parent_id
H26,Thành phố Hà Nội,city,
H26.DD,Quận Đống Đa,district,H26
H26.DD.VM,Phường Văn Miếu,commune,H26.DD
"""


def admins() -> tuple[FakeStore, FakeRegistryView, RegistryAdmin, KeyAdmin, FakeKeyLookups]:
    store = FakeStore(registry_of(UNITS))
    view = FakeRegistryView(store)
    lookups = FakeKeyLookups()
    return store, view, RegistryAdmin(store, view), KeyAdmin(store, view, lookups), lookups


async def test_loading_units_merges_them_and_refreshes_the_copy() -> None:
    _store, view, registry_admin, _, _ = admins()
    outcome = await registry_admin.load_units(
        parse_units_csv("unit_id,name,level,parent_id\nH26.BD,Ba Đình,district,H26\n").records
    )
    assert outcome.registry is not None and outcome.added == ["H26.BD"]
    assert view.registry.exists("H26.BD") and view.registry.exists("H26.DD.VM")  # kept: a merge, not a replace


async def test_a_refused_registry_changes_nothing() -> None:
    store, view, registry_admin, _, _ = admins()
    bad = parse_units_csv("unit_id,name,level,parent_id\nH26.X,Xã lạc,commune,H26.NOPE\n").records
    outcome = await registry_admin.load_units(bad)
    assert outcome.registry is None and outcome.errors
    assert store.writes == 0 and view.reloads == 0 and not view.registry.exists("H26.X")


async def test_aliases_are_validated_against_the_current_registry_then_written() -> None:
    store, _view, registry_admin, _, _ = admins()
    store.registry = registry_of(UNITS + "H26.BD,Ba Đình,district,H26\n")  # loaded meanwhile by another process
    parsed = await registry_admin.put_aliases([(1, "UBND quận Ba Đình", "H26.BD"), (2, "Đống Đa", "H26.DD")])
    assert parsed.errors == [] and store.aliases == {"UBND quận Ba Đình": "H26.BD", "Đống Đa": "H26.DD"}
    assert await registry_admin.aliases() == {"UBND quận Ba Đình": "H26.BD", "Đống Đa": "H26.DD"}


async def test_an_alias_to_an_unknown_unit_writes_nothing() -> None:
    store, _, registry_admin, _, _ = admins()
    parsed = await registry_admin.put_aliases([(1, "ok", "H26.DD"), (2, "lost", "H26.NOPE")])
    assert [error.row for error in parsed.errors] == [2] and store.aliases == {} and store.writes == 0


async def test_deleting_an_alias() -> None:
    store, view, registry_admin, _, _ = admins()
    store.aliases = {"Đống Đa": "H26.DD"}
    assert await registry_admin.delete_alias("Đống Đa") is True and view.aliases == {}
    assert await registry_admin.delete_alias("Đống Đa") is False


async def test_creating_a_key_for_existing_units() -> None:
    _store, _, _, key_admin, _ = admins()
    new, stored = await key_admin.create("  Một cửa Đống Đa ", ["H26.DD.VM", "H26.DD", "H26.DD"])
    assert stored.name == "Một cửa Đống Đa" and stored.units == ("H26.DD", "H26.DD.VM")
    assert new.key.startswith(stored.key_id) and await key_admin.list_keys() == [stored]


@pytest.mark.parametrize(("name", "units"), [("", ["H26"]), ("x", []), ("x", ["H26.NOPE"]), (None, None)])
async def test_an_unusable_key_request_is_refused_with_its_reasons(name: object, units: object) -> None:
    store, _, _, key_admin, _ = admins()
    with pytest.raises(InvalidKeyRequestError) as refused:
        await key_admin.create(name, units)
    assert refused.value.errors and store.keys == {}


async def test_revoking_a_key_drops_this_process_s_cached_lookups() -> None:
    _, _, _, key_admin, lookups = admins()
    _, stored = await key_admin.create("x", ["H26"])
    revoked = await key_admin.revoke(stored.key_id)
    assert revoked is not None and revoked.revoked and lookups.cleared == 1
    assert await key_admin.revoke("tthc_missing") is None and lookups.cleared == 1
