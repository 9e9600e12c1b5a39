"""`python -m services.ingest`: run the ingest HTTP gateway; `python -m services.ingest COMMAND ...`: an operator
command (units, keys, import, asyncapi — see entrypoints/cli.py)."""

import sys

if len(sys.argv) > 1:
    from services.ingest.entrypoints.cli import main

    raise SystemExit(main())

from services.ingest.app import create_app, settle_garbage_collector
from services.ingest.settings import IngestSettings
from shared.runtime import configure_logging, load_settings, serve

settings = load_settings(IngestSettings, "ingest")
configure_logging(settings.log_level, "ingest")
app = create_app(settings)
settle_garbage_collector()
serve(app, settings.bind_host, settings.ingest_port, settings.log_level, fast_io=True)
