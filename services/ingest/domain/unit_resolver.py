"""Matching a free-text agency (e.g. DVCQG `DonViXuLy`) to a registry unit: id, exact name, alias, then loose."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from shared.units import UnitRegistry

_NON_WORD = re.compile(r"[\W_]+")


def normalise_name(text: str) -> str:
    """Case-, diacritic-, punctuation- and spacing-insensitive form: "Sở Tư pháp" → "so tu phap".

    `đ` is not a combining mark in Unicode, so it is folded by hand; otherwise "Đống Đa" would never match
    "Dong Da".
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


@dataclass(frozen=True, slots=True)
class Resolution:
    unit_id: str | None
    matched_by: str | None = None  # "id", "name", "alias", "normalised_name", "normalised_alias"
    ambiguous: tuple[str, ...] = ()


class UnitResolver:
    """Resolves agency references. Aliases map extra spellings (old names, national codes) to unit ids."""

    def __init__(self, registry: UnitRegistry, aliases: Mapping[str, str] | None = None) -> None:
        aliases = dict(aliases or {})
        unknown = sorted(f"{alias} → {unit_id}" for alias, unit_id in aliases.items() if unit_id not in registry)
        if unknown:
            raise ValueError(f"aliases point to units missing from the registry: {', '.join(unknown)}")
        self.registry = registry
        self._names: dict[str, set[str]] = {}
        self._loose_names: dict[str, set[str]] = {}
        for unit in registry:
            self._names.setdefault(unit.name, set()).add(unit.unit_id)
            self._loose_names.setdefault(normalise_name(unit.name), set()).add(unit.unit_id)
        self._aliases = aliases
        self._loose_aliases: dict[str, set[str]] = {}
        for alias, unit_id in aliases.items():
            self._loose_aliases.setdefault(normalise_name(alias), set()).add(unit_id)

    def resolve(self, reference: str) -> Resolution:
        """The first step that names exactly one unit wins; a step naming several is an ambiguity (no match)."""
        if reference in self.registry:
            return Resolution(reference, "id")
        loose = normalise_name(reference)
        steps: tuple[tuple[str, set[str]], ...] = (
            ("name", self._names.get(reference, set())),
            ("alias", {self._aliases[reference]} if reference in self._aliases else set()),
            ("normalised_name", self._loose_names.get(loose, set()) if loose else set()),
            ("normalised_alias", self._loose_aliases.get(loose, set()) if loose else set()),
        )
        for step, candidates in steps:
            if len(candidates) == 1:
                return Resolution(next(iter(candidates)), step)
            if len(candidates) > 1:
                return Resolution(None, step, tuple(sorted(candidates)))
        return Resolution(None)
