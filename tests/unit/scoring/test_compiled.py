"""The mypyc-compiled hot modules (services/scoring/compiled.py): imported when built and current, the sources
otherwise, and both forms compute the same figures.

`make test` builds the extensions first and sets SCORING_EXPECT_COMPILED=1, so there these tests prove the
compiled form is the one in use AND that the interpreted fallback gives byte-identical figures; without a build
(pytest alone on a fresh checkout) the same tests check the sources are imported and agree with themselves."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.scoring_hotpath import simulate
from services.scoring import compiled
from tests.unit.scoring.compiled_figures import figures_digest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[3]


def child_env(interpreted: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != compiled.INTERPRETED_ENV}
    if interpreted:
        env[compiled.INTERPRETED_ENV] = "1"
    return env


def run_child(module: str, *args: str, interpreted: bool) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=child_env(interpreted),
        capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    return done.stdout


def built_and_current() -> bool:
    return bool(compiled.extension_paths()) and not compiled.stale_modules()


def test_the_compiled_modules_are_imported_exactly_when_built_and_current() -> None:
    wanted = built_and_current() and not os.environ.get(compiled.INTERPRETED_ENV)
    assert compiled.select_form() == ("compiled" if wanted else "interpreted")
    assert compiled.status() == dict.fromkeys(compiled.COMPILED_MODULES, wanted)
    if os.environ.get("SCORING_EXPECT_COMPILED") == "1":  # make test: the build ran, so it must be in use
        assert compiled.select_form() == "compiled", "make compile ran but the extensions are not imported"


def test_scoring_interpreted_imports_every_module_from_its_source() -> None:
    output = run_child("services.scoring.build_compiled", "status", interpreted=True)
    assert output.splitlines()[0] == "form: interpreted"
    assert all(line.endswith(": interpreted") for line in output.splitlines()[1:])
    assert len(output.splitlines()) == 1 + len(compiled.COMPILED_MODULES)


def test_an_edited_source_is_never_shadowed_by_an_old_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "_hot.sources"
    monkeypatch.setattr(compiled, "MANIFEST", manifest)
    assert compiled.stale_modules() == list(compiled.COMPILED_MODULES)  # no manifest: nothing is known current
    digests = compiled.source_digests()
    manifest.write_text(json.dumps(digests | {"services.scoring.domain.state": "0" * 64}))
    assert compiled.stale_modules() == ["services.scoring.domain.state"]
    # A module whose types the extensions build in (a struct's fields) changed: stale too, no compiled source edited.
    manifest.write_text(json.dumps(digests | {"shared.contract_codec": "0" * 64}))
    assert compiled.stale_modules() == ["shared.contract_codec"]
    manifest.write_text(json.dumps(digests))
    assert compiled.stale_modules() == []


def test_both_forms_compute_identical_figures(tmp_path: Path) -> None:
    records = simulate(2000, seed=5, invalid_share=0.05)
    path = tmp_path / "records.pickle"
    path.write_bytes(pickle.dumps(records))
    now = int(time.time() * 1_000_000)
    child = "tests.unit.scoring.compiled_figures"
    answers = {form: json.loads(run_child(child, str(path), str(now), interpreted=form)) for form in (True, False)}
    assert answers[True]["form"] == "interpreted"
    assert answers[False]["form"] == ("compiled" if built_and_current() else "interpreted")
    assert answers[True]["records"] == answers[False]["records"] == 2000
    assert answers[True]["digest"] == answers[False]["digest"] == figures_digest(records, now)


def test_the_image_compiles_with_the_pinned_mypy() -> None:
    """The Dockerfile's build stage installs mypy by hand (not the dev extras): it must be pyproject's pin."""
    pins = re.findall(r'"mypy==([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert len(pins) == 1 and f'"mypy=={pins[0]}"' in dockerfile
    assert "python -m services.scoring.build_compiled build" in dockerfile


def test_make_rebuilds_when_any_compiled_source_or_type_dependency_changes() -> None:
    """`make compile` rebuilds only when a file of its COMPILED_SOURCES changed: a compiled module missing there would,
    once edited, run interpreted (stale, with a warning) until someone rebuilds by hand — a silent slowdown."""
    makefile = (compiled.REPO_ROOT / "Makefile").read_text()
    block = makefile.split("COMPILED_SOURCES :=", 1)[1].split("\nCOMPILED_MANIFEST", 1)[0]
    listed: set[str] = set()
    for prefix, names in re.findall(r"\$\(addprefix ([^,]+),([^)]+)\)", block):
        listed |= {prefix + name for name in names.split()}
    plain = re.sub(r"\$\(addprefix [^)]+\)", "", block)
    listed |= set(re.findall(r"(?<![/\w])((?:services|shared)/[\w/]+\.py)", plain))
    wanted = {
        str(compiled.source_path(module).relative_to(compiled.REPO_ROOT))
        for module in (*compiled.COMPILED_MODULES, *compiled.TYPE_DEPENDENCIES)
    }
    assert wanted <= listed, f"missing from the Makefile's COMPILED_SOURCES: {sorted(wanted - listed)}"
