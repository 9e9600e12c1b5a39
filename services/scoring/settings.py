"""The scoring service's one settings class (environment variables; bad or placeholder values fail at start)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.settings import AdminSettingsMixin, ServiceSettings


class ScoringSettings(ServiceSettings, AdminSettingsMixin):
    scoring_port: Annotated[int, Field(ge=1, le=65535, description="HTTP port (SPEC §0)")] = 8002
