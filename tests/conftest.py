"""Marks every test by its tier from its folder, so `-m unit` / `-m integration` select cleanly."""

from pathlib import Path

import pytest

_TIERS = {"unit": "unit", "broker": "broker", "integration": "integration"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in _TIERS.items():
            if folder in parts:
                item.add_marker(getattr(pytest.mark, marker))
