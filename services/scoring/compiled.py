"""Scoring's per-event modules compiled ahead of time with mypyc: optional build products of the same source.

The consumer spends most of its own CPU in many small Python steps per event (decode to integers, merge, count);
mypyc translates these typed modules to C extensions without any change to them (docs/benchmarks.md, "mypyc").
The extensions (``*.so`` beside each ``.py``, and ``services/scoring/_hot__mypyc*.so``, the shared library mypyc
puts their code in) are never committed: ``make compile`` (run by ``make venv``) builds them with
``services/scoring/build_compiled.py``, and the import system then prefers them to the sources. Without them — not
built, ``make uncompile`` — the same modules run interpreted, unchanged.

The choice is made once per process, when ``services.scoring`` is first imported (``select_form``), and is all or
nothing: inside mypyc's group the compiled modules call each other directly, so a source module beside compiled
ones would be bypassed. The sources are imported instead of the extensions when

- ``SCORING_INTERPRETED=1`` is set (the benchmark's "interpreted" runs, the equivalence test of both forms), or
- the extensions are stale: a source differs from the one they were built from (``_hot.sources``, written by the
  build, holds the SHA-256 of each source and of each module whose types they build in, ``TYPE_DEPENDENCIES``). An
  edited module is therefore never shadowed by an old build.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]

# The modules compiled: the consumer's per-event path and its pure imports, as one group (one shared library) so
# that calls between them are C calls.
COMPILED_MODULES: tuple[str, ...] = (
    "services.scoring.domain.timebase",
    "services.scoring.domain.facts",
    "services.scoring.domain.tally",
    "services.scoring.domain.state",
    "services.scoring.domain.counters",
    "services.scoring.domain.apply",
    "shared.contract_records",
    # The adapters' pure parts: the decode loop and the write parameters (no driver imported; the I/O stays in
    # adapters/wire.py and adapters/store.py).
    "services.scoring.adapters.wire_decode",
    "services.scoring.adapters.documents",
    # The fetched records' loop (aiokafka's record batches → FetchedRecord; adapters/kafka_fetch.py is the hook).
    "services.scoring.adapters.fetched",
)
# What the compiled modules import from outside the group: mypyc builds in their types and constants (a struct's
# fields, an enum's members), so a change there makes the extensions stale too, though no compiled source changed.
TYPE_DEPENDENCIES: tuple[str, ...] = (
    "shared.contract",
    "shared.contract_codec",
    "shared.contract_rules",
    "shared.indicators",
    "services.scoring.service.ports",
)
GROUP = "services.scoring._hot"
MANIFEST = REPO_ROOT / "services" / "scoring" / "_hot.sources"
INTERPRETED_ENV = "SCORING_INTERPRETED"

_chosen: str | None = None  # "compiled" or "interpreted", once select_form has run


def source_path(module: str) -> Path:
    return REPO_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def extension_paths() -> list[Path]:
    """The build products present in this checkout: the modules' extensions and the group's shared library."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found: list[Path] = []
    for name in (*COMPILED_MODULES, f"{GROUP}__mypyc"):
        stem = REPO_ROOT.joinpath(*name.split("."))
        found += [path for suffix in suffixes if (path := stem.with_name(stem.name + suffix)).exists()]
    return found


def source_digests() -> dict[str, str]:
    modules = (*COMPILED_MODULES, *TYPE_DEPENDENCIES)
    return {name: hashlib.sha256(source_path(name).read_bytes()).hexdigest() for name in modules}


def write_manifest() -> None:
    """Record which sources the extensions were built from (the build calls it)."""
    MANIFEST.write_text(json.dumps(source_digests(), indent=1) + "\n")


def stale_modules() -> list[str]:
    """The modules whose source differs from the one the extensions were built from (all when unknown)."""
    try:
        built: Mapping[str, str] = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return list(COMPILED_MODULES)
    return [name for name, digest in source_digests().items() if built.get(name) != digest]


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded from a C extension."""
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def status() -> dict[str, bool]:
    """Each module of the group → whether this process imported it compiled (imports them)."""
    return {name: is_compiled(importlib.import_module(name)) for name in COMPILED_MODULES}


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds the listed modules' ``.py`` files, ahead of the path finder that would pick their extensions."""

    def __init__(self, modules: Sequence[str]) -> None:
        self._modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._modules:
            return None
        source = source_path(fullname)
        return importlib.util.spec_from_file_location(fullname, source) if source.exists() else None


def prefer_source() -> None:
    """Import the group's modules from their sources in this process (before any of them is imported)."""
    loaded = [name for name in COMPILED_MODULES if name in sys.modules and is_compiled(sys.modules[name])]
    if loaded:
        raise RuntimeError(f"đã nạp bản biên dịch / already imported compiled: {', '.join(loaded)}")
    if not any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst(COMPILED_MODULES))


def select_form() -> str:
    """Decide, once per process, whether the group is imported compiled or from its sources (module docstring)."""
    global _chosen
    if _chosen is None:
        compiled = bool(extension_paths())
        if compiled and os.environ.get(INTERPRETED_ENV, "") not in ("", "0"):
            compiled = False
        elif compiled and (stale := stale_modules()):
            warnings.warn(
                f"bản biên dịch cũ hơn mã nguồn, dùng mã nguồn / compiled modules are stale ({', '.join(stale)}): "
                "running the sources — rebuild with `make compile`",
                RuntimeWarning,
                stacklevel=2,
            )
            compiled = False
        if not compiled:
            prefer_source()
        _chosen = "compiled" if compiled else "interpreted"
    return _chosen
