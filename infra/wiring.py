"""How the local stack wires its services together: every cross-service URL, the CORS origins and the stack's
identity are derived from the ports it starts on — never left at a default that may be another stack's.

Pure functions (no I/O): `infra.stack` calls `stack_wiring` with its environment and passes the result on.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    ingest: int = 8001
    scoring: int = 8002
    scoring_2: int = 8012
    scoring_3: int = 8022
    alerts: int = 8003

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Ports:
        defaults = cls()
        return cls(
            ingest=int(env.get("INGEST_PORT", defaults.ingest)),
            scoring=int(env.get("SCORING_PORT", defaults.scoring)),
            scoring_2=int(env.get("SCORING_2_PORT", defaults.scoring_2)),
            scoring_3=int(env.get("SCORING_3_PORT", defaults.scoring_3)),
            alerts=int(env.get("ALERTS_PORT", defaults.alerts)),
        )


# Variables the stack derives. An operator may still set the public ones (a proxy in front of a local stack);
# SCORING_URL is internal and always this stack's scoring.
PUBLIC_OVERRIDABLE = ("ALERTS_PUBLIC_URL", "DASHBOARD_PUBLIC_URL", "CORS_ORIGINS")


def new_stack_id(checkout: str) -> str:
    """`local-<checkout hash>-<random>`: tells apart two checkouts and two runs of one checkout."""
    digest = hashlib.sha256(checkout.encode()).hexdigest()[:6]
    return f"local-{digest}-{secrets.token_hex(3)}"


def stack_wiring(env: Mapping[str, str], stack_id: str) -> dict[str, str]:
    """The variables every service of the local stack gets, from the ports in `env`.

    `STACK_ID` and the public URLs set in `env` are kept; everything else is derived."""
    ports = Ports.from_env(env)
    scorings = (ports.scoring, ports.scoring_2, ports.scoring_3)
    dashboards = [f"http://{host}:{port}" for port in scorings for host in (HOST, "localhost")]
    derived = {
        "INGEST_PORT": str(ports.ingest),
        "SCORING_PORT": str(ports.scoring),
        "SCORING_2_PORT": str(ports.scoring_2),
        "SCORING_3_PORT": str(ports.scoring_3),
        "ALERTS_PORT": str(ports.alerts),
        "SCORING_URL": f"http://{HOST}:{ports.scoring}",
        "ALERTS_PUBLIC_URL": f"http://{HOST}:{ports.alerts}",
        "DASHBOARD_PUBLIC_URL": f"http://{HOST}:{ports.scoring}/dashboard/",
        "CORS_ORIGINS": ",".join(dashboards),
        "STACK_ID": env.get("STACK_ID") or stack_id,
    }
    for name in PUBLIC_OVERRIDABLE:
        if env.get(name):
            derived[name] = env[name]
    return derived
