"""`python -m services.scoring`: run the scoring service (stream consumer + indicators API)."""

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.runtime import configure_logging, load_settings, serve

settings = load_settings(ScoringSettings, "scoring")
configure_logging(settings.log_level, "scoring")
serve(create_app(settings), settings.bind_host, settings.scoring_port, settings.log_level)
