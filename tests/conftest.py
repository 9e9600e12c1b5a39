"""Marks every test by its tier from its folder (`-m unit` / `-m integration`); one Hypothesis profile for all."""

from pathlib import Path

import pytest
from hypothesis import settings

_TIERS = {"unit": "unit", "broker": "broker", "integration": "integration"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in _TIERS.items():
            if folder in parts:
                item.add_marker(getattr(pytest.mark, marker))


# No per-example time limit: `make test` runs the unit tier beside the integration tiers on 2 cores, where a quick
# example can wait behind other work for longer than Hypothesis' default 200 ms.
settings.register_profile("tthc", deadline=None)
settings.load_profile("tthc")
