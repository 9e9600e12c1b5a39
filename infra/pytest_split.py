"""`make test` runs the unit tier in a pytest of its own beside the other tiers (`python -m infra test
--unit-alongside`): when that is safe, and how the two runs' answers and last-failed lists become one."""

from __future__ import annotations

import json
from pathlib import Path

from infra import paths

# Options whose next argument is their value (a `-k simulator` names no folder).
_TAKES_VALUE = frozenset({"-k", "-m", "-p", "-o", "-c", "--deselect", "--ignore", "--rootdir", "--confcutdir",
                          "--timeout", "--durations", "--maxfail", "--tb", "-W"})  # fmt: skip
# Options a split would get wrong: the last-failed cache read by two processes, a report or temporary folder each
# process would overwrite (or delete under the other), a stop at the first failure that could stop only one part.
_NO_SPLIT = ("--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first", "--sw", "--stepwise",
             "--sw-skip", "--junitxml", "--junit-xml", "--resultlog", "--html", "--cov", "--basetemp", "-x",
             "--exitfirst", "--maxfail", "--pdb", "--trace", "--cache-clear")  # fmt: skip


def names_tests(arg: str) -> bool:
    return not arg.startswith("-") and (paths.REPO_ROOT / arg.split("::")[0]).exists()


def can_split(pytest_args: list[str]) -> bool:
    """Whether the unit tier may run in a pytest of its own: not when the arguments select tests themselves (a path)
    or use anything two processes would get wrong (`_NO_SPLIT`); then one pytest runs exactly what was asked."""
    value_next = False
    for arg in pytest_args:
        if arg.split("=")[0] in _NO_SPLIT:
            return False
        if value_next:
            value_next = False
            continue
        if arg in _TAKES_VALUE:
            value_next = True
            continue
        if names_tests(arg):
            return False
    return True


# The unit tier's own pytest cache: two processes writing one last-failed list would erase each other's failures.
UNIT_TIER_CACHE = paths.VAR / "pytest-unit-tier"
_PYTEST_CACHE = paths.REPO_ROOT / ".pytest_cache"
LAST_FAILED = Path("v") / "cache" / "lastfailed"


def unit_cache_option(pytest_args: list[str]) -> list[str]:
    return [] if "no:cacheprovider" in pytest_args else ["-o", f"cache_dir={UNIT_TIER_CACHE}"]


def merge_last_failed(unit_cache: Path, main_cache: Path = _PYTEST_CACHE) -> None:
    """Adds the unit tier's failures to the main cache's last-failed list, so a later `--lf` (one pytest) sees both
    parts' failures. Without a cache (`-p no:cacheprovider`) there is nothing to merge."""
    source = unit_cache / LAST_FAILED
    if not source.exists():
        return
    target = main_cache / LAST_FAILED
    merged = json.loads(target.read_text()) if target.exists() else {}
    merged = {key: value for key, value in merged.items() if not key.startswith("tests/unit/")}
    merged.update(json.loads(source.read_text()))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(merged, indent=2, sort_keys=True))


_NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED, without importing pytest into the launcher


def combined_exit_code(*codes: int) -> int:
    """One exit code for parts that split the suite: a part whose selection (`-m`, `-k`) matched nothing is no
    failure when another part ran tests."""
    ran = [code for code in codes if code != _NO_TESTS_COLLECTED]
    if not ran:
        return _NO_TESTS_COLLECTED
    return next((code for code in ran if code != 0), 0)
