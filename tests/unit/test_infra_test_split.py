"""`python -m infra test --unit-alongside`: how the two pytest runs' answers become one, and when it splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.pytest_split import LAST_FAILED, can_split, combined_exit_code, merge_last_failed, names_tests


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((0, 0), 0),
        ((1, 0), 1),
        ((0, 1), 1),
        ((2, 1), 2),
        # `-m unit` selects nothing outside tests/unit: the part that ran decides.
        ((5, 0), 0),
        ((0, 5), 0),
        ((5, 1), 1),
        ((5, 5), 5),
    ],
)
def test_exit_codes_combine_failures_first_and_ignore_an_empty_part(codes: tuple[int, int], expected: int) -> None:
    assert combined_exit_code(*codes) == expected


def test_paths_select_tests_options_do_not() -> None:
    assert names_tests("tests/unit")
    assert names_tests("tests/unit/test_wiring.py::test_stack_ids_differ_per_checkout_and_per_run")
    assert not names_tests("--durations=25")
    assert not names_tests("-q")
    assert not names_tests("unit")  # the value of `-m unit`, not a path


@pytest.mark.parametrize(
    ("args", "split"),
    [
        (["--durations=25"], True),
        (["-q", "-p", "no:cacheprovider"], True),
        (["-m", "unit"], True),
        (["-k", "simulator"], True),  # a -k value that is also a folder's name
        (["tests/integration"], False),
        (["-q", "tests/unit/test_wiring.py"], False),
        (["--lf"], False),
        (["--sw"], False),
        (["-x"], False),
        (["--maxfail", "3"], False),
        (["--maxfail=3"], False),
        (["--junitxml=report.xml"], False),
        (["--basetemp", "/tmp/t"], False),
    ],
)
def test_the_suite_splits_only_when_two_processes_get_it_right(args: list[str], split: bool) -> None:
    assert can_split(args) is split


def test_the_unit_tiers_failures_replace_its_old_ones_in_the_main_last_failed_list(tmp_path: Path) -> None:
    unit_cache, main_cache = tmp_path / "unit", tmp_path / "main"
    (main_cache / LAST_FAILED).parent.mkdir(parents=True)
    (main_cache / LAST_FAILED).write_text(
        json.dumps({"tests/unit/test_a.py::old": True, "tests/integration/x.py::y": True})
    )
    merge_last_failed(unit_cache, main_cache)  # no unit cache (cacheprovider off): nothing changes
    assert json.loads((main_cache / LAST_FAILED).read_text())["tests/unit/test_a.py::old"] is True
    (unit_cache / LAST_FAILED).parent.mkdir(parents=True)
    (unit_cache / LAST_FAILED).write_text(json.dumps({"tests/unit/test_b.py::new": True}))
    merge_last_failed(unit_cache, main_cache)
    assert json.loads((main_cache / LAST_FAILED).read_text()) == {
        "tests/integration/x.py::y": True,
        "tests/unit/test_b.py::new": True,
    }
