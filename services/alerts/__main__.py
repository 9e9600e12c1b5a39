"""`python -m services.alerts`: run the alerts service (rule evaluation + notifications)."""

from services.alerts.app import create_app
from services.alerts.settings import AlertsSettings
from shared.runtime import configure_logging, load_settings, serve

settings = load_settings(AlertsSettings, "alerts")
configure_logging(settings.log_level, "alerts")
serve(create_app(settings), settings.bind_host, settings.alerts_port, settings.log_level)
