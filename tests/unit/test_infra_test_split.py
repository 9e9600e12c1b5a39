"""`python -m infra test --unit-alongside`: how the two pytest runs' answers become one, and when it splits."""

from __future__ import annotations

import pytest

from infra.stack import _combined_exit_code, _names_tests


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
    assert _combined_exit_code(*codes) == expected


def test_paths_select_tests_options_do_not() -> None:
    assert _names_tests("tests/unit")
    assert _names_tests("tests/unit/test_wiring.py::test_stack_ids_differ_per_checkout_and_per_run")
    assert not _names_tests("--durations=25")
    assert not _names_tests("-q")
    assert not _names_tests("unit")  # the value of `-m unit`, not a path
