"""`python -m services.alerts`: run the alerts service (rule evaluation + notifications)."""

import sys

from services.alerts.app import create_app
from services.alerts.domain.receivers import ReceiversConfigError
from services.alerts.domain.rule_documents import RuleFileError
from services.alerts.settings import AlertsSettings
from shared.runtime import configure_logging, load_settings, serve

settings = load_settings(AlertsSettings, "alerts")
configure_logging(settings.log_level, "alerts")
try:
    app = create_app(settings)
except (RuleFileError, ReceiversConfigError, OSError) as error:
    print(f"alerts: invalid configuration:\n{error}", file=sys.stderr)
    raise SystemExit(2) from None
serve(app, settings.bind_host, settings.alerts_port, settings.log_level)
