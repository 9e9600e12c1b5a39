"""Build, remove or show scoring's compiled modules (services/scoring/compiled.py says what and why).

    python -m services.scoring.build_compiled build    # mypyc + gcc, in place; `make compile` runs it
    python -m services.scoring.build_compiled clean    # remove the extensions: back to the sources
    python -m services.scoring.build_compiled status   # the form each module is imported in here

The build needs mypy (a dev dependency: it brings mypyc) and a C compiler with Python's headers; the running
services need neither. MYPYC_OPT_LEVEL (default 3) is passed to the compiler as -O.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from services.scoring.compiled import (
    COMPILED_MODULES,
    GROUP,
    MANIFEST,
    REPO_ROOT,
    extension_paths,
    select_form,
    source_path,
    status,
    write_manifest,
)


def build(opt_level: str = "3") -> None:
    """Compile the group in place (mypyc and setuptools are imported here only: a runtime never needs them)."""
    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(REPO_ROOT)  # mypyc names the modules by their paths relative to the working directory
    paths = [str(source_path(name).relative_to(REPO_ROOT)) for name in COMPILED_MODULES]
    target = "build/mypyc"  # generated C and objects (build/ is ignored by git)
    # Imported modules are read for their types only: what mypy says about them (pydantic's generated types, say)
    # is not this build's concern; the compiled modules themselves must type-check.
    options = ["--follow-imports=silent", "--cache-dir", f"{target}/mypy-cache"]
    clean()  # no half-old group if the build fails
    extensions = mypycify([*options, *paths], opt_level=opt_level, group_name=GROUP, target_dir=target)
    setup(
        name="tthc-pulse-compiled",
        ext_modules=extensions,
        script_args=["build_ext", "--inplace", "--build-temp", f"{target}/temp", "--build-lib", f"{target}/lib"],
    )
    write_manifest()


def clean() -> list[str]:
    removed = [*extension_paths(), *([MANIFEST] if MANIFEST.exists() else [])]
    for path in removed:
        path.unlink()
    return [str(path.relative_to(REPO_ROOT)) for path in removed]


def main(argv: Sequence[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "build":
        build(os.environ.get("MYPYC_OPT_LEVEL", "3"))
    elif command == "clean":
        for path in clean():
            print(f"removed {path}")
    elif command == "status":
        print(f"form: {select_form()}")
        for name, compiled in status().items():
            print(f"  {name}: {'compiled' if compiled else 'interpreted'}")
    else:
        print(f"usage: python -m services.scoring.build_compiled build|clean|status, not {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
