"""`python -m services.ingest`: run the ingest HTTP gateway — one process, or with INGEST_PROCESSES > 1 a launcher
and that many processes on one port (processes.py); `python -m services.ingest COMMAND ...`: an operator command
(units, keys, import, asyncapi — see entrypoints/cli.py)."""

import sys

if len(sys.argv) > 1:
    from services.ingest.entrypoints.cli import main

    raise SystemExit(main())

from services.ingest.settings import IngestSettings
from shared.runtime import configure_logging, load_settings, serve

settings = load_settings(IngestSettings, "ingest")
configure_logging(settings.log_level, "ingest")

from services.ingest.processes import Launcher, WorkerSet, reuse_port_socket  # noqa: E402

workers = WorkerSet.from_environment(settings.ingest_processes)
if workers is None and settings.ingest_processes > 1:
    raise SystemExit(Launcher(settings.ingest_processes, settings.bind_host, settings.ingest_port).run())

from services.ingest.app import create_app, settle_garbage_collector  # noqa: E402

app = create_app(settings, workers)
settle_garbage_collector()
sockets = None
if workers is not None:
    workers.watch_launcher()
    sockets = [reuse_port_socket(settings.bind_host, settings.ingest_port)]
serve(app, settings.bind_host, settings.ingest_port, settings.log_level, fast_io=True, sockets=sockets)
