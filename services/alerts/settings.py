"""The alerts service's one settings class (environment variables; bad or placeholder values fail at start)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, HttpUrl

from shared.settings import AdminSettingsMixin, ServiceSettings


class AlertsSettings(ServiceSettings, AdminSettingsMixin):
    alerts_port: Annotated[int, Field(ge=1, le=65535, description="HTTP port (SPEC §0)")] = 8003
    scoring_url: Annotated[HttpUrl, Field(description="Base URL of the scoring API the rules read")] = HttpUrl(
        "http://127.0.0.1:8002"
    )
