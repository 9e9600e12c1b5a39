"""FastAPI's native OpenTelemetry check is switched off in every service: it cost the event loop on every request."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI
from opentelemetry import trace

from shared.http import NO_OPENTELEMETRY

REPO = Path(__file__).resolve().parents[3]


def test_the_check_asks_no_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    def asked() -> None:
        raise AssertionError("the tracer provider was asked")

    monkeypatch.setattr(trace, "get_tracer_provider", asked)
    assert FastAPI(telemetry=NO_OPENTELEMETRY)._native_telemetry.enabled() is False
    with pytest.raises(AssertionError, match="asked"):
        FastAPI()._native_telemetry.enabled()  # the default asks on every request


@pytest.mark.parametrize("service", ["ingest", "scoring", "alerts"])
def test_every_service_makes_its_app_without_it(service: str) -> None:
    tree = ast.parse((REPO / "services" / service / "app.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "FastAPI"]
    assert calls, f"services/{service}/app.py makes no FastAPI app"
    for call in calls:
        given = {k.arg: k.value for k in call.keywords}
        assert getattr(given.get("telemetry"), "id", None) == "NO_OPENTELEMETRY"
