"""`python -m services.scoring`: run the scoring service (stream consumer + indicators API);
`python -m services.scoring recompute [--fix]` or `python -m services.scoring report ...`: an operator command
(entrypoints/recompute.py, entrypoints/reports_cli.py), as `python -m services.ingest COMMAND` is for ingest."""

import sys

if len(sys.argv) > 1 and sys.argv[1] in ("recompute", "report"):
    if sys.argv[1] == "recompute":
        from services.scoring.entrypoints.recompute import main
    else:
        from services.scoring.entrypoints.reports_cli import main  # type: ignore[assignment]

    raise SystemExit(main(sys.argv[2:]))

import gc

# No cyclic collection while the modules load and the app is built: ≈ 220 of them, ≈ 0.1 s of CPU per process, that
# find next to nothing (docs/benchmarks.md, session 10 "startup"). What was built is then frozen — never traversed
# by a later collection, still freed by reference counting — and the collector runs again.
gc.disable()

from services.scoring.app import create_app  # noqa: E402
from services.scoring.settings import ScoringSettings  # noqa: E402
from shared.priority import lower_cpu_priority  # noqa: E402
from shared.runtime import configure_logging, load_settings, serve  # noqa: E402

settings = load_settings(ScoringSettings, "scoring")
configure_logging(settings.log_level, "scoring")
if settings.process_nice:  # an applying process yields the cores to the API process (settings.py)
    lower_cpu_priority(settings.process_nice)
# The event loop waits for the GIL at most this long while a worker thread refreshes read tables (settings.py).
sys.setswitchinterval(settings.gil_switch_interval_s)
app = create_app(settings)
gc.freeze()
gc.enable()
serve(app, settings.bind_host, settings.scoring_port, settings.log_level, fast_io=True)
