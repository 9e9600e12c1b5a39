"""The local stack derives every cross-service URL, the CORS origins and its STACK_ID from its own ports."""

from __future__ import annotations

from infra.wiring import new_stack_id, stack_wiring

MOVED = {"INGEST_PORT": "18001", "SCORING_PORT": "18002", "SCORING_2_PORT": "18012", "SCORING_3_PORT": "18022",
         "ALERTS_PORT": "18003"}  # fmt: skip


def test_every_url_follows_the_moved_ports() -> None:
    wiring = stack_wiring(MOVED, "stack-a")
    assert wiring["SCORING_URL"] == "http://127.0.0.1:18002"
    assert wiring["ALERTS_PUBLIC_URL"] == "http://127.0.0.1:18003"
    assert wiring["DASHBOARD_PUBLIC_URL"] == "http://127.0.0.1:18002/dashboard/"
    assert wiring["CORS_ORIGINS"].split(",") == [
        "http://127.0.0.1:18002", "http://localhost:18002", "http://127.0.0.1:18012", "http://localhost:18012",
        "http://127.0.0.1:18022", "http://localhost:18022",
    ]  # fmt: skip
    assert wiring["STACK_ID"] == "stack-a"
    assert {k: wiring[k] for k in MOVED} == MOVED
    # No default port survives anywhere.
    assert not any(f":{port}" in value for value in wiring.values() for port in (8001, 8002, 8003, 8012, 8022))


def test_defaults_without_moved_ports() -> None:
    wiring = stack_wiring({}, "s")
    assert wiring["SCORING_URL"] == "http://127.0.0.1:8002"
    assert wiring["ALERTS_PUBLIC_URL"] == "http://127.0.0.1:8003"


def test_public_urls_and_stack_id_set_by_the_operator_are_kept_scoring_url_is_not() -> None:
    env = {
        **MOVED,
        "STACK_ID": "mine",
        "DASHBOARD_PUBLIC_URL": "https://tthc.example.vn/dashboard/",
        "SCORING_URL": "http://127.0.0.1:8002",  # a stale value: this stack's scoring is on 18002
    }
    wiring = stack_wiring(env, "generated")
    assert wiring["STACK_ID"] == "mine"
    assert wiring["DASHBOARD_PUBLIC_URL"] == "https://tthc.example.vn/dashboard/"
    assert wiring["SCORING_URL"] == "http://127.0.0.1:18002"


def test_stack_ids_differ_per_checkout_and_per_run() -> None:
    a1, a2, b = new_stack_id("/a/var"), new_stack_id("/a/var"), new_stack_id("/b/var")
    assert a1 != a2 and a1.rsplit("-", 1)[0] == a2.rsplit("-", 1)[0] != b.rsplit("-", 1)[0]


def test_compose_sets_every_wiring_setting_explicitly() -> None:
    import yaml

    from infra.paths import REPO_ROOT

    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("ingest", "scoring", "scoring-2", "scoring-3", "alerts"):
        assert services[name]["environment"]["STACK_ID"]
    for name in ("scoring", "scoring-2", "scoring-3"):
        assert "ALERTS_PUBLIC_URL" in services[name]["environment"]
    assert {"SCORING_URL", "DASHBOARD_PUBLIC_URL", "CORS_ORIGINS"} <= set(services["alerts"]["environment"])
    for port in ("8012", "8022"):  # the applying processes' dashboards may read alerts too
        assert port in services["alerts"]["environment"]["CORS_ORIGINS"]
