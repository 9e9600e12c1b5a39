"""API keys: format, hash-only storage, display prefix, subtree scope."""

from __future__ import annotations

import hashlib
import itertools

from services.ingest.domain.api_keys import (
    KeyScope,
    display_prefix,
    generate_api_key,
    hash_api_key,
    key_matches,
    looks_like_api_key,
    scope_checker,
    unit_in_scope,
    validate_key_request,
)
from shared.units import UnitRegistry


def test_generated_key_has_prefix_and_256_bits() -> None:
    new = generate_api_key()
    assert new.key.startswith("tthc_") and len(new.key) == 5 + 43
    assert looks_like_api_key(new.key)
    assert new.key_hash == hashlib.sha256(new.key.encode()).hexdigest() and new.key not in new.key_hash
    assert new.display_prefix == new.key[:12] and len(new.display_prefix) < len(new.key) // 3


def test_keys_are_unique() -> None:
    keys = {generate_api_key().key for _ in range(200)}
    assert len(keys) == 200


def test_hash_is_deterministic_and_verifies_in_constant_time_helper() -> None:
    new = generate_api_key()
    assert hash_api_key(new.key) == new.key_hash
    assert key_matches(new.key, new.key_hash)
    assert not key_matches(new.key[:-1] + ("A" if new.key[-1] != "A" else "B"), new.key_hash)
    assert display_prefix(new.key) == new.display_prefix


def test_malformed_bearer_tokens_are_recognised() -> None:
    for candidate in ["", "tthc_", "tthc_" + "a" * 42, "tthc_" + "a" * 44, "xxxx_" + "a" * 43, "tthc_" + "+" * 43]:
        assert not looks_like_api_key(candidate), candidate


def test_scope_includes_the_subtree_only(registry: UnitRegistry) -> None:
    roots = ["H26.HK", "H26.STP"]
    assert unit_in_scope("H26.HK", roots, registry)
    assert unit_in_scope("H26.HK.HB", roots, registry)
    assert unit_in_scope("H26.STP", roots, registry)
    assert not unit_in_scope("H26", roots, registry)
    assert not unit_in_scope("H26.DD.VM", roots, registry)
    assert not unit_in_scope("H26.NOPE", roots, registry)
    assert unit_in_scope("H26.UH.VD", ["H26"], registry)


def test_scope_checker_agrees_with_unit_in_scope_everywhere(registry: UnitRegistry) -> None:
    ids = [unit.unit_id for unit in registry] + ["H26.NOPE"]
    for size in (1, 2):
        for roots in itertools.combinations(ids, size):
            allowed = scope_checker(KeyScope(frozenset(roots)), registry)
            for unit_id in ids:
                assert allowed(unit_id) == unit_in_scope(unit_id, roots, registry), (roots, unit_id)


def test_key_request_validation(registry: UnitRegistry) -> None:
    assert validate_key_request("Phần mềm Một cửa quận Hoàn Kiếm", ["H26.HK"], registry) == []
    assert len(validate_key_request("", ["H26.HK"], registry)) == 1
    assert len(validate_key_request("x" * 101, ["H26.HK"], registry)) == 1
    assert len(validate_key_request("ok", [], registry)) == 1
    assert len(validate_key_request("ok", "H26.HK", registry)) == 1
    errors = validate_key_request("ok", ["H26.HK", "H99"], registry)
    assert len(errors) == 1 and "H99" in errors[0]
