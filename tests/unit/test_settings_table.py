"""README.md's settings table is what `python -m infra.settings_table` writes from the settings classes."""

from __future__ import annotations

import pytest

from infra.settings_table import README, SERVICES, render_table, rewrite


def test_readme_table_is_the_generated_one() -> None:
    current = README.read_text("utf-8")
    assert rewrite(current) == current, "README.md's settings table is stale: run `python -m infra.settings_table`"


def test_every_setting_of_every_service_is_documented_in_the_table() -> None:
    table = render_table()
    for service, settings in SERVICES:
        for name, field in settings.model_fields.items():
            assert field.description, f"{service}: {name.upper()} has no description"
            assert f"`{name.upper()}`" in table
    for variable in ("CORS_ORIGINS", "SCORING_URL", "ALERTS_PUBLIC_URL", "DASHBOARD_PUBLIC_URL", "STACK_ID"):
        assert f"`{variable}`" in table


def test_a_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        rewrite("# no table here\n")
