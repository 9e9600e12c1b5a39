"""The one way a container reaches routes and subscribers (shared/bootstrap.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker

from shared.bootstrap import CONTEXT_KEY, container_dependency, publish_container, withdraw_container
from shared.http import install_error_handlers

pytestmark = pytest.mark.unit


@dataclass
class Box:
    greeting: str


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/hello")
    def hello(box: Annotated[Box, Depends(container_dependency(Box))]) -> dict[str, str]:
        return {"greeting": box.greeting}

    return app


def test_a_request_before_the_container_is_built_gets_503_starting() -> None:
    response = TestClient(_app()).get("/hello")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"] == "starting"


def test_routes_and_the_broker_context_see_the_published_container() -> None:
    app, broker = _app(), KafkaBroker()
    publish_container(app, Box("xin chào"), broker)
    assert TestClient(app).get("/hello").json() == {"greeting": "xin chào"}
    assert broker.context.get(CONTEXT_KEY) == Box("xin chào")
    withdraw_container(app, broker)
    assert TestClient(app).get("/hello").status_code == 503
    assert broker.context.get(CONTEXT_KEY) is None


def test_a_container_of_the_wrong_kind_is_a_programming_error() -> None:
    app = _app()
    publish_container(app, object())
    with pytest.raises(TypeError):
        TestClient(app).get("/hello")
