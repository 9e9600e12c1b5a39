"""Links in notifications: every one opens a page of the dashboard (services/scoring/static/js/app.js routes).

`DASHBOARD_PUBLIC_URL` is the dashboard's public address (default the local scoring dashboard,
http://127.0.0.1:8002/dashboard/). The dashboard is a single page with hash routes:
- `#/unit/<unit_id>` — the unit's page, with the alerts panel scoped to that unit;
- `#/unit/<unit_id>?alert=<rule_id>` — the same page with that alert highlighted and scrolled into view.

`generatorURL` (one alert) is the second; `externalURL` (one message) is the unit's page when the message is about
one unit (the default grouping by unit_id), else the dashboard's overview `#/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode


def _base(dashboard_url: str) -> str:
    return dashboard_url.split("#", 1)[0]


def unit_url(dashboard_url: str, unit_id: str) -> str:
    return f"{_base(dashboard_url)}#/unit/{quote(unit_id, safe='')}"


def alert_url(dashboard_url: str, unit_id: str, rule_id: str) -> str:
    """The alert itself: the unit's page, the alert highlighted (`generatorURL`)."""
    return f"{unit_url(dashboard_url, unit_id)}?{urlencode({'alert': rule_id})}"


def message_url(dashboard_url: str, group_labels: Mapping[str, str]) -> str:
    """A group message (`externalURL`): its unit's page when it has one unit, else the overview."""
    unit_id = group_labels.get("unit_id")
    return unit_url(dashboard_url, unit_id) if unit_id else f"{_base(dashboard_url)}#/"
